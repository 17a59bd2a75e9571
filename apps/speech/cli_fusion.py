"""Fused speaker systems on the command line: ``gmmkit speech fusion`` and the ``--fusion`` option of
identify, verify and evaluate (registered by :mod:`gmmkit_apps.speech.cli_speaker`); also how those
commands pick their clean system and its impostor cohort."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from .cli_common import Force, Json, Quiet, _report

Fusion = Annotated[Optional[Path], typer.Option(
    "--fusion", help="Fusion file from 'speech fusion': score with every models folder it fuses (named in "
    "it, or given with --models in its order) and add their scores; with --detector it is the clean branch.")]
Models = Annotated[Optional[List[Path]], typer.Option(
    "--models", "-m", help="Models folder from 'enroll' (with --fusion: optional, the folders it fuses).")]
Cohort = Annotated[Optional[List[Path]], typer.Option(
    "--cohort", help="Impostor cohort for score normalisation: background files in a folder of one "
    "sub-folder per speaker, or a speaker,file CSV (repeatable).")]
TopN = Annotated[Optional[int], typer.Option(
    "--top-n", help="Adaptive normalisation: use the N closest cohort entries (AS-norm).")]
TopC = Annotated[int, typer.Option("--top-c", help="UBM components scored per frame.")]
Norm = Annotated[Optional[str], typer.Option(help="With --cohort: znorm, tnorm, snorm (default) or raw.")]


def check_norm(paths, norm):
    """The --norm of one models folder, checked against --cohort (before any work)."""
    from gmmkit.exceptions import ParameterError

    from .scorenorm import NORMS

    if norm is not None and norm not in NORMS:
        raise ParameterError(f"--norm {norm!r}: use one of {', '.join(NORMS)}")
    if norm not in (None, "raw") and not paths:
        raise ParameterError(f"--norm {norm} needs an impostor cohort (--cohort)")
    return norm or ("snorm" if paths else "raw")


def check_models(models, fusion):
    """Refuses, before any work, a number of --models that does not go with --fusion."""
    from gmmkit.exceptions import ParameterError

    if fusion is None and len(models or ()) != 1:
        raise ParameterError(f"give one models folder (--models), got {len(models or ())}; several go with --fusion")


def clean_system(models, fusion, cohort_paths, norm, top_n, branches=None, detector=None):
    """The clean system of identify / verify / evaluate and how it scores: ``(system, cohort, norm,
    top_n, router)``. A :class:`~gmmkit_apps.speech.fused_system.FusedSystem` with its folders'
    cohorts for ``--fusion`` (whose normalisation and AS-norm size are the fusion's own: ``--norm``
    and another ``--top-n`` are refused), else the one models folder; the router of ``branches``
    (:func:`~gmmkit_apps.speech.cli_route.parse_branches`; None: no routing). Everything is checked
    before the cohorts, the slow part, are made."""
    from gmmkit.exceptions import ParameterError

    from .cli_route import make_router
    from .corpus import load_model_set
    from .fused_system import load_fused, with_cohorts
    from .trials import load_cohort

    check_models(models, fusion)
    if fusion is None:
        norm = check_norm(cohort_paths, norm)
        ms = load_model_set(models[0])
    else:
        if norm is not None:
            raise ParameterError("--norm: a fusion scores with the normalisation it was fitted on")
        ms = load_fused(fusion, models or None)
        if top_n is not None and top_n != ms.fusion.top_n:
            raise ParameterError(f"--top-n {top_n}: {fusion} was fitted with "
                                 f"{'AS-norm top ' + str(ms.fusion.top_n) if ms.fusion.top_n else 'no --top-n'}")
        with_cohorts(ms, cohort_paths, load=False)  # the cohort's presence checked now
        norm, top_n = "fused", ms.fusion.top_n
    router = make_router(ms, branches, detector)
    coh = None
    if fusion is not None:
        with_cohorts(ms, cohort_paths)
    elif cohort_paths and norm != "raw":
        coh = load_cohort(ms, cohort_paths)
    if router is not None:
        from .condition_route import branch_cohort
        from .trials import _clean_cohort

        if _clean_cohort(ms, coh) is not None:  # normalised scores in every branch or in none
            router.cohorts = {c: branch_cohort(b, cohort_paths) for c, b in router.branches.items()}
    return ms, coh, norm, top_n, router


def fusion_cmd(
    enrolment: Annotated[Optional[List[Path]], typer.Argument(
        help="The files the models were enrolled on: folders of one sub-folder per speaker, or speaker,file "
        "CSV tables (cut into --folds development folds); or give --dev-trials instead.")] = None,
    models: Annotated[List[Path], typer.Option(
        "--models", "-m", help="Models folders to fuse (repeat: -m mfcc/ -m lfcc/), same speakers.")] = ...,
    out: Annotated[Path, typer.Option("--out", "-o", help="Fusion file to write.")] = ...,
    folds: Annotated[int, typer.Option(
        help="Development folds of each speaker's enrolment files: each in turn is scored against models "
        "enrolled on the others.")] = 3,
    dev_trials: Annotated[Optional[Path], typer.Option(
        "--dev-trials", help="A development trial list (speaker,file,target; never the evaluation trials) "
        "scored by the models folders as they are, instead of the enrolment folds.")] = None,
    cohort: Cohort = None,
    top_n: TopN = None,
    top_c: TopC = 5,
    p_target: Annotated[float, typer.Option(help="Effective target prior of the logistic regression.")] = 0.5,
    force: Force = False,
    json_out: Json = False,
    quiet: Quiet = False,
):
    """Learn a score fusion of models folders (e.g. an MFCC and an LFCC system) on development trials.

    Example: gmmkit speech fusion -m mfcc/ -m lfcc/ enrol.csv --cohort background.csv --top-n 50 -o fusion.gmm
    """
    import os
    from dataclasses import replace

    from gmmkit.cli.kit import check_output
    from gmmkit.exceptions import ParameterError

    from .corpus import load_model_set, read_trials
    from .fused_system import check_sets, fit_fold_fusion
    from .fusion import fit_trials_fusion, save_fusion
    from .inputs import speaker_groups
    from .metrics import eer

    check_output(out, force)
    if (dev_trials is None) == (not enrolment):
        raise ParameterError("give the enrolment lists (folds) or --dev-trials, one of them")
    if top_n is not None and (top_n < 1 or not cohort):
        raise ParameterError(f"--top-n {top_n}: at least 1, and with --cohort")
    if not 0.0 < p_target < 1.0:
        raise ParameterError(f"--p-target {p_target}: in (0, 1)")
    trials = read_trials(dev_trials) if dev_trials is not None else None
    groups = speaker_groups(enrolment) if enrolment else None
    sets = [load_model_set(m) for m in models]
    check_sets(sets)
    if trials is not None:
        from .trials import load_cohort

        cohorts = [load_cohort(m, cohort) for m in sets] if cohort else None
        fusion = fit_trials_fusion(sets, trials, cohorts=cohorts, top_n=top_n, top_c=top_c, p_target=p_target)
        fusion = replace(fusion, systems=tuple({**s, "folder": os.path.realpath(m.folder)}
                                               for s, m in zip(fusion.systems, sets)))
        dev = {"files": len(set(trials["path"])), "trials": len(trials)}
    else:
        fusion, dev = fit_fold_fusion(sets, groups, folds=folds, cohort_paths=cohort, top_n=top_n, top_c=top_c,
                                      p_target=p_target)
        y, scores = dev.pop("labels").ravel(), [S.ravel() for S in dev.pop("scores")]
        dev["eer"] = [eer(S, y)[0] for S in scores]  # each folder's, then the fusion's (in sample)
        dev["eer"].append(eer(fusion.apply(scores), y)[0])
        dev.pop("speakers")
    save_fusion(fusion, out, overwrite=force)
    summary = {"output": str(out), "folders": [m.folder for m in sets], "weights": fusion.weights.tolist(),
               "offset": fusion.offset, "norm": fusion.norm, "top_n": fusion.top_n, "dev": dev}
    _report(summary, json_out, quiet,
            f"{out}: fused score = {fusion.offset:.3f} + "
            + " + ".join(f"{w:.3f} x {m.folder}" for w, m in zip(fusion.weights, sets))
            + f" ({fusion.norm} scores; learned on {dev['files']} development files, {dev['trials']} trials)",
            *([] if "eer" not in dev else [
                "development EER (in sample for the fusion): " + ", ".join(
                    f"{n} {100 * e:.2f}%" for n, e in zip([m.folder for m in sets] + ["fused"], dev["eer"]))]))
