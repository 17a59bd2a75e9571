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


def per_iteration(lib, w, X, prior_type, iters, repeat):
    vals = []
    for _ in range(repeat):
        t1, _ = timed_fit(lib, w, X, prior_type, 1)
        tn, est = timed_fit(lib, w, X, prior_type, 1 + iters)
        vals.append(max(tn - t1, 1e-9) / iters)
    return statistics.median(vals), est


def trace(est):
    return np.array([float(np.ravel(v)[0]) for v in est.lower_bounds_])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", default=["W1", "W2"], choices=["W1", "W2"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--iters", type=int, default=3, help="iterations timed per fit (after the first)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every N (quick looks)")
    args = ap.parse_args()

    import sklearn

    import gmmkit

    rows = []
    load0 = os.getloadavg()[0]
    for name in args.only:
        w = dict(WORKLOADS[name])
        w["n"] = int(w["n"] * args.scale)
        X, _ = make_data(w["n"], w["d"], w["k"], w["dtype"])
        prior_type = PRIOR_TYPES[name]
        timed_fit("gmmkit", w, X[:2000], prior_type, 1)  # kernels loaded (or compiled) outside the timing
        t_sk, sk = per_iteration("sklearn", w, X, prior_type, args.iters, args.repeat)
        t_gk, gk = per_iteration("gmmkit", w, X, prior_type, args.iters, args.repeat)
        a, b = trace(sk), trace(gk)
        agree = float(np.max(np.abs(a - b) / np.abs(a)))
        rows.append((name, w, prior_type, t_sk, t_gk, agree, os.getloadavg()[0]))
    print(f"# bench_bayesian: {os.cpu_count()} cores, gmmkit threads {gmmkit.n_threads()}, "
          f"load {load0:.2f} at the start; scikit-learn {sklearn.__version__}; "
          f"medians of {args.repeat} runs, {args.iters} timed iterations each")
    print(f"{'workload':9}{'shape':28}{'prior':24}{'sklearn':>10}{'gmmkit':>10}{'ratio':>9}  "
          f"{'lower bound rel. diff':>22}  load")
    for name, w, prior_type, t_sk, t_gk, agree, load in rows:
        shape = f"N={w['n']:,} D={w['d']} K={w['k']} {w['cov']}"
        print(f"{name:9}{shape:28}{prior_type:24}{t_sk:9.4f}s{t_gk:9.4f}s{t_sk / t_gk:8.2f}x  "
              f"{agree:22.1e}  {load:.2f}")


if __name__ == "__main__":
    main()
