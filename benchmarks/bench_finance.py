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

Run one backtest at a time (it is CPU-bound)::

    nice -n 10 python benchmarks/bench_finance.py --ticker SPX --ticker IXIC
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy import stats

from gmmkit_apps.finance.backtest import christoffersen, evaluate, kupiec, rolling_var, traffic_light
from gmmkit_apps.finance.data import load_returns
from gmmkit_apps.finance.volatility import FILTERS, ewma_volatility

DATA = Path(__file__).resolve().parents[1] / "datasets" / "finance" / "indices.csv.gz"


def riskmetrics_row(r, level, window):
    """Textbook RiskMetrics: zero mean, EWMA(0.94) volatility, normal quantile."""
    sigma = ewma_volatility(r, init_periods=window)[window:]
    hits = r[window:] < stats.norm.ppf(1 - level) * sigma
    uc, cc = kupiec(hits, level), christoffersen(hits, level)
    return {"model": "riskmetrics", "exceedances": uc["x"], "rate": uc["rate"], "kupiec_lr": uc["lr"],
            "kupiec_p": uc["p_value"], "ind_p": cc["p_ind"], "cc_p": cc["p_cc"],
            "basel_zone": traffic_light(hits, level)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticker", action="append", default=None)
    ap.add_argument("--vol", action="append", choices=FILTERS, default=None)
    ap.add_argument("--window", type=int, default=500)
    ap.add_argument("--refit", type=int, default=20)
    ap.add_argument("--level", type=float, default=0.99)
    ap.add_argument("--hmm", action="store_true", help="add the Markov-switching model's backtest")
    ap.add_argument("--hmm-mix", type=int, action="append", default=None,
                    help="normals per regime (repeat; default 2, the CLI's)")
    args = ap.parse_args()
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
            print(f"      ({len(frame)} forecasts, K={info['n_components']}, {info['n_restarts']} GMM restarts"
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
