"""Linear-frequency cepstral coefficients (LFCC): the MFCC front end with linearly spaced filters.

The mel scale spends few filters above 1 kHz, where a speaker's vocal-tract length and
nasal resonances show; triangular filters spaced evenly in Hz keep that detail, so LFCC
systems complement MFCC ones in speaker-recognition fusions (Zhou et al., 2011). Everything
else is the MFCC front end's (:func:`gmmkit_apps.speech.features.mfcc_frames`): the window and
hop, the 80 dB floor on the log filter energies, a type-II orthonormal DCT, deltas,
the energy voice activity detector and the per-utterance normalisation, all set by one
:class:`~gmmkit_apps.speech.features.FrontEnd` (``n_mfcc`` cepstra, ``n_mels`` filters).

>>> import numpy as np
>>> from gmmkit_apps.speech.lfcc import lfcc_frames
>>> t = np.arange(8000) / 8000.0
>>> y = (np.sin(2 * np.pi * 220 * t) * np.hanning(8000)).astype(np.float32)
>>> lfcc_frames(y, sr=8000, vad=False).shape
(101, 60)
"""
from __future__ import annotations

import functools

import numpy as np

from gmmkit.exceptions import DataError, ParameterError

__all__ = ["linear_filterbank", "lfcc_frames"]


@functools.lru_cache(maxsize=8)
def linear_filterbank(sr, n_fft, n_filters, fmin=0.0, fmax=None):
    """Triangular filters with edges evenly spaced in Hz from ``fmin`` to ``fmax`` (default
    ``sr / 2``), each peaking at 1 on its centre; shape (n_filters, n_fft // 2 + 1), float32."""
    fmax = sr / 2.0 if fmax is None else float(fmax)
    if not 0.0 <= fmin < fmax <= sr / 2.0 or n_filters < 1:
        raise DataError(f"linear filter bank: need 0 <= fmin < fmax <= {sr / 2:g} Hz and a filter, "
                        f"got {fmin:g}-{fmax:g} Hz, {n_filters} filters")
    fft_hz = np.arange(n_fft // 2 + 1) * sr / n_fft
    edges = np.linspace(fmin, fmax, n_filters + 2)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    w = np.minimum((fft_hz - lo) / (mid - lo), (hi - fft_hz) / (hi - mid))
    return np.maximum(w, 0.0).astype(np.float32)


def lfcc_frames(y, *, sr=8000, front_end=None, vad=None, source="<audio>"):
    """LFCC (+deltas) frames of a signal, one row per hop; as
    :func:`~gmmkit_apps.speech.features.mfcc_frames` with a linear filter bank of
    ``front_end.n_mels`` filters. Returns (n_frames, front_end.dim) float32."""
    from scipy.fft import dct, rfft

    from .features import FrontEnd, _delta, _frames, _window, energy_vad, normalise

    fe = front_end or FrontEnd(sr=sr)
    if fe.rasta or fe.denoise:
        raise ParameterError("lfcc_frames: RASTA and spectral subtraction are MFCC-only options")
    use_vad = fe.vad if vad is None else vad
    n_fft = 1 << (fe.win - 1).bit_length()
    y = np.asarray(y, dtype=np.float32)
    if y.size < fe.win:
        raise DataError(f"{source}: audio too short ({y.size} samples, need {fe.win})")
    yd = y + np.random.default_rng(0).normal(0.0, 1e-5, size=y.shape).astype(np.float32)
    spec = np.abs(rfft(_frames(yd, n_fft, fe.hop) * _window(fe.win, n_fft).astype(np.float32), axis=1)) ** 2
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):  # a small product: one thread is faster on a busy machine
        energy = spec @ linear_filterbank(fe.sr, n_fft, fe.n_mels).T.astype(np.float64)
    db = 10.0 * np.log10(np.maximum(energy, 1e-10))
    db = np.maximum(db, db.max() - 80.0)
    c = dct(db, type=2, norm="ortho", axis=1)[:, : fe.n_mfcc].T  # (n_ceps, frames)
    feats = [c]
    if fe.deltas:
        width = min(9, c.shape[1] if c.shape[1] % 2 else c.shape[1] - 1)
        if width < 3:
            raise DataError(f"{source}: audio too short for delta features")
        feats += [_delta(c, width, 1), _delta(c, width, 2)]
    F = np.vstack(feats).T
    if use_vad:
        F = F[energy_vad(y, sr=fe.sr, hop=fe.hop, win=fe.win, threshold_db=fe.vad_db,
                         method=fe.vad_method)[: F.shape[0]]]
    if F.shape[0] < int(fe.min_speech_frames):
        raise DataError(f"{source}: too little speech after voice activity detection "
                        f"({F.shape[0]} frames, need {int(fe.min_speech_frames)})")
    return normalise(F, fe)
