"""BayesianGaussianMixture against scikit-learn's: per-iteration time, side by side.

The W1 and W2 shapes of bench_core.py (same data generator), float64:

  W1 pixels  N=4,000,000  D=3   K=8   full
  W2 mfcc    N=500,000    D=39  K=64  diag

Both libraries start from the same responsibilities (init_params="random_from_data",
random_state=0: gmmkit draws the same rows as scikit-learn) and run a fixed number of
iterations with tol=0. Per-iteration time is (t(1 + n iterations) - t(1 iteration)) / n,
so initialisation and the priors' set-up cancel out; the median over ``--repeat`` runs is
quoted, with the machine's load. The last column compares the two lower-bound traces.

    python benchmarks/bench_bayesian.py                 # W1 and W2, ~6 min on 2 cores
    python benchmarks/bench_bayesian.py --only W2 --iters 2 --repeat 3
    python benchmarks/bench_bayesian.py --agreement     # the lower-bound table of docs/bayesian.md

``--agreement`` fits both libraries on the real tables of datasets/tables (K=4, 8
iterations, tol=0, init_params="kmeans", random_state=0: the same k-means start, which
tests/core/test_bayesian.py checks, and which it also feeds to both explicitly) and prints
the largest relative difference of the two lower-bound traces for every covariance type
and weight prior.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_core import WORKLOADS, make_data  # noqa: E402

PRIOR_TYPES = {"W1": "dirichlet_process", "W2": "dirichlet_distribution"}


def make_estimator(lib, w, prior_type, iters):
    if lib == "sklearn":
        from sklearn.mixture import BayesianGaussianMixture
    else:
        from gmmkit.bayesian import BayesianGaussianMixture
    return BayesianGaussianMixture(n_components=w["k"], covariance_type=w["cov"], max_iter=iters, tol=0.0,
                                   init_params="random_from_data", random_state=0,
                                   weight_concentration_prior_type=prior_type)


def timed_fit(lib, w, X, prior_type, iters):
    est = make_estimator(lib, w, prior_type, iters)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        est.fit(X)
        return time.perf_counter() - t0, est


def per_iteration(w, X, prior_type, iters, repeat):
    """{lib: (median seconds per iteration, last estimator)}; the libraries take turns in
    every repeat, so a drift of the machine's load hits both."""
    vals, ests = {"sklearn": [], "gmmkit": []}, {}
    for _ in range(repeat):
        for lib in vals:
            t1, _ = timed_fit(lib, w, X, prior_type, 1)
            tn, ests[lib] = timed_fit(lib, w, X, prior_type, 1 + iters)
            vals[lib].append(max(tn - t1, 1e-9) / iters)
    return {lib: (statistics.median(v), ests[lib]) for lib, v in vals.items()}


def trace(est):
    return np.array([float(np.ravel(v)[0]) for v in est.lower_bounds_])


def agreement(datasets=("iris", "faithful", "banknote", "wdbc"), K=4, iters=8):
    import pandas as pd
    from sklearn.mixture import BayesianGaussianMixture as SklearnBGM

    from gmmkit.bayesian import BayesianGaussianMixture

    tables = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "datasets", "tables")
    print(f"# largest relative difference of the lower-bound traces ({iters} iterations, K={K})")
    print(f"{'covariance':11}{'weight prior':24}" + "".join(f"{d:>11}" for d in datasets))
    data = {d: pd.read_csv(os.path.join(tables, f"{d}.csv")).select_dtypes("number").to_numpy(float)
            for d in datasets}
    for cov in ("full", "tied", "diag", "spherical"):
        for prior_type in ("dirichlet_process", "dirichlet_distribution"):
            cells = []
            for d in datasets:
                kw = dict(n_components=K, covariance_type=cov, weight_concentration_prior_type=prior_type,
                          max_iter=iters, tol=0.0, random_state=0)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    a, b = trace(SklearnBGM(**kw).fit(data[d])), trace(BayesianGaussianMixture(**kw).fit(data[d]))
                cells.append(float(np.max(np.abs(a - b) / np.abs(a))))
            print(f"{cov:11}{prior_type:24}" + "".join(f"{c:11.1e}" for c in cells))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", default=["W1", "W2"], choices=["W1", "W2"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--iters", type=int, default=3, help="iterations timed per fit (after the first)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every N (quick looks)")
    ap.add_argument("--agreement", action="store_true", help="only the lower-bound table on real data")
    args = ap.parse_args()
    if args.agreement:
        agreement()
        return

    import sklearn

    import gmmkit

    print(f"# bench_bayesian: {os.cpu_count()} cores, gmmkit threads {gmmkit.n_threads()}, "
          f"load {os.getloadavg()[0]:.2f} at the start; scikit-learn {sklearn.__version__}; "
          f"medians of {args.repeat} runs, {args.iters} timed iterations each", flush=True)
    print(f"{'workload':9}{'shape':28}{'prior':24}{'sklearn':>10}{'gmmkit':>10}{'ratio':>9}  "
          f"{'lower bound rel. diff':>22}  load", flush=True)
    for name in args.only:
        w = dict(WORKLOADS[name])
        w["n"] = int(w["n"] * args.scale)
        X, _ = make_data(w["n"], w["d"], w["k"], w["dtype"])
        prior_type = PRIOR_TYPES[name]
        timed_fit("gmmkit", w, X[:2000], prior_type, 1)  # kernels loaded (or compiled) outside the timing
        res = per_iteration(w, X, prior_type, args.iters, args.repeat)
        (t_sk, sk), (t_gk, gk) = res["sklearn"], res["gmmkit"]
        a, b = trace(sk), trace(gk)
        agree = float(np.max(np.abs(a - b) / np.abs(a)))
        shape = f"N={w['n']:,} D={w['d']} K={w['k']} {w['cov']}"
        print(f"{name:9}{shape:28}{prior_type:24}{t_sk:9.4f}s{t_gk:9.4f}s{t_sk / t_gk:8.2f}x  "
              f"{agree:22.1e}  {os.getloadavg()[0]:.2f}", flush=True)

if __name__ == "__main__":
    main()
