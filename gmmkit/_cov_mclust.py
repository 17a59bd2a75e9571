"""mclust's covariance models beyond scikit-learn's four, entries of the covariance table.

Celeux and Govaert (1995) write a component covariance as
``Sigma_k = lambda_k D_k A_k D_k^T``: volume ``lambda_k``, shape ``A_k`` (diagonal,
det 1), orientation ``D_k``; each of the three letters of a model's name says whether
that part is Equal across components (E), Variable (V) or the Identity (I). VVV, EEE,
VVI and VII are scikit-learn's full, tied, diag and spherical
(:mod:`gmmkit._cov_sklearn`); the other ten are here. Layouts: EII stores one variance
per component (all equal, (K,)); EEI, VEI, EVI (K, D) variances; the rest (K, D, D)
matrices. The M-steps are mclust's (closed forms of Celeux and Govaert; the iterative
ones in :mod:`gmmkit._cov_mstep`). ``reg_covar`` is added to the diagonal of every
component's scatter divided by its weight (``W_k / n_k + reg I``) before the model's
estimate, so the estimate keeps the model's structure; mclust has no such term:
``reg_covar=0`` gives mclust's estimates.

The conjugate prior follows mclust's EM (``me`` with ``priorControl()``), which has it
for EII, VII, EEI, VEI, EVI, VVI, EEE, EEV, VEV and VVV; VEE, EVE, VVE and EVV say so
in one line.
"""
from __future__ import annotations

import numpy as np

from . import _cov_mstep as ms
from ._cov_base import _symmetric
from ._cov_sklearn import Diag, Full, Spherical
from .exceptions import ParameterError


def _scatter(nk, means, sxx):
    """(K, D, D) scatter matrices W_k of the components about their means."""
    return _symmetric(sxx) - nk[:, None, None] * means[:, :, None] * means[:, None, :]


def _diag_scatter(nk, means, sxx):
    """(K, D) per-coordinate scatters about the component means."""
    return sxx - nk[:, None] * means ** 2


def _no_prior(name):
    raise ParameterError(f"covariance model {name!r} has no conjugate prior (mclust has none for it); "
                         "use prior=None or one of EII, VII, EEI, VEI, EVI, VVI, EEE, EEV, VEV, VVV")


def _extra(prior):
    """mclust adds one to the dof-based denominators when the means shrink."""
    return prior.dof + 1 + (prior.shrinkage > 0)


def _prior_parts(nk, means, prior):
    """MAP means and the shrinkage term kappa n_k / (kappa + n_k) xbar_k xbar_k^T (the prior
    mean is the origin of the fit's shifted coordinates), as :class:`ConjugatePrior`'s."""
    kappa = prior.shrinkage
    shrink = kappa * nk / (kappa + nk)
    return means * (nk / (nk + kappa))[:, None], means[:, :, None] * means[:, None, :] * shrink[:, None, None]


class _Matrices(Full):
    """Full-family mclust models: (K, D, D) covariances, structure from the scatters."""

    def from_stats(self, nk, means, sxx, n_total, reg, previous=None):
        W = _scatter(nk, means, sxx) + (reg * nk)[:, None, None] * np.eye(means.shape[1])
        with np.errstate(all="ignore"):  # a singular scatter gives NaN: the M-step re-seeds or says so
            return self.estimate(W, nk, n_total, None if previous is None else self.state(previous))

    def state(self, cov):
        return None

    def reseed(self, cov, k, C):
        """Every component from the data covariance: one component alone would break the
        parts the model keeps equal (and a model file of it would be refused)."""
        return np.broadcast_to(C, np.shape(cov)).copy()

    def map_estimate(self, cov, nk, L, nu, outer, D):
        _no_prior(self.name)

    def map_from_stats(self, nk, means, sxx, n_total, prior, previous=None):
        _no_prior(self.name)


class _Variances(Diag):
    """Diagonal-family mclust models: (K, D) variances."""

    def from_stats(self, nk, means, sxx, n_total, reg, previous=None):
        w = _diag_scatter(nk, means, sxx) + reg * nk[:, None]
        with np.errstate(all="ignore"):  # a zero variance gives NaN: the M-step re-seeds or says so
            return self.estimate(w, nk, n_total, None if previous is None else ms.state_from_diag(previous))

    def reseed(self, cov, k, C):
        """Every component from the data's variances (see :meth:`_Matrices.reseed`)."""
        return np.broadcast_to(np.diag(C), np.shape(cov)).copy()

    def map_estimate(self, cov, nk, L, nu, outer, D):
        _no_prior(self.name)

    def map_from_stats(self, nk, means, sxx, n_total, prior, previous=None):
        _no_prior(self.name)


# ---------------------------------------------------------------- diagonal family
class EII(Spherical):
    """One variance shared by all components and coordinates: lambda I."""

    name = mclust_name = "EII"

    def n_parameters(self, K, D):
        return 1

    def from_stats(self, nk, means, sxx, n_total, reg, previous=None):
        var = _diag_scatter(nk, means, sxx).sum() / (n_total * means.shape[1])
        return np.full(len(nk), var + reg)

    def map_estimate(self, cov, nk, L, nu, outer, D):
        _no_prior(self.name)

    def map_from_stats(self, nk, means, sxx, n_total, prior, previous=None):
        """mclust's meeiip: the scatter and shrinkage terms over dof + (n + K) D + 2 (mclust
        leaves the prior scale out of this model's numerator; so does gmmkit)."""
        new_means, outer = _prior_parts(nk, means, prior)
        K, D = means.shape
        total = _diag_scatter(nk, means, sxx).sum() + np.trace(outer, axis1=1, axis2=2).sum()
        return new_means, np.full(K, total / (prior.dof + (n_total + K) * D + 2))

    def reseed(self, cov, k, C):
        return cov + np.mean(np.diag(C)) * 1e-3  # shared: steady it a little instead


class EEI(_Variances):
    """One diagonal covariance shared by all components: lambda A."""

    name = mclust_name = "EEI"

    def n_parameters(self, K, D):
        return D

    def estimate(self, w, nk, n_total, state):
        return np.broadcast_to(w.sum(axis=0) / n_total, w.shape).copy()

    def map_from_stats(self, nk, means, sxx, n_total, prior, previous=None):
        """mclust's meeeip: (trace(Lambda) / D + scatters + shrinkage terms) / (dof + n + 1
        [+1 with shrinkage]); mclust's E-step then uses the unshrunk means, and so does gmmkit."""
        _, outer = _prior_parts(nk, means, prior)
        D = means.shape[1]
        w = _diag_scatter(nk, means, sxx) + np.diagonal(outer, axis1=1, axis2=2)
        var = (np.trace(prior.scale) / D + w.sum(axis=0)) / (_extra(prior) + n_total)
        return means, np.broadcast_to(var, w.shape).copy()

    def reseed(self, cov, k, C):
        return cov + np.diag(C)[None] * 1e-3


class VEI(_Variances):
    """Diagonal, one shape, volumes per component: lambda_k A (iterative M-step)."""

    name = mclust_name = "VEI"

    def n_parameters(self, K, D):
        return K + D - 1

    def estimate(self, w, nk, n_total, state):
        return ms.vei(w, nk * w.shape[1], state)

    def map_from_stats(self, nk, means, sxx, n_total, prior, previous=None):
        """mclust's meveip: the scatters plus the prior's scalar scale trace(Lambda) / D and
        the shrinkage term; scale denominators D n_k + dof + 2 (+1 with shrinkage)."""
        new_means, outer = _prior_parts(nk, means, prior)
        D = means.shape[1]
        w = np.trace(prior.scale) / D + _diag_scatter(nk, means, sxx) + np.diagonal(outer, axis1=1, axis2=2)
        denom = D * nk + prior.dof + 2 + (prior.shrinkage > 0)
        state = None if previous is None else ms.state_from_diag(previous)
        return new_means, ms.vei(w, denom, state)


class EVI(_Variances):
    """Diagonal, shapes per component, one volume: lambda A_k."""

    name = mclust_name = "EVI"

    def n_parameters(self, K, D):
        return 1 + K * (D - 1)

    def estimate(self, w, nk, n_total, state):
        g = ms._geomean(w)
        return (g.sum() / n_total) * (w / g[:, None])

    def map_from_stats(self, nk, means, sxx, n_total, prior, previous=None):
        """mclust's meevip: the EVI estimate of the scatters plus trace(Lambda) / D and the
        shrinkage terms, the volume over dof + n + 1 (+1 with shrinkage)."""
        new_means, outer = _prior_parts(nk, means, prior)
        D = means.shape[1]
        w = np.trace(prior.scale) / D + _diag_scatter(nk, means, sxx) + np.diagonal(outer, axis1=1, axis2=2)
        return new_means, self.estimate(w, nk, _extra(prior) + n_total, None)


# ---------------------------------------------------------------- full family
class VEE(_Matrices):
    """lambda_k C: one shape and orientation, volumes per component (iterative M-step)."""

    name = mclust_name = "VEE"

    def n_parameters(self, K, D):
        return K + (D - 1) + D * (D - 1) / 2

    def estimate(self, W, nk, n_total, state):
        return ms.vee(W, nk)


class EVE(_Matrices):
    """lambda D A_k D^T: one volume and orientation, shapes per component (MM M-step)."""

    name = mclust_name = "EVE"

    def n_parameters(self, K, D):
        return 1 + K * (D - 1) + D * (D - 1) / 2

    def state(self, cov):
        return ms.state_common_orientation(cov)

    def estimate(self, W, nk, n_total, state):
        return ms.common_orientation(W, nk, state, equal_volume=True)


class VVE(EVE):
    """lambda_k D A_k D^T: one orientation, volumes and shapes per component (MM M-step)."""

    name = mclust_name = "VVE"

    def n_parameters(self, K, D):
        return K * D + D * (D - 1) / 2

    def estimate(self, W, nk, n_total, state):
        return ms.common_orientation(W, nk, state, equal_volume=False)


class EEV(_Matrices):
    """lambda D_k A D_k^T: one volume and shape, orientations per component."""

    name = mclust_name = "EEV"

    def n_parameters(self, K, D):
        return D + K * D * (D - 1) / 2

    def estimate(self, W, nk, n_total, state):
        omega, vecs = ms._descending_eigh(W)
        shape = omega.sum(axis=0) / n_total
        return np.einsum("kij,j,klj->kil", vecs, shape, vecs)

    def map_from_stats(self, nk, means, sxx, n_total, prior, previous=None):
        """mclust's meeevp: the EEV estimate of Lambda + W_k + shrinkage term, over
        dof + D + 1 (+1 with shrinkage) + n."""
        new_means, outer = _prior_parts(nk, means, prior)
        W = prior.scale[None] + _scatter(nk, means, sxx) + outer
        return new_means, self.estimate(W, nk, _extra(prior) + means.shape[1] + n_total, None)


class VEV(_Matrices):
    """lambda_k D_k A D_k^T: one shape, volumes and orientations per component (iterative)."""

    name = mclust_name = "VEV"

    def n_parameters(self, K, D):
        return K + (D - 1) + K * D * (D - 1) / 2

    def state(self, cov):
        return ms.state_vev(cov)

    def estimate(self, W, nk, n_total, state):
        return ms.vev(W, nk, n_total, state)

    def map_from_stats(self, nk, means, sxx, n_total, prior, previous=None):
        """mclust's mevevp: the VEV M-step on the scatters plus the prior scale and the
        shrinkage term (no degrees of freedom enter)."""
        new_means, outer = _prior_parts(nk, means, prior)
        W = prior.scale[None] + _scatter(nk, means, sxx) + outer
        state = None if previous is None else self.state(previous)
        return new_means, self.estimate(W, nk, n_total, state)


class EVV(_Matrices):
    """lambda C_k: one volume, shapes and orientations per component."""

    name = mclust_name = "EVV"

    def n_parameters(self, K, D):
        return 1 + K * (D * (D + 1) / 2 - 1)

    def estimate(self, W, nk, n_total, state):
        g = ms._geomean(np.linalg.eigvalsh(W))
        return (g.sum() / n_total) * (W / g[:, None, None])


MCLUST_ONLY = (EII(), EEI(), VEI(), EVI(), VEE(), EVE(), VVE(), EEV(), VEV(), EVV())
