"""Rolling 99% VaR backtest of every volatility filter, one table per ticker (docs/finance.md).

Runs :func:`gmmkit_apps.finance.backtest.rolling_var` with ``--vol`` none, ewma, garch
and gjr (500-day window, refit every 20 days, K by BIC) and prints, per method,
exceedances, rate, Kupiec LR/p, Christoffersen independence p, conditional
coverage p, Basel zone, and the wall/CPU time of each backtest. One extra row,
``riskmetrics``, is textbook RiskMetrics on the EWMA forecasts (``VaR = z_0.99 s[t]``,
nothing estimated), to check that the ``normal`` row of ``--vol ewma`` (a normal
fitted to the window's standardised residuals) is a fair stand-in for it.

``--hmm`` (issue 17) adds the Markov-switching model (``backtest --model hmm``: 2 or 3
regimes by BIC on the first window, ``--hmm-mix`` normals per regime, warm-started
refits, the forward filter updated daily) on the raw returns, timed on its own.

``--speed`` (issue 22) times the default backtest (``gmmkit finance backtest``'s
defaults: GJR filter, 99% VaR, ES tests with 1,000 simulated paths) on the S&P 500
(``datasets/finance/sp500.csv.gz``, ~5,000 days; target under 5 s) and on a BMW-like
series (6,146 days of GJR-t returns with 10% exact zeros, as stale prices give; target
under 15 s) and on the real BMW returns 1973-1996 (``datasets/finance/bmw.csv.gz``, 611 zeros;
same target), median of ``--repeat`` runs, with the machine's load before and after;
``--arch`` adds arch's GJR-t refits on the same windows, side by side.

Run one backtest at a time (it is CPU-bound)::

    nice -n 10 python benchmarks/bench_finance.py --ticker SPX --ticker IXIC
    python benchmarks/bench_finance.py --speed --repeat 3
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from scipy import stats

from gmmkit_apps.finance.backtest import backtest_table, christoffersen, evaluate, kupiec, rolling_var, traffic_light
from gmmkit_apps.finance.data import load_returns
from gmmkit_apps.finance.volatility import FILTERS, Garch, ewma_volatility

DATA = Path(__file__).resolve().parents[1] / "datasets" / "finance" / "indices.csv.gz"


def riskmetrics_row(r, level, window):
    """Textbook RiskMetrics: zero mean, EWMA(0.94) volatility, normal quantile."""
    sigma = ewma_volatility(r, init_periods=window)[window:]
    hits = r[window:] < stats.norm.ppf(1 - level) * sigma
    uc, cc = kupiec(hits, level), christoffersen(hits, level)
    return {"model": "riskmetrics", "exceedances": uc["x"], "rate": uc["rate"], "kupiec_lr": uc["lr"],
            "kupiec_p": uc["p_value"], "ind_p": cc["p_ind"], "cc_p": cc["p_cc"],
            "basel_zone": traffic_light(hits, level)}


def bmw_like(n=6146, zero_share=0.1, seed=0):
    """GJR-GARCH returns with Student-t(5) shocks and ``zero_share`` exact zeros (stale prices)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    z = rng.standard_t(5, (1, n + 500)) * np.sqrt(3 / 5)
    r = Garch(mu=3e-4, omega=2e-6, alpha=0.03, beta=0.9, gamma=0.1).paths(z, 1.5e-4)[0, 500:]
    r[rng.random(n) < zero_share] = 0.0
    return pd.Series(r, index=pd.bdate_range("1973-01-02", periods=n), name="BMW-like")


def _load():
    return os.getloadavg()[0]


def speed(repeat, with_arch):
    bmw = load_returns(DATA.parent / "bmw.csv.gz", kind="returns", file_log=True)[0]["BMW"]
    series = {"S&P 500": load_returns(DATA.parent / "sp500.csv.gz")[0].iloc[:, 0], "BMW-like": bmw_like(),
              "BMW": bmw}
    targets = {"S&P 500": 5.0, "BMW-like": 15.0, "BMW": 15.0}
    print(f"{'series':>9} {'days':>5} {'median s':>9} {'runs':>20} {'target':>7} {'EM it/refit':>11} "
          f"{'floored':>7} {'atoms/window':>12}  load before/after")
    for name, s in series.items():
        times, cpus, load0 = [], [], _load()
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            rows, runs = backtest_table(s, levels=(0.99,), es_sims=1000)
            times.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        info = runs[str(s.name)]["info"]
        med = float(np.median(times))
        print(f"{name:>9} {len(s):>5} {med:>9.2f} {', '.join(f'{t:.2f}' for t in times):>20} "
              f"{'<' + str(targets[name]):>7} {info['mean_em_iterations']:>11.1f} {info['n_floored']:>7} "
              f"{info['mean_atom_days']:>12.1f}  {load0:.2f}/{_load():.2f}; CPU s {np.median(cpus):.2f}")
        if with_arch:
            print(f"{'':>9} arch GJR-t refits on the same windows: {arch_refits(s.to_numpy()):.2f} s "
                  f"(ours: median {med:.2f} s for the whole backtest)")


def arch_refits(r, window=500, refit=20):
    from arch import arch_model

    t0, prev = time.perf_counter(), None
    for t in range(window, r.size, refit):
        am = arch_model(r[t - window:t] * 100, p=1, o=1, q=1, dist="t", rescale=False)
        prev = am.fit(disp="off", starting_values=None if prev is None else prev.params.values)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--speed", action="store_true", help="time the default backtest (issue 22's targets)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--arch", action="store_true", help="with --speed: time arch's GJR-t refits too")
    ap.add_argument("--ticker", action="append", default=None)
    ap.add_argument("--vol", action="append", choices=FILTERS, default=None)
    ap.add_argument("--window", type=int, default=500)
    ap.add_argument("--refit", type=int, default=20)
    ap.add_argument("--level", type=float, default=0.99)
    ap.add_argument("--hmm", action="store_true", help="add the Markov-switching model's backtest")
    ap.add_argument("--hmm-mix", type=int, action="append", default=None,
                    help="normals per regime (repeat; default 2, the CLI's)")
    args = ap.parse_args()
    if args.speed:
        speed(args.repeat, args.arch)
        return
    for ticker in args.ticker or ["SPX"]:
        s = load_returns(DATA, [ticker])[0][ticker]
        print(f"\n{ticker}: {len(s)} daily log returns {s.index[0].date()} to {s.index[-1].date()}, "
              f"{args.level:.0%} VaR, window {args.window}, refit {args.refit}")
        print(f"{'vol':>5} {'model':>11} {'exc':>4} {'rate':>6} {'LR_uc':>6} {'p_uc':>7} {'p_ind':>7} "
              f"{'p_cc':>7} {'zone':>6}")
        for vol in args.vol or ["none", "ewma", "garch", "gjr"]:
            wall, cpu = time.perf_counter(), time.process_time()
            frame, info = rolling_var(s, level=args.level, window=args.window, refit=args.refit, vol=vol)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            rows = evaluate(frame, args.level)
            if vol == "ewma":
                rows.append(riskmetrics_row(s.to_numpy(), args.level, args.window))
            for row in rows:
                print(f"{vol:>5} {row['model']:>11} {row['exceedances']:>4} {row['rate']:>6.2%} "
                      f"{row['kupiec_lr']:>6.2f} {row['kupiec_p']:>7.4f} {row['ind_p']:>7.4f} "
                      f"{row['cc_p']:>7.4f} {row['basel_zone']:>6}")
            extra = "" if "garch" not in info else (
                f", median persistence {info['garch']['median_persistence']:.3f}, "
                f"{info['garch']['not_converged']} GARCH fits not converged")
            print(f"      ({len(frame)} forecasts, K={info['n_components']}, {info['n_floored']} GMM refits floored"
                  f"{extra}; {wall:.1f} s wall, {cpu:.1f} s CPU)")
        for mix in (args.hmm_mix or [2]) if args.hmm else []:
            wall, cpu = time.perf_counter(), time.process_time()
            frame, info = rolling_var(s, level=args.level, window=args.window, refit=args.refit, vol="none",
                                      methods=("hmm",), n_mix=mix)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            row = evaluate(frame, args.level)[0]
            label = f"hmm M={mix}"
            print(f"{'-':>5} {label:>11} {row['exceedances']:>4} {row['rate']:>6.2%} "
                  f"{row['kupiec_lr']:>6.2f} {row['kupiec_p']:>7.4f} {row['ind_p']:>7.4f} "
                  f"{row['cc_p']:>7.4f} {row['basel_zone']:>6}")
            h = info["hmm"]
            print(f"      ({len(frame)} forecasts, K={h['n_states']} regimes, {h['mean_em_iterations']:.1f} "
                  f"Baum-Welch iterations per refit, {h['n_restarts']} restarts; {wall:.1f} s wall, "
                  f"{cpu:.1f} s CPU)")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
