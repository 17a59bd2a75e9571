"""``gmmkit info``: show a model file."""
from ..kit import escape, fmt, print_json, stdout_console
from .common import names_for, print_components, stddevs
from .options import JsonOpt, ModelArg


def info(
    model: ModelArg,
    as_json: JsonOpt = False,
):
    """Show a model: weights, means, covariance summary and fit metadata.

    Example: gmmkit info model.gmm
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
