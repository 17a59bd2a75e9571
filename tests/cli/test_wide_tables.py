"""(issue 23) A model of 13+ features was printed cut at 80 columns ('feat…', '(+7 more)')."""
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from gmmkit.cli import app


@pytest.mark.parametrize("n_features, k", [(15, 3), (14, 7)])
def test_info_of_a_wide_model_shows_every_value_within_80_columns(tmp_path, n_features, k):
    rng = np.random.default_rng(0)
    names = [f"feature_{j}" for j in range(n_features)]
    pd.DataFrame(rng.normal(size=(400, n_features)), columns=names).to_csv(tmp_path / "w.csv", index=False)
    runner = CliRunner(env={"COLUMNS": "80"})
    fit = runner.invoke(app, ["fit", str(tmp_path / "w.csv"), "-k", str(k), "-c", "diag", "--seed", "0",
                              "-o", str(tmp_path / "w.gmm"), "-q"])
    assert fit.exit_code == 0, fit.output
    res = runner.invoke(app, ["info", str(tmp_path / "w.gmm")])
    assert res.exit_code == 0, res.output
    shown = [line for line in res.stdout.splitlines() if "feature_" in line or "k=" in line]
    assert shown and not any("…" in line for line in shown) and "more)" not in res.stdout
    assert max(len(line) for line in shown) <= 80
    for name in names:
        assert f" {name} " in res.stdout
    for j in range(k):
        assert f"k={j}" in res.stdout
