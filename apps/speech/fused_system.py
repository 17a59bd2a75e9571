"""A fused speaker system from models folders: the score fusion of :mod:`gmmkit_apps.speech.fusion`
as the command line uses it (``gmmkit speech fusion``, and ``--fusion`` of identify, verify and
evaluate, alone or as the clean branch of a :class:`~gmmkit_apps.speech.condition_route.Router`).

:func:`fit_fold_fusion` learns the fusion as ``bench_speaker_clean.py`` does, from the enrolment
prompts only: each speaker's files, in file-name order, are cut into ``k`` consecutive blocks;
each block in turn is scored against models enrolled (in memory, with each folder's UBM,
relevance and adaptation) on the other blocks, and the fusion is fitted on the pooled scores.
The fusion file records each folder (its UBM's fingerprint, front end and path), so
:func:`load_fused` finds the folders or checks the ones given.

A :class:`FusedSystem` scores files with every folder (normalised by each folder's own cohort when
the fusion was fitted on normalised scores) and adds the scores: ``offset + sum_i w_i s_i``, a
log-likelihood ratio. As a router's clean branch its scores are pooled with the other branches'
normalised scores, so there they are put on that scale: ``sum_i w_i s_i / sum_i w_i`` (the
weighted mean of the folders' scores; an increasing map of the fused score, so the branch's own
identification and EER are unchanged; ``bench_speaker_fused.py``'s choice).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from gmmkit.exceptions import DataError, ModelFileError, ParameterError

__all__ = ["FusedSystem", "load_fused", "fit_fold_fusion", "dev_folds", "member_matrices", "fuse"]


@dataclass
class FusedSystem:
    """Models folders ``sets`` (:class:`~gmmkit_apps.speech.corpus.ModelSet`, in the fusion's
    order), the :class:`~gmmkit_apps.speech.fusion.LinearFusion` ``fusion`` read from ``source``, and
    each folder's impostor cohort (``cohorts``; None for a fusion of raw scores). ``pooled``: score
    on the normalised scale of other systems (a router's clean branch), not as a log-likelihood ratio."""

    sets: list
    fusion: object
    source: str
    cohorts: list | None = None
    pooled: bool = False

    @property
    def folder(self):
        return " + ".join(m.folder for m in self.sets)

    @property
    def names(self):
        return self.sets[0].names

    @property
    def speakers(self):
        return self.sets[0].speakers

    @property
    def front_end(self):
        return self.sets[0].front_end

    @property
    def norm(self):
        """The normalisation each folder's scores take before the fusion: "snorm" or "raw"."""
        return "snorm" if self.fusion.norm == "snorm" else "raw"

    def speaker(self, name):
        return self.sets[0].speaker(name)


def check_sets(model_sets):
    """Refuses fewer than two folders, a folder given twice, folders with other speakers or
    sample rates than the first."""
    if len(model_sets) < 2:
        raise ParameterError(f"a fusion needs at least two models folders (--models), got {len(model_sets)}")
    first, seen = model_sets[0], set()
    for ms in model_sets:
        where = os.path.realpath(ms.folder)
        if where in seen:
            raise ParameterError(f"{ms.folder}: models folder given twice")
        seen.add(where)
        if sorted(ms.names) != sorted(first.names):
            only = sorted(set(first.names) ^ set(ms.names))
            raise ModelFileError(f"{first.folder} and {ms.folder} enrol different speakers "
                                 f"({', '.join(only[:5])} in only one); enrol the same speakers in both")
        if ms.front_end.sr != first.front_end.sr:
            raise ModelFileError(f"{first.folder} works at {first.front_end.sr} Hz but {ms.folder} at "
                                 f"{ms.front_end.sr} Hz")


def load_fused(path, folders=None):
    """A :class:`FusedSystem` from a fusion file and its models folders: ``folders`` (checked
    against the fusion, in its order) or, when None, the folders the fusion file names.
    Refuses folders that are not those it was fitted on (another UBM or front end), in another
    number or order, or that do not hold the same speakers at one sample rate."""
    from .corpus import load_model_set
    from .fusion import load_fusion, system_records

    fusion = load_fusion(path)
    systems = list(fusion.systems)
    if not systems:
        raise ModelFileError(f"{path}: the fusion does not record the models folders it was fitted on "
                             "(make it with 'gmmkit speech fusion')")
    if folders is None:
        if any("folder" not in s for s in systems):
            raise ModelFileError(f"{path}: the fusion does not name its models folders; give them with --models")
        folders = [s["folder"] for s in systems]
    folders = [os.fspath(f) for f in folders]
    if len(folders) != len(systems):
        raise ParameterError(f"{path} fuses {len(systems)} models folders, {len(folders)} given "
                             f"({_named(systems)})")
    sets = [load_model_set(f) for f in folders]
    for i, (ms, want) in enumerate(zip(sets, systems)):
        got = system_records([ms])[0]
        fe = want.get("front_end") or {}  # settings a later front end adds are not in older files
        if got["ubm_fingerprint"] != want["ubm_fingerprint"] or any(
                got["front_end"].get(k) != v for k, v in fe.items()):
            raise ModelFileError(f"{ms.folder} is not system {i + 1} of {path} (another UBM or front end); "
                                 f"it fuses {_named(systems)}, in that order")
    check_sets(sets)
    return FusedSystem(sets, fusion, os.fspath(path))


def _named(systems):
    return " + ".join(s.get("folder", "?") for s in systems)


def with_cohorts(system, cohort_paths, *, load=True):
    """``system`` with each folder's cohort from ``cohort_paths`` (background files, as --cohort);
    refused when the fusion was fitted on other scores (raw against normalised). ``load=False``:
    the check only."""
    from .trials import load_cohort

    if system.norm == "snorm" and not cohort_paths:
        raise ParameterError(f"{system.source} was fitted on S-normalised scores: give the impostor cohort (--cohort)")
    if system.norm == "raw" and cohort_paths:
        raise ParameterError(f"{system.source} was fitted on raw scores: give no --cohort")
    if load:
        system.cohorts = [load_cohort(ms, cohort_paths) for ms in system.sets] if cohort_paths else None
    return system


def member_matrices(system, member_frames, names, top_c, norms=None):
    """Per folder of ``system``, ``{norm: scores}`` (files x ``names``) of its frames
    (``member_frames[i]``: the files as folder i's front end makes them); ``norms`` default to the
    fusion's only."""
    from .trials import _matrices

    norms = [system.norm] if norms is None else norms
    cohorts = system.cohorts or [None] * len(system.sets)
    return [_matrices(ms, F, [ms.speaker(n) for n in names], top_c, c, system.fusion.top_n, norms)
            for ms, F, c in zip(system.sets, member_frames, cohorts)]


def fuse(system, mats):
    """The fused scores of :func:`member_matrices`' output: the log-likelihood ratio, or, for a
    ``pooled`` system, the weighted mean of the folders' scores (see the module's docstring)."""
    llr = system.fusion.apply([m[system.norm] for m in mats])
    if not system.pooled:
        return llr
    return (llr - system.fusion.offset) / float(np.sum(system.fusion.weights))


def dev_folds(groups, k):
    """``[(enrol groups, [(file, speaker)])]``, one per fold: each speaker's files (``groups``:
    ``{speaker: files}``) sorted by name and cut into ``k`` consecutive blocks; block j is fold j's
    development test files, the others its enrolment."""
    if not (isinstance(k, int) and k >= 2):
        raise ParameterError(f"--folds {k!r}: at least 2")
    short = sorted(s for s, fs in groups.items() if len(fs) < k)
    if short:
        raise DataError(f"{short[0]}: {len(groups[short[0]])} enrolment file(s), fewer than the {k} folds")
    cut = {s: np.array_split(np.array(sorted(map(os.fspath, fs)), dtype=object), k) for s, fs in groups.items()}
    return [({s: [str(f) for i, b in enumerate(bl) if i != j for f in b] for s, bl in cut.items()},
             [(str(f), s) for s, bl in cut.items() for f in bl[j]]) for j in range(k)]


def _check_enrolment(ms, groups, frames):
    """Refuses enrolment lists that are not the ones ``ms``'s speakers were enrolled on (their
    frame counts differ), so development files can never be the test files."""
    for s, F in frames.items():
        n, want = sum(len(f) for f in F), ms.speaker(s).n_frames
        if want and n != want:
            raise DataError(f"{ms.folder}: {s} was enrolled on {want} frames, the {len(groups[s])} files given "
                            f"make {n}; give the files the models were enrolled on")


def fit_fold_fusion(model_sets, groups, *, folds=3, cohort_paths=None, top_n=None, top_c=5, p_target=0.5,
                    l2=1e-3, progress=None):
    """A :class:`~gmmkit_apps.speech.fusion.LinearFusion` of ``model_sets`` learned on ``folds``
    development folds of the enrolment files ``groups`` (``{speaker: files}``, the ones the models
    were enrolled on; :func:`dev_folds`); S-normalised with each folder's cohort from
    ``cohort_paths`` (AS-norm with ``top_n``), raw without. Returns ``(fusion, dev)``: dev has the
    numbers of development files and trials and the pooled development scores (a list, one
    (files x speakers) matrix per folder) and labels."""
    from .fusion import LinearFusion, fit_fusion, system_records
    from .trials import _matrices, load_cohort
    from .ubm import map_adapt

    check_sets(model_sets)
    names = list(model_sets[0].names)
    missing = sorted(set(names) ^ set(groups))
    if missing:
        raise DataError(f"the enrolment lists and {model_sets[0].folder} differ in speakers "
                        f"({', '.join(missing[:5])} in only one)")
    cut = dev_folds(groups, folds)
    norm = "snorm" if cohort_paths else "raw"
    mats = []
    for i, ms in enumerate(model_sets):
        files = [f for s in names for f in groups[s]]
        F, exact = _enrolment_frames(ms, files)
        F = dict(zip(files, F))
        if exact:
            _check_enrolment(ms, groups, {s: [F[f] for f in groups[s]] for s in names})
        coh = load_cohort(ms, cohort_paths) if cohort_paths else None
        blocks = []
        for enrol, dev in cut:
            spk = [map_adapt(ms.ubm, [F[f] for f in enrol[s]], name=s, relevance=ms.speaker(s).relevance,
                             adapt=ms.speaker(s).adapt) for s in names]
            blocks.append(_matrices(ms, [F[f] for f, _ in dev], spk, top_c, coh, top_n, [norm])[norm])
        mats.append(np.vstack(blocks))
        if progress is not None:
            progress(i + 1, len(model_sets))
    truth = np.array([s for _, dev in cut for _, s in dev], dtype=object)
    labels = truth[:, None] == np.array(names, dtype=object)[None, :]
    f = fit_fusion(mats, labels, p_target=p_target, l2=l2)
    fusion = LinearFusion(f.offset, f.weights, system_records(model_sets), norm, top_n)
    return fusion, {"files": int(labels.shape[0]), "trials": int(labels.size), "scores": mats, "labels": labels,
                    "speakers": names}


def _enrolment_frames(ms, files):
    """Each file's frames as ``ms``'s speakers were enrolled on them (its front end, CMVN prior and
    band-pass; for a multi-condition UBM every copy of the file under its conditions, stacked, with
    other noise samples than the enrolment's) and whether they are exactly the enrolment's."""
    from .inputs import condition_frames, input_band
    from .trials import _frames

    cond = list((getattr(ms.ubm, "fit_metadata_", None) or {}).get("speech_conditions", ["clean"]))
    if cond == ["clean"]:
        return _frames(ms, files), True
    got = [condition_frames([f], ms.front_end, cond, prior=ms.prior, band=input_band(ms.ubm, ms.folder))
           for f in files]
    return [np.vstack(g) for g in got], False
