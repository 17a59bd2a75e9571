"""Shared by the speaker benchmarks: the Free Spoken Digit Dataset's file list.

FSDD recordings are named ``{digit}_{speaker}_{take}.wav`` (8 kHz); ``FSDD`` is where the
benchmarks look by default (../shared/data/fsdd/recordings).
"""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FSDD = os.path.join(ROOT, "..", "shared", "data", "fsdd", "recordings")
_NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")


def fsdd_files(folder=FSDD):
    """``[(speaker, take, digit, path)]`` of every FSDD recording in ``folder``, sorted."""
    if not os.path.isdir(folder):
        raise SystemExit(f"{folder}: no FSDD recordings folder (give --fsdd)")
    found = sorted((m.group(2), int(m.group(3)), int(m.group(1)), os.path.join(folder, f))
                   for f in os.listdir(folder) if (m := _NAME.match(f)))
    if not found:
        raise SystemExit(f"{folder}: no FSDD recordings ({{digit}}_{{speaker}}_{{take}}.wav)")
    return found
