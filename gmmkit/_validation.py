"""Input checks of :class:`gmmkit.GaussianMixture`: data, weights, initial and given
parameters; every failure is one line naming the problem."""
from __future__ import annotations

import numpy as np
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import _check_sample_weight, validate_data

from ._covariance import FactorError, covariance_type
from .exceptions import DataError, DataTypeError, GMMKitError, ParameterError


class InvalidParameter(ParameterError, InvalidParameterError):
    """A constructor parameter is out of range (sklearn's and gmmkit's error at once)."""


def _as_data_error(exc):
    """sklearn's validation error as gmmkit's, on one line, keeping its wording."""
    msg = " ".join(str(exc).split()) or type(exc).__name__
    if "could not convert" in msg or "argument must be" in msg:
        msg = f"X must be numeric: {msg}"
    return (DataTypeError if isinstance(exc, TypeError) else DataError)(msg)


def check_X(est, X, *, reset, min_samples=1):
    """X validated as scikit-learn does, float32/float64, C order; NaN only with missing='em'."""
    allow_nan = getattr(est, "missing", "em") == "em"
    try:
        X = validate_data(
            est, X, reset=reset, dtype=[np.float64, np.float32], order="C",
            ensure_min_samples=min_samples, ensure_all_finite="allow-nan" if allow_nan else True,
        )
    except GMMKitError:
        raise
    except (ValueError, TypeError) as exc:
        err = _as_data_error(exc)
        if not allow_nan and "NaN" in str(err):
            err = type(err)(f"{err} Missing values are supported with missing='em'.")
        raise err from None
    if allow_nan and X.size and np.isnan(X).all(axis=1).any():
        bad = np.flatnonzero(np.isnan(X).all(axis=1))
        raise DataError(
            f"{bad.size} row(s) have every value missing (first: row {bad[0]}); drop them"
        )
    return X

def check_sample_weight(sample_weight, X, n_components):
    """(weights, total): frequency weights checked against X; empty for none."""
    if sample_weight is None:
        return np.empty(0), float(X.shape[0])
    try:
        sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    except ValueError as exc:
        raise DataError(f"sample_weight: {exc}") from None
    total = float(sw.sum())
    if not total > 0:
        raise DataError("sample_weight: the weights sum to zero; at least one row needs a non-zero weight")
    if np.count_nonzero(sw) < n_components:
        raise DataError(
            f"sample_weight: only {np.count_nonzero(sw)} rows have weight > 0, "
            f"fewer than n_components={n_components}"
        )
    return np.ascontiguousarray(sw), total

def check_initial_parameters(est, D):
    """The user's weights_init / means_init / precisions_init against K and D."""
    K = est.n_components
    entry = covariance_type(est.covariance_type)
    if est.weights_init is not None:
        w = np.asarray(est.weights_init, dtype=np.float64)
        if w.shape != (K,):
            raise ParameterError(f"weights_init must have shape ({K},), got {w.shape}")
        if np.any(w < 0) or not np.isclose(w.sum(), 1.0, atol=1e-6):
            raise ParameterError("weights_init must be non-negative and sum to 1")
    if est.means_init is not None:
        m = np.asarray(est.means_init, dtype=np.float64)
        if m.shape != (K, D):
            raise ParameterError(f"means_init must have shape ({K}, {D}), got {m.shape}")
        if not np.all(np.isfinite(m)):
            raise ParameterError("means_init contains NaN or infinity")
    if est.precisions_init is not None:
        p = np.asarray(est.precisions_init, dtype=np.float64)
        shape = entry.shape(K, D)
        if p.shape != shape:
            raise ParameterError(
                f"precisions_init must have shape {shape} for covariance_type="
                f"'{est.covariance_type}', got {p.shape}"
            )
        try:
            entry.precision_cholesky(entry.from_precisions(p))
        except (FactorError, np.linalg.LinAlgError):
            raise ParameterError("precisions_init must be symmetric positive definite") from None

def check_parameters(entry, weights, means, covariances, noise_weight=0.0, precisions_cholesky=None):
    """Given mixture parameters as float64 arrays, with their precision factors; one-line
    ParameterError for a wrong shape, a non-finite value, weights that are not a
    probability vector or covariances that are not positive definite."""
    means = np.asarray(means, dtype=np.float64)
    if means.ndim != 2:
        raise ParameterError(f"means must be a (K, D) array, got shape {means.shape}")
    K, D = means.shape
    weights = np.asarray(weights, dtype=np.float64)
    covariances = np.asarray(covariances, dtype=np.float64)
    if weights.shape != (K,):
        raise ParameterError(f"weights must have shape ({K},), got {weights.shape}")
    if covariances.shape != entry.shape(K, D):
        raise ParameterError(f"covariances must have shape {entry.shape(K, D)} for "
                             f"covariance_type={entry.name!r}, got {covariances.shape}")
    for name, a in (("weights", weights), ("means", means), ("covariances", covariances)):
        if not np.all(np.isfinite(a)):
            raise ParameterError(f"{name} contain NaN or infinity")
    pi0 = float(noise_weight)
    if np.any(weights < 0) or not 0 <= pi0 < 1 or not np.isclose(weights.sum() + pi0, 1.0, atol=1e-6):
        raise ParameterError("weights (with noise_weight) are not a probability vector: "
                             "non-negative, summing to 1")
    try:
        prec_chol = entry.precision_cholesky(covariances)
    except FactorError as exc:
        raise ParameterError(f"covariances of component(s) {exc.bad} are not positive definite") from None
    if precisions_cholesky is not None:
        given = np.asarray(precisions_cholesky, dtype=np.float64)
        if given.shape != prec_chol.shape or not np.allclose(given, prec_chol, rtol=1e-6, atol=1e-12):
            raise ParameterError("precisions_cholesky are not the precision factors of the covariances")
        prec_chol = given
    return weights, means, covariances, prec_chol


def check_range(bounds, shift, dtype, name="X"):
    """Refuse data whose spread around ``shift`` overflows squared distances in ``dtype``;
    warn when float32 cannot tell a column's values apart (a large offset, a small spread).
    ``bounds`` is the (2, D) per-column minimum and maximum (NaN skipped)."""
    import warnings

    lo, hi = np.asarray(bounds[0], dtype=np.float64), np.asarray(bounds[1], dtype=np.float64)
    extent = float(np.max(np.maximum(hi - shift, shift - lo), initial=0.0))
    limit = float(np.sqrt(np.finfo(dtype).max)) * 1e-4
    if not extent <= limit:
        raise DataError(f"{name}: values lie up to {extent:.3g} from their mean, beyond what "
                        f"{np.dtype(dtype).name} EM can square ({limit:.1e}); rescale X")
    if np.dtype(dtype) == np.float32:
        size = np.maximum(np.abs(lo), np.abs(hi))
        tight = np.flatnonzero((hi > lo) & (hi - lo < 1e-4 * size))
        if tight.size:
            warnings.warn(
                f"{name}: column(s) {tight.tolist()[:5]} vary by less than 1e-4 of their magnitude, "
                "which float32 (7 digits) cannot resolve; center the data or use float64",
                UserWarning, stacklevel=4)


def as_float32(X, names=None):
    """X in float32, refused (one line) when rounding to float32's 7 digits would move a
    column's values by more than 1e-3 of its spread: a large offset with a small spread
    (values near 1e12 varying by 1) would collapse onto a few points."""
    X32 = np.asarray(X, dtype=np.float32)
    with np.errstate(invalid="ignore"):
        err = np.nanmax(np.abs(X32.astype(np.float64) - X), axis=0, initial=0.0)
        spread = np.nanstd(X, axis=0)
    bad = np.flatnonzero(err > 1e-3 * spread)
    if bad.size:
        j = int(bad[0])
        name = names[j] if names is not None else f"column {j}"
        raise DataError(f"{name}: float32 would round its values by up to {err[j]:.3g} against a spread "
                        f"of {spread[j]:.3g} (7 significant digits); center the data or drop --float32")
    return X32
