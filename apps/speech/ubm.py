"""GMM-UBM speaker recognition (Reynolds, Quatieri and Dunn, 2000).

A universal background model (UBM), a diagonal-covariance
:class:`gmmkit.GaussianMixture`, is trained on many speakers' frames. Each
enrolled speaker's model is the UBM with its means (optionally weights and
variances) moved towards that speaker's data by MAP adaptation with relevance
factor ``r``: a component seen in ``n_k`` frames moves by ``n_k / (n_k + r)``.
A test utterance scores the average per-frame log-likelihood ratio between the
speaker model and the UBM, both evaluated only on the C UBM components that
score highest for that frame (top-C fast scoring; the adapted components stay
aligned with the UBM's).

>>> import numpy as np
>>> from gmmkit_apps.speech.ubm import train_ubm, map_adapt, score_frames
>>> rng = np.random.default_rng(0)
>>> bg = [rng.normal(size=(400, 4)) + c for c in (-2.0, 0.0, 2.0)]
>>> ubm = train_ubm(bg, n_components=4, random_state=0)
>>> alice = map_adapt(ubm, rng.normal(size=(300, 4)) + 2.0, name="alice")
>>> bob = map_adapt(ubm, rng.normal(size=(300, 4)) - 2.0, name="bob")
>>> s = score_frames(ubm, [alice, bob], rng.normal(size=(200, 4)) + 2.0)
>>> bool(s[0] > s[1])
True
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field

import numpy as np

from gmmkit.exceptions import DataError, ModelFileError, ParameterError

__all__ = ["SpeakerModel", "SpeakerStack", "stack_speakers", "train_ubm", "map_adapt", "score_frames",
           "ubm_fingerprint", "save_speaker", "load_speaker", "SPEAKER_KIND"]

SPEAKER_KIND = "gmmkit-speech-speaker"
_LOG_2PI = float(np.log(2 * np.pi))
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass
class SpeakerModel:
    """A MAP-adapted speaker GMM: diagonal Gaussians aligned with the UBM's components."""

    name: str
    weights: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    ubm_fingerprint: str
    n_frames: int = 0
    relevance: float = 16.0
    adapt: str = "m"
    meta: dict = field(default_factory=dict)


def _check_name(name):
    if not isinstance(name, str) or not _NAME.match(name):
        raise ParameterError(f"speaker name {name!r} must be 1-100 letters, digits, '.', '_' "
                             "or '-', starting with a letter or digit")
    return name


def ubm_fingerprint(ubm):
    """Short hash of the UBM's parameters: speaker models record the UBM they were adapted from."""
    h = hashlib.sha256()
    for a in (ubm.weights_, ubm.means_, ubm.covariances_):
        h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


def _stack(frames, what="frames"):
    if isinstance(frames, np.ndarray):
        frames = [frames]
    frames = [np.asarray(f, dtype=np.float64) for f in frames]
    if not frames or any(f.ndim != 2 for f in frames):
        raise DataError(f"{what}: expected a non-empty list of 2-D frame arrays")
    D = frames[0].shape[1]
    if any(f.shape[1] != D for f in frames):
        raise DataError(f"{what}: frame arrays have different feature dimensions")
    X = np.concatenate(frames)
    if X.shape[0] == 0:
        raise DataError(f"{what}: no frames")
    if not np.all(np.isfinite(X)):
        raise DataError(f"{what}: frames hold NaN or infinite values")
    return X


def train_ubm(frames, n_components=64, *, max_iter=100, tol=1e-3, reg_covar=1e-3, n_init=1,
              random_state=None, callback=None, max_frames=None):
    """Fit the universal background model: a diagonal GaussianMixture on pooled frames.

    Parameters
    ----------
    frames : list of ndarray (n_frames_i, D) or one ndarray
        Background speakers' feature frames.
    n_components : int
        Mixture size (64-512 is usual for speaker recognition).
    max_frames : int, optional
        Train on a random subset of at most this many frames.
    reg_covar : float
        Variance floor added to every diagonal variance (features are CMVN-normalised).

    Returns
    -------
    gmmkit.GaussianMixture
    """
    from gmmkit import GaussianMixture

    if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ParameterError(f"max_iter={max_iter!r}: at least 1 EM iteration")
    X = _stack(frames, "UBM training data")
    if max_frames is not None and X.shape[0] > max_frames:
        rng = np.random.default_rng(random_state)
        X = X[np.sort(rng.choice(X.shape[0], size=int(max_frames), replace=False))]
    if X.shape[0] < 2 * n_components:
        raise DataError(f"UBM training data: {X.shape[0]} frames is too few for "
                        f"{n_components} components (need at least {2 * n_components})")
    ubm = GaussianMixture(n_components, covariance_type="diag", max_iter=max_iter, tol=tol,
                          reg_covar=reg_covar, n_init=n_init, init_params="k-means++",
                          random_state=random_state, callback=callback)
    return ubm.fit(X.astype(np.float32))


def map_adapt(ubm, frames, *, name="speaker", relevance=16.0, adapt="m", var_floor=1e-3):
    """MAP-adapt the UBM to one speaker's frames.

    Parameters
    ----------
    ubm : gmmkit.GaussianMixture
        Fitted diagonal UBM.
    frames : ndarray or list of ndarray
        The speaker's enrolment frames.
    relevance : float
        Relevance factor r (16 in Reynolds et al.).
    adapt : str
        Which parameters to adapt: any of 'm' (means), 'w' (weights), 'v' (variances).

    Returns
    -------
    SpeakerModel
    """
    _check_name(name)
    if ubm.covariance_type != "diag":
        raise ParameterError("the UBM must have covariance_type='diag'")
    if not adapt or set(adapt) - set("mwv"):
        raise ParameterError(f"adapt={adapt!r}: use a combination of 'm', 'w', 'v'")
    if not relevance > 0:
        raise ParameterError("relevance factor must be positive")
    X = _stack(frames, f"enrolment data of {name}")
    if X.shape[1] != ubm.n_features_in_:
        raise DataError(f"enrolment data of {name}: {X.shape[1]} features, "
                        f"the UBM expects {ubm.n_features_in_}")
    # responsibilities in float32 (the UBM was fitted in float32); statistics in float64
    resp = ubm.predict_proba(X.astype(np.float32)).astype(np.float64)
    n = resp.sum(axis=0)
    safe = np.maximum(n, 1e-10)[:, None]
    ex = resp.T @ X / safe
    alpha = (n / (n + relevance))[:, None]
    w0, mu0, var0 = ubm.weights_, ubm.means_, ubm.covariances_
    mu = alpha * ex + (1 - alpha) * mu0 if "m" in adapt else mu0.copy()
    if "w" in adapt:
        a = alpha[:, 0]
        w = a * n / X.shape[0] + (1 - a) * w0
        w = w / w.sum()
    else:
        w = w0.copy()
    if "v" in adapt:
        ex2 = resp.T @ (X * X) / safe
        var = alpha * ex2 + (1 - alpha) * (var0 + mu0 ** 2) - mu ** 2
        var = np.maximum(var, var_floor)
    else:
        var = var0.copy()
    return SpeakerModel(name=name, weights=w, means=mu, variances=var,
                        ubm_fingerprint=ubm_fingerprint(ubm), n_frames=int(X.shape[0]),
                        relevance=float(relevance), adapt="".join(sorted(set(adapt))))


@dataclass
class SpeakerStack:
    """Speaker models stacked for scoring (:func:`stack_speakers`): log weights (S, K), means
    (S, K, D), precision factors 1/sigma (S, K, D) and log-normalisers (S, K)."""

    names: list
    logw: np.ndarray
    means: np.ndarray
    prec: np.ndarray
    logdet: np.ndarray
    ubm_fingerprint: str

    def __len__(self):
        return len(self.names)


def stack_speakers(ubm, speakers):
    """Check that ``speakers`` were adapted from ``ubm`` and stack their parameters once, for
    scoring many utterances (:func:`score_frames` accepts the result in place of the list)."""
    if isinstance(speakers, SpeakerStack):
        if speakers.ubm_fingerprint != ubm_fingerprint(ubm):
            raise ModelFileError("the stacked speaker models were adapted from a different UBM")
        return speakers
    if not speakers:
        raise ParameterError("no speaker models to score against")
    fp = ubm_fingerprint(ubm)
    for s in speakers:
        if s.ubm_fingerprint != fp:
            raise ModelFileError(f"speaker model {s.name!r} was adapted from a different UBM")
    D = ubm.means_.shape[1]
    logw = np.ascontiguousarray(np.stack([np.log(s.weights) for s in speakers]), dtype=np.float64)
    means = np.ascontiguousarray(np.stack([s.means for s in speakers]), dtype=np.float64)
    # gmmkit's diagonal precision factors 1 / sigma, and log|U_k| - D/2 log(2 pi)
    prec = np.ascontiguousarray(1.0 / np.sqrt(np.stack([s.variances for s in speakers])), dtype=np.float64)
    logdet = np.ascontiguousarray(np.log(prec).sum(axis=2) - 0.5 * D * _LOG_2PI)
    return SpeakerStack([s.name for s in speakers], logw, means, prec, logdet, fp)


def score_frames(ubm, speakers, frames, *, top_c=5):
    """Average per-frame log-likelihood ratio of each speaker model against the UBM.

    Parameters
    ----------
    ubm : gmmkit.GaussianMixture
    speakers : list of SpeakerModel, or SpeakerStack
        Models adapted from this UBM (stacked once by :func:`stack_speakers` when many
        utterances are scored).
    frames : ndarray (T, D)
        One utterance's feature frames.
    top_c : int
        Components per frame scored (chosen by the UBM); ``top_c >= K`` scores all.

    Returns
    -------
    ndarray of shape (len(speakers),)
    """
    from gmmkit.kernels import log_densities

    from ._kernels import topc_llr_sums, topc_llr_sums_parallel

    X = _stack(frames, "test utterance")
    K, D = ubm.means_.shape
    if X.shape[1] != D:
        raise DataError(f"test utterance: {X.shape[1]} features, the UBM expects {D}")
    st = stack_speakers(ubm, speakers)
    if not isinstance(top_c, (int, np.integer)) or top_c < 1:
        raise ParameterError(f"top_c={top_c!r} must be a positive integer")
    C = int(min(top_c, K))
    ll = log_densities(ubm, X)  # (T, K) log w_k + log N(x | k), float64
    if C < K:
        top = np.argpartition(ll, K - C, axis=1)[:, K - C:]
    else:
        top = np.broadcast_to(np.arange(K), ll.shape)
    top = np.ascontiguousarray(top, dtype=np.int64)
    sel = np.take_along_axis(ll, top, axis=1)
    mx = sel.max(axis=1)
    ubm_ll = mx + np.log(np.exp(sel - mx[:, None]).sum(axis=1))
    # threads pay off only with enough work (and at least two speakers to share out)
    kernel = topc_llr_sums_parallel if len(st) > 1 and X.shape[0] * len(st) * C * D > 5e7 else topc_llr_sums
    sums = kernel(np.ascontiguousarray(X), top, np.ascontiguousarray(ubm_ll), st.logw, st.means, st.prec,
                  st.logdet)
    return sums / X.shape[0]


def save_speaker(model, path, *, overwrite=True, front_end=None):
    """Write a speaker model file (non-pickle .npz, see :func:`gmmkit.io.save_arrays`)."""
    from gmmkit.io import save_arrays

    meta = {"kind": SPEAKER_KIND, "name": model.name, "ubm_fingerprint": model.ubm_fingerprint,
            "n_frames": model.n_frames, "relevance": model.relevance, "adapt": model.adapt,
            "front_end": front_end, **{k: v for k, v in model.meta.items() if k != "kind"}}
    save_arrays(path, {"weights": model.weights, "means": model.means,
                       "variances": model.variances}, meta, overwrite=overwrite)


def load_speaker(path):
    """Read a speaker model file; raises ModelFileError if it is not one or is damaged."""
    from gmmkit.io import load_arrays

    arrays, meta = load_arrays(path, kind=SPEAKER_KIND)
    try:
        w, m, v = arrays["weights"], arrays["means"], arrays["variances"]
        name = str(meta["name"])
        fp = str(meta["ubm_fingerprint"])
    except KeyError as exc:
        raise ModelFileError(f"{path}: speaker model lacks {exc}") from None
    K = w.shape[0] if w.ndim == 1 else -1
    if K < 1 or m.ndim != 2 or m.shape[0] != K or v.shape != m.shape:
        raise ModelFileError(f"{path}: speaker model arrays have inconsistent shapes")
    if not (np.all(np.isfinite(m)) and np.all(v > 0) and np.all(w > 0)):
        raise ModelFileError(f"{path}: speaker model holds invalid values")
    return SpeakerModel(name=name, weights=w.astype(np.float64), means=m.astype(np.float64),
                        variances=v.astype(np.float64), ubm_fingerprint=fp,
                        n_frames=int(meta.get("n_frames", 0)),
                        relevance=float(meta.get("relevance", 16.0)),
                        adapt=str(meta.get("adapt", "m")),
                        meta={"front_end": meta.get("front_end"), "path": os.fspath(path)})
