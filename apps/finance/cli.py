"""``gmmkit finance``: return distributions, VaR/ES, backtests, regimes and portfolios.

A thin Typer layer over :mod:`gmmkit_apps.finance`; heavy imports happen inside
the commands so ``gmmkit --help`` stays fast. The shared options live in
:mod:`.cli_common`, the ``backtest`` command in :mod:`.cli_backtest`.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from .cli_common import (
    ForceOpt,
    JsonOpt,
    KOpt,
    MaxKOpt,
    MaxStatesOpt,
    MixOpt,
    ModelOpt,
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
    kind_note,
    load,
    plot_dir,
    single,
    table,
)


@app.command()
@input_options()
def fit(
    data: Path,
    o: Opts,
    components: Optional[int] = KOpt,
    max_components: int = MaxKOpt,
    seed: int = SeedOpt,
    no_atoms: bool = NoAtomsOpt,
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
    import numpy as np

    from gmmkit.cli.kit import check_output

    from .data import FREQUENCIES
    from .dist import MIN_COMPONENT_POINTS, MIN_COMPONENT_SD, compare_fits, components_table, student_t_fit
    from .pointmass import fit_returns

    check_output(save, force)
    check_plot(plot)
    r, freq, log = load(data, o)
    s = single(r, data.name)
    rf = fit_returns(s.to_numpy(), atoms=not no_atoms, n_components=components,
                     max_components=max_components, random_state=seed)
    res, cont = rf.fit, s.to_numpy()[rf.continuous]
    ppy = FREQUENCIES[freq][0]
    comps = components_table(res.mixture, ppy, n=cont.size, scale=float(np.std(cont)))
    comparison = compare_fits(cont, res, atoms=(rf.counts, rf.n))
    check_finite(comparison, "the fit")
    if save is not None:
        meta = {"ticker": str(s.name), "loc": res.loc, "scale": res.scale, "log_returns": log,
                "frequency": freq, "note": "fitted on (return - loc) / scale"}
        res.model.fit_metadata_ = {**(getattr(res.model, "fit_metadata_", None) or {}), "finance": meta}
        res.model.save(save, overwrite=force)
    figures = []
    if plot_dir(plot) is not None:
        from .plots import plot_density, plot_qq, safe_name

        name = safe_name(s.name)
        paths = [plot / f"finance_density_{name}.png", plot / f"finance_qq_{name}.png"]
        for path in paths:
            check_output(path, force)
        note = " (point masses left out)" if rf.values.size else ""
        figures.append(plot_density(cont, res.mixture, paths[0],
                                    title=f"{name} {freq} {'log' if log else 'simple'} returns{note}",
                                    student_t=student_t_fit(cont)))
        figures.append(plot_qq(cont, res.mixture, paths[1], title=f"{name}: QQ plot against the normal{note}"))
    info = {"ticker": str(s.name), "n": int(s.size), "start": str(s.index[0].date()),
            "end": str(s.index[-1].date()), "frequency": freq, "returns": "log" if log else "simple",
            "n_components": res.mixture.n_components, "bic_by_k": res.bic_table, "components": comps,
            "comparison": comparison, "figures": figures,
            "point_masses": [{"value": float(v), "count": int(c), "share": float(c / rf.n)}
                             for v, c in zip(rf.values, rf.counts)],
            "passed_over": {int(k): v for k, v in (res.excluded or {}).items()}}
    if as_json:
        json_out(info)
        return
    echo(f"{s.name}: {s.size} {freq} {info['returns']} returns, {info['start']} to {info['end']}; "
          f"K={res.mixture.n_components} by BIC" + ("" if components is None else " (fixed)"), quiet)
    if rf.values.size:
        echo(rf.note(), quiet)
    for k, why in (res.excluded or {}).items():
        echo(f"K={k} passed over although its BIC was lower: {why}", quiet)
    echo(table(comps, ["component", "weight", "mean", "sd", "ann_vol"] + (["note"] if any(c["note"] for c in comps)
                                                                        else []),
               {"weight": "{:.3f}", "mean": "{:+.5f}", "sd": "{:.5f}", "ann_vol": "{:.1%}"}), quiet)
    if any(c["note"] for c in comps):
        echo(f"spike: a component holding fewer than {MIN_COMPONENT_POINTS} observations or narrower than "
             f"{MIN_COMPONENT_SD:.0%} of the returns' sd (try fewer components)", quiet)
    echo("", quiet)
    echo(table(comparison, ["model", "n_params", "loglik", "aic", "bic", "note"],
                 {"loglik": "{:.1f}", "aic": "{:.1f}", "bic": "{:.1f}"}), quiet)
    for f in figures:
        echo(f"wrote {f}", quiet)


@app.command()
@input_options()
def risk(
    data: Path,
    o: Opts,
    level: Optional[List[float]] = typer.Option(None, "--level", "-l",
                                                help="Confidence level(s); default 0.95 and 0.99."),
    horizon: int = typer.Option(1, "--horizon", min=1, help="Periods ahead; above 1 the mixture is simulated."),
    sims: int = typer.Option(100_000, "--sims", min=1000, help="Simulated paths for --horizon > 1."),
    vol: str = typer.Option("none", "--vol", help="none: unconditional (the default); ewma, garch, gjr, "
                            "garch-t, gjr-t, garch-skewt or gjr-skewt: conditional on the next period's volatility "
                            "forecast (as backtest)."),
    ewma_lambda: float = typer.Option(0.94, "--lambda", help="EWMA decay for --vol ewma."),
    model: str = typer.Option("mixture", "--model", help="mixture: the i.i.d. mixture (the default); hmm: "
                              "the Markov-switching model's predictive distribution (--vol none)."),
    states: Optional[int] = StatesOpt,
    mix: int = MixOpt,
    components: Optional[int] = KOpt,
    max_components: int = MaxKOpt,
    seed: int = SeedOpt,
    no_atoms: bool = NoAtomsOpt,
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
    import numpy as np

    from .risk import conditional_risk
    from .switching import check_model
    from .volatility import check_filter

    check_filter(vol)
    check_model(model)
    if model == "hmm" and vol != "none":
        from gmmkit.exceptions import ParameterError

        raise ParameterError(f"--model hmm is its own volatility model: use it with --vol none, not --vol {vol}")
    r, freq, log = load(data, o)
    s = single(r, data.name)
    if model == "hmm":
        _risk_hmm(s, freq, log, level, horizon, sims, states, mix, seed, as_json, quiet)
        return
    res = conditional_risk(s.to_numpy(), vol=vol, ewma_lambda=ewma_lambda, levels=level or (0.95, 0.99),
                           horizon=horizon, log=log, n_sims=sims, n_components=components,
                           max_components=max_components, random_state=seed, atoms=not no_atoms)
    rows, mu, sigma_next, garch = res["rows"], res["mu"], res["sigma_next"], res["garch"]
    check_finite(rows, "the risk figures")
    if as_json:
        json_out({"ticker": str(s.name), "n": int(s.size), "frequency": freq,
                   "returns": "log" if log else "simple", "n_components": res["n_components"],
                   "vol": vol, "sigma_next": sigma_next, "mu": mu,
                   "garch": None if garch is None else garch.params(), "rows": rows,
                   "point_masses": res["point_masses"]})
        return
    echo(f"{s.name}: {s.size} {freq} returns {s.index[0].date()} to {s.index[-1].date()}, "
          f"GMM K={res['n_components']}; losses as positive {'log' if log else 'simple'} returns"
          + kind_note(o, log), quiet)
    if res["point_masses"]:
        from .pointmass import describe_atoms

        pm = res["point_masses"]
        echo(describe_atoms([p["value"] for p in pm], [p["count"] for p in pm], s.size)
             + ": point masses of the gmm row's distribution (its mixture fitted to the other returns)", quiet)
    if garch is not None:
        how = "scaled to" if horizon == 1 else "variance paths start from"
        echo(f"{how} the next period's {vol.upper()} volatility forecast {sigma_next:.4%} (mean "
              f"{mu:+.5f}; alpha {garch.alpha:.3f}, gamma {garch.gamma:.3f}, beta {garch.beta:.3f}"
              + (f", nu {garch.nu:.1f}" if np.isfinite(garch.nu) else "")
              + (f", lambda {garch.lam:+.3f}" if garch.dist == "skewt" else "") + ")", quiet)
    elif sigma_next is not None:
        echo(f"scaled to the next period's EWMA volatility forecast {sigma_next:.4%} "
              f"(lambda {ewma_lambda})", quiet)
    echo(table(rows, ["model", "level", "horizon", "var", "es", "method"],
                 {"level": "{:.1%}", "var": "{:.4%}", "es": "{:.4%}"}), quiet)


def _risk_hmm(s, freq, log, level, horizon, sims, states, mix, seed, as_json, quiet):
    from .switching import switching_risk

    res = switching_risk(s.to_numpy(), levels=level or (0.95, 0.99), horizon=horizon, log=log, n_sims=sims,
                         n_states=states, n_mix=mix, random_state=seed)
    if as_json:
        json_out({"ticker": str(s.name), "n": int(s.size), "frequency": freq, "model": "hmm",
                   "returns": "log" if log else "simple", **res})
        return
    probs = ", ".join(f"{n} {p:.1%}" for n, p in zip(res["regimes"], res["next_state_proba"]))
    echo(f"{s.name}: {s.size} {freq} returns {s.index[0].date()} to {s.index[-1].date()}, Markov switching "
          f"K={res['n_states']} regimes x {res['n_mix']} normals; losses as positive "
          f"{'log' if log else 'simple'} returns", quiet)
    echo(f"next period's regime probabilities: {probs}", quiet)
    echo(table(res["rows"], ["model", "level", "horizon", "var", "es", "method"],
                 {"level": "{:.1%}", "var": "{:.4%}", "es": "{:.4%}"}), quiet)


@app.command()
@input_options()
def regimes(
    data: Path,
    o: Opts,
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
    check_plot(plot)
    r, freq, log = load(data, o)
    s = single(r, data.name)
    ppy = FREQUENCIES[freq][0]
    if model == "mixture":
        _regimes_mixture(s, ppy, components, max_components or 5, seed, out, force, plot, as_json, quiet)
        return
    from .switching import regime_analysis

    frame, info = regime_analysis(s, n_states=components, max_states=max_components or 3, n_mix=mix,
                                  periods_per_year=ppy, random_state=seed)
    _write_frame(frame, out, force)
    figures = []
    if plot_dir(plot) is not None:
        from .plots import plot_switching, safe_name

        figures.append(plot_switching(frame, plot / f"finance_regimes_{safe_name(s.name)}.png",
                                      title=f"{s.name}: {info['n_states']} Markov-switching regimes "
                                            f"({info['n_mix']} normals each)"))
    sw = info["switches_per_year"]
    if as_json:
        json_out({"ticker": str(s.name), "model": "hmm", "n": int(len(frame)),
                   "start": str(frame.index[0].date()), "end": str(frame.index[-1].date()), **info,
                   "figures": figures})
        return
    names = [row["regime"] for row in info["regimes"]]
    echo(f"{s.name}: {len(frame)} days {frame.index[0].date()} to {frame.index[-1].date()}, Markov switching, "
          f"K={info['n_states']} regimes" + (" by BIC" if components is None else " (fixed)") +
          f", {info['n_mix']} normals each", quiet)
    echo("transition matrix (row: today, column: tomorrow):", quiet)
    trans = [{"from": n, **{f"to {m}": p for m, p in zip(names, row)}} for n, row in zip(names, info["transmat"])]
    echo(table(trans, ["from"] + [f"to {m}" for m in names], {f"to {m}": "{:.4f}" for m in names}), quiet)
    echo("", quiet)
    echo(table(info["regimes"], ["regime", "p_stay", "duration", "ann_mean", "ann_vol", "days", "share",
                                   "mean_spell"],
                 {"p_stay": "{:.4f}", "duration": "{:.1f}", "ann_mean": "{:+.1%}", "ann_vol": "{:.1%}",
                  "share": "{:.1%}", "mean_spell": "{:.1f}"}), quiet)
    echo("duration: expected spell 1/(1-p_stay) in days; days, share and mean_spell from each day's most "
          "probable regime (smoothed)", quiet)
    echo(f"regime switches per year: {sw['hmm']:.2f} (smoothed), {sw['hmm_viterbi']:.2f} (Viterbi); i.i.d. "
          f"mixture with {info['n_states']} components: {sw['mixture']:.2f}", quiet)
    spells_text = ", ".join(f"{x['start']} to {x['end']} ({x['days']} days)" for x in info["longest_turbulent_spells"])
    if spells_text:
        echo(f"longest turbulent spells: {spells_text}", quiet)
    if out is not None:
        echo(f"wrote {out}", quiet)
    for f in figures:
        echo(f"wrote {f}", quiet)


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
    if plot_dir(plot) is not None:
        from .plots import plot_regimes, safe_name

        figures.append(plot_regimes(frame, plot / f"finance_regimes_{safe_name(s.name)}.png",
                                    title=f"{s.name}: regimes of a {res.mixture.n_components}-component GMM"))
    if as_json:
        json_out({"ticker": str(s.name), "model": "mixture", "n_components": res.mixture.n_components,
                   "summary": summary, "figures": figures})
        return
    echo(f"{s.name}: {len(frame)} days, K={res.mixture.n_components}", quiet)
    echo(table(summary, ["regime", "days", "share", "mean", "ann_vol", "mean_run"],
                 {"share": "{:.1%}", "mean": "{:+.5f}", "ann_vol": "{:.1%}", "mean_run": "{:.1f}"}), quiet)
    if out is not None:
        echo(f"wrote {out}", quiet)
    for f in figures:
        echo(f"wrote {f}", quiet)


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
@input_options(simple=False)
def portfolio(
    data: Path,
    o: Opts,
    weights: Optional[str] = typer.Option(None, "--weights", "-w",
                                          help="Comma-separated portfolio weights, one per --ticker "
                                               "(default: equal)."),
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

    r, freq, _ = load(data, o, simple=True)
    alloc = _parse_weights(weights, r.shape[1])
    res = portfolio_risk(r.to_numpy(), alloc, levels=level or (0.95, 0.99), n_components=components,
                         max_components=max_components, n_sims=sims, tail=tail, random_state=seed)
    rows, stress = res["rows"], res["stress"]
    check_finite(rows, "the portfolio figures")
    stress["assets"] = list(r.columns)
    if as_json:
        json_out({"tickers": list(r.columns), "weights": alloc, "n": int(len(r)), "frequency": freq,
                   "n_components": res["n_components"], "bic_by_k": res["bic_by_k"], "rows": rows,
                   "stress": stress})
        return
    echo(f"portfolio {', '.join(f'{a:g} {t}' for a, t in zip(alloc, r.columns))}: {len(r)} {freq} simple "
          f"returns{kind_note(o, False)}, joint GMM K={res['n_components']} by BIC", quiet)
    echo(table(rows, ["model", "level", "var", "es", "method"],
                 {"level": "{:.1%}", "var": "{:.4%}", "es": "{:.4%}"}), quiet)
    echo(f"\nstress: worst {tail:.1%} of {sims} sampled scenarios: portfolio return <= "
          f"{stress['quantile']:+.4%}, mean {stress['mean_beyond']:+.4%}", quiet)
    for t, m in zip(r.columns, stress["asset_means"]):
        echo(f"  mean {t} return in those scenarios: {m:+.4%}", quiet)
    share = ", ".join(f"{v:.0%}" for v in stress["component_share"])
    echo(f"  drawn from components (calmest first): {share}", quiet)


from . import cli_backtest  # noqa: E402,F401  (registers the backtest command)


def main():  # pragma: no cover - convenience for `python -m gmmkit_apps.finance.cli`
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
