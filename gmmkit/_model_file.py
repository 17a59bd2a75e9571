"""The GaussianMixture model file: what :meth:`GaussianMixture.save` writes and
:func:`gmmkit.load` reads (the file format itself is :mod:`gmmkit.io`'s)."""
from __future__ import annotations

import numpy as np

from .exceptions import ModelFileError, ParameterError
from .io import load_arrays, save_arrays

_NOT_SAVED = ("weights_init", "means_init", "precisions_init", "callback", "random_state", "prior")


def save(est, path, *, overwrite=True):
    """Save a fitted estimator (parameters, fitted arrays, fit metadata)."""
    from sklearn.utils.validation import check_is_fitted

    from ._version import __version__

    check_is_fitted(est)
    params = {k: v for k, v in est.get_params(deep=False).items() if k not in _NOT_SAVED}
    params["prior"] = est.prior if isinstance(est.prior, str) else None
    rs = est.random_state
    params["random_state"] = rs if isinstance(rs, (int, np.integer)) or rs is None else None
    meta = {
        "kind": type(est).__name__,
        "gmmkit_version": __version__,
        "params": params,
        "n_features_in": int(est.n_features_in_),
        "feature_names_in": list(getattr(est, "feature_names_in_", [])) or None,
        "converged": bool(est.converged_),
        "n_iter": int(est.n_iter_),
        "lower_bound": float(est.lower_bound_),
        "extra": getattr(est, "fit_metadata_", {}),
    }
    arrays = {
        "weights": est.weights_,
        "means": est.means_,
        "covariances": est.covariances_,
        "precisions_cholesky": est.precisions_cholesky_,
        "lower_bounds": np.asarray(est.lower_bounds_, dtype=np.float64),
    }
    if est.noise_weight_ > 0:
        meta["noise"] = {"weight": est.noise_weight_, "log_volume": est.noise_log_volume_}
        arrays["noise_bounds"] = est.noise_bounds_
    save_arrays(path, arrays, meta, overwrite=overwrite)


def load(path, cls):
    """Read a model file into a fitted ``cls`` (:class:`gmmkit.GaussianMixture`); validates
    everything and runs no code. Raises ModelFileError on a missing, truncated,
    corrupted, foreign, newer-version or inconsistent file."""
    arrays, meta = load_arrays(path, kind=cls.__name__)
    try:
        params = dict(meta["params"])
        K, D = int(params.pop("n_components")), int(meta["n_features_in"])
        cov_type = params.pop("covariance_type")
        params.pop("noise", None)
        w, m = arrays["weights"], arrays["means"]
        cov = arrays["covariances"]
        noise = meta.get("noise") or {}
        pi0 = float(noise.get("weight", 0.0))
        log_volume = float(noise.get("log_volume", 0.0))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: model metadata is incomplete or invalid ({exc})") from None
    for name in ("weights", "means", "covariances", "precisions_cholesky"):
        if arrays[name].dtype.kind != "f":
            raise ModelFileError(f"{path}: '{name}' is not a float array")
    if w.shape != (K,) or m.shape != (K, D):
        raise ModelFileError(f"{path}: 'weights' or 'means' has the wrong shape for K={K}, D={D}")
    if arrays["precisions_cholesky"].shape != cov.shape:
        raise ModelFileError(f"{path}: 'precisions_cholesky' has the wrong shape for K={K}, D={D}")
    bounds = arrays.get("noise_bounds") if pi0 > 0 else None
    try:
        est = cls.from_parameters(
            w, m, cov, covariance_type=cov_type, noise_weight=pi0, noise_bounds=bounds,
            precisions_cholesky=arrays["precisions_cholesky"],
            feature_names=meta.get("feature_names_in") or None, **params)
    except (ParameterError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    if pi0 > 0:  # the volume the model was fitted with, as written
        est.noise_log_volume_, est.noise_volume_ = log_volume, float(np.exp(log_volume))
    est.converged_ = bool(meta.get("converged", False))
    est.n_iter_ = int(meta.get("n_iter", 0))
    est.lower_bound_ = float(meta.get("lower_bound", -np.inf))
    est.lower_bounds_ = arrays.get("lower_bounds", np.empty(0)).tolist()
    est.fit_metadata_ = meta.get("extra") or {}
    return est
