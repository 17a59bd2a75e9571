"""``gmmkit segment IMAGE...``: the thin Typer layer over :mod:`gmmkit_apps.segment.core`.

Only typer and the standard library are imported at module level; NumPy,
Pillow and gmmkit load inside the command, so ``gmmkit --help`` stays fast.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import typer

_FEATURES = ("rgb", "lab", "hsv", "gray")
_METHODS = ("icm", "meanfield", "em")
# each K tried by -k auto is a full fit: a bound keeps a typo (--k-max 100000) from running for hours
K_MAX_LIMIT = 32

_HELP = [
    """Segment images by a Gaussian mixture on pixel colours, with optional Potts smoothing.""",
    """Fits a GMM on a random subsample of the pixels (RGB by default), labels every
    pixel in one parallel pass, optionally with a Potts prior (--smooth BETA or auto;
    --smooth-method icm, meanfield, or em: the prior inside the fit), and writes per
    image NAME into --out: NAME_labels.png (indexed PNG, pixel value = segment),
    NAME_recolored.png (segment mean colours), NAME_boundaries.png, NAME_summary.json,
    with --probs NAME_proba.npy (K x H x W), and with --foreground NAME_foreground.png
    (binary mask), NAME_overlay.png and NAME_segment<i>.png (one mask per segment); the
    summary then has the foreground area and its connected objects. --foreground
    defaults to -k 2 and --smooth auto (the noise level picks the method). Existing
    outputs in --out are replaced as a set. A file that cannot be read is reported
    and skipped; the exit code is then 1, or 2 when no input could be segmented.""",
    "Examples:",
    "gmmkit segment photo.jpg --out out/",
    "gmmkit segment photo.jpg -k auto --smooth 1.5 --out out/ --json",
    "gmmkit segment cells.tif --foreground --out masks/",
    "gmmkit segment mri.png -k 3 --smooth auto --out tissue/",
    "gmmkit segment scans/ -k 3 --features gray --out masks/ --quiet",
]


def segment(
    images: List[Path] = typer.Argument(
        ..., help="Image files (PNG, JPEG, TIFF, BMP, WebP...) or folders of images.",
        show_default=False),
    k: Optional[str] = typer.Option(
        None, "-k", "--k", help="Number of segments, or 'auto' to choose it by ICL (default 4; 2 with --foreground).",
        show_default=False),
    k_max: int = typer.Option(8, "--k-max", min=2, help=f"Largest K tried by -k auto (from 2; at most {K_MAX_LIMIT})."),
    features: str = typer.Option("rgb", "--features", "-f",
                                 help="Colour space: rgb, lab, hsv or gray (gray images: always gray)."),
    spatial: float = typer.Option(0.0, "--spatial", min=0.0,
                                  help="Weight of pixel position relative to colour (0 = colour only)."),
    smooth: Optional[str] = typer.Option(
        None, "--smooth",
        help="Potts prior strength beta (about 0.5-3; 0 = none), or 'auto': measured noise picks method and beta. "
             "(default 0; auto with --foreground).", show_default=False),
    smooth_method: str = typer.Option(
        "icm", "--smooth-method",
        help="icm (fast), meanfield (--probs then gives the smoothed probabilities) or em (the prior inside the "
             "fit: noise does not bias it)."),
    blur: float = typer.Option(0.0, "--blur", min=0.0, help="Gaussian blur sigma (pixels) of the features first."),
    foreground: bool = typer.Option(False, "--foreground", help="Decide the foreground segments; write masks, "
                                    "overlay and object counts."),
    fg: str = typer.Option("auto", "--fg", help="Which segments are foreground: auto, border, bright, dark, "
                           "or segment numbers (e.g. 1,2)."),
    point_masses: bool = typer.Option(True, "--point-masses/--keep-point-masses",
                                      help="Leave spikes of identical values (clipping, borders) out of the fit."),
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

    kk = (k or ("2" if foreground else "4")).strip().lower()
    if kk != "auto":
        try:
            kk = int(kk)
        except ValueError:
            raise typer.BadParameter(f"must be a whole number or 'auto', got {k!r}", param_hint="-k") from None
        if not 1 <= kk <= 255:
            raise typer.BadParameter(f"must be between 1 and 255, got {kk}", param_hint="-k")
    if k_max > K_MAX_LIMIT:
        raise typer.BadParameter(f"must be at most {K_MAX_LIMIT} (each K tried is a full fit), got {k_max}",
                                 param_hint="--k-max")
    sm = (smooth or ("auto" if foreground else "0")).strip().lower()
    if sm != "auto":
        try:
            sm = float(sm)
        except ValueError:
            sm = -1.0
        if not 0 <= sm < float("inf"):
            raise typer.BadParameter(f"must be a number >= 0 or 'auto', got {smooth!r}", param_hint="--smooth")
    hint = _fg_hint(fg) if foreground else None
    features = features.lower()
    if features not in _FEATURES:
        raise typer.BadParameter(f"must be one of {', '.join(_FEATURES)}, got {features!r}",
                                 param_hint="--features")
    smooth_method = smooth_method.lower()
    if smooth_method not in _METHODS:
        raise typer.BadParameter(f"must be one of {', '.join(_METHODS)}, got {smooth_method!r}",
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
                                 smooth=sm, smooth_method=smooth_method, fit_pixels=fit_pixels,
                                 probabilities=probs, random_state=seed, blur=blur, foreground=hint,
                                 point_masses=point_masses)
            except GMMKitError as exc:
                n_failed += 1
                error_line(str(exc))
            except MemoryError:
                n_failed += 1
                error_line(f"{path}: out of memory (try --max-pixels or a smaller image)")
            else:
                summaries.append(s)
                if talk:
                    progress.print(_line(path, s, out, stem))
            if bar:
                bar.advance()
    if json_out:
        print_json(summaries)
    if n_failed:
        if not is_quiet(quiet):
            typer.echo(f"{n_failed} of {len(paths) + len(problems)} input(s) failed", err=True)
        # nothing could be done (every input bad): a usage error, exit 2; a partly done batch: 1
        raise typer.Exit(2 if not summaries else 1)


def _fg_hint(fg):
    v = fg.strip().lower()
    if v in ("auto", "border", "bright", "dark"):
        return v
    try:
        segs = [int(p) for p in v.replace(" ", "").split(",") if p]
    except ValueError:
        segs = []
    if not segs or min(segs) < 0:
        raise typer.BadParameter(f"must be auto, border, bright, dark or segment numbers like 1,2; got {fg!r}",
                                 param_hint="--fg")
    return segs


def _line(path, s, out, stem):
    """The lines printed per segmented image: what was done, why, and the foreground."""
    step = {"icm": "ICM sweeps", "meanfield": "mean-field sweeps", "em": "spatial EM iterations"}
    sweeps = f", beta {s['smooth']:g}, {s['smooth_sweeps']} {step[s['smooth_method']]}" if s["smooth"] > 0 else ""
    lines = [f"{path}: {s['width']}x{s['height']}, K={s['k']}{sweeps}, {s['timings']['total']:.2f} s "
             f"-> {os.path.join(str(out), stem)}_*"]
    for why in (s.get("k_reason"), s.get("smoothing_reason"), *s.get("notes", [])):
        if why:
            lines.append(f"  {why}")
    f = s.get("foreground")
    if f:
        o = f["objects"]
        sizes = o["sizes"]
        size_txt = f"sizes {sizes[0]}..{sizes[-1]} px, median {sizes[len(sizes) // 2]}" if sizes else "no objects"
        lines.append(f"  foreground: segments {f['segments']} ({f['rule']}), {100 * o['area_fraction']:.1f}% of "
                     f"the image, {o['count']} objects ({size_txt})")
    return "\n".join(lines)


segment.__doc__ = "\n\n".join(" ".join(p.split()) for p in _HELP)
