"""A condition-routed speaker system: a channel detector sends each test file to a clean system
(CMVN prior, its weight chosen on development trials) or to a multi-condition system; plus a
duration-aware calibration of the clean system's scores. Asterisk set of bench_speaker_robust.py.

    python benchmarks/bench_speaker_robust.py --prepare --cache /tmp/gmmkit-asterisk
    python benchmarks/bench_speaker_routed.py --cache /tmp/gmmkit-asterisk --seeds 0,1,2 --variants matched,mismatched
    python benchmarks/bench_speaker_routed.py --cache /tmp/gmmkit-asterisk --write-degraded degraded/  # for the CLI
    (the three-branch system through the command line: docs/speech.md, "The three-branch system ...")

Per UBM seed:

- **clean branch**: the CMVN prior's weight TAU (``--taus``; 0 = plain CMVN) chosen on the
  development trials of bench_speaker_dev.py (20 of each speaker's enrolment prompts enrol, the
  other 10 are development tests; lowest development AS-norm EER), then enrolled on all 30
  prompts; UBM, cohort and enrolment on clean files only.
- **degraded branch**: per-utterance CMVN, UBM, cohort and enrolment on the clean files plus
  degraded copies: ``matched`` = white noise 10 and 20 dB and the 300-3400 Hz band (the test's
  kinds of degradation, other noise samples); ``mismatched`` = pink noise 5 and 15 dB, babble 10 dB
  and a 200-3000 Hz band (bench_speaker_backends.py --mismatched).
- **detector** (gmmkit_apps.speech.condition): trained on the 140 background files, clean against
  their degraded copies of the variant's kinds; it decides per test file.

Both branches' scores are AS-norm (adaptive S-norm, top ``--top-n``), so the routed score pool
mixes two systems on one scale. Test conditions as bench_speaker_robust.py: clean, white noise
10 dB, 300-3400 Hz band (420 files, 2,940 trials each). "oracle" routes by the true condition.
Calibration: logistic regression on AS-norm score, log speech duration and their product, fitted
on the clean branch's development trials (never the test's), applied to its clean test scores.

``--variants 3way`` (session 4, second round): three condition-specific branches, as the handset-specific models
of the H-norm years: clean (the CMVN-prior system above), noisy (the matched multi-condition system)
and band (UBM, cohort, enrolment and CMVN prior all on 300-3400 Hz copies; TAU from ``--band-taus``
on band-limited development trials), and a three-class detector (clean / noisy / band: background
files against their white-noise 10 and 20 dB and 300-3400 Hz copies). Routing: hard (most probable
class), soft (the branches' AS-norm scores weighted by the detector's posteriors) and confident
(clean unless a degraded class is more probable by ``t`` nats, ``t`` with the fewest misrouted
development files); each also with the band branch band-passing whatever it is sent.
``--variants 3way-mismatched``: the same with mismatched training (noisy: pink 5, 15 dB and babble
10 dB; band: 200-3000 Hz; the noisy branch the mismatched multi-condition system; the confidence
chosen on development files under those training kinds), tested on white noise and 300-3400 Hz.

    python benchmarks/bench_speaker_routed.py --seeds 0,1,2 --variants 3way --taus 0,300,600
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_speaker_backends import AUDIO, MISMATCHED, background, degrade, enrol, features, gmm_scores  # noqa: E402
from bench_speaker_dev import CEPSTRA, cell, choose, dev_split, trials  # noqa: E402
from bench_speaker_robust import CONDS, read_lists, verification  # noqa: E402

VARIANTS = {"matched": ["noise10", "noise20", "telephone"], "mismatched": MISMATCHED}


def detector_stats(rows, idx, cond):
    """Channel statistics of rows ``idx`` degraded by ``cond`` (the same copies as the features)."""
    from gmmkit_apps.speech.condition import channel_stats
    from gmmkit_apps.speech.features import load_audio

    others = [AUDIO.setdefault(r[1], load_audio(r[1], 8000)) for r in rows if r[2] == "ubm"]
    return np.array([channel_stats(degrade(AUDIO.setdefault(rows[i][1], load_audio(rows[i][1], 8000)), cond, 8000,
                                           np.random.default_rng(1000 + i), others), 8000) for i in idx])


def branch(rows, fe_name, train_conds, idx, seed, a, ubm_cohort=None, through=None):
    """One system trained on ``train_conds`` copies (``ubm_cohort``: a UBM and cohort already
    trained): its test scores {condition: (raw, AS-norm, row indices, speech frames)} and its
    duration-aware calibration, fitted on development trials under ``train_conds``. With
    ``through`` (e.g. "telephone") the test files are also scored after that degradation, as
    {"<condition>>through": ...}: a branch whose front end band-limits whatever it is sent."""
    bg_idx, en_idx, te_idx = idx
    train = {c: features(a.cache, rows, fe_name, c, bg_idx + en_idx) for c in train_conds}
    if ubm_cohort is None:
        ubm_cohort = background([(rows[i][0], train[c][i]) for c in train_conds for i in bg_idx
                                 if train[c][i] is not None], a.k, seed, a.relevance)
    test = {c: c for c in CONDS}
    if through:  # band-passing the clean files is the 'through' condition itself (its cache)
        test.update({f"{c}>{through}": through if c == "clean" else f"{c}>{through}" for c in CONDS})
    out = {c: _scores(rows, ubm_cohort, train, train_conds, en_idx,
                      features(a.cache, rows, fe_name, fc, te_idx), te_idx, a) for c, fc in test.items()}
    return out, dev_calibration(rows, ubm_cohort, train, train_conds, a)


def _scores(rows, ubm_cohort, train, train_conds, en_idx, F, te_idx, a):
    """Files ``te_idx`` (frames ``F``) against speakers enrolled on ``en_idx`` under ``train_conds``."""
    names = sorted({r[0] for r in rows})
    stack = enrol(ubm_cohort[0], [(rows[i][0], train[c][i]) for c in train_conds for i in en_idx
                                  if train[c][i] is not None], names, a.relevance)
    ok = [i for i in te_idx if F[i] is not None]
    raw, norm = gmm_scores(ubm_cohort[0], stack, ubm_cohort[1], [F[i] for i in ok], names, a.top_n, a.top_c)
    return raw, norm, ok, [len(F[i]) for i in ok]


def dev_calibration(rows, ubm_cohort, train, train_conds, a):
    """Duration-aware calibration of AS-norm scores from the development trials of
    bench_speaker_dev.py's split (20 enrolment prompts enrol, 10 test), every training condition
    pooled; the test files are never touched."""
    from gmmkit_apps.speech.calibrate import fit_duration_calibration

    names = sorted({r[0] for r in rows})
    dev_en, dev_te = dev_split(rows, 20)
    s, secs, y = [], [], []
    for c in train_conds:
        _, norm, ok, n = _scores(rows, ubm_cohort, train, train_conds, dev_en, train[c], dev_te, a)
        s.append(norm.ravel())
        secs.append(np.repeat(np.asarray(n) / 100.0, len(names)))
        y.append((np.asarray([rows[i][0] for i in ok])[:, None] == np.asarray(names)[None, :]).ravel())
    return fit_duration_calibration(np.concatenate(s), np.concatenate(secs), np.concatenate(y))


def clean_branch(rows, idx, seed, a, cond="clean", taus=None, through=None):
    """The system of one condition (clean, or e.g. "telephone": UBM, cohort, enrolment and the CMVN
    prior all on that condition's copies): TAU chosen on development trials under ``cond``; its test
    scores and its calibration."""
    bg_idx, en_idx, te_idx = idx
    names = sorted({r[0] for r in rows})
    dev_en, dev_te = dev_split(rows, 20)
    grid = [(20, float(t)) for t in (taus or a.taus).split(",")]
    fe = {g: f"{CEPSTRA[20]}+map{g[1]:g}" + ("" if cond == "clean" else f"@{cond}") for g in grid}
    dev, models = {}, {}
    for g in grid:
        F = features(a.cache, rows, fe[g], cond, bg_idx + en_idx)
        models[g] = background([(rows[i][0], F[i]) for i in bg_idx if F[i] is not None], a.k, seed, a.relevance)
        dev[g] = trials(rows, F, *models[g], dev_en, dev_te, names, a)
    g = choose([dev], grid)
    return g, dev[g], *branch(rows, fe[g], [cond], idx, seed, a, models[g], through)


# detector classes -> training copies, the noisy branch's multi-condition kinds, and the development
# conditions the confidence is chosen on (-> their class); matched and mismatched training
THREE = {"3way": ({"clean": ["clean"], "noisy": ["noise10", "noise20"], "band": ["telephone"]},
                  VARIANTS["matched"], {"clean": "clean", "noise10": "noisy", "telephone": "band"}),
         "3way-mismatched": ({"clean": ["clean"], "noisy": ["pink5", "pink15", "babble10"], "band": ["band200-3000"]},
                             MISMATCHED, {"clean": "clean", "pink5": "noisy", "pink15": "noisy", "babble10": "noisy",
                                          "band200-3000": "band"})}
TRUE = {"clean": "clean", "noise10": "noisy", "telephone": "band"}  # test condition -> right class


def three_class_detector(rows, bg_idx, seed, classes):
    """Clean / noisy / band-limited detector (gmmkit_apps.speech.condition.ConditionDetector, no
    outlier floor) over the channel statistics of the background files and their copies ``classes``
    ({class: conditions})."""
    from gmmkit_apps.speech.condition import train_detector_classes

    return train_detector_classes({k: np.vstack([detector_stats(rows, bg_idx, c) for c in classes[k]])
                                   for k in classes}, outlier_quantile=0.0, trained_on=classes, random_state=seed)


def posteriors(det, X):
    """{class: log posterior per row of ``X``}."""
    lp = det.classifier.predict_log_proba(X)
    return {c: lp[:, j] for j, c in enumerate(det.classes)}


def confident_route(det, X, t):
    """Class per row of ``X``: the most probable degraded class when its log posterior exceeds the
    clean class's by more than ``t`` nats, else clean (the detector's own rule, margin ``t``)."""
    from copy import copy

    d = copy(det)
    d.margin = float(t)
    return np.array(d.detect(X))


def dev_threshold(rows, det, dev_conds):
    """The margin ``t`` of :func:`confident_route` with the fewest misrouted development files
    (bench_speaker_dev.py's 70 development test prompts, under each condition of ``dev_conds``
    {condition: right class}; gmmkit_apps.speech.condition.choose_margin, 0-20 nats, ties: the
    middle of the tied values). Never the test files."""
    from gmmkit_apps.speech.condition import choose_margin

    _, dev_te = dev_split(rows, 20)
    by_class = {}
    for c, k in dev_conds.items():
        by_class.setdefault(k, []).append(detector_stats(rows, dev_te, c))
    return choose_margin(det, {k: np.vstack(v) for k, v in by_class.items()})


def three_way(rows, idx, seed, a, clean, stats, table, variant="3way"):
    """Three condition-specific branches (clean: the CMVN-prior system; noisy: the matched
    multi-condition system; band: everything on 300-3400 Hz copies) routed by a three-class detector:
    hard (most probable class), soft (scores fused with the posteriors as weights) and confident
    (clean unless a degraded class is ``t`` nats more probable, ``t`` from development files)."""
    bg_idx, _, te_idx = idx
    names = sorted({r[0] for r in rows})
    classes, mc_kinds, dev_conds = THREE[variant]
    bandc = classes["band"][0]
    g, d, band, _ = clean_branch(rows, idx, seed, a, bandc, a.band_taus, through=bandc)
    _, b_norm, b_ok, _ = band["telephone"]
    truth = [rows[i][0] for i in b_ok]
    print(f"{variant} seed {seed}: band branch ({bandc}) TAU {g[1]:g} (dev AS-norm {cell(d['asnorm'])}); "
          f"telephone test, oracle route, AS-norm {cell(verification(b_norm, truth, names))}", flush=True)
    noisy = branch(rows, "base", ["clean", *mc_kinds], idx, seed, a)[0]
    branches = {"clean": clean, "noisy": noisy, "band": band}
    det = three_class_detector(rows, bg_idx, seed, classes)
    t, dev_wrong, n_dev = dev_threshold(rows, det, dev_conds)
    print(f"{variant} seed {seed}: confidence t = {t} nats ({dev_wrong} of {n_dev} development files misrouted)")
    for cond in CONDS:
        both = sorted(set.intersection(*(set(b[cond][2]) for b in branches.values())))
        S = {k: b[cond][1][[b[cond][2].index(i) for i in both]] for k, b in branches.items()}
        bp = band[f"{cond}>{bandc}"]  # the band branch band-passing what it is sent
        both_bp = [bp[2].index(i) if i in bp[2] else None for i in both]
        if None in both_bp:
            raise SystemExit(f"{cond}: the band-passed copy of a file was refused; the 3way table needs all")
        S_bp = dict(S, band=bp[1][both_bp])
        lp = posteriors(det, stats[cond][[te_idx.index(i) for i in both]])
        hard = np.array(list(lp))[np.argmax(np.vstack(list(lp.values())), axis=0)]
        conf = confident_route(det, stats[cond][[te_idx.index(i) for i in both]], t)
        pick = {}
        for tag, Sx in (("", S), (", band-passed", S_bp)):
            pick.update({name + tag: sum(np.where((route == k)[:, None], Sx[k], 0.0) for k in Sx)
                         for name, route in (("hard", hard), ("confident", conf),
                                             ("oracle", np.full(len(both), TRUE[cond])))})
            pick["soft" + tag] = sum(np.exp(lp[k])[:, None] * Sx[k] for k in Sx)
        truth = [rows[i][0] for i in both]
        v = {k: verification(x, truth, names) for k, x in pick.items()}
        right = {k: np.mean(r == TRUE[cond]) for k, r in (("hard", hard), ("confident", conf))}
        table.append((f"{variant} {seed}", cond, right, v, int(np.sum(conf != TRUE[cond]))))
        print(f"{variant} seed {seed} {cond:9s} routed right: hard {100 * right['hard']:5.1f}% confident "
              f"{100 * right['confident']:5.1f}% ({table[-1][4]} misrouted)  " +
              "  ".join(f"{k} {cell(x)}" for k, x in v.items()) + f"  refused {len(te_idx) - len(both)}", flush=True)


def three_way_tables(table):
    for what in [w + tag for tag in ("", ", band-passed") for w in ("oracle", "hard", "soft", "confident")]:
        print(f"\n| seed | routed right (hard / confident): clean / noise / telephone | {what}: clean | "
              "white noise 10 dB | telephone band |\n|---|---|---|---|---|---|")
        for i in range(0, len(table), len(CONDS)):
            r = table[i:i + len(CONDS)]
            print(f"| {r[0][0]} | " + " / ".join(f"{100 * x[2]['hard']:.1f}" for x in r) + " \\| " +
                  " / ".join(f"{100 * x[2]['confident']:.1f}" for x in r) + " | " +
                  " | ".join(cell(x[3][what]) for x in r) + " |")


def write_degraded(rows, folder):
    """The test files degraded as the benchmark degrades them (16-bit WAV under ``folder``),
    ``trials-<condition>.csv`` (speaker,file,target) and ``dev-files.txt`` (the development prompts
    the 3way margin is chosen on, one path a line) for the command line."""
    import soundfile as sf

    from gmmkit_apps.speech.features import load_audio

    names = sorted({r[0] for r in rows})
    others = [AUDIO.setdefault(r[1], load_audio(r[1], 8000)) for r in rows if r[2] == "ubm"]
    for cond in CONDS:
        lines = ["speaker,file,target"]
        for i, (s, p, split) in enumerate(rows):
            if split != "test":
                continue
            f = p if cond == "clean" else os.path.join(folder, cond, f"{s}-{os.path.basename(p)[:-5]}.wav")
            if cond != "clean":
                os.makedirs(os.path.dirname(f), exist_ok=True)
                sf.write(f, degrade(load_audio(p, 8000), cond, 8000, np.random.default_rng(1000 + i), others), 8000)
            lines += [f"{n},{os.path.abspath(f)},{int(n == s)}" for n in names]
        with open(os.path.join(folder, f"trials-{cond}.csv"), "w") as fh:
            fh.write("\n".join(lines) + "\n")
    with open(os.path.join(folder, "dev-files.txt"), "w") as fh:
        fh.write("".join(rows[i][1] + "\n" for i in dev_split(rows, 20)[1]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default="/tmp/gmmkit-asterisk")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--variants", default="matched,mismatched", help="matched, mismatched, 3way, 3way-mismatched")
    ap.add_argument("--taus", default="0,150,300,600,1000", help="CMVN prior weights tried on the dev trials")
    ap.add_argument("--band-taus", default="0,300,600", help="CMVN prior weights tried for the 3way band branch")
    ap.add_argument("--outlier-quantile", type=float, default=0.01, help="the detector's clean outlier floor")
    ap.add_argument("-k", type=int, default=256)
    ap.add_argument("--top-n", type=int, default=50)
    ap.add_argument("--top-c", type=int, default=5)
    ap.add_argument("--relevance", type=float, default=16.0)
    ap.add_argument("--write-degraded", metavar="DIR", help="only write the degraded test files and trial lists")
    a = ap.parse_args()
    from gmmkit_apps.speech.condition import CLASSES, train_detector

    rows = read_lists(a.cache)
    if a.write_degraded:
        os.makedirs(a.write_degraded, exist_ok=True)
        return write_degraded(rows, a.write_degraded)
    names = sorted({r[0] for r in rows})
    idx = tuple([i for i, r in enumerate(rows) if r[2] == s] for s in ("ubm", "enroll", "test"))
    bg_idx, _, te_idx = idx
    t0 = time.perf_counter()
    stats = {c: detector_stats(rows, te_idx, c) for c in CONDS}
    print(f"load {os.getloadavg()[0]:.2f}; UBM {a.k}, AS-norm top {a.top_n}; cells ID % / EER % / minDCF")
    table = []
    table3 = []
    for seed in (int(s) for s in a.seeds.split(",")):
        g, d, clean, cal = clean_branch(rows, idx, seed, a)
        _, norm, ok, n = clean["clean"]
        truth = [rows[i][0] for i in ok]
        cal_v = verification(cal.apply(norm, np.asarray(n)[:, None] / 100.0), truth, names)
        print(f"seed {seed}: clean branch TAU {g[1]:g} (dev AS-norm {cell(d['asnorm'])}); clean test AS-norm "
              f"{cell(verification(norm, truth, names))}, duration-calibrated {cell(cal_v)}; calibration "
              f"{np.round(cal.coef, 3).tolist()}", flush=True)
        for variant in a.variants.split(","):
            if variant in THREE:
                three_way(rows, idx, seed, a, clean, stats, table3, variant)
                continue
            kinds = VARIANTS[variant]
            det = train_detector(detector_stats(rows, bg_idx, "clean"),
                                 np.vstack([detector_stats(rows, bg_idx, c) for c in kinds]),
                                 outlier_quantile=a.outlier_quantile, trained_on=kinds, random_state=seed)
            mc, mc_cal = branch(rows, "base", ["clean", *kinds], idx, seed, a)
            for cond in CONDS:
                routed = np.array(det.detect(stats[cond])) == CLASSES[1]
                acc = np.mean(routed == (cond != "clean"))
                (_, c_norm, c_ok, c_n), (_, m_norm, m_ok, m_n) = clean[cond], mc[cond]
                both = sorted(set(c_ok) & set(m_ok))
                ci, mi = [c_ok.index(i) for i in both], [m_ok.index(i) for i in both]
                deg = routed[[te_idx.index(i) for i in both]][:, None]
                truth = [rows[i][0] for i in both]
                cells = {"clean branch": c_norm[ci], "degraded branch": m_norm[mi],
                         "routed": np.where(deg, m_norm[mi], c_norm[ci]),
                         "oracle": m_norm[mi] if cond != "clean" else c_norm[ci]}
                c_llr = cal.apply(c_norm[ci], np.asarray(c_n)[ci, None] / 100.0)
                m_llr = mc_cal.apply(m_norm[mi], np.asarray(m_n)[mi, None] / 100.0)
                cells["routed, calibrated"] = np.where(deg, m_llr, c_llr)
                v = {k: verification(S, truth, names) for k, S in cells.items()}
                table.append((variant, seed, cond, acc, v["routed"], v["routed, calibrated"]))
                print(f"{variant:10s} seed {seed} {cond:9s} detector {100 * acc:5.1f}% right  " +
                      "  ".join(f"{k} {cell(x)}" for k, x in v.items()) + f"  refused {len(te_idx) - len(both)}",
                      flush=True)
    if table3:
        three_way_tables(table3)
    for j, what in ((4, "routed, AS-norm"), (5, "routed, calibrated")) if table else ():
        print(f"\n| variant | seed | detector right: clean / noise / telephone | {what}: clean | white noise 10 dB "
              "| telephone band |\n|---|---|---|---|---|---|")
        for i in range(0, len(table), len(CONDS)):
            r = table[i:i + len(CONDS)]
            print(f"| {r[0][0]} | {r[0][1]} | " + " / ".join(f"{100 * x[3]:.1f}" for x in r) + " | " +
                  " | ".join(cell(x[j]) for x in r) + " |")
    print(f"total {time.perf_counter() - t0:.0f} s, load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
