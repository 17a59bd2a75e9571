"""The four covariance types of scikit-learn (full, tied, diag, spherical), entries of
the covariance table; also mclust's VVV, EEE, VVI and VII."""
from __future__ import annotations

import numpy as np

from ._cov_base import _chol_prec_full, _DiagFamily, _FullFamily, _set, _symmetric, add_diag


class Full(_FullFamily):
    """Each component its own covariance matrix (mclust's VVV)."""

    name = "full"
    mclust_name = "VVV"

    def n_parameters(self, K, D):
        return K * D * (D + 1) / 2.0

    def shape(self, K, D):
        return (K, D, D)

    def from_stats(self, nk, means, sxx, n_total, reg, previous=None):
        cov = _symmetric(sxx) / nk[:, None, None] - means[:, :, None] * means[:, None, :]
        return add_diag(cov, reg)

    def map_estimate(self, cov, nk, L, nu, outer, D):
        return (L[None] + cov * nk[:, None, None] + outer) / (nu + nk + D + 2)[:, None, None]

    def reseed(self, cov, k, C):
        return _set(cov, k, C)

    def precision_cholesky(self, cov):
        return _chol_prec_full(np.asarray(cov, dtype=np.float64))

    def precisions(self, prec_chol):
        return prec_chol @ prec_chol.transpose(0, 2, 1)

    def log_det(self, prec_chol, K, D):
        return np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)

    def full(self, cov, K, D):
        return np.asarray(cov, dtype=np.float64)


class Tied(_FullFamily):
    """One covariance matrix shared by all components (mclust's EEE)."""

    name = "tied"
    mclust_name = "EEE"

    def n_parameters(self, K, D):
        return D * (D + 1) / 2.0

    def shape(self, K, D):
        return (D, D)

    def from_stats(self, nk, means, sxx, n_total, reg, previous=None):
        cov = (_symmetric(sxx).sum(axis=0) - (nk[:, None] * means).T @ means) / n_total
        return add_diag(cov, reg)

    def map_estimate(self, cov, nk, L, nu, outer, D):
        n = nk.sum()
        # mclust's mstepEEE (Fraley and Raftery 2007): one prior term per component mean
        return (L + cov * n + outer.sum(axis=0)) / (nu + n + D + len(nk) + 1)

    def reseed(self, cov, k, C):
        # the shared covariance cannot follow one component: steady it a little instead
        return cov + np.diag(np.diag(C)) * 1e-3

    def precision_cholesky(self, cov):
        return _chol_prec_full(np.asarray(cov, dtype=np.float64)[None])[0]

    def precisions(self, prec_chol):
        return prec_chol @ prec_chol.T

    def log_det(self, prec_chol, K, D):
        return np.full(K, np.log(np.diag(prec_chol)).sum())

    def full(self, cov, K, D):
        return np.broadcast_to(np.asarray(cov, dtype=np.float64), (K, D, D))

    def select(self, array, idx):
        return np.array(array, copy=True)  # shared by every component


class Diag(_DiagFamily):
    """Each component its own diagonal covariance (mclust's VVI)."""

    name = "diag"
    mclust_name = "VVI"

    def n_parameters(self, K, D):
        return K * D

    def shape(self, K, D):
        return (K, D)

    def from_stats(self, nk, means, sxx, n_total, reg, previous=None):
        return sxx / nk[:, None] - means ** 2 + reg

    def map_estimate(self, cov, nk, L, nu, outer, D):
        # mclust's diagonal models use a scalar prior scale: trace(Lambda) / D
        return (np.trace(L) / D + cov * nk[:, None] + np.diagonal(outer, axis1=1, axis2=2)) / (nu + nk + 3)[:, None]

    def reseed(self, cov, k, C):
        return _set(cov, k, np.diag(C))

    def log_det(self, prec_chol, K, D):
        return np.log(prec_chol).sum(axis=1)

    def variances(self, cov, K, D):
        return np.asarray(cov, dtype=np.float64)


class Spherical(_DiagFamily):
    """Each component its own single variance (mclust's VII)."""

    name = "spherical"
    mclust_name = "VII"

    def n_parameters(self, K, D):
        return K

    def shape(self, K, D):
        return (K,)

    def from_stats(self, nk, means, sxx, n_total, reg, previous=None):
        return (sxx / nk[:, None] - means ** 2 + reg).mean(axis=1)

    def map_estimate(self, cov, nk, L, nu, outer, D):
        # scalar scale; denominator nu + (n_k + 1) D + 2
        tr = np.trace(L) / D + np.trace(outer, axis1=1, axis2=2)
        return (tr + cov * nk * D) / (nu + (nk + 1) * D + 2)

    def reseed(self, cov, k, C):
        return _set(cov, k, np.diag(C).mean())

    def log_det(self, prec_chol, K, D):
        return D * np.log(prec_chol)

    def variances(self, cov, K, D):
        return np.repeat(np.asarray(cov, dtype=np.float64)[:, None], D, axis=1)
