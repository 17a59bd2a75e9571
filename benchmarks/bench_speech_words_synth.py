"""Speaker-independent digit recognition on FSDD with synthetic voices as extra training speakers.

Leave-one-speaker-out over the real speakers (the held-out speaker is never in training, nothing
is tuned on it); the synthetic voices (``datasets/speech/make_synthetic_digits.py``: flite and
espeak-ng settings, each saying "zero" .. "nine" once) join every fold's training and are never
tested. They are written into a cache folder (``$GMMKIT_CACHE/synthetic_digits``, default
``~/.cache/gmmkit/synthetic_digits``) on the first run (about a minute; needs
``apt-get install -y --no-install-recommends flite espeak-ng sox``). Rows (``WordRecognizer``
defaults throughout; "|" separates model sets whose log-likelihoods are averaged, see ``groups``
in ``WordRecognizer.fit``; "+ noise": a copy of every utterance with white noise at 25 dB SNR):

- ``real``: the three other real speakers;
- ``pooled``: real + synthetic in one model set;
- ``experts``: real | synthetic;
- ``experts+noise``: real | synthetic + noise (``words train --extra-train SYNTH --noise-copies 25``
  gives the synthetic set its noisy copies, and the real set too: that is ``cli`` below);
- ``cli``: real + noise | synthetic + noise (what ``words train/evaluate --extra-train SYNTH
  --noise-copies 25`` does);
- ``experts3``: real | real + noise | synthetic + noise;
- ``synthonly``: synthetic only, tested on every real speaker;
- ``experts-speed``: real | real at speeds 0.92 and 1.08 | synthetic;
- ``experts-mix8``: real | synthetic with 8 Gaussians per state (5 elsewhere).

Then the training time of the 10 digit models of ``experts`` and ``cli`` on all the real and synthetic
data, and the time to recognise 1,000 digits (features included) with the two model sets.

    python benchmarks/bench_speech_words_synth.py [--fsdd FOLDER] [--speakers 240] [ROW ...]
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
ROWS = ("real", "pooled", "experts", "experts+noise", "cli", "experts3", "synthonly", "experts-speed", "experts-mix8")


def cache_folder():
    return os.path.join(os.environ.get("GMMKIT_CACHE", os.path.expanduser("~/.cache/gmmkit")), "synthetic_digits")


def synthetic(n_speakers):
    """The synthetic digits folder (made when missing) and its speakers in plan order."""
    sys.path.insert(0, os.path.join(HERE, "..", "datasets", "speech"))
    from make_synthetic_digits import make, plan

    folder = cache_folder()
    t0 = time.perf_counter()
    n = make(folder, n_speakers, progress=False)
    print(f"synthetic: {folder} ({n} files; {time.perf_counter() - t0:.0f} s to make or check)")
    return folder, [r["speaker"] for r in plan(n_speakers)]


def features(files, fe, noise_db=None):
    """Feature frames of each file (None where the front end refuses it); ``noise_db``: with
    white noise at that SNR first."""
    from gmmkit.exceptions import DataError
    from gmmkit_apps.speech.augment import add_noise
    from gmmkit_apps.speech.features import load_audio, mfcc_frames

    out = []
    for k, f in enumerate(files):
        y = load_audio(f, fe.sr)
        if noise_db is not None:
            y = add_noise(y, noise_db, seed=k)
        try:
            out.append(mfcc_frames(y, front_end=fe, source=f))
        except DataError:
            out.append(None)
    return out


def main(argv=None):
    from gmmkit_apps.speech.features import FrontEnd, extract
    from gmmkit_apps.speech.words import WordRecognizer, labelled_files

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rows", nargs="*", default=list(ROWS), help=f"rows to run ({', '.join(ROWS)})")
    ap.add_argument("--fsdd", default=FSDD)
    ap.add_argument("--speakers", type=int, default=240, help="synthetic speakers (first 30: flite)")
    ap.add_argument("--noise-db", type=float, default=25.0, help="SNR of the noisy copies")
    ap.add_argument("--vad-db", type=float, default=30.0, help="the front end's VAD threshold (words --vad-db)")
    args = ap.parse_args(argv)
    bad = sorted(set(args.rows) - set(ROWS))
    if bad:
        raise SystemExit(f"unknown row(s) {bad}: choose from {', '.join(ROWS)}")
    warnings.simplefilter("ignore")
    fe = FrontEnd(n_mfcc=13, vad_db=args.vad_db)
    folder, order = synthetic(args.speakers)
    files, words, speakers = labelled_files(args.fsdd)
    sfiles, swords, sspk = labelled_files(folder)
    print(f"real: {args.fsdd} ({len(files)} files, speakers {', '.join(sorted(set(speakers)))}); "
          f"VAD {args.vad_db:g} dB, noise copies at {args.noise_db:g} dB; load {os.getloadavg()[0]:.1f}")
    keep = set(order)
    sfiles, swords = zip(*[(f, w) for f, w, s in zip(sfiles, swords, sspk) if s in keep])
    t0 = time.perf_counter()
    X, SX = features(files, fe), features(sfiles, fe)
    XN, SXN = features(files, fe, args.noise_db), features(sfiles, fe, args.noise_db)
    print(f"features of {2 * (len(files) + len(sfiles))} files (clean and noisy): {time.perf_counter() - t0:.0f} s; "
          f"refused: {sum(x is None for x in X)} real, {sum(x is None for x in SX)} synthetic")
    ok = ok_real = [i for i, x in enumerate(X) if x is not None]  # a noisy copy with too little speech: the clean one
    X, XN, words, speakers = ([X[i] for i in ok], [XN[i] if XN[i] is not None else X[i] for i in ok],
                              np.asarray(words)[ok], np.asarray(speakers)[ok])
    ok = [i for i, x in enumerate(SX) if x is not None]
    SX, SXN, swords = ([SX[i] for i in ok], [SXN[i] if SXN[i] is not None else SX[i] for i in ok],
                       [swords[i] for i in ok])
    names = sorted(set(speakers))
    sets = {"real": lambda tr: ([X[i] for i in tr], list(words[tr])),
            "real+noise": lambda tr: ([X[i] for i in tr] + [XN[i] for i in tr], list(words[tr]) * 2),
            "synthetic": lambda tr: (SX, swords), "synthetic+noise": lambda tr: (SX + SXN, swords * 2),
            "synthetic (8 Gaussians)": lambda tr: (SX, swords)}
    if "experts-speed" in args.rows:  # training copies of the real audio at speeds 0.92 and 1.08
        XS = [[extract(f, fe, speed=v) for f in files] for v in (0.92, 1.08)]
        XS = [[c[i] for i in ok_real] for c in XS]
        sets["real speeds"] = lambda tr: ([c[i] for c in XS for i in tr], list(words[tr]) * 2)
    recipes = {"real": [["real"]], "pooled": [["real", "synthetic"]], "experts": [["real"], ["synthetic"]],
               "experts+noise": [["real"], ["synthetic+noise"]], "cli": [["real+noise"], ["synthetic+noise"]],
               "experts3": [["real"], ["real+noise"], ["synthetic+noise"]], "synthonly": [["synthetic"]],
               "experts-speed": [["real"], ["real speeds"], ["synthetic"]],
               "experts-mix8": [["real"], ["synthetic (8 Gaussians)"]]}
    cache = {}

    def model(parts, tr):
        """WordRecognizer on the union of the named sets (fold-free ones trained once)."""
        key = (tuple(parts), None if all(p.startswith("synthetic") for p in parts) else tuple(tr))
        if key not in cache:
            Xs, ys = [], []
            for p in parts:
                a, b = sets[p](tr)
                Xs, ys = Xs + a, ys + b
            cache[key] = WordRecognizer(n_mix=8 if "8 Gaussians" in parts[0] else 5).fit(Xs, ys)
        return cache[key]

    print(f"\n{'model sets (| : averaged)':>44} " + " ".join(f"{s:>8}" for s in names) + f" {'all':>7} {'s':>5}")
    for row in args.rows:
        t0 = time.perf_counter()
        acc = {}
        for s in names:
            tr, te = np.flatnonzero(speakers != s), np.flatnonzero(speakers == s)
            S = np.mean([model(parts, tr).score([X[i] for i in te]) for parts in recipes[row]], axis=0)
            acc[s] = np.mean(model(recipes[row][0], tr).words_[S.argmax(axis=1)] == words[te])
        label = f"{row}: " + " | ".join(" + ".join(p) for p in recipes[row])
        print(f"{label:>44} " + " ".join(f"{100 * acc[s]:>7.1f}%" for s in names)
              + f" {100 * np.mean(list(acc.values())):>6.2f}% {time.perf_counter() - t0:>5.0f}"
              + f"  (load {os.getloadavg()[0]:.1f})", flush=True)

    for row in ("experts", "cli"):  # the 10 digit models of the row, on all the real and synthetic data
        parts = [p for group in recipes[row] for p in group]
        Xs, ys, gs = [], [], []
        for p in parts:
            a, b = sets[p](np.arange(len(X)))
            Xs, ys, gs = Xs + a, ys + b, gs + [p.split("+")[0]] * len(a)
        t0, c0 = time.perf_counter(), time.process_time()
        rec = WordRecognizer().fit(Xs, ys, groups=gs)
        print(f"\ntraining the 10 digit models of '{row}' on {len(Xs)} utterances: {time.perf_counter() - t0:.1f} s "
              f"(CPU {time.process_time() - c0:.1f} s; load {os.getloadavg()[0]:.1f})")
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        feats = [extract(f, fe) for f in files[:1000]]
        t1 = time.perf_counter()
        rec.predict(feats)
        print(f"recognising 1,000 digits with the two model sets of 'cli', features included: "
              f"{time.perf_counter() - t0:.1f} s (features {t1 - t0:.1f} s; CPU {time.process_time() - c0:.1f} s; "
              f"load {os.getloadavg()[0]:.1f})")

if __name__ == "__main__":
    main()
