"""The models folder of speaker recognition: its files and the rules that keep them together.

A models folder holds ``ubm.gmm`` (the universal background model every speaker
was adapted from), one ``<speaker>.spk`` per enrolled speaker and, once a trial
list has been evaluated with ``--save-threshold``, ``threshold.json`` (the EER
threshold that ``verify`` uses by default). :func:`gmmkit_apps.speech.enroll.enroll` adds a speaker;
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

from gmmkit.exceptions import ModelFileError

from .corpus import SPEAKER_EXT, UBM_FILE, load_ubm

__all__ = ["UBM_FILE", "SPEAKER_EXT", "THRESHOLD_FILE", "speaker_path", "check_same_ubm", "stored_threshold",
           "store_threshold"]

THRESHOLD_FILE = "threshold.json"


def speaker_path(folder, speaker):
    """Where ``speaker``'s model lives in ``folder`` (the name is checked)."""
    from .ubm import _check_name

    return os.path.join(os.fspath(folder), _check_name(speaker) + SPEAKER_EXT)


def check_same_ubm(folder, ubm, ubm_path):
    """A folder holds models adapted from one UBM: raise ModelFileError if ``folder`` already
    holds a different one than ``ubm`` (read from ``ubm_path``). Returns the folder's UBM path."""
    from .ubm import ubm_fingerprint

    local = os.path.join(os.fspath(folder), UBM_FILE)
    if os.path.exists(local) and not os.path.samefile(local, ubm_path):
        other, _ = load_ubm(local)
        if ubm_fingerprint(other) != ubm_fingerprint(ubm):
            raise ModelFileError(f"{folder} already holds models adapted from a different UBM ({local}); "
                                 "use another models folder")
    return local


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
