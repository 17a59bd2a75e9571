"""Options and helpers shared by the ``gmmkit speech`` command modules."""
from __future__ import annotations

from typing import Annotated

import typer

Force = Annotated[bool, typer.Option("--force", "-f", help="Overwrite an existing output file.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors (and --json).")]
Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
Sr = Annotated[int, typer.Option("--sr", help="Sampling rate every input is resampled to.")]
NMfcc = Annotated[int, typer.Option("--n-mfcc", help="MFCCs per frame (deltas triple the dimension).")]
Warp = Annotated[float, typer.Option(
    "--warp", help="Feature warping window in seconds (e.g. 3) instead of CMVN; 0 = off.")]
Rasta = Annotated[bool, typer.Option("--rasta/--no-rasta", help="RASTA-filter the cepstra (channel robustness).")]
Denoise = Annotated[bool, typer.Option("--denoise/--no-denoise", help="Spectral subtraction of steady noise.")]
VadMethod = Annotated[str, typer.Option(
    "--vad-method", help="Voice activity detector: energy, or gmm (two-Gaussian energy fit, noise-robust).")]
Filterbank = Annotated[str, typer.Option(
    "--filterbank", help="mel (MFCC) or linear (filters evenly spaced in Hz: LFCC); a UBM records it, so "
    "enrol and scoring follow it.")]


def _note(quiet, msg):
    from gmmkit.cli.kit import note

    note(msg, quiet)


def _emit_json(obj):
    from gmmkit.cli.kit import print_json

    print_json(obj)


def _report(obj, json_out, quiet, *lines):
    """With --json, ``obj`` as JSON on stdout; otherwise each line as a note (none with --quiet)."""
    if json_out:
        _emit_json(obj)
        return
    for line in lines:
        _note(quiet, line)


def _front_end(sr=8000, n_mfcc=20, vad=True, cmvn=True, *, warp=0.0, rasta=False, vad_method="energy",
               denoise=False, filterbank="mel"):
    from .features import FrontEnd

    return FrontEnd(sr=sr, n_mfcc=n_mfcc, vad=vad, cmvn=cmvn, warp=warp, rasta=rasta, vad_method=vad_method,
                    denoise=denoise, filterbank=filterbank)


def _save_png(fig, path, force):
    import matplotlib.pyplot as plt

    from gmmkit.io import atomic_path

    fig.tight_layout()
    with atomic_path(path, overwrite=force) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
