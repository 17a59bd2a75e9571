"""Condition-specific speaker systems and a condition detector: each test file is scored by the
system of the condition the detector of :mod:`gmmkit_apps.speech.condition` names for it.

A :class:`Router` holds one models folder per degraded class of the detector (e.g. ``noise`` and
``band``; the two-class detector's single ``degraded`` class takes one), the detector and each
branch's impostor cohort; files the detector calls clean are scored by the clean models folder
given beside it. :func:`gmmkit_apps.speech.trials.score_files`, ``identify``, ``verify`` and
``evaluate_trials`` take it as ``router=``. Every folder must hold the same speakers at the
detector's sample rate (each checked against its own UBM when loaded); a branch whose detector
class was trained on band-limited copies (``telephone``) must band-pass its input, as recorded in
its UBM (``gmmkit speech ubm --band-pass 300-3400``). Scores of different systems are on one
scale only after normalisation, so give every branch a cohort when a threshold or an EER is pooled
over files routed to different branches; identification (each file's best speaker) does not need it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from gmmkit.exceptions import ModelFileError, ParameterError

__all__ = ["Router", "load_router", "routes", "route_frames", "train_detector_files", "check_degradations",
           "branch_cohort", "BAND_CONDITIONS"]

#: Degradations that band-limit a signal: a branch for a class trained only on them must band-pass its input.
BAND_CONDITIONS = ("telephone",)


@dataclass
class Router:
    """``branches`` ({class: :class:`~gmmkit_apps.speech.corpus.ModelSet`}, one per degraded class
    of ``detector``, a :class:`~gmmkit_apps.speech.condition.ConditionDetector`) and ``cohorts``
    ({class: impostor cohort}, each made like its branch's UBM data: :func:`branch_cohort`)."""

    branches: dict
    detector: object
    cohorts: dict = field(default_factory=dict)

    @property
    def degraded(self):
        """The one degraded branch of a two-class router."""
        if len(self.branches) != 1:
            raise ParameterError(f"this router has {len(self.branches)} branches ({', '.join(self.branches)})")
        return next(iter(self.branches.values()))

    def systems(self, clean_set, cohort=None):
        """{class: (models, cohort)} for every class, clean first; the branches' cohorts only when
        the clean one is given (normalised scores in every branch or in none)."""
        from .condition import CLEAN

        out = {CLEAN: (clean_set, cohort)}
        out.update({c: (ms, None if cohort is None else self.cohorts.get(c)) for c, ms in self.branches.items()})
        return out


def load_router(clean_set, branches, detector_path):
    """A :class:`Router` for ``clean_set`` from ``branches`` ({class: models folder}, or one folder
    for a two-class detector) and a detector file. Refuses classes that are not the detector's,
    folders with other speakers or sample rates, a folder given twice, and a branch for band-limited
    files whose UBM does not band-pass its input. A fused clean system
    (:class:`~gmmkit_apps.speech.fused_system.FusedSystem`) is marked ``pooled``: its scores are put
    on the branches' scale."""
    from .condition import CLEAN, load_detector
    from .corpus import load_model_set
    from .inputs import input_band

    detector = load_detector(detector_path)
    wanted = list(detector.degraded_classes)
    if not isinstance(branches, dict):
        if len(wanted) != 1:
            raise ParameterError(f"{detector_path}: the detector has {len(wanted)} degraded classes "
                                 f"({', '.join(wanted)}); give one models folder per class "
                                 f"({' '.join(f'--branch {c}=DIR' for c in wanted)})")
        branches = {wanted[0]: branches}
    if sorted(branches) != sorted(wanted):
        raise ParameterError(f"{detector_path}: the detector routes to {', '.join(wanted)} (besides {CLEAN}), "
                             f"but the branches given are {', '.join(branches) or 'none'}")
    from .fused_system import FusedSystem

    fused = isinstance(clean_set, FusedSystem)
    if fused:
        clean_set.pooled = True  # pooled with the branches' normalised scores: on their scale
    sets, seen = {}, {os.path.realpath(m.folder): f"the clean models ({m.folder})"
                      for m in (clean_set.sets if fused else [clean_set])}
    for c in wanted:
        ms = load_model_set(branches[c])
        where = os.path.realpath(ms.folder)
        if where in seen:
            raise ParameterError(f"{branches[c]}: the models folder of '{c}' is also {seen[where]}")
        seen[where] = f"the models of '{c}'"
        if sorted(ms.names) != sorted(clean_set.names):
            only = sorted(set(clean_set.names) ^ set(ms.names))
            raise ModelFileError(f"{clean_set.folder} and {ms.folder} enrol different speakers "
                                 f"({', '.join(only[:5])} in only one); enrol the same speakers in both")
        kinds = detector.conditions.get(c, [])
        if kinds and all(k in BAND_CONDITIONS for k in kinds) and input_band(ms.ubm, ms.folder) is None:
            raise ModelFileError(f"{ms.folder}: branch '{c}' gets band-limited files (the detector's {c} class "
                                 f"is {', '.join(kinds)}), but its UBM does not band-pass its input; "
                                 "make it with 'gmmkit speech ubm --band-pass 300-3400'")
        sets[c] = ms
    for ms in (clean_set, *sets.values()):
        if ms.front_end.sr != detector.sr:
            raise ModelFileError(f"{detector_path}: detector trained at {detector.sr} Hz, but {ms.folder} "
                                 f"works at {ms.front_end.sr} Hz")
    return Router(sets, detector)


def route_frames(router, clean_set, files):
    """Each file's class (array of str) and its frames as its branch's front end makes them (the
    clean class: ``clean_set``'s; a fused clean system: one tuple per file, each folder's frames);
    every audio file is read once, for the detector and the features.
    ``.npy`` feature files hold no spectrum to judge, and are refused."""
    from .condition import channel_stats
    from .features import load_audio
    from .fused_system import FusedSystem
    from .inputs import input_band, require_audio, signal_frames

    systems = {c: ms for c, (ms, _) in router.systems(clean_set).items()}
    sr = router.detector.sr
    classes, frames = [], []
    for p in files:
        y = load_audio(require_audio(p, "the condition detector"), sr)
        c = router.detector.detect(channel_stats(y, sr))[0]
        sets = systems[c].sets if isinstance(systems[c], FusedSystem) else [systems[c]]
        got = tuple(signal_frames(y, ms.front_end, prior=ms.prior, band=input_band(ms.ubm, ms.folder),
                                  source=os.fspath(p)) for ms in sets)
        frames.append(got if isinstance(systems[c], FusedSystem) else got[0])
        classes.append(c)
    return np.array(classes, dtype=object), frames


def routes(detector, files):
    """True for each file the detector does not call clean (audio only: a ``.npy`` feature file
    holds no spectrum to judge, and is refused)."""
    from .condition import CLEAN
    from .features import load_audio
    from .inputs import require_audio

    return np.array([detector.detect_audio(load_audio(require_audio(p, "the condition detector"), detector.sr),
                                           detector.sr) != CLEAN for p in files], dtype=bool)


def branch_cohort(model_set, paths):
    """The impostor cohort of ``model_set`` from background ``paths``, degraded like its UBM's
    training data (the conditions recorded in ``ubm.gmm``) and band-passed as it is: cohort and
    models then match."""
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


def check_classes(classes):
    """``{class: [degradations]}`` checked: names of letters, digits, '_' or '-', not 'clean',
    each with at least one known degradation (ParameterError otherwise)."""
    from .condition import CLEAN, check_class_name

    if not classes:
        raise ParameterError("name at least one degraded class (e.g. noise=noise10,noise20 band=telephone)")
    for c, kinds in classes.items():
        if check_class_name(c) == CLEAN:
            raise ParameterError(f"class '{CLEAN}' is the undegraded files; name the degraded classes only")
        check_degradations(kinds)
    return {c: list(k) for c, k in classes.items()}


def _class_stats(files, classes, sr, seed, progress):
    """{class: channel-statistics rows} of ``files`` (clean) and their copies under each class's degradations."""
    from .condition import CLEAN, channel_stats
    from .inputs import audio_copies

    kinds = [k for ks in classes.values() for k in ks]
    of = {k: c for c, ks in classes.items() for k in ks}
    out = {CLEAN: [], **{c: [] for c in classes}}
    for i, (_, y, made) in enumerate(audio_copies(files, sr, kinds, seed=seed,
                                                  purpose="training the condition detector")):
        out[CLEAN].append(channel_stats(y, sr))
        for k, yk in made:
            out[of[k]].append(channel_stats(yk, sr))
        if progress is not None:
            progress(i + 1, len(files))
    return out


def train_detector_files(clean_files, conditions, *, sr=8000, outlier_quantile=0.01, seed=0, progress=None,
                         margin=0.0, dev_files=None, dev_conditions=None):
    """A detector trained on audio files and their degraded copies. ``conditions``: a list of
    degradations (names of :func:`gmmkit_apps.speech.augment.conditions` other than ``clean``) for a
    clean / degraded detector, or ``{class: degradations}`` for named classes. With ``dev_files``
    the margin is chosen on them and their copies under each class's degradations, or under
    ``dev_conditions`` ({class: degradations}, every class named)
    (:func:`~gmmkit_apps.speech.condition.choose_margin`; other noise samples than training's), else
    ``margin``. Returns ``(detector, dev)``: dev = ``(margin, misrouted, files)`` or None."""
    from .condition import CLASSES, choose_margin, train_detector_classes

    classes = check_classes(conditions if isinstance(conditions, dict) else {CLASSES[1]: list(conditions)})
    if dev_conditions and sorted(check_classes(dev_conditions)) != sorted(classes):
        raise ParameterError(f"development classes {', '.join(dev_conditions)}: name each of {', '.join(classes)}")
    data = _class_stats(clean_files, classes, sr, seed, progress)
    det = train_detector_classes(data, sr=sr, outlier_quantile=outlier_quantile, trained_on=classes, margin=margin,
                                 random_state=seed)
    dev = None
    if dev_files:
        dev_data = _class_stats(dev_files, dev_conditions or classes, sr, seed + 104729, None)
        dev = choose_margin(det, {c: np.vstack(X) for c, X in dev_data.items()})
        det.margin = dev[0]
    return det, dev
