"""GMM-HMM model files: the fitted arrays and parameters in gmmkit's safe format
(:func:`gmmkit.io.save_arrays`: npz + JSON, never pickle)."""
from __future__ import annotations

import numpy as np

from ..exceptions import ModelFileError
from ..io import load_arrays, save_arrays

KIND = "GMMHMM"
_ARRAYS = ("startprob_", "transmat_", "weights_", "means_", "covariances_", "lower_bounds_")
_UNSAVED = ("callback",)  # not data; random_state is kept only if an int or None


def save(model, path, *, overwrite=True):
    """Write a fitted :class:`~gmmkit.hmm.GMMHMM` to ``path``."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model, "means_")
    params = {k: v for k, v in model.get_params().items() if k not in _UNSAVED}
    if not (params["random_state"] is None or isinstance(params["random_state"], (int, np.integer))):
        params["random_state"] = None
    meta = {"kind": KIND, "params": params,
            "fit": {"lower_bound": float(model.lower_bound_), "n_iter": int(model.n_iter_),
                    "converged": bool(model.converged_)}}
    save_arrays(path, {k: np.asarray(getattr(model, k)) for k in _ARRAYS}, meta, overwrite=overwrite)


def load(path, cls):
    """The model in ``path`` (written by :func:`save`) as a ``cls`` (:class:`~gmmkit.hmm.GMMHMM`),
    validated as at construction."""
    arrays, meta = load_arrays(path, kind=KIND)
    try:
        params = dict(meta["params"])
        kw = {k: v for k, v in params.items() if k not in ("n_components", "n_mix", "covariance_type")}
        model = cls.from_parameters(arrays["startprob_"], arrays["transmat_"], arrays["weights_"],
                                    arrays["means_"], arrays["covariances_"],
                                    covariance_type=params["covariance_type"], **kw)
        fit = meta["fit"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: not a valid GMMHMM model file ({exc})") from None
    model.lower_bound_, model.n_iter_, model.converged_ = fit["lower_bound"], fit["n_iter"], fit["converged"]
    model.lower_bounds_ = arrays["lower_bounds_"]
    return model
