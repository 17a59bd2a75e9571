"""Missing values: the no-NaN path costs nothing; what NaN costs.

1. Data without NaN: fit time with ``missing="em"`` (the default, which checks for
   NaN and takes the dense path) against ``missing="error"`` (no NaN handling at
   all), same starting parameters, medians of interleaved runs. Target: within 5%.
2. The same data with 10% / 30% of entries missing completely at random: fit time
   per iteration and the number of missingness patterns.

    python benchmarks/bench_missing.py [--n 200000] [--repeat 5]
"""
import argparse
import os
import statistics
import time
import warnings

import numpy as np

from gmmkit import GaussianMixture


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--d", type=int, default=5)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
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
