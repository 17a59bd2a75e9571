"""gmmkit.select: the table, the winner, determinism across n_jobs, the plot."""
import numpy as np
import pandas as pd
import pytest

import gmmkit
from gmmkit.exceptions import ParameterError
from tests.helpers import make_blobs


@pytest.fixture
def X(rng):
    return make_blobs(rng, n=600, d=2, k=3, spread=6.0)


def test_table_and_winner(X):
    res = gmmkit.select(X, n_components=range(1, 6), covariance_types=("full", "diag"), random_state=0)
    t = res.table
    assert len(t) == 10 and t["selected"].sum() == 1
    for col in ("log_likelihood", "n_parameters", "bic", "aic", "icl", "converged", "n_iter", "seconds"):
        assert col in t
    assert res.best_params_["n_components"] == 3
    win = t[t.selected].iloc[0]
    assert win["bic"] == t["bic"].min()
    # BIC in the table is the estimator's own BIC
    assert res.best_model_.bic(X) == pytest.approx(win["bic"], rel=1e-9)
    # ICL >= BIC, equal for K=1
    assert np.all(t["icl"] >= t["bic"] - 1e-9)
    np.testing.assert_allclose(t[t.n_components == 1]["icl"], t[t.n_components == 1]["bic"])


def test_same_table_for_any_n_jobs(X):
    seen = []
    a = gmmkit.select(X, range(1, 5), "sklearn", random_state=3, n_jobs=1,
                      callback=lambda done, total, row: seen.append((done, total))).table
    assert seen[-1] == (16, 16) and len(seen) == 16
    b = gmmkit.select(X, range(1, 5), "sklearn", random_state=3, n_jobs=2).table
    pd.testing.assert_frame_equal(a.drop(columns="seconds"), b.drop(columns="seconds"))


def test_criteria_and_errors(X):
    aic = gmmkit.select(X, range(1, 4), ("full",), criterion="aic", random_state=0)
    assert aic.table.loc[aic.table.selected, "aic"].iloc[0] == aic.table["aic"].min()
    with pytest.raises(ParameterError, match="criterion"):
        gmmkit.select(X, criterion="nope")
    with pytest.raises(ParameterError, match="covariance"):
        gmmkit.select(X, covariance_types=("banana",))
    # K larger than the data: that candidate records its error, the others still run
    res = gmmkit.select(X[:4], n_components=[1, 2, 6], covariance_types=("diag",), random_state=0)
    assert "n_samples >= n_components" in res.table.set_index("n_components").loc[6, "error"]


def test_plot(tmp_path, X):
    pytest.importorskip("matplotlib")
    res = gmmkit.select(X, range(1, 4), ("full", "spherical"), random_state=0)
    out = tmp_path / "bic.png"
    res.plot(path=out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
