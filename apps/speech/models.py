"""The models folder of speaker recognition: its files and the rules that keep them together.

A models folder holds ``ubm.gmm`` (the universal background model every speaker
was adapted from), one ``<speaker>.spk`` per enrolled speaker and, once a trial
list has been evaluated with ``--save-threshold``, ``threshold.json`` (the EER
threshold that ``verify`` uses by default). :func:`enroll` adds a speaker;
:func:`gmmkit_apps.speech.corpus.load_model_set` reads the folder back.

>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> stored_threshold(folder)  # nothing stored yet
0.0
>>> store_threshold(folder, 1.25, source="trials.csv", eer=0.05)
>>> stored_threshold(folder)
1.25
"""
from __future__ import annotations

import json
import os
import shutil

from gmmkit.exceptions import ModelFileError, OutputExistsError

from .corpus import SPEAKER_EXT, UBM_FILE, audio_files, features_of, load_ubm

__all__ = ["UBM_FILE", "SPEAKER_EXT", "THRESHOLD_FILE", "speaker_path", "enroll", "stored_threshold",
           "store_threshold"]

THRESHOLD_FILE = "threshold.json"


def speaker_path(folder, speaker):
    """Where ``speaker``'s model lives in ``folder`` (the name is checked)."""
    from .ubm import _check_name

    return os.path.join(os.fspath(folder), _check_name(speaker) + SPEAKER_EXT)


def _check_same_ubm(folder, ubm, ubm_path):
    """A folder holds models adapted from one UBM: refuse another one."""
    from .ubm import ubm_fingerprint

    local = os.path.join(folder, UBM_FILE)
    if os.path.exists(local) and not os.path.samefile(local, ubm_path):
        other, _ = load_ubm(local)
        if ubm_fingerprint(other) != ubm_fingerprint(ubm):
            raise ModelFileError(f"{folder} already holds models adapted from a different UBM ({local}); "
                                 "use another models folder")
    return local


def enroll(folder, ubm_path, speaker, audio, *, relevance=16.0, adapt="m", overwrite=False):
    """MAP-adapt the UBM in ``ubm_path`` to ``speaker``'s ``audio`` (files or folders) and store
    the model in ``folder``, with a copy of the UBM the first time.

    Refuses a folder whose models come from a different UBM, and an existing model
    of the speaker unless ``overwrite``. Returns ``(model, path, files)``: the
    :class:`~gmmkit_apps.speech.ubm.SpeakerModel`, where it was written and the audio
    files used.
    """
    from gmmkit.io import atomic_path

    from .ubm import map_adapt, save_speaker

    folder = os.fspath(folder)
    target = speaker_path(folder, speaker)
    if os.path.exists(target) and not overwrite:
        raise OutputExistsError(f"{target} exists; pass --force to overwrite it")
    ubm, front_end = load_ubm(ubm_path)
    local = _check_same_ubm(folder, ubm, ubm_path)
    files = audio_files(audio)
    model = map_adapt(ubm, features_of(files, front_end), name=speaker, relevance=relevance, adapt=adapt)
    if not os.path.exists(local):
        with atomic_path(local) as tmp:
            shutil.copyfile(ubm_path, tmp)
    save_speaker(model, target, overwrite=overwrite, front_end=front_end.to_dict())
    return model, target, files


def stored_threshold(folder):
    """The verification threshold stored in ``folder`` (0.0 when there is none)."""
    path = os.path.join(os.fspath(folder), THRESHOLD_FILE)
    if not os.path.exists(path):
        return 0.0
    try:
        with open(path) as fh:
            return float(json.load(fh)["threshold"])
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise ModelFileError(f"{path}: unreadable threshold file ({exc})") from None


def store_threshold(folder, threshold, *, source=None, eer=None):
    """Store ``threshold`` in ``folder`` for :func:`stored_threshold` (and ``verify``)."""
    from gmmkit.io import atomic_path

    with atomic_path(os.path.join(os.fspath(folder), THRESHOLD_FILE)) as tmp:
        with open(tmp, "w") as fh:
            json.dump({"threshold": float(threshold), "from": None if source is None else str(source),
                       "eer": None if eer is None else float(eer)}, fh)
