import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def make_blobs(rng, n=600, d=2, k=3, spread=4.0, dtype=np.float64):
    """A well-separated mixture of k Gaussians with random covariances."""
    centers = rng.normal(scale=spread, size=(k, d))
    parts = []
    for c in centers:
        A = rng.normal(size=(d, d)) * 0.6 + np.eye(d)
        parts.append(c + rng.normal(size=(n // k, d)) @ A)
    return np.vstack(parts).astype(dtype)
