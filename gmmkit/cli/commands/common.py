"""Reading tables for a model and printing models: shared by the generic commands."""
import sys

from ..kit import escape, fmt, is_quiet, note, print_json, stdout_console, warn


def fit_metadata(data, names, X, seed, seconds, selection=None):
    """The ``fit_metadata_`` a fitted model is saved with."""
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


def read_with_weights(data, columns, weights, header=None):
    """read_table, plus an optional frequency-weight column taken out of the features."""
    import numpy as np
    import pandas as pd

    from ...exceptions import DataError
    from ...tabular import read_table

    frame, X, names = read_table(data, columns, header=header)
    note_missing(data, X, names)
    if columns is None:
        note_unused(data, frame, names, weights)
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


def data_for_model(est, model, data, columns, header=None):
    """Read the columns the model was fitted on (by name when the data has them)."""
    from ...exceptions import DataError
    from ...tabular import read_table

    D = int(est.n_features_in_)
    fitted = (getattr(est, "fit_metadata_", None) or {}).get("columns")
    if fitted is None and hasattr(est, "feature_names_in_"):
        fitted = list(est.feature_names_in_)
    if fitted is not None and list(fitted) == [f"x{j}" for j in range(D)]:
        fitted = None  # the model's columns had no names: match by position
    if columns is None and fitted:
        frame, X, names = read_table(data, header=header)
        if all(c in frame.columns for c in fitted):
            frame, X, names = read_table(data, fitted, header=header)
        elif X.shape[1] == D and not all(str(c).startswith("x") for c in frame.columns):
            # named columns, as many as the model's but not these: never match them by position
            missing = [c for c in fitted if c not in frame.columns]
            raise DataError(f"{data} has no column(s) {', '.join(map(str, missing))} that {model} was "
                            "fitted on; choose the columns with --columns")
    else:
        frame, X, names = read_table(data, columns, header=header)
    if X.shape[1] != D:
        expected = f" ({', '.join(fitted)})" if fitted else ""
        raise DataError(
            f"{model} expects {D} columns{expected} but {data} gives {X.shape[1]} "
            f"({', '.join(names)}); choose them with --columns"
        )
    note_missing(data, X, names)
    return frame, X, names


def warn_flat(est, X, names):
    """Warn when a component has no spread in a column (all its rows share one value, its variance
    is reg_covar alone) or a column is constant: the density there, the log-likelihood and the
    BIC are then set by reg_covar, not by the data."""
    import numpy as np

    from ...covariance import variances

    spread = np.nanvar(X, axis=0)
    floor = 2.0 * float(est.reg_covar)
    for j in np.flatnonzero(spread <= floor):
        warn(f"column {names[j]} is constant: its variance is reg_covar ({est.reg_covar:g}) alone, which then "
             "sets the log-likelihood and the BIC; leave it out with --columns")
    var = variances(est)
    flat = [(k, j) for k in range(var.shape[0]) for j in range(var.shape[1])
            if var[k, j] <= floor and spread[j] > 100 * floor]
    if flat:
        where = ", ".join(f"{k} in {names[j]} (at {est.means_[k, j]:.6g})" for k, j in flat[:6])
        warn(f"component(s) sit on one value: {where}{' ...' if len(flat) > 6 else ''}; their variance is "
             "reg_covar alone, so the log-likelihood and the BIC reward them without bound (discrete or "
             "repeated values?): use fewer components, a larger --reg-covar, or other columns")


def note_unused(data, frame, names, weights=None):
    """Say which numeric columns were left out as row identifiers (text columns, the
    usual labels, are left out without a word)."""
    from ...tables.columns import identifier_columns

    ids = [c for c in identifier_columns(frame) if c not in names and c != weights]
    if ids:
        note(f"{data}: not used as features: {', '.join(map(str, ids))} (row identifiers); "
             "choose the columns with --columns")


def note_missing(data, X, names):
    """Say in one line how many rows have missing values (empty, NA, n/a...) and in which
    columns: they are used through their observed columns, never silently dropped or filled."""
    import numpy as np

    nan = np.isnan(X)
    rows = int(nan.any(axis=1).sum())
    if rows:
        per_col = nan.sum(axis=0)
        cols = ", ".join(f"{names[j]}: {int(per_col[j])}" for j in np.flatnonzero(per_col))
        have = "row has" if rows == 1 else "rows have"
        note(f"{data}: {rows} of {X.shape[0]} {have} missing values ({cols}); "
             "they are used through their observed columns (missing values are integrated out, not imputed)")


def unique(existing, name):
    """``name``, prefixed with ``gmm_`` until no column of ``existing`` has it."""
    existing = set(existing)
    while name in existing:
        name = f"gmm_{name}"
    return name


def names_for(est, fallback=None):
    """The model's column names (saved with it), else ``fallback``, else x0, x1, ..."""
    D = int(est.n_features_in_)
    names = (getattr(est, "fit_metadata_", None) or {}).get("columns") or fallback
    if not names or len(names) != D:
        names = [f"x{j}" for j in range(D)]
    return list(names)


def stddevs(est):
    """Every component's standard deviation per feature, (K, D)."""
    import numpy as np

    from ...covariance import variances

    return np.sqrt(variances(est))


def print_components(con, est, names, heading):
    """A heading line, then every component's weight and every feature's mean ± sd.

    One row per component while all features fit the console's width; otherwise (wide
    tables) one row per feature and one column per component, in as many blocks of
    components as the width needs, so no value is cut.
    """
    from rich.table import Table

    con.print(heading, soft_wrap=True)
    sd = stddevs(est)
    K, D = est.means_.shape
    cells = [[f"{fmt(est.means_[k, j])} ± {fmt(sd[k, j], 3)}" for j in range(D)] for k in range(K)]
    cell_w = max(len(c) for row in cells for c in row) + 3
    label_w = min(max(len(str(n)) for n in names), 24) + 3
    if 16 + D * max(cell_w, min(label_w, 14)) <= con.width:
        table = Table()
        table.add_column("k", justify="right")
        table.add_column("weight", justify="right")
        for j in range(D):
            table.add_column(f"{escape(names[j])}\nmean ± sd", justify="right")
        for k in range(K):
            table.add_row(str(k), f"{est.weights_[k]:.3f}", *cells[k])
        con.print(table)
        return
    per = max(1, (con.width - label_w - 4) // cell_w)
    for lo in range(0, K, per):
        ks = range(lo, min(K, lo + per))
        table = Table()
        table.add_column("feature", overflow="fold")
        for k in ks:
            table.add_column(f"k={k}\nweight {est.weights_[k]:.3f}\nmean ± sd", justify="right", no_wrap=True)
        for j in range(D):
            table.add_row(escape(names[j]), *[cells[k][j] for k in ks])
        con.print(table)


def run_select(X, ks, types, criterion, *, sample_weight=None, n_init, max_iter, tol, reg_covar,
               seed, jobs, quiet, init="kmeans"):
    """:func:`gmmkit.select` behind a spinner."""
    import gmmkit

    from ..kit import Spinner, is_quiet

    criterion = criterion.lower()
    n = len(ks) * len(types)
    with Spinner(f"fitting {n} candidate models ({criterion.upper()})", enabled=not is_quiet(quiet)):
        return gmmkit.select(X, n_components=ks, covariance_types=types, criterion=criterion,
                             n_init=n_init, random_state=seed, n_jobs=jobs,
                             sample_weight=sample_weight,
                             max_iter=max_iter, tol=tol, reg_covar=reg_covar, init_params=init)


def print_table_result(frame, out, doc, *, as_json, quiet, message, inline=None):
    """What predict and sample print: with --json the summary ``doc`` (plus ``inline``, the
    result itself, when no -o file holds it); without -o the table as CSV on stdout; else
    ``message`` and the file written."""
    if as_json:
        print_json({**doc, **(inline or {})} if out is None else doc)
    elif out is None:
        frame.to_csv(sys.stdout, index=False)
    elif not is_quiet(quiet):
        stdout_console().print(f"{message}; wrote {escape(out)}")


def load_kernels(X, covariance_types, init="kmeans"):
    """Fit each covariance type once on a tiny random table of X's width and dtype.

    A fresh process pays once for importing the start's k-means and loading (on the
    first run, compiling) the Numba kernels; doing it here keeps that start-up out of
    the fit time a command reports. Returns the seconds it took."""
    import time
    import warnings

    import numpy as np

    from ...mixture import GaussianMixture

    t0 = time.perf_counter()
    tiny = np.random.default_rng(0).standard_normal((24, X.shape[1])).astype(X.dtype)
    tiny[12:] += 3.0
    for cov in covariance_types:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                GaussianMixture(2, covariance_type=cov, max_iter=2, init_params=init,
                                random_state=0).fit(tiny)
            except Exception:  # noqa: BLE001 - only a warm-up: the real fit reports problems
                pass
    return time.perf_counter() - t0
