"""Front end: audio in, normalised MFCC frames out.

Audio is read with soundfile (any format libsndfile knows: WAV, FLAC, OGG, ...)
or, failing that, librosa's other back ends, mixed to mono and resampled to one
fixed rate. Each frame gets ``n_mfcc`` MFCCs (25 ms window, 10 ms hop by
default) plus deltas and delta-deltas; an energy-based voice activity detector
keeps the speech frames, and cepstral mean and variance normalisation (CMVN)
is applied over the kept frames of the utterance.

>>> import numpy as np
>>> from gmmkit_apps.speech.features import mfcc_frames
>>> t = np.arange(8000) / 8000.0
>>> y = (np.sin(2 * np.pi * 220 * t) * np.hanning(8000)).astype(np.float32)
>>> mfcc_frames(y, sr=8000, vad=False).shape
(101, 60)
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, asdict

import numpy as np

from gmmkit.exceptions import DataError, ParameterError

__all__ = ["FrontEnd", "load_audio", "mfcc_frames", "energy_vad", "cmvn", "extract"]

#: Utterances with fewer speech frames than this (after VAD) are refused.
MIN_SPEECH_FRAMES = 30


@dataclass(frozen=True)
class FrontEnd:
    """Feature settings; stored in every model file so scoring uses the same front end.

    Parameters
    ----------
    sr : int
        Sampling rate every input is resampled to (8000 suits telephone speech).
    n_mfcc : int
        Cepstral coefficients per frame (c0 included); deltas triple the dimension.
    win_ms, hop_ms : float
        Analysis window and hop in milliseconds.
    n_mels : int
        Mel filters.
    deltas : bool
        Append deltas and delta-deltas.
    vad : bool
        Keep only frames the energy detector marks as speech.
    vad_db : float
        A frame is speech if its energy is within ``vad_db`` dB of the utterance's
        loudest frames (their 99th percentile).
    cmvn : bool
        Normalise every coefficient to zero mean, unit variance per utterance.
    """

    sr: int = 8000
    n_mfcc: int = 20
    win_ms: float = 25.0
    hop_ms: float = 10.0
    n_mels: int = 40
    deltas: bool = True
    vad: bool = True
    vad_db: float = 30.0
    cmvn: bool = True

    def __post_init__(self):
        if self.sr < 4000 or self.n_mfcc < 2 or self.n_mels < self.n_mfcc:
            raise ParameterError(f"bad front end settings: {self} (need sr >= 4000, "
                                 "2 <= n_mfcc <= n_mels)")
        if not (0 < self.win_ms <= 100 and 0 < self.hop_ms <= self.win_ms):
            raise ParameterError("need 0 < hop_ms <= win_ms <= 100")

    @property
    def dim(self):
        return self.n_mfcc * (3 if self.deltas else 1)

    @property
    def hop(self):
        return int(round(self.sr * self.hop_ms / 1000.0))

    @property
    def win(self):
        return int(round(self.sr * self.win_ms / 1000.0))

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def load_audio(path, sr=8000):
    """Read ``path`` as mono float32 at rate ``sr``.

    Raises
    ------
    DataError
        The file is missing, unreadable, corrupt, empty or silent (the message names it).
    """
    import warnings

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such audio file")
    y = native_sr = None
    try:
        import soundfile as sf

        data, native_sr = sf.read(path, dtype="float32", always_2d=True)
        y = data.mean(axis=1)
    except Exception:  # libsndfile cannot read it: let librosa try its other back ends
        try:
            import librosa

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                y, native_sr = librosa.load(path, sr=None, mono=True)
        except Exception as exc:
            msg = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise DataError(f"{path}: cannot read audio (unknown format or corrupt file: {msg})") from None
    if y.size == 0:
        raise DataError(f"{path}: audio file is empty (0 samples)")
    if not np.all(np.isfinite(y)):
        raise DataError(f"{path}: audio holds NaN or infinite samples (corrupt file?)")
    if native_sr != sr:
        import librosa

        y = librosa.resample(y, orig_sr=native_sr, target_sr=sr, res_type="soxr_hq")
    y = np.ascontiguousarray(y, dtype=np.float32)
    if float(np.max(np.abs(y))) < 1e-4:  # below -80 dBFS everywhere
        raise DataError(f"{path}: audio is silent (peak below -80 dBFS)")
    return y


def energy_vad(y, *, sr=8000, hop=80, win=200, threshold_db=30.0):
    """Boolean speech mask, one entry per frame (same framing as the MFCCs).

    A frame is speech when its log energy is within ``threshold_db`` of the
    99th percentile of the utterance's frame energies and above -60 dBFS; the
    mask is then smoothed with a 5-frame median so isolated blips are dropped.
    """
    import librosa
    from scipy.ndimage import median_filter

    rms = librosa.feature.rms(y=y, frame_length=win, hop_length=hop, center=True)[0]
    db = 20.0 * np.log10(np.maximum(rms, 1e-10))
    top = np.percentile(db, 99)
    mask = (db > top - threshold_db) & (db > -60.0)
    return median_filter(mask.astype(np.uint8), size=5, mode="nearest").astype(bool)


def cmvn(frames):
    """Cepstral mean and variance normalisation of one utterance's frames (rows)."""
    frames = np.asarray(frames, dtype=np.float64)
    mu = frames.mean(axis=0)
    sd = frames.std(axis=0)
    return ((frames - mu) / np.where(sd > 1e-8, sd, 1.0)).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _mel_basis(sr, n_fft, n_mels):
    import librosa

    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=20.0, fmax=sr / 2.0)


def mfcc_frames(y, *, sr=8000, front_end=None, vad=None, source="<audio>"):
    """MFCC (+deltas) frames of a signal, one row per 10 ms frame.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Mono signal at rate ``sr``.
    front_end : FrontEnd, optional
        Settings; default ``FrontEnd(sr=sr)``.
    vad : bool, optional
        Override ``front_end.vad``.
    source : str
        Name used in error messages.

    Returns
    -------
    ndarray of shape (n_frames, front_end.dim), float32
    """
    import librosa

    fe = front_end or FrontEnd(sr=sr)
    use_vad = fe.vad if vad is None else vad
    n_fft = 1 << (fe.win - 1).bit_length()
    y = np.asarray(y, dtype=np.float32)
    if y.size < fe.win:
        raise DataError(f"{source}: audio too short ({y.size} samples, need {fe.win})")
    # a tiny dither keeps log-mel finite on digital silence
    rng = np.random.default_rng(0)
    yd = y + rng.normal(0.0, 1e-5, size=y.shape).astype(np.float32)
    spec = np.abs(librosa.stft(yd, n_fft=n_fft, hop_length=fe.hop, win_length=fe.win)) ** 2
    from threadpoolctl import threadpool_limits

    # a small matmul: one BLAS thread is hundreds of times faster than many on a busy machine
    with threadpool_limits(1, user_api="blas"):
        mel = _mel_basis(fe.sr, n_fft, fe.n_mels) @ spec
    m = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=fe.n_mfcc)
    feats = [m]
    if fe.deltas:
        width = min(9, m.shape[1] if m.shape[1] % 2 else m.shape[1] - 1)
        if width < 3:
            raise DataError(f"{source}: audio too short for delta features")
        feats.append(librosa.feature.delta(m, width=width, order=1))
        feats.append(librosa.feature.delta(m, width=width, order=2))
    F = np.vstack(feats).T
    if use_vad:
        mask = energy_vad(y, sr=fe.sr, hop=fe.hop, win=fe.win, threshold_db=fe.vad_db)[: F.shape[0]]
        F = F[mask]
    if F.shape[0] < MIN_SPEECH_FRAMES:
        raise DataError(f"{source}: too little speech after voice activity detection "
                        f"({F.shape[0]} frames, need {MIN_SPEECH_FRAMES})")
    return cmvn(F) if fe.cmvn else F.astype(np.float32)


def extract(path, front_end=None, *, vad=None):
    """Read an audio file and return its normalised feature frames.

    >>> import glob, os
    >>> from gmmkit_apps.speech.features import extract, FrontEnd
    >>> path = sorted(glob.glob(os.path.join("datasets", "speech", "speakers", "carlo", "*.flac")))[0]
    >>> extract(path, FrontEnd()).shape[1] if os.path.exists(path) else 60
    60
    """
    fe = front_end or FrontEnd()
    y = load_audio(path, sr=fe.sr)
    return mfcc_frames(y, front_end=fe, vad=vad, source=os.fspath(path))
