"""The generic commands on tabular data: fit, predict, select, info, sample.

Each command is a thin layer over the Python API (:class:`gmmkit.GaussianMixture`,
:func:`gmmkit.select`, :func:`gmmkit.load`, :func:`gmmkit.tabular.read_table`).
numpy, pandas and the estimator are imported inside the commands so that
``gmmkit --help`` stays fast.
"""
import os
import sys
import time
from pathlib import Path
from typing import List, Annotated, Optional

import typer

from ._common import (check_output, fmt, parse_covariance, parse_k, print_json, quiet,
                      report_console, stdout_console)

COMMANDS = ("fit", "predict", "select", "info", "sample")

# ------------------------------------------------------------------ shared options
DataArg = Annotated[Path, typer.Argument(
    help="Table to read: .csv, .tsv, .txt (also .gz), .parquet or .npy. A CSV header row is "
         "detected.", show_default=False)]
ModelArg = Annotated[Path, typer.Argument(help="Model file written by 'gmmkit fit'.",
                                          show_default=False)]
ColumnsOpt = Annotated[Optional[str], typer.Option(
    "--columns", help="Columns to use: comma-separated names or 0-based positions "
                      "(default: every numeric column).", show_default=False)]
ForceOpt = Annotated[bool, typer.Option("--force", "-f", help="Overwrite existing output files.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON summary on stdout.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no notes.")]
SeedOpt = Annotated[Optional[int], typer.Option(
    "--seed", help="Random seed, for reproducible results (default: random).", show_default=False)]
CovOpt = Annotated[str, typer.Option(
    "--covariance", "-c", help="Covariance type: full, diag, tied, spherical; with several "
                               "K also a comma list or 'all'.")]
NInitOpt = Annotated[int, typer.Option("--n-init", min=1, help="EM restarts; the best is kept.")]
MaxIterOpt = Annotated[int, typer.Option("--max-iter", min=1, help="Maximum EM iterations per restart.")]
TolOpt = Annotated[float, typer.Option("--tol", min=0.0, help="Stop when the mean log-likelihood gains less.")]
RegOpt = Annotated[float, typer.Option("--reg-covar", min=0.0, help="Added to covariance diagonals.")]
HeaderOpt = Annotated[Optional[bool], typer.Option(
    "--header/--no-header", help="Whether a CSV file's first row is a header (default: detected).",
    show_default=False)]
WeightsOpt = Annotated[Optional[str], typer.Option(
    "--weights", help="Column of non-negative frequency weights, one per row (not used as a "
                      "feature).", show_default=False)]
CriterionOpt = Annotated[str, typer.Option(
    "--criterion", help="Model selection criterion: bic, aic or icl (lower is better).")]


def _fit_metadata(data, names, X, seed, seconds, selection=None):
    import datetime

    meta = {
        "columns": list(names),
        "data": str(data),
        "n_rows": int(X.shape[0]),
        "seed": seed,
        "seconds": round(float(seconds), 3),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "gmmkit " + " ".join(sys.argv[1:]) if sys.argv and "gmmkit" in sys.argv[0] else None,
    }
    if selection is not None:
        meta["selection"] = selection
    return meta


def _read_with_weights(data, columns, weights, header=None):
    """read_table, plus an optional frequency-weight column taken out of the features."""
    import numpy as np
    import pandas as pd

    from ..exceptions import DataError
    from ..tabular import read_table

    frame, X, names = read_table(data, columns, header=header)
    if weights is None:
        return X, names, None
    if weights not in frame.columns:
        raise DataError(f"{data}: no weight column {weights!r} (columns: {', '.join(frame.columns)})")
    w = pd.to_numeric(frame[weights], errors="coerce").to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise DataError(f"{data}: weight column {weights!r} must hold finite numbers >= 0")
    if columns is None and weights in names:
        keep = [j for j, name in enumerate(names) if name != weights]
        if not keep:
            raise DataError(f"{data}: no numeric column left besides the weights {weights!r}")
        X, names = np.ascontiguousarray(X[:, keep]), [names[j] for j in keep]
    return X, names, w


def _criteria(est, X, w):
    """BIC and AIC of a fitted model on X, with frequency weights w (None: all ones)."""
    import math

    n = X.shape[0]
    mean_ll = est.score(X)
    n_params = (est.aic(X) + 2 * n * mean_ll) / 2  # aic = -2 n mean_ll + 2 p
    if w is None:
        ll, total = n * mean_ll, n
    else:
        ll, total = float(w @ est.score_samples(X)), float(w.sum())
    return {"bic": float(-2 * ll + n_params * math.log(total)), "aic": float(-2 * ll + 2 * n_params)}


def _esc(value):
    """A user-given string (a path...) made safe for rich markup."""
    from rich.markup import escape

    return escape(str(value))


def _run_select(X, ks, types, criterion, *, sample_weight=None, n_init, max_iter, tol, reg_covar,
                seed, jobs, quiet_flag, init="kmeans"):
    import gmmkit

    from ._progress import Spinner

    criterion = criterion.lower()
    n = len(ks) * len(types)
    with Spinner(f"fitting {n} candidate models ({criterion.upper()})", enabled=not quiet(quiet_flag)):
        return gmmkit.select(X, n_components=ks, covariance_types=types, criterion=criterion,
                             n_init=n_init, random_state=seed, n_jobs=jobs,
                             sample_weight=sample_weight,
                             max_iter=max_iter, tol=tol, reg_covar=reg_covar, init_params=init)


def _print_components(con, est, names, heading, max_cols=8):
    """A heading line, then a table: one row per component, weight and mean ± sd per column."""
    from rich.table import Table

    con.print(heading, soft_wrap=True)

    sd = _stddevs(est)
    shown = list(range(min(len(names), max_cols)))
    table = Table()
    table.add_column("k", justify="right")
    table.add_column("weight", justify="right")
    for j in shown:
        table.add_column(f"{_esc(names[j])}\nmean ± sd", justify="right")
    if len(names) > max_cols:
        table.add_column(f"(+{len(names) - max_cols} more)")
    for k in range(est.means_.shape[0]):
        cells = [f"{fmt(est.means_[k, j])} ± {fmt(sd[k, j], 3)}" for j in shown]
        if len(names) > max_cols:
            cells.append("…")
        table.add_row(str(k), f"{est.weights_[k]:.3f}", *cells)
    con.print(table)


def _full_covariances(est):
    """Every component's covariance as a (K, D, D) array, whatever the covariance type."""
    import numpy as np

    K, D = est.means_.shape
    cov = np.asarray(est.covariances_)
    kind = est.covariance_type
    if kind == "full":
        return cov
    if kind == "tied":
        return np.broadcast_to(cov, (K, D, D))
    if kind == "diag":
        return np.stack([np.diag(c) for c in cov])
    return np.stack([np.eye(D) * c for c in cov])  # spherical


def _stddevs(est):
    import numpy as np

    return np.sqrt(np.diagonal(_full_covariances(est), axis1=1, axis2=2))


def _names_for(est, fallback=None):
    D = int(est.n_features_in_)
    names = (getattr(est, "fit_metadata_", None) or {}).get("columns") or fallback
    if not names or len(names) != D:
        names = [f"x{j}" for j in range(D)]
    return list(names)


# ------------------------------------------------------------------ fit
def fit(
    data: Annotated[List[Path], typer.Argument(
        help="Table to read: .csv, .tsv, .txt (also .gz), .parquet or .npy (a CSV header row is "
             "detected). With --out-of-core or --scheduler: one or more files or globs.",
        show_default=False)],
    k: Annotated[str, typer.Option(
        "-k", "--k", help="Number of components: a number, or 'auto' (select among 1..10 by "
                          "--criterion), a range such as 2..8, or a list such as 2,4,8.",
        show_default=False)],
    covariance: CovOpt = "full",
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Model file to write (not overwritten without --force).",
        show_default=False)] = None,
    columns: ColumnsOpt = None,
    header: HeaderOpt = None,
    n_init: NInitOpt = 1,
    max_iter: MaxIterOpt = 100,
    tol: TolOpt = 1e-3,
    reg_covar: RegOpt = 1e-6,
    init: Annotated[str, typer.Option(
        "--init", help="Initialisation: kmeans, k-means++, random or random_from_data.")] = "kmeans",
    criterion: CriterionOpt = "bic",
    weights: WeightsOpt = None,
    float32: Annotated[bool, typer.Option("--float32", help="Compute in float32 (half the memory).")] = False,
    seed: SeedOpt = None,
    out_of_core: Annotated[bool, typer.Option(
        "--out-of-core", help="Stream the files chunk by chunk every EM iteration (exact; memory "
                              "bounded by --chunk-rows).")] = False,
    scheduler: Annotated[Optional[str], typer.Option(
        "--scheduler", help="Fit on a Dask cluster: the scheduler's address, e.g. tcp://host:8786 "
                            "(needs gmmkit[dask]).", show_default=False)] = None,
    chunk_rows: Annotated[Optional[int], typer.Option(
        "--chunk-rows", min=1, help="Rows per chunk or Dask block with --out-of-core/--scheduler.",
        show_default=False)] = None,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
    quiet_flag: QuietOpt = False,
):
    """Fit a Gaussian mixture to the numeric columns of a table and save it.

    Example: gmmkit fit data.csv -k 5 --covariance full -o model.gmm

    With -k auto (or a range such as 2..8) the number of components, and with
    --covariance all the covariance type, are chosen by BIC (see 'gmmkit select').
    Larger than memory: gmmkit fit --out-of-core 'parts/*.parquet' -k 8 -o m.gmm;
    on a cluster: gmmkit fit --scheduler tcp://host:8786 data/*.parquet -k 8 -o m.gmm.
    A progress bar shows on stderr when the fit takes more than a second.
    """
    import numpy as np

    from ._progress import FitProgress

    check_output(out, force)
    ks = parse_k(k)
    types = parse_covariance(covariance)
    if out_of_core or scheduler:
        return _fit_scaled(data, ks, types, out, columns, n_init, max_iter, tol, reg_covar, init,
                           weights, float32, seed, out_of_core, scheduler, chunk_rows, force,
                           as_json, quiet_flag)
    if len(data) != 1:
        from ..exceptions import ParameterError

        raise ParameterError(f"got {len(data)} data files; several files need --out-of-core or --scheduler")
    if chunk_rows is not None:
        from ..exceptions import ParameterError

        raise ParameterError("--chunk-rows goes with --out-of-core or --scheduler")
    data = data[0]
    X, names, w = _read_with_weights(data, columns, weights, header)
    if float32:
        X = X.astype(np.float32)
    t0 = time.perf_counter()
    selection = None
    if len(ks) == 1 and len(types) == 1:
        from .. import GaussianMixture

        with FitProgress(n_init=n_init, max_iter=max_iter, enabled=not quiet(quiet_flag)) as bar:
            est = GaussianMixture(ks[0], covariance_type=types[0], n_init=n_init, max_iter=max_iter,
                                  tol=tol, reg_covar=reg_covar, init_params=init, random_state=seed,
                                  callback=bar)
            est.fit(X, sample_weight=w)
        est.set_params(callback=None)
    else:
        res = _run_select(X, ks, types, criterion, sample_weight=w, n_init=n_init,
                          max_iter=max_iter, tol=tol, reg_covar=reg_covar, seed=seed, jobs=1,
                          quiet_flag=quiet_flag, init=init)
        est = res.best_model_
        selection = {"criterion": res.criterion, "k": ks, "covariance_types": list(types),
                     "best": res.best_params_}
    seconds = time.perf_counter() - t0
    est.fit_metadata_ = _fit_metadata(data, names, X, seed, seconds, selection)
    if out is not None:
        est.save(out, overwrite=force)
    summary = {
        "model": str(out) if out is not None else None,
        "data": str(data),
        "columns": names,
        "n_rows": int(X.shape[0]),
        "n_components": int(est.n_components),
        "covariance_type": est.covariance_type,
        "converged": bool(est.converged_),
        "n_iter": int(est.n_iter_),
        "lower_bound": float(est.lower_bound_),
        **_criteria(est, X, w),
        "weights": est.weights_,
        "means": est.means_,
        "seconds": round(seconds, 3),
        "seed": seed,
        "selection": selection,
    }
    con = report_console(summary, as_json, quiet_flag)
    if con is None:
        return
    how = f"selected by {selection['criterion'].upper()}" if selection else "fitted"
    _print_components(
        con, est, names, f"{est.n_components} components, {est.covariance_type} covariance, {how} "
                    f"on {X.shape[0]} rows of {_esc(data)}")
    state = "converged" if est.converged_ else "[yellow]did not converge[/yellow]"
    con.print(f"{state} after {est.n_iter_} iterations in {seconds:.2f} s; mean log-likelihood "
              f"{fmt(est.lower_bound_)}, BIC {fmt(summary['bic'], 6)}")
    if out is not None:
        con.print(f"model saved to {_esc(out)}")
    else:
        con.print("model not saved (add -o model.gmm)")


def _fit_scaled(data, ks, types, out, columns, n_init, max_iter, tol, reg_covar, init, weights,
                float32, seed, out_of_core, scheduler, chunk_rows, force, as_json, quiet_flag):
    """gmmkit fit --out-of-core / --scheduler: exact EM over chunks or Dask blocks."""
    import math

    from .. import GaussianMixture
    from ..exceptions import ParameterError
    from ._progress import FitProgress

    if out_of_core and scheduler:
        raise ParameterError("choose one of --out-of-core and --scheduler")
    if len(ks) != 1 or len(types) != 1:
        raise ParameterError("-k auto, ranges and several covariance types need the data in memory; "
                             "give one -k and one --covariance with --out-of-core/--scheduler")
    if weights is not None or float32:
        raise ParameterError("--weights and --float32 are not supported with --out-of-core/--scheduler")
    paths = [str(p) for p in data]
    source = paths[0] if len(paths) == 1 else paths
    cols = [c.strip() for c in columns.split(",")] if columns else None
    t0 = time.perf_counter()
    with FitProgress(n_init=n_init, max_iter=max_iter, enabled=not quiet(quiet_flag)) as bar:
        est = GaussianMixture(ks[0], covariance_type=types[0], n_init=n_init, max_iter=max_iter,
                              tol=tol, reg_covar=reg_covar, init_params=init, random_state=seed,
                              callback=bar)
        if scheduler:
            from ..dask import fit_dask, get_client, read_dask, score_dask

            client = get_client(scheduler)
            try:
                X = read_dask(source, columns=cols, chunk_rows=chunk_rows)
                fit_dask(est, X, client=client)
                ll, n = score_dask(est, X, client=client)
            finally:
                client.close()
        else:
            from ..outofcore import fit_chunks, score_chunks

            fit_chunks(est, source, columns=cols, chunk_rows=chunk_rows)
            ll, n = score_chunks(est, source, columns=cols, chunk_rows=chunk_rows)
    est.set_params(callback=None)
    seconds = time.perf_counter() - t0
    p = est._n_parameters()
    summary = {
        "model": str(out) if out is not None else None, "data": paths,
        "mode": "dask" if scheduler else "out-of-core", "n_rows": int(n),
        "n_components": int(est.n_components), "covariance_type": est.covariance_type,
        "converged": bool(est.converged_), "n_iter": int(est.n_iter_),
        "lower_bound": float(est.lower_bound_), "bic": float(-2 * ll + p * math.log(n)),
        "aic": float(-2 * ll + 2 * p), "weights": est.weights_, "means": est.means_,
        "seconds": round(seconds, 3), "seed": seed,
    }
    est.fit_metadata_ = {"data": paths, "mode": summary["mode"], "n_rows": int(n), "seed": seed,
                         "seconds": round(seconds, 3)}
    if out is not None:
        est.save(out, overwrite=force)
    con = report_console(summary, as_json, quiet_flag)
    if con is None:
        return
    names = [f"x{j}" for j in range(est.means_.shape[1])] if cols is None else cols
    _print_components(con, est, names, f"{est.n_components} components, {est.covariance_type} "
                      f"covariance, {summary['mode']} over {n} rows")
    con.print(f"{'converged' if est.converged_ else 'did not converge'} after {est.n_iter_} "
              f"iterations in {seconds:.2f} s; BIC {fmt(summary['bic'], 6)}")
    if out is not None:
        con.print(f"model saved to {_esc(out)}")


# ------------------------------------------------------------------ select
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
        from ..exceptions import ParameterError

        raise ParameterError("--jobs must be a positive number or -1")
    check_output(out, force)
    check_output(plot, force)
    ks = parse_k(k)
    types = parse_covariance(covariance)
    X, names, w = _read_with_weights(data, columns, weights, header)
    t0 = time.perf_counter()
    res = _run_select(X, ks, types, criterion, sample_weight=w, n_init=n_init, max_iter=max_iter, tol=tol,
                      reg_covar=reg_covar, seed=seed, jobs=jobs, quiet_flag=quiet_flag)
    seconds = time.perf_counter() - t0
    est = res.best_model_
    selection = {"criterion": res.criterion, "k": ks, "covariance_types": list(types),
                 "best": res.best_params_}
    if out is not None:
        est.fit_metadata_ = _fit_metadata(data, names, X, seed, seconds, selection)
        est.save(out, overwrite=force)
    if plot is not None:
        res.plot(path=os.fspath(plot))
    table = res.table
    if as_json:
        print_json({
            "criterion": res.criterion, "best": res.best_params_,
            "model": str(out) if out is not None else None,
            "plot": str(plot) if plot is not None else None,
            "columns": names, "n_rows": int(X.shape[0]), "seconds": round(seconds, 3),
            "table": table.to_dict(orient="records"),
        })
        return
    _print_selection(res, data, X.shape[0], seconds)  # the result itself: shown even with -q
    if quiet(quiet_flag):
        return
    con = stdout_console()
    if out is not None:
        con.print(f"best model saved to {_esc(out)}")
    if plot is not None:
        con.print(f"plot saved to {_esc(plot)}")


def _print_selection(res, data, n_rows, seconds):
    import math

    from rich.table import Table

    t = res.table
    crit = res.criterion
    types = list(dict.fromkeys(t["covariance_type"]))
    con = stdout_console()
    con.print(f"{crit.upper()} on {n_rows} rows of {_esc(data)} (lower is better)", soft_wrap=True)
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


# ------------------------------------------------------------------ predict
def _unique(existing, name):
    existing = set(existing)
    while name in existing:
        name = f"gmm_{name}"
    return name


def _data_for_model(est, model, data, columns, header=None):
    """Read the columns the model was fitted on (by name when the data has them)."""
    from ..exceptions import DataError
    from ..tabular import read_table

    D = int(est.n_features_in_)
    fitted = (getattr(est, "fit_metadata_", None) or {}).get("columns")
    if columns is None and fitted:
        frame, X, names = read_table(data, header=header)
        if all(c in frame.columns for c in fitted):
            frame, X, names = read_table(data, fitted, header=header)
    else:
        frame, X, names = read_table(data, columns, header=header)
    if X.shape[1] != D:
        expected = f" ({', '.join(fitted)})" if fitted else ""
        raise DataError(
            f"{model} expects {D} columns{expected} but {data} gives {X.shape[1]} "
            f"({', '.join(names)}); choose them with --columns"
        )
    return frame, X, names


def predict(
    model: ModelArg,
    data: DataArg,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Output table (.csv, .parquet, .npy); default: CSV on stdout.",
        show_default=False)] = None,
    columns: ColumnsOpt = None,
    header: HeaderOpt = None,
    log_density: Annotated[bool, typer.Option(
        "--log-density", help="Write each row's log-density instead of the component "
                              "probabilities.")] = False,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
    quiet_flag: QuietOpt = False,
):
    """Label every row of a table with its most likely component.

    Example: gmmkit predict model.gmm data.csv -o out.csv

    The output holds the original columns, 'label', and one probability column
    per component (p_0, p_1, ...), or 'log_density' with --log-density. The
    columns the model was fitted on are found by name when present.
    """
    import numpy as np

    from .. import load
    from ..tabular import write_table

    check_output(out, force)
    est = load(model)
    frame, X, names = _data_for_model(est, model, data, columns, header)
    labels = est.predict(X)
    result = frame.copy()
    label_col = _unique(result.columns, "label")
    result[label_col] = labels
    if log_density:
        dens = est.score_samples(X)
        result[_unique(result.columns, "log_density")] = dens
    else:
        proba = est.predict_proba(X)
        for j in range(proba.shape[1]):
            result[_unique(result.columns, f"p_{j}")] = proba[:, j]
    uniq, counts = np.unique(labels, return_counts=True)
    summary = {
        "model": str(model), "data": str(data), "output": str(out) if out is not None else None,
        "columns": names, "n_rows": int(X.shape[0]),
        "counts": {str(int(u)): int(c) for u, c in zip(uniq, counts)},
        "mean_log_density": float(est.score(X)),
    }
    if out is not None:
        write_table(result, out, overwrite=force)
    if as_json:
        if out is None:
            summary["labels"] = labels
        print_json(summary)
        return
    if out is None:
        result.to_csv(sys.stdout, index=False)
        return
    if not quiet(quiet_flag):
        counts_text = ", ".join(f"{k}: {v}" for k, v in summary["counts"].items())
        stdout_console().print(f"{X.shape[0]} rows labelled ({counts_text}); wrote {_esc(out)}")


# ------------------------------------------------------------------ info
def info(
    model: ModelArg,
    as_json: JsonOpt = False,
):
    """Show a model: weights, means, covariance summary and fit metadata.

    Example: gmmkit info model.gmm
    """
    import numpy as np

    from .. import load
    from ..io import load_arrays

    est = load(model)
    _, meta = load_arrays(model)
    extra = meta.get("extra") or {}
    names = _names_for(est)
    covs = _full_covariances(est)
    logdet = np.linalg.slogdet(covs)[1]
    params = meta.get("params", {})
    if as_json:
        print_json({
            "model": str(model), "kind": meta.get("kind"), "gmmkit_version": meta.get("gmmkit_version"),
            "format_version": meta.get("format_version"),
            "n_components": int(est.means_.shape[0]), "n_features": int(est.n_features_in_),
            "covariance_type": est.covariance_type, "columns": names,
            "converged": bool(est.converged_), "n_iter": int(est.n_iter_),
            "lower_bound": float(est.lower_bound_), "params": params,
            "weights": est.weights_, "means": est.means_, "stddevs": _stddevs(est),
            "log_det_covariance": logdet, "covariances": est.covariances_, "fit": extra,
        })
        return
    from rich.table import Table

    con = stdout_console()
    _print_components(
        con, est, names, f"{_esc(model)}: {est.means_.shape[0]} components, {est.covariance_type} "
                         f"covariance, {est.n_features_in_} features")
    cov_table = Table(title="covariance summary", title_justify="left")
    for col in ("k", "log det Σ", "smallest sd", "largest sd", "largest |corr|"):
        cov_table.add_column(col, justify="right")
    sd = _stddevs(est)
    for k in range(covs.shape[0]):
        corr = covs[k] / np.outer(sd[k], sd[k])
        off = np.abs(corr[~np.eye(corr.shape[0], dtype=bool)])
        cov_table.add_row(str(k), fmt(logdet[k]), fmt(sd[k].min()), fmt(sd[k].max()),
                          f"{off.max():.3f}" if off.size else "-")
    con.print(cov_table)
    facts = Table(show_header=False, title="fit", title_justify="left")
    facts.add_column(style="bold")
    facts.add_column()
    rows = [
        ("converged", f"{est.converged_} after {est.n_iter_} iterations"),
        ("mean log-likelihood", fmt(est.lower_bound_, 6)),
        ("parameters", ", ".join(f"{k}={params[k]}" for k in
                                 ("n_init", "max_iter", "tol", "reg_covar", "init_params", "random_state")
                                 if k in params)),
    ]
    for key in ("data", "n_rows", "seconds", "seed", "created"):
        if extra.get(key) is not None:
            rows.append((key, _esc(extra[key])))
    if extra.get("selection"):
        sel = extra["selection"]
        rows.append(("selection", f"{str(sel.get('criterion', '')).upper()} over K={sel.get('k')} "
                                  f"and {', '.join(sel.get('covariance_types', []))}"))
    rows.append(("written by", f"gmmkit {meta.get('gmmkit_version')} (model format "
                               f"{meta.get('format_version')})"))
    for key, value in rows:
        facts.add_row(key, value)
    con.print(facts)


# ------------------------------------------------------------------ sample
def sample(
    model: ModelArg,
    n: Annotated[int, typer.Option("-n", "--n-samples", min=1, help="Number of rows to draw.")] = 1000,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Output table (.csv, .parquet, .npy); default: CSV on stdout.",
        show_default=False)] = None,
    labels: Annotated[bool, typer.Option(
        "--labels/--no-labels", help="Add a 'component' column saying which component drew each row.")] = True,
    seed: SeedOpt = None,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
    quiet_flag: QuietOpt = False,
):
    """Draw random rows from a model (in random order).

    Example: gmmkit sample model.gmm -n 1000 -o samples.csv --seed 0
    """
    import numpy as np
    import pandas as pd

    from .. import load
    from ..tabular import write_table

    check_output(out, force)
    est = load(model)
    est.set_params(random_state=seed)
    X, y = est.sample(n)
    order = np.random.default_rng(seed).permutation(n)
    X, y = X[order], y[order]
    names = _names_for(est)
    frame = pd.DataFrame(X, columns=names)
    if labels:
        frame[_unique(frame.columns, "component")] = y
    if out is not None:
        write_table(frame, out, overwrite=force)
    counts = np.bincount(y, minlength=est.means_.shape[0])
    if as_json:
        doc = {"model": str(model), "output": str(out) if out is not None else None,
               "n_samples": int(n), "columns": names, "counts": counts, "seed": seed}
        if out is None:
            doc["samples"] = X
            doc["components"] = y
        print_json(doc)
        return
    if out is None:
        frame.to_csv(sys.stdout, index=False)
        return
    if not quiet(quiet_flag):
        stdout_console().print(f"drew {n} rows ({', '.join(map(str, counts))} per component); "
                               f"wrote {_esc(out)}")


def register(app):
    """Add the generic commands to a typer app."""
    for func in (fit, predict, select, info, sample):
        app.command(func.__name__)(func)
