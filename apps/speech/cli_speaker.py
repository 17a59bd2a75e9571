"""``gmmkit speech ubm / enroll / identify / verify / evaluate``: GMM-UBM speaker recognition."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from .cli_common import Force, Json, NMfcc, Quiet, Sr, _emit_json, _front_end, _note, _save_png

commands = typer.Typer()


# ---------------------------------------------------------------------------- speakers
@commands.command("ubm")
def ubm_cmd(
    data: Annotated[List[Path], typer.Argument(help="Background speakers' audio: files or folders.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="UBM model file to write.")],
    components: Annotated[int, typer.Option("--components", "-k", help="Diagonal Gaussians (64-512).")] = 64,
    max_iter: Annotated[int, typer.Option(help="EM iterations at most.")] = 100,
    max_frames: Annotated[Optional[int], typer.Option(help="Train on a random subset of frames.")] = None,
    sr: Sr = 8000,
    n_mfcc: NMfcc = 20,
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

    from .corpus import audio_files, features_of
    from .ubm import train_ubm

    check_output(out, force)
    fe = _front_end(sr, n_mfcc)
    files = audio_files(data)
    t0 = time.perf_counter()
    with Progress(enabled=not (quiet or json_out), delay=1.0) as bar:
        feats = features_of(files, fe, progress=bar.task("MFCC features", total=len(files)))
    t1 = time.perf_counter()
    n = sum(len(f) for f in feats)
    _note(quiet or json_out, f"{len(files)} files, {n} speech frames x {fe.dim} in {t1 - t0:.1f} s; "
                             f"training {components} components")
    ubm = train_ubm(feats, components, max_iter=max_iter, max_frames=max_frames, random_state=seed)
    ubm.fit_metadata_ = dict(getattr(ubm, "fit_metadata_", {}) or {}, speech_front_end=fe.to_dict(),
                             speech_files=len(files))
    ubm.save(out, overwrite=force)
    summary = {"output": str(out), "files": len(files), "frames": n, "components": components,
               "n_iter": int(ubm.n_iter_), "converged": bool(ubm.converged_),
               "seconds": round(time.perf_counter() - t1, 2)}
    if json_out:
        _emit_json(summary)
    else:
        _note(quiet, f"{out}: {summary['n_iter']} EM iterations in {summary['seconds']} s"
                     f"{'' if ubm.converged_ else ' (not converged)'}")


@commands.command("enroll")
def enroll_cmd(
    files: Annotated[List[Path], typer.Argument(help="The speaker's audio files or folders.")],
    ubm: Annotated[Path, typer.Option("--ubm", help="UBM file from 'gmmkit speech ubm'.")],
    speaker: Annotated[str, typer.Option("--speaker", "-s", help="Speaker name (letters, digits, . _ -).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Models folder (gets ubm.gmm and <speaker>.spk).")],
    relevance: Annotated[float, typer.Option(help="MAP relevance factor.")] = 16.0,
    adapt: Annotated[str, typer.Option(help="Adapt means (m), weights (w), variances (v): e.g. m, mwv.")] = "m",
    force: Force = False,
    json_out: Json = False,
    quiet: Quiet = False,
):
    """MAP-adapt the UBM to one speaker and store the model in the models folder.

    Example: gmmkit speech enroll --ubm ubm.gmm --speaker alice alice/*.wav -o models/
    """
    from .models import enroll

    model, target, paths = enroll(out, ubm, speaker, files, relevance=relevance, adapt=adapt,
                                  overwrite=force)
    summary = {"speaker": speaker, "output": target, "files": len(paths), "frames": model.n_frames}
    if json_out:
        _emit_json(summary)
    else:
        _note(quiet, f"{target}: {speaker} enrolled from {len(paths)} files ({model.n_frames} speech frames)")


TopC = Annotated[int, typer.Option("--top-c", help="UBM components scored per frame.")]


@commands.command("identify")
def identify_cmd(
    files: Annotated[List[Path], typer.Argument(help="Audio files to identify.")],
    models: Annotated[Path, typer.Option("--models", "-m", help="Models folder from 'enroll'.")],
    top_c: TopC = 5,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write all scores as CSV.")] = None,
    force: Force = False,
    json_out: Json = False,
    quiet: Quiet = False,
):
    """Closed-set identification: the enrolled speaker with the highest score, per file.

    Example: gmmkit speech identify --models models/ unknown1.wav unknown2.wav
    """
    import pandas as pd

    from gmmkit.cli.kit import check_output
    from gmmkit.io import atomic_path

    from .corpus import audio_files, load_model_set
    from .trials import identify

    check_output(out, force)
    paths = audio_files(files)  # cheap checks first
    ms = load_model_set(models)
    rows, S = identify(ms, paths, top_c=top_c)
    if out is not None:
        df = pd.DataFrame(S, columns=ms.names)
        df.insert(0, "file", paths)
        df.insert(1, "identified", [r["speaker"] for r in rows])
        with atomic_path(out, overwrite=force) as tmp:
            df.to_csv(tmp, index=False)
    if json_out:
        _emit_json(rows)
    elif not quiet:
        for r in rows:
            typer.echo(f"{r['file']}\t{r['speaker']}\tscore {r['score']:.3f}\tmargin {r['margin']:.3f}")


@commands.command("verify")
def verify_cmd(
    file: Annotated[Path, typer.Argument(help="Audio file of the claimed speaker.")],
    models: Annotated[Path, typer.Option("--models", "-m", help="Models folder from 'enroll'.")],
    speaker: Annotated[str, typer.Option("--speaker", "-s", help="Claimed identity.")],
    threshold: Annotated[Optional[float], typer.Option(
        help="Accept when score >= threshold; default: the one 'evaluate --save-threshold' stored, else 0.")] = None,
    top_c: TopC = 5,
    json_out: Json = False,
    quiet: Quiet = False,
):
    """Verification: accept or reject a claimed identity (exit code 0 either way; see the output).

    Example: gmmkit speech verify --models models/ --speaker alice call.wav
    """
    from .corpus import audio_files, load_model_set
    from .models import stored_threshold
    from .trials import verify

    path = audio_files([file])[0]
    ms = load_model_set(models)
    ms.speaker(speaker)  # an unknown speaker fails before the scoring
    r = verify(ms, path, speaker, threshold=stored_threshold(models) if threshold is None else threshold,
               top_c=top_c)
    r["file"] = str(file)
    if json_out:
        _emit_json(r)
    elif not quiet:
        typer.echo(f"{r['decision']}\t{speaker}\tscore {r['score']:.3f}\tthreshold {r['threshold']:.3f}")
    else:
        typer.echo(r["decision"])


@commands.command("evaluate")
def evaluate_cmd(
    trials: Annotated[Path, typer.Argument(help="Trial list CSV: speaker,file,target (paths relative to it).")],
    models: Annotated[Path, typer.Option("--models", "-m", help="Models folder from 'enroll'.")],
    top_c: TopC = 5,
    p_target: Annotated[float, typer.Option(help="Target prior of the detection cost.")] = 0.01,
    det: Annotated[Optional[Path], typer.Option(help="Save the DET curve (PNG).")] = None,
    scores_out: Annotated[Optional[Path], typer.Option("--scores", help="Write trial scores as CSV.")] = None,
    save_threshold: Annotated[bool, typer.Option(
        help="Store the EER threshold in the models folder (threshold.json) for 'verify'.")] = False,
    force: Force = False,
    json_out: Json = False,
    quiet: Quiet = False,
):
    """Verification performance on a trial list: EER, minDCF, closed-set identification accuracy, DET curve.

    Example: gmmkit speech evaluate --models models/ trials.csv --det det.png
    """
    from gmmkit.cli.kit import check_outputs, require_matplotlib
    from gmmkit.io import atomic_path

    from .corpus import load_model_set, read_trials
    from .models import store_threshold
    from .trials import evaluate_trials

    check_outputs(det, scores_out, force=force)
    if det is not None:
        require_matplotlib("--det")  # fail before the scoring, not after
    df = read_trials(trials)
    ev = evaluate_trials(load_model_set(models), df, top_c=top_c, p_target=p_target)
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
        store_threshold(models, ev.threshold, source=trials, eer=result["eer"])
    if json_out:
        _emit_json(result)
    elif not quiet:
        typer.echo(f"trials {result['trials']} ({result['targets']} target)  EER {100 * result['eer']:.2f}% "
                   f"(threshold {ev.threshold:.3f})  minDCF(p={p_target:g}) {result['min_dcf']:.3f}")
        if "identification_accuracy" in result:
            typer.echo(f"closed-set identification {100 * result['identification_accuracy']:.1f}% "
                       f"of {result['identification_files']} files")
