"""Rebuild datasets/speech/phonemes/: a phone-labelled set synthesised by Debian's flite.

Needs (only to rebuild, never at test time): flite and sox (`apt-get install flite sox`).
Run as ``python datasets/speech/make_phonemes.py``.

flite speaks each sentence below with four of its voices and, with ``-psdur``,
prints every phone's end time; the audio is resampled to 8 kHz mono 16-bit FLAC
(``phonemes/<voice>/sNN.flac``) and ``phonemes/segments.csv`` lists
file,voice,start,end,phone,split. The voices awb, rms and kal16 are the
training voices; slt (the only female voice) is held out as the test voice.
The sentences were written for this data set.
"""
import csv
import os
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN_VOICES = ("awb", "rms", "kal16")
TEST_VOICES = ("slt",)
SENTENCES = [
    "The quick fox ran past the sleeping dog.",
    "She sells fresh bread at the village market.",
    "My brother keeps seven goats behind the barn.",
    "A cold wind blew across the open field.",
    "Please pass the butter and the sharp knife.",
    "Thick fog covered the harbour until noon.",
    "He found a shiny coin under the old bridge.",
    "Every child should learn how to swim.",
    "The judge gave her a fair and quick answer.",
    "We watched the moon rise over the calm lake.",
    "Bring me the thin blue book from the shelf.",
    "They measured the voltage with a cheap meter.",
    "Her garden was full of roses and tall weeds.",
    "Good tea needs boiling water, and you should avoid the joy of haste.",
    "The pilot checked the fuel before take off.",
    "Zebras and giraffes drink at the river at dusk.",
]


def main():
    out = os.path.join(HERE, "phonemes")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for voice in TRAIN_VOICES + TEST_VOICES:
            os.makedirs(os.path.join(out, voice), exist_ok=True)
            split = "train" if voice in TRAIN_VOICES else "test"
            for i, text in enumerate(SENTENCES):
                wav = os.path.join(tmp, "x.wav")
                res = subprocess.run(["flite", "-voice", voice, "-t", text, "-psdur", "-o", wav],
                                     check=True, capture_output=True, text=True)
                name = f"{voice}/s{i:02d}.flac"
                subprocess.run(["sox", "-D", wav, "-r", "8000", "-c", "1", "-b", "16",
                                os.path.join(out, name)], check=True)
                start = 0.0
                for item in res.stdout.split():
                    phone, end = item.rsplit(":", 1)
                    end = float(end)
                    if phone != "pau":
                        rows.append((name, voice, f"{start:.3f}", f"{end:.3f}", phone, split))
                    start = end
    with open(os.path.join(out, "segments.csv"), "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["file", "voice", "start", "end", "phone", "split"])
        w.writerows(rows)


if __name__ == "__main__":
    main()
