"""Copy a small subset of the Free Spoken Digit Dataset into ``digits/`` (for tests and docs).

FSDD (CC BY-SA 4.0, Z. Jackson et al., https://doi.org/10.5281/zenodo.1342401) is read from
``/work/shared/data/fsdd/recordings`` or the folder given as the first argument; the files
``{digit}_{speaker}_{n}.wav`` with n < 3 (3 takes of each digit by each speaker) are written
losslessly as FLAC under the same names (samples unchanged: 8 kHz mono 16-bit).

Usage: python datasets/speech/make_digits.py [FSDD_RECORDINGS_FOLDER]
"""
import os
import re
import sys

import soundfile as sf

TAKES = 3
HERE = os.path.dirname(os.path.abspath(__file__))


def main(src="/work/shared/data/fsdd/recordings"):
    out = os.path.join(HERE, "digits")
    os.makedirs(out, exist_ok=True)
    n = 0
    for name in sorted(os.listdir(src)):
        m = re.fullmatch(r"(\d)_([a-z]+)_(\d+)\.wav", name)
        if m is None or int(m.group(3)) >= TAKES:
            continue
        data, sr = sf.read(os.path.join(src, name), dtype="int16")
        sf.write(os.path.join(out, name[:-4] + ".flac"), data, sr, subtype="PCM_16")
        n += 1
    print(f"{n} files written to {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
