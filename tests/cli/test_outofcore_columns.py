"""`gmmkit fit --out-of-core` picks the columns the in-memory fit picks (a text label column is
left out), keeps their names, and a model fitted out of core predicts by name."""
import numpy as np
import pandas as pd
from typer.testing import CliRunner

import gmmkit
from tests.helpers import run_ok


def test_out_of_core_fit_of_iris_equals_in_memory(cli, iris, tmp_path):
    runner = CliRunner()
    mem, ooc = tmp_path / "mem.gmm", tmp_path / "ooc.gmm"
    run_ok(runner, cli, ["fit", iris, "-k", "3", "--seed", "0", "-o", mem, "-q"])
    run_ok(runner, cli, ["fit", "--out-of-core", iris, "-k", "3", "--seed", "0", "-o", ooc, "-q",
                         "--chunk-rows", "40"])
    a, b = gmmkit.load(mem), gmmkit.load(ooc)
    assert list(b.feature_names_in_) == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    np.testing.assert_allclose(b.means_, a.means_, rtol=1e-8)
    # predicting a table whose columns come in another order matches them by name
    shuffled = tmp_path / "shuffled.csv"
    frame = pd.read_csv(iris)
    frame[["species", "petal_width", "sepal_length", "petal_length", "sepal_width"]].to_csv(shuffled, index=False)
    out_a, out_b = tmp_path / "a.csv", tmp_path / "b.csv"
    run_ok(runner, cli, ["predict", mem, iris, "-o", out_a])
    run_ok(runner, cli, ["predict", ooc, shuffled, "-o", out_b])
    la, lb = pd.read_csv(out_a), pd.read_csv(out_b)
    col = "label"
    np.testing.assert_array_equal(la[col], lb[col])
