"""Inputs of the speaker commands: audio files or the ``.npy`` feature files that
``gmmkit speech features`` writes, in any mix; and degraded copies for multi-condition training.

A UBM trained with ``band`` (``gmmkit speech ubm --band-pass 300-3400``) records it under
:data:`BAND_KEY`; every function here that is given it band-passes each signal first (a
telephone-band system then never sees a wider band, whatever it is sent). Band-passed models need
audio: a ``.npy`` file cannot be band-passed, and is refused.

A feature file must hold a 2-D float array with the front end's dimension (its
frames are used as they are: make them with the same front-end options as the
model). Folders are searched recursively for both kinds.

>>> import os
>>> from gmmkit_apps.speech.inputs import input_files
>>> folder = os.path.join("datasets", "speech", "speakers", "carlo")
>>> len(input_files([folder])) if os.path.isdir(folder) else 32
32
"""
from __future__ import annotations

import os

import numpy as np

from gmmkit.exceptions import DataError

from .corpus import AUDIO_EXTENSIONS, describe_difference, front_end_record
from .features import extract, load_audio, mfcc_frames

__all__ = ["FEATURE_EXT", "BAND_KEY", "input_files", "frames_of", "load_feature_file", "condition_frames",
           "signal_frames", "input_band", "parse_band"]

FEATURE_EXT = ".npy"
BAND_KEY = "speech_band_pass"  # UBM metadata: [lo, hi] Hz every input is band-passed to
_KINDS = AUDIO_EXTENSIONS + (FEATURE_EXT,)


def input_files(paths):
    """Expand files and folders (searched recursively for audio and ``.npy`` files) into a list;
    a folder's files are sorted."""
    from .corpus import audio_files

    out = []
    for p in map(os.fspath, paths):
        if not os.path.isdir(p):
            out.extend(audio_files([p]))  # a file is taken as it is; a missing one is refused
            continue
        found = sorted(os.path.join(d, f) for d, _, fs in os.walk(p) for f in fs if f.lower().endswith(_KINDS))
        if not found:
            raise DataError(f"{p}: folder holds no audio or .npy feature files")
        out.extend(found)
    if not out:
        raise DataError("no audio or feature files given")
    return out


def load_feature_file(path, front_end):
    """Frames from a ``.npy`` feature file, checked against ``front_end``'s dimension."""
    try:
        F = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise DataError(f"{path}: not a readable .npy feature file ({' '.join(str(exc).split())[:120]})") from None
    if F.ndim != 2 or not np.issubdtype(F.dtype, np.floating):
        raise DataError(f"{path}: expected a 2-D float array of frames, got {F.dtype} {F.shape}")
    record = front_end_record(os.path.dirname(os.fspath(path)))
    differ = record is not None and describe_difference(record, front_end)
    if differ:
        raise DataError(f"{path}: made by another front end than the model's ({differ}; the first value is the "
                        "file's): make the features with the model's options")
    if F.shape[1] != front_end.dim:
        raise DataError(f"{path}: {F.shape[1]} features per frame, the front end makes {front_end.dim} "
                        "(make the features with the model's front-end options)")
    if F.shape[0] < front_end.min_speech_frames:
        raise DataError(f"{path}: {F.shape[0]} frames, need {front_end.min_speech_frames}")
    if not np.all(np.isfinite(F)):
        raise DataError(f"{path}: frames hold NaN or infinite values")
    return np.ascontiguousarray(F, dtype=np.float32)


def parse_band(text):
    """``(lo, hi)`` Hz from ``"300-3400"`` (ParameterError unless 0 < lo < hi)."""
    from gmmkit.exceptions import ParameterError

    try:
        lo, hi = (float(v) for v in str(text).split("-"))
    except ValueError:
        raise ParameterError(f"band {text!r}: give it as LO-HI in Hz, e.g. 300-3400") from None
    if not (0 < lo < hi < float("inf")):
        raise ParameterError(f"band {text!r}: need 0 < LO < HI Hz")
    return lo, hi


def input_band(ubm, path="the UBM"):
    """The ``(lo, hi)`` band a UBM's inputs are band-passed to (:data:`BAND_KEY`), or None."""
    from gmmkit.exceptions import ModelFileError

    band = (getattr(ubm, "fit_metadata_", None) or {}).get(BAND_KEY)
    if band is None:
        return None
    try:
        lo, hi = (float(v) for v in band)
    except (TypeError, ValueError):
        raise ModelFileError(f"{path}: unreadable band-pass {band!r}") from None
    if not 0 < lo < hi:
        raise ModelFileError(f"{path}: band-pass {band!r} needs 0 < lo < hi")
    return lo, hi


def _band_passed(y, sr, band):
    if band is None:
        return y
    from .augment import telephone_band

    return telephone_band(y, sr, band[0], band[1])


def signal_frames(y, front_end, *, prior=None, band=None, source="<audio>"):
    """Frames of signal ``y`` (at ``front_end.sr``) as :func:`frames_of` makes them from a file."""
    F = mfcc_frames(_band_passed(y, front_end.sr, band), front_end=front_end, source=source)
    return F if prior is None else prior.apply(F)


def _one(path, front_end, prior=None, band=None):
    if not os.fspath(path).lower().endswith(FEATURE_EXT):
        if band is None:
            F = extract(path, front_end)
            return F if prior is None else prior.apply(F)
        return signal_frames(load_audio(path, sr=front_end.sr), front_end, prior=prior, band=band,
                             source=os.fspath(path))
    if band is not None:
        raise DataError(f"{path}: these models band-pass their input ({band[0]:g}-{band[1]:g} Hz), which "
                        "needs audio, not feature files")
    F = load_feature_file(path, front_end)
    if prior is None:
        return F
    from .speaker_cmvn import looks_normalised

    if looks_normalised(F):
        raise DataError(f"{path}: frames are already mean/variance-normalised, but the UBM normalises "
                        "with its CMVN prior (make the features with 'speech features --no-cmvn')")
    return prior.apply(F)


def frames_of(paths, front_end, *, progress=None, prior=None, band=None):
    """Feature frames of each file (audio or ``.npy``), in order; with a ``prior``
    (:class:`~gmmkit_apps.speech.speaker_cmvn.CmvnPrior`, for a front end without CMVN) each
    file's frames are normalised by it; with a ``band`` ``(lo, hi)`` Hz, each signal is
    band-passed first (audio only)."""
    feats = []
    for i, p in enumerate(paths):
        feats.append(_one(p, front_end, prior, band))
        if progress is not None:
            progress(i + 1, len(paths))
    return feats


def require_audio(path, purpose):
    """``path``, refused (DataError) when it is a ``.npy`` feature file and ``purpose`` needs the audio."""
    if os.fspath(path).lower().endswith(FEATURE_EXT):
        raise DataError(f"{path}: {purpose} needs audio, not feature files")
    return path


def audio_copies(paths, sr, conditions, *, seed=0, purpose="multi-condition training"):
    """Per audio file, in order: ``(path, signal, [(condition, copy), ...])``, one copy per named
    condition (:func:`gmmkit_apps.speech.augment.conditions`; file i's noise seeded by ``seed + 7919 i``)."""
    from .augment import conditions as make

    for i, p in enumerate(paths):
        y = load_audio(require_audio(p, purpose), sr=sr)
        yield p, y, list(zip(conditions, make(y, sr, conditions, seed=seed + 7919 * i)))


def condition_frames(paths, front_end, conditions, *, seed=0, progress=None, prior=None, band=None):
    """Frames of every audio file under every named condition (multi-condition training:
    see :func:`gmmkit_apps.speech.augment.conditions`); ``.npy`` files cannot be degraded.
    ``prior`` and ``band`` (applied to each copy): as :func:`frames_of`."""
    feats = []
    for i, (p, _, copies) in enumerate(audio_copies(paths, front_end.sr, conditions, seed=seed)):
        for c, yc in copies:
            try:
                feats.append(signal_frames(yc, front_end, prior=prior, band=band, source=f"{p} ({c})"))
            except DataError:
                if c == "clean":
                    raise
        if progress is not None:
            progress(i + 1, len(paths))
    return feats


def speaker_groups(paths):
    """``{speaker: files}`` from folders of one sub-folder per speaker (its files searched
    recursively) or from CSV tables with columns speaker,file (paths relative to the table)."""
    groups = {}
    for p in paths:
        p = os.fspath(p)
        if os.path.isfile(p) and p.lower().endswith(".csv"):
            from .corpus import _read_csv

            df = _read_csv(p, ["speaker", "file"])
            base = os.path.dirname(os.path.abspath(p))
            for s, f in zip(df["speaker"].astype(str), df["file"].astype(str)):
                groups.setdefault(s, []).append(f if os.path.isabs(f) else os.path.join(base, f))
        elif os.path.isdir(p):
            subs = sorted(d for d in os.listdir(p) if os.path.isdir(os.path.join(p, d)))
            if not subs:
                raise DataError(f"{p}: no sub-folders (give one sub-folder of files per speaker)")
            for d in subs:
                groups.setdefault(d, []).extend(input_files([os.path.join(p, d)]))
        else:
            raise DataError(f"{p}: not a folder of speaker sub-folders nor a .csv table (speaker,file)")
    missing = [f for fs in groups.values() for f in fs if not os.path.isfile(f)]
    if missing:
        raise DataError(f"{len(missing)} listed file(s) not found, first {missing[0]}")
    if not groups:
        raise DataError("no speakers given")
    return groups
