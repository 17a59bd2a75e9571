"""Voice activity detection from frame energies.

:func:`energy_mask` keeps frames within ``threshold_db`` of the loudest ones
(the front end's default; fine on clean recordings, but in steady noise every
noise frame is within 30 dB of the speech). :func:`gmm_mask` is the noise-robust
detector: a two-component Gaussian mixture on the frames' log energies (noise
and speech), a frame being speech when the louder component is the more
probable; it adapts to the noise floor instead of to the peak.

>>> import numpy as np
>>> from gmmkit_apps.speech.vad import gmm_mask
>>> rng = np.random.default_rng(0)
>>> db = np.concatenate([rng.normal(-40, 2, 300), rng.normal(-15, 4, 200)])
>>> m = gmm_mask(db)
>>> int(m[:300].sum()), int(m[300:].sum())
(0, 200)
"""
from __future__ import annotations

import numpy as np

__all__ = ["energy_mask", "gmm_mask", "smooth_mask", "VAD_METHODS"]

VAD_METHODS = ("energy", "gmm")


def smooth_mask(mask, width=5):
    """Majority vote over ``width`` frames (edges repeated): isolated blips are dropped."""
    half = width // 2
    padded = np.pad(np.asarray(mask, dtype=np.int8), half, mode="edge")
    votes = np.convolve(padded, np.ones(width, dtype=np.int8), mode="valid")
    return votes > half


def energy_mask(db, threshold_db=30.0, floor_db=-60.0):
    """Speech where the frame energy ``db`` is within ``threshold_db`` of its 99th percentile
    and above ``floor_db`` dBFS."""
    db = np.asarray(db, dtype=np.float64)
    top = np.percentile(db, 99)
    return (db > top - threshold_db) & (db > floor_db)


def gmm_mask(db, threshold_db=30.0, floor_db=-60.0, n_iter=30):
    """Speech frames by a two-Gaussian fit of the log energies ``db`` (EM in 1-D, started
    from the 10th and 90th percentiles); frames more probably from the louder component
    are speech, also limited by :func:`energy_mask`. When the two components are closer
    than 3 dB (no separable noise floor: all speech, or all noise) the energy rule alone decides."""
    x = np.asarray(db, dtype=np.float64)
    base = energy_mask(x, threshold_db, floor_db)
    if x.size < 10:
        return base
    mu = np.percentile(x, [10.0, 90.0])
    var = np.full(2, max(np.var(x) / 4, 1.0))
    w = np.array([0.5, 0.5])
    for _ in range(n_iter):
        lp = np.log(w) - 0.5 * np.log(2 * np.pi * var) - 0.5 * (x[:, None] - mu) ** 2 / var
        lp -= lp.max(axis=1, keepdims=True)
        r = np.exp(lp)
        r /= r.sum(axis=1, keepdims=True)
        n = r.sum(axis=0) + 1e-9
        w = n / n.sum()
        mu = (r * x[:, None]).sum(axis=0) / n
        var = np.maximum((r * (x[:, None] - mu) ** 2).sum(axis=0) / n, 0.25)
    lo, hi = np.argsort(mu)
    if mu[hi] - mu[lo] < 3.0:
        return base
    lp = np.log(w) - 0.5 * np.log(2 * np.pi * var) - 0.5 * (x[:, None] - mu) ** 2 / var
    return base & (lp[:, hi] > lp[:, lo]) & (x > mu[lo])
