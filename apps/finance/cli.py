"""``gmmkit finance``: return distributions, VaR/ES, backtests, regimes and portfolios.

A thin Typer layer over :mod:`gmmkit_apps.finance`; heavy imports happen inside
the commands so ``gmmkit --help`` stays fast.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(
    name="finance",
    help=("Return distributions with Gaussian mixtures: fit, VaR/ES, backtests, regimes, portfolios.\n\n"
          "Input: CSV or Parquet of prices (or --returns) with a date column, wide (one column per "
          "ticker) or long (date, ticker, value).\n\n"
          "Example: gmmkit finance fit datasets/finance/indices.csv.gz --ticker SPX"),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

DataArg = typer.Argument(..., help="CSV or Parquet file of prices (or returns with --returns).",
                         show_default=False)


class _Opts:
    """The input options every command shares."""

    def __init__(self, ticker, freq, returns, simple, start, end, dropna, gaps, percent=False):
        self.ticker, self.freq, self.returns, self.simple = ticker, freq, returns, simple
        self.start, self.end, self.dropna, self.gaps = start, end, dropna, gaps
        self.percent = percent


def _load(data, o: _Opts, *, simple=None):
    from .data import load_returns

    log = not (o.simple if simple is None else simple)
    r, freq = load_returns(data, o.ticker or None, kind="returns" if o.returns else "prices", log=log,
                           freq=o.freq, start=o.start, end=o.end, dropna=o.dropna, gaps=o.gaps,
                           percent=o.percent)
    return r, freq, log


def _single(r, source):
    from gmmkit.exceptions import DataError

    if r.shape[1] != 1:
        raise DataError(f"{source}: this command takes one series; choose it with --ticker "
                        f"(got {list(r.columns)})")
    return r.iloc[:, 0]


def _echo(text, quiet):
    from gmmkit.cli.kit import echo

    echo(text, quiet)


def _table(rows, columns, formats):
    """Plain aligned text table (no colour, so output can be piped)."""
    from gmmkit.cli.kit import text_table

    return text_table(rows, columns, formats)


def _json_out(obj):
    """The command's result as JSON on stdout: always valid (NaN and infinity become null)."""
    from gmmkit.cli.kit import print_json

    print_json(obj)


def _plot_dir(plot):
    if plot is not None:
        plot.mkdir(parents=True, exist_ok=True)
    return plot


# Shared option declarations (typer reads the defaults).
TickerOpt = typer.Option(None, "--ticker", "-t", help="Series (column or ticker) to use; repeat for several.")
FreqOpt = typer.Option(None, "--freq", help="daily, weekly, monthly, quarterly or annual: what you expect, "
                       "checked against the dates (default: detected).")
ReturnsOpt = typer.Option(False, "--returns", help="The file holds returns, not prices.")
PercentOpt = typer.Option(False, "--percent", help="With --returns: the returns are in percent (1.5 = 1.5%).")
SimpleOpt = typer.Option(False, "--simple", help="Simple returns instead of log returns.")
StartOpt = typer.Option(None, "--start", help="First date to keep (YYYY-MM-DD).")
EndOpt = typer.Option(None, "--end", help="Last date to keep (YYYY-MM-DD).")
DropnaOpt = typer.Option(False, "--dropna", help="Drop rows with missing values instead of failing.")
GapsOpt = typer.Option("error", "--gaps", help="Returns spanning a gap: error, keep or drop.")
KOpt = typer.Option(None, "--components", "-k", min=1, help="Fixed number of components (default: BIC).")
MaxKOpt = typer.Option(5, "--max-components", min=1, max=20, help="Largest K tried by BIC.")
SeedOpt = typer.Option(0, "--seed", min=0, max=2**32 - 1, help="Random seed.")
JsonOpt = typer.Option(False, "--json", help="Machine-readable JSON on stdout.")
QuietOpt = typer.Option(False, "--quiet", "-q", help="Print nothing but errors (files are still written).")
PlotOpt = typer.Option(None, "--plot", help="Write PNG figures into this folder.", file_okay=False)
ForceOpt = typer.Option(False, "--force", help="Overwrite an existing output file.")
ModelOpt = typer.Option("hmm", "--model", help="hmm: Markov-switching regimes (states with mixture emissions, "
                        "the default); mixture: the i.i.d. Gaussian mixture (each day on its own).")
MixOpt = typer.Option(2, "--mix", min=1, max=10, help="With --model hmm: normal components in each regime's mixture "
                      "(1: Hamilton's Gaussian regimes).")
MaxStatesOpt = typer.Option(None, "--max-components", min=1, max=20,
                            help="Largest K tried by BIC (default 5; 3 regimes with --model hmm).")
StatesOpt = typer.Option(None, "--states", min=1, max=10, help="With --model hmm: fixed number of regimes "
                         "(default: BIC over 2..3).")


@app.command()
def fit(
    data: Path = DataArg,
    ticker: Optional[List[str]] = TickerOpt,
    freq: Optional[str] = FreqOpt,
    returns: bool = ReturnsOpt,
    percent: bool = PercentOpt,
    simple: bool = SimpleOpt,
    start: Optional[str] = StartOpt,
    end: Optional[str] = EndOpt,
    dropna: bool = DropnaOpt,
    gaps: str = GapsOpt,
    components: Optional[int] = KOpt,
    max_components: int = MaxKOpt,
    seed: int = SeedOpt,
    save: Optional[Path] = typer.Option(None, "--save", help="Save the fitted mixture as a gmmkit model file."),
    force: bool = ForceOpt,
    plot: Optional[Path] = PlotOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
):
    """Fit a Gaussian mixture to returns (K by BIC over 1..5) and compare it with a normal and a Student-t.

    Prints each component's weight, mean and annualised volatility, then the
    log-likelihood, AIC and BIC of the three fits.

    Example: gmmkit finance fit datasets/finance/indices.csv.gz --ticker SPX --plot out/
    """
    from gmmkit.cli.kit import check_output

    from .data import FREQUENCIES
    from .dist import compare_fits, components_table, fit_mixture, student_t_fit

    check_output(save, force)
    o = _Opts(ticker, freq, returns, simple, start, end, dropna, gaps, percent)
    r, freq, log = _load(data, o)
    s = _single(r, data.name)
    res = fit_mixture(s.to_numpy(), n_components=components, max_components=max_components,
                      random_state=seed)
    ppy = FREQUENCIES[freq][0]
    comps = components_table(res.mixture, ppy)
    comparison = compare_fits(s.to_numpy(), res)
    if save is not None:
        meta = {"ticker": str(s.name), "loc": res.loc, "scale": res.scale, "log_returns": log,
                "frequency": freq, "note": "fitted on (return - loc) / scale"}
        res.model.fit_metadata_ = {**(getattr(res.model, "fit_metadata_", None) or {}), "finance": meta}
        res.model.save(save, overwrite=force)
    figures = []
    if _plot_dir(plot) is not None:
        from .plots import plot_density, plot_qq, safe_name

        name = safe_name(s.name)
        figures.append(plot_density(s.to_numpy(), res.mixture, plot / f"finance_density_{name}.png",
                                    title=f"{name} {freq} {'log' if log else 'simple'} returns",
                                    student_t=student_t_fit(s.to_numpy())))
        figures.append(plot_qq(s.to_numpy(), res.mixture, plot / f"finance_qq_{name}.png",
                               title=f"{name}: QQ plot against the normal"))
    info = {"ticker": str(s.name), "n": int(s.size), "start": str(s.index[0].date()),
            "end": str(s.index[-1].date()), "frequency": freq, "returns": "log" if log else "simple",
            "n_components": res.mixture.n_components, "bic_by_k": res.bic_table, "components": comps,
            "comparison": comparison, "figures": figures}
    if as_json:
        _json_out(info)
        return
    _echo(f"{s.name}: {s.size} {freq} {info['returns']} returns, {info['start']} to {info['end']}; "
          f"K={res.mixture.n_components} by BIC" + ("" if components is None else " (fixed)"), quiet)
    _echo(_table(comps, ["component", "weight", "mean", "sd", "ann_vol"],
                 {"weight": "{:.3f}", "mean": "{:+.5f}", "sd": "{:.5f}", "ann_vol": "{:.1%}"}), quiet)
    _echo("", quiet)
    _echo(_table(comparison, ["model", "n_params", "loglik", "aic", "bic", "note"],
                 {"loglik": "{:.1f}", "aic": "{:.1f}", "bic": "{:.1f}"}), quiet)
    for f in figures:
        _echo(f"wrote {f}", quiet)


@app.command()
def risk(
    data: Path = DataArg,
    ticker: Optional[List[str]] = TickerOpt,
    freq: Optional[str] = FreqOpt,
    returns: bool = ReturnsOpt,
    percent: bool = PercentOpt,
    simple: bool = SimpleOpt,
    start: Optional[str] = StartOpt,
    end: Optional[str] = EndOpt,
    dropna: bool = DropnaOpt,
    gaps: str = GapsOpt,
    level: Optional[List[float]] = typer.Option(None, "--level", "-l",
                                                help="Confidence level(s); default 0.95 and 0.99."),
    horizon: int = typer.Option(1, "--horizon", min=1, help="Periods ahead; above 1 the mixture is simulated."),
    sims: int = typer.Option(100_000, "--sims", min=1000, help="Simulated paths for --horizon > 1."),
    vol: str = typer.Option("none", "--vol", help="none: unconditional (the default); ewma, garch or "
                            "gjr: conditional on the next period's volatility forecast (as backtest)."),
    ewma_lambda: float = typer.Option(0.94, "--lambda", help="EWMA decay for --vol ewma."),
    model: str = typer.Option("mixture", "--model", help="mixture: the i.i.d. mixture (the default); hmm: "
                              "the Markov-switching model's predictive distribution (--vol none)."),
    states: Optional[int] = StatesOpt,
    mix: int = MixOpt,
    components: Optional[int] = KOpt,
    max_components: int = MaxKOpt,
    seed: int = SeedOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
):
    """Value-at-Risk and Expected Shortfall from the mixture, the normal and historical simulation.

    VaR and ES are positive losses in return units. One period: the mixture's
    quantile by root finding on its CDF and ES in closed form; several periods
    (--horizon): simulated, and the method column says so. --vol ewma/garch/gjr
    fits the standardised residuals of that volatility filter and scales every
    figure to the next period's forecast (the normal is then RiskMetrics-like,
    historical simulation filtered). With garch/gjr and --horizon above 1 every
    model's paths are simulated through the GARCH variance recursion; EWMA's
    flat forecast scales i.i.d. draws.

    --model hmm: a Markov-switching model (regimes by BIC or --states, --mix normals
    each) fitted to the returns; the next period's regime probabilities are
    today's filtered ones times the transition matrix, and VaR/ES are those of the
    predictive mixture (exact; --horizon above 1 simulates paths through the chain).

    Example: gmmkit finance risk datasets/finance/indices.csv.gz -t SPX --level 0.99 --horizon 10
    """
    from .risk import conditional_risk
    from .switching import check_model
    from .volatility import check_filter

    check_filter(vol)
    check_model(model)
    if model == "hmm" and vol != "none":
        from gmmkit.exceptions import ParameterError

        raise ParameterError(f"--model hmm is its own volatility model: use it with --vol none, not --vol {vol}")
    o = _Opts(ticker, freq, returns, simple, start, end, dropna, gaps, percent)
    r, freq, log = _load(data, o)
    s = _single(r, data.name)
    if model == "hmm":
        _risk_hmm(s, freq, log, level, horizon, sims, states, mix, seed, as_json, quiet)
        return
    res = conditional_risk(s.to_numpy(), vol=vol, ewma_lambda=ewma_lambda, levels=level or (0.95, 0.99),
                           horizon=horizon, log=log, n_sims=sims, n_components=components,
                           max_components=max_components, random_state=seed)
    rows, mu, sigma_next, garch = res["rows"], res["mu"], res["sigma_next"], res["garch"]
    if as_json:
        _json_out({"ticker": str(s.name), "n": int(s.size), "frequency": freq,
                   "returns": "log" if log else "simple", "n_components": res["n_components"],
                   "vol": vol, "sigma_next": sigma_next, "mu": mu,
                   "garch": None if garch is None else garch.params(), "rows": rows})
        return
    _echo(f"{s.name}: {s.size} {freq} returns {s.index[0].date()} to {s.index[-1].date()}, "
          f"GMM K={res['n_components']}; losses as positive {'log' if log else 'simple'} returns", quiet)
    if garch is not None:
        how = "scaled to" if horizon == 1 else "variance paths start from"
        _echo(f"{how} the next period's {vol.upper()} volatility forecast {sigma_next:.4%} (mean "
              f"{mu:+.5f}; alpha {garch.alpha:.3f}, gamma {garch.gamma:.3f}, beta {garch.beta:.3f})", quiet)
    elif sigma_next is not None:
        _echo(f"scaled to the next period's EWMA volatility forecast {sigma_next:.4%} "
              f"(lambda {ewma_lambda})", quiet)
    _echo(_table(rows, ["model", "level", "horizon", "var", "es", "method"],
                 {"level": "{:.1%}", "var": "{:.4%}", "es": "{:.4%}"}), quiet)


def _risk_hmm(s, freq, log, level, horizon, sims, states, mix, seed, as_json, quiet):
    from .switching import switching_risk

    res = switching_risk(s.to_numpy(), levels=level or (0.95, 0.99), horizon=horizon, log=log, n_sims=sims,
                         n_states=states, n_mix=mix, random_state=seed)
    if as_json:
        _json_out({"ticker": str(s.name), "n": int(s.size), "frequency": freq, "model": "hmm",
                   "returns": "log" if log else "simple", **res})
        return
    probs = ", ".join(f"{n} {p:.1%}" for n, p in zip(res["regimes"], res["next_state_proba"]))
    _echo(f"{s.name}: {s.size} {freq} returns {s.index[0].date()} to {s.index[-1].date()}, Markov switching "
          f"K={res['n_states']} regimes x {res['n_mix']} normals; losses as positive "
          f"{'log' if log else 'simple'} returns", quiet)
    _echo(f"next period's regime probabilities: {probs}", quiet)
    _echo(_table(res["rows"], ["model", "level", "horizon", "var", "es", "method"],
                 {"level": "{:.1%}", "var": "{:.4%}", "es": "{:.4%}"}), quiet)


@app.command()
def backtest(
    data: Path = DataArg,
    ticker: Optional[List[str]] = TickerOpt,
    freq: Optional[str] = FreqOpt,
    returns: bool = ReturnsOpt,
    percent: bool = PercentOpt,
    simple: bool = SimpleOpt,
    start: Optional[str] = StartOpt,
    end: Optional[str] = EndOpt,
    dropna: bool = DropnaOpt,
    gaps: str = GapsOpt,
    level: float = typer.Option(0.99, "--level", "-l", help="VaR confidence level."),
    window: int = typer.Option(500, "--window", min=50, help="Estimation window (periods)."),
    refit: int = typer.Option(20, "--refit", min=1, help="Refit every this many periods (warm start)."),
    vol: str = typer.Option("gjr", "--vol", help="Volatility filter: gjr (GJR-GARCH) or garch (GARCH(1,1)), "
                            "refitted by QMLE on each window; ewma (RiskMetrics); none (plain window, "
                            "unconditional)."),
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
    """Rolling one-period VaR backtest of the mixture, the normal and historical simulation.

    Every --refit periods each method is refitted on the last --window returns
    (the mixture with warm start, K by BIC over 2..5 on the first window); the
    table gives exceedances, Kupiec (unconditional coverage), Christoffersen
    (independence, conditional coverage) p-values and the Basel zone of the last
    250 days. By default (--vol gjr) a GJR-GARCH(1,1) is refitted by QMLE on each
    window, every method is fitted to its standardised residuals and scaled by the
    day's volatility forecast (conditional VaR: the normal is RiskMetrics-like,
    historical simulation is filtered); --vol garch (symmetric GARCH(1,1)) and
    --vol ewma (RiskMetrics EWMA) are the other filters; --vol none is the plain,
    unconditional window (which fails through 2008 for every method).

    --model hmm adds a row ``hmm``: a Markov-switching model (regimes by BIC on the
    first window or --states, --mix normals each) refitted on the same schedule with
    warm start; each day's VaR is that of its predictive mixture (the filtered
    regime probabilities of the day before times the transition matrix).

    Example: gmmkit finance backtest datasets/finance/indices.csv.gz -t SPX --plot out/
    """
    from .backtest import METHODS, evaluate, rolling_var
    from .switching import check_model

    check_model(model)

    o = _Opts(ticker, freq, returns, simple, start, end, dropna, gaps, percent)
    r, freq, log = _load(data, o)
    s = _single(r, data.name)
    from gmmkit.cli.kit import Progress, check_output

    check_output(out, force)
    with Progress(enabled=not (quiet or as_json)) as bar:
        frame, info = rolling_var(s, level=level, window=window, refit=refit, n_components=components,
                                  max_components=max_components, random_state=seed, vol=vol,
                                  ewma_lambda=ewma_lambda, progress=bar.task("refits"),
                                  methods=METHODS + (("hmm",) if model == "hmm" else ()), n_states=states,
                                  n_mix=mix)
    rows = evaluate(frame, level)
    if out is not None:
        from gmmkit.io import atomic_path

        with atomic_path(out, overwrite=force, suffix=".csv") as tmp:
            frame.to_csv(tmp, index_label="Date")
    figures = []
    if _plot_dir(plot) is not None:
        from .plots import plot_backtest, safe_name

        figures.append(plot_backtest(frame, plot / f"finance_backtest_{safe_name(s.name)}.png", level=level,
                                     title=f"{s.name}: rolling {level:.0%} one-day VaR "
                                           f"(window {window}, refit {refit}, vol {vol})"))
    if as_json:
        _json_out({"ticker": str(s.name), "start": str(frame.index[0].date()),
                   "end": str(frame.index[-1].date()), **info, "rows": rows, "figures": figures})
        return
    _echo(f"{s.name}: {len(frame)} forecasts {frame.index[0].date()} to {frame.index[-1].date()}, "
          f"{level:.0%} VaR, window {window}, refit every {refit} ({info['n_refits']} refits), vol {vol}, "
          f"GMM K={info.get('n_components')}", quiet)
    if "garch" in info:
        g = info["garch"]
        _echo(f"{vol.upper()} refits: median alpha {g['median_alpha']:.3f}, gamma {g['median_gamma']:.3f}, "
              f"beta {g['median_beta']:.3f}; {g['not_converged']} not reported converged by SLSQP", quiet)
    if "mean_em_iterations" in info:
        _echo(f"GMM refits: warm start, {info['mean_em_iterations']:.1f} EM iterations on average, "
              f"{info['n_restarts']} restarted from k-means after a collapse", quiet)
    if "hmm" in info:
        h = info["hmm"]
        _echo(f"HMM refits: K={h['n_states']} regimes x {h['n_mix']} normals, warm start, "
              f"{h['mean_em_iterations']:.1f} Baum-Welch iterations on average, {h['n_restarts']} restarted "
              f"after a collapse", quiet)
    _echo(_table(rows, ["model", "exceedances", "rate", "kupiec_lr", "kupiec_p", "ind_p", "cc_p",
                        "basel_zone", "mean_var"],
                 {"rate": "{:.2%}", "kupiec_lr": "{:.2f}", "kupiec_p": "{:.4f}", "ind_p": "{:.4f}",
                  "cc_p": "{:.4f}", "mean_var": "{:.3%}"}), quiet)
    _echo(f"expected rate {1 - level:.2%}; a p-value below 0.05 rejects the model at the 5% level", quiet)
    if out is not None:
        _echo(f"wrote {out}", quiet)
    for f in figures:
        _echo(f"wrote {f}", quiet)


@app.command()
def regimes(
    data: Path = DataArg,
    ticker: Optional[List[str]] = TickerOpt,
    freq: Optional[str] = FreqOpt,
    returns: bool = ReturnsOpt,
    percent: bool = PercentOpt,
    simple: bool = SimpleOpt,
    start: Optional[str] = StartOpt,
    end: Optional[str] = EndOpt,
    dropna: bool = DropnaOpt,
    gaps: str = GapsOpt,
    model: str = ModelOpt,
    components: Optional[int] = typer.Option(None, "--components", "-k", min=1,
                                             help="Fixed number of regimes (default: BIC)."),
    max_components: Optional[int] = MaxStatesOpt,
    mix: int = MixOpt,
    seed: int = SeedOpt,
    out: Optional[Path] = typer.Option(None, "--out", help="Write the daily regime series (CSV)."),
    force: bool = ForceOpt,
    plot: Optional[Path] = PlotOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
):
    """Market regimes that persist: a Markov-switching model (default) or the i.i.d. mixture's labels.

    --model hmm (default): a hidden Markov chain of K regimes (K by BIC over 2..3,
    or -k), each emitting a mixture of --mix normals. Prints the transition matrix,
    each regime's expected duration 1/(1-p_ii), annualised mean and volatility, and
    the regime switches per year against the i.i.d. mixture with as many components;
    --out writes each day's smoothed regime, Viterbi regime and P(turbulent)
    (smoothed and filtered); --plot draws the smoothed probabilities.
    --model mixture: each day's most likely component of an i.i.d. mixture, named
    calm ... turbulent by volatility, with share, mean, volatility and mean run length.

    Example: gmmkit finance regimes datasets/finance/indices.csv.gz -t SPX --plot docs/img
    """
    from gmmkit.cli.kit import check_output

    from .data import FREQUENCIES
    from .switching import check_model

    check_model(model)
    check_output(out, force)
    o = _Opts(ticker, freq, returns, simple, start, end, dropna, gaps, percent)
    r, freq, log = _load(data, o)
    s = _single(r, data.name)
    ppy = FREQUENCIES[freq][0]
    if model == "mixture":
        _regimes_mixture(s, ppy, components, max_components or 5, seed, out, force, plot, as_json, quiet)
        return
    from .switching import regime_analysis

    frame, info = regime_analysis(s, n_states=components, max_states=max_components or 3, n_mix=mix,
                                  periods_per_year=ppy, random_state=seed)
    _write_frame(frame, out, force)
    figures = []
    if _plot_dir(plot) is not None:
        from .plots import plot_switching, safe_name

        figures.append(plot_switching(frame, plot / f"finance_regimes_{safe_name(s.name)}.png",
                                      title=f"{s.name}: {info['n_states']} Markov-switching regimes "
                                            f"({info['n_mix']} normals each)"))
    sw = info["switches_per_year"]
    if as_json:
        _json_out({"ticker": str(s.name), "model": "hmm", "n": int(len(frame)),
                   "start": str(frame.index[0].date()), "end": str(frame.index[-1].date()), **info,
                   "figures": figures})
        return
    names = [row["regime"] for row in info["regimes"]]
    _echo(f"{s.name}: {len(frame)} days {frame.index[0].date()} to {frame.index[-1].date()}, Markov switching, "
          f"K={info['n_states']} regimes" + (" by BIC" if components is None else " (fixed)") +
          f", {info['n_mix']} normals each", quiet)
    _echo("transition matrix (row: today, column: tomorrow):", quiet)
    trans = [{"from": n, **{f"to {m}": p for m, p in zip(names, row)}} for n, row in zip(names, info["transmat"])]
    _echo(_table(trans, ["from"] + [f"to {m}" for m in names], {f"to {m}": "{:.4f}" for m in names}), quiet)
    _echo("", quiet)
    _echo(_table(info["regimes"], ["regime", "p_stay", "duration", "ann_mean", "ann_vol", "days", "share",
                                   "mean_spell"],
                 {"p_stay": "{:.4f}", "duration": "{:.1f}", "ann_mean": "{:+.1%}", "ann_vol": "{:.1%}",
                  "share": "{:.1%}", "mean_spell": "{:.1f}"}), quiet)
    _echo("duration: expected spell 1/(1-p_stay) in days; days, share and mean_spell from each day's most "
          "probable regime (smoothed)", quiet)
    _echo(f"regime switches per year: {sw['hmm']:.2f} (smoothed), {sw['hmm_viterbi']:.2f} (Viterbi); i.i.d. "
          f"mixture with {info['n_states']} components: {sw['mixture']:.2f}", quiet)
    spells_text = ", ".join(f"{x['start']} to {x['end']} ({x['days']} days)" for x in info["longest_turbulent_spells"])
    if spells_text:
        _echo(f"longest turbulent spells: {spells_text}", quiet)
    if out is not None:
        _echo(f"wrote {out}", quiet)
    for f in figures:
        _echo(f"wrote {f}", quiet)


def _write_frame(frame, out, force):
    if out is not None:
        from gmmkit.io import atomic_path

        with atomic_path(out, overwrite=force, suffix=".csv") as tmp:
            frame.to_csv(tmp, index_label="Date")


def _regimes_mixture(s, ppy, components, max_components, seed, out, force, plot, as_json, quiet):
    """``regimes --model mixture``: the i.i.d. mixture's day labels (the command's former default)."""
    from .dist import fit_mixture
    from .regimes import regime_summary
    from .regimes import regimes as day_regimes

    res = fit_mixture(s.to_numpy(), n_components=components, max_components=max_components,
                      random_state=seed)
    frame = day_regimes(s, res)
    summary = regime_summary(frame, ppy)
    _write_frame(frame, out, force)
    figures = []
    if _plot_dir(plot) is not None:
        from .plots import plot_regimes, safe_name

        figures.append(plot_regimes(frame, plot / f"finance_regimes_{safe_name(s.name)}.png",
                                    title=f"{s.name}: regimes of a {res.mixture.n_components}-component GMM"))
    if as_json:
        _json_out({"ticker": str(s.name), "model": "mixture", "n_components": res.mixture.n_components,
                   "summary": summary, "figures": figures})
        return
    _echo(f"{s.name}: {len(frame)} days, K={res.mixture.n_components}", quiet)
    _echo(_table(summary, ["regime", "days", "share", "mean", "ann_vol", "mean_run"],
                 {"share": "{:.1%}", "mean": "{:+.5f}", "ann_vol": "{:.1%}", "mean_run": "{:.1f}"}), quiet)
    if out is not None:
        _echo(f"wrote {out}", quiet)
    for f in figures:
        _echo(f"wrote {f}", quiet)


def _parse_weights(text, n):
    if text is None:
        return [1.0 / n] * n
    try:
        w = [float(v) for v in text.split(",")]
    except ValueError:
        raise typer.BadParameter(f"--weights must be comma-separated numbers, got {text!r}") from None
    if len(w) != n:
        raise typer.BadParameter(f"--weights has {len(w)} values for {n} tickers")
    return w


@app.command()
def portfolio(
    data: Path = DataArg,
    ticker: Optional[List[str]] = TickerOpt,
    weights: Optional[str] = typer.Option(None, "--weights", "-w",
                                          help="Comma-separated portfolio weights, one per --ticker "
                                               "(default: equal)."),
    freq: Optional[str] = FreqOpt,
    returns: bool = ReturnsOpt,
    percent: bool = PercentOpt,
    start: Optional[str] = StartOpt,
    end: Optional[str] = EndOpt,
    dropna: bool = DropnaOpt,
    gaps: str = GapsOpt,
    level: Optional[List[float]] = typer.Option(None, "--level", "-l",
                                                help="Confidence level(s); default 0.95 and 0.99."),
    components: Optional[int] = KOpt,
    max_components: int = MaxKOpt,
    sims: int = typer.Option(100_000, "--sims", min=1000, help="Stress scenarios to sample."),
    tail: float = typer.Option(0.01, "--tail", min=0.0001, max=0.5, help="Worst share of scenarios to summarise."),
    seed: int = SeedOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
):
    """VaR/ES of a portfolio from a joint mixture of its assets, exactly; stress scenarios by sampling.

    Uses simple returns (a portfolio's return is linear in them). The joint
    full-covariance mixture gives the portfolio return as a univariate normal
    mixture, hence exact VaR and ES, shown next to the normal and historical
    simulation of the portfolio's own return series.

    Example: gmmkit finance portfolio datasets/finance/indices.csv.gz -t SPX -t IXIC -w 0.6,0.4
    """
    from .regimes import portfolio_risk

    o = _Opts(ticker, freq, returns, True, start, end, dropna, gaps, percent)
    r, freq, _ = _load(data, o, simple=True)
    alloc = _parse_weights(weights, r.shape[1])
    res = portfolio_risk(r.to_numpy(), alloc, levels=level or (0.95, 0.99), n_components=components,
                         max_components=max_components, n_sims=sims, tail=tail, random_state=seed)
    rows, stress = res["rows"], res["stress"]
    stress["assets"] = list(r.columns)
    if as_json:
        _json_out({"tickers": list(r.columns), "weights": alloc, "n": int(len(r)), "frequency": freq,
                   "n_components": res["n_components"], "bic_by_k": res["bic_by_k"], "rows": rows,
                   "stress": stress})
        return
    _echo(f"portfolio {', '.join(f'{a:g} {t}' for a, t in zip(alloc, r.columns))}: {len(r)} {freq} simple "
          f"returns, joint GMM K={res['n_components']} by BIC", quiet)
    _echo(_table(rows, ["model", "level", "var", "es", "method"],
                 {"level": "{:.1%}", "var": "{:.4%}", "es": "{:.4%}"}), quiet)
    _echo(f"\nstress: worst {tail:.1%} of {sims} sampled scenarios: portfolio return <= "
          f"{stress['quantile']:+.4%}, mean {stress['mean_beyond']:+.4%}", quiet)
    for t, m in zip(r.columns, stress["asset_means"]):
        _echo(f"  mean {t} return in those scenarios: {m:+.4%}", quiet)
    share = ", ".join(f"{v:.0%}" for v in stress["component_share"])
    _echo(f"  drawn from components (calmest first): {share}", quiet)


def main():  # pragma: no cover - convenience for `python -m gmmkit_apps.finance.cli`
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
