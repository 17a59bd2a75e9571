"""Files in, frames out: audio lists, phone segment tables, trial lists and model folders.

The glue between the command line and the pure functions: every reader here
checks its input and raises a gmmkit error naming the file at fault.

>>> import os
>>> from gmmkit_apps.speech.corpus import audio_files
>>> folder = os.path.join("datasets", "speech", "speakers", "carlo")
>>> len(audio_files([folder])) if os.path.isdir(folder) else 32
32
"""
from __future__ import annotations

import json
import os

import numpy as np

from gmmkit.exceptions import DataError, ModelFileError, ParameterError

from .features import FrontEnd, extract, load_audio, mfcc_frames

__all__ = ["AUDIO_EXTENSIONS", "audio_files", "features_of", "write_features", "read_segments", "segment_frames",
           "labelled_folder", "read_trials", "ModelSet", "load_model_set", "UBM_FILE", "SPEAKER_EXT"]

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".au", ".opus", ".m4a")
UBM_FILE = "ubm.gmm"
SPEAKER_EXT = ".spk"


def audio_files(paths):
    """Expand files and folders (searched recursively for audio extensions) into a sorted file list."""
    out = []
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            found = sorted(os.path.join(d, f) for d, _, fs in os.walk(p) for f in fs
                           if f.lower().endswith(AUDIO_EXTENSIONS))
            if not found:
                raise DataError(f"{p}: folder holds no audio files ({', '.join(AUDIO_EXTENSIONS)})")
            out.extend(found)
        elif os.path.exists(p):
            out.append(p)
        else:
            raise DataError(f"{p}: no such file or folder")
    if not out:
        raise DataError("no audio files given")
    return out


def features_of(paths, front_end, *, progress=None, speed=1.0):
    """Feature frames of each audio file (list of arrays), in order (``speed``: played that
    many times faster, see :func:`gmmkit_apps.speech.features.perturb_speed`)."""
    feats = []
    for i, p in enumerate(paths):
        feats.append(extract(p, front_end, speed=speed))
        if progress is not None:
            progress(i + 1, len(paths))
    return feats


def write_features(files, folder, front_end):
    """Write each audio file's feature frames to ``folder/<name>.npy`` (float32, atomically).

    Yields one dict per file as it is written: file, output, frames, dim. Raises
    ParameterError, before writing anything, when two files share a name.
    """
    from gmmkit.io import atomic_path

    names = [os.path.splitext(os.path.basename(f))[0] for f in files]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})[0]
        raise ParameterError(f"two inputs would both be written as {dup}.npy; give distinct file names")
    record = front_end_record(folder)
    differ = record is not None and describe_difference(record, front_end)
    if differ:
        raise ParameterError(f"{folder} holds features of another front end ({differ}); write these to another folder")
    if record is None:
        with atomic_path(os.path.join(os.fspath(folder), FRONT_END_FILE)) as tmp:
            with open(tmp, "w") as fh:
                json.dump(_settings(front_end), fh, indent=1)
    for f, n in zip(files, names):
        F = extract(f, front_end)
        target = os.path.join(os.fspath(folder), n + ".npy")
        with atomic_path(target) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, F)
        yield {"file": f, "output": target, "frames": int(F.shape[0]), "dim": int(F.shape[1])}


FRONT_END_FILE = "front_end.json"
"""Written by :func:`write_features` beside the ``.npy`` files: the front end that made them."""


def _settings(front_end):
    # what decides the frames (the minimum length only decides which utterances are refused)
    d = front_end.to_dict()
    d.pop("min_speech_frames", None)
    return d


def front_end_record(folder):
    """The front-end settings recorded in ``folder`` by :func:`write_features`, or None."""
    path = os.path.join(os.fspath(folder), FRONT_END_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as fh:
            return _settings(FrontEnd.from_dict(json.load(fh)))  # fields it lacks: their defaults
    except (OSError, ValueError, TypeError, AttributeError, ModelFileError) as exc:
        raise DataError(f"{path}: not a readable front-end record ({' '.join(str(exc).split())[:100]})") from None


_OPTION = {"sr": "--sr", "n_mfcc": "--n-mfcc", "cmvn": "--cmvn/--no-cmvn", "vad": "--vad/--no-vad",
           "warp": "--warp", "rasta": "--rasta/--no-rasta", "denoise": "--denoise/--no-denoise",
           "vad_method": "--vad-method", "filterbank": "--filterbank"}


def _option(key, value):
    flag = _OPTION.get(key)
    if flag is None:
        return None
    if "/" in flag:
        return flag.split("/")[0 if value else 1]
    return f"{flag} {value:g}" if isinstance(value, float) else f"{flag} {value}"


def describe_difference(record, front_end):
    """'filterbank 'mel', not 'linear'; ...' between a record and a front end (the record's value
    first), then the 'speech features' options that give the front end's (empty if they agree)."""
    want = _settings(front_end)
    keys = [k for k in sorted(set(record) | set(want)) if record.get(k) != want.get(k)]
    if not keys:
        return ""
    options = [o for o in (_option(k, want.get(k)) for k in keys) if o]
    fix = f"; 'speech features {' '.join(options)}' gives the model's" if options else ""
    return "; ".join(f"{k} {record.get(k)!r}, not {want.get(k)!r}" for k in keys) + fix


def _read_csv(path, required):
    import pandas as pd

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    try:
        df = pd.read_csv(path)
    except Exception as exc:
        raise DataError(f"{path}: not a readable CSV table ({' '.join(str(exc).split())[:150]})") from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} "
                        f"(has {', '.join(map(str, df.columns))})")
    if len(df) == 0:
        raise DataError(f"{path}: table has no rows")
    return df


def _resolve(base, f):
    f = str(f)
    return f if os.path.isabs(f) else os.path.join(base, f)


def read_segments(path, *, split=None):
    """Read a segment table: columns file, start, end (seconds) and optionally phone/label, split.

    Relative audio paths are resolved against the table's folder.
    """
    df = _read_csv(path, ["file", "start", "end"])
    if split is not None:
        if "split" not in df.columns:
            raise DataError(f"{path}: no 'split' column to select {split!r} from")
        df = df[df["split"] == split]
        if len(df) == 0:
            raise DataError(f"{path}: no rows with split == {split!r}")
    import pandas as pd

    df = df.copy()
    for col in ("start", "end"):
        values = pd.to_numeric(df[col], errors="coerce")
        text = values.isna() & df[col].notna()
        if text.any():
            row = int(np.flatnonzero(text.values)[0])
            raise DataError(f"{path}: row {row + 2}: {col} {df[col].iloc[row]!r} is not a number of seconds")
        df[col] = values
    bad = ~(np.isfinite(df["start"].astype(float)) & (df["end"].astype(float) > df["start"].astype(float)))
    if bad.any():
        raise DataError(f"{path}: row {int(np.flatnonzero(bad.values)[0]) + 2} needs start < end")
    base = os.path.dirname(os.path.abspath(path))
    df["path"] = [_resolve(base, f) for f in df["file"]]
    label = "phone" if "phone" in df.columns else "label" if "label" in df.columns else None
    df["label"] = df[label].astype(str) if label else None
    return df.reset_index(drop=True)


def segment_frames(df, front_end, *, speed=1.0, min_frames=1):
    """Frames of every segment row: each file's features are computed once (no VAD, CMVN per file).

    A frame belongs to a segment when its centre lies inside [start, end); a
    segment shorter than one hop gets its nearest frame. ``speed``: the audio is
    played that many times faster first (:func:`~gmmkit_apps.speech.features.perturb_speed`),
    the segment times divided by it. Segments shorter than ``min_frames`` are
    stretched to it by repeating each frame.
    """
    from .features import perturb_speed

    fe = FrontEnd(**{**front_end.to_dict(), "vad": False})
    cache = {}
    out = []
    for row in df.itertuples(index=False):
        if row.path not in cache:
            y = perturb_speed(load_audio(row.path, fe.sr), fe.sr, speed)
            cache[row.path] = mfcc_frames(y, front_end=fe, source=row.path)
        F = cache[row.path]
        centres = np.arange(len(F)) * fe.hop / fe.sr
        start, end = row.start / speed, row.end / speed
        mask = (centres >= start) & (centres < end)
        if not mask.any():
            mid = int(round(0.5 * (start + end) * fe.sr / fe.hop))
            if mid >= len(F):
                raise DataError(f"{row.path}: segment {row.start}-{row.end} s lies past the end of the audio")
            mask[mid] = True
        x = F[mask]
        out.append(x if len(x) >= min_frames else np.repeat(x, -(-min_frames // len(x)), axis=0))
    return out


def labelled_folder(folder):
    """(files, labels) from a folder with one sub-folder of audio files per class."""
    folder = os.fspath(folder)
    classes = sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)))
    files, labels = [], []
    for c in classes:
        fs = audio_files([os.path.join(folder, c)])
        files += fs
        labels += [c] * len(fs)
    if len(classes) < 2:
        raise DataError(f"{folder}: need one sub-folder of audio per class (at least two)")
    return files, labels


def read_trials(path):
    """Read a trial list: columns speaker, file, target (1/0, true/false or target/nontarget)."""
    df = _read_csv(path, ["speaker", "file", "target"])
    t = df["target"].astype(str).str.strip().str.lower()
    yes, no = {"1", "true", "target", "yes"}, {"0", "false", "nontarget", "non-target", "no"}
    bad = ~t.isin(yes | no)
    if bad.any():
        i = int(np.flatnonzero(bad.values)[0])
        raise DataError(f"{path}: row {i + 2}: target must be 1/0, "
                        f"true/false or target/nontarget, got {df['target'].iloc[i]!r}")
    base = os.path.dirname(os.path.abspath(path))
    df = df.assign(path=[_resolve(base, f) for f in df["file"]], target=t.isin(yes).values,
                   speaker=df["speaker"].astype(str))
    df.attrs["source"] = os.fspath(path)
    return df


class ModelSet:
    """A models folder: the UBM (``ubm.gmm``), its front end, the speaker models (``*.spk``) and
    the UBM's CMVN prior (``prior``, None for plain CMVN; see :mod:`gmmkit_apps.speech.speaker_cmvn`)."""

    def __init__(self, folder, ubm, front_end, speakers, prior=None):
        self.folder, self.ubm, self.front_end, self.speakers = folder, ubm, front_end, speakers
        self.prior = prior

    @property
    def names(self):
        return [s.name for s in self.speakers]

    def speaker(self, name):
        for s in self.speakers:
            if s.name == name:
                return s
        raise ParameterError(f"{self.folder}: no model for speaker {name!r} "
                             f"(enrolled: {', '.join(self.names) or 'none'})")


def ubm_front_end(ubm, path):
    meta = getattr(ubm, "fit_metadata_", {}) or {}
    if "speech_front_end" not in meta:
        raise ModelFileError(f"{path}: not a speech UBM (no front-end settings; make it with 'gmmkit speech ubm')")
    try:
        return FrontEnd.from_dict(meta["speech_front_end"])
    except (TypeError, ValueError, ParameterError, ModelFileError) as exc:
        raise ModelFileError(f"{path}: invalid front-end settings ({exc})") from None


def load_ubm(path):
    """Load a speech UBM file and its front end."""
    import gmmkit

    ubm = gmmkit.load(path)
    if ubm.covariance_type != "diag":
        raise ModelFileError(f"{path}: a speech UBM must have diagonal covariances")
    return ubm, ubm_front_end(ubm, path)


def load_model_set(folder, *, need_speakers=True):
    """Load ``folder/ubm.gmm`` and every ``folder/*.spk``; check they belong together."""
    from .speaker_cmvn import prior_of
    from .ubm import load_speaker, ubm_fingerprint

    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise ModelFileError(f"{folder}: no such models folder")
    ubm_path = os.path.join(folder, UBM_FILE)
    if not os.path.exists(ubm_path):
        raise ModelFileError(f"{folder}: no {UBM_FILE} (enrol a speaker with 'gmmkit speech enroll' first)")
    ubm, fe = load_ubm(ubm_path)
    fp = ubm_fingerprint(ubm)
    speakers = []
    for f in sorted(os.listdir(folder)):
        if f.endswith(SPEAKER_EXT):
            s = load_speaker(os.path.join(folder, f))
            if s.ubm_fingerprint != fp:
                raise ModelFileError(f"{os.path.join(folder, f)} was adapted from a different UBM "
                                     f"than {ubm_path}")
            if s.means.shape != ubm.means_.shape:
                raise ModelFileError(f"{os.path.join(folder, f)}: shape does not match {ubm_path}")
            speakers.append(s)
    if need_speakers and not speakers:
        raise ModelFileError(f"{folder}: no speaker models (*{SPEAKER_EXT})")
    return ModelSet(folder, ubm, fe, speakers, prior_of(ubm, ubm_path))
