"""Isolated-word recognition on the Free Spoken Digit Dataset: word GMM-HMMs against the
bag-of-frames classifier, leave-one-speaker-out.

Reads the full FSDD from /work/shared/data/fsdd/recordings when present (4 speakers x 500
files), else the 120-file subset shipped in datasets/speech/digits, and says which. Prints:

- how many files the front end refuses (the old fixed minimum of 30 speech frames, the new
  default of 10);
- per held-out speaker: the accuracy of one left-to-right GMM-HMM per digit
  (``WordRecognizer`` defaults) and of ``GMMClassifier`` (one GMM per digit, bag of frames) on
  the same features and split, with training and recognition times;
- recognition time of 1,000 digits including features.

    python benchmarks/bench_speech_words.py [--fsdd FOLDER] [--components 16]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FSDD = "/work/shared/data/fsdd/recordings"
SHIPPED = os.path.join(HERE, "..", "datasets", "speech", "digits")


def main(argv=None):
    from gmmkit.exceptions import DataError
    from gmmkit_apps.speech.classifier import GMMClassifier
    from gmmkit_apps.speech.features import FrontEnd, extract, load_audio, mfcc_frames
    from gmmkit_apps.speech.words import WordRecognizer, labelled_files

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fsdd", default=FSDD if os.path.isdir(FSDD) else SHIPPED)
    ap.add_argument("--components", type=int, default=16, help="GMMs of the bag-of-frames classifier")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    files, words, speakers = labelled_files(args.fsdd)
    print(f"data: {os.path.abspath(args.fsdd)} ({len(files)} files, speakers {', '.join(sorted(set(speakers)))})")

    fe = FrontEnd(n_mfcc=13)
    loose = FrontEnd(n_mfcc=13, min_speech_frames=3)
    t0 = time.perf_counter()
    feats, refused_old, refused_new = [], 0, 0
    for f in files:
        try:
            F = mfcc_frames(load_audio(f, fe.sr), front_end=loose, source=f)
        except DataError:
            refused_old += 1
            refused_new += 1
            feats.append(None)
            continue
        refused_old += len(F) < 30
        refused_new += len(F) < fe.min_speech_frames
        feats.append(F if len(F) >= fe.min_speech_frames else None)
    t_feat = time.perf_counter() - t0
    print(f"front end: {t_feat:.1f} s for {len(files)} files; refused with the old minimum of 30 frames: "
          f"{refused_old}, with the new default of {fe.min_speech_frames}: {refused_new}")
    keep = [i for i, F in enumerate(feats) if F is not None]
    X = [feats[i] for i in keep]
    y = np.asarray([words[i] for i in keep])
    spk = np.asarray([speakers[i] for i in keep])

    print(f"\n{'held out':>10} {'n':>5} {'word HMMs':>10} {'train s':>8} {'test s':>7} "
          f"{'bag of frames':>14} {'train s':>8} {'test s':>7}")
    tot = np.zeros(2)
    for s in sorted(set(spk)):
        tr, te = np.flatnonzero(spk != s), np.flatnonzero(spk == s)
        t0 = time.perf_counter()
        rec = WordRecognizer().fit([X[i] for i in tr], y[tr])
        t1 = time.perf_counter()
        acc_h = np.mean(rec.predict([X[i] for i in te]) == y[te])
        t2 = time.perf_counter()
        clf = GMMClassifier(args.components, random_state=0).fit([X[i] for i in tr], y[tr])
        t3 = time.perf_counter()
        acc_b = np.mean(clf.predict([X[i] for i in te]) == y[te])
        t4 = time.perf_counter()
        tot += [acc_h * len(te), acc_b * len(te)]
        print(f"{s:>10} {len(te):>5} {100 * acc_h:>9.1f}% {t1 - t0:>8.1f} {t2 - t1:>7.1f} "
              f"{100 * acc_b:>13.1f}% {t3 - t2:>8.1f} {t4 - t3:>7.1f}")
        sys.stdout.flush()
    print(f"{'all':>10} {len(y):>5} {100 * tot[0] / len(y):>9.1f}% {'':>16} {100 * tot[1] / len(y):>13.1f}%")

    # recognition of 1,000 digits, features included, by the last fold's models
    sample = [files[i] for i in keep[:1000]]
    t0 = time.perf_counter()
    rec.predict([extract(f, fe) for f in sample])
    print(f"\nrecognition of {len(sample)} digits including features: {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
