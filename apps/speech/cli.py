"""``gmmkit speech``: MFCC features, phoneme/word GMM classifiers, GMM-UBM speaker recognition.

A thin Typer layer over :mod:`gmmkit_apps.speech`; heavy modules load inside the commands.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, List, Optional

import typer

app = typer.Typer(
    name="speech", no_args_is_help=True, add_completion=False,
    help="""Speech with Gaussian mixtures: MFCC front end, phoneme/word classifiers, GMM-UBM speakers.

Example (speaker recognition):

  gmmkit speech ubm background/ -o ubm.gmm

  gmmkit speech enroll --ubm ubm.gmm --speaker alice alice/*.wav -o models/

  gmmkit speech identify --models models/ unknown.wav
""")
phonemes = typer.Typer(no_args_is_help=True, add_completion=False, help="""Phoneme or word classifier: one GMM per class.

Example: gmmkit speech phonemes train segments.csv -o phones.gmmc --split train
""")
app.add_typer(phonemes, name="phonemes")

Force = Annotated[bool, typer.Option("--force", "-f", help="Overwrite an existing output file.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors (and --json).")]
Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
Sr = Annotated[int, typer.Option("--sr", help="Sampling rate every input is resampled to.")]
NMfcc = Annotated[int, typer.Option("--n-mfcc", help="MFCCs per frame (deltas triple the dimension).")]


def _note(quiet, msg):
    if not quiet:
        typer.echo(msg, err=True)


def _emit_json(obj):
    typer.echo(json.dumps(obj, indent=1))


def _front_end(sr=8000, n_mfcc=20, vad=True, cmvn=True):
    from .features import FrontEnd

    return FrontEnd(sr=sr, n_mfcc=n_mfcc, vad=vad, cmvn=cmvn)


# ---------------------------------------------------------------------------- features
@app.command("features")
def features_cmd(
    audio: Annotated[List[Path], typer.Argument(help="Audio files or folders (searched recursively).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for one <name>.npy per file.")],
    sr: Sr = 8000,
    n_mfcc: NMfcc = 20,
    vad: Annotated[bool, typer.Option("--vad/--no-vad", help="Keep only speech frames.")] = True,
    cmvn: Annotated[bool, typer.Option("--cmvn/--no-cmvn", help="Mean/variance-normalise.")] = True,
    json_out: Json = False,
    quiet: Quiet = False,
):
    """Write MFCC + delta + delta-delta frames (float32 .npy, one row per 10 ms) for each audio file.

    Example: gmmkit speech features clips/*.wav -o feats/
    """
    import numpy as np
    from gmmkit.exceptions import ParameterError
    from gmmkit.io import atomic_path

    from .corpus import audio_files
    from .features import extract

    fe = _front_end(sr, n_mfcc, vad, cmvn)
    files = audio_files(audio)
    names = [os.path.splitext(os.path.basename(f))[0] for f in files]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})[0]
        raise ParameterError(f"two inputs would both be written as {dup}.npy; give distinct file names")
    report = []
    for f, n in zip(files, names):
        F = extract(f, fe)
        target = os.path.join(out, n + ".npy")
        with atomic_path(target) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, F)
        report.append({"file": f, "output": target, "frames": int(F.shape[0]), "dim": int(F.shape[1])})
        _note(quiet or json_out, f"{f}: {F.shape[0]} frames x {F.shape[1]} -> {target}")
    if json_out:
        _emit_json(report)


# ---------------------------------------------------------------------------- phonemes
def _sequences_from(inputs, fe, split):
    """(sequences, labels or None, names) from a segment CSV, a class-per-folder tree or audio files."""
    from .corpus import audio_files, features_of, labelled_folder, read_segments, segment_frames

    if len(inputs) == 1 and str(inputs[0]).lower().endswith(".csv"):
        df = read_segments(inputs[0], split=split)
        labels = None if df["label"].isna().all() else df["label"].tolist()
        names = [f"{f}@{s:.3f}-{e:.3f}" for f, s, e in zip(df["file"], df["start"], df["end"])]
        return segment_frames(df, fe), labels, names
    if len(inputs) == 1 and os.path.isdir(inputs[0]) and any(
            os.path.isdir(os.path.join(inputs[0], d)) for d in os.listdir(inputs[0])):
        files, labels = labelled_folder(inputs[0])
        return features_of(files, fe), labels, files
    files = audio_files(inputs)
    return features_of(files, fe), None, files


@phonemes.command("train")
def phonemes_train(
    data: Annotated[Path, typer.Argument(help="Segment table (CSV: file,start,end,phone[,split]) or a "
                                              "folder with one sub-folder of audio per class.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Classifier file to write.")],
    components: Annotated[int, typer.Option("--components", "-k", help="Components per class.")] = 4,
    covariance_type: Annotated[str, typer.Option("--covariance-type", help="diag, full, tied or spherical.")] = "diag",
    priors: Annotated[str, typer.Option(help="Class priors: empirical or uniform.")] = "empirical",
    split: Annotated[Optional[str], typer.Option(help="Use only CSV rows with this 'split' value.")] = None,
    min_count: Annotated[int, typer.Option(help="Drop classes with fewer training sequences.")] = 1,
    sr: Sr = 8000,
    n_mfcc: NMfcc = 20,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    force: Force = False,
    json_out: Json = False,
    quiet: Quiet = False,
):
    """Train one GMM per phoneme (or word) class.

    Example: gmmkit speech phonemes train datasets/speech/phonemes/segments.csv --split train -o phones.gmmc
    """
    import collections

    from .classifier import GMMClassifier
    from .corpus import check_new_output

    check_new_output(out, force)
    fe = _front_end(sr, n_mfcc, vad=False)
    seqs, labels, _ = _sequences_from([data], fe, split)
    if labels is None:
        from gmmkit.exceptions import DataError

        raise DataError(f"{data}: no labels (need a 'phone' or 'label' column, or one sub-folder per class)")
    counts = collections.Counter(labels)
    keep = [i for i, lab in enumerate(labels) if counts[lab] >= min_count]
    clf = GMMClassifier(components, covariance_type=covariance_type, priors=priors, random_state=seed)
    clf.fit([seqs[i] for i in keep], [labels[i] for i in keep])
    clf.save(out, overwrite=force, extra={"speech_front_end": fe.to_dict()})
    summary = {"output": str(out), "classes": len(clf.classes_), "sequences": len(keep),
               "frames": int(sum(len(seqs[i]) for i in keep))}
    if json_out:
        _emit_json(summary)
    else:
        _note(quiet, f"{out}: {summary['classes']} classes from {summary['sequences']} sequences "
                     f"({summary['frames']} frames)")


@phonemes.command("classify")
def phonemes_classify(
    inputs: Annotated[List[Path], typer.Argument(help="Segment table (CSV), class-per-folder tree, or audio files.")],
    model: Annotated[Path, typer.Option("--model", "-m", help="Classifier file from 'phonemes train'.")],
    split: Annotated[Optional[str], typer.Option(help="Use only CSV rows with this 'split' value.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write predictions as CSV.")] = None,
    confusion: Annotated[Optional[Path], typer.Option(help="Save a confusion-matrix picture (PNG).")] = None,
    force: Force = False,
    json_out: Json = False,
    quiet: Quiet = False,
):
    """Classify segments or files; with true labels, print accuracy and the confusion matrix.

    Example: gmmkit speech phonemes classify datasets/speech/phonemes/segments.csv --split test -m phones.gmmc
    """
    import numpy as np
    import pandas as pd
    from gmmkit.io import atomic_path

    from .classifier import GMMClassifier
    from .corpus import check_new_output
    from .features import FrontEnd

    for p in (out, confusion):
        if p is not None:
            check_new_output(p, force)
    if confusion is not None:
        _matplotlib("--confusion")
    clf, extra = GMMClassifier.load(model)
    fe = FrontEnd.from_dict(extra.get("speech_front_end") or {"vad": False})
    seqs, labels, names = _sequences_from(inputs, fe, split)
    proba = clf.predict_proba(seqs)
    pred = clf.classes_[proba.argmax(axis=1)]
    table = pd.DataFrame({"input": names, "predicted": pred, "probability": proba.max(axis=1)})
    result = {"n": len(pred)}
    if labels is not None:
        table.insert(1, "true", labels)
        truth = np.asarray(labels)
        result["accuracy"] = float(np.mean(truth == pred))
        known = np.isin(truth, clf.classes_)
        result["unknown_classes"] = int((~known).sum())
        classes = list(clf.classes_)
        cm = pd.crosstab(pd.Categorical(truth[known], categories=classes),
                         pd.Categorical(pred[known], categories=classes), dropna=False)
        cm.index.name, cm.columns.name = "true", "predicted"
        result["confusion"] = {"classes": classes, "matrix": cm.values.tolist()}
        if confusion is not None:
            _plot_confusion(cm, confusion, result["accuracy"], force)
    if out is not None:
        with atomic_path(out, overwrite=force) as tmp:
            table.to_csv(tmp, index=False)
    if json_out:
        result["predictions"] = table.to_dict(orient="records")
        _emit_json(result)
    elif not quiet:
        if out is None:
            typer.echo(table.to_string(index=False, max_rows=40))
        if labels is not None:
            typer.echo(f"accuracy {100 * result['accuracy']:.1f}% on {len(pred)} inputs")


def _matplotlib(option):
    try:
        import matplotlib
    except ImportError:
        from gmmkit.exceptions import ParameterError

        raise ParameterError(f"{option} needs matplotlib: pip install 'gmmkit[plot]'") from None
    matplotlib.use("Agg")
    return matplotlib


def _plot_confusion(cm, path, accuracy, force):
    _matplotlib("--confusion")

    import matplotlib.pyplot as plt
    import numpy as np
    from gmmkit.io import atomic_path

    rows = cm.values.sum(axis=1, keepdims=True)
    frac = cm.values / np.maximum(rows, 1)
    n = len(cm)
    fig, ax = plt.subplots(figsize=(2 + 0.17 * n, 1.6 + 0.17 * n), dpi=90)
    ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), cm.columns, rotation=90, fontsize=7)
    ax.set_yticks(range(n), cm.index, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"confusion (row-normalised), accuracy {100 * accuracy:.1f}%", fontsize=9)
    fig.tight_layout()
    with atomic_path(path, overwrite=force) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


# ---------------------------------------------------------------------------- speakers
@app.command("ubm")
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

    from .corpus import audio_files, check_new_output, features_of
    from .ubm import train_ubm

    check_new_output(out, force)
    fe = _front_end(sr, n_mfcc)
    files = audio_files(data)
    t0 = time.perf_counter()
    feats = features_of(files, fe)
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


@app.command("enroll")
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
    import shutil

    from gmmkit.exceptions import ModelFileError
    from gmmkit.io import atomic_path

    from .corpus import SPEAKER_EXT, UBM_FILE, audio_files, check_new_output, features_of, load_ubm
    from .ubm import _check_name, map_adapt, save_speaker, ubm_fingerprint

    _check_name(speaker)
    target = os.path.join(out, speaker + SPEAKER_EXT)
    check_new_output(target, force)
    model_ubm, fe = load_ubm(ubm)
    local = os.path.join(out, UBM_FILE)
    if os.path.exists(local) and not os.path.samefile(local, ubm):
        other, _ = load_ubm(local)
        if ubm_fingerprint(other) != ubm_fingerprint(model_ubm):
            raise ModelFileError(f"{out} already holds models adapted from a different UBM ({local}); "
                                 "use another models folder")
    paths = audio_files(files)
    model = map_adapt(model_ubm, features_of(paths, fe), name=speaker, relevance=relevance, adapt=adapt)
    if not os.path.exists(local):
        with atomic_path(local) as tmp:
            shutil.copyfile(ubm, tmp)
    save_speaker(model, target, overwrite=force, front_end=fe.to_dict())
    summary = {"speaker": speaker, "output": target, "files": len(paths), "frames": model.n_frames}
    if json_out:
        _emit_json(summary)
    else:
        _note(quiet, f"{target}: {speaker} enrolled from {len(paths)} files ({model.n_frames} speech frames)")


def _score_files(ms, files, top_c, speakers=None):
    import numpy as np

    from .corpus import features_of
    from .ubm import score_frames

    speakers = ms.speakers if speakers is None else speakers
    return np.stack([score_frames(ms.ubm, speakers, F, top_c=top_c)
                     for F in features_of(files, ms.front_end)])


TopC = Annotated[int, typer.Option("--top-c", help="UBM components scored per frame.")]


@app.command("identify")
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
    from gmmkit.io import atomic_path

    from .corpus import audio_files, check_new_output, load_model_set

    if out is not None:
        check_new_output(out, force)
    paths = audio_files(files)  # cheap checks first
    ms = load_model_set(models)
    S = _score_files(ms, paths, top_c)
    best = S.argmax(axis=1)
    rows = [{"file": p, "speaker": ms.names[b], "score": float(S[i, b]),
             "margin": float(S[i, b] - (sorted(S[i])[-2] if S.shape[1] > 1 else 0.0))}
            for i, (p, b) in enumerate(zip(paths, best))]
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


@app.command("verify")
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

    paths = audio_files([file])
    ms = load_model_set(models)
    spk = ms.speaker(speaker)
    if threshold is None:
        threshold = _stored_threshold(models)
    score = float(_score_files(ms, paths, top_c, [spk])[0, 0])
    decision = "accept" if score >= threshold else "reject"
    if json_out:
        _emit_json({"file": str(file), "speaker": speaker, "score": score, "threshold": threshold,
                    "decision": decision})
    elif not quiet:
        typer.echo(f"{decision}\t{speaker}\tscore {score:.3f}\tthreshold {threshold:.3f}")
    else:
        typer.echo(decision)


THRESHOLD_FILE = "threshold.json"


def _stored_threshold(models):
    from gmmkit.exceptions import ModelFileError

    p = os.path.join(models, THRESHOLD_FILE)
    if not os.path.exists(p):
        return 0.0
    try:
        with open(p) as fh:
            return float(json.load(fh)["threshold"])
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise ModelFileError(f"{p}: unreadable threshold file ({exc})") from None


@app.command("evaluate")
def evaluate_cmd(
    trials: Annotated[Path, typer.Argument(help="Trial list CSV: speaker,file,target (paths relative to it).")],
    models: Annotated[Path, typer.Option("--models", "-m", help="Models folder from 'enroll'.")],
    top_c: TopC = 5,
    p_target: Annotated[float, typer.Option(help="Target prior of the detection cost.")] = 0.01,
    det: Annotated[Optional[Path], typer.Option(help="Save the DET curve (PNG).")] = None,
    scores_out: Annotated[Optional[Path], typer.Option("--scores", help="Write trial scores as CSV.")] = None,
    save_threshold: Annotated[bool, typer.Option(
        help=f"Store the EER threshold in the models folder ({THRESHOLD_FILE}) for 'verify'.")] = False,
    force: Force = False,
    json_out: Json = False,
    quiet: Quiet = False,
):
    """Verification performance on a trial list: EER, minDCF, closed-set identification accuracy, DET curve.

    Example: gmmkit speech evaluate --models models/ trials.csv --det det.png
    """
    import numpy as np
    from gmmkit.io import atomic_path

    from .corpus import check_new_output, load_model_set, read_trials
    from .metrics import eer, min_dcf

    for p in (det, scores_out):
        if p is not None:
            check_new_output(p, force)
    if det is not None:
        _matplotlib("--det")  # fail before the scoring, not after
    df = read_trials(trials)
    missing = [p for p in dict.fromkeys(df["path"]) if not os.path.isfile(p)]
    if missing:
        from gmmkit.exceptions import DataError

        raise DataError(f"{trials}: {len(missing)} audio file(s) not found, first {missing[0]}")
    ms = load_model_set(models)
    unknown = sorted(set(df["speaker"]) - set(ms.names))
    if unknown:
        from gmmkit.exceptions import DataError

        raise DataError(f"{trials}: speaker(s) {', '.join(unknown[:5])} have no model in {models}")
    files = list(dict.fromkeys(df["path"]))
    S = _score_files(ms, files, top_c)
    row = {f: i for i, f in enumerate(files)}
    col = {n: j for j, n in enumerate(ms.names)}
    scores = np.array([S[row[f], col[s]] for f, s in zip(df["path"], df["speaker"])])
    labels = df["target"].to_numpy(bool)
    e, thr = eer(scores, labels)
    dcf, _ = min_dcf(scores, labels, p_target=p_target)
    result = {"trials": int(len(df)), "targets": int(labels.sum()), "eer": e, "eer_threshold": thr,
              "min_dcf": dcf, "p_target": p_target}
    # closed-set identification on files whose true speaker is enrolled
    truth = {f: s for f, s, t in zip(df["path"], df["speaker"], labels) if t}
    if truth:
        hits = [ms.names[int(np.argmax(S[row[f]]))] == s for f, s in truth.items()]
        result["identification_accuracy"] = float(np.mean(hits))
        result["identification_files"] = len(hits)
    if scores_out is not None:
        with atomic_path(scores_out, overwrite=force) as tmp:
            df.drop(columns=["path"]).assign(target=labels.astype(int), score=scores).to_csv(tmp, index=False)
    if det is not None:
        _matplotlib("--det")
        import matplotlib.pyplot as plt

        from .metrics import plot_det

        fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=90)
        plot_det(scores, labels, ax=ax)
        fig.tight_layout()
        with atomic_path(det, overwrite=force) as tmp:
            fig.savefig(tmp, format="png")
        plt.close(fig)
    if save_threshold:
        with atomic_path(os.path.join(models, THRESHOLD_FILE)) as tmp:
            with open(tmp, "w") as fh:
                json.dump({"threshold": thr, "from": str(trials), "eer": e}, fh)
    if json_out:
        _emit_json(result)
    elif not quiet:
        typer.echo(f"trials {result['trials']} ({result['targets']} target)  EER {100 * e:.2f}% "
                   f"(threshold {thr:.3f})  minDCF(p={p_target:g}) {dcf:.3f}")
        if truth:
            typer.echo(f"closed-set identification {100 * result['identification_accuracy']:.1f}% "
                       f"of {result['identification_files']} files")


if __name__ == "__main__":  # pragma: no cover
    app(sys.argv[1:])
