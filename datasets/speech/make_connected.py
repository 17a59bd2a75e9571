"""Digit strings for connected-word recognition: FSDD digits of one speaker joined with short pauses.

Each string is 3-5 random digits said by one speaker (random takes of that speaker), joined by
pauses of 0.10-0.30 s of faint noise (-60 dBFS, as a quiet room), with 0.10 s of it at both ends.
Written as ``{d1-d2-...}_{speaker}_{n}.flac`` (8 kHz mono 16-bit) with ``strings.csv`` (file,
words, speaker, and the sources). Seeded: the same input gives the same strings.

- Shipped (tests, docs): ``python datasets/speech/make_connected.py`` makes ``connected/`` from
  the shipped ``digits/`` (2 strings per speaker, takes 0-2 only; CC BY-SA 4.0 like FSDD).
- Benchmark: ``python datasets/speech/make_connected.py /work/shared/data/fsdd/recordings OUT 25``
  makes 25 strings per speaker from all 500 takes (not shipped).

Usage: python datasets/speech/make_connected.py [DIGITS_FOLDER [OUT_FOLDER [STRINGS_PER_SPEAKER]]]
"""
import csv
import os
import re
import sys

import numpy as np
import soundfile as sf

HERE = os.path.dirname(os.path.abspath(__file__))
SR = 8000


def make_strings(src, out, per_speaker=2, seed=0, min_len=3, max_len=5):
    """Write the strings and ``strings.csv`` to ``out``; returns the number written."""
    takes = {}
    for name in sorted(os.listdir(src)):
        m = re.fullmatch(r"(\d)_([a-z]+)_(\d+)\.(wav|flac)", name)
        if m:
            takes.setdefault(m.group(2), {}).setdefault(m.group(1), []).append(os.path.join(src, name))
    if not takes:
        raise SystemExit(f"{src}: no FSDD-style files {{digit}}_{{speaker}}_{{n}}.wav/.flac")
    rng = np.random.default_rng(seed)
    os.makedirs(out, exist_ok=True)
    rows = []
    for speaker in sorted(takes):
        digits = sorted(takes[speaker])
        for n in range(per_speaker):
            words = [str(rng.choice(digits)) for _ in range(int(rng.integers(min_len, max_len + 1)))]
            parts, sources = [_pause(rng, 0.10)], []
            for k, w in enumerate(words):
                path = str(rng.choice(takes[speaker][w]))
                y, sr = sf.read(path, dtype="float32")
                if sr != SR or y.ndim != 1:
                    raise SystemExit(f"{path}: need 8 kHz mono audio")
                parts.append(y)
                parts.append(_pause(rng, 0.10 if k == len(words) - 1 else rng.uniform(0.10, 0.30)))
                sources.append(os.path.basename(path))
            name = f"{'-'.join(words)}_{speaker}_{n}.flac"
            sf.write(os.path.join(out, name), np.clip(np.concatenate(parts), -1, 1), SR, subtype="PCM_16")
            rows.append({"file": name, "words": " ".join(words), "speaker": speaker, "sources": " ".join(sources)})
    with open(os.path.join(out, "strings.csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["file", "words", "speaker", "sources"])
        w.writeheader()
        w.writerows(rows)
    return len(rows)


def _pause(rng, seconds):
    return (rng.normal(0.0, 1e-3, int(round(seconds * SR)))).astype(np.float32)


DIGITS, CONNECTED = os.path.join(HERE, "digits"), os.path.join(HERE, "connected")


def main(src=DIGITS, out=CONNECTED, per_speaker="2"):
    n = make_strings(src, out, int(per_speaker))
    print(f"{n} strings written to {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
