"""``GaussianMixture.sample``: every component's draws have that component's mean and
covariance, and the components (and the noise) are drawn in proportion to their weights.

Tolerances are five standard errors of the sample statistics (fixed seeds)."""
import numpy as np
import pytest

from gmmkit import GaussianMixture
from tests.helpers import make_blobs
from tests.reference import full_covariances

COV_TYPES = ["full", "tied", "diag", "spherical"]
N_DRAWS = 120_000


def check_component(draws, mean, cov):
    """Sample mean and covariance of ``draws`` within 5 standard errors of (mean, cov)."""
    n = len(draws)
    var = np.diag(cov)
    z_mean = (draws.mean(axis=0) - mean) / np.sqrt(var / n)
    assert np.all(np.abs(z_mean) < 5), z_mean
    # Var of a sample covariance entry of a Gaussian: (S_ij^2 + S_ii S_jj) / n
    se = np.sqrt((cov**2 + np.outer(var, var)) / n)
    z_cov = (np.cov(draws, rowvar=False) - cov) / se
    assert np.all(np.abs(z_cov) < 5), z_cov


def check_counts(labels, names, weights):
    n = len(labels)
    for name, w in zip(names, weights):
        count = (labels == name).sum()
        assert abs(count - n * w) < 5 * np.sqrt(n * w * (1 - w)), (name, count, n * w)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_sample_per_component_moments(rng, cov_type):
    # variances far from 1 (a standard deviation used as a variance, or the reverse, shows)
    X = 3.0 * make_blobs(rng, n=900, d=3, k=3)
    gm = GaussianMixture(3, covariance_type=cov_type, random_state=0).fit(X)
    K, D = gm.means_.shape
    covs = full_covariances(cov_type, gm.covariances_, K, D)
    assert np.all(np.abs(np.diagonal(covs, axis1=1, axis2=2) - 1.0) > 0.5)
    Xs, ys = gm.sample(N_DRAWS)
    assert Xs.shape == (N_DRAWS, D) and ys.shape == (N_DRAWS,)
    check_counts(ys, range(K), gm.weights_)
    for k in range(K):
        check_component(Xs[ys == k], gm.means_[k], covs[k])


def test_sample_noise_is_uniform_over_the_noise_box(rng):
    X = np.vstack([2.0 * make_blobs(rng, n=900, d=2, k=3), rng.uniform(-40, 40, size=(90, 2))])
    gm = GaussianMixture(3, noise=True, random_state=0).fit(X)
    assert gm.noise_weight_ > 0.02
    Xs, ys = gm.sample(N_DRAWS)
    check_counts(ys, [0, 1, 2, -1], np.r_[gm.weights_, gm.noise_weight_])
    for k in range(3):
        check_component(Xs[ys == k], gm.means_[k], gm.covariances_[k])
    noise = Xs[ys == -1]
    lo, hi = gm.noise_bounds_
    assert np.all(noise >= lo) and np.all(noise <= hi)
    n = len(noise)
    z_mean = (noise.mean(axis=0) - (lo + hi) / 2) / np.sqrt((hi - lo) ** 2 / 12 / n)
    assert np.all(np.abs(z_mean) < 5)
    np.testing.assert_allclose(noise.var(axis=0), (hi - lo) ** 2 / 12, rtol=5 * np.sqrt(0.8 / n))


def test_sample_is_reproducible_with_random_state(rng):
    X = make_blobs(rng, n=300)
    gm = GaussianMixture(3, covariance_type="diag", random_state=5).fit(X)
    a, b = gm.sample(50), gm.sample(50)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
