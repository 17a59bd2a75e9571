"""Synthetic spoken digits ("zero" .. "nine", as FSDD says them) from many synthetic voices, for
training speaker-independent word models beside real speakers.

Each synthetic *speaker* is one engine setting, saying every digit once:

- flite 2.2 (Debian ``flite``): voices kal, kal16, awb, rms, slt, each at several durations
  (``duration_stretch``) and pitches (``int_f0_target_mean``);
- espeak-ng (Debian ``espeak-ng``): the English accents en-us, en-gb, en-gb-scotland, en-gb-x-rp,
  en-gb-x-gbclan, en-gb-x-gbcwmd, en-029, en-us-nyc, each with voice variants (m1-m8, f1-f5,
  klatt ..., ``en-us+f3``), a speaking rate (``-s``, words per minute) and a pitch (``-p``) drawn
  at random (seeded).

Every file is resampled to 8 kHz mono 16-bit WAV by sox and named ``{digit}_{speaker}_0.wav``
(the FSDD pattern ``{word}_{speaker}_{n}``; speaker names use ``-``, never ``_``), with
``speakers.csv`` (speaker, engine, voice, rate, pitch). Nothing is downloaded; the same
arguments give the same files.

    apt-get install -y --no-install-recommends flite espeak-ng sox
    python datasets/speech/make_synthetic_digits.py OUT_FOLDER [--speakers 200] [--seed 0]

The benchmarks (benchmarks/bench_speech_words_synth.py) write it into a cache folder
(``~/.cache/gmmkit/synthetic_digits`` unless ``GMMKIT_CACHE`` is set); nothing of it is shipped.
"""
from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")
ESPEAK_ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
                  "en-029", "en-us-nyc")
ESPEAK_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
                   "klatt", "klatt2", "klatt3", "klatt4", "edward", "john", "linda", "steph", "rob",
                   "paul", "david", "max", "annie", "belinda", "grandpa", "michael", "quincy")
# flite: (duration stretch, f0 mean in Hz or None for the voice's own); male voices get the low pitches
FLITE_SETTINGS = {"male": [(1.0, None), (0.85, None), (1.2, None), (1.0, 90), (1.1, 140), (0.9, 120)],
                  "female": [(1.0, None), (0.85, None), (1.2, None), (1.0, 150), (1.1, 220), (0.9, 190)]}


def plan(n_speakers, seed=0):
    """The synthetic speakers: a list of dicts (speaker, engine, voice, rate, pitch). The flite
    settings come first (30), then espeak-ng accent x variant pairs in a seeded random order,
    each with a random rate (120-200 words per minute) and pitch (25-75)."""
    rows = []
    for v in FLITE_VOICES:
        for k, (stretch, f0) in enumerate(FLITE_SETTINGS["female" if v == "slt" else "male"]):
            rows.append({"speaker": f"flite-{v}-{k}", "engine": "flite", "voice": v, "rate": stretch,
                         "pitch": "" if f0 is None else f0})
    rng = np.random.default_rng(seed)
    pairs = [(a, v) for a in ESPEAK_ACCENTS for v in ESPEAK_VARIANTS]
    for i in rng.permutation(len(pairs)):
        a, v = pairs[i]
        rows.append({"speaker": f"espeak-{a}-{v}".replace("_", "-"), "engine": "espeak-ng", "voice": f"{a}+{v}",
                     "rate": int(rng.integers(120, 201)), "pitch": int(rng.integers(25, 76))})
    return rows[:n_speakers]


def synthesise(row, text, wav):
    """One utterance of ``text`` by the speaker ``row`` into ``wav`` (the engine's own rate)."""
    if row["engine"] == "flite":
        cmd = ["flite", "-voice", row["voice"], "--setf", f"duration_stretch={row['rate']}"]
        if row["pitch"] != "":
            cmd += ["--setf", f"int_f0_target_mean={row['pitch']}"]
        cmd += ["-t", text, "-o", wav]
    else:
        cmd = ["espeak-ng", "-v", row["voice"], "-s", str(row["rate"]), "-p", str(row["pitch"]), "-w", wav, text]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make(out, n_speakers=200, seed=0, progress=True):
    """Write the data set into ``out`` (created); returns the number of files. Files already
    there (same name) are kept, so an interrupted run resumes."""
    for tool in ("flite", "espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install -y --no-install-recommends flite espeak-ng sox")
    os.makedirs(out, exist_ok=True)
    rows = plan(n_speakers, seed)
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw.wav")
        for k, row in enumerate(rows):
            for d, text in enumerate(DIGITS):
                path = os.path.join(out, f"{d}_{row['speaker']}_0.wav")
                if not os.path.exists(path):
                    synthesise(row, text, raw)
                    part = path + ".part.wav"
                    subprocess.run(["sox", raw, "-r", "8000", "-c", "1", "-b", "16", part], check=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    os.replace(part, path)
                n += 1
            if progress and (k + 1) % 20 == 0:
                print(f"{k + 1}/{len(rows)} speakers", file=sys.stderr, flush=True)
    with open(os.path.join(out, "speakers.csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["speaker", "engine", "voice", "rate", "pitch"])
        w.writeheader()
        w.writerows(rows)
    return n


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="folder to write (created)")
    ap.add_argument("--speakers", type=int, default=200, help="synthetic speakers (30 flite, then espeak-ng)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    print(f"{make(args.out, args.speakers, args.seed)} files in {args.out}")


if __name__ == "__main__":
    main()
