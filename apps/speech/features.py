"""Front end: audio in, normalised MFCC (or LFCC) frames out.

Audio is read with soundfile (any format libsndfile knows: WAV, FLAC, OGG, ...)
or, failing that, librosa's other back ends, mixed to mono and resampled to one
fixed rate. Each frame gets ``n_mfcc`` MFCCs (25 ms window, 10 ms hop by
default) plus deltas and delta-deltas; an energy-based voice activity detector
keeps the speech frames, and cepstral mean and variance normalisation (CMVN)
is applied over the kept frames of the utterance. ``FrontEnd(filterbank="linear")`` swaps the mel
filters for triangular filters evenly spaced in Hz (linear-frequency cepstra, LFCC; see
:mod:`gmmkit_apps.speech.lfcc`); everything else is shared.

The MFCCs are computed here with NumPy/SciPy's FFT and DCT and equal librosa's
(``librosa.feature.mfcc`` with a Slaney mel filter bank, ``librosa.feature.delta``;
the tests check it), because importing librosa's feature modules costs seconds
at every command start; librosa is used for resampling and for formats
soundfile cannot read.

>>> import numpy as np
>>> from gmmkit_apps.speech.features import mfcc_frames
>>> t = np.arange(8000) / 8000.0
>>> y = (np.sin(2 * np.pi * 220 * t) * np.hanning(8000)).astype(np.float32)
>>> mfcc_frames(y, sr=8000, vad=False).shape
(101, 60)
"""
from __future__ import annotations

import functools
import math
import os
from dataclasses import asdict, dataclass

import numpy as np

from gmmkit.exceptions import DataError, ModelFileError, ParameterError

__all__ = ["FrontEnd", "load_audio", "mfcc_frames", "energy_vad", "cmvn", "extract", "perturb_speed",
           "linear_filterbank", "FILTERBANKS"]

#: Default minimum of speech frames (after VAD): 10 frames = 0.1 s. Shorter input is refused
#: (``FrontEnd.min_speech_frames`` changes it); a word model needs at most this many frames
#: (one per state), and a speaker score needs no more.
MIN_SPEECH_FRAMES = 10
#: Filter banks of :class:`FrontEnd`: Slaney mel filters (MFCC) or filters evenly spaced in Hz (LFCC).
FILTERBANKS = ("mel", "linear")


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
        Filters of the filter bank (mel or linear).
    deltas : bool
        Append deltas and delta-deltas.
    vad : bool
        Keep only frames the energy detector marks as speech.
    vad_db : float
        A frame is speech if its energy is within ``vad_db`` dB of the utterance's
        loudest frames (their 99th percentile).
    cmvn : bool
        Normalise every coefficient to zero mean, unit variance per utterance.
    min_speech_frames : int
        Utterances with fewer speech frames (after VAD) are refused with a one-line
        error; 10 frames (0.1 s) by default, at least 3 (the deltas' window).
    vad_method : str
        'energy' (within ``vad_db`` of the loudest frames) or 'gmm' (a two-Gaussian fit of
        the frame energies, robust to steady noise); see :mod:`gmmkit_apps.speech.vad`.
    warp : float
        Feature warping window in seconds (e.g. 3.0) used instead of CMVN; 0 (default) is off
        (see :func:`gmmkit_apps.speech.robust.feature_warp`).
    rasta : bool
        RASTA-filter the cepstral trajectories before the deltas.
    denoise : bool
        Spectral subtraction of the steady noise floor before the mel filters
        (:func:`gmmkit_apps.speech.robust.spectral_subtraction`).
    filterbank : str
        'mel' (default: MFCCs) or 'linear' (``n_mels`` triangular filters evenly spaced from 0 Hz
        to ``sr / 2``, :func:`linear_filterbank`: linear-frequency cepstra, LFCC). Model files
        written before this option load as 'mel'.
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
    min_speech_frames: int = MIN_SPEECH_FRAMES
    vad_method: str = "energy"
    warp: float = 0.0
    rasta: bool = False
    denoise: bool = False
    filterbank: str = "mel"

    def __post_init__(self):
        if self.sr < 4000 or self.n_mfcc < 2 or self.n_mels < self.n_mfcc:
            raise ParameterError(f"bad front end settings: {self} (need sr >= 4000, "
                                 "2 <= n_mfcc <= n_mels)")
        if not (0 < self.win_ms <= 100 and 0 < self.hop_ms <= self.win_ms):
            raise ParameterError("need 0 < hop_ms <= win_ms <= 100")
        if int(self.min_speech_frames) != self.min_speech_frames or self.min_speech_frames < 3:
            raise ParameterError(f"min_speech_frames must be an integer >= 3, got {self.min_speech_frames!r}")
        from .vad import VAD_METHODS

        if self.vad_method not in VAD_METHODS:
            raise ParameterError(f"vad_method={self.vad_method!r}: use one of {', '.join(VAD_METHODS)}")
        if not (math.isfinite(self.warp) and (self.warp == 0 or 0.1 <= self.warp <= 60)):
            raise ParameterError(f"warp={self.warp!r}: a window of 0.1-60 seconds, or 0 (off)")
        if self.filterbank not in FILTERBANKS:
            raise ParameterError(f"filterbank={self.filterbank!r}: use one of {', '.join(FILTERBANKS)}")

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
    def from_dict(cls, d, source=None):
        """The front end a model file or feature folder records; fields it lacks take their
        defaults (older files). A field this version does not know is refused: the file was made
        by a newer gmmkit, and ignoring the option would compute other features without a word."""
        unknown = sorted(set(d) - set(cls.__dataclass_fields__))
        if unknown:
            raise ModelFileError(f"{source + ': ' if source else ''}front-end option(s) {', '.join(unknown)} "
                                 "unknown to this gmmkit version "
                                 "(the file was made by a newer one): upgrade gmmkit to use it")
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
    if not native_sr or native_sr <= 0:
        raise DataError(f"{path}: audio header gives sample rate {native_sr} (corrupt file?)")
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


def energy_vad(y, *, sr=8000, hop=80, win=200, threshold_db=30.0, method="energy"):
    """Boolean speech mask, one entry per frame (same framing as the MFCCs).

    With ``method='energy'`` a frame is speech when its log energy is within
    ``threshold_db`` of the 99th percentile of the utterance's frame energies and
    above -60 dBFS; ``method='gmm'`` also needs the frame to be nearer the louder of
    two Gaussians fitted to the energies (:func:`gmmkit_apps.speech.vad.gmm_mask`).
    The mask is then smoothed with a 5-frame median so isolated blips are dropped.
    """
    from .vad import energy_mask, gmm_mask, smooth_mask

    frames = _frames(np.asarray(y, dtype=np.float64), win, hop)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    db = 20.0 * np.log10(np.maximum(rms, 1e-10))
    mask = (gmm_mask if method == "gmm" else energy_mask)(db, threshold_db)
    return smooth_mask(mask, 5)


def cmvn(frames):
    """Cepstral mean and variance normalisation of one utterance's frames (rows)."""
    frames = np.asarray(frames, dtype=np.float64)
    mu = frames.mean(axis=0)
    sd = frames.std(axis=0)
    return ((frames - mu) / np.where(sd > 1e-8, sd, 1.0)).astype(np.float32)


def _frames(y, length, hop):
    """Centred frames (zero padding of length // 2 at both ends), one row per hop: (n_frames, length)."""
    pad = length // 2
    yp = np.pad(y, (pad, pad))
    n = 1 + (yp.size - length) // hop
    return np.lib.stride_tricks.as_strided(yp, shape=(n, length), strides=(yp.strides[0] * hop, yp.strides[0]),
                                           writeable=False)


def _hz_to_mel(f):
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3)
    logstep = np.log(6.4) / 27.0
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / logstep, lin)


def _mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    logstep = np.log(6.4) / 27.0
    return np.where(m >= 15.0, 1000.0 * np.exp(logstep * (m - 15.0)), m * (200.0 / 3))


@functools.lru_cache(maxsize=8)
def _mel_basis(sr, n_fft, n_mels, fmin=20.0):
    """Triangular mel filters (Slaney scale, area-normalised), shape (n_mels, n_fft // 2 + 1)."""
    fft_hz = np.arange(n_fft // 2 + 1) * sr / n_fft
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(sr / 2.0), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    w = np.maximum(0.0, np.minimum(rising, falling))
    return (w * (2.0 / (edges[2:] - edges[:-2]))[:, None]).astype(np.float32)


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


def _filter_bank(fe, n_fft):
    """The front end's filters, transposed for ``power @ bank``: mel in float32; linear in float64
    (the LFCC front end's product since it was written, so its cached features stay the same)."""
    if fe.filterbank == "linear":
        return linear_filterbank(fe.sr, n_fft, fe.n_mels).T.astype(np.float64)
    return _mel_basis(fe.sr, n_fft, fe.n_mels).T


@functools.lru_cache(maxsize=8)
def _window(win, n_fft):
    """Periodic Hann window of ``win`` samples, centred in ``n_fft``."""
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)
    out = np.zeros(n_fft)
    left = (n_fft - win) // 2
    out[left:left + win] = w
    return out


@functools.lru_cache(maxsize=8)
def _savgol(width, order):
    """Least-squares filter giving the order-th derivative of a degree-order polynomial fit."""
    n = np.arange(width) - width // 2
    A = np.vander(n, order + 1, increasing=True).astype(np.float64)
    return np.linalg.pinv(A)[order] * math.factorial(order)


def _delta(m, width, order):
    """Deltas along frames (axis 1) by local polynomial fits; edge frames repeat the nearest full fit."""
    h = _savgol(width, order)
    half = width // 2
    T = m.shape[1]
    out = np.empty_like(m)
    win = np.lib.stride_tricks.sliding_window_view(m, width, axis=1)  # (C, T - width + 1, width)
    out[:, half:T - half] = win @ h
    out[:, :half] = out[:, half:half + 1]
    out[:, T - half:] = out[:, T - half - 1:T - half]
    return out


def mfcc_frames(y, *, sr=8000, front_end=None, vad=None, source="<audio>"):
    """MFCC (+deltas) frames of a signal, one row per 10 ms frame (LFCC with
    ``front_end.filterbank == "linear"``).

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
    from scipy.fft import dct, rfft

    fe = front_end or FrontEnd(sr=sr)
    use_vad = fe.vad if vad is None else vad
    n_fft = 1 << (fe.win - 1).bit_length()
    y = np.asarray(y, dtype=np.float32)
    if y.size < fe.win:
        raise DataError(f"{source}: audio too short ({y.size} samples, need {fe.win})")
    # a tiny dither keeps log-mel finite on digital silence
    rng = np.random.default_rng(0)
    yd = y + rng.normal(0.0, 1e-5, size=y.shape).astype(np.float32)
    spec = np.abs(rfft(_frames(yd, n_fft, fe.hop) * _window(fe.win, n_fft).astype(np.float32), axis=1)) ** 2
    if fe.denoise:
        from .robust import spectral_subtraction

        spec = spectral_subtraction(spec)
    from threadpoolctl import threadpool_limits

    # a small matmul: one BLAS thread is hundreds of times faster than many on a busy machine
    with threadpool_limits(1, user_api="blas"):
        mel = spec @ _filter_bank(fe, n_fft)  # (frames, filters)
    db = 10.0 * np.log10(np.maximum(mel, 1e-10))
    db = np.maximum(db, db.max() - 80.0)  # 80 dB dynamic range
    m = dct(db, type=2, norm="ortho", axis=1)[:, : fe.n_mfcc].T  # (n_mfcc, frames)
    if fe.rasta:
        from .robust import rasta

        m = rasta(m, axis=1)
    feats = [m]
    if fe.deltas:
        width = min(9, m.shape[1] if m.shape[1] % 2 else m.shape[1] - 1)
        if width < 3:
            raise DataError(f"{source}: audio too short for delta features")
        feats.append(_delta(m, width, 1))
        feats.append(_delta(m, width, 2))
    F = np.vstack(feats).T
    if use_vad:
        mask = energy_vad(y, sr=fe.sr, hop=fe.hop, win=fe.win, threshold_db=fe.vad_db,
                          method=fe.vad_method)[: F.shape[0]]
        F = F[mask]
    need = int(fe.min_speech_frames)
    if F.shape[0] < need:
        raise DataError(f"{source}: too little speech after voice activity detection "
                        f"({F.shape[0]} frames = {F.shape[0] * fe.hop_ms / 1000:.2f} s, need {need})")
    return normalise(F, fe)


def normalise(F, fe):
    """The front end's per-utterance normalisation of frames ``F``: feature warping over
    ``fe.warp`` seconds when set, else CMVN when ``fe.cmvn``, else none."""
    if fe.warp:
        from .robust import feature_warp

        return feature_warp(F, window=int(round(fe.warp * 1000.0 / fe.hop_ms)) | 1)
    return cmvn(F) if fe.cmvn else np.asarray(F, dtype=np.float32)


def perturb_speed(y, sr, speed):
    """The signal played ``speed`` times faster (pitch and formants shift with it, as a tape):
    resampled from ``sr`` to ``sr / speed``. Speed perturbation (e.g. 0.92 and 1.08) makes
    extra training voices for speaker-independent models."""
    if not 0.5 <= speed <= 2.0:
        raise ParameterError(f"speed must be between 0.5 and 2, got {speed!r}")
    if speed == 1.0:
        return y
    import librosa

    y = librosa.resample(np.asarray(y, dtype=np.float32), orig_sr=sr, target_sr=int(round(sr / speed)),
                         res_type="soxr_hq")
    return np.ascontiguousarray(y, dtype=np.float32)


def extract(path, front_end=None, *, vad=None, speed=1.0, noise_db=None, seed=0):
    """Read an audio file and return its normalised feature frames (``speed``: see
    :func:`perturb_speed`; ``noise_db``: with white noise at this SNR added first, seeded by
    ``seed``, see :func:`gmmkit_apps.speech.augment.add_noise`).

    >>> import glob, os
    >>> from gmmkit_apps.speech.features import extract, FrontEnd
    >>> path = sorted(glob.glob(os.path.join("datasets", "speech", "speakers", "carlo", "*.flac")))[0]
    >>> extract(path, FrontEnd()).shape[1] if os.path.exists(path) else 60
    60
    """
    fe = front_end or FrontEnd()
    y = perturb_speed(load_audio(path, sr=fe.sr), fe.sr, speed)
    if noise_db is not None:
        from .augment import add_noise

        y = add_noise(y, noise_db, seed=seed)
    return mfcc_frames(y, front_end=fe, vad=vad, source=os.fspath(path))
