"""Safe files: atomic writes and versioned, non-pickle model files.

A model file is a ``.npz`` archive (read with ``allow_pickle=False``, so loading
never executes code) holding the fitted arrays plus one ``__meta__`` entry: a
JSON document with the format name, its version, the estimator's parameters and
fit metadata. Files are written to a temporary name in the target folder and
renamed into place, so a crash never leaves a half-written model.

>>> import numpy as np, tempfile, os
>>> from gmmkit import GaussianMixture, load
>>> X = np.random.default_rng(0).normal(size=(200, 2))
>>> gm = GaussianMixture(2, random_state=0).fit(X)
>>> path = os.path.join(tempfile.mkdtemp(), "model.gmm")
>>> gm.save(path)
>>> bool(np.allclose(load(path).means_, gm.means_))
True
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile

import numpy as np

from .exceptions import ModelFileError, OutputExistsError

FORMAT = "gmmkit-model"
FORMAT_VERSION = 1
_META = "__meta__"


@contextlib.contextmanager
def atomic_path(path, *, overwrite=True, suffix=None):
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched.
    With ``overwrite=False`` an existing ``path`` raises :class:`OutputExistsError`
    before anything is written.
    """
    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise OutputExistsError(f"{path} exists; pass --force (overwrite=True) to replace it")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if suffix is None:
        suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
    os.close(fd)
    # mkstemp makes 0600 files; give the output the mode a plain open() would
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(tmp, mode)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def save_arrays(path, arrays: dict, meta: dict, *, overwrite=True):
    """Write ``arrays`` and the JSON ``meta`` as a versioned model file, atomically."""
    meta = dict(meta, format=FORMAT, format_version=FORMAT_VERSION)
    blob = np.frombuffer(json.dumps(_jsonable(meta)).encode("utf-8"), dtype=np.uint8)
    with atomic_path(path, overwrite=overwrite, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **{_META: blob}, **arrays)


def load_arrays(path, *, kind=None):
    """Read a model file written by :func:`save_arrays`; validate and return (arrays, meta)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileError(f"model file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError) as exc:
        raise ModelFileError(
            f"{path} is not a readable gmmkit model file (truncated or corrupted?): {exc}"
        ) from None
    if _META not in arrays:
        raise ModelFileError(f"{path} is not a gmmkit model file (no metadata entry)")
    try:
        meta = json.loads(arrays.pop(_META).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(f"{path}: model metadata is corrupted") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a gmmkit model file (format {meta.get('format')!r})")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} was written by a newer gmmkit (model format {version}); "
            f"this gmmkit reads format {FORMAT_VERSION}: upgrade gmmkit"
        )
    if kind is not None and meta.get("kind") != kind:
        raise ModelFileError(f"{path} holds a {meta.get('kind')!r}, expected a {kind!r}")
    return arrays, meta


def save_model(est, path, *, overwrite=True):
    """Save a fitted :class:`gmmkit.GaussianMixture` (see module docstring)."""
    from sklearn.utils.validation import check_is_fitted

    from ._version import __version__

    check_is_fitted(est)
    params = {k: v for k, v in est.get_params(deep=False).items()
              if k not in ("weights_init", "means_init", "precisions_init", "callback", "random_state",
                           "prior")}
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
    if getattr(est, "noise_weight_", 0.0) > 0:
        meta["noise"] = {"weight": est.noise_weight_, "log_volume": est.noise_log_volume_}
        arrays["noise_bounds"] = est.noise_bounds_
    save_arrays(path, arrays, meta, overwrite=overwrite)


def load(path):
    """Load a model written by ``GaussianMixture.save``; validates everything, runs no code.

    Raises :class:`gmmkit.exceptions.ModelFileError` on a missing, truncated,
    corrupted, foreign or newer-version file.
    """
    from ._covariance import COVARIANCE_TYPES
    from .mixture import GaussianMixture

    arrays, meta = load_arrays(path, kind="GaussianMixture")
    try:
        params = dict(meta["params"])
        est = GaussianMixture(**params)
        cov_type = params["covariance_type"]
        entry = COVARIANCE_TYPES[cov_type]
        K, D = int(params["n_components"]), int(meta["n_features_in"])
        w, m = arrays["weights"], arrays["means"]
        cov, pc = arrays["covariances"], arrays["precisions_cholesky"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: model metadata is incomplete or invalid ({exc})") from None
    shape = entry.cov_shape(K, D)
    checks = [
        (w.shape == (K,), "weights"),
        (m.shape == (K, D), "means"),
        (cov.shape == shape, "covariances"),
        (pc.shape == shape, "precisions_cholesky"),
    ]
    for ok, name in checks:
        if not ok:
            raise ModelFileError(f"{path}: '{name}' has the wrong shape for K={K}, D={D}")
    for name in ("weights", "means", "covariances", "precisions_cholesky"):
        if arrays[name].dtype.kind != "f" or not np.all(np.isfinite(arrays[name])):
            raise ModelFileError(f"{path}: '{name}' is not a finite float array")
    noise = meta.get("noise") or {}
    try:
        pi0 = float(noise.get("weight", 0.0))
        log_volume = float(noise.get("log_volume", 0.0))
    except (TypeError, ValueError):
        raise ModelFileError(f"{path}: noise metadata is invalid") from None
    if np.any(w < 0) or not 0 <= pi0 < 1 or not np.isclose(w.sum() + pi0, 1.0, atol=1e-6):
        raise ModelFileError(f"{path}: weights are not a probability vector")
    if pi0 > 0 and arrays.get("noise_bounds", np.empty(0)).shape != (2, D):
        raise ModelFileError(f"{path}: noise bounds are missing or have the wrong shape")
    if entry.family == "diag" and np.any(pc <= 0):
        raise ModelFileError(f"{path}: precision factors must be positive")
    est.weights_ = w.astype(np.float64)
    est.means_ = m.astype(np.float64)
    est.covariances_ = cov.astype(np.float64)
    est.precisions_cholesky_ = pc.astype(np.float64)
    est.precisions_ = entry.precisions(est.precisions_cholesky_)
    est.converged_ = bool(meta.get("converged", False))
    est.n_iter_ = int(meta.get("n_iter", 0))
    est.lower_bound_ = float(meta.get("lower_bound", -np.inf))
    est.lower_bounds_ = arrays.get("lower_bounds", np.empty(0)).tolist()
    est.n_features_in_ = D
    if meta.get("feature_names_in"):
        est.feature_names_in_ = np.asarray(meta["feature_names_in"], dtype=object)
    est.fit_metadata_ = meta.get("extra") or {}
    est.noise_weight_ = pi0
    est.noise_log_volume_ = log_volume
    est.noise_volume_ = float(np.exp(log_volume)) if pi0 > 0 else 0.0
    est.noise_bounds_ = arrays.get("noise_bounds") if pi0 > 0 else None
    est.n_reseeded_ = 0
    return est
