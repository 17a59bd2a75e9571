"""Speaker back ends and front ends on the Asterisk prompt set, each on and off on the same trials:
GMM-UBM log-likelihood ratio (raw, AS-norm), GMM supervector + linear SVM (Campbell et al. 2006),
and their fusion; front-end variants; multi-condition training with degradations that do *not*
match the test ones; EER by prompt duration.

The lists are those of bench_speaker_robust.py (``--prepare`` there). Features are computed once per
front end and condition and cached under ``--cache`` (``feats-<front end>-<condition>.npz``).

    python benchmarks/bench_speaker_robust.py --prepare --cache /tmp/gmmkit-asterisk
    python benchmarks/bench_speaker_backends.py --cache /tmp/gmmkit-asterisk --front-ends base,warp
    python benchmarks/bench_speaker_backends.py --front-ends warp --mismatched   # pink/babble/200-3000 Hz

Test conditions: clean, white noise 10 dB SNR, 300-3400 Hz band (as bench_speaker_robust.py).
Mismatched multi-condition training (UBM, cohort, enrolment and SVM background): clean plus pink noise
at 5 and 15 dB SNR, babble (5 other background prompts summed) at 10 dB and a 200-3000 Hz band-pass
(4th order).
"""
import argparse
import os
import sys
import time
from dataclasses import replace

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_speaker_robust import CONDS, read_lists, verification  # noqa: E402

FRONT_ENDS = {
    "base": {},
    "warp": {"warp": 3.0},
    "warp-c0": {"warp": 3.0, "n_mfcc": 20},
    "warp13": {"warp": 3.0, "n_mfcc": 13},
    "warp30": {"warp": 3.0, "n_mfcc": 30, "n_mels": 40},
    "warp1.5": {"warp": 1.5},
    "static": {"warp": 3.0, "deltas": False},
    "nocmvn": {"cmvn": False},
    "nocmvn-noc0": {"cmvn": False, "drop_c0": True},
    "base-noc0": {"drop_c0": True},
    "vad40": {"vad_db": 40.0},
    "nocmvn-vad40": {"cmvn": False, "vad_db": 40.0},
    "hop5": {"hop_ms": 5.0},
    "nocmvn13": {"cmvn": False, "n_mfcc": 13},
    "nocmvn30": {"cmvn": False, "n_mfcc": 30},
    "nocmvn-static": {"cmvn": False, "deltas": False},
}
MISMATCHED = ["pink5", "pink15", "babble10", "band200-3000"]


def pink(n, rng):
    """Pink (1/f power) noise of n samples."""
    white = np.fft.rfft(rng.normal(size=n))
    f = np.arange(white.size, dtype=np.float64)
    f[0] = 1.0
    return np.fft.irfft(white / np.sqrt(f), n)


def degrade(y, cond, sr, rng, others):
    from gmmkit_apps.speech.augment import add_noise, telephone_band

    if ">" in cond:  # 'noise10>telephone': one degradation after the other
        for part in cond.split(">"):
            y = degrade(y, part, sr, rng, others)
        return y
    if cond == "clean":
        return y
    if cond.startswith("noise"):  # white noise at NN dB SNR
        return add_noise(y, float(cond[5:]), seed=int(rng.integers(1 << 30)))
    if cond == "telephone":
        return telephone_band(y, sr)
    if cond.startswith("band"):
        lo, hi = map(float, cond[4:].split("-"))
        return telephone_band(y, sr, lo, hi, order=4)
    if cond.startswith("pink"):
        noise = pink(y.size, rng)
    elif cond.startswith("babble"):
        noise = np.zeros(y.size)
        for j in rng.choice(len(others), size=5, replace=False):
            o = others[j]
            o = np.resize(o, y.size) if o.size < y.size else o[:y.size]
            noise += o / (np.std(o) + 1e-9)
    snr = float(cond[4:] if cond.startswith("pink") else cond[6:])
    p = np.mean(np.asarray(y, np.float64) ** 2)
    noise *= np.sqrt(p / 10 ** (snr / 10) / np.mean(noise ** 2))
    return (y + noise).astype(np.float32)


AUDIO = {}


PRIOR = {}  # front end -> CMVN prior from its clean background frames (before normalisation)


def features(cache, rows, fe_name, cond, idx):
    """{row index: frames or None} of rows ``idx`` under ``cond``, cached on disk. A name
    ``<front end>+map<tau>`` shrinks each utterance's mean and standard deviation towards those of
    the clean background frames with ``tau`` frames of prior weight, then normalises (``+map0``:
    plain per-utterance CMVN); ``+map<tau>@<condition>`` takes the prior from the background frames
    under that condition instead of clean."""
    if "+map" in fe_name:  # the CMVN prior of 'gmmkit speech ubm --cmvn-prior', fitted on clean background
        from gmmkit_apps.speech.speaker_cmvn import fit_prior

        base, tau = fe_name.split("+map")
        tau, _, prior_cond = tau.partition("@")  # '+map300@telephone': the prior from band-limited background
        if fe_name not in PRIOR:
            bg = features(cache, rows, base, prior_cond or "clean", [i for i, r in enumerate(rows) if r[2] == "ubm"])
            prior = fit_prior([f for f in bg.values() if f is not None])
            PRIOR[fe_name] = replace(prior, frames=float(tau))  # tau 0: plain CMVN (the same frames as 'base')
        return {i: None if f is None else PRIOR[fe_name].apply(f)
                for i, f in features(cache, rows, base, cond, idx).items()}
    from gmmkit.exceptions import DataError
    from gmmkit_apps.speech.features import FrontEnd, load_audio, mfcc_frames

    path = os.path.join(cache, f"feats-{fe_name}-{cond}.npz")
    have = dict(np.load(path)) if os.path.exists(path) else {}
    opts = dict(FRONT_ENDS[fe_name])
    drop_c0 = opts.pop("drop_c0", False)
    fe = FrontEnd(**opts)
    missing = [i for i in idx if f"f{i}" not in have and f"x{i}" not in have]
    if missing:
        others = [AUDIO.setdefault(r[1], load_audio(r[1], fe.sr)) for r in rows if r[2] == "ubm"]
        for i in missing:
            p = rows[i][1]
            y = AUDIO.setdefault(p, load_audio(p, fe.sr))
            y = degrade(y, cond, fe.sr, np.random.default_rng(1000 + i), others)
            try:
                f = mfcc_frames(y, front_end=fe, source=p)
                have[f"f{i}"] = f[:, 1:] if drop_c0 else f
            except DataError:
                have[f"x{i}"] = np.zeros(0)
        np.savez(path, **have)
    return {i: have.get(f"f{i}") for i in idx}


def background(bg, k, seed, relevance, ubm_iter=50, ubm_frames=150_000):
    """UBM of ``k`` components and AS-norm cohort from background ``[(speaker, frames)]``."""
    from gmmkit_apps.speech.scorenorm import build_cohort
    from gmmkit_apps.speech.ubm import train_ubm

    ubm = train_ubm([f for _, f in bg], k, max_iter=ubm_iter, random_state=seed, max_frames=ubm_frames)
    return ubm, build_cohort(ubm, [f for _, f in bg], [s for s, _ in bg], relevance=relevance)


def enrol(ubm, en, names, relevance):
    """Stacked MAP-adapted models of ``names`` from enrolment ``[(speaker, frames)]``."""
    from gmmkit_apps.speech.ubm import map_adapt, stack_speakers

    return stack_speakers(ubm, [map_adapt(ubm, [f for s2, f in en if s2 == s], name=s, relevance=relevance)
                                for s in names])


def gmm_scores(ubm, stack, cohort, frames, names, top_n, top_c):
    """Raw and AS-norm (S-norm, adaptive cohort of ``top_n``) scores, files x speakers."""
    from gmmkit_apps.speech.scorenorm import cohort_scores, normalise
    from gmmkit_apps.speech.ubm import score_frames

    raw = np.stack([score_frames(ubm, stack, X, top_c=top_c) for X in frames])
    zct, tc = cohort_scores(ubm, cohort, stack, frames, top_c=top_c)
    return raw, normalise(raw, zct, tc, names, cohort.labels, top_n=top_n)["snorm"]


def run(cache, rows, fe_name, train_conds, conds, k, top_n, C, relevance, svm_relevance, seed=0, by_duration=False,
        top_c=5, ubm_iter=50, ubm_frames=150_000):
    from gmmkit_apps.speech.speaker_svm import supervectors, svm_scores, train_svms

    t0 = time.perf_counter()
    bg_idx = [i for i, r in enumerate(rows) if r[2] == "ubm"]
    en_idx = [i for i, r in enumerate(rows) if r[2] == "enroll"]
    te_idx = [i for i, r in enumerate(rows) if r[2] == "test"]
    train = {c: features(cache, rows, fe_name, c, bg_idx + en_idx) for c in train_conds}
    bg = [(rows[i][0], train[c][i]) for c in train_conds for i in bg_idx if train[c][i] is not None]
    en = [(rows[i][0], train[c][i]) for c in train_conds for i in en_idx if train[c][i] is not None]
    names = sorted({s for s, _, _ in rows})
    ubm, cohort = background(bg, k, seed, relevance, ubm_iter, ubm_frames)
    stack = enrol(ubm, en, names, relevance)
    sv_en = supervectors(ubm, [f for _, f in en], relevance=svm_relevance)
    sv_bg = supervectors(ubm, [f for _, f in bg], relevance=svm_relevance)
    svms = train_svms(sv_en, [s for s, _ in en], names, C=C, background=sv_bg,
                      background_labels=[s for s, _ in bg])
    # impostor scores for the fusion: background utterances against the SVMs (own speaker excluded)
    own = np.asarray([s for s, _ in bg])[:, None] == np.asarray(names)[None, :]
    svm_ref = svm_scores(svms, sv_bg)[~own]
    setup = time.perf_counter() - t0
    res = {}
    for cond in conds:
        F = features(cache, rows, fe_name, cond, te_idx)
        ok = [i for i in te_idx if F[i] is not None]
        frames = [F[i] for i in ok]
        truth = [rows[i][0] for i in ok]
        raw, norm = gmm_scores(ubm, stack, cohort, frames, names, top_n, top_c)
        sv_te = supervectors(ubm, frames, relevance=svm_relevance)
        svm = svm_scores(svms, sv_te)
        systems = {"gmm": raw, "gmm-asnorm": norm, "svm": svm,
                   "fusion": norm + (svm - svm_ref.mean()) / svm_ref.std()}
        res[cond] = {m: verification(S, truth, names) for m, S in systems.items()}
        res[cond]["refused"] = len(te_idx) - len(ok)
        if by_duration and cond == "clean":
            res["duration"] = {m: _by_duration(S, truth, names, [len(f) for f in frames])
                               for m, S in systems.items()}
    return res, setup


BINS = ((0, 100), (100, 200), (200, 400), (400, 10 ** 9))  # speech frames (10 ms)


def _by_duration(S, truth, names, n_frames):
    out = {}
    n_frames = np.asarray(n_frames)
    for lo, hi in BINS:
        sel = (n_frames >= lo) & (n_frames < hi)
        if sel.sum() >= 5:
            v = verification(S[sel], [t for t, s in zip(truth, sel) if s], names)
            out[f"{lo / 100:g}-{hi / 100:g} s" if hi < 10 ** 9 else f">= {lo / 100:g} s"] = (int(sel.sum()), v)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default="/tmp/gmmkit-asterisk")
    ap.add_argument("--front-ends", default="base,warp")
    ap.add_argument("--mismatched", action="store_true", help="train on the mismatched degradations too")
    ap.add_argument("-k", type=int, default=256)
    ap.add_argument("--top-n", type=int, default=50)
    ap.add_argument("--top-c", type=int, default=5)
    ap.add_argument("-C", type=float, default=1.0)
    ap.add_argument("--relevance", type=float, default=16.0)
    ap.add_argument("--svm-relevance", type=float, default=16.0)
    ap.add_argument("--by-duration", action="store_true")
    ap.add_argument("--conds", default=",".join(CONDS), help="test conditions")
    ap.add_argument("--seeds", default="0", help="UBM seeds (comma-separated): one run each")
    ap.add_argument("--ubm-iter", type=int, default=50, help="UBM EM iterations at most")
    ap.add_argument("--ubm-frames", type=int, default=150_000, help="UBM trained on at most this many frames")
    a = ap.parse_args()
    rows = read_lists(a.cache)
    print(f"load {os.getloadavg()[0]:.2f}; UBM {a.k} ({a.ubm_iter} EM iterations at most, {a.ubm_frames} frames), "
          f"30 enrolment prompts, AS-norm top {a.top_n}, SVM C={a.C}, relevance {a.relevance} "
          f"(SVM {a.svm_relevance}), top-C {a.top_c}")
    for fe_name, seed in [(f, int(s)) for f in a.front_ends.split(",") for s in a.seeds.split(",")]:
        conds = ["clean", *MISMATCHED] if a.mismatched else ["clean"]
        t0 = time.perf_counter()
        res, setup = run(a.cache, rows, fe_name, conds, a.conds.split(","), a.k, a.top_n, a.C, a.relevance,
                         a.svm_relevance, seed=seed, by_duration=a.by_duration, top_c=a.top_c,
                         ubm_iter=a.ubm_iter, ubm_frames=a.ubm_frames)
        tag = fe_name + ("+mismatched" if a.mismatched else "") + (f" s{seed}" if "," in a.seeds else "")
        for cond in a.conds.split(","):
            cells = "  ".join(f"{m} {100 * v['id']:.1f}/{100 * v['eer']:.2f}/{v['mindcf']:.3f}"
                              for m, v in res[cond].items() if m != "refused")
            print(f"{tag:18s} {cond:9s} {cells}  refused {res[cond]['refused']}")
        for m, bins in res.get("duration", {}).items():
            print(f"{tag:18s} clean by duration, {m}: " + "; ".join(
                f"{b} ({n} files) ID {100 * v['id']:.1f}% EER {100 * v['eer']:.2f}%" for b, (n, v) in bins.items()))
        print(f"{tag:18s} setup {setup:.0f} s, total {time.perf_counter() - t0:.0f} s, "
              f"load {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
