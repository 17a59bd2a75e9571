"""Helpers shared by the tests (fixtures stay in conftest.py).

This is also the ONE place where tests reach into gmmkit's internals (the kernel
passes, the weighted reservoir, the Dask scan): when an internal name moves, only
this file changes.
"""
from __future__ import annotations

import os
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np

LOG_2PI = np.log(2 * np.pi)
ROOT = Path(__file__).resolve().parents[1]
IRIS = ROOT / "datasets" / "tables" / "iris.csv"


# ---------------------------------------------------------------- data
def make_blobs(rng, n=600, d=2, k=3, spread=4.0, dtype=np.float64):
    """A well-separated mixture of k Gaussians with random covariances."""
    centers = rng.normal(scale=spread, size=(k, d))
    parts = []
    for c in centers:
        A = rng.normal(size=(d, d)) * 0.6 + np.eye(d)
        parts.append(c + rng.normal(size=(n // k, d)) @ A)
    return np.vstack(parts).astype(dtype)


def well_conditioned(rng, n=3000):
    """Three float32 clusters whose float32 sums are well conditioned."""
    centers = np.array([[-5.0, 0, 0], [5, 0, 0], [0, 6, 2]])
    return (centers[np.arange(n) % 3] + rng.normal(size=(n, 3)) * [1, 1.5, 0.7]).astype(np.float32)


def random_covariances(rng, cov_type, K, D, scale=1.0):
    """Random, well-conditioned covariances in scikit-learn's layout for ``cov_type``."""
    def spd():
        A = rng.normal(size=(D, D)) * 0.4 + np.eye(D)
        return scale * (A @ A.T + 0.1 * np.eye(D))

    if cov_type == "full":
        return np.stack([spd() for _ in range(K)])
    if cov_type == "tied":
        return spd()
    if cov_type == "diag":
        return scale * rng.uniform(0.3, 2.0, size=(K, D))
    return scale * rng.uniform(0.3, 2.0, size=K)


# ---------------------------------------------------------------- CLI
def ep(name, value):
    """An entry point of the ``gmmkit.apps`` group."""
    return EntryPoint(name=name, value=value, group="gmmkit.apps")


def run_ok(runner, app, args):
    """Invoke a Typer app and assert it exits 0 (showing its output if not)."""
    result = runner.invoke(app, [os.fspath(a) for a in args])
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


# ---------------------------------------------------------------- kernel arguments (test side)
def kernel_arguments(cov_type, weights, means, covariances, dtype):
    """(family, means, prec, logc) as the EM kernels take them, computed here from the
    covariances (independently of gmmkit's covariance table): full/tied pass upper
    factors U with U U^T = inv(Sigma) as (K, D, D), diag/spherical pass 1/sigma as (K, D)."""
    K, D = np.shape(means)
    c = np.asarray(covariances, dtype=np.float64)
    if cov_type in ("full", "tied"):
        full = c if cov_type == "full" else np.repeat(c[None], K, axis=0)
        prec = np.stack([np.linalg.inv(np.linalg.cholesky(s)).T for s in full])
        logdet = np.log(np.diagonal(prec, axis1=1, axis2=2)).sum(axis=1)
        family = "full"
    else:
        var = c if cov_type == "diag" else np.repeat(c[:, None], D, axis=1)
        prec = 1.0 / np.sqrt(var)
        logdet = np.log(prec).sum(axis=1)
        family = "diag"
    logc = np.log(weights) + logdet - 0.5 * D * LOG_2PI
    return (family, np.ascontiguousarray(means, dtype=dtype), np.ascontiguousarray(prec, dtype=dtype),
            np.ascontiguousarray(logc, dtype=dtype))


# ---------------------------------------------------------------- gmmkit internals
def _engine_prec(family, prec):
    # the engine takes diag/spherical factors as (K, 1, D), full/tied as (K, D, D)
    return prec[:, None, :] if family == "diag" and prec.ndim == 2 else prec


def em_pass(family, X, sw, shift, means, prec, logc, log_noise, parallel=False):
    """One fused E + statistics pass of the kernels: (sum w log p, nk (K+1), sx, sxx),
    sums about ``shift``; sxx upper triangular (K, D, D) for 'full', (K, D) for 'diag'."""
    from gmmkit import _engine

    sw = np.empty(0) if sw is None else np.ascontiguousarray(sw, dtype=np.float64)
    shift = np.ascontiguousarray(shift, dtype=X.dtype)
    ll, nk, sx, sxx = _engine.em_pass(X, sw, shift, means, _engine_prec(family, prec), logc, log_noise,
                                      parallel)
    return ll, nk, sx, (sxx[:, 0, :] if family == "diag" else sxx)


def score_pass(family, X, shift, means, prec, logc, log_noise, parallel=False):
    """Per-row (log p, responsibilities (N, K+1; last = noise), labels (-1 = noise))."""
    from gmmkit import _engine

    K = means.shape[0]
    shift = np.ascontiguousarray(shift, dtype=X.dtype)
    return _engine.score_pass(X, shift, means, _engine_prec(family, prec), logc, log_noise,
                              resp_cols=K + 1, labels=True, parallel=parallel)


def reservoir_rows(chunks, weights, size, seed):
    """Rows kept by the out-of-core scan's weighted reservoir fed ``chunks`` (list of
    (n_i, D) arrays) with per-chunk ``weights`` (list of arrays, or None)."""
    from gmmkit._scan import Reservoir

    res = Reservoir(size, np.random.RandomState(seed))
    for i, X in enumerate(chunks):
        res.add(X, None if weights is None else weights[i])
    return res.sample(np.float64)[0]


def dask_sample_rows(X, w, size, seed, block_rows):
    """Rows kept by the Dask scan's weighted sample of ``X`` cut into blocks of
    ``block_rows`` rows (computed with the threaded scheduler, no cluster)."""
    from gmmkit import dask as gdask

    edges = np.r_[0:len(X):block_rows, len(X)]
    blocks = [X[a:b] for a, b in zip(edges[:-1], edges[1:])]
    wblocks = [None] * len(blocks) if w is None else [w[a:b] for a, b in zip(edges[:-1], edges[1:])]
    scan = gdask._scan(blocks, wblocks, [len(b) for b in blocks], len(X), 1,
                       np.random.RandomState(seed), size, None, np.float64)
    return scan["sample"]


def app_runner(name):
    """``run(*args)``: invoke ``gmmkit <name> args...`` through the root CLI (CliRunner), return the result."""
    from typer.testing import CliRunner

    from gmmkit.cli import app

    runner = CliRunner()

    def run(*args):
        return runner.invoke(app, [name, *map(str, args)])

    return run
