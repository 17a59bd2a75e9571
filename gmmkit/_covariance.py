"""The one table of covariance types (public view: :mod:`gmmkit.covariance`).

Every question gmmkit asks about a covariance type (how many free parameters,
which kernel runs it, the shape of its statistics, how to estimate it from
sufficient statistics, with or without the conjugate prior, how to factor it,
how to expand it to full matrices, how to draw from it) is answered by its
entry (:func:`covariance_type`); adding a type is adding an entry (and, for a
new kernel family, one kernel case).

Shapes, with K components and D features (as in scikit-learn):

=========  ===============  ==========================  =================
type       covariances_     precisions_cholesky_        statistics sxx
=========  ===============  ==========================  =================
full       (K, D, D)        (K, D, D) upper triangular  (K, D, D) upper
tied       (D, D)           (D, D) upper triangular     (K, D, D) upper
diag       (K, D)           (K, D)                      (K, D)
spherical  (K,)             (K,)                        (K, D)
=========  ===============  ==========================  =================

mclust's 14 models (Celeux and Govaert 1995) are entries too, under mclust's names
(:data:`MCLUST_MODELS`, :mod:`gmmkit._cov_mclust`): VVV, EEE, VVI and VII are the
same entries as full, tied, diag and spherical; EII stores (K,) equal variances,
EEI, VEI and EVI (K, D) variances, the others (K, D, D) matrices.
:data:`COVARIANCE_TYPES` keeps scikit-learn's four names; :data:`COVARIANCE_NAMES`
lists every name :func:`covariance_type` takes.

The *kernel family* says which fused kernel runs the E-pass: ``"full"`` takes
(K, D, D) precision factors and accumulates upper-triangular second moments,
``"diag"`` takes (K, 1, D) inverse standard deviations and accumulates
per-coordinate second moments.
"""
from __future__ import annotations

from ._cov_base import CovarianceType, FactorError, add_diag
from ._cov_mclust import MCLUST_ONLY
from ._cov_sklearn import Diag, Full, Spherical, Tied
from .exceptions import ParameterError

__all__ = ["COVARIANCE_NAMES", "COVARIANCE_TYPES", "MCLUST_MODELS", "CovarianceType", "Diag", "FactorError",
           "Full", "Spherical", "Tied", "add_diag", "covariance_type", "n_parameters"]

COVARIANCE_TYPES: dict[str, CovarianceType] = {t.name: t for t in (Full(), Tied(), Diag(), Spherical())}

_MCLUST_ORDER = ("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV")
_BY_MCLUST = {t.mclust_name: t for t in (*COVARIANCE_TYPES.values(), *MCLUST_ONLY)}
MCLUST_MODELS: dict[str, CovarianceType] = {name: _BY_MCLUST[name] for name in _MCLUST_ORDER}
"""mclust's 14 models in mclust's order; VVV, EEE, VVI, VII are the scikit-learn entries."""

COVARIANCE_NAMES: tuple[str, ...] = (*COVARIANCE_TYPES, *MCLUST_MODELS)
"""Every name :func:`covariance_type` takes: scikit-learn's four, then mclust's 14."""


def covariance_type(name):
    """The table entry of covariance type ``name`` (scikit-learn's or mclust's name);
    ParameterError names the choices."""
    try:
        return COVARIANCE_TYPES[name] if name in COVARIANCE_TYPES else MCLUST_MODELS[name]
    except (KeyError, TypeError):
        raise ParameterError(
            f"unknown covariance_type {name!r}; choose one of {', '.join(COVARIANCE_NAMES)}"
        ) from None


def n_parameters(cov_type, K, D):
    """Free parameters of a K-component mixture: covariances + means + weights."""
    return int(covariance_type(cov_type).n_parameters(K, D) + K * D + K - 1)
