"""Detector files: what :meth:`GMMOutlierDetector.save` writes and how it is read back,
and plain :class:`gmmkit.GaussianMixture` files wrapped as detectors.

A detector file is a gmmkit model file (:mod:`gmmkit.io`: npz + JSON, never a
pickle) holding the robust scaling, the feature kinds, the Gaussian part, the
weights, and the categorical parts flattened (``levels`` and ``cat_logp`` with
their lengths). Everything is checked (shapes, finiteness, probabilities) before a
detector is built.
"""
from __future__ import annotations

import numpy as np

from gmmkit.exceptions import GMMKitError, ModelFileError

from .detector import KIND, GMMOutlierDetector
from .features import CONSTANT, CONTINUOUS, DISCRETE

_KIND_CODES = (CONSTANT, CONTINUOUS, DISCRETE)


def save_detector(det, path, *, overwrite=True):
    """Write a fitted detector (robust scaling, mixture, categorical parts, threshold)."""
    from gmmkit.io import save_arrays

    params = {k: v for k, v in det.get_params(deep=False).items()
              if k != "random_state" or isinstance(v, (int, type(None)))}
    names = getattr(det, "feature_names_in_", None)
    gm = det.mixture_
    meta = {
        "kind": KIND, "params": params, "offset": float(det.offset_),
        "covariance_type": gm.covariance_type if gm is not None else None,
        "n_components": det.n_components_, "n_features_in": int(det.n_features_in_),
        "feature_names_in": [str(n) for n in names] if names is not None else None,
        "n_kept": int(det.n_kept_), "dropped_components": int(det.dropped_components_),
        "reg_covar": float(gm.reg_covar) if gm is not None else float(det.reg_covar),
    }
    arrays = {
        "center": det.center_, "scale": det.scale_, "weights": det.weights_,
        "kinds": np.array([_KIND_CODES.index(k) for k in det.kinds_], dtype=np.uint8),
        "levels": np.concatenate(det.levels_) if det.levels_ else np.zeros(0),
        "level_counts": np.array([lv.size for lv in det.levels_], dtype=np.int64),
        "cat_logp": (np.concatenate([t.ravel() for t in det.cat_logp_]) if det.cat_logp_
                     else np.zeros(0)),
    }
    if gm is not None:
        arrays.update(means=gm.means_, covariances=gm.covariances_)
    save_arrays(path, arrays, meta, overwrite=overwrite)


def _fail(path, what):
    raise ModelFileError(f"{path}: outlier model {what}")


def load_detector(path):
    """Read a detector written by :func:`save_detector`; ModelFileError for anything else."""
    from gmmkit import GaussianMixture
    from gmmkit.io import load_arrays

    arrays, meta = load_arrays(path, kind=KIND)
    try:
        det = GMMOutlierDetector(**dict(meta["params"]))
        K, D = int(meta["n_components"]), int(meta["n_features_in"])
        offset, reg_covar = float(meta["offset"]), float(meta["reg_covar"])
        cov_type = meta["covariance_type"]
        kinds = np.array([_KIND_CODES[int(c)] for c in arrays["kinds"]], dtype=object)
        counts = arrays["level_counts"].astype(np.int64)
        weights = arrays["weights"].astype(np.float64)
        levels_flat, cat_flat = arrays["levels"].astype(np.float64), arrays["cat_logp"].astype(np.float64)
        names = meta.get("feature_names_in")
    except (KeyError, TypeError, ValueError, IndexError, GMMKitError) as exc:
        _fail(path, f"metadata is incomplete or invalid ({exc})")
    for name, arr in arrays.items():
        if arr.dtype.kind not in "fiu" or not np.all(np.isfinite(arr.astype(np.float64))):
            _fail(path, f"array '{name}' is not finite numbers")
    n_disc, n_cont = int((kinds == DISCRETE).sum()), int((kinds == CONTINUOUS).sum())
    if (kinds.shape != (D,) or arrays["center"].shape != (D,) or arrays["scale"].shape != (D,)
            or weights.shape != (K,) or counts.shape != (n_disc,) or (counts < 1).any()
            or levels_flat.shape != (int(counts.sum()),)
            or cat_flat.shape != (int(K * (counts + 1).sum()),) or n_disc + n_cont == 0
            or (names is not None and len(names) != D)):
        _fail(path, "arrays have inconsistent shapes")
    det.center_, det.scale_ = arrays["center"].astype(np.float64), arrays["scale"].astype(np.float64)
    det.kinds_, det.used_features_ = kinds, kinds != CONSTANT
    det.levels_ = list(np.split(levels_flat, np.cumsum(counts)[:-1])) if n_disc else []
    tables = np.split(cat_flat, np.cumsum(K * (counts + 1))[:-1]) if n_disc else []
    det.cat_logp_ = [t.reshape(K, c + 1) for t, c in zip(tables, counts)]
    if any(not np.allclose(np.exp(t).sum(axis=1), 1.0) for t in det.cat_logp_):
        _fail(path, "categorical probabilities do not sum to 1")
    det.weights_ = weights
    det.mixture_ = None
    if n_cont:
        try:
            det.mixture_ = GaussianMixture.from_parameters(
                weights, arrays["means"].astype(np.float64), arrays["covariances"].astype(np.float64),
                covariance_type=cov_type, reg_covar=reg_covar)
        except (GMMKitError, ValueError, KeyError) as exc:
            _fail(path, f"holds an invalid mixture ({' '.join(str(exc).split())})")
        if det.mixture_.means_.shape != (K, n_cont):
            _fail(path, "arrays have inconsistent shapes")
    det.offset_, det.n_features_in_ = offset, D
    if names:
        det.feature_names_in_ = np.asarray(names, dtype=object)
    det.n_kept_ = int(meta.get("n_kept", 0))
    det.dropped_components_ = int(meta.get("dropped_components", 0))
    return det


def from_mixture(gm, *, offset=None, feature_names=None):
    """Wrap a plain fitted :class:`gmmkit.GaussianMixture` (no scaling) as a detector.

    ``offset`` (log-density threshold) can be set later from data with
    :meth:`GMMOutlierDetector.calibrate`; ``feature_names`` default to the
    mixture's own (``feature_names_in_``), if any. ``gm`` is not modified.
    """
    import copy

    D = int(gm.n_features_in_)
    det = GMMOutlierDetector(n_components=int(gm.n_components),
                             covariance_type={"diag": "diag"}.get(gm.covariance_type, "full"))
    names = getattr(gm, "feature_names_in_", None)
    if names is not None:  # the detector checks names; its mixture sees arrays
        gm = copy.deepcopy(gm)
        del gm.feature_names_in_
    det.mixture_ = gm
    det.weights_ = np.asarray(gm.weights_, dtype=np.float64)
    det.cat_logp_, det.levels_ = [], []
    det.kinds_ = np.array([CONTINUOUS] * D, dtype=object)
    det.used_features_ = np.ones(D, dtype=bool)
    det.center_, det.scale_ = np.zeros(D), np.ones(D)
    det.n_features_in_ = D
    names = names if feature_names is None else feature_names
    if names is not None:
        det.use_feature_names(names)
    det.offset_ = np.nan if offset is None else float(offset)
    det.n_kept_ = 0
    det.dropped_components_ = 0
    return det


def load_model(path):
    """A detector from a file: one saved by :meth:`GMMOutlierDetector.save`, or a plain
    :class:`gmmkit.GaussianMixture` model file (wrapped by :func:`from_mixture`, not yet
    calibrated: see :meth:`GMMOutlierDetector.calibrate`)."""
    import gmmkit
    from gmmkit.io import load_arrays

    _, meta = load_arrays(path)
    kind = meta.get("kind")
    if kind == KIND:
        return load_detector(path)
    if kind == "GaussianMixture":
        return from_mixture(gmmkit.load(path))
    raise ModelFileError(f"{path} holds a {kind!r}, not an outlier detector or GaussianMixture")
