"""Linear-frequency cepstra (gmmkit_apps.speech.lfcc, and the front end's ``filterbank="linear"``):
the filter bank against a slow textbook twin, the cepstra against librosa's STFT and DCT fed that
filter bank, and the MFCC front end's voice activity detection and deltas."""
import os
from dataclasses import replace

import numpy as np
import pytest

from gmmkit.exceptions import DataError, ParameterError
from gmmkit_apps.speech.features import FrontEnd, load_audio, mfcc_frames
from gmmkit_apps.speech.lfcc import lfcc_frames, linear_filterbank

SR = 8000
SPEAKERS = os.path.join(os.path.dirname(__file__), "..", "..", "datasets", "speech", "speakers")


def _slow_filterbank(sr, n_fft, n_filters, fmin, fmax):
    """Textbook: filter j rises linearly from edge j to 1 at edge j+1 and falls to 0 at edge j+2."""
    step = (fmax - fmin) / (n_filters + 1)
    out = np.zeros((n_filters, n_fft // 2 + 1))
    for j in range(n_filters):
        lo, mid, hi = fmin + j * step, fmin + (j + 1) * step, fmin + (j + 2) * step
        for k in range(n_fft // 2 + 1):
            f = k * sr / n_fft
            if lo <= f <= mid:
                out[j, k] = (f - lo) / (mid - lo)
            elif mid < f <= hi:
                out[j, k] = (hi - f) / (hi - mid)
    return out


@pytest.mark.parametrize("n_filters,fmin,fmax", [(40, 0.0, 4000.0), (24, 300.0, 3400.0)])
def test_linear_filterbank_matches_textbook(n_filters, fmin, fmax):
    got = linear_filterbank(SR, 256, n_filters, fmin, fmax)
    np.testing.assert_allclose(got, _slow_filterbank(SR, 256, n_filters, fmin, fmax), atol=1e-6)


def _lfcc(y, fe):
    return lfcc_frames(y, front_end=fe)


def _front_end_lfcc(y, fe):
    return mfcc_frames(y, front_end=replace(fe, filterbank="linear"))


@pytest.mark.parametrize("lfcc", [_lfcc, _front_end_lfcc], ids=["lfcc_frames", "FrontEnd(filterbank=linear)"])
def test_lfcc_matches_librosa_with_a_linear_filterbank(lfcc):
    import librosa

    y = load_audio(os.path.join(SPEAKERS, "menardi", sorted(os.listdir(os.path.join(SPEAKERS, "menardi")))[0]))
    yd = y + np.random.default_rng(0).normal(0.0, 1e-5, size=y.shape).astype(np.float32)  # the same dither
    power = np.abs(librosa.stft(yd, n_fft=256, win_length=200, hop_length=80)) ** 2
    energy = _slow_filterbank(SR, 256, 40, 0.0, SR / 2) @ power
    ref = librosa.feature.mfcc(S=librosa.power_to_db(energy, top_db=80.0), n_mfcc=20)
    got = lfcc(y, FrontEnd(vad=False, cmvn=False)).T
    np.testing.assert_allclose(got[:20], ref, atol=1e-3 * np.abs(ref).max())
    np.testing.assert_allclose(got[20:40], librosa.feature.delta(ref, width=9, order=1), atol=1e-2)
    # voice activity detection keeps the frames the MFCC front end keeps; CMVN normalises them
    fe = FrontEnd()
    kept = lfcc(y, fe)
    assert kept.shape[0] == mfcc_frames(y, front_end=fe).shape[0] < got.shape[1]
    np.testing.assert_allclose(kept.mean(axis=0), 0.0, atol=1e-4)


def test_lfcc_refuses_what_it_cannot_do():
    with pytest.raises(DataError, match="too short"):
        lfcc_frames(np.zeros(50, np.float32))
    with pytest.raises(ParameterError, match="filterbank='bark'"):
        FrontEnd(filterbank="bark")
    with pytest.raises(DataError, match="fmin"):
        linear_filterbank(SR, 256, 20, 3000.0, 2000.0)
