"""gmmkit finance, Markov-switching regimes (issue 17): the model's statistics against statsmodels'
MarkovRegression, the predictive VaR/ES against independent twins, and the CLI end to end."""
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gmmkit import GMMHMM
from gmmkit.exceptions import DataError, ParameterError
from gmmkit_apps.finance.data import load_returns
from gmmkit_apps.finance.switching import (
    RollingSwitching,
    SwitchingFit,
    fit_switching,
    spells,
    switches_per_year,
    switching_risk,
)
from tests.helpers import app_runner

DATA = Path(__file__).resolve().parents[2] / "datasets" / "finance"
INDICES = DATA / "indices.csv.gz"


@pytest.fixture(scope="module")
def cli():
    return app_runner("finance")


@pytest.fixture(scope="module")
def spx():
    return load_returns(INDICES, ["SPX"])[0]["SPX"]


@pytest.fixture(scope="module")
def statsmodels_fit(spx):
    """Hamilton's model by statsmodels on percent returns, first regime probabilities (1/2, 1/2)."""
    sm = pytest.importorskip("statsmodels.tsa.regime_switching.markov_regression")
    r = spx.to_numpy() * 100
    mod = sm.MarkovRegression(r, k_regimes=2, trend="c", switching_variance=True)
    mod.initialize_known([0.5, 0.5])
    return r, mod.fit(disp=False)


def _statsmodels_parameters(res):
    p = res.params           # p[0->0], p[1->0], const0, const1, sigma2_0, sigma2_1
    trans = np.array([[p[0], 1 - p[0]], [p[1], 1 - p[1]]])
    return trans, p[2:4], p[4:6]


def _switching_from(trans, means, variances, loc=0.0, scale=1.0, start=(0.5, 0.5)):
    """A SwitchingFit (one normal per regime) from parameters on the returns' scale."""
    model = GMMHMM.from_parameters(list(start), trans, [[1.0], [1.0]],
                                   ((np.asarray(means) - loc) / scale).reshape(2, 1, 1),
                                   (np.asarray(variances) / scale ** 2).reshape(2, 1, 1, 1),
                                   covariance_type="full")
    return SwitchingFit(model, loc, scale, {})


# ---------------------------------------------------------------- against statsmodels (M = 1)

def test_fit_matches_statsmodels_markov_regression(statsmodels_fit):
    """The app's mapping (standardisation, regime order by volatility) of a Baum-Welch fit with the
    first regime probabilities held at (1/2, 1/2) reproduces statsmodels' estimates."""
    r, res = statsmodels_fit
    trans, means, variances = _statsmodels_parameters(res)
    loc, scale = float(r.mean()), float(r.std())
    X = ((r - loc) / scale)[:, None]
    model = GMMHMM(2, 1, "full", params="tmcw", startprob_init=[0.5, 0.5], max_iter=1000, tol=1e-9,
                   random_state=0).fit(X)
    fit = SwitchingFit(model, loc, scale, {})
    loglik = model.score(X) - r.size * math.log(scale)
    assert loglik == pytest.approx(res.llf, rel=1e-4)
    np.testing.assert_allclose(fit.transmat, trans, atol=1e-4)
    mixes = fit.state_mixtures()
    np.testing.assert_allclose([m.means[0] for m in mixes], means, atol=1e-3)
    np.testing.assert_allclose([m.sds[0] ** 2 for m in mixes], variances, rtol=1e-3)
    np.testing.assert_allclose(fit.durations(), res.expected_durations, rtol=1e-2)


def test_fit_switching_finds_statsmodels_optimum(statsmodels_fit):
    """The app's own fit (free first-regime probabilities, k-means start, restarts) reaches the same
    optimum: the transition probabilities agree to 1e-3 and the log-likelihood is not lower."""
    r, res = statsmodels_fit
    trans, _, _ = _statsmodels_parameters(res)
    fit = fit_switching(r, n_states=2, n_mix=1)
    np.testing.assert_allclose(fit.transmat, trans, atol=1e-3)
    loglik = fit.model.score(fit.standardise(r)) - r.size * math.log(fit.scale)
    assert loglik >= res.llf - 1e-3


def test_filtered_and_smoothed_probabilities_match_statsmodels(statsmodels_fit):
    r, res = statsmodels_fit
    trans, means, variances = _statsmodels_parameters(res)
    # statsmodels' first day's regime probabilities are not its "known initial" (1/2, 1/2) but its
    # predicted_marginal_probabilities[0], which is (1/2, 1/2) @ transmat @ transmat (measured)
    first = res.predicted_marginal_probabilities[0]
    np.testing.assert_allclose(first, np.array([0.5, 0.5]) @ trans @ trans, atol=1e-12)
    fit = _switching_from(trans, means, variances, start=first)
    loglik = fit.model.score(fit.standardise(r))
    assert loglik == pytest.approx(res.llf, rel=1e-10)
    np.testing.assert_allclose(fit.filtered(r), res.filtered_marginal_probabilities, atol=1e-6)
    np.testing.assert_allclose(fit.smoothed(r), res.smoothed_marginal_probabilities, atol=1e-6)
    # the next day's regime probabilities: statsmodels' one-step prediction from its last filter
    expected = res.regime_transition[:, :, 0] @ res.filtered_marginal_probabilities[-1]
    np.testing.assert_allclose(fit.next_state_proba(r), expected, atol=1e-6)


# ---------------------------------------------------------------- the predictive distribution

def _forward_filter(r, start, trans, mixes):
    """Hamilton's filter written out in NumPy (the twin of the app's filtered probabilities)."""
    p = np.asarray(start, dtype=float)
    out = []
    for x in r:
        lik = np.array([m.pdf(x) for m in mixes])
        post = p * lik
        post /= post.sum()
        out.append(post)
        p = post @ trans
    return np.array(out)


@pytest.fixture(scope="module")
def small_fit():
    rng = np.random.default_rng(3)
    z = np.repeat([0, 1, 0, 1, 0], [300, 120, 200, 80, 100])
    r = np.where(z == 0, rng.standard_t(6, z.size) * 0.008 + 4e-4, rng.standard_t(6, z.size) * 0.025 - 1e-3)
    return r, fit_switching(r, n_states=2, n_mix=2, random_state=0)


def test_next_state_probabilities_by_a_numpy_filter(small_fit):
    r, fit = small_fit
    filt = _forward_filter(r, fit.startprob, fit.transmat, fit.state_mixtures())
    np.testing.assert_allclose(fit.filtered(r), filt, atol=1e-10)
    np.testing.assert_allclose(fit.next_state_proba(r), filt[-1] @ fit.transmat, atol=1e-10)


@pytest.mark.parametrize("level", [0.95, 0.99])
def test_predictive_var_es_closed_form_and_monte_carlo(small_fit, level):
    r, fit = small_fit
    p = fit.next_state_proba(r)
    mix = fit.next_mixture(r)
    var, es = mix.value_at_risk(level), mix.expected_shortfall(level)
    # closed-form twin: the CDF at -VaR, summed regime by regime, is the tail probability
    mixes = fit.state_mixtures()
    cdf = sum(ps * np.sum(m.weights * stats.norm.cdf((-var - m.means) / m.sds)) for ps, m in zip(p, mixes))
    assert cdf == pytest.approx(1 - level, rel=1e-9)
    # Monte-Carlo twin: regime, then component, then the normal draw
    rng = np.random.default_rng(0)
    n = 2_000_000
    s = rng.choice(fit.n_states, size=n, p=p)
    draws = np.empty(n)
    for k, m in enumerate(mixes):
        idx = np.flatnonzero(s == k)
        draws[idx] = m.sample(idx.size, rng)
    q = np.quantile(draws, 1 - level)
    assert -q == pytest.approx(var, rel=0.01)
    assert -draws[draws <= q].mean() == pytest.approx(es, rel=0.01)


def test_expected_durations_and_simulated_spells(small_fit):
    _, fit = small_fit
    stay = np.diag(fit.transmat)
    np.testing.assert_allclose(fit.durations(), 1 / (1 - stay))
    # simulated chain: the mean spell of each regime is its expected duration
    x = fit.simulate(fit.stationary(), 20_000, 1, np.random.default_rng(1))[0]
    assert x.shape == (20_000,)
    A = fit.transmat
    rng = np.random.default_rng(2)
    z = np.empty(200_000, dtype=int)
    z[0] = 0
    u = rng.random(z.size)
    for t in range(1, z.size):
        z[t] = int(u[t] > A[z[t - 1], 0])
    idx = pd.RangeIndex(z.size)
    for k, d in enumerate(fit.durations()):
        lengths = [n for *_, n in spells(z, idx, k)]
        assert np.mean(lengths) == pytest.approx(d, rel=0.1)
    assert np.allclose(fit.stationary() @ A, fit.stationary())


def test_switching_risk_rows(small_fit):
    r, fit = small_fit
    out = switching_risk(r, levels=(0.99,), n_states=2, n_mix=2)
    hmm = next(row for row in out["rows"] if row["model"] == "hmm")
    assert hmm["var"] == pytest.approx(fit.next_mixture(r).value_at_risk(0.99), rel=1e-6)
    ten = switching_risk(r, levels=(0.99,), n_states=2, n_mix=2, horizon=10, n_sims=20_000)
    hmm10 = next(row for row in ten["rows"] if row["model"] == "hmm")
    assert "Markov-chain simulation" in hmm10["method"] and hmm10["var"] > 2 * hmm["var"]


def test_rolling_forecasts_never_see_their_own_day(small_fit):
    r, _ = small_fit
    roll = RollingSwitching(0.99, n_states=2, n_mix=1)
    var = roll.block(r[:500], r[500:520])
    changed = r[500:520].copy()
    changed[-1] = -0.5                               # the last day's return: no forecast may use it
    again = RollingSwitching(0.99, n_states=2, n_mix=1).block(r[:500], changed)
    np.testing.assert_array_equal(var, again)
    changed[5] = -0.2                                # day 5's return moves the forecasts from day 6 on
    third = RollingSwitching(0.99, n_states=2, n_mix=1).block(r[:500], changed)
    np.testing.assert_array_equal(var[:6], third[:6])
    assert third[6] > var[6]


def test_switches_and_spells():
    idx = pd.bdate_range("2020-01-01", periods=6)
    labels = ["calm", "calm", "turbulent", "turbulent", "calm", "calm"]
    years = (idx[-1] - idx[0]).days / 365.25
    assert switches_per_year(labels, idx) == pytest.approx(2 / years)
    assert spells(labels, idx, "turbulent") == [(idx[2], idx[3], 2)]


def test_bad_parameters():
    with pytest.raises(ParameterError, match="n_mix"):
        fit_switching(np.random.default_rng(0).normal(size=300), n_mix=0)
    with pytest.raises(DataError, match="too few returns"):
        fit_switching(np.random.default_rng(0).normal(size=50), n_states=3, n_mix=2)


# ---------------------------------------------------------------- the CLI on the shipped data

def test_cli_regimes_persist_through_2008(cli, spx):
    res = cli("regimes", INDICES, "-t", "SPX", "-k", "2", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["model"] == "hmm" and out["n_states"] == 2 and out["n"] == spx.size
    trans = np.array(out["transmat"])
    np.testing.assert_allclose(trans.sum(axis=1), 1.0)
    calm, turb = out["regimes"]
    assert turb["ann_vol"] > 2 * calm["ann_vol"] and turb["duration"] > 20 and calm["duration"] > 20
    assert turb["duration"] == pytest.approx(1 / (1 - trans[1, 1]))
    sw = out["switches_per_year"]
    assert sw["hmm"] < 5 and sw["mixture"] > 10 * sw["hmm"]
    # 2008-2009: long turbulent spells
    crisis = [s for s in out["longest_turbulent_spells"] if s["start"] < "2009-12-31" and s["end"] > "2008-01-01"]
    assert crisis and max(s["days"] for s in crisis) > 250


def test_cli_regimes_export_and_plot(cli, tmp_path):
    out = tmp_path / "reg.csv"
    res = cli("regimes", INDICES, "-t", "SPX", "--start", "2006-01-01", "--end", "2010-12-31", "-k", "2",
              "--mix", "1", "--out", out, "--plot", tmp_path)
    assert res.exit_code == 0, res.output
    assert "transition matrix" in res.output and "switches per year" in res.output
    assert (tmp_path / "finance_regimes_SPX.png").exists()
    frame = pd.read_csv(out, index_col=0, parse_dates=True)
    assert {"regime", "viterbi", "p_turbulent", "p_turbulent_filtered", "mixture_regime"} <= set(frame.columns)
    assert (frame.loc["2008-10":"2009-03", "regime"] == "turbulent").all()


def test_cli_regimes_mixture_option(cli):
    res = cli("regimes", INDICES, "-t", "SPX", "--start", "2015-01-01", "-k", "2", "--model", "mixture", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["model"] == "mixture" and {r["regime"] for r in out["summary"]} == {"calm", "turbulent"}


def test_cli_risk_hmm(cli):
    res = cli("risk", INDICES, "-t", "IXIC", "--start", "2012-01-01", "--model", "hmm", "--states", "2", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["model"] == "hmm" and sum(out["next_state_proba"]) == pytest.approx(1.0)
    models = {row["model"] for row in out["rows"]}
    assert models == {"hmm", "normal", "historical"}


def test_cli_backtest_hmm(cli, tmp_path):
    res = cli("backtest", INDICES, "-t", "SPX", "--start", "2014-01-01", "--model", "hmm", "--states", "2",
              "--mix", "1", "--refit", "100", "--vol", "ewma", "--out", tmp_path / "bt.csv", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    rows = {row["model"]: row for row in out["rows"]}
    assert set(rows) == {"gmm", "normal", "historical", "hmm"}
    frame = pd.read_csv(tmp_path / "bt.csv", index_col=0)
    assert rows["hmm"]["exceedances"] == int(frame["hit_hmm"].sum())
    assert out["hmm"]["n_states"] == 2 and out["hmm"]["n_mix"] == 1


@pytest.mark.parametrize("args, message", [
    (("regimes", "--model", "garch"), "unknown model 'garch'"),
    (("risk", "--model", "hmm", "--vol", "gjr"), "--model hmm is its own volatility model"),
    (("backtest", "--model", "markov"), "unknown model 'markov'"),
    (("regimes", "--start", "2018-11-01", "-k", "3"), "too few returns"),
])
def test_cli_bad_input_one_line_errors(cli, args, message):
    command, *rest = args
    res = cli(command, INDICES, "-t", "SPX", *rest)
    assert res.exit_code == 2, res.output
    assert message in res.output and len(res.output.strip().splitlines()) == 1
