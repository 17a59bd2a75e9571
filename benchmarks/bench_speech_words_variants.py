"""Speaker-independent digit recognition on FSDD: the standard speaker-normalisation tools,
each switched on alone, leave-one-speaker-out (the table "what was tried" of docs/speech.md).

The MFCCs are recomputed here with the front end's own pieces (framing, window, mel scale, deltas,
VAD, CMVN of ``gmmkit_apps.speech.features``) so that the mel filter bank can be warped for
vocal tract length normalisation (VTLN): filter edges f -> alpha f up to 85% of the Nyquist
frequency, then linearly to it. At alpha = 1 with the defaults the features equal
``extract(path, FrontEnd(n_mfcc=13))`` (checked at start).

    python benchmarks/bench_speech_words_variants.py [VARIANT ...]

Variants: defaults novad endpoint vad40 vad50 spkcmvn cmn mels23 noc0 vtln (test-time VTLN: one warp
per speaker and per utterance, maximum likelihood over 0.86-1.14). Each takes ~35 CPU-seconds of
training per fold.
"""
from __future__ import annotations

import os
import sys
import time
import warnings

import numpy as np

FSDD = "/work/shared/data/fsdd/recordings"
VARIANTS = {"defaults": {}, "novad": {"vad": False}, "endpoint": {"pad": 5}, "vad40": {"vad_db": 40.0},
            "vad50": {"vad_db": 50.0}, "cmn": {"norm": "cmn"}, "mels23": {"n_mels": 23}, "noc0": {"c0": False},
            "spkcmvn": {"norm": "speaker"}, "vtln": {}}
ALPHAS = np.round(np.arange(0.86, 1.1401, 0.02), 2)


def _melbank(sr, n_fft, n_mels, alpha):
    from gmmkit_apps.speech.features import _hz_to_mel, _mel_to_hz

    nyq = sr / 2.0
    e = _mel_to_hz(np.linspace(_hz_to_mel(20.0), _hz_to_mel(nyq), n_mels + 2))
    f0 = 0.85 * nyq * min(1.0, 1.0 / alpha)  # the filter at warped frequency e reads the spectrum at inv(e)
    e = np.where(e <= alpha * f0, e / alpha, f0 + (e - alpha * f0) * (nyq - f0) / (nyq - alpha * f0))
    fft_hz = np.arange(n_fft // 2 + 1) * sr / n_fft
    ramps = e[:, None] - fft_hz[None, :]
    w = np.maximum(0, np.minimum(-ramps[:-2] / np.diff(e)[:-1, None], ramps[2:] / np.diff(e)[1:, None]))
    return w * (2.0 / (e[2:] - e[:-2]))[:, None]


def features(y, *, alpha=1.0, n_mels=40, n_mfcc=13, vad=True, vad_db=30.0, pad=0, norm="utt", c0=True):
    """13 MFCCs + deltas of one 8 kHz signal, as the front end computes them, with the options."""
    from scipy.fft import dct, rfft

    from gmmkit_apps.speech.features import _delta, _frames, _window, cmvn, energy_vad

    rng = np.random.default_rng(0)  # the front end's dither
    yd = (y + rng.normal(0.0, 1e-5, size=y.shape).astype(np.float32)).astype(np.float32)
    P = np.abs(rfft(_frames(yd, 256, 80) * _window(200, 256).astype(np.float32), axis=1)) ** 2
    db = 10 * np.log10(np.maximum(P @ _melbank(8000, 256, n_mels, alpha).T, 1e-10))
    m = dct(np.maximum(db, db.max() - 80.0), type=2, norm="ortho", axis=1)[:, :n_mfcc][:, (0 if c0 else 1):].T
    width = min(9, m.shape[1] if m.shape[1] % 2 else m.shape[1] - 1)
    F = np.vstack([m, _delta(m, width, 1), _delta(m, width, 2)]).T
    if vad:
        mask = energy_vad(y, sr=8000, hop=80, win=200, threshold_db=vad_db)[: len(F)]
        if pad:
            k = np.flatnonzero(mask)
            mask[max(0, k[0] - pad): k[-1] + pad + 1] = True
        F = F[mask]
    if norm == "utt":
        return cmvn(F).astype(np.float64)
    return F - F.mean(axis=0) if norm == "cmn" else F.astype(np.float64)


def loso(X, words, speakers, score_versions=None):
    """Per held-out speaker accuracy; ``score_versions``: {alpha: features} for test-time VTLN."""
    from gmmkit_apps.speech.words import WordRecognizer

    out = {"": {}, "speaker warp": {}, "utterance warp": {}}
    for s in sorted(set(speakers)):
        tr, te = np.flatnonzero(speakers != s), np.flatnonzero(speakers == s)
        rec = WordRecognizer().fit([X[i] for i in tr], words[tr])
        if score_versions is None:
            out[""][s] = np.mean(rec.predict([X[i] for i in te]) == words[te])
            continue
        sc = np.array([rec.score([score_versions[a][i] for i in te]) for a in ALPHAS])  # (A, n, words)
        best, arg = sc.max(axis=2), sc.argmax(axis=2)
        k = int(np.argmax(best.sum(axis=1)))
        out["speaker warp"][s] = np.mean(rec.words_[arg[k]] == words[te])
        ku = best.argmax(axis=0)
        out["utterance warp"][s] = np.mean(rec.words_[arg[ku, np.arange(len(te))]] == words[te])
    return {k: v for k, v in out.items() if v}


def main(argv=None):
    import soundfile as sf

    from gmmkit_apps.speech.features import FrontEnd, extract
    from gmmkit_apps.speech.words import labelled_files

    names = (argv if argv is not None else sys.argv[1:]) or list(VARIANTS)
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
    warnings.simplefilter("ignore")
    files, words, speakers = labelled_files(FSDD)
    words, speakers = np.asarray(words), np.asarray(speakers)
    audio = [sf.read(f, dtype="float32")[0] for f in files]
    same = np.allclose(features(audio[0]), extract(files[0], FrontEnd(n_mfcc=13)), atol=1e-4)
    print(f"{len(files)} files; features at alpha 1 equal the front end's: {same}; load {os.getloadavg()[0]:.1f}")
    for name in names:
        t0 = time.perf_counter()
        opts = VARIANTS[name]
        if name == "vtln":
            versions = {a: [features(y, alpha=a) for y in audio] for a in ALPHAS}
            res = loso(versions[1.0], words, speakers, versions)
        else:
            X = [features(y, **{**opts, "norm": "none" if opts.get("norm") == "speaker" else opts.get("norm", "utt")})
                 for y in audio]
            if opts.get("norm") == "speaker":
                for s in set(speakers):
                    ix = np.flatnonzero(speakers == s)
                    A = np.concatenate([X[i] for i in ix])
                    for i in ix:
                        X[i] = (X[i] - A.mean(axis=0)) / A.std(axis=0)
            res = loso(X, words, speakers)
        for label, acc in res.items():
            row = " ".join(f"{k} {100 * v:.1f}%" for k, v in acc.items())
            print(f"{name + (' ' + label if label else ''):>24}: {row}"
                  + f"  all {100 * np.mean(list(acc.values())):.2f}%  ({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
