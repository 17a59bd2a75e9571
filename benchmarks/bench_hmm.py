"""GMMHMM against hmmlearn 0.3: time per Baum-Welch iteration, side by side in one run.

Cases (issue 17), float64 unless stated:

  speech   500 sequences, 200,000 frames x 39, 5 states x 4 components, diag
           (hmmlearn's GMMHMM; also gmmkit in float32 and on one thread)
  regimes  one sequence of 5,000 days x 5 assets, 2 states, full covariances
           (hmmlearn's GaussianHMM, its fastest model for one component per state,
           and its GMMHMM with n_mix=1)

Both libraries start from the same parameters and run Baum-Welch iterations with
no convergence stop; each iteration (E-step + M-step) is timed on its own (gmmkit:
between the driver's per-iteration callbacks; hmmlearn: around ``_do_estep`` +
``_do_mstep``, the body of its ``fit`` loop). The first gmmkit iteration is
dropped (it carries the fit's set-up); medians are quoted. The machine's load
average is printed, because other processes share the cores.

    python benchmarks/bench_hmm.py                 # both cases (~3-6 min on 2 cores)
    python benchmarks/bench_hmm.py --only regimes --iters 20
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

import numpy as np


def speech_data(rng, n_seq=500, total=200_000, D=39, S=5, M=4):
    """Sequences from a random 5-state, 4-component diagonal GMM-HMM (sticky chain)."""
    from gmmkit import GMMHMM

    lengths = rng.multinomial(total - 100 * n_seq, np.ones(n_seq) / n_seq) + 100
    trans = 0.8 * np.eye(S) + 0.2 * rng.dirichlet(np.ones(S), size=S)
    trans /= trans.sum(axis=1, keepdims=True)
    truth = GMMHMM.from_parameters(np.ones(S) / S, trans, rng.dirichlet(np.ones(M) * 3, size=S),
                                   rng.normal(0, 1.5, (S, M, D)), rng.uniform(0.5, 2.0, (S, M, D)))
    X = np.vstack([truth.sample(int(T), random_state=rng.integers(1 << 31))[0] for T in lengths])
    return X, lengths


def regimes_data(rng, T=5_000, D=5):
    """Daily returns of D assets from a calm and a turbulent regime (correlated, fat spells)."""
    from gmmkit import GMMHMM

    A = rng.normal(size=(D, D)) * 0.3 + np.eye(D)
    calm = 0.6 * (A @ A.T) / D
    cov = np.stack([calm, 3.0 * calm + 0.5 * np.eye(D)])[:, None]
    truth = GMMHMM.from_parameters([0.5, 0.5], [[0.99, 0.01], [0.03, 0.97]], np.ones((2, 1)),
                                   np.array([[[0.05] * D], [[-0.1] * D]]), cov, covariance_type="full")
    return truth.sample(T, random_state=rng.integers(1 << 31))[0], np.array([T])


def start_from(X, lengths, S, M, cov):
    """Common starting parameters: one iteration of gmmkit from its k-means start."""
    from sklearn.exceptions import ConvergenceWarning

    from gmmkit import GMMHMM

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GMMHMM(S, M, cov, max_iter=1, reg_covar=1e-3, random_state=0).fit(X, lengths)


def gmmkit_times(start, X, lengths, iters, *, serial=False):
    """Seconds per Baum-Welch iteration (all but the first) of gmmkit from ``start``."""
    from sklearn.exceptions import ConvergenceWarning

    from gmmkit import GMMHMM, _engine

    stamps = []
    est = GMMHMM.from_parameters(start.startprob_, start.transmat_, start.weights_, start.means_,
                                 start.covariances_, covariance_type=start.covariance_type,
                                 warm_start=True, tol=0.0, max_iter=iters + 1, reg_covar=1e-6,
                                 callback=lambda info: stamps.append(time.perf_counter()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if serial:
            with _engine.serial_only():
                est.fit(X, lengths)
        else:
            est.fit(X, lengths)
    return np.diff(stamps), est


def hmmlearn_times(h, X, lengths, iters):
    h.n_features = X.shape[1]
    h._check()
    times, trace = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(iters):
            t0 = time.perf_counter()
            stats, ll = h._do_estep(X, lengths)
            h._do_mstep(stats)
            times.append(time.perf_counter() - t0)
            trace.append(ll)
    return np.array(times), np.array(trace)


def hmmlearn_gmmhmm(start):
    from hmmlearn import hmm

    S, M, D = start.means_.shape
    h = hmm.GMMHMM(n_components=S, n_mix=M, covariance_type=start.covariance_type, init_params="",
                   min_covar=1e-6)
    h.startprob_, h.transmat_ = start.startprob_.copy(), start.transmat_.copy()
    h.weights_, h.means_, h.covars_ = start.weights_.copy(), start.means_.copy(), start.covariances_.copy()
    return h


def hmmlearn_gaussian(start):
    from hmmlearn import hmm

    S, M, D = start.means_.shape
    h = hmm.GaussianHMM(n_components=S, covariance_type=start.covariance_type, init_params="", covars_prior=0.0)
    h.startprob_, h.transmat_, h.means_ = start.startprob_.copy(), start.transmat_.copy(), start.means_[:, 0]
    h.covars_ = start.covariances_[:, 0]
    return h


def row(name, times, ref=None):
    med = statistics.median(times)
    ratio = f"{ref / med:7.1f}x" if ref is not None else "        "
    print(f"  {name:<44s} {med * 1e3:10.2f} ms  {ratio}   (n={len(times)})")
    return med


def run_case(name, X, lengths, S, M, cov, iters, hmmlearn_models, extra):
    print(f"\n{name}: {len(lengths)} sequence(s), {X.shape[0]} frames x {X.shape[1]}, "
          f"{S} states x {M} components, {cov}; load average {os.getloadavg()[0]:.1f}")
    start = start_from(X, lengths, S, M, cov)
    gmmkit_times(start, X[: lengths[0]], lengths[:1], 1)  # compile / load the kernels
    gmmkit_times(start, X[: lengths[0]].astype(np.float32), lengths[:1], 1)
    theirs = {}
    for label, make in hmmlearn_models:
        t, _ = hmmlearn_times(make(start), X, lengths, max(3, iters // 2) if "GMMHMM" in label else iters)
        theirs[label] = statistics.median(t)
    ours, _ = gmmkit_times(start, X, lengths, iters)
    print(f"  {'per Baum-Welch iteration (median)':<44s} {'time':>13s}  hmmlearn / gmmkit")
    for label, med in theirs.items():
        print(f"  {label:<44s} {med * 1e3:10.2f} ms")
    fastest = min(theirs.values())
    row("gmmkit GMMHMM float64 (pool threads)", ours, fastest)
    for label, kwargs, Xv in extra:
        t, _ = gmmkit_times(start, Xv(X), lengths, iters, **kwargs)
        row(label, t, fastest)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["speech", "regimes"])
    ap.add_argument("--iters", type=int, default=6)
    args = ap.parse_args(argv)
    from gmmkit import _engine

    print(f"gmmkit HMM benchmark; {_engine.n_threads()} worker thread(s); ratios are hmmlearn's fastest "
          "model / gmmkit", file=sys.stdout)
    rng = np.random.default_rng(0)
    if args.only in (None, "speech"):
        X, lengths = speech_data(rng)
        run_case("speech", X, lengths, 5, 4, "diag", args.iters,
                 [("hmmlearn GMMHMM", hmmlearn_gmmhmm)],
                 [("gmmkit GMMHMM float32 (pool threads)", {}, lambda X: X.astype(np.float32)),
                  ("gmmkit GMMHMM float64 (one thread)", {"serial": True}, lambda X: X)])
    if args.only in (None, "regimes"):
        X, lengths = regimes_data(rng)
        run_case("regimes", X, lengths, 2, 1, "full", max(args.iters, 20),
                 [("hmmlearn GaussianHMM", hmmlearn_gaussian), ("hmmlearn GMMHMM (n_mix=1)", hmmlearn_gmmhmm)],
                 [("gmmkit GMMHMM float32", {}, lambda X: X.astype(np.float32))])


if __name__ == "__main__":
    main()
