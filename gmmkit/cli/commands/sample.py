"""``gmmkit sample``: draw random rows from a model."""
from typing import Annotated

import typer

from ..kit import check_output
from .common import names_for, print_table_result, unique
from .options import ForceOpt, JsonOpt, ModelArg, OutTableOpt, QuietOpt, SeedOpt


def sample(
    model: ModelArg,
    n: Annotated[int, typer.Option("-n", "--n-samples", min=1, max=100_000_000,
                                        help="Number of rows to draw (at most 1e8).")] = 1000,
    out: OutTableOpt = None,
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

    from ... import load
    from ...tabular import write_table

    check_output(out, force)
    est = load(model)
    est.set_params(random_state=seed)
    X, y = est.sample(n)
    order = np.random.default_rng(seed).permutation(n)
    X, y = X[order], y[order]
    names = names_for(est)
    frame = pd.DataFrame(X, columns=names)
    if labels:
        frame[unique(frame.columns, "component")] = y
    if out is not None:
        write_table(frame, out, overwrite=force)
    counts = np.bincount(y, minlength=est.means_.shape[0])
    doc = {"model": str(model), "output": str(out) if out is not None else None,
           "n_samples": int(n), "columns": names, "counts": counts, "seed": seed}
    print_table_result(frame, out, doc, as_json=as_json, quiet=quiet_flag,
                       inline={"samples": X, "components": y},
                       message=f"drew {n} rows ({', '.join(map(str, counts))} per component)")
