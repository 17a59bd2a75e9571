"""Channel-robust feature normalisation: feature warping and RASTA filtering.

- :func:`feature_warp` (Pelecanos and Sridharan, 2001): every coefficient is
  mapped, over a sliding window (3 s by default), through its rank to the
  standard normal quantile; an utterance shorter than the window is warped as a
  whole (short-time Gaussianisation). Additive noise and a channel bend the
  cepstral distribution; warping makes it N(0, 1) again. Used in place of CMVN.
- :func:`spectral_subtraction` (Boll, 1979; Berouti et al., 1979): the noise power spectrum,
  estimated as the mean of the quietest 10% of frames, is subtracted ``alpha`` times from every
  frame's power spectrum, which keeps at least ``floor`` of its own power. For steady noise.
- :func:`rasta` (Hermansky and Morgan, 1994): a band-pass IIR filter along time
  on each cepstral trajectory, removing slowly varying channel components (and
  very fast changes); ``H(z) = 0.1 (2 + z^-1 - z^-3 - 2 z^-4) / (1 - 0.98 z^-1)``.

>>> import numpy as np
>>> from gmmkit_apps.speech.robust import feature_warp
>>> x = np.exp(np.random.default_rng(0).normal(size=(500, 2)))  # skewed
>>> w = feature_warp(x, window=301)
>>> bool(abs(np.median(w)) < 0.1 and 0.8 < w.std() < 1.1)
True
"""
from __future__ import annotations

import numpy as np

__all__ = ["feature_warp", "rasta", "spectral_subtraction", "RASTA_B", "RASTA_A"]

RASTA_B = 0.1 * np.array([2.0, 1.0, 0.0, -1.0, -2.0])
RASTA_A = np.array([1.0, -0.98])


def _gauss(rank, n):
    from scipy.special import ndtri

    return ndtri((rank + 0.5) / n)


def feature_warp(frames, window=301):
    """Warp each column of ``frames`` (T, D) to a standard normal over ``window`` frames.

    Frame t is ranked among the ``window`` frames centred on it (the window is
    clamped at the ends of the utterance; ties count half); rank r maps to
    ``Phi^-1((r + 0.5) / N)``. With ``T <= window`` the whole utterance is the window.
    Returns float32 (T, D).
    """
    X = np.asarray(frames, dtype=np.float64)
    T = X.shape[0]
    N = int(min(window, T))
    if N <= 1:
        return np.zeros(X.shape, dtype=np.float32)
    if N == T:  # one window: ranks by sorting (ties share the mean rank)
        from scipy.stats import rankdata

        r = rankdata(X, axis=0) - 1.0
        return _gauss(r, N).astype(np.float32)
    out = np.empty(X.shape)
    half = N // 2
    for t in range(T):
        s = min(max(t - half, 0), T - N)
        w = X[s:s + N]
        r = (w < X[t]).sum(axis=0) + 0.5 * ((w == X[t]).sum(axis=0) - 1)
        out[t] = r
    return _gauss(out, N).astype(np.float32)


def rasta(cepstra, axis=-1):
    """RASTA band-pass filter along ``axis`` (time) of cepstral (or log-spectral) trajectories.

    The filter starts from the first frame's steady state (no start-up transient
    from zero).
    """
    from scipy.signal import lfilter, lfilter_zi

    c = np.asarray(cepstra, dtype=np.float64)
    c = np.moveaxis(c, axis, -1)
    zi = lfilter_zi(RASTA_B, RASTA_A)
    y = lfilter(RASTA_B, RASTA_A, c, axis=-1, zi=zi * c[..., :1])[0]
    return np.moveaxis(y, -1, axis)


def spectral_subtraction(power, alpha=2.0, floor=0.02, quiet=0.1):
    """Power spectra ``power`` (frames, bins) with the steady noise removed: the noise estimate
    is the mean spectrum of the ``quiet`` fraction of frames with least energy; each frame keeps
    ``max(P - alpha * noise, floor * P)``."""
    P = np.asarray(power)
    n = max(1, int(round(quiet * P.shape[0])))
    idx = np.argpartition(P.sum(axis=1), n - 1)[:n]
    noise = P[idx].mean(axis=0)
    return np.maximum(P - alpha * noise, floor * P)
