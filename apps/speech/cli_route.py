"""Routed speaker scoring on the command line: ``gmmkit speech condition-detector`` and the
``--detector`` / ``--branch`` / ``--degraded-models`` options of identify, verify and evaluate
(registered by :mod:`gmmkit_apps.speech.cli_speaker`)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from .cli_common import Force, Json, Quiet, Sr, _report

DegradedModels = Annotated[Optional[Path], typer.Option(
    "--degraded-models", help="Models folder for the files a two-class (clean / degraded) --detector calls "
    "degraded (the same as --branch degraded=DIR).")]
Branch = Annotated[Optional[List[str]], typer.Option(
    "--branch", help="CLASS=DIR: the models folder for files the --detector puts in CLASS, one per degraded "
    "class (repeat: --branch noise=noisy/ --branch band=band/); files it calls clean go to --models.")]
Detector = Annotated[Optional[Path], typer.Option(
    help="Condition detector from 'speech condition-detector': routes each audio file to --models or to "
    "the --branch (or --degraded-models) folder of the class it names.")]


def _split_pairs(items, option, what):
    """{name: value} from NAME=VALUE items (ParameterError for a malformed or repeated NAME)."""
    from gmmkit.exceptions import ParameterError

    out = {}
    for item in items or ():
        name, sep, value = str(item).partition("=")
        if not sep or not name or not value:
            raise ParameterError(f"{option} {item!r}: give it as NAME={what}")
        if name in out:
            raise ParameterError(f"{option} {name}: given twice")
        out[name] = value
    return out


def parse_branches(degraded, branches, detector):
    """The router's branches from the options ({class: folder}, a single folder for
    --degraded-models, or None when there is no routing); refused before any work when the
    options do not go together."""
    from gmmkit.exceptions import ParameterError

    from .condition import CLEAN, check_class_name

    if degraded is not None and branches:
        raise ParameterError("--degraded-models is --branch degraded=DIR: give one or the other")
    if (detector is None) != (degraded is None and not branches):
        raise ParameterError("--detector and its models folders (--branch CLASS=DIR, or --degraded-models) "
                             "go together: give both or neither")
    if detector is None:
        return None
    if degraded is not None:
        return degraded
    got = _split_pairs(branches, "--branch", "DIR (e.g. noise=noisy/)")
    for c in got:
        if check_class_name(c) == CLEAN:
            raise ParameterError(f"--branch {CLEAN}=...: the clean models are --models")
    return got


def make_router(ms, branches, detector):
    """A Router for ``branches`` (from :func:`parse_branches`; None: no routing) with the clean
    system ``ms``, its cohorts not yet made (see :func:`gmmkit_apps.speech.cli_fusion.clean_system`)."""
    if branches is None:
        return None
    from .condition_route import load_router

    return load_router(ms, branches, detector)


def detector_cmd(
    data: Annotated[List[Path], typer.Argument(help="Clean background audio files or folders.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Detector file to write (.npz).")],
    degrade: Annotated[Optional[str], typer.Option(
        help="Two classes, clean / degraded, the degraded copies being: noiseNN (white noise at NN dB SNR) "
        "and/or telephone (300-3400 Hz); without --class, noise10,noise20,telephone by default.")] = None,
    classes: Annotated[Optional[List[str]], typer.Option(
        "--class", help="CLASS=DEGRADATIONS: a named degraded class and the copies it is trained on, instead "
        "of --degrade (repeat: --class noise=noise10,noise20 --class band=telephone).")] = None,
    dev: Annotated[Optional[List[Path]], typer.Option(
        "--dev", help="Development audio, a file or folder per --dev (repeat it; not the training files): "
        "choose the margin on them and their copies under each class's degradations (0-20 nats, fewest "
        "misrouted).")] = None,
    dev_classes: Annotated[Optional[List[str]], typer.Option(
        "--dev-class", help="CLASS=DEGRADATIONS: the --dev copies of a class, when not those it is trained on "
        "(e.g. --dev-class noise=noise10: only the test's noise level); name every class.")] = None,
    margin: Annotated[Optional[float], typer.Option(
        help="Nats by which a degraded class must beat clean for a file to leave the clean models "
        "(default 0: the most probable class; or chosen with --dev).")] = None,
    outlier_quantile: Annotated[float, typer.Option(
        help="A file less typical of clean speech than this fraction of the clean training files is "
        "never called clean (0: no such rule).")] = 0.01,
    sr: Sr = 8000,
    seed: Annotated[int, typer.Option(help="Random seed (noise samples, mixture fits).")] = 0,
    force: Force = False,
    json_out: Json = False,
    quiet: Quiet = False,
):
    """Train a condition detector for routed scoring (--detector of identify, verify, evaluate):
    clean / degraded, or clean and named classes, each routed to its own models folder.

    Example: gmmkit speech condition-detector background/ -o detector.npz

    Three classes, margin chosen on dev/: gmmkit speech condition-detector background/ --class
    noise=noise10,noise20 --class band=telephone --dev dev/ -o detector.npz
    """
    from gmmkit.cli.kit import Progress, check_output
    from gmmkit.exceptions import ParameterError

    from .condition import check_margin, check_outlier_quantile, save_detector
    from .condition_route import check_classes, check_degradations, train_detector_files
    from .inputs import input_files

    check_output(out, force)
    check_outlier_quantile(outlier_quantile)
    if degrade is not None and classes:
        raise ParameterError("--degrade (two classes) and --class (named classes): give one or the other")
    if dev and margin is not None:
        raise ParameterError("--dev chooses the margin: give --dev or --margin, not both")
    if margin is not None:
        check_margin(margin)
    if dev_classes and not dev:
        raise ParameterError("--dev-class names the copies of the --dev files: give --dev too")
    dev_kinds = {c: k.split(",") for c, k in _split_pairs(dev_classes, "--dev-class", "DEGRADATIONS").items()}
    kinds = check_classes({c: k.split(",") for c, k in _split_pairs(classes, "--class", "DEGRADATIONS").items()}) \
        if classes else check_degradations((degrade or "noise10,noise20,telephone").split(","))
    files = input_files(data)
    dev_files = input_files(dev) if dev else None
    with Progress(enabled=not (quiet or json_out), delay=1.0) as bar:
        det, chosen = train_detector_files(files, kinds, sr=sr, outlier_quantile=outlier_quantile, seed=seed,
                                           progress=bar.task("channel statistics", total=len(files)),
                                           margin=margin or 0.0, dev_files=dev_files, dev_conditions=dev_kinds)
    save_detector(det, out, overwrite=force)
    summary = {"output": str(out), "files": len(files), "classes": list(det.classes), "trained_on": det.conditions,
               "margin": det.margin, "components": [m["n_components"] for m in det.classifier.class_models_]}
    lines = [f"{out}: {' / '.join(det.classes)} detector from {len(files)} files and their copies ("
             + "; ".join(f"{c}: {','.join(k)}" for c, k in det.conditions.items()) + f"), margin {det.margin:g} nats"]
    if chosen is not None:
        summary["dev"] = {"files": len(dev_files), "misrouted": chosen[1], "routed": chosen[2]}
        lines.append(f"margin chosen on {len(dev_files)} development files and their copies: "
                     f"{chosen[1]} of {chosen[2]} misrouted")
    _report(summary, json_out, quiet, *lines)
