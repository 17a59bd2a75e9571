"""EM for a univariate Gaussian mixture, warm-started, with a floor on the widths: the rolling refits.

A backtest refits the same small model (one feature, K <= 5, a 500-day window)
hundreds of times, each time from the previous fit. On such data the per-call
overhead of a general estimator dominates, so the refits run this vectorised
EM (about 30 microseconds an iteration on 500 days). It is the textbook EM for
``sum_k w_k N(m_k, s_k^2)`` with two stated safeguards that make warm starts
stable without restarts:

- ``reg`` is added to every variance (as ``reg_covar`` in :class:`gmmkit.GaussianMixture`);
- no width goes below ``min_sd``: a component that would shrink onto a few nearly
  equal values (a collapse, which makes the likelihood unbounded) is held at that
  width, a constrained maximum-likelihood step (the M-step's variance, clipped,
  still increases the likelihood among variances of at least ``min_sd^2``).

The first window's K and starting point come from :func:`gmmkit.select`; this
module only does the refits. Tests check it against :class:`gmmkit.GaussianMixture`
started from the same parameters.

>>> x = np.r_[np.random.default_rng(0).normal(0, 1, 900), np.random.default_rng(1).normal(0, 4, 100)]
>>> fit = em_1d(x, [0.5, 0.5], [0.0, 0.0], [0.5, 3.0])
>>> [round(float(v), 1) for v in fit.sds]
[1.0, 3.5]
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass
class Fit1D:
    """Weights, means, standard deviations, EM iterations run and the mean log-likelihood."""

    weights: np.ndarray
    means: np.ndarray
    sds: np.ndarray
    n_iter: int
    loglik: float
    converged: bool


def _e_step(x, w, m, v):
    # densities directly (one exp per point and component); the log-sum-exp form only when a
    # point lies so far out that every component's density underflows
    d = (w / np.sqrt(2.0 * np.pi * v)) * np.exp((-0.5 / v) * (x[:, None] - m) ** 2)
    tot = d.sum(axis=1)
    if np.all(tot > 1e-280):
        return d / tot[:, None], float(np.mean(np.log(tot)))
    logp = np.log(w) - 0.5 * (np.log(v) + _LOG_2PI) - 0.5 * (x[:, None] - m) ** 2 / v
    top = logp.max(axis=1, keepdims=True)
    dens = np.exp(logp - top)
    tot = dens.sum(axis=1, keepdims=True)
    return dens / tot, float(np.mean(np.log(tot[:, 0]) + top[:, 0]))


def em_1d(x, weights, means, sds, *, max_iter=500, tol=1e-6, reg=1e-6, min_sd=0.0):
    """Run EM from ``(weights, means, sds)`` until the mean log-likelihood gains less than ``tol``.

    Returns a :class:`Fit1D`. ``tol`` is on the mean log-likelihood per point, as
    :class:`gmmkit.GaussianMixture`'s; ``reg`` and ``min_sd`` as in the module docstring.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    w = np.asarray(weights, dtype=np.float64).copy()
    m = np.asarray(means, dtype=np.float64).copy()
    v = np.maximum(np.asarray(sds, dtype=np.float64) ** 2, min_sd ** 2)
    w = np.maximum(w, 1e-12)
    w /= w.sum()
    floor = max(min_sd ** 2, 0.0)
    resp, ll = _e_step(x, w, m, v)
    converged = False
    it = 0
    while it < max_iter:
        it += 1
        nk = resp.sum(axis=0) + 10 * np.finfo(float).eps
        w = nk / x.size
        m = (x @ resp) / nk
        v = ((x - m[:, None]) ** 2 * resp.T).sum(axis=1) / nk + reg
        v = np.maximum(v, floor)
        resp, new = _e_step(x, w, m, v)
        if abs(new - ll) < tol:
            ll = new
            converged = True
            break
        ll = new
    return Fit1D(w, m, np.sqrt(v), it, ll, converged)


def _starts(x, k):
    """Deterministic starting points: nested scales around the centre, and K quantile groups."""
    sd = float(x.std())
    w = np.geomspace(1.0, 0.15, k)
    yield w / w.sum(), np.full(k, float(np.median(x))), sd * np.geomspace(0.5, 2.5, k)
    groups = np.array_split(np.sort(x), k)
    yield (np.full(k, 1.0 / k), np.array([g.mean() for g in groups]),
           np.array([max(g.std(), 0.1 * sd) for g in groups]))


def select_1d(x, candidates, *, min_sd=0.0, small=None):
    """BIC over ``candidates`` (K values), best of the deterministic starts for each K.

    ``small(fit)`` -> bool marks a fit with a component too small to count; for each K
    the best start without one is kept, and such candidates are passed over unless none is left.
    Returns ``(best Fit1D, {K: BIC})`` with BIC ``-2 n loglik + (3K - 1) log n`` on ``x``'s scale.

    >>> x = np.r_[np.random.default_rng(0).normal(0, 1, 900), np.random.default_rng(1).normal(0, 4, 100)]
    >>> best, bic = select_1d(x, [1, 2, 3])
    >>> len(best.weights), min(bic, key=bic.get)
    (2, 2)
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    fits, bic = {}, {}
    for k in candidates:
        runs = sorted((em_1d(x, *s, min_sd=min_sd, max_iter=300) for s in _starts(x, k)), key=lambda f: -f.loglik)
        # the best start without a spike component, if one has none
        fit = next((f for f in runs if small is None or not small(f)), runs[0])
        fits[k] = fit
        bic[k] = -2.0 * x.size * fit.loglik + (3 * k - 1) * np.log(x.size)
    order = sorted(bic, key=bic.get)
    ok = [k for k in order if small is None or not small(fits[k])]
    return fits[(ok or order)[0]], bic
