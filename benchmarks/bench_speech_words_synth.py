"""Speaker-independent digit recognition on FSDD with synthetic voices as extra training speakers.

Leave-one-speaker-out over the real speakers (the held-out speaker is never in training); the
synthetic voices (``datasets/speech/make_synthetic_digits.py``: flite and espeak-ng settings, each
saying "zero" .. "nine" once) are added to every fold's training and never tested. They are
written into a cache folder (``$GMMKIT_CACHE/synthetic_digits``, default
``~/.cache/gmmkit/synthetic_digits``) on the first run (about a minute; needs
``apt-get install -y --no-install-recommends flite espeak-ng sox``). Rows:

- ``real``: the three other real speakers only (the ``WordRecognizer`` defaults);
- ``real + N synthetic``: plus the first N synthetic speakers (30 = the flite ones);
- ``real + N synthetic + noise``: plus a copy of every training utterance with white noise at
  25 dB SNR (multi-condition training, for nicolas's hissy recordings);
- ``synthetic only``: trained on the synthetic voices alone, tested on each real speaker.

Also the training time of the 10 digit models on all real and synthetic data.

    python benchmarks/bench_speech_words_synth.py [--fsdd FOLDER] [--speakers 240] [ROW ...]

ROW names: real, flite, synth, synth+noise, synthonly (default: all).
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
ROWS = ("real", "flite", "synth", "synth+noise", "synthonly")


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
    from gmmkit_apps.speech.features import FrontEnd
    from gmmkit_apps.speech.words import WordRecognizer, cross_validate_speakers, labelled_files

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rows", nargs="*", default=list(ROWS), help=f"rows to run ({', '.join(ROWS)})")
    ap.add_argument("--fsdd", default=FSDD)
    ap.add_argument("--speakers", type=int, default=240, help="synthetic speakers (first 30: flite)")
    ap.add_argument("--noise-db", type=float, default=25.0, help="SNR of the noisy copies (synth+noise row)")
    args = ap.parse_args(argv)
    bad = sorted(set(args.rows) - set(ROWS))
    if bad:
        raise SystemExit(f"unknown row(s) {bad}: choose from {', '.join(ROWS)}")
    warnings.simplefilter("ignore")
    fe = FrontEnd(n_mfcc=13)
    folder, order = synthetic(args.speakers)
    files, words, speakers = labelled_files(args.fsdd)
    sfiles, swords, sspk = labelled_files(folder)
    print(f"real: {args.fsdd} ({len(files)} files, speakers {', '.join(sorted(set(speakers)))}); "
          f"load {os.getloadavg()[0]:.1f}")
    t0 = time.perf_counter()
    X, SX = features(files, fe), features(sfiles, fe)
    print(f"features of {len(files) + len(sfiles)} files: {time.perf_counter() - t0:.0f} s; refused: "
          f"{sum(x is None for x in X)} real, {sum(x is None for x in SX)} synthetic")
    keep = [i for i, x in enumerate(X) if x is not None]
    X, words, speakers = [X[i] for i in keep], np.asarray(words)[keep], np.asarray(speakers)[keep]
    rank = {s: k for k, s in enumerate(order)}

    def synth(n, noisy=None):
        ix = [i for i, x in enumerate(SX) if x is not None and rank.get(sspk[i], n) < n]
        out = ([SX[i] for i in ix], [swords[i] for i in ix])
        if noisy is not None:
            more = [i for i in ix if noisy[i] is not None]
            out = (out[0] + [noisy[i] for i in more], out[1] + [swords[i] for i in more])
        return out

    print(f"\n{'training data':>34} " + " ".join(f"{s:>8}" for s in sorted(set(speakers))) + f" {'all':>7} {'s':>5}")
    for row in args.rows:
        t0 = time.perf_counter()
        if row == "synthonly":
            SXs, Sws = synth(args.speakers)
            rec = WordRecognizer().fit(SXs, Sws)
            pred = rec.predict(X)
            acc = {s: np.mean(pred[speakers == s] == words[speakers == s]) for s in sorted(set(speakers))}
            label = f"synthetic only ({args.speakers} voices)"
        else:
            augment, extra, label = (), None, "real (3 other speakers)"
            if row == "flite":
                extra, label = synth(30), "real + 30 synthetic (flite)"
            elif row in ("synth", "synth+noise"):
                noisy = None
                if row == "synth+noise":
                    noisy = features(sfiles, fe, args.noise_db)
                    augment = [[x if x is not None else X[i] for i, x in
                                enumerate(features([files[k] for k in keep], fe, args.noise_db))]]
                extra = synth(args.speakers, noisy)
                label = f"real + {args.speakers} synthetic" + (f" + noise {args.noise_db:g} dB" if noisy else "")
            rows, _ = cross_validate_speakers(X, words, speakers, augment=augment, extra=extra)
            acc = {r["speaker"]: r["accuracy"] for r in rows}
        print(f"{label:>34} " + " ".join(f"{100 * acc[s]:>7.1f}%" for s in sorted(acc))
              + f" {100 * np.mean(list(acc.values())):>6.2f}% {time.perf_counter() - t0:>5.0f}"
              + f"  (load {os.getloadavg()[0]:.1f})", flush=True)

    SXs, Sws = synth(args.speakers)
    t0, c0 = time.perf_counter(), time.process_time()
    WordRecognizer().fit(X + SXs, list(words) + list(Sws))
    print(f"\ntraining the 10 digit models on {len(X)} real + {len(SXs)} synthetic utterances: "
          f"{time.perf_counter() - t0:.1f} s (CPU {time.process_time() - c0:.1f} s; load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
