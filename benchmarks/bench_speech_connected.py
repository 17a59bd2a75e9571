"""Connected digits: word error rate of the word-loop decoder (``WordLoop``) on strings of
FSDD digits joined with short pauses, leave-one-speaker-out.

For each speaker of the full FSDD here (4 x 500 isolated digits), word models are trained on
the other three speakers' isolated digits (``WordRecognizer`` defaults) and decode that
speaker's strings (made by ``datasets/speech/make_connected.py``: 3-5 digits, pauses of
0.1-0.3 s) by one Viterbi pass over the digit loop; the front end's VAD drops the pauses.
Prints WER (substitutions, deletions, insertions) per held-out speaker for a few word-entry
penalties, and the isolated-digit accuracy of the same models on the same speaker beside it.

    python datasets/speech/make_connected.py /work/shared/data/fsdd/recordings /tmp/connected 25
    python benchmarks/bench_speech_connected.py --strings /tmp/connected [--penalties=0,-20,-40]
"""
from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

FSDD = "/work/shared/data/fsdd/recordings"


def main(argv=None):
    import pandas as pd

    from gmmkit_apps.speech.corpus import features_of
    from gmmkit_apps.speech.features import FrontEnd
    from gmmkit_apps.speech.loop import WordLoop, word_errors
    from gmmkit_apps.speech.words import WordRecognizer, labelled_files

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fsdd", default=FSDD)
    ap.add_argument("--strings", required=True, help="folder made by make_connected.py (with strings.csv)")
    ap.add_argument("--penalties", default="0,-10,-20,-40")
    ap.add_argument("--vad-db", type=float, default=40.0, help="VAD threshold (the words commands' default: 40)")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    penalties = [float(v) for v in args.penalties.split(",")]
    fe = FrontEnd(n_mfcc=13, vad_db=args.vad_db)
    files, words, speakers = labelled_files(args.fsdd)
    table = pd.read_csv(os.path.join(args.strings, "strings.csv"), dtype=str)
    t0 = time.perf_counter()
    X = features_of(files, fe)
    Xs = features_of([os.path.join(args.strings, f) for f in table["file"]], fe)
    print(f"data: {len(files)} isolated digits, {len(table)} strings ({sum(len(w.split()) for w in table['words'])} "
          f"digits); features {time.perf_counter() - t0:.1f} s")
    words, speakers = np.asarray(words), np.asarray(speakers)
    head = f"{'held out':>10} {'strings':>7} {'digits':>6} {'isolated acc':>12} " + " ".join(
        f"{f'WER pen={p:g}':>13}" for p in penalties) + f" {'S/D/I at best':>14} {'decode s':>8}"
    print(head)
    totals = np.zeros((len(penalties), 3))
    n_ref = 0
    for spk in sorted(set(speakers)):
        tr = np.flatnonzero(speakers != spk)
        rec = WordRecognizer().fit([X[i] for i in tr], words[tr])
        te = np.flatnonzero(speakers == spk)
        iso = np.mean(rec.predict([X[i] for i in te]) == words[te])
        rows = np.flatnonzero(table["speaker"].to_numpy() == spk)
        refs = [table["words"].iloc[i].split() for i in rows]
        errs = np.zeros((len(penalties), 3))
        t1 = time.perf_counter()
        for k, p in enumerate(penalties):
            loop = WordLoop(rec, word_penalty=p)
            for i, ref in zip(rows, refs):
                errs[k] += word_errors(ref, loop.decode(Xs[i]))
        dt = (time.perf_counter() - t1) / len(penalties)
        n = sum(len(r) for r in refs)
        totals += errs
        n_ref += n
        best = int(np.argmin(errs.sum(axis=1)))
        sdi = "/".join(str(int(v)) for v in errs[best])
        print(f"{spk:>10} {len(rows):>7} {n:>6} {100 * iso:>11.1f}% " + " ".join(
            f"{100 * e.sum() / n:>12.1f}%" for e in errs) + f" {sdi:>14} {dt:>8.1f}")
    best = int(np.argmin(totals.sum(axis=1)))
    print(f"{'all':>10} {len(table):>7} {n_ref:>6} {'':>12} " + " ".join(
        f"{100 * e.sum() / n_ref:>12.1f}%" for e in totals) + f" {'/'.join(str(int(v)) for v in totals[best]):>14}")


if __name__ == "__main__":
    main()
