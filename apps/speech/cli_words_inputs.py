"""Reading the inputs of ``gmmkit speech words``: number-list options (speeds, SNRs) and the
feature frames of labelled audio with its perturbed and noisy training copies."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

_EDGE = ("; stored in the model by train, overrides the model's in recognize and evaluate (default: the "
         "model's; train: 1 and 0, strict left-to-right)")
EntryStates = Annotated[Optional[int], typer.Option(
    "--entry-states", help="Recognition may enter a word at any of its first N states (for recordings cut "
                           "at the word's onset)" + _EDGE + ".")]
ExitStates = Annotated[Optional[int], typer.Option(
    "--exit-states", help="Recognition may leave a word from any of its last N states (recordings cut at "
                          "its end)" + _EDGE + ".")]
EdgePenalty = Annotated[Optional[float], typer.Option(
    "--edge-penalty", help="Log-probability (<= 0) per state skipped by --entry-states or --exit-states"
                           + _EDGE + ".")]


def edge_settings(entry, exit, penalty):
    """The ``WordRecognizer`` entry/exit settings given on the command line (None: not given)."""
    from .words_viterbi import _check

    given = {k: v for k, v in (("entry_states", entry), ("exit_states", exit), ("edge_penalty", penalty))
             if v is not None}
    try:
        _check(given.get("entry_states", 1), given.get("exit_states", 1), given.get("edge_penalty", 0.0))
    except ValueError as exc:
        raise typer.BadParameter(str(exc).replace("entry_states", "--entry-states").replace(
            "exit_states", "--exit-states").replace("edge_penalty", "--edge-penalty")) from None
    return given


def number_list(text, option, what, example, lo, hi):
    """The comma-separated numbers of ``option`` (each in [lo, hi]); () for no text."""
    if not text:
        return ()
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"{option} takes {what} such as {example}, got {text!r}") from None
    if not all(lo <= v <= hi for v in values):
        raise typer.BadParameter(f"{option} {what} must be between {lo:g} and {hi:g}, got {text!r}")
    return values


def speeds(text, option="--perturb"):
    """Playback speeds of ``--perturb`` or ``--test-speeds`` (0.5-2)."""
    return number_list(text, option, "speeds", "0.92,1.08", 0.5, 2.0)


def snrs(text):
    """Signal-to-noise ratios in dB of ``--noise-copies``."""
    return number_list(text, "--noise-copies", "SNRs in dB", "25", -10.0, 60.0)


def adapt_option(text):
    """``--adapt``: None (keep the model's setting), "none" (off) or "fmllr"."""
    if text is None:
        return None
    if text.lower() not in ("none", "fmllr"):
        raise typer.BadParameter(f"--adapt takes 'fmllr' or 'none', got {text!r}")
    return text.lower()


def word_features(data, pattern, fe, quiet, speeds=(), noise=()):
    """(files, features, labels, speakers, [features at each perturbed speed, then with white
    noise at each SNR in ``noise``: the clean features where the noisy copy has too little
    speech]); each file is read once for all its noisy copies."""
    from gmmkit.cli.kit import Progress
    from gmmkit.exceptions import DataError

    from .augment import add_noise
    from .corpus import features_of
    from .features import load_audio, mfcc_frames
    from .words import labelled_files

    files, labels, speakers = labelled_files(list(data), pattern=pattern)
    with Progress(enabled=not quiet, delay=1.0) as bar:
        feats = features_of(files, fe, progress=bar.task("MFCC features", total=len(files)))
        extra = [features_of(files, fe, speed=v, progress=bar.task(f"speed {v:g}", total=len(files)))
                 for v in speeds]
        noisy = [[] for _ in noise]
        task = bar.task("noisy copies", total=len(files)) if noise else None
        for k, f in enumerate(files if noise else ()):
            y = load_audio(f, fe.sr)
            for copies, snr in zip(noisy, noise):
                try:
                    copies.append(mfcc_frames(add_noise(y, snr, seed=k), front_end=fe, source=str(f)))
                except DataError:
                    copies.append(feats[k])
            if task is not None:
                task(k + 1, len(files))
    return files, feats, labels, speakers, extra + noisy


def extra_training(extra_train, pattern, fe, quiet, noise):
    """(features, labels) of --extra-train with its --noise-copies, or None without it."""
    if not extra_train:
        return None
    _, feats, labels, _, copies = word_features(extra_train, pattern, fe, quiet, (), noise)
    return feats + [f for x in copies for f in x], list(labels) * (1 + len(copies))


def batch_features(paths, front_end, speeds=()):
    """Each file's feature frames, and its copies at ``speeds``, for a batch command. A file that
    cannot be used (unreadable, silent, too short) gets one ``error:`` line and is left out, so
    one bad clip does not cost the rest of the batch; if none is usable the command stops (exit 2).
    Returns ``(paths, feats, versions, n_failed)``."""
    from gmmkit.cli.kit import error_line
    from gmmkit.exceptions import GMMKitError

    from .features import extract

    good, feats, versions, failed = [], [], [[] for _ in speeds], 0
    for p in paths:
        try:
            X, copies = extract(p, front_end), [extract(p, front_end, speed=s) for s in speeds]
        except GMMKitError as exc:
            failed += 1
            error_line(str(exc))
            continue
        good.append(p)
        feats.append(X)
        for kept, copy in zip(versions, copies):
            kept.append(copy)
    if not good:
        finish_batch(failed, len(paths), False)
    return good, feats, versions, failed


def finish_batch(n_failed, n_inputs, quiet):
    """After a batch: 'N of M input(s) failed' and exit code 1 (2 when nothing could be done)."""
    from gmmkit.cli.kit import is_quiet

    if n_failed:
        if n_inputs > 1 and not is_quiet(quiet):
            typer.echo(f"{n_failed} of {n_inputs} input(s) failed", err=True)
        raise typer.Exit(2 if n_failed == n_inputs else 1)
