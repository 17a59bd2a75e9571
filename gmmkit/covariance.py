"""Covariance types: the public view of gmmkit's one covariance table.

Apps and scripts ask the table instead of branching on ``covariance_type``:

>>> import numpy as np
>>> from gmmkit import GaussianMixture
>>> from gmmkit.covariance import covariance_type, full_covariances
>>> X = np.random.default_rng(0).normal(size=(200, 3))
>>> gm = GaussianMixture(2, covariance_type="spherical", random_state=0).fit(X)
>>> full_covariances(gm).shape
(2, 3, 3)
>>> covariance_type("diag").n_parameters(2, 3), covariance_type("tied").shape(2, 3)
(6, (3, 3))

The model-level helpers work on any fitted estimator with scikit-learn's
attributes (``means_``, ``covariances_``, ``precisions_cholesky_``,
``covariance_type``), scikit-learn's own ``GaussianMixture`` included.
"""
from __future__ import annotations

import numpy as np

from ._covariance import (
    COVARIANCE_NAMES,
    COVARIANCE_TYPES,
    MCLUST_MODELS,
    CovarianceType,
    FactorError,
    covariance_type,
    n_parameters,
)

__all__ = [
    "COVARIANCE_NAMES", "COVARIANCE_TYPES", "MCLUST_MODELS", "CovarianceType", "FactorError", "covariance_type",
    "n_parameters",
    "full_covariances", "full_precisions", "full_precision_factors", "variances",
]


def _entry_KD(model):
    K, D = np.shape(model.means_)
    return covariance_type(model.covariance_type), K, D


def full_covariances(model):
    """(K, D, D) covariance matrices of a fitted mixture, whatever its covariance type."""
    entry, K, D = _entry_KD(model)
    return entry.full(model.covariances_, K, D)


def full_precision_factors(model):
    """(K, D, D) upper-triangular precision factors U_k (precision = U_k U_k^T)."""
    entry, K, D = _entry_KD(model)
    return entry.full_factors(np.asarray(model.precisions_cholesky_, dtype=np.float64), K, D)


def full_precisions(model):
    """(K, D, D) precision matrices of a fitted mixture."""
    U = full_precision_factors(model)
    return U @ U.transpose(0, 2, 1)


def variances(model):
    """(K, D) per-feature variances of every component."""
    entry, K, D = _entry_KD(model)
    return entry.variances(model.covariances_, K, D)
