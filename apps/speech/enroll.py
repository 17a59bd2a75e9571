"""Enrolling speakers, from audio or ``.npy`` feature files (``gmmkit speech features``).

:func:`enroll_speakers` loads the UBM once, MAP-adapts it to each speaker's
frames and writes ``<speaker>.spk`` files into a models folder (with a copy of
the UBM the first time); :func:`enroll` does it for one speaker. Every check
(names, existing models, the folder's UBM: :mod:`gmmkit_apps.speech.models`) is
made before the first model is written.
"""
from __future__ import annotations

import os
import shutil

from gmmkit.exceptions import OutputExistsError

__all__ = ["enroll", "enroll_speakers"]


def enroll(folder, ubm_path, speaker, files, *, relevance=16.0, adapt="m", overwrite=False, conditions=None):
    """MAP-adapt the UBM in ``ubm_path`` to ``speaker``'s ``files`` (audio or ``.npy`` feature
    files, or folders of them) and store the model in ``folder``, with a copy of the UBM the
    first time.

    Refuses a folder whose models come from a different UBM, and an existing model
    of the speaker unless ``overwrite``. Returns ``(model, path, files)``: the
    :class:`~gmmkit_apps.speech.ubm.SpeakerModel`, where it was written and the
    files used.
    """
    from .inputs import input_files

    return enroll_speakers(folder, ubm_path, {speaker: input_files(files)}, relevance=relevance, adapt=adapt,
                           overwrite=overwrite, conditions=conditions)[0]


def enroll_speakers(folder, ubm_path, groups, *, relevance=16.0, adapt="m", overwrite=False, progress=None,
                    conditions=None):
    """MAP-adapt the UBM in ``ubm_path`` to each speaker of ``groups`` (``{speaker: files}``,
    audio or ``.npy``) and store the models in ``folder``. With ``conditions`` (e.g.
    ``["clean", "noise10", "telephone"]``, audio only) each file is also used in degraded
    copies (multi-condition enrolment, :func:`gmmkit_apps.speech.inputs.condition_frames`). A UBM
    that band-passes its input (:data:`~gmmkit_apps.speech.inputs.BAND_KEY`) band-passes these too.

    Returns a list of ``(model, path, files)``, one per speaker, in the order of ``groups``.
    """
    from gmmkit.io import atomic_path

    from .corpus import load_ubm
    from .inputs import condition_frames, frames_of, input_band
    from .models import check_same_ubm, speaker_path
    from .speaker_cmvn import prior_of
    from .ubm import map_adapt, save_speaker

    folder = os.fspath(folder)
    targets = {s: speaker_path(folder, s) for s in groups}
    if not overwrite:
        for t in targets.values():
            if os.path.exists(t):
                raise OutputExistsError(f"{t} exists; pass --force to overwrite it")
    ubm, front_end = load_ubm(ubm_path)
    local = check_same_ubm(folder, ubm, ubm_path)
    prior, band = prior_of(ubm, ubm_path), input_band(ubm, ubm_path)

    def frames(files):
        if not conditions:
            return frames_of(files, front_end, prior=prior, band=band)
        return condition_frames(files, front_end, conditions, prior=prior, band=band)

    models = [(s, map_adapt(ubm, frames(files), name=s, relevance=relevance, adapt=adapt))
              for s, files in groups.items()]
    if not os.path.exists(local):
        with atomic_path(local) as tmp:
            shutil.copyfile(ubm_path, tmp)
    out = []
    for i, (s, model) in enumerate(models):
        save_speaker(model, targets[s], overwrite=overwrite, front_end=front_end.to_dict())
        out.append((model, targets[s], groups[s]))
        if progress is not None:
            progress(i + 1, len(models))
    return out
