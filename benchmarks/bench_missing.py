"""Missing values: the no-NaN path costs nothing; what NaN costs.

1. Data without NaN: fit time with ``missing="em"`` (the default, which checks for
   NaN and takes the dense path) against ``missing="error"`` (no NaN handling at
   all), same starting parameters, medians of interleaved runs. Target: within 5%.
2. The same data with 10% / 30% of entries missing completely at random: fit time
   per iteration and the number of missingness patterns.
3. Many patterns: the KEEL page-blocks table (5,472 rows x 10) and a synthetic
   D=10 mixture, 20% MCAR (~500 / ~800 patterns), full covariance, K=3..5: per
   EM iteration (median gap between iteration callbacks, median over --repeat
   interleaved fits) with NaN against the dense fit of the same rows from the
   same start. ``--compile`` times the one-off compile of the missing-value
   kernels in a fresh process with an empty NUMBA_CACHE_DIR (the em kernels
   compile there too; it reports both).

    python benchmarks/bench_missing.py [--n 200000] [--repeat 5] [--only many] [--compile]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

from gmmkit import GaussianMixture

HERE = os.path.dirname(os.path.abspath(__file__))


def mcar(X, frac, seed):
    rng = np.random.default_rng(seed)
    Xm = X.copy()
    Xm[rng.uniform(size=X.shape) < frac] = np.nan
    keep = ~np.isnan(Xm).all(axis=1)
    return X[keep], Xm[keep]


def page_blocks():
    import pandas as pd

    df = pd.read_csv(os.path.join(HERE, "..", "datasets", "outliers", "keel_page-blocks0.csv"))
    return df.select_dtypes("number").to_numpy(float)


def per_iteration(X, k, start, iters=25):
    """Median wall time between EM iteration callbacks (E-pass + M-step)."""
    stamps = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        GaussianMixture(k, max_iter=iters, tol=0.0, callback=lambda _: stamps.append(time.perf_counter()),
                        **start).fit(X)
    return statistics.median(np.diff(stamps))


def many_patterns(repeat):
    rng = np.random.default_rng(1)
    centres = rng.normal(scale=3, size=(4, 10))
    synth = centres[rng.integers(0, 4, 20_000)] + rng.normal(size=(20_000, 10))
    for name, X in (("page-blocks", page_blocks()), ("synthetic D=10 N=20000", synth)):
        dense, Xm = mcar(X, 0.2, 0)
        n_pat = len(np.unique(np.isnan(Xm), axis=0))
        print(f"# {name}: {Xm.shape[0]} rows x {Xm.shape[1]}, 20% MCAR, {n_pat} patterns, "
              f"full, threads {os.environ.get('GMMKIT_NUM_THREADS', 'all')}, load {os.getloadavg()[0]:.2f}")
        for k in (3, 4, 5):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                gm = GaussianMixture(k, max_iter=2, random_state=0).fit(Xm)
            start = dict(weights_init=gm.weights_, means_init=gm.means_, random_state=0)
            per_iteration(Xm, k, start, 3)
            per_iteration(dense, k, start, 3)
            t_nan, t_dense = [], []
            for _ in range(repeat):  # interleaved
                t_nan.append(per_iteration(Xm, k, start))
                t_dense.append(per_iteration(dense, k, start))
            a, b = statistics.median(t_nan), statistics.median(t_dense)
            print(f"  K={k}: with NaN {a * 1e3:.2f} ms/iteration, dense {b * 1e3:.2f} ms/iteration, "
                  f"ratio {a / b:.2f}", flush=True)


COMPILE_SNIPPET = """
import time, warnings
import numpy as np
t0 = time.perf_counter()
from gmmkit import GaussianMixture
X = np.random.default_rng(0).normal(size=(300, 4))
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    GaussianMixture(2, max_iter=2, random_state=0).fit(X)
    t1 = time.perf_counter()
    X[::3, 1] = np.nan
    GaussianMixture(2, max_iter=2, random_state=0).fit(X)
    t2 = time.perf_counter()
    X32 = X.astype(np.float32)
    GaussianMixture(2, max_iter=2, random_state=0).fit(X32)
    t3 = time.perf_counter()
print(f"dense fit (em kernels) {t1 - t0:.1f}s, then NaN fit float64 (missing kernels) {t2 - t1:.1f}s, "
      f"NaN fit float32 {t3 - t2:.1f}s")
"""


def compile_time():
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("empty cache", "cached"):
            out = subprocess.run([sys.executable, "-c", COMPILE_SNIPPET], env=env, capture_output=True,
                                 text=True, check=True).stdout.strip()
            print(f"compile ({label}): {out}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--d", type=int, default=5)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", choices=["dense", "many"])
    ap.add_argument("--compile", action="store_true")
    args = ap.parse_args()
    if args.compile:
        compile_time()
    if args.only != "dense":
        many_patterns(args.repeat)
    if args.only == "many":
        return
    rng = np.random.default_rng(0)
    n, d, k = args.n, args.d, args.k
    centers = rng.normal(scale=4, size=(k, d))
    X = centers[rng.integers(0, k, n)] + rng.normal(size=(n, d))
    start = dict(means_init=centers + 0.5, weights_init=np.full(k, 1 / k),
                 precisions_init=np.repeat(np.eye(d)[None], k, axis=0))
    kw = dict(max_iter=20, tol=0.0, **start)
    print(f"# bench_missing: N={n} D={d} K={k} full, 20 iterations, load {os.getloadavg()[0]:.2f}")

    def fit(data, missing):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            GaussianMixture(k, missing=missing, **kw).fit(data)
            return time.perf_counter() - t

    fit(X[:1000], "em")
    t_em, t_err = [], []
    for _ in range(args.repeat):  # interleaved, so drifts in machine load hit both
        t_em.append(fit(X, "em"))
        t_err.append(fit(X, "error"))
    a, b = statistics.median(t_em), statistics.median(t_err)
    print(f"no NaN: missing='em' {a:.3f}s  missing='error' {b:.3f}s  ratio {a / b:.3f} "
          f"({'within' if a <= 1.05 * b else 'NOT within'} 5%)")
    for frac in (0.1, 0.3):
        Xm = X.copy()
        Xm[rng.uniform(size=X.shape) < frac] = np.nan
        Xm = Xm[~np.isnan(Xm).all(axis=1)]
        n_pat = len(np.unique(np.isnan(Xm), axis=0))
        t = statistics.median(fit(Xm, "em") for _ in range(max(1, args.repeat // 2)))
        print(f"{frac:.0%} missing: {n_pat} patterns, fit {t:.3f}s ({t / b:.2f}x the dense fit)")


if __name__ == "__main__":
    main()
