"""Linear-frequency cepstral coefficients (LFCC): the MFCC front end with linearly spaced filters.

The mel scale spends few filters above 1 kHz, where a speaker's vocal-tract length and
nasal resonances show; triangular filters spaced evenly in Hz keep that detail, so LFCC
systems complement MFCC ones in speaker-recognition fusions (Zhou et al., 2011). LFCCs are
the MFCC front end's own output with ``FrontEnd(filterbank="linear")``
(:func:`gmmkit_apps.speech.features.mfcc_frames`): the window and hop, the 80 dB floor on the
log filter energies, a type-II orthonormal DCT, deltas, the voice activity detector and the
per-utterance normalisation are shared; ``n_mels`` sets the number of filters. Models trained
on such frames store the front end, so every command scores them with LFCCs.

>>> import numpy as np
>>> from gmmkit_apps.speech.lfcc import lfcc_frames
>>> t = np.arange(8000) / 8000.0
>>> y = (np.sin(2 * np.pi * 220 * t) * np.hanning(8000)).astype(np.float32)
>>> lfcc_frames(y, sr=8000, vad=False).shape
(101, 60)
"""
from __future__ import annotations

from dataclasses import replace

from .features import FrontEnd, linear_filterbank, mfcc_frames

__all__ = ["linear_filterbank", "lfcc_frames"]


def lfcc_frames(y, *, sr=8000, front_end=None, vad=None, source="<audio>"):
    """LFCC (+deltas) frames of a signal: :func:`~gmmkit_apps.speech.features.mfcc_frames` with
    ``front_end`` (default ``FrontEnd(sr=sr)``) set to the linear filter bank. Returns
    (n_frames, front_end.dim) float32."""
    fe = replace(front_end or FrontEnd(sr=sr), filterbank="linear")
    return mfcc_frames(y, front_end=fe, vad=vad, source=source)
