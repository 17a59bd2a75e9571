"""``gmmkit select``: choose K and the covariance type by BIC, AIC or ICL (by default as
mclust's ``Mclust()``: K = 1..9 over its 14 covariance models)."""
import os
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..kit import Progress, check_output, escape, fmt, is_quiet, parse_k, print_json, require_matplotlib, stdout_console
from .common import fit_metadata, load_kernels, read_with_weights, run_select, warn_flat
from .options import (
    ColumnsOpt,
    CriterionOpt,
    DataArg,
    ForceOpt,
    HeaderOpt,
    InitOpt,
    JsonOpt,
    MaxIterOpt,
    NBootOpt,
    NInitOpt,
    QuietOpt,
    RegOpt,
    SeedOpt,
    TolOpt,
    WeightsOpt,
    covariance_types,
)


def select(
    data: DataArg,
    k: Annotated[str, typer.Option(
        "-k", "--k", help="Candidate numbers of components: a range such as 1..9, a list "
                          "such as 2,4,8, or 'auto' (1..10).")] = "1..9",
    covariance: Annotated[str, typer.Option(
        "--covariance", "-c", help="Covariance types to try: 'all' (mclust's 14 models, EII ... VVV), "
                                   "'sklearn' (full, diag, tied, spherical), or a comma list of "
                                   "names.")] = "all",
    criterion: CriterionOpt = "bic",
    convention: Annotated[str, typer.Option(
        "--convention", help="Sign of the printed criterion: sklearn (lower is better) or mclust "
                             "(higher is better, 2 log L - p log n).")] = "sklearn",
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
    lrt: Annotated[bool, typer.Option(
        "--lrt", help="Also test K against K + 1 components for the selected covariance model by "
                      "the bootstrap likelihood-ratio test (mclust's mclustBootstrapLRT), from K = 1 "
                      "until a test is not significant at --level.")] = False,
    n_boot: NBootOpt = 999,
    init: InitOpt = "kmeans",
    level: Annotated[float, typer.Option("--level", min=0.0, max=1.0,
                                         help="Significance level of --lrt.")] = 0.05,
    seed: SeedOpt = None,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
    quiet_flag: QuietOpt = False,
):
    """Choose the number of components and covariance type by BIC, AIC or ICL.

    Example: gmmkit select data.csv -k 1..9 --covariance all --criterion bic -o best.gmm --plot bic.png

    Every (K, covariance type) pair is fitted; the table shows the criterion
    (lower is better, or higher with --convention mclust) and marks the best, which -o
    saves. Models that cannot be estimated on the data are skipped, with the reason.
    With --lrt: gmmkit select data.csv --lrt --n-boot 999 adds the bootstrap
    likelihood-ratio tests of K against K + 1 for the selected covariance model.
    """
    if jobs == 0:
        from ...exceptions import ParameterError

        raise ParameterError("--jobs must be a positive number or -1")
    check_output(out, force)
    check_output(plot, force)
    if plot is not None:
        require_matplotlib("--plot")  # before the fits, not after them
    if convention not in ("sklearn", "mclust"):
        from ...exceptions import ParameterError

        raise ParameterError(f"--convention {convention!r}: choose sklearn or mclust")
    ks = parse_k(k)
    types = covariance_types(covariance)
    X, names, w = read_with_weights(data, columns, weights, header)
    load_kernels(X, types, init)  # start-up, not selection time
    t0 = time.perf_counter()
    res = run_select(X, ks, types, criterion, sample_weight=w, n_init=n_init, max_iter=max_iter,
                     tol=tol, reg_covar=reg_covar, seed=seed, jobs=jobs, quiet=quiet_flag, init=init)
    seconds = time.perf_counter() - t0
    est = res.best_model_
    warn_flat(est, X, names)
    selection = {"criterion": res.criterion, "k": ks, "covariance_types": list(types),
                 "best": res.best_params_}
    if out is not None:
        est.fit_metadata_ = fit_metadata(data, names, X, seed, seconds, selection)
        est.save(out, overwrite=force)
    if plot is not None:
        res.plot(path=os.fspath(plot))
    lrt_result = _run_lrt(X, w, est.covariance_type, n_boot, level, seed, quiet_flag,
                          n_init=n_init, max_iter=max_iter, tol=tol, reg_covar=reg_covar) if lrt else None
    if as_json:
        print_json({
            "criterion": res.criterion, "best": res.best_params_,
            "model": str(out) if out is not None else None,
            "plot": str(plot) if plot is not None else None,
            "columns": names, "n_rows": int(X.shape[0]), "seconds": round(seconds, 3),
            "table": res.table.to_dict(orient="records"),
            "lrt": None if lrt_result is None else {
                "covariance_type": lrt_result.covariance_type, "n_boot": n_boot, "level": level,
                "selected": lrt_result.selected, "tests": lrt_result.table().to_dict(orient="records")},
        })
        return
    res.convention = convention
    _print_selection(res, data, X.shape[0], seconds)  # the result itself: shown even with -q
    if lrt_result is not None:
        _print_lrt(lrt_result, n_boot)
    if is_quiet(quiet_flag):
        return
    con = stdout_console()
    if out is not None:
        con.print(f"best model saved to {escape(out)}")
    if plot is not None:
        con.print(f"plot saved to {escape(plot)}")


def _run_lrt(X, w, cov_type, n_boot, level, seed, quiet, **params):
    """:func:`gmmkit.bootstrap.bootstrap_lrt` for the selected model, behind a progress bar."""
    from ...bootstrap import bootstrap_lrt
    from ...exceptions import ParameterError

    if w is not None:
        raise ParameterError("--lrt does not take --weights (the test simulates unweighted samples)")
    with Progress(enabled=not is_quiet(quiet), delay=1.0) as bar:
        return bootstrap_lrt(X, cov_type, n_boot=n_boot, level=level, random_state=seed,
                             callback=bar.task(f"bootstrap LRT, {cov_type}"), **params)


def _print_lrt(lrt, n_boot):
    from ..kit import text_table

    t = lrt.table()
    rows = [[f"{r.n_components} vs {r.alternative}", fmt(r.statistic, 6), f"{r.p_value:.4f}",
             fmt(r.bootstrap_mean, 4)] for r in t.itertuples()]
    con = stdout_console()
    con.print(f"bootstrap likelihood-ratio tests, {lrt.covariance_type} ({n_boot} replicates each):")
    con.print(escape(text_table(rows, ["K", "LRTS", "p-value", "bootstrap mean"])), soft_wrap=True)
    con.print(f"LRT picks K={lrt.selected} (first test not significant at {lrt.level:g})")


def _print_selection(res, data, n_rows, seconds):
    from rich import box
    from rich.table import Table

    t = res.table
    crit = res.criterion
    frame = res.criterion_table()
    sign = "lower" if res.convention == "sklearn" else "higher"
    con = stdout_console()
    con.print(f"{crit.upper()} on {n_rows} rows of {escape(data)} ({sign} is better)", soft_wrap=True)
    best = res.best_params_
    by_type = len(frame.columns) > 6  # mclust's 14: one row per model, one column per K
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("model" if by_type else "K", justify="left" if by_type else "right")
    for c in (frame.index if by_type else frame.columns):
        table.add_column(str(c), justify="right", no_wrap=True)

    def cell(K, c):
        v = frame.loc[K, c]
        text = "-" if v != v else f"{v:.1f}"
        if K == best["n_components"] and c == best["covariance_type"]:
            text = f"[bold green]{text}*[/bold green]"
        return text

    if by_type:
        for c in frame.columns:
            table.add_row(str(c), *(cell(K, c) for K in frame.index))
    else:
        for K in frame.index:
            table.add_row(str(K), *(cell(K, c) for c in frame.columns))
    # as R prints a wide BIC table: wider than the terminal rather than cut digits
    width = con.width
    con.width = max(width, 10 + 10 * len(table.columns))
    try:
        con.print(table)
    finally:
        con.width = width
    ok = t[t["error"] == ""].sort_values(crit)
    flip = -1.0 if sign == "higher" else 1.0
    top = ", ".join(f"{r.covariance_type},{r.n_components} ({flip * getattr(r, crit):.1f})"
                    for r in ok.head(3).itertuples())
    con.print(f"top 3: {escape(top)}", soft_wrap=True)
    skipped = t[t["error"] != ""]
    for reason in skipped["error"].head(3):
        con.print(f"  {escape(reason)}", soft_wrap=True)
    if len(skipped) > 3:
        con.print(f"  ... {len(skipped) - 3} more skipped (see --json)")
    con.print(f"best: K={best['n_components']}, {best['covariance_type']} covariance "
              f"({len(t)} candidates, {len(skipped)} skipped, in {seconds:.1f} s)")
