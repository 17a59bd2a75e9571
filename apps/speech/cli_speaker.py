"""``gmmkit speech ubm / enroll / identify / verify / evaluate``: GMM-UBM speaker recognition."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from .cli_common import (
    Denoise,
    Filterbank,
    Force,
    Json,
    NMfcc,
    Quiet,
    Rasta,
    Sr,
    VadMethod,
    Warp,
    _emit_json,
    _front_end,
    _note,
    _report,
    _save_png,
)
from .cli_fusion import (
    Cohort,
    Fusion,
    Models,
    Norm,
    TopC,
    TopN,
    check_models,
    check_norm,
    clean_system,
    fusion_cmd,
)
from .cli_route import Branch, DegradedModels, Detector, detector_cmd, parse_branches

commands = typer.Typer()
MultiCondition = Annotated[Optional[str], typer.Option(
    "--multi-condition", help="Also train on degraded copies made on the fly, e.g. "
    "noise10,noise20,telephone (white noise at 10/20 dB SNR, 300-3400 Hz band); audio only.")]


def _conditions(text):
    """['clean', ...] from a --multi-condition list (names checked now, before any long work)."""
    if text is None:
        return None
    from .augment import check_conditions

    return check_conditions(["clean", *text.split(",")])


# ---------------------------------------------------------------------------- speakers
@commands.command("ubm")
def ubm_cmd(
    data: Annotated[List[Path], typer.Argument(
        help="Background speakers' audio or .npy feature files ('speech features'): files or folders.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="UBM model file to write.")],
    components: Annotated[int, typer.Option("--components", "-k", help="Diagonal Gaussians (64-512).")] = 64,
    max_iter: Annotated[int, typer.Option(help="EM iterations at most.")] = 100,
    max_frames: Annotated[Optional[int], typer.Option(help="Train on a random subset of frames.")] = None,
    sr: Sr = 8000,
    n_mfcc: NMfcc = 20,
    warp: Warp = 0.0,
    rasta: Rasta = False,
    denoise: Denoise = False,
    vad_method: VadMethod = "energy",
    filterbank: Filterbank = "mel",
    multi_condition: MultiCondition = None,
    cmvn_prior: Annotated[float, typer.Option(
        "--cmvn-prior", help="Normalise each file by its mean/variance shrunk towards the background's, "
        "with a prior worth this many frames (300 = 3 s; short prompts keep their voice); 0 = plain CMVN. "
        ".npy inputs must then be made with 'speech features --no-cmvn'.")] = 0.0,
    band_pass: Annotated[Optional[str], typer.Option(
        "--band-pass", help="LO-HI Hz, e.g. 300-3400: band-pass every input first (a telephone-band system); "
        "recorded in the UBM, so enrolment and scoring with it band-pass theirs too (audio only).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    force: Force = False,
    json_out: Json = False,
    quiet: Quiet = False,
):
    """Train a universal background model on background speakers.

    Example: gmmkit speech ubm background/ -k 256 -o ubm.gmm
    """
    import time

    from gmmkit.cli.kit import Progress, check_output
    from gmmkit.exceptions import ParameterError

    from .inputs import BAND_KEY, condition_frames, frames_of, input_files, parse_band
    from .ubm import train_ubm

    check_output(out, force)
    if max_iter < 1 or components < 1:  # checked before the features are made
        raise ParameterError(f"--max-iter {max_iter} / -k {components}: both must be at least 1")
    if not (cmvn_prior >= 0 and cmvn_prior < float("inf")) or (cmvn_prior and warp):
        raise ParameterError(f"--cmvn-prior {cmvn_prior}: a number of frames >= 0, and not with --warp")
    fe = _front_end(sr, n_mfcc, cmvn=not cmvn_prior, warp=warp, rasta=rasta, vad_method=vad_method,
                    denoise=denoise, filterbank=filterbank)
    conditions = _conditions(multi_condition)
    band = None if band_pass is None else parse_band(band_pass)
    if band is not None and not band[1] < sr / 2:
        raise ParameterError(f"--band-pass {band_pass}: the band must end below {sr / 2:g} Hz (half of --sr)")
    files = input_files(data)
    t0 = time.perf_counter()
    with Progress(enabled=not (quiet or json_out), delay=1.0) as bar:
        task = bar.task("MFCC features", total=len(files))
        feats = frames_of(files, fe, progress=task, band=band) if conditions is None else \
            condition_frames(files, fe, conditions, seed=seed, progress=task, band=band)
    meta = {} if band is None else {BAND_KEY: list(band)}
    if cmvn_prior:
        from .speaker_cmvn import META_KEY, fit_prior

        prior = fit_prior(feats, frames=cmvn_prior)
        feats = [prior.apply(f) for f in feats]
        meta[META_KEY] = prior.to_dict()
    t1 = time.perf_counter()
    n = sum(len(f) for f in feats)
    _note(quiet or json_out, f"{len(files)} files, {n} speech frames x {fe.dim} in {t1 - t0:.1f} s; "
                             f"training {components} components")
    ubm = train_ubm(feats, components, max_iter=max_iter, max_frames=max_frames, random_state=seed)
    ubm.fit_metadata_ = dict(getattr(ubm, "fit_metadata_", {}) or {}, speech_front_end=fe.to_dict(),
                             speech_files=len(files), speech_conditions=conditions or ["clean"], **meta)
    ubm.save(out, overwrite=force)
    summary = {"output": str(out), "files": len(files), "frames": n, "components": components,
               "n_iter": int(ubm.n_iter_), "converged": bool(ubm.converged_),
               "seconds": round(time.perf_counter() - t1, 2)}
    _report(summary, json_out, quiet, f"{out}: {summary['n_iter']} EM iterations in {summary['seconds']} s"
                                      f"{'' if ubm.converged_ else ' (not converged)'}")


@commands.command("enroll")
def enroll_cmd(
    files: Annotated[List[Path], typer.Argument(
        help="With --speaker: the speaker's audio or .npy files or folders. Without: folders of one "
        "sub-folder per speaker, or speaker,file CSV tables (many speakers in one run).")],
    ubm: Annotated[Path, typer.Option("--ubm", help="UBM file from 'gmmkit speech ubm'.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Models folder (gets ubm.gmm and <speaker>.spk).")],
    speaker: Annotated[Optional[str], typer.Option(
        "--speaker", "-s", help="Speaker name (letters, digits, . _ -); omit to enrol many.")] = None,
    relevance: Annotated[float, typer.Option(help="MAP relevance factor.")] = 16.0,
    adapt: Annotated[str, typer.Option(help="Adapt means (m), weights (w), variances (v): e.g. m, mwv.")] = "m",
    multi_condition: MultiCondition = None,
    force: Force = False,
    json_out: Json = False,
    quiet: Quiet = False,
):
    """MAP-adapt the UBM to speakers and store their models in the models folder.

    Examples: gmmkit speech enroll --ubm ubm.gmm --speaker alice alice/*.wav -o models/
              gmmkit speech enroll --ubm ubm.gmm speakers/ -o models/   (one sub-folder per speaker)
    """
    from .enroll import enroll_speakers
    from .inputs import input_files, speaker_groups

    groups = {speaker: input_files(files)} if speaker is not None else speaker_groups(files)
    done = enroll_speakers(out, ubm, groups, relevance=relevance, adapt=adapt, overwrite=force,
                           conditions=_conditions(multi_condition))
    summary = [{"speaker": m.name, "output": t, "files": len(p), "frames": m.n_frames} for m, t, p in done]
    _report(summary[0] if speaker is not None else summary, json_out, quiet,
            *(f"{r['output']}: {r['speaker']} enrolled from {r['files']} files ({r['frames']} speech frames)"
              for r in summary))


commands.command("condition-detector")(detector_cmd)


commands.command("fusion")(fusion_cmd)


@commands.command("identify")
def identify_cmd(
    files: Annotated[List[Path], typer.Argument(help="Audio or .npy feature files to identify.")],
    models: Models = None,
    fusion: Fusion = None,
    top_c: TopC = 5,
    cohort: Cohort = None,
    norm: Norm = None,
    top_n: TopN = None,
    threshold: Annotated[Optional[float], typer.Option(
        help="Open set: a file whose best score is below this is 'none of these' (<none>).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write all scores as CSV.")] = None,
    detector: Detector = None,
    branch: Branch = None,
    degraded_models: DegradedModels = None,
    force: Force = False,
    json_out: Json = False,
    quiet: Quiet = False,
):
    """Identification: the enrolled speaker with the highest score per file (open-set with --threshold).

    Example: gmmkit speech identify --models models/ unknown1.wav unknown2.wav
    """
    import pandas as pd

    from gmmkit.cli.kit import check_output
    from gmmkit.io import atomic_path

    from .inputs import input_files
    from .trials import _check_threshold, identify

    check_output(out, force)
    _check_threshold(threshold)
    check_models(models, fusion)
    branches = parse_branches(degraded_models, branch, detector)
    paths = input_files(files)  # cheap checks first
    ms, coh, norm, top_n, router = clean_system(models, fusion, cohort, norm, top_n, branches, detector)
    rows, S = identify(ms, paths, top_c=top_c, cohort=coh, norm=norm, top_n=top_n, threshold=threshold,
                       router=router)
    if out is not None:
        df = pd.DataFrame(S, columns=ms.names)
        df.insert(0, "file", paths)
        df.insert(1, "identified", [r["speaker"] for r in rows])
        if router is not None:
            df.insert(2, "condition", [r["condition"] for r in rows])
        with atomic_path(out, overwrite=force) as tmp:
            df.to_csv(tmp, index=False)
    if json_out:
        _emit_json(rows)
    elif not quiet:
        for r in rows:
            typer.echo(f"{r['file']}\t{r['speaker']}\tscore {r['score']:.3f}\tmargin {r['margin']:.3f}"
                       + (f"\tcondition {r['condition']}" if "condition" in r else ""))


@commands.command("verify")
def verify_cmd(
    file: Annotated[Path, typer.Argument(help="Audio (or .npy feature) file of the claimed speaker.")],
    speaker: Annotated[str, typer.Option("--speaker", "-s", help="Claimed identity.")],
    models: Models = None,
    fusion: Fusion = None,
    threshold: Annotated[Optional[float], typer.Option(
        help="Accept when score >= threshold; default: the one 'evaluate --save-threshold' stored, else 0 "
        "(with --fusion: 0, the fused score being a log-likelihood ratio).")] = None,
    top_c: TopC = 5,
    cohort: Cohort = None,
    norm: Norm = None,
    top_n: TopN = None,
    detector: Detector = None,
    branch: Branch = None,
    degraded_models: DegradedModels = None,
    json_out: Json = False,
    quiet: Quiet = False,
):
    """Verification: accept or reject a claimed identity (exit code 0 either way; see the output).

    Example: gmmkit speech verify --models models/ --speaker alice call.wav
    """
    from gmmkit.exceptions import ParameterError

    from .inputs import input_files
    from .models import stored_threshold
    from .trials import _check_threshold, verify

    _check_threshold(threshold)
    check_models(models, fusion)
    branches = parse_branches(degraded_models, branch, detector)
    path = input_files([file])[0]
    if branches is not None and threshold is None:
        raise ParameterError("routed scores need their own --threshold (the stored one is for --models alone)")
    if fusion is None and check_norm(cohort, norm) != "raw" and threshold is None:
        raise ParameterError("normalised scores need their own --threshold (the stored one is for raw scores)")
    if fusion is not None and threshold is None:
        threshold = 0.0  # a fused score is a log-likelihood ratio
    ms, coh, norm, top_n, router = clean_system(models, fusion, cohort, norm, top_n, branches, detector)
    ms.speaker(speaker)  # an unknown speaker fails before the scoring
    r = verify(ms, path, speaker, threshold=stored_threshold(models[0]) if threshold is None else threshold,
               top_c=top_c, cohort=coh, norm=norm, top_n=top_n, router=router)
    r["file"] = str(file)
    if json_out:
        _emit_json(r)
    elif not quiet:
        typer.echo(f"{r['decision']}\t{speaker}\tscore {r['score']:.3f}\tthreshold {r['threshold']:.3f}"
                   + (f"\tcondition {r['condition']}" if "condition" in r else ""))
    else:
        typer.echo(r["decision"])


@commands.command("evaluate")
def evaluate_cmd(
    trials: Annotated[Path, typer.Argument(help="Trial list CSV: speaker,file,target (paths relative to it).")],
    models: Models = None,
    fusion: Fusion = None,
    top_c: TopC = 5,
    p_target: Annotated[float, typer.Option(help="Target prior of the detection cost.")] = 0.01,
    cohort: Cohort = None,
    top_n: TopN = None,
    det: Annotated[Optional[Path], typer.Option(help="Save the DET curve (PNG).")] = None,
    scores_out: Annotated[Optional[Path], typer.Option("--scores", help="Write trial scores as CSV.")] = None,
    save_threshold: Annotated[bool, typer.Option(
        help="Store the EER threshold in the models folder (threshold.json) for 'verify'.")] = False,
    detector: Detector = None,
    branch: Branch = None,
    degraded_models: DegradedModels = None,
    force: Force = False,
    json_out: Json = False,
    quiet: Quiet = False,
):
    """Verification performance on a trial list: EER, minDCF, closed-set identification accuracy, DET curve;
    with --cohort also Z-, T- and S-normalised (the DET curve and --scores then show S-norm).

    Example: gmmkit speech evaluate --models models/ trials.csv --cohort background/ --det det.png
    """
    import os

    from gmmkit.cli.kit import check_outputs, require_matplotlib
    from gmmkit.exceptions import ParameterError
    from gmmkit.io import atomic_path

    from .corpus import read_trials
    from .models import THRESHOLD_FILE, store_threshold
    from .trials import evaluate_trials

    check_outputs(det, scores_out, force=force)
    check_models(models, fusion)
    branches = parse_branches(degraded_models, branch, detector)
    if save_threshold and (fusion is not None or branches is not None):
        raise ParameterError("--save-threshold stores the threshold of one models folder: not with --fusion or "
                             "--detector")
    if save_threshold:
        check_outputs(os.path.join(models[0], THRESHOLD_FILE), force=force)
    if det is not None:
        require_matplotlib("--det")  # fail before the scoring, not after
    df = read_trials(trials)
    ms, coh, _, top_n, router = clean_system(models, fusion, cohort, None, top_n, branches, detector)
    ev = evaluate_trials(ms, df, top_c=top_c, p_target=p_target, cohort=coh, top_n=top_n, router=router)
    result = ev.summary
    if scores_out is not None:
        with atomic_path(scores_out, overwrite=force) as tmp:
            ev.score_table().to_csv(tmp, index=False)
    if det is not None:
        import matplotlib.pyplot as plt

        from .metrics import plot_det

        fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=90)
        plot_det(ev.scores, ev.labels, ax=ax)
        _save_png(fig, det, force)
    if save_threshold:
        store_threshold(models[0], ev.threshold, source=trials, eer=result["eer"])
    if json_out:
        _emit_json(result)
    elif not quiet:
        kind = "fused" if "fusion" in result else "raw"
        typer.echo(f"trials {result['trials']} ({result['targets']} target)  {kind} EER {100 * result['eer']:.2f}% "
                   f"(threshold {ev.threshold:.3f})  minDCF(p={p_target:g}) {result['min_dcf']:.3f}")
        if "routed" in result:
            typer.echo("detector: " + ", ".join(f"{n} {c}" for c, n in result["routed"].items())
                       + f" of {len(set(df['path']))} files")
        if "identification_accuracy" in result:
            typer.echo(f"closed-set identification {100 * result['identification_accuracy']:.1f}% "
                       f"of {result['identification_files']} files")
        for m, r in result.get("normalised", {}).items():
            ident = f"  identification {100 * r['identification_accuracy']:.1f}%" \
                if "identification_accuracy" in r else ""
            typer.echo(f"{m:5s}  EER {100 * r['eer']:.2f}% (threshold {r['eer_threshold']:.3f})  "
                       f"minDCF {r['min_dcf']:.3f}{ident}")
        for r in result.get("systems", []):
            typer.echo(f"{r['folder']} alone: " + "  ".join(
                f"{m} EER {100 * v['eer']:.2f}%" + (f" identification {100 * v['identification_accuracy']:.1f}%"
                                                     if "identification_accuracy" in v else "")
                for m, v in (("raw", r), *r["normalised"].items())))
