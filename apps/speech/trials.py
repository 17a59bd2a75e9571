"""Scoring audio against a models folder: identification, verification and trial lists.

Each function takes a loaded :class:`~gmmkit_apps.speech.corpus.ModelSet` and
audio (or ``.npy`` feature) file paths, and returns plain Python results (what
``gmmkit speech identify / verify / evaluate`` print). With an impostor cohort
(:func:`load_cohort`) scores are also Z-, T- and S-normalised
(:mod:`gmmkit_apps.speech.scorenorm`); identification can then be open-set
("none of these" below a threshold).
"""
from __future__ import annotations

import os

import numpy as np

from gmmkit.exceptions import DataError

from .inputs import frames_of, input_band
from .scorenorm import NORMS

__all__ = ["NONE", "load_cohort", "score_files", "identify", "verify", "TrialEvaluation", "evaluate_trials"]

#: What open-set identification answers for a file below the threshold.
NONE = "<none>"


def _check_threshold(threshold):
    import math

    from gmmkit.exceptions import ParameterError

    if threshold is not None and not math.isfinite(threshold):
        raise ParameterError(f"threshold must be a finite number, got {threshold!r}")


def load_cohort(model_set, paths, *, max_size=None, conditions=None):
    """An impostor cohort for ``model_set`` from background files: folders of one sub-folder
    per speaker or speaker,file tables (:func:`~gmmkit_apps.speech.inputs.speaker_groups`);
    with ``conditions``, every file's copies under them (:func:`~gmmkit_apps.speech.inputs.condition_frames`)."""
    from .inputs import condition_frames, input_band, speaker_groups
    from .scorenorm import build_cohort

    frames, labels = [], []
    for s, fs in speaker_groups(paths).items():
        got = _frames(model_set, fs) if conditions is None else \
            condition_frames(fs, model_set.front_end, conditions, prior=model_set.prior,
                             band=input_band(model_set.ubm, model_set.folder))
        frames += got
        labels += [s] * len(got)
    return build_cohort(model_set.ubm, frames, labels, max_size=max_size)


def _frames(model_set, files):
    """Each file's frames as the models folder's UBM was trained on them (front end, CMVN prior and
    band-pass)."""
    band = input_band(model_set.ubm, model_set.folder)
    return frames_of(files, model_set.front_end, prior=model_set.prior, band=band)


def _score_frames(model_set, frames, speakers, top_c):
    from .ubm import score_frames, stack_speakers

    stack = stack_speakers(model_set.ubm, speakers)
    return np.stack([score_frames(model_set.ubm, stack, F, top_c=top_c) for F in frames])


def _matrices(model_set, frames, speakers, top_c, cohort, top_n, norms):
    """{"raw": scores, and each of ``norms`` when there is a cohort}, files (``frames``) x ``speakers``."""
    out = {"raw": _score_frames(model_set, frames, speakers, top_c)}
    if cohort is not None and set(norms) - {"raw"}:
        out.update(_normalised(model_set, frames, speakers, out["raw"], cohort, top_c, top_n))
    return out


def _system_frames(system, files):
    """:func:`_frames` of a models folder; of a fused system, one tuple per file (each folder's frames)."""
    from .fused_system import FusedSystem

    if isinstance(system, FusedSystem):
        return list(zip(*[_frames(m, files) for m in system.sets]))
    return _frames(system, files)


def _system_matrices(system, frames, speakers, top_c, cohort, top_n, norms):
    """:func:`_matrices` of a models folder; a :class:`~gmmkit_apps.speech.fused_system.FusedSystem`
    (``frames`` from :func:`_system_frames`; its own cohorts) gives ``{"fused": scores, "members":
    [each folder's {norm: scores}]}``, the folders' over ``norms`` and the fusion's."""
    from .fused_system import FusedSystem, fuse, member_matrices

    if not isinstance(system, FusedSystem):
        return _matrices(system, frames, speakers, top_c, cohort, top_n, norms)
    norms = sorted({system.norm, *(n for n in norms if n == "raw" or (system.cohorts and n in NORMS))})
    mats = member_matrices(system, [list(F) for F in zip(*frames)], [s.name for s in speakers], top_c, norms)
    return {"fused": fuse(system, mats), "members": mats}


def _clean_cohort(model_set, cohort):
    """The clean system's cohort as :meth:`Router.systems` wants it (a fused system holds its own)."""
    from .fused_system import FusedSystem

    return (model_set.cohorts or None) if isinstance(model_set, FusedSystem) else cohort


def _routed_matrices(model_set, files, speakers, top_c, cohort, top_n, norms, router):
    """As :func:`_matrices`, each file scored by the branch ``router`` picks (None: no routing,
    every file clean); also each file's class (``"clean"`` = ``model_set``). With a fused clean
    system only ``"fused"`` is pooled: its scores, and the other branches' of the fusion's norm."""
    from .condition import CLEAN
    from .fused_system import FusedSystem

    if router is None:
        frames = _system_frames(model_set, files)
        return _system_matrices(model_set, frames, speakers, top_c, cohort, top_n, norms), np.full(len(files), CLEAN)
    from .condition_route import route_frames

    fused = isinstance(model_set, FusedSystem)
    classes, frames = route_frames(router, model_set, files)  # each file read once
    out = {}
    for c, (ms, coh) in router.systems(model_set, _clean_cohort(model_set, cohort)).items():
        sel = classes == c
        if sel.any():
            spk = speakers if ms is model_set else [ms.speaker(s.name) for s in speakers]
            got = _system_matrices(ms, [F for F, s in zip(frames, sel) if s], spk, top_c, coh, top_n,
                                   [model_set.norm] if fused else norms)
            if fused:
                got = {"fused": got["fused"] if ms is model_set else got[model_set.norm]}
            for m, M in got.items():
                out.setdefault(m, np.zeros((len(files), len(speakers))))[sel] = M
    return out, classes


def _check_cohorts(router, cohort):
    if router is not None and cohort is not None and any(router.cohorts.get(c) is None for c in router.branches):
        missing = [c for c in router.branches if router.cohorts.get(c) is None]
        raise DataError(f"routed normalised scores need a cohort for every branch (none for {', '.join(missing)})")


def score_files(model_set, files, *, top_c=5, speakers=None, cohort=None, norm="snorm", top_n=None, router=None):
    """Scores (n_files, n_speakers): each file's average log-likelihood ratio against the UBM
    under each speaker model (``speakers``: a subset of ``model_set.speakers``); with a
    ``cohort``, normalised by ``norm`` (znorm, tnorm or snorm; ``top_n``: adaptive). With a
    :class:`~gmmkit_apps.speech.condition_route.Router`, each file is scored by the models (and
    normalised by the cohort) of the branch its detector names; files it calls clean by ``model_set``."""
    return _scored(model_set, files, top_c, speakers, cohort, norm, top_n, router)[0]


def _scored(model_set, files, top_c, speakers, cohort, norm, top_n, router):
    """:func:`score_files`'s scores and each file's condition class (``"clean"`` without a router)."""
    from .fused_system import FusedSystem

    speakers = model_set.speakers if speakers is None else speakers
    norm = "fused" if isinstance(model_set, FusedSystem) else "raw" if cohort is None else norm
    _check_cohorts(router, _clean_cohort(model_set, cohort) if norm != "raw" else None)
    M, classes = _routed_matrices(model_set, files, speakers, top_c, cohort, top_n, [norm], router)
    return M[norm], classes


def _normalised(model_set, frames, speakers, S, cohort, top_c, top_n):
    from .scorenorm import cohort_scores, normalise

    zc, tc = cohort_scores(model_set.ubm, cohort, speakers, frames, top_c=top_c)
    return normalise(S, zc, tc, [s.name for s in speakers], cohort.labels, top_n=top_n)


def identify(model_set, files, *, top_c=5, cohort=None, norm="snorm", top_n=None, threshold=None, router=None):
    """Identification: ``(rows, scores)``; one row per file with the best-scoring speaker, its
    score and its margin over the runner-up; ``scores`` as :func:`score_files`. With a
    ``threshold`` it is open-set: a file whose best score is below it is :data:`NONE`. With a
    ``router`` each row also names the ``condition`` (branch) that scored the file."""
    _check_threshold(threshold)
    S, classes = _scored(model_set, files, top_c, None, cohort, norm, top_n, router)
    rows = []
    for f, s, c in zip(files, S, classes):
        b = int(np.argmax(s))
        runner_up = np.sort(s)[-2] if s.size > 1 else 0.0
        known = threshold is None or s[b] >= threshold
        rows.append({"file": f, "speaker": model_set.names[b] if known else NONE, "best": model_set.names[b],
                     "score": float(s[b]), "margin": float(s[b] - runner_up)})
        if router is not None:
            rows[-1]["condition"] = str(c)
    return rows, S


def verify(model_set, file, speaker, *, threshold, top_c=5, cohort=None, norm="snorm", top_n=None, router=None):
    """Accept or reject the claim that ``file`` is ``speaker``: accept when score >= threshold
    (with a ``router``, ``condition`` names the branch that scored the file)."""
    _check_threshold(threshold)
    spk = model_set.speaker(speaker)
    S, classes = _scored(model_set, [file], top_c, [spk], cohort, norm, top_n, router)
    score = float(S[0, 0])
    out = {"file": str(file), "speaker": speaker, "score": score, "threshold": float(threshold),
           "decision": "accept" if score >= threshold else "reject"}
    return out if router is None else {**out, "condition": str(classes[0])}


class TrialEvaluation:
    """What :func:`evaluate_trials` found: ``summary`` (a dict of the metrics), the per-trial
    ``scores`` and ``labels`` (True for target trials), and the trial table ``trials``."""

    def __init__(self, summary, scores, labels, trials):
        self.summary, self.scores, self.labels, self.trials = summary, scores, labels, trials

    @property
    def threshold(self):
        """The EER threshold."""
        return self.summary["eer_threshold"]

    def score_table(self):
        """The trial table with a 0/1 ``target`` column and each trial's ``score``."""
        return self.trials.drop(columns=["path"]).assign(target=self.labels.astype(int), score=self.scores)


def evaluate_trials(model_set, trials, *, top_c=5, p_target=0.01, cohort=None, top_n=None, router=None):
    """Verification metrics on a trial list (:func:`~gmmkit_apps.speech.corpus.read_trials`).

    Every file is scored once against every speaker. Returns a
    :class:`TrialEvaluation` whose ``summary`` holds the numbers of trials and
    target trials, the EER and its threshold, the minimum normalised detection
    cost at ``p_target`` and, over the files whose true speaker is enrolled, the
    closed-set identification accuracy. With a ``cohort`` the summary's ``normalised``
    entry holds the same numbers for Z-, T- and S-normalised scores, and ``scores``
    are the S-normalised ones. With a ``router`` each file is scored by the branch its detector
    picks (:func:`score_files`); ``summary["routed"]`` counts the files per class and
    ``summary["degraded_files"]`` those sent to a branch other than clean. With a fused system
    (:class:`~gmmkit_apps.speech.fused_system.FusedSystem`, its own cohorts) the metrics are the
    fused scores', ``summary["fusion"]`` describes it and, unrouted, ``summary["systems"]`` gives
    each folder alone (raw and normalised). Raises DataError for missing audio files or speakers
    without a model.
    """
    from .metrics import eer, min_dcf

    source = trials.attrs.get("source", "trial list")
    files = list(dict.fromkeys(trials["path"]))
    missing = [p for p in files if not os.path.isfile(p)]
    if missing:
        raise DataError(f"{source}: {len(missing)} audio file(s) not found, first {missing[0]}")
    unknown = sorted(set(trials["speaker"]) - set(model_set.names))
    if unknown:
        raise DataError(f"{source}: speaker(s) {', '.join(unknown[:5])} have no model in "
                        f"{model_set.folder}")
    _check_cohorts(router, _clean_cohort(model_set, cohort))
    M, classes = _routed_matrices(model_set, files, model_set.speakers, top_c, cohort, top_n, NORMS, router)
    row = {f: i for i, f in enumerate(files)}
    col = {n: j for j, n in enumerate(model_set.names)}
    labels = trials["target"].to_numpy(bool)
    truth = {f: s for f, s, t in zip(trials["path"], trials["speaker"], labels) if t}

    def metrics(M):
        scores = np.array([M[row[f], col[s]] for f, s in zip(trials["path"], trials["speaker"])])
        e, thr = eer(scores, labels)
        out = {"eer": e, "eer_threshold": thr, "min_dcf": min_dcf(scores, labels, p_target=p_target)[0]}
        if truth:
            out["identification_accuracy"] = float(np.mean(
                [model_set.names[int(np.argmax(M[row[f]]))] == s for f, s in truth.items()]))
        return out, scores

    fused = "fused" in M  # a fused system: its scores, and each folder alone (raw and normalised)
    raw, scores = metrics(M["fused" if fused else "raw"])
    summary = {"trials": int(len(trials)), "targets": int(labels.sum()), **raw, "p_target": p_target}
    if fused:
        summary["fusion"] = {"source": model_set.source, "norm": model_set.norm, "top_n": model_set.fusion.top_n,
                             "pooled_scale": bool(model_set.pooled)}
        if M.get("members"):
            summary["systems"] = [
                {"folder": ms.folder, **metrics(mm["raw"])[0],
                 "normalised": {m: metrics(mm[m])[0] for m in ("znorm", "tnorm", "snorm") if m in mm}}
                for ms, mm in zip(model_set.sets, M["members"])]
    if truth:
        summary["identification_files"] = len(truth)
    if router is not None:
        from .condition import CLEAN

        summary["routed"] = {c: int(np.sum(classes == c)) for c in router.detector.classes}
        summary["degraded_files"] = int(np.sum(classes != CLEAN))
    if cohort is not None and not fused:
        summary["normalised"] = {m: metrics(M[m])[0] for m in ("znorm", "tnorm", "snorm")}
        summary["cohort"] = len(cohort.labels)
        summary["top_n"] = top_n
        scores = metrics(M["snorm"])[1]
    return TrialEvaluation(summary, scores, labels, trials)
