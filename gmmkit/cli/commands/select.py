"""``gmmkit select``: choose K and the covariance type by BIC, AIC or ICL."""
import os
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..kit import check_output, escape, is_quiet, parse_covariance, parse_k, print_json, stdout_console
from .common import fit_metadata, read_with_weights, run_select
from .options import (
    ColumnsOpt,
    CriterionOpt,
    DataArg,
    ForceOpt,
    HeaderOpt,
    JsonOpt,
    MaxIterOpt,
    NInitOpt,
    QuietOpt,
    RegOpt,
    SeedOpt,
    TolOpt,
    WeightsOpt,
)


def select(
    data: DataArg,
    k: Annotated[str, typer.Option(
        "-k", "--k", help="Candidate numbers of components: a range such as 1..10, a list "
                          "such as 2,4,8, or 'auto' (1..10).")] = "1..10",
    covariance: Annotated[str, typer.Option(
        "--covariance", "-c", help="Covariance types to try: 'all', or a comma list of full, "
                                   "diag, tied, spherical.")] = "all",
    criterion: CriterionOpt = "bic",
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Write the best model to this file.", show_default=False)] = None,
    plot: Annotated[Optional[Path], typer.Option(
        "--plot", help="Draw the criterion against K, one line per covariance type, to this PNG "
                       "(needs matplotlib).", show_default=False)] = None,
    columns: ColumnsOpt = None,
    header: HeaderOpt = None,
    weights: WeightsOpt = None,
    n_init: NInitOpt = 1,
    max_iter: MaxIterOpt = 100,
    tol: TolOpt = 1e-3,
    reg_covar: RegOpt = 1e-6,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=-1,
                                      help="Candidates fitted at once (-1: all cores).")] = 1,
    seed: SeedOpt = None,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
    quiet_flag: QuietOpt = False,
):
    """Choose the number of components and covariance type by BIC, AIC or ICL.

    Example: gmmkit select data.csv -k 1..10 --covariance all --criterion bic -o best.gmm --plot bic.png

    Every (K, covariance type) pair is fitted; the table shows the criterion
    (lower is better) and marks the best, which -o saves.
    """
    if jobs == 0:
        from ...exceptions import ParameterError

        raise ParameterError("--jobs must be a positive number or -1")
    check_output(out, force)
    check_output(plot, force)
    ks = parse_k(k)
    types = parse_covariance(covariance)
    X, names, w = read_with_weights(data, columns, weights, header)
    t0 = time.perf_counter()
    res = run_select(X, ks, types, criterion, sample_weight=w, n_init=n_init, max_iter=max_iter,
                     tol=tol, reg_covar=reg_covar, seed=seed, jobs=jobs, quiet=quiet_flag)
    seconds = time.perf_counter() - t0
    est = res.best_model_
    selection = {"criterion": res.criterion, "k": ks, "covariance_types": list(types),
                 "best": res.best_params_}
    if out is not None:
        est.fit_metadata_ = fit_metadata(data, names, X, seed, seconds, selection)
        est.save(out, overwrite=force)
    if plot is not None:
        res.plot(path=os.fspath(plot))
    if as_json:
        print_json({
            "criterion": res.criterion, "best": res.best_params_,
            "model": str(out) if out is not None else None,
            "plot": str(plot) if plot is not None else None,
            "columns": names, "n_rows": int(X.shape[0]), "seconds": round(seconds, 3),
            "table": res.table.to_dict(orient="records"),
        })
        return
    _print_selection(res, data, X.shape[0], seconds)  # the result itself: shown even with -q
    if is_quiet(quiet_flag):
        return
    con = stdout_console()
    if out is not None:
        con.print(f"best model saved to {escape(out)}")
    if plot is not None:
        con.print(f"plot saved to {escape(plot)}")


def _print_selection(res, data, n_rows, seconds):
    import math

    from rich.table import Table

    t = res.table
    crit = res.criterion
    types = list(dict.fromkeys(t["covariance_type"]))
    con = stdout_console()
    con.print(f"{crit.upper()} on {n_rows} rows of {escape(data)} (lower is better)", soft_wrap=True)
    table = Table()
    table.add_column("K", justify="right")
    for c in types:
        table.add_column(c, justify="right")
    best = res.best_params_
    for K in sorted(set(int(v) for v in t["n_components"])):
        cells = []
        for c in types:
            row = t[(t["n_components"] == K) & (t["covariance_type"] == c)]
            if row.empty:
                cells.append("")
                continue
            v = float(row[crit].iloc[0])
            text = "failed" if not math.isfinite(v) else f"{v:.1f}"
            if K == best["n_components"] and c == best["covariance_type"]:
                text = f"[bold green]{text} *[/bold green]"
            cells.append(text)
        table.add_row(str(K), *cells)
    con.print(table)
    con.print(f"best: K={best['n_components']}, {best['covariance_type']} covariance "
              f"({len(t)} candidates in {seconds:.1f} s)")
