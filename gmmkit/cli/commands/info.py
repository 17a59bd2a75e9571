"""``gmmkit info``: show a model file (and, with data, bootstrap standard errors)."""
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..kit import Progress, escape, fmt, is_quiet, print_json, stdout_console
from .common import data_for_model, names_for, print_components, stddevs
from .options import ColumnsOpt, HeaderOpt, JsonOpt, ModelArg, NBootOpt, QuietOpt, SeedOpt


def info(
    model: ModelArg,
    bootstrap: Annotated[Optional[Path], typer.Option(
        "--bootstrap", help="Data the model was fitted on: add bootstrap standard errors of the "
                            "weights, means and covariances (mclust's MclustBootstrap).",
        show_default=False)] = None,
    kind: Annotated[str, typer.Option(
        "--kind", help="Resampling of --bootstrap: bs (rows with replacement), wlbs (weighted "
                       "likelihood) or pb (parametric).")] = "bs",
    n_boot: NBootOpt = 999,
    columns: ColumnsOpt = None,
    header: HeaderOpt = None,
    seed: SeedOpt = None,
    as_json: JsonOpt = False,
    quiet_flag: QuietOpt = False,
):
    """Show a model: weights, means, covariance summary and fit metadata.

    Example: gmmkit info model.gmm
    Standard errors: gmmkit info model.gmm --bootstrap data.csv --n-boot 999
    """
    import numpy as np

    from ... import load
    from ...covariance import full_covariances
    from ...io import load_arrays

    est = load(model)
    _, meta = load_arrays(model)
    extra = meta.get("extra") or {}
    names = names_for(est)
    covs = full_covariances(est)
    logdet = np.linalg.slogdet(covs)[1]
    sd = stddevs(est)
    params = meta.get("params", {})
    boot = None
    if bootstrap is not None:
        from ...bootstrap import bootstrap as run_bootstrap

        _, X, _ = data_for_model(est, model, bootstrap, columns, header)
        with Progress(enabled=not is_quiet(quiet_flag), delay=1.0) as bar:
            boot = run_bootstrap(est, X, n_boot=n_boot, kind=kind, random_state=seed,
                                 callback=bar.task(f"bootstrap ({kind})"))
    if as_json:
        print_json({
            "model": str(model), "kind": meta.get("kind"), "gmmkit_version": meta.get("gmmkit_version"),
            "format_version": meta.get("format_version"),
            "n_components": int(est.means_.shape[0]), "n_features": int(est.n_features_in_),
            "covariance_type": est.covariance_type, "columns": names,
            "converged": bool(est.converged_), "n_iter": int(est.n_iter_),
            "lower_bound": float(est.lower_bound_), "params": params,
            "weights": est.weights_, "means": est.means_, "stddevs": sd,
            "log_det_covariance": logdet, "covariances": est.covariances_, "fit": extra,
            "bootstrap": None if boot is None else {
                "data": str(bootstrap), "kind": boot.kind, "n_boot": boot.n_boot, "n_failed": boot.n_failed,
                "seed": seed, "standard_errors": boot.standard_errors()},
        })
        return
    from rich.table import Table

    con = stdout_console()
    print_components(
        con, est, names, f"{escape(model)}: {est.means_.shape[0]} components, {est.covariance_type} "
                         f"covariance, {est.n_features_in_} features")
    cov_table = Table(title="covariance summary", title_justify="left")
    for col in ("k", "log det Σ", "smallest sd", "largest sd", "largest |corr|"):
        cov_table.add_column(col, justify="right")
    for k in range(covs.shape[0]):
        corr = covs[k] / np.outer(sd[k], sd[k])
        off = np.abs(corr[~np.eye(corr.shape[0], dtype=bool)])
        cov_table.add_row(str(k), fmt(logdet[k]), fmt(sd[k].min()), fmt(sd[k].max()),
                          f"{off.max():.3f}" if off.size else "-")
    con.print(cov_table)
    facts = Table(show_header=False, title="fit", title_justify="left")
    facts.add_column(style="bold")
    facts.add_column(overflow="fold")  # a long data path wraps instead of being cut
    rows = [
        ("converged", f"{est.converged_} after {est.n_iter_} iterations"),
        ("mean log-likelihood", fmt(est.lower_bound_, 6)),
        ("parameters", ", ".join(f"{k}={params[k]}" for k in
                                 ("n_init", "max_iter", "tol", "reg_covar", "init_params", "random_state")
                                 if k in params)),
    ]
    for key in ("data", "n_rows", "seconds", "seed", "created"):
        if extra.get(key) is not None:
            rows.append((key, escape(extra[key])))
    if extra.get("selection"):
        sel = extra["selection"]
        rows.append(("selection", f"{str(sel.get('criterion', '')).upper()} over K={sel.get('k')} "
                                  f"and {', '.join(sel.get('covariance_types', []))}"))
    rows.append(("written by", f"gmmkit {meta.get('gmmkit_version')} (model format "
                               f"{meta.get('format_version')})"))
    for key, value in rows:
        facts.add_row(key, value)
    con.print(facts)
    if boot is not None:
        _print_standard_errors(con, est, names, boot, bootstrap)


def _print_standard_errors(con, est, names, boot, data, max_cols=8):
    """weight ± SE and mean ± SE per column, then the SEs of the variances."""
    from rich.table import Table

    se = boot.standard_errors()
    shown = range(min(len(names), max_cols))
    table = Table(title=f"bootstrap standard errors ({boot.kind}, {boot.n_boot} replicates on "
                        f"{escape(data)}; {boot.n_failed} failed fits redrawn)", title_justify="left")
    table.add_column("k", justify="right")
    table.add_column("weight ± se", justify="right")
    for j in shown:
        table.add_column(f"{escape(names[j])}\nmean ± se", justify="right")
    for k in range(est.means_.shape[0]):
        table.add_row(str(k), f"{est.weights_[k]:.3f} ± {se['weights'][k]:.3f}",
                      *(f"{fmt(est.means_[k, j])} ± {fmt(se['means'][k, j], 3)}" for j in shown))
    con.print(table)
    var = Table(title="standard errors of the variances (diagonals of the covariances)", title_justify="left")
    var.add_column("k", justify="right")
    for j in shown:
        var.add_column(escape(names[j]), justify="right")
    for k in range(est.means_.shape[0]):
        var.add_row(str(k), *(fmt(se["covariances"][k, j, j], 3) for j in shown))
    con.print(var)
