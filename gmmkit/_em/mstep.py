"""The M-step: parameters from sufficient statistics (ML or MAP), re-seeding
components that lost their points or whose covariance is not positive definite."""
from __future__ import annotations

import warnings

import numpy as np

from .._covariance import FactorError, add_diag
from .._params import MixtureParams, Statistics
from ..exceptions import DataError, DegenerateComponentWarning

_EPS = 10 * np.finfo(np.float64).eps


def m_step(problem, stats: Statistics, rng, *, initial=False, counter=None):
    """New parameters from ``stats``. ``initial``: statistics of an initial partition
    (one-point components are legitimate; the noise weight is set by the caller).
    ``counter`` (a list of one int) counts re-seeded components. The covariances of the
    last M-step (kept on ``problem``; none after an initial one) are where the iterative
    covariance models (mclust's VEI, VEE, EVE, VVE, VEV) start, as mclust's do."""
    K, entry, reg = problem.K, problem.entry, problem.reg_covar
    nk = stats.nk
    nk_g = nk[:K] + _EPS
    means = stats.sx / nk_g[:, None]
    previous = None if initial else getattr(problem, "last_covariances", None)
    if problem.prior is None:
        cov = entry.from_stats(nk_g, means, stats.sxx, nk_g.sum(), reg, previous=previous)
    else:
        means, cov = entry.map_from_stats(nk_g, means, stats.sxx, nk_g.sum(), problem.prior, previous=previous)
        cov = add_diag(cov, reg)
    noise = problem.noise is not None
    total = nk_g.sum() + (nk[K] if noise else 0.0)
    weights = nk_g / total
    pi0 = nk[K] / total if noise and not initial else 0.0
    empty = [] if initial else [k for k in range(K) if nk[k] <= 1e-8 * problem.total]
    try:
        if empty:
            raise FactorError(empty)
        prec = entry.precision_cholesky(cov)
    except FactorError as exc:
        bad = sorted(set(exc.bad) | set(empty))
        weights, means, cov = reseed(problem, bad, weights, means, cov, rng, empty)
        if counter is not None:
            counter[0] += len(bad)
        try:
            prec = entry.precision_cholesky(cov)
        except FactorError:
            raise DataError(
                "covariances stay singular after re-seeding: the data are degenerate for "
                f"covariance model {entry.name!r}; increase reg_covar or use fewer components"
            ) from None
    problem.last_covariances = cov
    return MixtureParams(weights, means, prec, cov, float(pi0))


def reseed(problem, bad, weights, means, cov, rng, empty):
    """Move components ``bad`` to random rows, with the data's covariance; warn."""
    C = problem.data_scale(rng)
    weights, means = weights.copy(), means.copy()
    gauss_mass = weights.sum()  # 1 - noise weight
    sw = problem.sample_w
    for k in bad:
        row = rng.randint(problem.sample.shape[0])
        if sw.size:
            row = rng.choice(np.flatnonzero(sw > 0))
        means[k] = problem.sample[row].astype(np.float64) - problem.shift
        weights[k] = 1.0 / problem.K
        cov = problem.entry.reseed(cov, k, C)
    weights *= gauss_mass / weights.sum()
    why = ", ".join(
        f"{k} ({'lost its points' if k in empty else 'covariance not positive definite'})" for k in bad
    )
    warnings.warn(
        f"re-seeded component(s) {why} at random data points; consider fewer "
        "components or a larger reg_covar",
        DegenerateComponentWarning,
        stacklevel=5,
    )
    return weights, means, cov
