"""``gmmkit segment IMAGE...``: the thin Typer layer over :mod:`gmmkit_apps.segment.core`.

Only typer and the standard library are imported at module level; NumPy,
Pillow and gmmkit load inside the command, so ``gmmkit --help`` stays fast.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import typer

_FEATURES = ("lab", "rgb", "hsv", "gray")

_HELP = [
    """Segment images by a Gaussian mixture on pixel colours, with optional Potts smoothing.""",
    """Fits a GMM on a random subsample of the pixels (CIELAB by default), labels every
    pixel in one parallel pass, optionally smooths the labels (--smooth: a Potts prior
    solved by ICM), and writes per image NAME into --out: NAME_labels.png (indexed PNG,
    pixel value = segment), NAME_recolored.png (segment mean colours),
    NAME_boundaries.png, NAME_summary.json, and with --probs NAME_proba.npy (K x H x W).
    Existing outputs in --out are replaced. A file that cannot be read is reported
    and skipped, and the exit code is then 1.""",
    "Examples:",
    "gmmkit segment photo.jpg --out out/",
    "gmmkit segment photo.jpg -k auto --smooth 1.5 --out out/ --json",
    "gmmkit segment scans/ -k 3 --features gray --out masks/ --quiet",
]


def segment(
    images: List[Path] = typer.Argument(
        ..., help="Image files (PNG, JPEG, TIFF, BMP, WebP...) or folders of images.",
        show_default=False),
    k: str = typer.Option("4", "-k", "--k", help="Number of segments, or 'auto' to choose it by BIC."),
    k_max: int = typer.Option(8, "--k-max", min=2, help="Largest K tried by -k auto (from 2)."),
    features: str = typer.Option("lab", "--features", "-f",
                                 help="Colour space: lab, rgb, hsv or gray (gray images: always gray)."),
    spatial: float = typer.Option(0.0, "--spatial", min=0.0,
                                  help="Weight of pixel position relative to colour (0 = colour only)."),
    smooth: float = typer.Option(0.0, "--smooth", min=0.0,
                                 help="Potts smoothing strength beta (about 0.5-3; 0 = none)."),
    smooth_method: str = typer.Option(
        "icm", "--smooth-method",
        help="icm (fast) or meanfield (slower; --probs then gives the smoothed probabilities)."),
    out: Path = typer.Option(Path("segments"), "--out", "-o", help="Output folder (created if needed)."),
    fit_pixels: int = typer.Option(200_000, "--fit-pixels", min=2,
                                   help="Fit the mixture on at most this many random pixels."),
    max_pixels: Optional[int] = typer.Option(
        None, "--max-pixels", min=1,
        help="Refuse larger images (default: Pillow's decompression-bomb limit, ~89 MP)."),
    probs: bool = typer.Option(False, "--probs", help="Also write NAME_proba.npy posterior maps."),
    seed: int = typer.Option(0, "--seed", min=0, max=2**32 - 1, help="Random seed (subsample and initialisation)."),
    json_out: bool = typer.Option(False, "--json", help="Print the summaries as a JSON list."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
):
    # help text: _HELP below (typer shows line breaks as written, so paragraphs are joined)
    from gmmkit.cli.kit import Progress, error_line, is_quiet, print_json
    from gmmkit.exceptions import GMMKitError

    from .batch import expand_images, output_stems
    from .core import segment_file
    from .images import IMAGE_EXTENSIONS

    kk = k.strip().lower()
    if kk != "auto":
        try:
            kk = int(kk)
        except ValueError:
            raise typer.BadParameter(f"must be a whole number or 'auto', got {k!r}", param_hint="-k") from None
        if not 1 <= kk <= 255:
            raise typer.BadParameter(f"must be between 1 and 255, got {kk}", param_hint="-k")
    features = features.lower()
    if features not in _FEATURES:
        raise typer.BadParameter(f"must be one of {', '.join(_FEATURES)}, got {features!r}",
                                 param_hint="--features")
    smooth_method = smooth_method.lower()
    if smooth_method not in ("icm", "meanfield"):
        raise typer.BadParameter(f"must be icm or meanfield, got {smooth_method!r}",
                                 param_hint="--smooth-method")
    if out.exists() and not out.is_dir():
        raise typer.BadParameter(f"{out} exists and is not a folder", param_hint="--out")

    paths, problems = expand_images(images, IMAGE_EXTENSIONS)
    for msg in problems:
        error_line(msg)
    stems = output_stems(paths)
    talk = not (is_quiet(quiet) or json_out)
    summaries, n_failed = [], len(problems)
    with Progress(enabled=talk and len(paths) > 1) as progress:
        bar = progress.task("segment", total=len(paths))
        for path, stem in zip(paths, stems):
            if bar:
                bar(info=path.name)
            try:
                s = segment_file(path, out, stem=stem, max_pixels=max_pixels, k=kk,
                                 k_range=range(2, k_max + 1), features=features, spatial=spatial,
                                 smooth=smooth, smooth_method=smooth_method, fit_pixels=fit_pixels,
                                 probabilities=probs, random_state=seed)
            except GMMKitError as exc:
                n_failed += 1
                error_line(str(exc))
            except MemoryError:
                n_failed += 1
                error_line(f"{path}: out of memory (try --max-pixels or a smaller image)")
            else:
                summaries.append(s)
                if talk:
                    progress.print(_line(path, s, smooth_method, out, stem))
            if bar:
                bar.advance()
    if json_out:
        print_json(summaries)
    if n_failed:
        if not is_quiet(quiet):
            typer.echo(f"{n_failed} of {len(paths) + len(problems)} input(s) failed", err=True)
        raise typer.Exit(1)


def _line(path, s, smooth_method, out, stem):
    """The one line printed per segmented image."""
    sweeps = f", {s['smooth_sweeps']} {smooth_method} sweeps" if s["smooth"] > 0 else ""
    return (f"{path}: {s['width']}x{s['height']}, K={s['k']}{sweeps}, {s['timings']['total']:.2f} s "
            f"-> {os.path.join(str(out), stem)}_*")


segment.__doc__ = "\n\n".join(" ".join(p.split()) for p in _HELP)
