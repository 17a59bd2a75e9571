"""``gmmkit.select`` against mclust's ``Mclust()``: picks, BICs and times, side by side, in one run.

Both search the same grid: K = 1..9 over mclust's 14 covariance models (mclust's
defaults: ``Mclust(X, G = 1:9)``; gmmkit's: ``gmmkit.select(X)``). BICs are shown in
mclust's sign (higher is better: 2 log L - p log n). mclust starts every candidate from
its model-based hierarchical clustering (on a 2000-row subset when n > 2000); gmmkit by
default from k-means (one partition per K shared by the models), and with
``init_params="hc"`` from the same hierarchical clustering as mclust (one tree, on a
2000-row subsample for larger data, cut at every K). The two may reach different optima:
where the picks differ, the table shows gmmkit's BIC at mclust's pick and mclust's at
gmmkit's.

Data: iris, faithful, diabetes, banknote (``datasets/tables/``), and a synthetic
20,000 x 6 table (four Gaussians with random means and covariances, seed 0) for the
speed check. R runs through ``Rscript`` (mclust 6; ``apt-get install r-base-core
r-cran-mclust``); its time is ``system.time(Mclust(...))`` inside R (no R start-up);
gmmkit's is the wall time of ``select`` after one warm-up call (kernels loaded).

Usage::

    python benchmarks/bench_select_mclust.py [--real] [--big] [--repeats 3] [--jobs -1] [--variants default,hc]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
TABLES = os.path.join(HERE, "..", "datasets", "tables")
# the four real data sets: files and columns as in tests/data/make_mclust_select.py
with open(os.path.join(HERE, "..", "tests", "data", "mclust_select.json")) as _fh:
    REAL = {name: (os.path.basename(d["file"]), d["columns"]) for name, d in json.load(_fh)["datasets"].items()}

R_SCRIPT = r"""
suppressMessages(library(mclust))
args <- commandArgs(trailingOnly = TRUE)
X <- as.matrix(read.csv(args[1]))
G <- as.integer(strsplit(args[2], ",")[[1]])
reps <- as.integer(args[3])
for (r in seq_len(reps)) {
  tm <- system.time(fit <- Mclust(X, G = G, verbose = FALSE))[["elapsed"]]
  cat("time", tm, "\n")
}
cat("version", as.character(packageVersion("mclust")), "\n")
cat("pick", fit$modelName, fit$G, format(fit$bic, digits = 17), format(fit$loglik, digits = 17), "\n")
B <- fit$BIC
for (m in colnames(B)) for (g in rownames(B)) cat("bic", m, g, format(B[g, m], digits = 17), "\n")
"""


def run_mclust(X, ks, repeats=1):
    """mclust's Mclust(X, G = ks): {"times", "version", "pick": (model, K), "bic", "table"}."""
    with tempfile.TemporaryDirectory() as tmp:
        csv, script = os.path.join(tmp, "X.csv"), os.path.join(tmp, "run.R")
        pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])]).to_csv(csv, index=False,
                                                                               float_format="%.17g")
        with open(script, "w") as fh:
            fh.write(R_SCRIPT)
        out = subprocess.run(["Rscript", script, csv, ",".join(map(str, ks)), str(repeats)],
                             check=True, capture_output=True, text=True).stdout
    res = {"times": [], "table": {}}
    for line in out.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "time":
            res["times"].append(float(f[1]))
        elif f[0] == "version":
            res["version"] = f[1]
        elif f[0] == "pick":
            res["pick"], res["bic"], res["loglik"] = (f[1], int(f[2])), float(f[3]), float(f[4])
        elif f[0] == "bic":
            res["table"][(f[1], int(f[2]))] = float(f[3]) if f[3] != "NA" else float("nan")
    return res


#: gmmkit's settings compared: its defaults (k-means start; EM stops when the mean
#: log-likelihood per row gains < 1e-3), a tolerance near mclust's (relative 1e-5 of a
#: log-likelihood of a few units per row), and both with mclust's hierarchical start
VARIANTS = {"default": {}, "tol=1e-5": {"tol": 1e-5, "max_iter": 1000},
            "hc": {"init_params": "hc"}, "hc, tol=1e-5": {"init_params": "hc", "tol": 1e-5, "max_iter": 1000}}


def run_gmmkit(X, ks, repeats=1, jobs=-1, seed=0, **params):
    import gmmkit

    times, res = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = gmmkit.select(X, n_components=ks, random_state=seed, n_jobs=jobs, **params)
        times.append(time.perf_counter() - t0)
    return res, times


def gm_bic(res, model, K):
    """gmmkit's BIC (mclust's sign) of candidate (model, K), NaN if skipped."""
    t = res.table
    row = t[(t.covariance_type == model) & (t.n_components == K)]
    return float(row["bic_mclust"].iloc[0]) if len(row) else float("nan")


def compare(name, X, ks, repeats, jobs, mc, variant):
    res, times = run_gmmkit(X, ks, repeats, jobs, **VARIANTS[variant])
    g_pick = (res.best_params_["covariance_type"], res.best_params_["n_components"])
    n_skipped = int((res.table["error"] != "").sum())
    row = {
        "data": name, "gmmkit": variant, "n x d": f"{X.shape[0]} x {X.shape[1]}",
        "mclust pick": f"{mc['pick'][0]},{mc['pick'][1]}", "mclust BIC": mc["bic"],
        "gmmkit pick": f"{g_pick[0]},{g_pick[1]}", "gmmkit BIC": gm_bic(res, *g_pick),
        "gmmkit BIC at mclust's pick": gm_bic(res, *mc["pick"]),
        "mclust BIC at gmmkit's pick": mc["table"].get(g_pick, float("nan")),
        "same pick": mc["pick"] == g_pick,
        "mclust s": statistics.median(mc["times"]), "gmmkit s": statistics.median(times),
        "skipped": n_skipped,
    }
    row["speed-up"] = row["mclust s"] / row["gmmkit s"]
    row["verdict"] = ("same pick" if row["same pick"] else
                      "better BIC" if row["gmmkit BIC"] >= mc["bic"] - 1e-6 * abs(mc["bic"]) else "WORSE")
    return row, res, times


def big_data(n=20000, d=6, k=4, seed=0):
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(k):
        A = rng.normal(size=(d, d))
        cov = A @ A.T / d + 0.3 * np.eye(d)
        parts.append(rng.multivariate_normal(rng.normal(0, 4, d), cov, n // k))
    return np.vstack(parts)


def markdown(frame):
    """The frame as a Markdown table (no tabulate needed)."""
    def cell(v):
        return f"{v:.2f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--real", action="store_true", help="only the four real data sets")
    ap.add_argument("--big", action="store_true", help="only the 20,000 x 6 speed check")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of each (medians)")
    ap.add_argument("--jobs", type=int, default=-1, help="gmmkit's n_jobs (-1: all cores)")
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help=f"gmmkit settings to run, comma-separated (default: all of {', '.join(VARIANTS)})")
    args = ap.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",")]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s) {unknown}; choose among {', '.join(VARIANTS)}")
    both = not (args.real or args.big)
    ks = list(range(1, 10))
    import gmmkit

    gmmkit.select(big_data(500, 6), n_components=[1, 2], random_state=0)  # warm-up: load kernels
    load = os.getloadavg()
    print(f"# {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"gmmkit n_jobs={args.jobs}; repeats={args.repeats}", flush=True)
    rows = []
    if args.real or both:
        for name, (file, cols) in REAL.items():
            X = pd.read_csv(os.path.join(TABLES, file))[cols].to_numpy(float)
            mc = run_mclust(X, ks, args.repeats)
            for variant in variants:
                row, *_ = compare(name, X, ks, args.repeats, args.jobs, mc, variant)
                rows.append(row)
                print(f"{name}: mclust {row['mclust pick']} {row['mclust BIC']:.2f} | gmmkit {variant} "
                      f"{row['gmmkit pick']} {row['gmmkit BIC']:.2f} | {row['verdict']}", flush=True)
    if args.big or both:
        X = big_data()
        mc = run_mclust(X, ks, args.repeats)
        for variant in variants:
            row, res, times = compare("synthetic", X, ks, args.repeats, args.jobs, mc, variant)
            rows.append(row)
            print(f"20,000 x 6: mclust {mc.get('version')} times {[round(t, 1) for t in mc['times']]} s, "
                  f"gmmkit {variant} times {[round(t, 2) for t in times]} s; median ratio "
                  f"{row['speed-up']:.1f}x", flush=True)
    load = os.getloadavg()
    print(f"# load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    frame = pd.DataFrame(rows)
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(frame.round(2).to_string(index=False))
    print()
    print(markdown(frame))
    return 0


if __name__ == "__main__":
    sys.exit(main())
