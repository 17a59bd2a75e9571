"""Degraded copies of a signal for multi-condition training and for robustness tests.

>>> import numpy as np
>>> from gmmkit_apps.speech.augment import add_noise
>>> y = np.sin(np.arange(8000) / 5.0).astype(np.float32)
>>> noisy = add_noise(y, 10.0, seed=0)
>>> round(float(10 * np.log10(np.mean(y ** 2) / np.mean((noisy - y) ** 2))), 1)
10.0
"""
from __future__ import annotations

import numpy as np

from gmmkit.exceptions import ParameterError

__all__ = ["add_noise", "telephone_band", "conditions", "check_conditions", "CONDITIONS"]

#: Named conditions: clean, white noise at 10 dB SNR, telephone band (300-3400 Hz).
CONDITIONS = ("clean", "noise10", "telephone")


def add_noise(y, snr_db, *, seed=0):
    """``y`` plus white Gaussian noise at ``snr_db`` dB below the signal's mean power."""
    y = np.asarray(y, dtype=np.float64)
    if not np.isfinite(snr_db):
        raise ParameterError(f"snr_db must be finite, got {snr_db!r}")
    power = float(np.mean(y * y))
    noise = np.random.default_rng(seed).normal(size=y.shape)
    noise *= np.sqrt(power / 10 ** (snr_db / 10.0) / np.mean(noise * noise))
    return (y + noise).astype(np.float32)


def telephone_band(y, sr, lo=300.0, hi=3400.0, order=6):
    """``y`` band-limited to ``lo``-``hi`` Hz (a Butterworth band-pass, zero phase), as a
    telephone channel passes it."""
    from scipy.signal import butter, sosfiltfilt

    if not 0 < lo < hi < sr / 2:
        raise ParameterError(f"need 0 < lo < hi < sr/2, got {lo}, {hi} at {sr} Hz")
    sos = butter(order, [lo, hi], btype="bandpass", fs=sr, output="sos")
    y = np.asarray(y, dtype=np.float64)
    pad = min(3 * (2 * len(sos) + 1), max(y.size - 1, 0))  # scipy's default, or less for tiny inputs
    return sosfiltfilt(sos, y, padlen=pad).astype(np.float32)


def check_conditions(names):
    """Refuse (ParameterError) a name that is not ``clean``, ``noiseNN`` or ``telephone``."""
    for c in names:
        if not (c in ("clean", "telephone") or (c.startswith("noise") and c[5:].lstrip("-").isdigit())):
            raise ParameterError(f"unknown condition {c!r}: use clean, noiseNN (SNR in dB) or telephone")
    return list(names)


def conditions(y, sr, names, *, seed=0):
    """One copy of ``y`` per condition name: ``clean``, ``noiseNN`` (white noise at NN dB
    SNR) or ``telephone``."""
    out = []
    for i, c in enumerate(check_conditions(names)):
        if c == "clean":
            out.append(np.asarray(y, dtype=np.float32))
        elif c == "telephone":
            out.append(telephone_band(y, sr))
        else:
            out.append(add_noise(y, float(c[5:]), seed=seed + i))
    return out
