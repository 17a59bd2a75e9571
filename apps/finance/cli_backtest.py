"""``gmmkit finance backtest``: rolling VaR and ES forecasts, judged by coverage and shortfall tests."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .cli_common import (
    ForceOpt,
    JsonOpt,
    KOpt,
    MaxKOpt,
    MixOpt,
    NoAtomsOpt,
    Opts,
    PlotOpt,
    QuietOpt,
    SeedOpt,
    StatesOpt,
    app,
    check_finite,
    check_plot,
    echo,
    input_options,
    json_out,
    load,
    plot_dir,
    table,
)


@app.command()
@input_options()
def backtest(
    data: Path,
    o: Opts,
    level: Optional[List[float]] = typer.Option(None, "--level", "-l", help="VaR/ES confidence level; repeat "
                                                "for several from the same refits (default 0.99)."),
    es_sims: int = typer.Option(1000, "--es-sims", min=0, max=100_000, help="Simulated paths for the ES tests' "
                                "p-values (0: no ES tests)."),
    no_atoms: bool = NoAtomsOpt,
    window: int = typer.Option(500, "--window", min=50, help="Estimation window (periods)."),
    refit: int = typer.Option(20, "--refit", min=1, help="Refit every this many periods (warm start)."),
    vol: str = typer.Option("gjr", "--vol", help="Volatility filter: gjr (GJR-GARCH) or garch (GARCH(1,1)), "
                            "refitted by Gaussian QMLE on each window; gjr-t, garch-t: the same with Student-t "
                            "innovations (ML), gjr-skewt, garch-skewt with Hansen's skewed t; ewma (RiskMetrics); "
                            "none (plain window, unconditional)."),
    ewma_lambda: float = typer.Option(0.94, "--lambda", help="EWMA decay for --vol ewma."),
    model: str = typer.Option("mixture", "--model", help="hmm: add the Markov-switching model's predictive VaR "
                              "(raw returns, its regimes are its volatility model) beside the other methods."),
    states: Optional[int] = StatesOpt,
    mix: int = MixOpt,
    components: Optional[int] = KOpt,
    max_components: int = MaxKOpt,
    seed: int = SeedOpt,
    out: Optional[Path] = typer.Option(None, "--out", help="Write the daily forecasts and exceedances (CSV)."),
    force: bool = ForceOpt,
    plot: Optional[Path] = PlotOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
):
    """Rolling one-period VaR and ES backtest of the mixture, the normal and historical simulation.

    Every --refit periods each method is refitted on the last --window returns
    (the mixture with warm start, K by BIC over 2..5 on the first window); one
    table, a row per series (-t, repeatable), level (-l, repeatable, from the same
    refits) and method, gives exceedances, Kupiec (unconditional coverage),
    Christoffersen (independence, conditional coverage) p-values, the Basel zone of
    the last 250 days, and the ES tests: Acerbi-Szekely Z2 and McNeil-Frey, with
    p-values by simulation (--es-sims paths; 0 turns them off). Repeated exact
    returns (stale prices) are point masses of the mixture's forecast.

    By default (--vol gjr) a GJR-GARCH(1,1) is refitted by QMLE on each
    window, every method is fitted to its standardised residuals and scaled by the
    day's volatility forecast (conditional VaR: the normal is RiskMetrics-like,
    historical simulation is filtered); --vol garch (symmetric GARCH(1,1)) and
    --vol ewma (RiskMetrics EWMA) are the other filters, gjr-t and garch-t the same
    with Student-t innovations, gjr-skewt and garch-skewt with Hansen's skewed t (these
    add a row 'filter': the filter's own innovation law, as arch forecasts); --vol none is the plain,
    unconditional window (which fails through 2008 for every method).

    --model hmm adds a row ``hmm``: a Markov-switching model (regimes by BIC on the
    first window or --states, --mix normals each) refitted on the same schedule with
    warm start; each day's VaR is that of its predictive mixture (the filtered
    regime probabilities of the day before times the transition matrix).

    Example: gmmkit finance backtest datasets/finance/indices.csv.gz -t SPX -t IXIC -l 0.99 -l 0.975
    """
    from gmmkit.cli.kit import Progress, check_output

    from .backtest import METHODS, backtest_table
    from .switching import check_model

    check_model(model)
    check_output(out, force)
    check_plot(plot)
    levels = sorted(set(level or [0.99]))
    r, freq, log = load(data, o)
    names = [str(c) for c in r.columns]
    if plot_dir(plot) is not None:
        from .plots import safe_name

        paths = {n: plot / f"finance_backtest_{safe_name(n)}.png" for n in names}
        for path in paths.values():
            check_output(path, force)
    with Progress(enabled=not (quiet or as_json)) as bar:
        rows, runs = backtest_table(r, levels=levels, es_sims=es_sims, random_state=seed,
                                    progress=bar.task("refits"), window=window, refit=refit,
                                    n_components=components, max_components=max_components, vol=vol,
                                    ewma_lambda=ewma_lambda, n_states=states, n_mix=mix, atoms=not no_atoms,
                                    methods=METHODS + (("filter",) if "-" in vol else ())
                                    + (("hmm",) if model == "hmm" else ()))
    check_finite([{k: v for k, v in row.items() if k not in ("mf_p", "z2_p", "mf_mean_residual")}
                  for row in rows], "the backtest")
    _write_out(out, force, runs)
    figures = []
    if plot is not None:
        from .plots import plot_backtest

        for n in names:
            frame = runs[n]["frames"][levels[0]]
            figures.append(plot_backtest(frame, paths[n], level=levels[0],
                                         title=f"{n}: rolling {levels[0]:.1%} one-day VaR "
                                               f"(window {window}, refit {refit}, vol {vol})"))
    first = runs[names[0]]
    frame0 = first["frames"][levels[0]]
    if as_json:
        json_out({"ticker": names[0], "tickers": names, "start": str(frame0.index[0].date()),
                  "end": str(frame0.index[-1].date()), **first["info"], "rows": rows,
                  "series": {n: runs[n]["info"] for n in names}, "figures": figures})
        return
    for n in names:
        _describe_run(n, runs[n], levels, window, refit, vol, quiet)
    cols = ["series", "level", "model", "exceedances", "rate", "kupiec_p", "ind_p", "cc_p", "basel_zone",
            "mean_var"] + (["mean_es", "z2", "z2_p", "mf_p"] if es_sims else [])
    echo(table(rows, cols, {"level": "{:.1%}", "rate": "{:.2%}", "kupiec_p": "{:.4f}", "ind_p": "{:.4f}",
                            "cc_p": "{:.4f}", "mean_var": "{:.3%}", "mean_es": "{:.3%}", "z2": "{:+.3f}",
                            "z2_p": "{:.4f}", "mf_p": "{:.4f}"}), quiet)
    echo("expected rate 1 - level; kupiec_p: coverage, ind_p/cc_p: Christoffersen; z2_p: Acerbi-Szekely Z2, "
         "mf_p: McNeil-Frey (ES too small; p by simulation, nan with < 2 exceedances); a p-value below 0.05 "
         "rejects at the 5% level", quiet)
    if out is not None:
        echo(f"wrote {out}", quiet)
    for f in figures:
        echo(f"wrote {f}", quiet)


def _write_out(out, force, runs):
    """One series at one level: its frame as before; otherwise every frame, long, with series and level."""
    if out is None:
        return
    import pandas as pd

    from gmmkit.io import atomic_path

    parts = [f.assign(series=n, level=a) for n, run in runs.items() for a, f in run["frames"].items()]
    frame = parts[0].drop(columns=["series", "level"]) if len(parts) == 1 else pd.concat(parts)
    with atomic_path(out, overwrite=force, suffix=".csv") as tmp:
        frame.to_csv(tmp, index_label="Date")


def _describe_run(name, run, levels, window, refit, vol, quiet):
    info, frame = run["info"], run["frames"][levels[0]]
    echo(f"{name}: {len(frame)} forecasts {frame.index[0].date()} to {frame.index[-1].date()}, "
         f"levels {', '.join(f'{a:.1%}' for a in levels)}, window {window}, refit every {refit} "
         f"({info['n_refits']} refits), vol {vol}, GMM K={info.get('n_components')}", quiet)
    if "garch" in info:
        g = info["garch"]
        echo(f"  {vol.upper()} refits: median alpha {g['median_alpha']:.3f}, gamma {g['median_gamma']:.3f}, "
             f"beta {g['median_beta']:.3f}" + (f", nu {g['median_nu']:.1f}" if "-" in vol else "")
             + (f", lambda {g['median_lam']:+.3f}" if vol.endswith("-skewt") else "")
             + f"; {g['not_converged']} not reported converged by SLSQP", quiet)
    if "mean_em_iterations" in info:
        atoms = info.get("mean_atom_days", 0.0)
        echo(f"  GMM refits: warm start, {info['mean_em_iterations']:.1f} EM iterations on average, "
             f"{info['n_floored']} with a width held at the floor, {info['n_reseeded']} re-seeded after "
             f"drifting into a spike, none from k-means"
             + (f"; {atoms:.0f} repeated returns per window as point masses" if atoms else ""), quiet)
    if "hmm" in info:
        h = info["hmm"]
        echo(f"  HMM refits: K={h['n_states']} regimes x {h['n_mix']} normals, warm start, "
             f"{h['mean_em_iterations']:.1f} Baum-Welch iterations on average, {h['n_restarts']} restarted "
             f"after a collapse", quiet)


