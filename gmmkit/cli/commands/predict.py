"""``gmmkit predict``: label every row of a table with its most likely component."""
from typing import Annotated

import typer

from ..kit import check_output
from .common import data_for_model, print_table_result, unique
from .options import ColumnsOpt, DataArg, ForceOpt, HeaderOpt, JsonOpt, ModelArg, OutTableOpt, QuietOpt


def predict(
    model: ModelArg,
    data: DataArg,
    out: OutTableOpt = None,
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

    from ... import load
    from ...tabular import write_table

    check_output(out, force)
    est = load(model)
    frame, X, names = data_for_model(est, model, data, columns, header)
    labels = est.predict(X)
    result = frame.copy()
    result[unique(result.columns, "label")] = labels
    if log_density:
        result[unique(result.columns, "log_density")] = est.score_samples(X)
    else:
        proba = est.predict_proba(X)
        for j in range(proba.shape[1]):
            result[unique(result.columns, f"p_{j}")] = proba[:, j]
    uniq, counts = np.unique(labels, return_counts=True)
    summary = {
        "model": str(model), "data": str(data), "output": str(out) if out is not None else None,
        "columns": names, "n_rows": int(X.shape[0]),
        "counts": {str(int(u)): int(c) for u, c in zip(uniq, counts)},
        "mean_log_density": float(est.score(X)),
    }
    if out is not None:
        write_table(result, out, overwrite=force)
    counts_text = ", ".join(f"{k}: {v}" for k, v in summary["counts"].items())
    print_table_result(result, out, summary, as_json=as_json, quiet=quiet_flag, inline={"labels": labels},
                       message=f"{X.shape[0]} rows labelled ({counts_text})")
