"""``gmmkit fit``: fit a mixture to a table (in memory, out of core or on Dask) and save it."""
import time
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from ..kit import (
    FitProgress,
    check_output,
    escape,
    fmt,
    is_quiet,
    parse_k,
    print_json,
    stdout_console,
)
from .common import fit_metadata, load_kernels, print_components, read_with_weights, run_select, warn_flat
from .options import (
    ColumnsOpt,
    CovOpt,
    CriterionOpt,
    ForceOpt,
    HeaderOpt,
    InitOpt,
    JsonOpt,
    MaxIterOpt,
    NInitOpt,
    QuietOpt,
    RegOpt,
    SeedOpt,
    TolOpt,
    WeightsOpt,
    covariance_types,
)


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
    init: InitOpt = "kmeans",
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
    merge: Annotated[bool, typer.Option(
        "--merge", help="Also merge the components into clusters by entropy (mclust's clustCombi, "
                        "Baudry et al. 2010): the merge sequence, and the number of clusters at the "
                        "entropy's elbow.")] = False,
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
    Clusters made of several Gaussians: gmmkit fit data.csv -k auto --merge.
    """
    from ... import GaussianMixture
    from ...exceptions import ParameterError

    check_output(out, force)
    ks = parse_k(k)
    types = covariance_types(covariance)
    scaled = bool(out_of_core or scheduler)
    _check_modes(data, ks, types, weights, float32, chunk_rows, out_of_core, scheduler)
    if merge and scaled:
        raise ParameterError("--merge needs the data in memory (not --out-of-core/--scheduler)")
    select = len(ks) > 1 or len(types) > 1
    est = None if select else GaussianMixture(
        ks[0], covariance_type=types[0], n_init=n_init, max_iter=max_iter, tol=tol,
        reg_covar=reg_covar, init_params=init, random_state=seed)
    t0 = time.perf_counter()
    selection = startup = None
    if scaled:
        paths = [str(p) for p in data]
        cols = [c.strip() for c in columns.split(",")] if columns else None
        with FitProgress(n_init=n_init, max_iter=max_iter, enabled=not is_quiet(quiet_flag)) as bar:
            est.set_params(callback=bar)
            crit, n_rows = _fit_files(est, paths, columns=cols, chunk_rows=chunk_rows,
                                      scheduler=scheduler, header=header)
        est.set_params(callback=None)
        seconds = time.perf_counter() - t0
        mode = "dask" if scheduler else "out-of-core"
        names = list(getattr(est, "feature_names_in_", [f"x{j}" for j in range(est.means_.shape[1])]))
        est.fit_metadata_ = {"data": paths, "mode": mode, "n_rows": int(n_rows), "seed": seed,
                             "seconds": round(seconds, 3), "columns": names}
        shown = {"data": paths, "mode": mode}
        heading = f"covariance, {mode} over {n_rows} rows"
    else:
        if len(data) != 1:
            raise ParameterError(f"got {len(data)} data files; several files need --out-of-core "
                                 "or --scheduler")
        data = data[0]
        X, names, w = read_with_weights(data, columns, weights, header)
        if float32:
            from ..._validation import as_float32

            X = as_float32(X, names)
        startup = load_kernels(X, types, init)
        t0 = time.perf_counter()  # the fit's time, not the reading's nor the start-up's
        if select:
            res = run_select(X, ks, types, criterion, sample_weight=w, n_init=n_init,
                             max_iter=max_iter, tol=tol, reg_covar=reg_covar, seed=seed, jobs=1,
                             quiet=quiet_flag, init=init)
            est = res.best_model_
            selection = {"criterion": res.criterion, "k": ks, "covariance_types": list(types),
                         "best": res.best_params_}
        else:
            with FitProgress(n_init=n_init, max_iter=max_iter, enabled=not is_quiet(quiet_flag)) as bar:
                est.set_params(callback=bar)
                est.fit(X, sample_weight=w)
            est.set_params(callback=None)
        seconds = time.perf_counter() - t0
        n_rows = int(X.shape[0])
        crit = {"bic": float(est.bic(X, sample_weight=w)), "aic": float(est.aic(X, sample_weight=w))}
        est.fit_metadata_ = fit_metadata(data, names, X, seed, seconds, selection)
        if merge:
            merged = merge_summary(est, X)
            est.fit_metadata_["merge"] = {k: merged[k] for k in ("n_clusters", "clusters")}
        warn_flat(est, X, names)
        shown = {"data": str(data), "columns": names}
        how = f"selected by {selection['criterion'].upper()}" if selection else "fitted"
        heading = f"covariance, {how} on {n_rows} rows of {escape(data)}"
    if out is not None:
        est.save(out, overwrite=force)
    summary = {
        "model": str(out) if out is not None else None, **shown, "n_rows": int(n_rows),
        "n_components": int(est.n_components), "covariance_type": est.covariance_type,
        "converged": bool(est.converged_), "n_iter": int(est.n_iter_),
        "lower_bound": float(est.lower_bound_), **crit, "weights": est.weights_,
        "means": est.means_, "seconds": round(seconds, 3), "seed": seed,
    }
    if startup is not None:
        summary["startup_seconds"] = round(startup, 3)
    if not scaled:
        summary["selection"] = selection
    if merge:
        summary["merge"] = merged
    if as_json:
        print_json(summary)
        return
    if is_quiet(quiet_flag):
        return
    con = stdout_console()
    print_components(con, est, names, f"{est.n_components} components, {est.covariance_type} {heading}")
    state = "converged" if est.converged_ else "[yellow]did not converge[/yellow]"
    ll = "" if scaled else f"mean log-likelihood {fmt(est.lower_bound_)}, "
    took = f"{seconds:.2f} s" + ("" if startup is None else f" (+{startup:.2f} s start-up)")
    con.print(f"{state} after {est.n_iter_} iterations in {took}; {ll}BIC {fmt(crit['bic'], 6)}")
    if merge:
        _print_merge(con, merged)
    con.print(f"model saved to {escape(out)}" if out is not None else "model not saved (add -o model.gmm)")


def merge_summary(est, X):
    """:func:`gmmkit.merge.merge_components` as the summary shows it."""
    import numpy as np

    from ...merge import merge_components

    res = merge_components(est, X)
    return {"n_clusters": res.n_clusters, "clusters": res.components(res.n_clusters),
            "labels_counts": [int(c) for c in np.bincount(res.labels(res.n_clusters), minlength=res.n_clusters)],
            "sequence": [{"n_clusters": K, "entropy": float(res.entropy[K - 1]), "clusters": res.components(K)}
                         for K in range(res.max_clusters, 0, -1)]}


def _print_merge(con, merged):
    from ..kit import text_table

    rows = [[r["n_clusters"], fmt(r["entropy"], 6), " | ".join("+".join(map(str, g)) for g in r["clusters"])]
            for r in merged["sequence"]]
    con.print("components merged by entropy (mclust's clustCombi):")
    con.print(escape(text_table(rows, ["clusters", "entropy", "components in each cluster"])), soft_wrap=True)
    groups = " | ".join("+".join(map(str, g)) for g in merged["clusters"])
    con.print(f"elbow of the entropy: {merged['n_clusters']} clusters ({groups}; "
              f"{', '.join(map(str, merged['labels_counts']))} rows)")


def _check_modes(data, ks, types, weights, float32, chunk_rows, out_of_core, scheduler):
    """The option combinations that --out-of-core / --scheduler allow."""
    from ...exceptions import ParameterError

    if not (out_of_core or scheduler):
        if chunk_rows is not None:
            raise ParameterError("--chunk-rows goes with --out-of-core or --scheduler")
        return
    if out_of_core and scheduler:
        raise ParameterError("choose one of --out-of-core and --scheduler")
    if len(ks) != 1 or len(types) != 1:
        raise ParameterError("-k auto, ranges and several covariance types need the data in memory; "
                             "give one -k and one --covariance with --out-of-core/--scheduler")
    if weights is not None or float32:
        raise ParameterError("--weights and --float32 are not supported with --out-of-core/--scheduler")


def _fit_files(est, paths, *, columns, chunk_rows, scheduler, header=None):
    """Fit ``est`` on files, chunk by chunk (out of core) or on a Dask cluster; returns the
    criteria (BIC, AIC) of the fitted model over all rows, and the number of rows. The
    columns are those the in-memory reader picks (a text label column is left out)."""
    from ...selection import criteria
    from ...tables import feature_columns

    source = paths[0] if len(paths) == 1 else paths
    columns = feature_columns(source, columns, header=header)
    if scheduler:
        from ...dask import fit_dask, get_client, read_dask, score_dask

        client = get_client(scheduler)
        try:
            X = read_dask(source, columns=columns, chunk_rows=chunk_rows, header=header)
            fit_dask(est, X, client=client, feature_names=columns)
            ll, n = score_dask(est, X, client=client)
        finally:
            client.close()
    else:
        from ...outofcore import fit_chunks, score_chunks

        fit_chunks(est, source, columns=columns, chunk_rows=chunk_rows, header=header)
        ll, n = score_chunks(est, source, columns=columns, chunk_rows=chunk_rows, header=header)
    return criteria(est, ll, n), n
