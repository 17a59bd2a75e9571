"""The CMVN prior's weight chosen on development trials, never on the test files.

Each speaker's 30 enrolment prompts (lists of bench_speaker_robust.py) are split by file name: the
first 20 enrol, the last 10 are development test prompts, scored against every speaker as the test
trials are (70 files, 490 trials). For each UBM seed, every setting of the grid (CMVN prior weight
TAU, 0 = plain per-utterance CMVN; 20 or 13 cepstra) gets its own UBM and cohort (background prompts
only) and is scored on the development trials; the setting with the lowest development EER
(AS-norm) wins, ties going to the higher development identification, then the smaller TAU, then 20
cepstra. Only then are the speakers enrolled on all 30 prompts with the UBM of the chosen setting
and the 420 test files (2,940 trials) scored, raw and AS-norm. Three ways of choosing are
reported: per seed, once on the first seed, and on the dev EER averaged over the seeds.

    python benchmarks/bench_speaker_robust.py --prepare --cache /tmp/gmmkit-asterisk
    python benchmarks/bench_speaker_dev.py --cache /tmp/gmmkit-asterisk --seeds 0,1,2

Features come from bench_speaker_backends.py's cache (front ends ``nocmvn`` and ``nocmvn13``, clean).
``--all-test`` also scores the test files for every setting (for comparison only; it does not change
the choice).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_speaker_backends import background, enrol, features, gmm_scores  # noqa: E402
from bench_speaker_robust import read_lists, verification  # noqa: E402

CEPSTRA = {20: "nocmvn", 13: "nocmvn13"}  # un-normalised front ends of bench_speaker_backends.py


def dev_split(rows, n_enrol=20):
    """Row indices (dev enrolment, dev test): per speaker, the first ``n_enrol`` enrolment prompts
    by file name enrol and the rest are development test prompts."""
    en, te = [], []
    for s in sorted({r[0] for r in rows}):
        own = sorted((i for i, r in enumerate(rows) if r[2] == "enroll" and r[0] == s), key=lambda i: rows[i][1])
        en += own[:n_enrol]
        te += own[n_enrol:]
    return en, te


def trials(rows, F, ubm, cohort, en_idx, te_idx, names, a):
    """Raw and AS-norm verification/identification of files ``te_idx`` against speakers enrolled on ``en_idx``."""
    stack = enrol(ubm, [(rows[i][0], F[i]) for i in en_idx if F[i] is not None], names, a.relevance)
    ok = [i for i in te_idx if F[i] is not None]
    raw, norm = gmm_scores(ubm, stack, cohort, [F[i] for i in ok], names, a.top_n, a.top_c)
    truth = [rows[i][0] for i in ok]
    return {"raw": verification(raw, truth, names), "asnorm": verification(norm, truth, names),
            "refused": len(te_idx) - len(ok)}


def choose(devs, grid):
    """The setting (cepstra, TAU) of ``grid`` with the lowest development AS-norm EER averaged over
    ``devs`` (one {setting: dev results} per seed); ties: identification, smaller TAU, 20 cepstra."""
    return min(grid, key=lambda g: (np.mean([d[g]["asnorm"]["eer"] for d in devs]),
                                    -np.mean([d[g]["asnorm"]["id"] for d in devs]), g[1], g[0] != 20))


def cell(v):
    return f"{100 * v['id']:.1f}/{100 * v['eer']:.2f}/{v['mindcf']:.3f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default="/tmp/gmmkit-asterisk")
    ap.add_argument("--taus", default="0,150,300,600,1000", help="CMVN prior weights in frames (0 = plain CMVN)")
    ap.add_argument("--cepstra", default="20,13", help="numbers of cepstra to try (20, 13)")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--dev-enrol", type=int, default=20, help="enrolment prompts per speaker kept for enrolment")
    ap.add_argument("-k", type=int, default=256)
    ap.add_argument("--top-n", type=int, default=50)
    ap.add_argument("--top-c", type=int, default=5)
    ap.add_argument("--relevance", type=float, default=16.0)
    ap.add_argument("--all-test", action="store_true", help="also score the test files for every setting")
    a = ap.parse_args()
    rows = read_lists(a.cache)
    names = sorted({r[0] for r in rows})
    bg_idx = [i for i, r in enumerate(rows) if r[2] == "ubm"]
    en_idx = [i for i, r in enumerate(rows) if r[2] == "enroll"]
    te_idx = [i for i, r in enumerate(rows) if r[2] == "test"]
    dev_en, dev_te = dev_split(rows, a.dev_enrol)
    assert not set(dev_te) & set(te_idx) and set(dev_en) | set(dev_te) == set(en_idx)
    grid = [(int(c), float(t)) for c in a.cepstra.split(",") for t in a.taus.split(",")]
    print(f"load {os.getloadavg()[0]:.2f}; UBM {a.k}, AS-norm top {a.top_n}; dev: {len(dev_en)} enrolment and "
          f"{len(dev_te)} test prompts ({len(dev_te) * len(names)} trials); cells ID % / EER % / minDCF")
    seeds = [int(x) for x in a.seeds.split(",")]
    dev, ubms = {}, {}  # seed -> (cepstra, tau) -> dev results / (UBM, cohort)
    for seed in seeds:
        dev[seed], ubms[seed] = {}, {}
        for c, tau in grid:
            F = features(a.cache, rows, f"{CEPSTRA[c]}+map{tau:g}", "clean", bg_idx + en_idx + te_idx)
            ubm, cohort = background([(rows[i][0], F[i]) for i in bg_idx if F[i] is not None], a.k, seed,
                                     a.relevance)
            ubms[seed][c, tau] = (ubm, cohort)
            d = dev[seed][c, tau] = trials(rows, F, ubm, cohort, dev_en, dev_te, names, a)
            line = f"seed {seed}  {c} cepstra, TAU {tau:6g}  dev raw {cell(d['raw'])}  AS-norm {cell(d['asnorm'])}"
            if a.all_test:
                t = trials(rows, F, ubm, cohort, en_idx, te_idx, names, a)
                line += f"  | test raw {cell(t['raw'])}  AS-norm {cell(t['asnorm'])}"
            print(line, flush=True)
    print("| choice | seed | chosen | dev AS-norm | test raw | test AS-norm |\n|---|---|---|---|---|---|")
    tests = {}
    for policy in ("per-seed", "first", "pooled"):  # lowest dev EER of the seed, of the first seed, averaged
        for seed in seeds:
            on = {"per-seed": [seed], "first": seeds[:1], "pooled": seeds}[policy]
            g = choose([dev[s] for s in on], grid)
            if (seed, g) not in tests:
                F = features(a.cache, rows, f"{CEPSTRA[g[0]]}+map{g[1]:g}", "clean", en_idx + te_idx)
                tests[seed, g] = trials(rows, F, *ubms[seed][g], en_idx, te_idx, names, a)
            t = tests[seed, g]
            print(f"| {policy} | {seed} | {g[0]} cepstra, TAU {g[1]:g} | {cell(dev[seed][g]['asnorm'])} | "
                  f"{cell(t['raw'])} | {cell(t['asnorm'])} |", flush=True)
    print(f"choice: lowest dev AS-norm EER of the seed (per-seed), of seed {seeds[0]} (first) or averaged over "
          f"the seeds (pooled); ties: dev identification, smaller TAU, 20 cepstra. load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
