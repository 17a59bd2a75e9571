"""Two speaker systems and a condition detector: each test file is scored by the clean system or by
the degraded (multi-condition) one, as the detector of :mod:`gmmkit_apps.speech.condition` decides.

A :class:`Router` holds the degraded models folder, the detector and the degraded system's impostor
cohort; :func:`gmmkit_apps.speech.trials.score_files`, ``identify``, ``verify`` and
``evaluate_trials`` take it as ``router=`` beside the clean models folder. Both folders must hold
the same speakers (each checked against its own UBM when loaded). Scores of the two systems are on
one scale only after normalisation, so give both a cohort when a threshold or an EER is pooled
over files routed to different branches; identification (each file's best speaker) does not need it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from gmmkit.exceptions import ModelFileError, ParameterError

__all__ = ["Router", "load_router", "routes", "train_detector_files", "check_degradations", "branch_cohort"]


@dataclass
class Router:
    """The degraded system (:class:`~gmmkit_apps.speech.corpus.ModelSet`), the detector
    (:class:`~gmmkit_apps.speech.condition.ConditionDetector`) and the degraded system's cohort."""

    degraded: object
    detector: object
    cohort: object = None


def load_router(clean_set, degraded_folder, detector_path):
    """A :class:`Router` for ``clean_set`` from a second models folder and a detector file; refuses
    folders with different speakers or sample rates and a detector made for another rate."""
    from .condition import load_detector
    from .corpus import load_model_set

    degraded = load_model_set(degraded_folder)
    if os.path.realpath(degraded.folder) == os.path.realpath(clean_set.folder):
        raise ParameterError(f"{degraded_folder}: the degraded models folder is the clean one")
    if sorted(degraded.names) != sorted(clean_set.names):
        only = sorted(set(clean_set.names) ^ set(degraded.names))
        raise ModelFileError(f"{clean_set.folder} and {degraded.folder} enrol different speakers "
                             f"({', '.join(only[:5])} in only one); enrol the same speakers in both")
    detector = load_detector(detector_path)
    for ms in (clean_set, degraded):
        if ms.front_end.sr != detector.sr:
            raise ModelFileError(f"{detector_path}: detector trained at {detector.sr} Hz, but {ms.folder} "
                                 f"works at {ms.front_end.sr} Hz")
    return Router(degraded, detector)


def routes(detector, files):
    """True for each file the detector calls degraded (audio only: a ``.npy`` feature file holds
    no spectrum to judge, and is refused)."""
    from .features import load_audio
    from .inputs import require_audio

    return np.array([detector.detect_audio(load_audio(require_audio(p, "the condition detector"), detector.sr),
                                           detector.sr) == "degraded" for p in files], dtype=bool)


def branch_cohort(model_set, paths):
    """The impostor cohort of ``model_set`` from background ``paths``, degraded like its UBM's
    training data (the conditions recorded in ``ubm.gmm``): cohort and models then match."""
    from .trials import load_cohort

    conditions = list((getattr(model_set.ubm, "fit_metadata_", None) or {}).get("speech_conditions", ["clean"]))
    return load_cohort(model_set, paths, conditions=None if conditions == ["clean"] else conditions)


def check_degradations(names):
    """The degradation names (of :func:`gmmkit_apps.speech.augment.conditions`), 'clean' refused."""
    from .augment import check_conditions

    names = check_conditions(names)
    if not names or "clean" in names:
        raise ParameterError("degradations: name at least one, and not 'clean' (e.g. noise10,noise20,telephone)")
    return names


def train_detector_files(clean_files, conditions, *, sr=8000, outlier_quantile=0.01, seed=0, progress=None):
    """A detector trained on audio files and their degraded copies (``conditions``, names of
    :func:`gmmkit_apps.speech.augment.conditions` other than ``clean``)."""
    from .condition import channel_stats, train_detector
    from .inputs import audio_copies

    conditions = check_degradations(conditions)
    clean, degraded = [], []
    copies = audio_copies(clean_files, sr, conditions, seed=seed, purpose="training the condition detector")
    for i, (_, y, made) in enumerate(copies):
        clean.append(channel_stats(y, sr))
        degraded += [channel_stats(c, sr) for _, c in made]
        if progress is not None:
            progress(i + 1, len(clean_files))
    return train_detector(clean, degraded, sr=sr, outlier_quantile=outlier_quantile, trained_on=conditions,
                          random_state=seed)
