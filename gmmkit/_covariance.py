"""The one table of covariance types.

Every question the estimator asks about a covariance type (how many free
parameters, which kernel family, how to estimate it from sufficient statistics,
how to factor it into precision Cholesky factors) is answered by its entry in
:data:`COVARIANCE_TYPES`; adding a type is adding an entry.

Shapes, with K components and D features (as in scikit-learn):

=========  ===============  ==========================
type       covariances_     precisions_cholesky_
=========  ===============  ==========================
full       (K, D, D)        (K, D, D) upper triangular
tied       (D, D)           (D, D) upper triangular
diag       (K, D)           (K, D)
spherical  (K,)             (K,)
=========  ===============  ==========================
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


class FactorError(Exception):
    """Covariance of the listed components is not positive definite."""

    def __init__(self, bad):
        super().__init__(bad)
        self.bad = list(bad)


# ---------------------------------------------------------------- full / tied
def _chol_prec_full(cov):
    """(K, D, D) covariances -> upper-triangular precision factors; FactorError lists failures."""
    K, D, _ = cov.shape
    out = np.empty_like(cov)
    eye = np.eye(D)
    bad = []
    for k in range(K):
        try:
            L = np.linalg.cholesky(cov[k])
        except np.linalg.LinAlgError:
            bad.append(k)
            continue
        if not np.all(np.diag(L) > 0):
            bad.append(k)
            continue
        # inv(L).T is upper triangular: precision = inv(L).T @ inv(L)
        out[k] = _solve_lower(L, eye).T
    if bad:
        raise FactorError(bad)
    return out


def _solve_lower(L, B):
    from scipy.linalg import solve_triangular

    return solve_triangular(L, B, lower=True)


def _full_from_stats(nk, means, sxx, n_total, reg):
    D = means.shape[1]
    S = np.triu(sxx) + np.triu(sxx, 1).transpose(0, 2, 1)
    cov = S / nk[:, None, None] - means[:, :, None] * means[:, None, :]
    cov[:, np.arange(D), np.arange(D)] += reg
    return cov


def _tied_from_stats(nk, means, sxx, n_total, reg):
    D = means.shape[1]
    S = np.triu(sxx) + np.triu(sxx, 1).transpose(0, 2, 1)
    cov = (S.sum(axis=0) - (nk[:, None] * means).T @ means) / n_total
    cov.flat[:: D + 1] += reg
    return cov


def _diag_from_stats(nk, means, sxx, n_total, reg):
    return sxx / nk[:, None] - means**2 + reg


def _spherical_from_stats(nk, means, sxx, n_total, reg):
    return _diag_from_stats(nk, means, sxx, n_total, reg).mean(axis=1)


def _chol_prec_diag(cov):
    bad = np.flatnonzero(~(cov > 0).reshape(cov.shape[0], -1).all(axis=1))
    if bad.size:
        raise FactorError(bad)
    return 1.0 / np.sqrt(cov)


def _chol_prec_tied(cov):
    return _chol_prec_full(cov[None])[0]


def _tri_inv_gram(U):
    """Covariance from an upper precision factor: inv(U U^T) = inv(U)^T inv(U)."""
    Ui = _solve_lower(U.T, np.eye(U.shape[0]))  # inv(U^T) = inv(U)^T
    return Ui @ Ui.T


def _add_diag(cov, reg):
    """Add ``reg`` to the diagonal of every (D, D) block (or to every variance)."""
    cov = np.array(cov, dtype=np.float64)
    if cov.ndim >= 2 and cov.shape[-1] == cov.shape[-2]:
        idx = np.arange(cov.shape[-1])
        cov[..., idx, idx] += reg
    else:
        cov += reg
    return cov


def _set(cov, k, value):
    cov = cov.copy()
    cov[k] = value
    return cov


# MAP covariances under mclust's conjugate prior (Fraley and Raftery 2007), from the ML
# estimate ``cov`` (no reg_covar), counts nk, prior scale L, dof nu and the shrinkage
# term outer_k = kappa n_k / (kappa + n_k) (xbar_k - mu_p)(xbar_k - mu_p)^T.
def _map_full(cov, nk, L, nu, outer, D):
    return (L[None] + cov * nk[:, None, None] + outer) / (nu + nk + D + 2)[:, None, None]


def _map_tied(cov, nk, L, nu, outer, D):
    n = nk.sum()
    return (L + cov * n + outer.sum(axis=0)) / (nu + n + D + 2)


def _map_diag(cov, nk, L, nu, outer, D):
    # mclust's diagonal models use a scalar prior scale: trace(Lambda) / D
    return (np.trace(L) / D + cov * nk[:, None] + np.diagonal(outer, axis1=1, axis2=2)) / (nu + nk + 3)[:, None]


def _map_spherical(cov, nk, L, nu, outer, D):
    # scalar scale; denominator nu + (n_k + 1) D + 2
    tr = np.trace(L) / D + np.trace(outer, axis1=1, axis2=2)
    return (tr + cov * nk * D) / (nu + (nk + 1) * D + 2)


@dataclass(frozen=True)
class CovType:
    """Everything the engine needs to know about one covariance type."""

    name: str
    family: str  # kernel family: 'full' or 'diag'
    n_cov_params: Callable[[int, int], float]
    from_stats: Callable  # (nk, means, sxx, n_total, reg) -> covariances
    prec_chol: Callable  # covariances -> precision factors (raises FactorError)
    kernel_prec: Callable  # (precision factors, K, D) -> kernel array (K,D,D) or (K,D)
    log_det: Callable  # (precision factors, K, D) -> (K,) log|U_k|
    precisions: Callable  # precision factors -> precisions_
    cov_from_prec_chol: Callable  # precision factors -> covariances_
    cov_shape: Callable[[int, int], tuple]
    sample_scale: Callable  # (covariances, k) -> matrix A with cov = A A^T, or vector for diag
    from_precisions: Callable  # precisions_init -> covariances
    reseed: Callable  # (covariances, k, data covariance C) -> covariances with k re-seeded
    map_estimate: Callable  # (ML cov, nk, L, nu, outer, D) -> MAP covariances
    as_full: Callable  # (covariances, K, D) -> (K, D, D)
    as_variances: Callable  # (covariances, K, D) -> (K, D) variances (diag family)


COVARIANCE_TYPES: dict[str, CovType] = {
    "full": CovType(
        name="full",
        family="full",
        n_cov_params=lambda K, D: K * D * (D + 1) / 2.0,
        from_stats=_full_from_stats,
        prec_chol=_chol_prec_full,
        kernel_prec=lambda P, K, D: P,
        log_det=lambda P, K, D: np.log(np.diagonal(P, axis1=1, axis2=2)).sum(axis=1),
        precisions=lambda P: P @ P.transpose(0, 2, 1),
        cov_from_prec_chol=lambda P: np.stack([_tri_inv_gram(u) for u in P]),
        cov_shape=lambda K, D: (K, D, D),
        sample_scale=lambda C, k: np.linalg.cholesky(C[k]),
        from_precisions=np.linalg.inv,
        reseed=lambda cov, k, C: _set(cov, k, C),
        map_estimate=_map_full,
        as_full=lambda cov, K, D: cov,
        as_variances=None,
    ),
    "tied": CovType(
        name="tied",
        family="full",
        n_cov_params=lambda K, D: D * (D + 1) / 2.0,
        from_stats=_tied_from_stats,
        prec_chol=_chol_prec_tied,
        kernel_prec=lambda P, K, D: np.repeat(P[None], K, axis=0),
        log_det=lambda P, K, D: np.full(K, np.log(np.diag(P)).sum()),
        precisions=lambda P: P @ P.T,
        cov_from_prec_chol=_tri_inv_gram,
        cov_shape=lambda K, D: (D, D),
        sample_scale=lambda C, k: np.linalg.cholesky(C),
        from_precisions=np.linalg.inv,
        # the shared covariance cannot follow one component: steady it a little instead
        reseed=lambda cov, k, C: cov + np.diag(np.diag(C)) * 1e-3,
        map_estimate=_map_tied,
        as_full=lambda cov, K, D: np.broadcast_to(cov, (K, D, D)),
        as_variances=None,
    ),
    "diag": CovType(
        name="diag",
        family="diag",
        n_cov_params=lambda K, D: K * D,
        from_stats=_diag_from_stats,
        prec_chol=_chol_prec_diag,
        kernel_prec=lambda P, K, D: P,
        log_det=lambda P, K, D: np.log(P).sum(axis=1),
        precisions=lambda P: P**2,
        cov_from_prec_chol=lambda P: 1.0 / P**2,
        cov_shape=lambda K, D: (K, D),
        sample_scale=lambda C, k: np.sqrt(C[k]),
        from_precisions=lambda p: 1.0 / p,
        reseed=lambda cov, k, C: _set(cov, k, np.diag(C)),
        map_estimate=_map_diag,
        as_full=lambda cov, K, D: np.stack([np.diag(v) for v in cov]),
        as_variances=lambda cov, K, D: cov,
    ),
    "spherical": CovType(
        name="spherical",
        family="diag",
        n_cov_params=lambda K, D: K,
        from_stats=_spherical_from_stats,
        prec_chol=_chol_prec_diag,
        kernel_prec=lambda P, K, D: np.repeat(P[:, None], D, axis=1),
        log_det=lambda P, K, D: D * np.log(P),
        precisions=lambda P: P**2,
        cov_from_prec_chol=lambda P: 1.0 / P**2,
        cov_shape=lambda K, D: (K,),
        sample_scale=lambda C, k: np.sqrt(C[k]),
        from_precisions=lambda p: 1.0 / p,
        reseed=lambda cov, k, C: _set(cov, k, np.diag(C).mean()),
        map_estimate=_map_spherical,
        as_full=lambda cov, K, D: np.eye(D)[None] * np.asarray(cov)[:, None, None],
        as_variances=lambda cov, K, D: np.repeat(np.asarray(cov)[:, None], D, axis=1),
    ),
}


def n_parameters(cov_type: str, K: int, D: int) -> int:
    """Free parameters of a K-component mixture: covariances + means + weights."""
    entry = COVARIANCE_TYPES[cov_type]
    return int(entry.n_cov_params(K, D) + K * D + K - 1)
