"""gmmkit fit --out-of-core and --scheduler, against the in-memory fit."""
import json

import numpy as np
import pytest
from typer.testing import CliRunner

import gmmkit
from tests.helpers import run_ok


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (3000, 3)), rng.normal(5, 1, (3000, 3))])
    rng.shuffle(X)
    folder = tmp_path_factory.mktemp("parts")
    for i, chunk in enumerate(np.array_split(X, 3)):
        np.save(folder / f"part{i}.npy", chunk)
    return folder, X


def _in_memory(X):
    return gmmkit.GaussianMixture(2, random_state=0).fit(X)


def test_out_of_core_equals_in_memory(cli, parts, tmp_path):
    folder, X = parts
    model = tmp_path / "m.gmm"
    res = run_ok(CliRunner(), cli, ["fit", "--out-of-core", str(folder / "part*.npy"), "-k", "2",
                                    "--seed", "0", "-o", str(model), "--json"])
    summary = json.loads(res.stdout)
    assert summary["n_rows"] == len(X) and summary["mode"] == "out-of-core"
    ref = _in_memory(X)
    np.testing.assert_allclose(gmmkit.load(model).means_, ref.means_, rtol=1e-8)
    np.testing.assert_allclose(summary["bic"], ref.bic(X), rtol=1e-9)


def test_out_of_core_csv_with_empty_cells_equals_in_memory(cli, parts, tmp_path):
    import pandas as pd

    _, X = parts
    X = X.copy()
    X[np.random.default_rng(1).uniform(size=X.shape) < 0.1] = np.nan
    X = X[~np.isnan(X).all(axis=1)]
    pd.DataFrame(X, columns=["a", "b", "c"]).to_csv(tmp_path / "holes.csv", index=False)
    res = run_ok(CliRunner(), cli, ["fit", "--out-of-core", str(tmp_path / "holes.csv"), "-k", "2",
                                    "--seed", "0", "-o", str(tmp_path / "m.gmm"), "--json"])
    summary = json.loads(res.stdout)
    ref = _in_memory(X)
    np.testing.assert_allclose(gmmkit.load(tmp_path / "m.gmm").means_, ref.means_, rtol=1e-8)
    np.testing.assert_allclose(summary["bic"], ref.bic(X), rtol=1e-9)


def test_scheduler_address(cli, parts, tmp_path):
    distributed = pytest.importorskip("distributed")
    folder, X = parts
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        res = run_ok(CliRunner(), cli, ["fit", "--scheduler", cluster.scheduler_address,
                                        *[str(p) for p in sorted(folder.glob("part*.npy"))],
                                        "-k", "2", "--seed", "0", "--json"])
    summary = json.loads(res.stdout)
    assert summary["mode"] == "dask" and summary["n_rows"] == len(X)
    np.testing.assert_allclose(summary["means"], _in_memory(X).means_, rtol=1e-8)


def test_scaled_fit_refuses_what_it_cannot_do(cli, parts):
    folder, _ = parts
    res = CliRunner().invoke(cli, ["fit", "--out-of-core", str(folder / "part0.npy"), "-k", "auto"])
    assert res.exit_code == 2 and "need the data in memory" in res.stderr
