"""Cepstral mean and variance normalisation with a prior: short utterances keep their voice.

Per-utterance CMVN removes each coefficient's mean over the utterance. On a
0.3 s prompt that mean is mostly the speaker's own spectral envelope, so CMVN
throws away what identifies the speaker; on a long call it is mostly the channel,
which should go. The MAP estimate of the utterance's mean and variance with a
conjugate prior centred on the background data's statistics does both: with
``n`` speech frames and a prior worth ``tau`` frames,

    mean = (sum_t x_t + tau * mu_0) / (n + tau)
    var  = (sum_t (x_t - mean)^2 + tau * var_0) / (n + tau)

so an utterance much longer than ``tau`` frames is normalised by its own
statistics (plain CMVN when ``tau = 0``) and a very short one by the background's
(global normalisation as ``tau`` grows). ``mu_0`` and ``var_0`` are measured on
the UBM's training frames before any normalisation and stored in the UBM file.

>>> import numpy as np
>>> from gmmkit_apps.speech.speaker_cmvn import fit_prior
>>> rng = np.random.default_rng(0)
>>> background = [rng.normal(5.0, 2.0, size=(400, 3)) for _ in range(5)]
>>> prior = fit_prior(background, frames=300)
>>> short = prior.apply(rng.normal(6.0, 2.0, size=(20, 3)))  # keeps most of its offset
>>> bool(0.2 < short.mean() < 0.6)
True
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gmmkit.exceptions import DataError, ModelFileError, ParameterError

__all__ = ["CmvnPrior", "fit_prior", "prior_of", "looks_normalised", "META_KEY"]

#: Where a UBM's ``fit_metadata_`` keeps the prior.
META_KEY = "speech_cmvn_prior"


@dataclass(frozen=True)
class CmvnPrior:
    """Background mean and variance of un-normalised frames, worth ``frames`` frames."""

    frames: float
    mean: np.ndarray
    var: np.ndarray

    def apply(self, F):
        """Frames ``F`` (un-normalised, as the front end makes them with ``cmvn=False``)
        normalised by the MAP mean and variance; float32."""
        F = np.asarray(F, dtype=np.float64)
        if F.ndim != 2 or F.shape[1] != self.mean.size:
            raise DataError(f"frames of shape {F.shape}: the CMVN prior expects {self.mean.size} features")
        n, tau = F.shape[0], float(self.frames)
        mu = (F.sum(axis=0) + tau * self.mean) / (n + tau)
        var = (((F - mu) ** 2).sum(axis=0) + tau * self.var) / (n + tau)
        return ((F - mu) / np.sqrt(np.maximum(var, 1e-16))).astype(np.float32)

    def to_dict(self):
        return {"frames": float(self.frames), "mean": self.mean.tolist(), "var": self.var.tolist()}

    @classmethod
    def from_dict(cls, d):
        return cls(float(d["frames"]), np.asarray(d["mean"], dtype=np.float64), np.asarray(d["var"], dtype=np.float64))


def fit_prior(utterances, *, frames=300.0):
    """A :class:`CmvnPrior` worth ``frames`` frames (300 = 3 s of speech) from background
    utterances' un-normalised frames (a list of arrays): their pooled mean and variance."""
    if not (np.isfinite(frames) and frames > 0):
        raise ParameterError(f"CMVN prior weight {frames!r}: a positive number of frames")
    utterances = [np.asarray(u, dtype=np.float64) for u in utterances]
    if not utterances or any(u.ndim != 2 for u in utterances):
        raise DataError("CMVN prior: need background frames (a list of 2-D arrays)")
    if any(looks_normalised(u) for u in utterances):
        raise DataError("CMVN prior: background frames are already mean/variance-normalised "
                        "(make them without CMVN: 'speech features --no-cmvn')")
    X = np.concatenate(utterances)
    var = X.var(axis=0)
    if np.any(var < 1e-6):
        raise DataError("CMVN prior: a feature is constant in the background frames")
    return CmvnPrior(float(frames), X.mean(axis=0), var)


def prior_of(ubm, path="UBM"):
    """The :class:`CmvnPrior` stored with ``ubm`` (None when it has none)."""
    d = (getattr(ubm, "fit_metadata_", None) or {}).get(META_KEY)
    if d is None:
        return None
    try:
        prior = CmvnPrior.from_dict(d)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: unreadable CMVN prior ({exc})") from None
    D = ubm.means_.shape[1]
    if prior.mean.shape != (D,) or prior.var.shape != (D,) or not np.all(prior.var > 0) or prior.frames <= 0:
        raise ModelFileError(f"{path}: CMVN prior does not match the UBM's {D} features")
    return prior


def looks_normalised(F):
    """True when every feature of ``F`` has mean 0 and standard deviation 1 (CMVN already done)."""
    F = np.asarray(F, dtype=np.float64)
    return F.shape[0] > 1 and bool(np.all(np.abs(F.mean(axis=0)) < 1e-3) and np.all(np.abs(F.std(axis=0) - 1) < 1e-2))
