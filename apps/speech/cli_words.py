"""``gmmkit speech phonemes`` and ``gmmkit speech words``: GMM classifiers and GMM-HMM word recognisers."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from .cli_common import Force, Json, NMfcc, Quiet, Sr, _emit_json, _front_end, _note, _report, _save_png
from .cli_words_inputs import (
    EdgePenalty,
    EntryStates,
    ExitStates,
    adapt_option,
    batch_features,
    edge_settings,
    extra_training,
    finish_batch,
    snrs,
    speeds,
    word_features,
)

phonemes = typer.Typer(no_args_is_help=True, add_completion=False,
                       help="""Phoneme or word classifier: one GMM per class.

Example: gmmkit speech phonemes train segments.csv -o phones.gmmc --split train
""")
words = typer.Typer(no_args_is_help=True, add_completion=False,
                    help="""Isolated-word recogniser: one left-to-right GMM-HMM per word, Viterbi recognition.

Example (FSDD-style names {word}_{speaker}_{n}.wav, or one sub-folder per word, or a table):

  gmmkit speech words train recordings/ -o digits.gmmw

  gmmkit speech words recognize -m digits.gmmw clip1.wav clip2.wav

  gmmkit speech words evaluate recordings/ --by-speaker --confusion confusion.png
""")


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

    from gmmkit.cli.kit import check_output

    from .classifier import GMMClassifier

    check_output(out, force)
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
    _report(summary, json_out, quiet, f"{out}: {summary['classes']} classes from {summary['sequences']} "
                                      f"sequences ({summary['frames']} frames)")


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
    import pandas as pd

    from gmmkit.cli.kit import check_outputs, require_matplotlib
    from gmmkit.io import atomic_path

    from .classifier import GMMClassifier
    from .features import FrontEnd
    from .metrics import classification_scores

    check_outputs(out, confusion, force=force)
    if confusion is not None:
        require_matplotlib("--confusion")
    clf, extra = GMMClassifier.load(model)
    fe = FrontEnd.from_dict(extra.get("speech_front_end") or {"vad": False}, source=str(model))
    seqs, labels, names = _sequences_from(inputs, fe, split)
    proba = clf.predict_proba(seqs)
    pred = clf.classes_[proba.argmax(axis=1)]
    table = pd.DataFrame({"input": names, "predicted": pred, "probability": proba.max(axis=1)})
    result = {"n": len(pred)}
    if labels is not None:
        table.insert(1, "true", labels)
        acc, unknown, cm = classification_scores(labels, pred, clf.classes_)
        classes = list(clf.classes_)
        result.update(accuracy=acc, unknown_classes=unknown,
                      confusion={"classes": classes, "matrix": cm.values.tolist()})
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


def _plot_confusion(cm, path, accuracy, force):
    import matplotlib.pyplot as plt
    import numpy as np

    rows = cm.values.sum(axis=1, keepdims=True)
    frac = cm.values / np.maximum(rows, 1)
    n, n_cols = len(cm.index), len(cm.columns)  # a rejection column may make it wider
    size = max(0.17, min(0.4, 4.0 / max(n, 1)))
    fig, ax = plt.subplots(figsize=(2 + size * n_cols, 1.6 + size * n), dpi=90)
    ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n_cols), cm.columns, rotation=90, fontsize=7)
    ax.set_yticks(range(n), cm.index, fontsize=7)
    if n <= 12:  # small matrices: the counts in the cells
        for i in range(n):
            for j in range(n_cols):
                if cm.values[i, j]:
                    ax.text(j, i, str(cm.values[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if frac[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"confusion (row-normalised), accuracy {100 * accuracy:.1f}%", fontsize=9)
    _save_png(fig, path, force)


# ---------------------------------------------------------------------------- words
Pattern = Annotated[Optional[str], typer.Option(
    "--pattern", help="File-name pattern with a {word} field, e.g. {word}_{speaker}_{n} (the default for "
                      "files and folders without one sub-folder per word).")]
MinSpeech = Annotated[int, typer.Option("--min-speech", help="Refuse inputs with fewer speech frames "
                                                             "(10 ms each) after voice activity detection.")]
VadDb = Annotated[float, typer.Option("--vad-db", help="Voice activity detection: keep frames within this many dB "
                                                       "of the loudest (40 keeps weak fricatives; FSDD, new speaker: "
                                                       "84.2% against 83.3% at 30, 87.35% against 85.55% with "
                                                       "--extra-train synthetic voices).")]


NoiseCopies = Annotated[Optional[str], typer.Option(
    "--noise-copies", help="Also train on copies of the audio (and of --extra-train) with white noise at "
                           "these SNRs in dB, e.g. 25 (multi-condition training: noisy recordings).")]


TestSpeeds = Annotated[Optional[str], typer.Option(
    "--test-speeds", help="Also score each input played at these speeds, e.g. 0.92,1.08, and keep each "
                          "word's best score per frame (a test-time speaker normalisation; recognition "
                          "takes 1 + n times longer).")]
Perturb = Annotated[Optional[str], typer.Option(
    "--perturb", help="Also train on copies of the audio played at these speeds, e.g. 0.92,1.08 "
                      "(speed perturbation: more voices for speaker-independent models; training "
                      "takes 1 + n times longer).")]


Adapt = Annotated[Optional[str], typer.Option(
    "--adapt", help="Unsupervised speaker adaptation: 'fmllr' (per speaker: recognise, estimate one fMLLR "
                    "feature transform on the recognised words, recognise again; 3 passes; FSDD, new "
                    "speaker: 91.4% against 84.2%) or 'none'. A speaker's inputs are adapted together: give "
                    "several (200 frames at least) of one speaker. recognize: all its files are one "
                    "speaker; train: stored in the model (the default of recognize and evaluate).")]


def _recognizer_params(states, mix, covariance_type, threshold, seed, adapt=None, edges=None):
    if states != "auto":
        try:
            states = int(states)
        except ValueError:
            raise typer.BadParameter(f"--states must be 'auto' or an integer, got {states!r}") from None
    return dict(n_states=states, n_mix=mix, covariance_type=covariance_type, threshold=threshold,
                random_state=seed, adapt="fmllr" if adapt_option(adapt) == "fmllr" else None, **(edges or {}))


States = Annotated[str, typer.Option("--states", help="States per word: 'auto' (by the word's median length, "
                                                      "5 frames a state, 3-10) or a number.")]
Mix = Annotated[int, typer.Option("--mix", help="Gaussians per state.")]
CovType = Annotated[str, typer.Option("--covariance-type", help="diag, full, tied or spherical.")]
Threshold = Annotated[Optional[float], typer.Option(
    "--threshold", help="Reject ('<none>') inputs whose best log-likelihood per frame is below this.")]


@words.command("train")
def words_train(
    data: Annotated[List[Path], typer.Argument(help="A folder with one sub-folder per word, audio files or "
                                                    "folders named by --pattern, or a CSV table (file,word).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Word model file to write (.gmmw).")],
    pattern: Pattern = None,
    states: States = "auto",
    mix: Mix = 5,
    covariance_type: CovType = "diag",
    threshold: Threshold = None,
    adapt: Adapt = None,
    entry_states: EntryStates = None,
    exit_states: ExitStates = None,
    edge_penalty: EdgePenalty = None,
    perturb: Perturb = None,
    noise_copies: NoiseCopies = None,
    extra_train: Annotated[Optional[List[Path]], typer.Option(
        "--extra-train", help="More labelled audio (e.g. synthetic voices from "
                              "datasets/speech/make_synthetic_digits.py) trained as a second model set; "
                              "a word's score is the mean of the two sets' log-likelihoods.")] = None,
    sr: Sr = 8000,
    n_mfcc: NMfcc = 13,
    min_speech: MinSpeech = 10,
    vad_db: VadDb = 40.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    force: Force = False,
    json_out: Json = False,
    quiet: Quiet = False,
):
    """Train one left-to-right GMM-HMM per word by Baum-Welch.

    Example: gmmkit speech words train datasets/speech/digits/ -o digits.gmmw
    """
    import time

    from gmmkit.cli.kit import check_output

    from .features import FrontEnd
    from .words import WordRecognizer

    check_output(out, force)
    fe = FrontEnd(sr=sr, n_mfcc=n_mfcc, min_speech_frames=min_speech, vad_db=vad_db)
    params = _recognizer_params(states, mix, covariance_type, threshold, seed, adapt,
                                edge_settings(entry_states, exit_states, edge_penalty))
    train_speeds, noise = speeds(perturb), snrs(noise_copies)
    t0 = time.perf_counter()
    files, feats, labels, _, extra = word_features(data, pattern, fe, quiet or json_out, train_speeds, noise)
    own = feats + [f for x in extra for f in x]
    more, more_labels = extra_training(extra_train, pattern, fe, quiet or json_out, noise) or ([], [])
    t1 = time.perf_counter()
    rec = WordRecognizer(**params).fit(own + more, list(labels) * (1 + len(extra)) + list(more_labels),
                                       groups=["data"] * len(own) + ["extra"] * len(more) if more else None)
    t2 = time.perf_counter()
    rec.save(out, overwrite=force, extra={"speech_front_end": fe.to_dict(), "perturb": list(train_speeds),
                                          "noise_copies": list(noise)})
    summary = {"output": str(out), "words": [str(w) for w in rec.words_], "files": len(files),
               "frames": int(sum(len(f) for f in feats)),
               "states": {str(w): int(m.n_components) for w, m in zip(rec.words_, rec.models_)},
               "mix": {str(w): int(m.n_mix) for w, m in zip(rec.words_, rec.models_)},
               "groups": [str(g) for g in rec.groups_], "extra_files": len(more), "adapt": rec.adapt,
               "entry_states": rec.entry_states, "exit_states": rec.exit_states, "edge_penalty": rec.edge_penalty,
               "feature_seconds": round(t1 - t0, 2), "train_seconds": round(t2 - t1, 2)}
    _report(summary, json_out, quiet,
            f"{out}: {len(rec.words_)} words from {len(files)} files ({summary['frames']} frames); "
            f"features {summary['feature_seconds']} s, Baum-Welch {summary['train_seconds']} s")


def _load_words(model, adapt=None, edges=None):
    from .features import FrontEnd
    from .words import WordRecognizer

    rec, extra = WordRecognizer.load(model)
    for k, v in (edges or {}).items():  # --entry-states, --exit-states, --edge-penalty override the model's
        setattr(rec, k, v)
    if adapt_option(adapt) is not None:  # --adapt overrides the model's setting
        rec.adapt = None if adapt_option(adapt) == "none" else "fmllr"
    return rec, FrontEnd.from_dict(extra.get("speech_front_end") or {}, source=str(model))


@words.command("recognize")
def words_recognize(
    files: Annotated[List[Path], typer.Argument(help="Audio files (or folders) of one word each.")],
    model: Annotated[Path, typer.Option("--model", "-m", help="Word model file from 'words train'.")],
    threshold: Threshold = None,
    adapt: Adapt = None,
    entry_states: EntryStates = None,
    exit_states: ExitStates = None,
    edge_penalty: EdgePenalty = None,
    test_speeds: TestSpeeds = None,
    scores: Annotated[bool, typer.Option("--scores", help="Print every word's log-likelihood.")] = False,
    connected: Annotated[bool, typer.Option(
        "--connected", help="Each file holds several words in a row: recognise the word string (one "
                            "Viterbi pass over a loop of the word models).")] = False,
    word_penalty: Annotated[float, typer.Option(
        "--word-penalty", help="With --connected: log-probability added per word (lower: fewer words; "
                               "-40 to -80 gave the fewest errors on FSDD digit strings).")] = 0.0,
    json_out: Json = False,
    quiet: Quiet = False,
):
    """Recognise the word of each file (Viterbi); '<none>' below the rejection threshold.

    Examples: gmmkit speech words recognize -m digits.gmmw clip1.wav clip2.wav

    gmmkit speech words recognize -m digits.gmmw --connected 4-7-6_george_1.flac
    """
    from gmmkit.cli.kit import echo

    from .corpus import audio_files

    paths = audio_files(files)
    test = speeds(test_speeds, "--test-speeds")
    rec, fe = _load_words(model, adapt, edge_settings(entry_states, exit_states, edge_penalty))
    if connected:
        if test or threshold is not None or scores or adapt_option(adapt) == "fmllr":
            raise typer.BadParameter("--connected does not take --test-speeds, --threshold, --scores or --adapt")
        if rec.adapt:
            _note(quiet or json_out, "note: connected recognition is not speaker-adapted (the model's --adapt)")
        good, feats, _, failed = batch_features(paths, fe)
        _recognize_connected(rec, good, feats, word_penalty, json_out, quiet)
        return finish_batch(failed, len(paths), quiet)
    good, feats, versions, failed = batch_features(paths, fe, test)
    frames = sum(len(f) for f in feats)
    if rec.adapt and frames < rec.adapt_min_frames:
        _note(quiet or json_out, f"{frames} speech frames in all, fMLLR needs {rec.adapt_min_frames}: not adapted "
                                 "(give more of the speaker's recordings)")
    rows = rec.recognize(feats, threshold="default" if threshold is None else threshold, versions=versions)
    for p, r in zip(good, rows):
        r["file"] = p
    if json_out:
        _emit_json(rows)
    for r in [] if json_out else rows:
        line = (f"{r['file']}\t{r['word']}\tloglik/frame {r['loglik_per_frame']:.3f}"
                + ("" if r["margin"] is None else f"\tmargin {r['margin']:.2f}"))
        if scores:
            line += "\t" + " ".join(f"{w}={v:.1f}" for w, v in r["scores"].items())
        echo(line, quiet)
    finish_batch(failed, len(paths), quiet)


def _recognize_connected(rec, paths, feats, word_penalty, json_out, quiet):
    from gmmkit.cli.kit import echo

    from .loop import WordLoop

    loop = WordLoop(rec, word_penalty=word_penalty)
    rows = []
    for p, X in zip(paths, feats):
        found, segments, total = loop.decode(X, return_segments=True)
        rows.append({"file": p, "words": found, "frames": len(X), "loglik": total,
                     "segments": [{"word": w, "first_frame": a, "last_frame": b} for w, a, b in segments]})
    if json_out:
        _emit_json(rows)
        return
    for r in rows:
        echo(f"{r['file']}\t{' '.join(r['words'])}", quiet)


@words.command("evaluate")
def words_evaluate(
    data: Annotated[List[Path], typer.Argument(help="Labelled audio: as for 'words train'.")],
    model: Annotated[Optional[Path], typer.Option("--model", "-m", help="Word model file to test.")] = None,
    by_speaker: Annotated[bool, typer.Option(
        "--by-speaker", help="Without a model: leave-one-speaker-out (train on the other speakers, "
                             "test on each in turn; needs {speaker} in the pattern or a speaker column).")] = False,
    pattern: Pattern = None,
    threshold: Threshold = None,
    adapt: Adapt = None,
    entry_states: EntryStates = None,
    exit_states: ExitStates = None,
    edge_penalty: EdgePenalty = None,
    states: States = "auto",
    mix: Mix = 5,
    covariance_type: CovType = "diag",
    perturb: Perturb = None,
    test_speeds: TestSpeeds = None,
    noise_copies: NoiseCopies = None,
    extra_train: Annotated[Optional[List[Path]], typer.Option(
        "--extra-train", help="With --by-speaker: more labelled audio (as for 'words train') added to every "
                              "fold's training, never tested (e.g. synthetic voices), as a second "
                              "model set (see 'words train --extra-train').")] = None,
    n_mfcc: NMfcc = 13,
    min_speech: MinSpeech = 10,
    vad_db: VadDb = 40.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    confusion: Annotated[Optional[Path], typer.Option(help="Save the confusion-matrix picture (PNG).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the predictions as CSV.")] = None,
    force: Force = False,
    json_out: Json = False,
    quiet: Quiet = False,
):
    """Accuracy and confusion matrix of a word model, or of leave-one-speaker-out training.

    Examples: gmmkit speech words evaluate test/ -m digits.gmmw --confusion cm.png

    gmmkit speech words evaluate recordings/ --by-speaker
    """
    import pandas as pd

    from gmmkit.cli.kit import check_outputs, echo, require_matplotlib, text_table
    from gmmkit.exceptions import DataError
    from gmmkit.io import atomic_path

    from .features import FrontEnd
    from .words import labelled_files
    from .words_eval import cross_validate_speakers, evaluate

    if (model is None) == (not by_speaker):
        raise typer.BadParameter("give either --model or --by-speaker")
    if (extra_train or noise_copies) and not by_speaker:
        raise typer.BadParameter("--extra-train and --noise-copies go with --by-speaker")
    check_outputs(out, confusion, force=force)
    if confusion is not None:
        require_matplotlib("--confusion")
    edges = edge_settings(entry_states, exit_states, edge_penalty)
    if model is not None:
        rec, fe = _load_words(model, adapt, edges)
        files, feats, labels, speakers, versions = word_features(data, pattern, fe, quiet or json_out,
                                                                 speeds(test_speeds, "--test-speeds"))
        if rec.adapt and speakers is None:
            _note(quiet or json_out, "no speakers in the file names: every input adapted as one speaker's")
        ev = evaluate(rec, feats, labels, threshold="default" if threshold is None else threshold,
                      versions=versions, speakers=speakers)
        cm, pred, acc = ev["confusion"], ev["predicted"], ev["accuracy"]
        result = {"n": ev["n"], "accuracy": acc, "rejected": ev["rejected"]}
    else:
        fe = FrontEnd(n_mfcc=n_mfcc, min_speech_frames=min_speech, vad_db=vad_db)
        files, labels, speakers = labelled_files(list(data), pattern=pattern)  # cheap checks first
        if speakers is None:
            raise DataError("--by-speaker needs speakers: a {speaker} field in --pattern or a 'speaker' column")
        params = _recognizer_params(states, mix, covariance_type, None, seed, adapt, edges)
        train_speeds, test_speeds = speeds(perturb), speeds(test_speeds, "--test-speeds")
        every = tuple(dict.fromkeys(train_speeds + test_speeds))
        noise = snrs(noise_copies)
        files, feats, labels, speakers, extra = word_features(data, pattern, fe, quiet or json_out, every, noise)
        at = dict(zip(every, extra))
        more = extra_training(extra_train, pattern, fe, quiet or json_out, noise)
        rows, cm = cross_validate_speakers(feats, labels, speakers,
                                           augment=[at[v] for v in train_speeds] + extra[len(every):],
                                           test_versions=[at[v] for v in test_speeds], extra=more, **params)
        pred = [None] * len(files)
        for r in rows:
            for i, p in zip(r.pop("index"), r.pop("predicted")):
                pred[i] = p
        acc = float(sum(int(r["accuracy"] * r["n"] + 0.5) for r in rows) / len(files))
        result = {"n": len(files), "accuracy": acc, "speakers": rows}
    result["confusion"] = {"words": list(cm.index), "columns": list(cm.columns), "matrix": cm.values.tolist()}
    if confusion is not None:
        _plot_confusion(cm, confusion, acc, force)
    if out is not None:
        table = pd.DataFrame({"file": files, "true": labels, "predicted": pred})
        with atomic_path(out, overwrite=force) as tmp:
            table.to_csv(tmp, index=False)
    if json_out:
        _emit_json(result)
        return
    if "speakers" in result:
        echo(text_table(result["speakers"], ["speaker", "n", "accuracy", "train_seconds", "test_seconds"],
                        {"accuracy": "{:.1%}"}), quiet)
    echo(f"accuracy {100 * acc:.1f}% on {result['n']} inputs"
         + (f" ({result['rejected']} rejected)" if result.get("rejected") else ""), quiet)
