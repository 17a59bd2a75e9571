"""``gmmkit speech``: MFCC features, phoneme/word GMM classifiers, GMM-UBM speaker recognition.

A thin Typer layer over :mod:`gmmkit_apps.speech`; heavy modules load inside the commands.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, List

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
)
from .cli_speaker import commands as _speaker_commands
from .cli_words import phonemes, words

app = typer.Typer(
    name="speech", no_args_is_help=True, add_completion=False,
    help="""Speech with Gaussian mixtures: MFCC front end, phoneme/word classifiers, GMM-UBM speakers.

Example (speaker recognition):

  gmmkit speech ubm background/ -o ubm.gmm

  gmmkit speech enroll --ubm ubm.gmm --speaker alice alice/*.wav -o models/

  gmmkit speech identify --models models/ unknown.wav
""")
app.add_typer(phonemes, name="phonemes")
app.add_typer(words, name="words")
app.registered_commands.extend(_speaker_commands.registered_commands)


# ---------------------------------------------------------------------------- features
@app.command("features")
def features_cmd(
    audio: Annotated[List[Path], typer.Argument(help="Audio files or folders (searched recursively).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for one <name>.npy per file.")],
    sr: Sr = 8000,
    n_mfcc: NMfcc = 20,
    vad: Annotated[bool, typer.Option("--vad/--no-vad", help="Keep only speech frames.")] = True,
    cmvn: Annotated[bool, typer.Option("--cmvn/--no-cmvn", help="Mean/variance-normalise.")] = True,
    warp: Warp = 0.0,
    rasta: Rasta = False,
    denoise: Denoise = False,
    vad_method: VadMethod = "energy",
    filterbank: Filterbank = "mel",
    force: Force = False,
    json_out: Json = False,
    quiet: Quiet = False,
):
    """Write MFCC + delta + delta-delta frames (float32 .npy, one row per 10 ms) for each audio file.

    The speaker commands (ubm, enroll, identify, verify, evaluate) accept these files in place of
    the audio; make them with the options the UBM uses.

    Example: gmmkit speech features clips/*.wav -o feats/
    """
    import os

    from gmmkit.cli.kit import check_output

    from .corpus import audio_files, write_features

    files = audio_files(audio)
    fe = _front_end(sr, n_mfcc, vad, cmvn, warp=warp, rasta=rasta, vad_method=vad_method,
                    denoise=denoise, filterbank=filterbank)
    check_output(out, folder=True)
    for f in files:  # nothing is replaced without --force (checked before the first write)
        check_output(os.path.join(out, os.path.splitext(os.path.basename(f))[0] + ".npy"), force)
    report = []
    for r in write_features(files, out, fe):
        report.append(r)
        _note(quiet or json_out, f"{r['file']}: {r['frames']} frames x {r['dim']} -> {r['output']}")
    if json_out:
        _emit_json(report)


# ---------------------------------------------------------------------------- phonemes


if __name__ == "__main__":  # pragma: no cover
    app(sys.argv[1:])
