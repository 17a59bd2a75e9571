"""gmmkit.select as mclust's Mclust(): the default grid, mclust's sign, skipped models, the CLI,
against mclust's own BIC tables (tests/data/mclust_select.json, made by
tests/data/make_mclust_select.py with R; these tests do not need R).

mclust starts every candidate from hierarchical clustering, gmmkit by default from k-means,
so cell by cell the two may reach different local optima: what is compared is what must
agree (K = 1, where there is one optimum; the pick; gmmkit's BIC at mclust's pick, never
worse). With mclust's start (``init_params="hc"``) the picks are mclust's.
"""
import json
import math
import os

import numpy as np
import pandas as pd
import pytest

import gmmkit
from gmmkit.covariance import MCLUST_MODELS, n_parameters
from gmmkit.selection import ALL_TYPES, SKLEARN_TYPES

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
with open(os.path.join(HERE, "..", "data", "mclust_select.json")) as fh:
    REF = json.load(fh)
#: a tolerance near mclust's (EM stops at a relative log-likelihood change of 1e-5)
TIGHT = {"tol": 1e-5, "max_iter": 1000}


def data(name):
    d = REF["datasets"][name]
    return pd.read_csv(os.path.join(ROOT, d["file"]))[d["columns"]].to_numpy(float), d


def mclust_table(d):
    """mclust's fit$BIC as a K x model frame (NaN where mclust could not fit)."""
    t = pd.DataFrame({m: [np.nan if v is None else v for v in vals] for m, vals in d["bic_table"].items()})
    t.index = range(1, len(t) + 1)
    return t


def test_reference_file():
    assert REF["mclust_version"].startswith("6.") and REF["command"] == "Mclust(X, G = 1:9)"
    for d in REF["datasets"].values():
        t = mclust_table(d)
        assert list(t.columns) == list(ALL_TYPES) and t.shape == (9, 14)
        assert t.loc[d["n_components"], d["model"]] == pytest.approx(d["bic"]) == np.nanmax(t.to_numpy())


def test_default_grid_is_mclusts():
    assert ALL_TYPES == tuple(MCLUST_MODELS)
    X, _ = data("iris")
    res = gmmkit.select(X, random_state=0, n_jobs=2)
    assert res.bic_mclust.shape == (9, 14) and list(res.bic_mclust.columns) == list(MCLUST_MODELS)
    assert sorted(set(res.table.n_components)) == list(range(1, 10))
    # old calls still work: named grids and single names
    assert set(gmmkit.select(X, [1, 2], "sklearn", random_state=0).table.covariance_type) == set(SKLEARN_TYPES)
    assert set(gmmkit.select(X, [1], "mclust", random_state=0).table.covariance_type) == set(ALL_TYPES)
    assert set(gmmkit.select(X, [1, 2], "VEV", random_state=0).table.covariance_type) == {"VEV"}


@pytest.mark.parametrize("name", ["iris", "faithful"])
def test_one_component_bic_equals_mclusts(name):
    """K = 1 has one optimum: every model's BIC (mclust's sign) equals mclust's."""
    X, d = data(name)
    res = gmmkit.select(X, [1], random_state=0, reg_covar=0.0, **TIGHT)
    np.testing.assert_allclose(res.bic_mclust.loc[1], mclust_table(d).loc[1, list(ALL_TYPES)], rtol=1e-9)


@pytest.mark.parametrize("name", ["iris"])  # (all four with mclust's start: below)
def test_pick_and_bic_at_mclusts_pick(name):
    """Same grid: gmmkit picks mclust's (model, K), or one with a better BIC; its BIC at
    mclust's pick is at least mclust's (k-means start, EM to a tolerance near mclust's)."""
    X, d = data(name)
    res = gmmkit.select(X, random_state=0, n_jobs=2, **TIGHT)
    ours = res.bic_mclust
    pick = (res.best_params_["covariance_type"], res.best_params_["n_components"])
    assert pick == (d["model"], d["n_components"]) or ours.loc[pick[1], pick[0]] > d["bic"]
    assert ours.loc[d["n_components"], d["model"]] >= d["bic"] - 1e-6 * abs(d["bic"])
    assert ours.loc[pick[1], pick[0]] == ours.max().max()


@pytest.mark.parametrize("name", ["iris", "faithful", "diabetes", "banknote"])
def test_hierarchical_start_picks_mclusts(name):
    """mclust's own start (``init_params="hc"``: one model-based hierarchical tree, cut at
    every K, each model's M-step on each cut) and a tolerance near mclust's: the pick is
    mclust's, and at most one cell of the 9 x 14 table has a BIC below mclust's (by more
    than 1e-4 relative: another local optimum)."""
    X, d = data(name)
    res = gmmkit.select(X, random_state=0, n_jobs=2, init_params="hc", **TIGHT)
    assert (res.best_params_["covariance_type"], res.best_params_["n_components"]) == (d["model"], d["n_components"])
    ours, theirs = res.bic_mclust, mclust_table(d)[list(ALL_TYPES)]
    assert int((ours < theirs - 1e-4 * theirs.abs()).sum().sum()) <= 1


def test_sign_convention():
    X, _ = data("faithful")
    res = gmmkit.select(X, [1, 2, 3], ("EEE", "VVV", "full"), random_state=0)
    t = res.table
    np.testing.assert_array_equal(t["bic_mclust"], -t["bic"])
    np.testing.assert_array_equal(t["icl_mclust"], -t["icl"])
    # mclust's definition: 2 log L - p log n, higher is better
    np.testing.assert_allclose(t["bic_mclust"], 2 * t["log_likelihood"] - t["n_parameters"] * math.log(len(X)))
    assert res.convention == "sklearn"
    np.testing.assert_array_equal(res.criterion_table(convention="mclust").to_numpy(), res.bic_mclust.to_numpy())
    np.testing.assert_array_equal(res.criterion_table().to_numpy(), -res.bic_mclust.to_numpy())
    best = res.best_params_
    assert res.bic_mclust.loc[best["n_components"], best["covariance_type"]] == res.bic_mclust.max().max()
    # the convention changes the sign shown, never the pick
    res_m = gmmkit.select(X, [1, 2, 3], ("EEE", "VVV", "full"), random_state=0, convention="mclust")
    assert res_m.best_params_ == best and res_m.convention == "mclust"
    with pytest.raises(gmmkit.exceptions.ParameterError, match="convention"):
        gmmkit.select(X, [1], convention="R")


def test_skipped_models_carry_their_reason(rng):
    X = rng.normal(size=(30, 3))
    res = gmmkit.select(X, [1, 2, 3, 4], ("VVV", "EII"), random_state=0)
    t = res.table.set_index(["covariance_type", "n_components"])
    assert n_parameters("VVV", 4, 3) > 30
    reason = t.loc[("VVV", 4), "error"]
    assert reason.startswith("skipped:") and "parameters for 30 rows" in reason and "VVV" in reason
    assert math.isnan(t.loc[("VVV", 4), "bic"]) and math.isnan(res.bic_mclust.loc[4, "VVV"])
    assert not t.loc[("VVV", 4), "selected"]
    # never a NaN criterion without a reason, never a reason with a criterion
    ok = res.table["error"] == ""
    assert np.isfinite(res.table.loc[ok, ["bic", "aic", "icl", "bic_mclust"]].to_numpy()).all()
    assert res.table.loc[~ok, "bic"].isna().all()


def test_singular_data_never_a_traceback(rng):
    """A duplicated column makes every pooled covariance singular without reg_covar: each
    candidate either fits or is skipped with its reason."""
    x = rng.normal(size=(60, 2))
    X = np.column_stack([x, x[:, 0]])
    try:
        res = gmmkit.select(X, [1, 2], ("EEE", "VVV", "EII"), random_state=0, reg_covar=0.0)
    except gmmkit.exceptions.GMMKitError as exc:  # every candidate failed: one line
        assert "no candidate" in str(exc)
        return
    t = res.table
    assert (np.isfinite(t["bic"]) == (t["error"] == "")).all()


def test_noise_counts_two_parameters_as_mclust(rng):
    X = np.vstack([rng.normal(0, 1, (150, 2)), rng.uniform(-10, 10, (15, 2))])
    gm = gmmkit.GaussianMixture(2, noise=True, random_state=0).fit(X)
    # mclust's nMclustParams(modelName, d, G, noise = TRUE): + 2 (noise weight and volume)
    assert gm._n_parameters() == n_parameters("full", 2, 2) + 2


def test_plot_in_mclusts_style(tmp_path):
    pytest.importorskip("matplotlib")
    X, _ = data("faithful")
    res = gmmkit.select(X, [1, 2, 3], random_state=0, convention="mclust")
    ax = res.plot(path=tmp_path / "bic.png")
    assert (tmp_path / "bic.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == set(ALL_TYPES)
    assert lines["VVV"].get_color() == "#CC0000" and "higher" in ax.get_ylabel()


def test_cli_all_is_the_14(tmp_path):
    from typer.testing import CliRunner

    from gmmkit.cli import make_app

    app = make_app(entry_points=[])  # the root app without plugins (apps may be half-written)
    iris = os.path.join(ROOT, "datasets", "tables", "iris.csv")
    runner = CliRunner()
    result = runner.invoke(app, ["select", iris, "-k", "1..2", "-c", "all", "--seed", "0", "--json", "-q"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert {r["covariance_type"] for r in doc["table"]} == set(ALL_TYPES) and len(doc["table"]) == 28
    assert all(r["bic_mclust"] == pytest.approx(-r["bic"]) for r in doc["table"])
    human = runner.invoke(app, ["select", iris, "-k", "1..3", "--seed", "0", "--convention", "mclust", "-q"])
    assert human.exit_code == 0, human.output
    assert "higher is better" in human.stdout and "VEV" in human.stdout and "top 3:" in human.stdout
    four = runner.invoke(app, ["select", iris, "-k", "1..2", "-c", "sklearn", "--seed", "0", "--json", "-q"])
    assert {r["covariance_type"] for r in json.loads(four.stdout)["table"]} == set(SKLEARN_TYPES)
    bad = runner.invoke(app, ["select", iris, "--convention", "R"])
    assert bad.exit_code != 0 and "convention" in bad.output
