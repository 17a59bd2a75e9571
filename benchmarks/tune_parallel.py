"""Where do two threads start to pay? Serial vs threaded time of one fused EM pass.

``gmmkit._engine.PARALLEL_MIN_WORK`` is the threshold, in multiply-adds per
pass (rows x K x D, times D for full covariances), below which a fit runs in
the calling thread: handing chunks to the pool and collecting per-chunk
accumulators costs tens of microseconds, which small passes cannot repay.
This script times both on a grid of sizes and prints the ratio, so the
threshold is read off a measurement rather than guessed.

    python benchmarks/tune_parallel.py            # ~1 min
"""
from __future__ import annotations

import statistics
import time

import numpy as np

from gmmkit import _engine

SHAPES = [(3, 2, "full"), (8, 3, "full"), (16, 8, "full"), (16, 10, "diag"), (64, 39, "diag")]
WORKS = [1e5, 3e5, 1e6, 2e6, 4e6, 1e7, 3e7, 1e8]


def one_pass(family, X, means, prec, logc, parallel, repeat=15):
    shift = np.zeros(X.shape[1])
    _engine.em_pass(family, X, np.empty(0), shift, means, prec, logc, -np.inf, parallel)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        _engine.em_pass(family, X, np.empty(0), shift, means, prec, logc, -np.inf, parallel)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    rng = np.random.default_rng(0)
    print(f"# threads {_engine.n_threads()}; current PARALLEL_MIN_WORK {_engine.PARALLEL_MIN_WORK:.0e}")
    print(f"{'K':>3} {'D':>3} {'type':5} {'work':>8} {'rows':>8} {'serial':>10} {'threads':>10} {'ratio':>6}")
    with _engine.blas_single_thread():
        for K, D, family in SHAPES:
            per_row = K * D * (D if family == "full" else 1)
            for work in WORKS:
                n = max(int(work / per_row), K)
                X = rng.normal(size=(n, D))
                means = X[rng.choice(n, K, replace=False)]
                prec = (np.repeat(np.eye(D)[None], K, axis=0) if family == "full"
                        else np.ones((K, D)))
                logc = np.full(K, -np.log(K) - 0.5 * D * np.log(2 * np.pi))
                ts = one_pass(family, X, means, prec, logc, False)
                tp = one_pass(family, X, means, prec, logc, True)
                print(f"{K:3d} {D:3d} {family:5} {work:8.0e} {n:8d} {ts * 1e3:8.3f}ms "
                      f"{tp * 1e3:8.3f}ms {ts / tp:6.2f}", flush=True)


if __name__ == "__main__":
    main()
