"""Base classes of the covariance table (:mod:`gmmkit._covariance`): what every
entry answers, the two kernel families, and the helpers entries share."""
from __future__ import annotations

import numpy as np


class FactorError(Exception):
    """Covariance of the listed components is not positive definite."""

    def __init__(self, bad):
        super().__init__(bad)
        self.bad = list(bad)


# ---------------------------------------------------------------- helpers
def _solve_lower(L, B):
    from scipy.linalg import solve_triangular

    return solve_triangular(L, B, lower=True)


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
        out[k] = _solve_lower(L, eye).T  # inv(L).T is upper triangular: precision = inv(L).T inv(L)
    if bad:
        raise FactorError(bad)
    return out


def _chol_prec_diag(cov):
    cov = np.asarray(cov, dtype=np.float64)
    bad = np.flatnonzero(~(cov > 0).reshape(cov.shape[0], -1).all(axis=1))
    if bad.size:
        raise FactorError(bad)
    return 1.0 / np.sqrt(cov)


def _symmetric(sxx):
    """Full symmetric matrices from upper-triangular second moments."""
    return np.triu(sxx) + np.triu(sxx, 1).transpose(0, 2, 1)


def add_diag(cov, reg):
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


class CovarianceType:
    """Everything gmmkit needs to know about one covariance type.

    Subclasses fill the type-specific methods; the kernel-family methods come
    from :class:`_FullFamily` or :class:`_DiagFamily`.
    """

    name = ""
    family = ""  # kernel family: 'full' or 'diag'
    mclust_name = ""  # the model's name in mclust (Celeux and Govaert 1995)

    def __repr__(self):
        return f"<covariance type {self.name!r}>"

    # -- counts and shapes -------------------------------------------------
    def n_parameters(self, K, D):
        """Free parameters of the covariances (float: halves cancel in the total)."""
        raise NotImplementedError

    def shape(self, K, D):
        """Shape of ``covariances_`` and ``precisions_cholesky_``."""
        raise NotImplementedError

    def work_per_row(self, K, D):
        """Multiply-adds per row of one kernel pass (decides serial or threaded)."""
        raise NotImplementedError

    # -- estimation ----------------------------------------------------------
    def from_stats(self, nk, means, sxx, n_total, reg, previous=None):
        """ML covariances from statistics (nk (K,), means (K, D), second moments sxx) + ``reg``.

        ``previous``: the covariances of the last M-step of the same run (None at the start
        of a run), the starting point of the models whose M-step iterates (mclust's VEI,
        VEE, EVE, VVE, VEV); the closed-form ones ignore it."""
        raise NotImplementedError

    def map_estimate(self, cov, nk, L, nu, outer, D):
        """MAP covariances under mclust's conjugate prior (Fraley and Raftery 2007), from the
        ML estimate ``cov`` (no reg_covar), counts ``nk``, prior scale ``L``, dof ``nu`` and
        the shrinkage term ``outer_k = kappa n_k / (kappa + n_k) (xbar_k - mu_p)(xbar_k - mu_p)^T``."""
        raise NotImplementedError

    def reseed(self, cov, k, C):
        """Covariances with component ``k`` reset from the data covariance ``C``."""
        raise NotImplementedError

    def map_from_stats(self, nk, means, sxx, n_total, prior, previous=None):
        """MAP means and covariances (no reg_covar) from statistics under ``prior`` (a
        :class:`gmmkit._em.prior.ConjugatePrior`: ``shrinkage``, ``dof``, ``scale``, and
        ``map_estimate``); by default the ML estimate moved by :meth:`map_estimate`."""
        cov = self.from_stats(nk, means, sxx, n_total, 0.0, previous=previous)
        return prior.map_estimate(self, nk, means, cov)

    def check_structure(self, cov, K, D):
        """One-line ParameterError if ``cov`` breaks the model's equal volume, shape or
        orientation across components (the E letters of its mclust name)."""
        from ._cov_check import structure_error
        from .exceptions import ParameterError

        problem = structure_error(self.mclust_name, self.full(cov, K, D))
        if problem:
            kept = " and ".join(p for p, c in zip(("volume", "shape", "orientation"), self.mclust_name) if c == "E")
            raise ParameterError(f"covariances do not fit covariance_type={self.name!r} ({self.mclust_name} keeps "
                                 f"the {kept} equal across components): {problem}")

    # -- factors -------------------------------------------------------------
    def precision_cholesky(self, cov):
        """Precision factors (upper triangular for matrices); raises FactorError."""
        raise NotImplementedError

    def precisions(self, prec_chol):
        """``precisions_`` from precision factors."""
        raise NotImplementedError

    def from_precisions(self, precisions):
        """Covariances from precisions (``precisions_init``)."""
        raise NotImplementedError

    def log_det(self, prec_chol, K, D):
        """(K,) log-determinants of the precision factors, log|U_k|."""
        raise NotImplementedError

    # -- views ----------------------------------------------------------------
    def full(self, cov, K, D):
        """(K, D, D) covariance matrices."""
        raise NotImplementedError

    def variances(self, cov, K, D):
        """(K, D) variances (the diagonals of the covariance matrices)."""
        return np.diagonal(self.full(cov, K, D), axis1=1, axis2=2).copy()

    def full_factors(self, prec_chol, K, D):
        """(K, D, D) upper-triangular precision factors."""
        raise NotImplementedError

    def select(self, array, idx):
        """The covariances (or precision arrays) of components ``idx``."""
        return np.asarray(array)[idx].copy()

    def sample(self, rng, mean, cov, k, n):
        """``n`` draws from component ``k`` (mean ``mean``) with ``rng`` (RandomState),
        the same draws as scikit-learn's ``sample``."""
        return rng.multivariate_normal(mean, self.full(cov, k + 1, mean.shape[0])[k], int(n))


class _FullFamily(CovarianceType):
    """Types whose kernel takes (K, D, D) precision factors."""

    family = "full"
    independent_coordinates = False  # coordinates independent given the component

    def work_per_row(self, K, D):
        return K * D * D

    def stats_shape(self, K, D):
        return (K, D, D)

    def from_kernel_stats(self, sxx):
        """Second moments in the table's layout from the kernel's."""
        return sxx

    def kernel_prec(self, prec_chol, K, D):
        return np.broadcast_to(prec_chol, (K, D, D))

    def kernel_cov(self, cov, K, D):
        """Covariances for the missing-value kernels: (K, D, D), or (1, D, D) if shared."""
        return np.ascontiguousarray(np.reshape(cov, (-1, D, D)), dtype=np.float64)

    def second_moments(self, X, r):
        """sum_n r_n x_n x_n^T of (shifted) rows X with weights r."""
        return (X * r[:, None]).T @ X

    def model_moments(self, nk, means, cov, reg):
        """Second moments that data following the parameters exactly would give."""
        K, D = means.shape
        C = np.broadcast_to(cov, (K, D, D)) - reg * np.eye(D)
        return np.triu(nk[:, None, None] * (C + means[:, :, None] * means[:, None, :]))

    def full_factors(self, prec_chol, K, D):
        return np.broadcast_to(prec_chol, (K, D, D)).copy()

    def from_precisions(self, precisions):
        return np.linalg.inv(precisions)


class _DiagFamily(CovarianceType):
    """Types whose kernel takes (K, 1, D) inverse standard deviations."""

    family = "diag"
    independent_coordinates = True

    def work_per_row(self, K, D):
        return K * D

    def stats_shape(self, K, D):
        return (K, D)

    def from_kernel_stats(self, sxx):
        return sxx[:, 0, :]

    def kernel_prec(self, prec_chol, K, D):
        return np.broadcast_to(np.reshape(prec_chol, (K, -1)), (K, D))[:, None, :]

    def kernel_cov(self, cov, K, D):
        return np.ascontiguousarray(self.variances(cov, K, D), dtype=np.float64)[:, None, :]

    def second_moments(self, X, r):
        return ((X * r[:, None]) * X).sum(axis=0)

    def model_moments(self, nk, means, cov, reg):
        K, D = means.shape
        return nk[:, None] * (self.variances(cov, K, D) - reg + means ** 2)

    def precision_cholesky(self, cov):
        return _chol_prec_diag(cov)

    def precisions(self, prec_chol):
        return prec_chol ** 2

    def from_precisions(self, precisions):
        return 1.0 / np.asarray(precisions, dtype=np.float64)

    def full(self, cov, K, D):
        return np.eye(D)[None] * self.variances(cov, K, D)[:, None, :]

    def full_factors(self, prec_chol, K, D):
        return np.eye(D)[None] * np.broadcast_to(np.reshape(prec_chol, (K, -1)), (K, D))[:, None, :]

    def sample(self, rng, mean, cov, k, n):
        sd = np.sqrt(self.variances(cov, k + 1, mean.shape[0])[k])
        return mean + rng.standard_normal(size=(n, mean.shape[0])) * sd
