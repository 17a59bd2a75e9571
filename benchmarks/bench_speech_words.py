"""Isolated-word recognition on the Free Spoken Digit Dataset: word GMM-HMMs against the
bag-of-frames classifier, leave-one-speaker-out.

Reads the full FSDD from /work/shared/data/fsdd/recordings when present (4 speakers x 500
files), else the 120-file subset shipped in datasets/speech/digits, and says which. Prints:

- how many files the front end refuses (the old fixed minimum of 30 speech frames, the new
  default of 10);
- per held-out speaker: the accuracy of one left-to-right GMM-HMM per digit
  (``WordRecognizer`` defaults) and of ``GMMClassifier`` (one GMM per digit, bag of frames) on
  the same features and split, with training and recognition times;
- speed: training the 10 digit models (gmmkit and hmmlearn, the same states, mixtures and
  iterations, medians of --repeats) and recognition of 1,000 digits including features.

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
    from gmmkit_apps.speech.features import FrontEnd, load_audio, mfcc_frames
    from gmmkit_apps.speech.words import WordRecognizer, labelled_files

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fsdd", default=FSDD if os.path.isdir(FSDD) else SHIPPED)
    ap.add_argument("--components", type=int, default=16, help="GMMs of the bag-of-frames classifier")
    ap.add_argument("--repeats", type=int, default=3, help="timing repeats (medians printed)")
    ap.add_argument("--hmmlearn-words", type=int, default=10,
                    help="train only this many words with hmmlearn (slow on a busy machine); the total is scaled")
    ap.add_argument("--speed-only", action="store_true", help="skip the leave-one-speaker-out table")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    files, words, speakers = labelled_files(args.fsdd)
    print(f"data: {os.path.abspath(args.fsdd)} ({len(files)} files, speakers {', '.join(sorted(set(speakers)))})")

    fe = FrontEnd(n_mfcc=13, vad_db=40.0)  # the words commands' default
    loose = FrontEnd(n_mfcc=13, vad_db=40.0, min_speech_frames=3)
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

    if not args.speed_only:
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

    speed(X, y, [files[i] for i in keep], fe, args.repeats, args.hmmlearn_words)


def _hmmlearn_like(model, n_iter, seed):
    """An hmmlearn GMMHMM with the same states, mixtures and left-to-right chain as ``model``."""
    from hmmlearn.hmm import GMMHMM as HL

    S = model.n_components
    h = HL(S, n_mix=model.n_mix, covariance_type="diag", n_iter=n_iter, tol=0.0, init_params="mcw",
           params="tmcw", random_state=seed, min_covar=1e-3)
    h.startprob_ = np.eye(S)[0]
    h.transmat_ = 0.5 * (np.eye(S) + np.eye(S, k=1))
    h.transmat_[-1, -1] = 1.0
    return h


def speed(X, y, files, fe, repeats, hmmlearn_words, n_iter=10):
    """Deliverable 5: Baum-Welch training of the 10 digit models on every file (gmmkit and
    hmmlearn, the same states, mixtures and iterations), and recognition of 1,000 digits
    including reading the audio and the features (gmmkit; hmmlearn from the same features)."""
    from gmmkit_apps.speech.features import extract
    from gmmkit_apps.speech.words import WordRecognizer

    print(f"\nspeed (load average before: {os.getloadavg()[0]:.1f}); {n_iter} Baum-Welch iterations per word, "
          f"{len(X)} digits, {sum(len(x) for x in X)} frames")
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        rec = WordRecognizer(max_iter=n_iter, tol=0.0).fit(X, y)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    print(f"gmmkit   training of the {len(rec.words_)} word models: median {np.median(times):.1f} s "
          f"({', '.join(f'{t:.1f}' for t in times)}); CPU {np.median(cpu):.1f} s")
    words = rec.words_[:hmmlearn_words]
    if len(words):
        hl, hl_cpu = [], []
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            for j, w in enumerate(words):
                seqs = [x for x, lab in zip(X, y) if lab == w]
                _hmmlearn_like(rec.models_[j], n_iter, 0).fit(np.concatenate(seqs), [len(s) for s in seqs])
            hl.append(time.perf_counter() - t0)
            hl_cpu.append(time.process_time() - c0)
        part = hl if len(words) == len(rec.words_) else None
        scale = len(rec.words_) / len(words)
        print(f"hmmlearn training of {len(words)} of them: median {np.median(hl):.1f} s "
              f"({', '.join(f'{t:.1f}' for t in hl)})"
              + ("" if part else f", x{scale:g} = {scale * np.median(hl):.0f} s for all {len(rec.words_)}")
              + f"; CPU {np.median(hl_cpu):.1f} s")
        g = np.median(times) * len(words) / len(rec.words_)
        gc = np.median(cpu) * len(words) / len(rec.words_)
        print(f"ratio (hmmlearn / gmmkit, the gmmkit share of its {len(words)} words taken pro rata): "
              f"{np.median(hl) / g:.1f}x in elapsed time, {np.median(hl_cpu) / gc:.1f}x in CPU time")
    sample = files[:1000]
    rt = []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        feats = [extract(f, fe) for f in sample]
        t1 = time.perf_counter()
        rec.predict(feats)
        rt.append((time.perf_counter() - t0, t1 - t0, time.process_time() - c0))
    tot, feat = np.median([r[0] for r in rt]), np.median([r[1] for r in rt])
    print(f"gmmkit   recognition of {len(sample)} digits including features: median {tot:.1f} s "
          f"(features {feat:.1f} s, scoring {tot - feat:.1f} s); CPU {np.median([r[2] for r in rt]):.1f} s")
    if len(words):
        hmodels = []
        for m in rec.models_:
            h = _hmmlearn_like(m, 1, 0)
            h.n_features = m.n_features_in_
            h.startprob_, h.transmat_, h.weights_, h.means_ = m.startprob_, m.transmat_, m.weights_, m.means_
            h.covars_ = m.covariances_
            hmodels.append(h)
        t0 = time.perf_counter()
        pred = [rec.words_[int(np.argmax([h.decode(f)[0] for h in hmodels]))] for f in feats]
        th = time.perf_counter() - t0
        agree = np.mean(np.asarray(pred) == rec.predict(feats))
        print(f"hmmlearn scoring of the same {len(sample)} digits (Viterbi, same models): {th:.1f} s "
              f"(gmmkit {tot - feat:.1f} s: {th / max(tot - feat, 1e-9):.1f}x); same answers on {100 * agree:.1f}%")


if __name__ == "__main__":
    main()
