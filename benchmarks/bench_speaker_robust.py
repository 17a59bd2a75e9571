"""Speaker recognition off the studio: clean, white noise 10 dB SNR, telephone band; raw and
normalised scores; each robust front-end option on and off; open-set identification.

Data: the full Asterisk prompt sets of the 7 voices of datasets/speech/speakers (Debian packages,
``apt-get install asterisk-core-sounds-{en,fr,it,ru}-wav asterisk-prompt-it-menardi-wav
asterisk-prompt-es-co asterisk-prompt-fr-armelle sox``), the 32 shipped prompts excluded:
110 whole-sentence prompts common to all voices, split per voice 20 UBM / 30 enrolment / 60 test
(every 11 prompts in name order: 2, 3, 6). ``--prepare`` converts them to 8 kHz FLAC under
``--cache`` and writes ``lists.csv`` (speaker,file,split) and ``trials.csv`` there, for the CLI:

    python benchmarks/bench_speaker_robust.py --prepare --cache /tmp/asterisk
    python benchmarks/bench_speaker_robust.py --cache /tmp/asterisk [--configs base,warp,...]

Enrolment is clean; test files are degraded on the fly (white noise at 10 dB SNR, or a 300-3400 Hz
band-pass). The impostor cohort is the UBM prompts (one model per utterance; a speaker's own
prompts are left out of its statistics). 420 test files, 2,940 trials per condition.
"""
import argparse
import csv
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOUNDS = "/usr/share/asterisk/sounds"
CONDS = ("clean", "noise10", "telephone")
MC = ["clean", "noise10", "noise20", "telephone"]
CONFIGS = {  # name -> (front-end options, multi-condition: 0 off, 1 UBM and cohort, 2 also enrolment)
    "base": ({}, 0),
    "warp": ({"warp": 3.0}, 0),
    "rasta": ({"rasta": True}, 0),
    "gmmvad": ({"vad_method": "gmm"}, 0),
    "mc": ({}, 1),
    "mc2": ({}, 2),
    "warp+gmmvad": ({"warp": 3.0, "vad_method": "gmm"}, 0),
    "warp+gmmvad+mc2": ({"warp": 3.0, "vad_method": "gmm"}, 2),
    "all": ({"warp": 3.0, "vad_method": "gmm", "rasta": True}, 2),
    "ss": ({"denoise": True}, 0),
    "ss+warp+gmmvad": ({"denoise": True, "warp": 3.0, "vad_method": "gmm"}, 0),
    "ss+warp+gmmvad+mc2": ({"denoise": True, "warp": 3.0, "vad_method": "gmm"}, 2),
}


sys.path.insert(0, os.path.join(ROOT, "datasets", "speech"))
import make_dataset  # noqa: E402  (datasets/speech/make_dataset.py: the voices and the converter)


def prepare(cache):
    roots = {v: os.path.join(SOUNDS, sub.split("/")[-1]) for v, (_, sub) in make_dataset.VOICES.items()}
    prompts = make_dataset._prompts
    missing = [r for r in roots.values() if not os.path.isdir(r)]
    if missing:
        sys.exit(f"not installed: {missing[0]} (apt-get install the Asterisk prompt packages, see the docstring)")
    shipped = {os.path.splitext(f)[0] for f in os.listdir(os.path.join(ROOT, "datasets", "speech", "speakers",
                                                                          "carlo"))}
    common = sorted(n for n in set.intersection(*(prompts(r) for r in roots.values()))
                    if "/" not in n and n not in shipped)[:110]
    split = (["ubm"] * 2 + ["enroll"] * 3 + ["test"] * 6) * 10
    rows = []
    for v, root in roots.items():
        os.makedirs(os.path.join(cache, v), exist_ok=True)
        for name, s in zip(common, split):
            dst = os.path.join(cache, v, name + ".flac")
            if not os.path.exists(dst):
                make_dataset.convert(root, name, dst)
            rows.append((v, f"{v}/{name}.flac", s))
    make_dataset.write_lists(cache, rows, "lists.csv")
    print(f"{len(rows)} files ({len(common)} prompts x {len(roots)} voices) in {cache}")


SCORES = {}  # condition -> (normalised score matrices, trial labels) of the last configuration run


def plot_dets(path, title):
    """DET curves, raw and AS-norm, for every condition of the last configuration run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gmmkit_apps.speech.metrics import eer, plot_det

    fig, ax = plt.subplots(figsize=(5.2, 5.2), dpi=90)
    for cond, (norm, y) in SCORES.items():
        for m in ("raw", "snorm"):
            s = norm[m].ravel()
            plot_det(s, y, ax=ax, label=f"{cond}, {'AS-norm' if m == 'snorm' else m}: EER {100 * eer(s, y)[0]:.2f}%")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)


def read_lists(cache):
    with open(os.path.join(cache, "lists.csv"), newline="") as fh:
        return [(r["speaker"], os.path.join(cache, r["file"]), r["split"]) for r in csv.DictReader(fh)]


def features(rows, fe, cond):
    """{path: frames} under condition ``cond`` (None when the front end refuses the file)."""
    from gmmkit.exceptions import DataError
    from gmmkit_apps.speech.augment import conditions
    from gmmkit_apps.speech.features import load_audio, mfcc_frames

    out = {}
    for i, (_, p, _) in enumerate(rows):
        y = conditions(load_audio(p, fe.sr), fe.sr, [cond], seed=i)[0]
        try:
            out[p] = mfcc_frames(y, front_end=fe, source=p)
        except DataError:
            out[p] = None
    return out


def verification(S, truth, names):
    from gmmkit_apps.speech.metrics import eer, min_dcf

    labels = (np.asarray(truth)[:, None] == np.asarray(names)[None, :]).ravel()
    e, thr = eer(S.ravel(), labels)
    return {"id": float(np.mean(np.asarray(names)[S.argmax(1)] == np.asarray(truth))), "eer": e,
            "mindcf": min_dcf(S.ravel(), labels, p_target=0.01)[0], "thr": thr}


def run_config(rows, opts, multi, k, top_n, seed=0):
    from gmmkit_apps.speech.features import FrontEnd
    from gmmkit_apps.speech.inputs import condition_frames
    from gmmkit_apps.speech.scorenorm import build_cohort, cohort_scores, normalise
    from gmmkit_apps.speech.ubm import map_adapt, score_frames, stack_speakers, train_ubm

    fe = FrontEnd(**opts)
    t0 = time.perf_counter()
    clean = features(rows, fe, "clean")
    ubm_rows = [r for r in rows if r[2] == "ubm" and clean[r[1]] is not None]

    def copies(sel, conds):  # frames and speaker labels of every file under every condition
        frames, labels = [], []
        for i, (s, p, _) in enumerate(sel):
            got = condition_frames([p], fe, conds, seed=seed + i) if len(conds) > 1 else [clean[p]]
            frames += got
            labels += [s] * len(got)
        return frames, labels

    bg, bg_labels = copies(ubm_rows, MC if multi else ["clean"])
    ubm = train_ubm(bg, k, max_iter=50, random_state=seed, max_frames=150_000)
    names = sorted({s for s, _, _ in rows})
    models = [map_adapt(ubm, copies([r for r in rows if r[0] == s and r[2] == "enroll" and clean[r[1]] is not None],
                                    MC if multi == 2 else ["clean"])[0], name=s) for s in names]
    cohort = build_cohort(ubm, bg, bg_labels)
    setup = time.perf_counter() - t0
    test = [r for r in rows if r[2] == "test"]
    res = {}
    for cond in CONDS:
        F = clean if cond == "clean" else features(test, fe, cond)
        ok = [r for r in test if F[r[1]] is not None]
        frames = [F[p] for _, p, _ in ok]
        stack = stack_speakers(ubm, models)
        raw = np.stack([score_frames(ubm, stack, X) for X in frames])
        zc, tc = cohort_scores(ubm, cohort, stack, frames)
        norm = normalise(raw, zc, tc, names, cohort.labels, top_n=top_n)
        truth = [s for s, _, _ in ok]
        SCORES[cond] = (norm, (np.asarray(truth)[:, None] == np.asarray(names)[None, :]).ravel())
        res[cond] = {m: verification(S, truth, names) for m, S in norm.items()}
        res[cond]["refused"] = len(test) - len(ok)
    return res, setup, (ubm, models, cohort, clean, names, fe)


def open_set(rows, state, top_n, held_out=("armelle", "july")):
    """Enrolled: all voices but ``held_out``. Threshold: the S-norm EER threshold on the first 20 test
    prompts of the enrolled voices; measured on the other 40 test prompts of all 7 voices."""
    from gmmkit_apps.speech.scorenorm import cohort_scores, normalise
    from gmmkit_apps.speech.ubm import score_frames

    ubm, models, cohort, clean, names, _ = state
    keep = [i for i, n in enumerate(names) if n not in held_out]
    models = [models[i] for i in keep]
    names = [names[i] for i in keep]
    out = {}
    for part in ("dev", "eval"):
        sel, seen = [], {}
        for s, p, sp in rows:
            if sp != "test" or clean[p] is None:
                continue
            seen[s] = seen.get(s, 0) + 1
            if (seen[s] <= 20) == (part == "dev") and (part == "eval" or s in names):
                sel.append((s, p))
        frames = [clean[p] for _, p in sel]
        raw = np.stack([score_frames(ubm, models, X) for X in frames])
        zc, tc = cohort_scores(ubm, cohort, models, frames)
        out[part] = (normalise(raw, zc, tc, names, cohort.labels, top_n=top_n), [s for s, _ in sel])
    result = {}
    for m in ("raw", "snorm"):
        S, truth = out["dev"][0][m], out["dev"][1]
        thr = verification(S, truth, names)["thr"]
        S, truth = out["eval"][0][m], np.asarray(out["eval"][1])
        best = np.asarray(names)[S.argmax(1)]
        accepted = S.max(1) >= thr
        inset = np.isin(truth, names)
        err = np.where(inset, ~accepted | (best != truth), accepted)
        result[m] = {"open_set_error": float(err.mean()), "false_accept_unknown": float(accepted[~inset].mean()),
                     "in_set_error": float(err[inset].mean()), "files": int(len(truth)),
                     "unknown_files": int((~inset).sum())}
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default="/tmp/gmmkit-asterisk")
    ap.add_argument("--prepare", action="store_true")
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("-k", type=int, default=256)
    ap.add_argument("--top-n", type=int, default=50)
    ap.add_argument("--open-set", action="store_true")
    ap.add_argument("--det", help="PNG of the DET curves of the last configuration (raw and AS-norm)")
    a = ap.parse_args()
    if a.prepare or not os.path.exists(os.path.join(a.cache, "lists.csv")):
        prepare(a.cache)
        if a.prepare:
            return
    rows = read_lists(a.cache)
    print(f"load: {os.getloadavg()[0]:.2f}  UBM {a.k}, 30 enrolment prompts, AS-norm top {a.top_n}")
    for name in a.configs.split(","):
        opts, multi = CONFIGS[name]
        t0 = time.perf_counter()
        res, setup, state = run_config(rows, opts, multi, a.k, a.top_n)
        for cond, r in res.items():
            cells = "  ".join(f"{m} {100 * v['id']:.1f}/{100 * v['eer']:.2f}/{v['mindcf']:.3f}"
                              for m, v in r.items() if m != "refused")
            print(f"{name:15s} {cond:9s} {cells}  refused {r['refused']}")
        if a.open_set:
            for m, v in open_set(rows, state, a.top_n).items():
                print(f"{name:15s} open-set {m}: error {100 * v['open_set_error']:.1f}% of {v['files']} "
                      f"(unknown accepted {100 * v['false_accept_unknown']:.1f}% of {v['unknown_files']}, "
                      f"in-set error {100 * v['in_set_error']:.1f}%)")
        print(f"{name:15s} setup {setup:.0f} s, total {time.perf_counter() - t0:.0f} s, "
              f"load {os.getloadavg()[0]:.2f}", flush=True)
    if a.det:
        plot_dets(a.det, f"GMM-UBM {a.k}, {name}: 7 voices, 2,940 trials per condition")


if __name__ == "__main__":
    main()
