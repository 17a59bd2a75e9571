"""Phones: three-state GMM-HMM phone models against the bag-of-frames classifier, per held-out
flite voice (datasets/speech/phonemes: 16 sentences x 4 voices, 40 phones).

For each voice (slt, the female voice, is the issue's test), models are trained on the other
three voices' segments and tested on its 451 segments: phone classification accuracy of
``WordRecognizer(**PHONE_MODEL)`` with and without speed-perturbed training copies
(``--speeds``) and with test-time speeds (``--test-speeds``: each segment also scored at those
speeds, each phone keeping its best score per frame), of ``GMMClassifier`` (one GMM per phone,
bag of frames, same frames), and the phone error rate of phone-loop recognition (``WordLoop``
over the phone models trained with the extra speeds, whole sentences).

    python benchmarks/bench_speech_phones.py [--speeds 1.1,1.2] [--penalty -10]
"""
from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SEGMENTS = os.path.join(HERE, "..", "datasets", "speech", "phonemes", "segments.csv")


def main(argv=None):
    from gmmkit_apps.speech.classifier import GMMClassifier
    from gmmkit_apps.speech.corpus import read_segments
    from gmmkit_apps.speech.loop import WordLoop, word_errors
    from gmmkit_apps.speech.phones import PHONE_MODEL, phone_frames, sentence_frames
    from gmmkit_apps.speech.words import WordRecognizer

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--speeds", default="1.1,1.2", help="speeds of the extra training copies")
    ap.add_argument("--test-speeds", default="0.9,1.1", help="also score each test segment at these speeds")
    ap.add_argument("--penalty", type=float, default=-10.0, help="phone-entry penalty of the phone loop")
    ap.add_argument("--voices", default="slt,awb,rms,kal16")
    ap.add_argument("--confusion", help="PNG: confusion matrix of the first held-out voice (models with the copies)")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    speeds = [float(v) for v in args.speeds.split(",") if v]
    test_speeds = [float(v) for v in args.test_speeds.split(",") if v]
    df = read_segments(SEGMENTS)
    t0 = time.perf_counter()
    X = {v: phone_frames(df, speed=v) for v in dict.fromkeys([1.0] + speeds + test_speeds)}
    print(f"{len(df)} segments, {df['label'].nunique()} phones; features {time.perf_counter() - t0:.1f} s")
    y, voice = df["label"].to_numpy(), df["voice"].to_numpy()
    print(f"{'held out':>9} {'n':>4} {'bag of frames':>13} {'phone HMMs':>10} "
          f"{'+ speeds ' + args.speeds:>18} {'+ test speeds ' + args.test_speeds:>22} "
          f"{'phone loop PER':>14} {'(S/D/I)':>12}")
    for held in args.voices.split(","):
        tr, te = np.flatnonzero(voice != held), np.flatnonzero(voice == held)
        test = [X[1.0][i] for i in te]
        bag = GMMClassifier(4, random_state=0).fit([X[1.0][i] for i in tr], y[tr])
        acc_bag = np.mean(bag.predict(test) == y[te])
        hmm = WordRecognizer(**PHONE_MODEL).fit([X[1.0][i] for i in tr], y[tr])
        acc_hmm = np.mean(hmm.predict(test) == y[te])
        acc_aug = np.nan
        if speeds:
            aug = WordRecognizer(**PHONE_MODEL).fit([X[v][i] for v in [1.0] + speeds for i in tr],
                                                    np.tile(y[tr], 1 + len(speeds)))
            pred = aug.predict(test)
            acc_aug = np.mean(pred == y[te])
            best = aug
            if args.confusion and held == args.voices.split(",")[0]:
                from gmmkit_apps.speech.cli_words import _plot_confusion
                from gmmkit_apps.speech.metrics import classification_scores

                _plot_confusion(classification_scores(y[te], pred, aug.words_)[2], args.confusion, acc_aug, True)
        else:
            best = hmm
        versions = [[X[v][i] for i in te] for v in test_speeds]
        acc_test = np.mean(best.predict(test, versions=versions) == y[te]) if versions else np.nan
        loop = WordLoop(best, word_penalty=args.penalty)
        err, n = np.zeros(3), 0
        for _, F, ref in sentence_frames(df.iloc[te]):
            err += word_errors(ref, loop.decode(F))
            n += len(ref)
        print(f"{held:>9} {len(te):>4} {100 * acc_bag:>12.1f}% {100 * acc_hmm:>9.1f}% {100 * acc_aug:>17.1f}% "
              f"{100 * acc_test:>21.1f}% "
              f"{100 * err.sum() / n:>13.1f}% {'/'.join(str(int(e)) for e in err):>12}", flush=True)


if __name__ == "__main__":
    main()
