"""The finance API behind the CLI (risk.conditional_risk, regimes.portfolio_risk) and the
CLI's JSON, which stays valid when a figure is NaN."""
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gmmkit_apps.finance import regimes as rg
from gmmkit_apps.finance.data import load_returns
from gmmkit_apps.finance.dist import fit_mixture
from gmmkit_apps.finance.risk import conditional_risk, risk_table
from gmmkit_apps.finance.volatility import standardise

INDICES = Path(__file__).resolve().parents[2] / "datasets" / "finance" / "indices.csv.gz"


@pytest.fixture(scope="module")
def spx():
    return load_returns(INDICES, ["SPX"], start="2015-01-01", end="2018-12-31")[0]["SPX"].to_numpy()


def test_conditional_risk_unconditional_is_the_risk_table_of_the_fit(spx):
    res = conditional_risk(spx, levels=(0.99,), n_components=2, random_state=0)
    mix = fit_mixture(spx, n_components=2, random_state=0).mixture
    assert res["rows"] == risk_table(spx, mix, levels=(0.99,), random_state=0)
    assert (res["vol"], res["sigma_next"], res["mu"], res["garch"]) == ("none", None, None, None)
    assert res["n_components"] == 2


def test_conditional_risk_ewma_scales_to_the_forecast(spx):
    res = conditional_risk(spx, vol="ewma", levels=(0.99,), n_components=1, random_state=0)
    z, mu, sigma_next, _ = standardise(spx, "ewma", lam=0.94)
    mix = fit_mixture(z, n_components=1, random_state=0).mixture
    rows = risk_table(mu + z * sigma_next, mix.scaled(mu, sigma_next), levels=(0.99,), random_state=0)
    assert res["sigma_next"] == pytest.approx(sigma_next) and res["rows"] == rows


def test_conditional_risk_rejects_an_unknown_filter(spx):
    from gmmkit.exceptions import GMMKitError

    with pytest.raises(GMMKitError):
        conditional_risk(spx, vol="arima")


def test_portfolio_risk_is_the_joint_mixture_composition():
    r = load_returns(INDICES, ["SPX", "IXIC"], start="2016-01-01", end="2018-12-31", log=False)[0]
    X = r.to_numpy()
    res = rg.portfolio_risk(X, [0.6, 0.4], levels=(0.99,), n_components=2, n_sims=5000, random_state=0)
    model, loc, scale, _ = rg.fit_joint(X, n_components=2, random_state=0)
    w, means, covs = rg.joint_parameters(model, loc, scale)
    mix = rg.portfolio_mixture(w, means, covs, [0.6, 0.4])
    assert res["rows"] == risk_table(X @ [0.6, 0.4], mix, levels=(0.99,), log=False, random_state=0)
    assert res["stress"]["n"] == 5000 and res["n_components"] == 2
    assert sum(res["stress"]["component_share"]) == pytest.approx(1.0)


def test_cli_json_stays_valid_with_a_nan(monkeypatch):
    from gmmkit.cli import app

    real = rg.regime_summary

    def with_nan(frame, periods_per_year):
        rows = real(frame, periods_per_year)
        rows[0]["mean_run"] = float("nan")
        rows[0]["ann_vol"] = np.float64("inf")
        return rows

    monkeypatch.setattr(rg, "regime_summary", with_nan)
    res = CliRunner().invoke(app, ["finance", "regimes", str(INDICES), "-t", "SPX", "--start", "2017-01-01",
                                   "-k", "2", "--model", "mixture", "--json"])
    assert res.exit_code == 0, res.output
    assert "NaN" not in res.stdout and "Infinity" not in res.stdout
    doc = json.loads(res.stdout)
    assert doc["summary"][0]["mean_run"] is None and doc["summary"][0]["ann_vol"] is None
