"""Issue 22's cross-series VaR comparison, re-measured on the series shipped from R packages.

Six daily series (``datasets/finance/make_rdata.py``) at 99% and 97.5% (12 runs), a 500-day window
refitted every 20 days (the CLI's defaults), one-day VaR forecasts judged by Kupiec's coverage
test and Christoffersen's conditional-coverage test; a run *passes* when both p-values are at
least 0.05. Models:

- ``gmm|gjr``: gmmkit's default (``finance backtest``: mixture on GJR-GARCH residuals, Gaussian
  QMLE, point masses beside the mixture); ``gmm|garch-t``, ``gmm|gjr-skewt``: the mixture on the
  residuals of a Student-t GARCH or a skewed-t GJR filter fitted by maximum likelihood;
- ``skewt|gjr-skewt``: gmmkit's own GJR-skew-t (the filter's fitted innovation law, exact quantile);
- ``normal|gjr``: a normal on the GJR residuals; ``FHS``: filtered historical simulation (GJR
  residuals' empirical quantile); ``HS``: historical simulation on the raw window;
- ``arch GARCH-t``, ``arch GJR-t``, ``arch GJR-skewt``: the ``arch`` package (8.x) refitted on the
  same windows (warm-started), its variance recursion run on through the days until the next refit
  with the fitted parameters (``arch_model(...).fix``), VaR ``-(mu + sigma q)`` with ``q`` its
  distribution's quantile.

ES tests (gmmkit's rows): Acerbi-Szekely Z2 and McNeil-Frey, p-values from ``--es-sims`` simulated
paths (:mod:`gmmkit_apps.finance.estests`). BMW (611 exact zeros) is also run without point masses
(``atoms=False``), outside the counts, to show what the point-mass handling changes.

Runs once through everything (several minutes on 2 cores)::

    nice -n 10 python benchmarks/bench_finance_cross.py --json /tmp/cross.json
"""
from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from gmmkit_apps.finance.backtest import christoffersen, evaluate, kupiec
from gmmkit_apps.finance.data import load_returns
from gmmkit_apps.finance.rolling import rolling_forecasts

DATA = Path(__file__).resolve().parents[1] / "datasets" / "finance"
LEVELS = (0.99, 0.975)
ARCH = {"arch GARCH-t": (0, "t"), "arch GJR-t": (1, "t"), "arch GJR-skewt": (1, "skewt")}


def series():
    """The six series as log returns, each a named pandas Series."""
    out = [load_returns(DATA / "bmw.csv.gz", kind="returns", file_log=True)[0]["BMW"].rename("BMW 1973-96")]
    for file, name, label in [("djia", "DJIA", "DJIA 1980-2012"), ("nyse", "NYSE", "NYSE 1966-2002"),
                              ("ibm", "IBM", "IBM 1991-2000")]:
        out.append(load_returns(DATA / f"{file}.csv.gz")[0][name].rename(label))
    sp = pd.read_csv(DATA / "sp500dge.csv.gz")
    # the last 2,700 days: about January 1981 to August 1991 (the package gives no dates)
    out.append(pd.Series(sp["SP500"].to_numpy()[-2700:], index=sp["day"].to_numpy()[-2700:], name="S&P500 1981-91"))
    fx = pd.read_csv(DATA / "dem2gbp.csv.gz")
    out.append(pd.Series(fx["DEM2GBP"].to_numpy() / 100.0, index=fx["day"].to_numpy(), name="DEM/GBP 84-91"))
    return out


def arch_frames(r, levels, window, refit):
    """VaR of arch's models: ``{model: {level: var array}}`` over the out-of-sample days, and seconds."""
    from arch import arch_model

    out, secs = {}, {}
    for name, (o, dist) in ARCH.items():
        t0, prev = time.perf_counter(), None
        var = {a: np.empty(r.size - window) for a in levels}
        for t in range(window, r.size, refit):
            stop = min(t + refit, r.size)
            am = arch_model(r[t - window:t] * 100, p=1, o=o, q=1, dist=dist, rescale=False)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = am.fit(disp="off", starting_values=prev, options={"maxiter": 300})
            prev = res.params.to_numpy()
            full = arch_model(r[t - window:stop] * 100, p=1, o=o, q=1, dist=dist, rescale=False).fix(prev)
            sigma = full.conditional_volatility[window:]
            shape = prev[-(1 if dist == "t" else 2):]
            for a in levels:
                q = am.distribution.ppf(1 - a, shape)
                var[a][t - window:stop - window] = -(prev[0] + sigma * q) / 100
        out[name], secs[name] = var, time.perf_counter() - t0
    return out, secs


def score(hits, level):
    uc, cc = kupiec(hits, level), christoffersen(hits, level)
    return {"exceedances": uc["x"], "rate": uc["rate"], "kupiec_p": uc["p_value"], "ind_p": cc["p_ind"],
            "cc_p": cc["p_cc"]}


def run_series(s, es_sims, window, refit):
    """Every model's rows for one series at both levels, and the seconds each part took."""
    rows, secs = [], {}
    r = s.to_numpy()
    plan = [("gjr", ("gmm", "normal", "historical"), True), ("garch-t", ("gmm",), True),
            ("gjr-skewt", ("gmm", "filter"), True), ("none", ("historical",), False)]
    if (r == 0).sum() > 0.05 * r.size:
        plan.append(("gjr", ("gmm",), "no-atoms"))
    for vol, methods, es in plan:
        t0 = time.perf_counter()
        frames, info, fc = rolling_forecasts(s, levels=LEVELS, window=window, refit=refit, vol=vol,
                                             methods=methods, atoms=es != "no-atoms")
        for a, frame in frames.items():
            for row in evaluate(frame, a, forecasts=fc if es and es_sims else None, n_sims=es_sims):
                names = {"historical": "FHS" if vol == "gjr" else "HS", "filter": "skewt"}
                label = names.get(row["model"], row["model"])
                label = label if label in ("FHS", "HS") else f"{label}|{vol}"
                if es == "no-atoms":
                    label += " (no point masses)"
                rows.append({"series": s.name, "level": a, "model": label, **{k: row.get(k) for k in (
                    "exceedances", "rate", "kupiec_p", "ind_p", "cc_p", "z2_p", "mf_p")},
                    "k": info.get("n_components"), "atom_days": info.get("mean_atom_days"),
                    "reseeded": info.get("n_reseeded"), "refits": info["n_refits"],
                    "garch_not_converged": info.get("garch", {}).get("not_converged")})
        secs[f"gmmkit {vol}{' no-atoms' if es == 'no-atoms' else ''}"] = time.perf_counter() - t0
    var, arch_secs = arch_frames(r, LEVELS, window, refit)
    secs.update(arch_secs)
    x = r[window:]
    for name, by_level in var.items():
        for a in LEVELS:
            rows.append({"series": s.name, "level": a, "model": name, **score(x < -by_level[a], a)})
    return rows, secs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--es-sims", type=int, default=1000)
    ap.add_argument("--window", type=int, default=500)
    ap.add_argument("--refit", type=int, default=20)
    ap.add_argument("--only", action="append", help="run only series whose label starts with this")
    ap.add_argument("--json", type=Path, help="also write every row and timing here (after each series)")
    ap.add_argument("--from-json", type=Path, help="print the tables of an earlier run's --json, run nothing")
    args = ap.parse_args()
    if args.from_json:
        report(json.loads(args.from_json.read_text())["rows"])
        return
    rows, timings = [], {}
    print(f"load before: {os.getloadavg()}")
    for s in series():
        if args.only and not any(s.name.startswith(o) for o in args.only):
            continue
        t0 = time.perf_counter()
        got, secs = run_series(s, args.es_sims, args.window, args.refit)
        rows += got
        timings[s.name] = {**secs, "total": time.perf_counter() - t0, "days": int(s.size),
                           "zeros": int((s.to_numpy() == 0).sum()), "load": os.getloadavg()[0]}
        print(f"{s.name}: {s.size} days, {timings[s.name]['zeros']} exact zeros, "
              + ", ".join(f"{k} {v:.1f} s" for k, v in secs.items()) + f"; load {os.getloadavg()[0]:.2f}",
              flush=True)
        if args.json:
            args.json.write_text(json.dumps({"rows": rows, "timings": timings}, indent=1, default=float))
    report(rows)
    print(f"load after: {os.getloadavg()}")


def report(rows):
    """The table of every run and the pass counts per model."""
    print(f"\n{'series':>15} {'level':>6} {'model':>30} {'exc':>4} {'rate':>6} {'p_uc':>6} {'p_cc':>6} "
          f"{'pass':>4} {'z2_p':>6} {'mf_p':>6}")
    order = {m: i for i, m in enumerate(dict.fromkeys(r["model"] for r in rows))}
    first = {n: i for i, n in enumerate(dict.fromkeys(r["series"] for r in rows))}
    rows.sort(key=lambda r: (first[r["series"]], -r["level"], order[r["model"]]))
    for row in rows:
        row["pass"] = bool(row["kupiec_p"] >= 0.05 and row["cc_p"] >= 0.05)
        es = "".join(f" {row[k]:>6.3f}" if row.get(k) is not None and np.isfinite(row[k]) else f" {'':>6}"
                     for k in ("z2_p", "mf_p"))
        print(f"{row['series']:>15} {row['level']:>6.1%} {row['model']:>30} {row['exceedances']:>4} "
              f"{row['rate']:>6.2%} {row['kupiec_p']:>6.3f} {row['cc_p']:>6.3f} {'yes' if row['pass'] else 'no':>4}"
              + es)
    runs = len({(r["series"], r["level"]) for r in rows})
    print(f"\npasses (Kupiec and Christoffersen conditional coverage, both p >= 0.05) of {runs} runs:")
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        line = f"{model:>30}: passes {sum(r['pass'] for r in mine)} of {len(mine)}"
        if mine[0].get("z2_p") is not None:
            z2 = sum(r["z2_p"] >= 0.05 for r in mine)
            mf = sum(not np.isfinite(r["mf_p"]) or r["mf_p"] >= 0.05 for r in mine)
            line += f"; ES: Z2 passes {z2} of {len(mine)}, McNeil-Frey {mf} of {len(mine)}"
        print(line)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
