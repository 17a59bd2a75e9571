"""gmmkit finance: unit tests of the pure functions, and end to end through the CLI on the S&P 500."""
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from gmmkit.exceptions import DataError, ParameterError
from gmmkit_apps.finance import backtest as bt
from gmmkit_apps.finance import volatility as vl
from gmmkit_apps.finance.data import detect_frequency, load_returns, to_returns
from gmmkit_apps.finance.dist import NormalMixture, fit_mixture
from gmmkit_apps.finance.regimes import portfolio_mixture, regime_names, stress_scenarios
from gmmkit_apps.finance.risk import historical_var_es, normal_var_es, risk_table
from tests.helpers import app_runner

DATA = Path(__file__).resolve().parents[2] / "datasets" / "finance"
INDICES = DATA / "indices.csv.gz"


@pytest.fixture(scope="module")
def cli():
    return app_runner("finance")


def write_prices(path, dates, values, name="SPX"):
    pd.DataFrame({"Date": dates, name: values}).to_csv(path, index=False)
    return path


# ---------------------------------------------------------------- the mixture distribution

MIX = NormalMixture([0.7, 0.25, 0.05], [0.001, -0.002, -0.01], [0.008, 0.015, 0.04])


@pytest.mark.parametrize("p", [1e-4, 0.01, 0.05, 0.5, 0.9])
def test_ppf_inverts_cdf(p):
    q = MIX.ppf(p)
    assert MIX.cdf(q) == pytest.approx(p, rel=1e-9)


def test_cdf_and_pdf_match_numerical_integration():
    area, _ = integrate.quad(MIX.pdf, -1, -0.02, epsabs=1e-13)
    assert MIX.cdf(-0.02) == pytest.approx(area, rel=1e-7)


@pytest.mark.parametrize("level", [0.95, 0.99, 0.999])
def test_expected_shortfall_closed_form_matches_integral(level):
    q = MIX.ppf(1 - level)
    tail, _ = integrate.quad(lambda x: x * MIX.pdf(x), -1, q, epsabs=1e-14, limit=200)
    assert MIX.expected_shortfall(level) == pytest.approx(-tail / (1 - level), rel=1e-6)
    assert MIX.value_at_risk(level) == pytest.approx(-q)


def test_single_component_is_the_normal():
    mix = NormalMixture([1.0], [0.0005], [0.012])
    for level in (0.95, 0.99):
        v, e = normal_var_es(0.0005, 0.012, level)
        assert mix.value_at_risk(level) == pytest.approx(v, rel=1e-10)
        assert mix.expected_shortfall(level) == pytest.approx(e, rel=1e-10)


def test_mixture_moments_and_sampling():
    x = MIX.sample(400_000, np.random.default_rng(0))
    assert x.mean() == pytest.approx(MIX.mean(), abs=5e-5)
    assert x.std() == pytest.approx(MIX.std(), rel=5e-3)
    assert np.quantile(x, 0.01) == pytest.approx(MIX.ppf(0.01), rel=0.02)


def test_bad_mixture_and_levels_raise():
    with pytest.raises(ParameterError):
        NormalMixture([0.5, 0.6], [0, 0], [1, 1])
    with pytest.raises(ParameterError):
        NormalMixture([1.0], [0.0], [0.0])
    with pytest.raises(ParameterError):
        MIX.value_at_risk(1.0)
    with pytest.raises(ParameterError):
        MIX.value_at_risk(99)


def test_fit_mixture_recovers_a_fat_tailed_mixture_and_maps_scale_back():
    rng = np.random.default_rng(3)
    r = np.concatenate([rng.normal(0.001, 0.01, 4000), rng.normal(-0.004, 0.035, 400)])
    fit = fit_mixture(r, max_components=4, n_init=2)
    assert fit.mixture.n_components >= 2
    assert min(fit.bic_table, key=fit.bic_table.get) == fit.mixture.n_components
    assert np.max(fit.mixture.sds) == pytest.approx(0.035, rel=0.2)
    # the mixture's density is the model's, mapped back from the standardised scale
    x = np.array([-0.05, 0.0, 0.02])
    expected = fit.model.score_samples(fit.standardise(x)) - math.log(fit.scale)
    np.testing.assert_allclose(fit.mixture.logpdf(x), expected, rtol=1e-6)
    # the BIC on the returns' scale is the normal likelihood's for K=1
    mu, sd = r.mean(), r.std()
    bic1 = 2 * math.log(r.size) - 2 * stats.norm.logpdf(r, mu, sd).sum()
    assert fit.bic_table[1] == pytest.approx(bic1, rel=1e-6)


def test_risk_table_historical_and_horizon():
    r = np.random.default_rng(1).standard_t(4, 3000) * 0.01
    v, e = historical_var_es(r, 0.99)
    srt = np.sort(r)
    assert -v == pytest.approx(np.quantile(r, 0.01))
    assert e == pytest.approx(-srt[srt <= -v].mean())
    rows = risk_table(r, MIX, levels=(0.99,), horizon=5, n_sims=20_000)
    norm = next(row for row in rows if row["model"] == "normal")
    mu, sd = r.mean(), r.std()
    assert norm["var"] == pytest.approx(-(5 * mu + math.sqrt(5) * sd * stats.norm.ppf(0.01)))
    gmm = next(row for row in rows if row["model"] == "gmm")
    assert gmm["method"].startswith("simulated")
    assert gmm["es"] > gmm["var"] > MIX.value_at_risk(0.99)


# ---------------------------------------------------------------- backtest statistics

def test_kupiec_against_binomial_likelihood_ratio():
    n, x, p = 1000, 17, 0.01
    hits = np.zeros(n, bool)
    hits[:x] = True
    lr = 2 * (stats.binom.logpmf(x, n, x / n) - stats.binom.logpmf(x, n, p))
    res = bt.kupiec(hits, 0.99)
    assert res["lr"] == pytest.approx(lr)
    assert res["p_value"] == pytest.approx(stats.chi2.sf(lr, 1))
    assert bt.kupiec(np.zeros(500, bool), 0.99)["lr"] == pytest.approx(-2 * 500 * math.log(0.99))


def _christoffersen_reference(hits):
    counts = {(a, b): 0 for a in (0, 1) for b in (0, 1)}
    for a, b in zip(hits[:-1], hits[1:]):
        counts[int(a), int(b)] += 1
    n00, n01, n10, n11 = counts[0, 0], counts[0, 1], counts[1, 0], counts[1, 1]
    p01, p11 = n01 / (n00 + n01), n11 / (n10 + n11)
    p = (n01 + n11) / (n00 + n01 + n10 + n11)
    l1 = n00 * math.log(1 - p01) + n01 * math.log(p01) + n10 * math.log(1 - p11) + n11 * math.log(p11)
    l0 = (n00 + n10) * math.log(1 - p) + (n01 + n11) * math.log(p)
    return -2 * (l0 - l1)


def test_christoffersen_detects_clustered_exceedances():
    rng = np.random.default_rng(5)
    spread = rng.random(2000) < 0.012
    clustered = np.zeros(2000, bool)
    for start in (100, 600, 1200, 1700):
        clustered[start:start + 6] = True
    for hits in (spread, clustered):
        if hits[:-1].astype(int).dot(hits[1:]) == 0:
            continue  # the reference formula needs n11 > 0
        assert bt.christoffersen(hits, 0.99)["lr_ind"] == pytest.approx(_christoffersen_reference(hits))
    assert bt.christoffersen(clustered, 0.99)["p_ind"] < 1e-6
    assert bt.christoffersen(spread, 0.99)["p_ind"] > 0.01


@pytest.mark.parametrize("x, zone", [(0, "green"), (4, "green"), (5, "yellow"), (9, "yellow"), (10, "red")])
def test_basel_traffic_light(x, zone):
    hits = np.zeros(250, bool)
    hits[:x] = True
    assert bt.traffic_light(hits, 0.99) == zone


def test_rolling_var_uses_no_future_data_and_refits_on_schedule():
    rng = np.random.default_rng(7)
    idx = pd.bdate_range("2010-01-01", periods=800)
    r = pd.Series(rng.standard_t(4, 800) * 0.01, index=idx)
    a, info = bt.rolling_var(r, window=300, refit=100, n_components=2, n_init=1, vol="none")
    changed = r.copy()
    changed.iloc[600:] *= 5.0        # a future shock must not move forecasts made before it
    b, _ = bt.rolling_var(changed, window=300, refit=100, n_components=2, n_init=1, vol="none")
    assert info["n_refits"] == 5 and len(a) == 500
    np.testing.assert_allclose(a.iloc[:300].filter(like="var_"), b.iloc[:300].filter(like="var_"))
    assert not np.allclose(a["var_normal"].iloc[300:], b["var_normal"].iloc[300:])
    # forecasts are constant between refits, and historical VaR is the window's quantile
    assert a["var_gmm"].iloc[:100].nunique() == 1
    assert a["var_historical"].iloc[0] == pytest.approx(-np.quantile(r.iloc[:300], 0.01))
    assert (a["hit_normal"] == (a["return"] < -a["var_normal"])).all()


def test_rolling_var_ewma_scales_by_volatility_forecast():
    r = np.random.default_rng(2).normal(0, 0.01, 700)
    sigma = vl.ewma_volatility(r, lam=0.94, init_periods=300)
    assert sigma[5] ** 2 == pytest.approx(0.94 * sigma[4] ** 2 + 0.06 * r[4] ** 2)
    frame, _ = bt.rolling_var(pd.Series(r), window=300, refit=50, n_components=2, n_init=1, vol="ewma",
                              methods=("normal",))
    z = r[:300] / sigma[:300]
    v, _ = normal_var_es(z.mean(), z.std(), 0.99)
    np.testing.assert_allclose(frame["var_normal"].iloc[:50], v * sigma[300:350])


# ---------------------------------------------------------------- GARCH filter

def test_garch_recursion_equals_the_loop():
    rng = np.random.default_rng(3)
    e = rng.normal(0, 0.01, 300)
    s2 = vl.garch_variance(e, 2e-6, 0.05, 0.9, 0.1, v0=1e-4)
    want = [1e-4]
    for x in e:
        want.append(2e-6 + (0.05 + 0.1 * (x < 0)) * x * x + 0.9 * want[-1])
    np.testing.assert_allclose(s2, want, rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_garch_fit_recovers_known_parameters(seed):
    r = vl.simulate_garch(5000, mu=3e-4, omega=2e-6, alpha=0.08, beta=0.9, rng=seed)
    g = vl.fit_garch(r)
    assert g.converged and g.gamma == 0.0
    assert g.alpha == pytest.approx(0.08, abs=0.025)
    assert g.beta == pytest.approx(0.9, abs=0.03)
    assert g.persistence == pytest.approx(0.98, abs=0.01)
    assert g.long_run_variance == pytest.approx(1e-4, rel=0.35)
    assert g.mu == pytest.approx(3e-4, abs=2.5e-4)


def test_gjr_fit_recovers_the_leverage_term():
    r = vl.simulate_garch(5000, omega=2e-6, alpha=0.02, gamma=0.12, beta=0.9, rng=5)
    g = vl.fit_garch(r, asymmetric=True)
    assert g.gamma == pytest.approx(0.12, abs=0.04) and g.alpha == pytest.approx(0.02, abs=0.025)
    # the asymmetric fit is nested and must not be worse than the symmetric one
    assert g.loglik >= vl.fit_garch(r).loglik - 1e-6


def test_garch_rejects_unusable_input():
    with pytest.raises(DataError, match="at least 100"):
        vl.fit_garch(np.zeros(50))
    with pytest.raises(DataError, match="constant"):
        vl.fit_garch(np.zeros(500))
    with pytest.raises(ParameterError, match="--vol must be one of"):
        vl.check_filter("garch11")


def test_rolling_var_garch_refits_on_the_window_and_uses_no_future_data():
    rng = np.random.default_rng(8)
    r = pd.Series(vl.simulate_garch(700, omega=2e-6, alpha=0.08, beta=0.9, rng=rng) +
                  0.002 * rng.standard_t(3, 700), index=pd.bdate_range("2010-01-01", periods=700))
    a, info = bt.rolling_var(r, window=300, refit=100, vol="garch", methods=("normal", "historical"))
    changed = r.copy()
    changed.iloc[550:] *= 4.0
    b, _ = bt.rolling_var(changed, window=300, refit=100, vol="garch", methods=("normal", "historical"))
    np.testing.assert_allclose(a.iloc[:250].filter(like="var_"), b.iloc[:250].filter(like="var_"))
    assert info["n_refits"] == 4 and info["garch"]["not_converged"] == 0
    # first refit written out: QMLE on the window, residuals standardised, forecasts rescaled
    x = r.to_numpy()
    g = vl.fit_garch(x[:300])
    s = np.sqrt(g.variance(x[:399], v0=np.mean((x[:300] - g.mu) ** 2)))
    z = (x[:300] - g.mu) / s[:300]
    want = s[300:] * historical_var_es(z, 0.99)[0] - g.mu
    np.testing.assert_allclose(a["var_historical"].iloc[:100], want, rtol=1e-6)


def test_rolling_var_rejects_a_short_series():
    with pytest.raises(DataError, match="too short"):
        bt.rolling_var(pd.Series(np.random.default_rng(0).normal(size=300)), window=500)
    with pytest.raises(ParameterError, match="window must be at least 100"):
        bt.rolling_var(pd.Series(np.random.default_rng(0).normal(size=300)), window=60, vol="garch")
    flat = pd.Series(np.r_[np.zeros(300), np.random.default_rng(0).normal(size=100)])
    with pytest.raises(DataError, match="constant"):
        bt.rolling_var(flat, window=250, refit=50, vol="gjr")


# ---------------------------------------------------------------- portfolio and regimes

def test_portfolio_mixture_matches_sampling_the_joint_mixture():
    w = np.array([0.8, 0.2])
    means = np.array([[0.001, 0.0005], [-0.01, -0.02]])
    covs = np.array([[[1e-4, 5e-5], [5e-5, 2e-4]], [[9e-4, 8e-4], [8e-4, 16e-4]]])
    alloc = [0.6, 0.4]
    mix = portfolio_mixture(w, means, covs, alloc)
    res = stress_scenarios(w, means, covs, alloc, n=400_000, tail=0.01, random_state=1)
    assert res["quantile"] == pytest.approx(-mix.value_at_risk(0.99), rel=0.02)
    assert res["mean_beyond"] == pytest.approx(-mix.expected_shortfall(0.99), rel=0.02)
    assert res["component_share"][1] > 0.9      # the crash component drives the tail
    single = portfolio_mixture(w, means, covs, [1.0, 0.0])
    np.testing.assert_allclose(single.sds, np.sqrt(covs[:, 0, 0]))


def test_regime_names_by_volatility():
    assert list(regime_names(np.array([0.03, 0.01, 0.02]))) == ["turbulent", "calm", "mid1"]


# ---------------------------------------------------------------- input handling

def test_returns_and_frequency_detection():
    idx = pd.to_datetime(["2020-01-03", "2020-01-10", "2020-01-17", "2020-01-24"])
    prices = pd.DataFrame({"A": [100.0, 110.0, 99.0, 99.0]}, index=idx)
    np.testing.assert_allclose(to_returns(prices, log=True)["A"], np.diff(np.log([100, 110, 99, 99])))
    assert detect_frequency(idx) == "weekly"
    assert detect_frequency(pd.date_range("2000-01-01", periods=8, freq="QS")) == "quarterly"


def test_long_table_equals_wide_table(tmp_path):
    wide = pd.read_csv(INDICES).iloc[:300]
    long = wide.melt(id_vars="Date", var_name="ticker", value_name="close").sample(frac=1, random_state=0)
    long.to_csv(tmp_path / "long.csv", index=False)
    wide.to_parquet(tmp_path / "wide.parquet")
    a, fa = load_returns(tmp_path / "long.csv", ["IXIC", "SPX"])
    b, fb = load_returns(tmp_path / "wide.parquet", ["IXIC", "SPX"])
    assert fa == fb == "daily"
    pd.testing.assert_frame_equal(a, b, check_names=False, check_freq=False)
    assert len(a) == 299


def test_unsorted_dates_are_sorted(tmp_path):
    dates = pd.bdate_range("2020-01-01", periods=30)
    values = np.linspace(100, 130, 30)
    write_prices(tmp_path / "a.csv", dates, values)
    order = np.random.default_rng(0).permutation(30)
    write_prices(tmp_path / "b.csv", dates[order], values[order])
    pd.testing.assert_frame_equal(load_returns(tmp_path / "a.csv")[0], load_returns(tmp_path / "b.csv")[0])


@pytest.mark.parametrize("mutate, message", [
    (lambda d, v: (d.insert(5, d[4]) or d, v[:5] + [v[4]] + v[5:]), "duplicated date"),
    (lambda d, v: (d, v[:7] + [float("nan")] + v[8:]), "missing value"),
    (lambda d, v: (d, v[:7] + [0.0] + v[8:]), "non-positive price"),
    (lambda d, v: (d, v[:7] + [-3.0] + v[8:]), "non-positive price"),
    (lambda d, v: (d[:5] + [d[4] + pd.Timedelta(hours=16)] + d[5:], v[:5] + [v[4]] + v[5:]),
     "two rows on 2020-01-07"),
])
def test_bad_prices_are_errors(tmp_path, mutate, message):
    dates = list(pd.bdate_range("2020-01-01", periods=30))
    values = list(np.linspace(100, 130, 30))
    dates, values = mutate(dates, values)
    path = write_prices(tmp_path / "bad.csv", dates, values)
    with pytest.raises(DataError, match=message):
        load_returns(path)


def test_missing_rows_dropped_on_request(tmp_path):
    dates = pd.bdate_range("2020-01-01", periods=30)
    values = np.linspace(100, 130, 30)
    values[10] = np.nan
    path = write_prices(tmp_path / "na.csv", dates, values)
    r, _ = load_returns(path, dropna=True)
    assert len(r) == 28
    assert r["SPX"].iloc[9] == pytest.approx(math.log(values[11] / values[9]))


def test_gaps(tmp_path):
    dates = list(pd.bdate_range("2020-01-01", periods=20)) + list(pd.bdate_range("2020-03-02", periods=20))
    path = write_prices(tmp_path / "gap.csv", dates, np.linspace(100, 140, 40))
    with pytest.raises(DataError, match="gap"):
        load_returns(path)
    assert len(load_returns(path, gaps="keep")[0]) == 39
    assert len(load_returns(path, gaps="drop")[0]) == 38


# ---------------------------------------------------------------- end to end through the CLI

def test_cli_fit_json_on_sp500(cli, tmp_path):
    res = cli("fit", INDICES, "-t", "SPX", "--start", "2007-01-01", "--end", "2010-12-31", "--json",
              "--plot", tmp_path, "--save", tmp_path / "spx.gmm")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["frequency"] == "daily" and out["n"] == 1008
    by = {row["model"]: row for row in out["comparison"]}
    assert out["n_components"] >= 2
    # fat tails: the mixture and the t beat the normal on BIC over the crisis years
    assert by["gmm"]["bic"] < by["normal"]["bic"] and by["student-t"]["bic"] < by["normal"]["bic"]
    assert sum(c["weight"] for c in out["components"]) == pytest.approx(1.0)
    assert {Path(f).name for f in out["figures"]} == {"finance_density_SPX.png", "finance_qq_SPX.png"}
    from gmmkit import load

    model = load(tmp_path / "spx.gmm")
    assert model.n_components == out["n_components"]
    r = load_returns(INDICES, ["SPX"], start="2007-01-01", end="2010-12-31")[0]["SPX"]
    assert model.fit_metadata_["finance"]["scale"] == pytest.approx(r.std(ddof=0))
    again = cli("fit", INDICES, "-t", "SPX", "--start", "2017-01-01", "--save", tmp_path / "spx.gmm")
    assert again.exit_code == 2 and "exists" in again.output


def test_cli_risk_table(cli):
    res = cli("risk", INDICES, "-t", "SPX", "--start", "2008-01-01", "--end", "2012-12-31", "-k", "2",
              "--json")
    assert res.exit_code == 0, res.output
    rows = {(r["model"], r["level"]): r for r in json.loads(res.output)["rows"]}
    assert set(rows) == {(m, lv) for m in ("gmm", "normal", "historical") for lv in (0.95, 0.99)}
    # the fat-tailed mixture puts more mass far out than the normal
    assert rows["gmm", 0.99]["var"] > rows["normal", 0.99]["var"]
    assert all(r["es"] > r["var"] > 0 for r in rows.values())
    text = cli("risk", INDICES, "-t", "SPX", "--start", "2016-01-01", "-k", "2", "--horizon", "5",
               "--sims", "5000", "-l", "0.99")
    assert text.exit_code == 0, text.output
    assert "simulated (5000 paths)" in text.output


def test_cli_backtest_table_and_series(cli, tmp_path):
    out = tmp_path / "bt.csv"
    res = cli("backtest", INDICES, "-t", "SPX", "--start", "2006-01-01", "--end", "2011-12-31",
              "--window", "250", "--refit", "50", "-k", "2", "--out", out, "--plot", tmp_path, "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    frame = pd.read_csv(out, index_col=0)
    n_returns = len(load_returns(INDICES, ["SPX"], start="2006-01-01", end="2011-12-31")[0])
    assert len(frame) == info["rows"][0]["n"] == n_returns - 250
    for row in info["rows"]:
        assert row["exceedances"] == frame[f"hit_{row['model']}"].sum()
        assert row["basel_zone"] in ("green", "yellow", "red")
        assert 0 <= row["kupiec_p"] <= 1
    assert (tmp_path / "finance_backtest_SPX.png").stat().st_size > 10_000
    again = cli("backtest", INDICES, "-t", "SPX", "--start", "2006-01-01", "--window", "250", "--out", out)
    assert again.exit_code == 2 and "exists" in again.output


def test_cli_backtest_default_is_gjr_filtered_and_garch_runs(cli, tmp_path):
    args = ("backtest", INDICES, "-t", "SPX", "--start", "2007-01-01", "--end", "2010-12-31",
            "--window", "250", "--refit", "50", "-k", "2")
    runs = {}
    for vol in ("default", "none", "garch"):
        out = tmp_path / f"{vol}.csv"
        res = cli(*args, "--json", "--out", out, *(() if vol == "default" else ("--vol", vol)))
        assert res.exit_code == 0, res.output
        runs[vol] = json.loads(res.output)
        frame = pd.read_csv(out, index_col=0)
        changes = (frame["var_normal"].diff().abs() > 1e-12).sum()
        # filtered forecasts move every day with the volatility forecast; the plain window's
        # only at the refits
        assert changes == (runs[vol]["n_refits"] - 1 if vol == "none" else len(frame) - 1)
    default, garch = runs["default"]["garch"], runs["garch"]["garch"]
    assert runs["default"]["vol"] == "gjr" and default["median_gamma"] > 0.05
    assert garch["median_gamma"] == 0.0 and garch["not_converged"] == default["not_converged"] == 0
    assert 0.8 < garch["median_persistence"] < 1.0
    assert runs["none"]["rows"][0]["n"] == runs["garch"]["rows"][0]["n"] == runs["default"]["rows"][0]["n"]
    text = cli(*args, "--vol", "ewma")
    assert text.exit_code == 0 and "vol ewma" in text.output and "refits: median alpha" not in text.output


def test_cli_bad_vol_is_a_one_line_error(cli):
    for cmd in ("backtest", "risk"):
        res = cli(cmd, INDICES, "-t", "SPX", "--start", "2017-01-01", "--vol", "garch11")
        assert res.exit_code == 2 and "--vol must be one of none, ewma, garch, gjr" in res.output
        assert len(res.output.strip().splitlines()) == 1


def test_garch_paths_one_period_and_constant_variance_match_closed_forms():
    from gmmkit_apps.finance.risk import garch_risk_table

    z = np.random.default_rng(1).standard_normal(5000)
    mix = NormalMixture([0.8, 0.2], [0.1, -0.4], [0.8, 1.6])
    g = vl.Garch(mu=2e-4, omega=1e-6, alpha=0.08, gamma=0.1, beta=0.85)
    rows = garch_risk_table(z, mix, g, 0.012, levels=(0.99,), horizon=1, n_sims=400_000)
    exact = mix.scaled(g.mu, 0.012)
    assert rows[0]["var"] == pytest.approx(exact.value_at_risk(0.99), rel=0.01)
    assert rows[0]["es"] == pytest.approx(exact.expected_shortfall(0.99), rel=0.01)
    # no ARCH terms and the forecast at the fixed point: the variance stays put, so the
    # 10-period normal figures are the sqrt(10) closed form
    flat = vl.Garch(mu=0.0, omega=1e-5, alpha=0.0, beta=0.9)
    sd = float(np.sqrt(flat.long_run_variance))
    rows = garch_risk_table(z, mix, flat, sd, levels=(0.99,), horizon=10, n_sims=200_000)
    normal = next(r for r in rows if r["model"] == "normal")
    m, s = z.mean(), z.std()
    v, e = normal_var_es(10 * m * sd, s * sd * np.sqrt(10), 0.99)
    assert normal["var"] == pytest.approx(v, rel=0.02) and normal["es"] == pytest.approx(e, rel=0.02)
    # with ARCH terms a bad first period raises the later volatility: fatter multi-period tails
    clustered = vl.Garch(mu=0.0, omega=1e-5 * 0.05 / 0.1, alpha=0.05, gamma=0.1, beta=0.85)
    assert clustered.long_run_variance == pytest.approx(flat.long_run_variance)
    rows_c = garch_risk_table(z, mix, clustered, sd, levels=(0.99,), horizon=10, n_sims=200_000)
    assert rows_c[0]["es"] > rows[0]["es"] * 1.02


def test_cli_risk_gjr_several_periods_simulates_variance_paths(cli):
    base = ("risk", INDICES, "-t", "SPX", "--start", "2012-01-01", "-k", "2", "-l", "0.99", "--json",
            "--sims", "20000")
    one = json.loads(cli(*base, "--vol", "gjr").output)
    ten = cli(*base, "--vol", "gjr", "--horizon", "10")
    assert ten.exit_code == 0, ten.output
    rows = {r["model"]: r for r in json.loads(ten.output)["rows"]}
    assert rows["gmm"]["method"].startswith("GARCH simulation")
    assert rows["historical"]["method"].startswith("filtered bootstrap")
    gmm1 = next(r for r in one["rows"] if r["model"] == "gmm")
    # ten periods: between sqrt(10)/2 and 2 sqrt(10) times the one-period VaR
    assert 0.5 * np.sqrt(10) < rows["gmm"]["var"] / gmm1["var"] < 2 * np.sqrt(10)


def test_cli_risk_garch_scales_to_the_next_forecast(cli):
    res = cli("risk", INDICES, "-t", "SPX", "--start", "2015-01-01", "-k", "2", "--vol", "garch",
              "-l", "0.99", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    r = load_returns(INDICES, ["SPX"], start="2015-01-01")[0]["SPX"].to_numpy()
    g = vl.fit_garch(r)
    assert out["garch"]["beta"] == pytest.approx(g.beta, rel=1e-9)
    s2 = g.variance(r)
    assert out["sigma_next"] == pytest.approx(math.sqrt(s2[-1]))
    z = (r - g.mu) / np.sqrt(s2[:-1])
    hs = next(row for row in out["rows"] if row["model"] == "historical")
    assert hs["var"] == pytest.approx(math.sqrt(s2[-1]) * historical_var_es(z, 0.99)[0] - g.mu)


def test_cli_regimes_export(cli, tmp_path):
    out = tmp_path / "reg.csv"
    res = cli("regimes", INDICES, "-t", "SPX", "--start", "2007-01-01", "--end", "2009-12-31", "-k", "2",
              "--model", "mixture", "--out", out)
    assert res.exit_code == 0, res.output
    frame = pd.read_csv(out, index_col=0, parse_dates=True)
    assert set(frame["regime"]) == {"calm", "turbulent"}
    by = frame.groupby("regime")["return"].std()
    assert by["turbulent"] > 2 * by["calm"]
    # October 2008 was turbulent
    assert (frame.loc["2008-10", "regime"] == "turbulent").mean() > 0.5


def test_cli_portfolio(cli):
    res = cli("portfolio", INDICES, "-t", "SPX", "-t", "IXIC", "-w", "0.5,0.5", "--start", "2010-01-01",
              "-k", "2", "--sims", "20000", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["tickers"] == ["SPX", "IXIC"] and len(out["stress"]["asset_means"]) == 2
    gmm99 = next(r for r in out["rows"] if r["model"] == "gmm" and r["level"] == 0.99)
    assert gmm99["var"] == pytest.approx(-out["stress"]["quantile"], rel=0.1)
    bad = cli("portfolio", INDICES, "-t", "SPX", "-t", "IXIC", "-w", "0.5")
    assert bad.exit_code == 2


def test_cli_bad_inputs_are_one_line_errors(cli, tmp_path):
    dates = list(pd.bdate_range("2020-01-01", periods=40))
    path = write_prices(tmp_path / "dup.csv", dates[:10] + [dates[9]] + dates[10:], np.linspace(100, 140, 41))
    res = cli("fit", path)
    assert res.exit_code == 2 and "duplicated date 2020-01-14" in res.output
    short = write_prices(tmp_path / "short.csv", dates, np.linspace(100, 140, 40))
    res = cli("backtest", short, "--window", "100")
    assert res.exit_code == 2 and "too short" in res.output
    res = cli("fit", INDICES)
    assert res.exit_code == 2 and "--ticker" in res.output
    res = cli("fit", INDICES, "-t", "DAX")
    assert res.exit_code == 2 and "not found" in res.output


def test_percent_returns_are_detected_and_converted(cli, tmp_path):
    dec, _ = load_returns(INDICES, ["SPX"], start="2015-01-01")
    (dec * 100).to_csv(tmp_path / "pct.csv")
    res = cli("risk", tmp_path / "pct.csv", "--log-returns", "-k", "2")
    assert res.exit_code == 2 and "look like percentages" in res.output and "--percent" in res.output
    conv, freq = load_returns(tmp_path / "pct.csv", kind="returns", percent=True)
    assert freq == "daily"
    np.testing.assert_allclose(conv.to_numpy(), dec.to_numpy(), rtol=1e-12)
    # monthly decimal returns are larger than daily ones and must not be mistaken for percents
    monthly = dec.resample("ME").sum()
    monthly.to_csv(tmp_path / "monthly.csv")
    assert load_returns(tmp_path / "monthly.csv", kind="returns")[1] == "monthly"
    (monthly * 100).to_csv(tmp_path / "monthly_pct.csv")
    with pytest.raises(DataError, match="per month"):
        load_returns(tmp_path / "monthly_pct.csv", kind="returns")
    with pytest.raises(ParameterError, match="--log-returns"):
        load_returns(INDICES, ["SPX"], percent=True)


def test_given_frequency_must_match_the_dates(cli):
    res = cli("fit", INDICES, "-t", "SPX", "--freq", "monthly")
    assert res.exit_code == 2 and "--freq monthly does not match the dates, which are daily" in res.output
    assert load_returns(INDICES, ["SPX"], freq="daily", start="2018-01-01")[1] == "daily"


def test_cli_risk_ewma_scales_to_the_next_volatility_forecast(cli):
    res = cli("risk", INDICES, "-t", "SPX", "--start", "2016-01-01", "-k", "2", "--vol", "ewma", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    r = load_returns(INDICES, ["SPX"], start="2016-01-01")[0]["SPX"].to_numpy()
    s2 = r[:500].var()
    for x in r:                       # the recursion written out, one step past the last return
        s2 = 0.94 * s2 + 0.06 * x * x
    assert out["sigma_next"] == pytest.approx(math.sqrt(s2))
    z = r / vl.ewma_volatility(r, lam=0.94, init_periods=500)
    norm = next(row for row in out["rows"] if row["model"] == "normal" and row["level"] == 0.99)
    assert norm["var"] == pytest.approx(math.sqrt(s2) * normal_var_es(z.mean(), z.std(), 0.99)[0])


def test_cli_module_imports_nothing_heavy():
    import subprocess
    import sys

    code = ("import sys, gmmkit_apps.finance.cli; "
            "print(sorted(m for m in ('numpy', 'pandas', 'scipy', 'matplotlib', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_plot_names_are_safe_for_files(cli, tmp_path):
    res = cli("regimes", DATA / "sp500.csv.gz", "--start", "2018-01-01", "-k", "2", "--plot", tmp_path,
              "--quiet")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "finance_regimes_sp500.png").exists()


def test_span_selection_checks_only_the_span(tmp_path):
    dates = pd.bdate_range("2020-01-01", periods=60)
    values = np.linspace(100, 160, 60)
    values[5] = -1.0                                  # bad price before the selected span
    path = write_prices(tmp_path / "p.csv", dates, values)
    with pytest.raises(DataError, match="non-positive"):
        load_returns(path)
    r, _ = load_returns(path, start=str(dates[20].date()), end=str(dates[40].date()))
    assert r.index[0] == dates[20] and r.index[-1] == dates[40]
    assert r["SPX"].iloc[0] == pytest.approx(math.log(values[20] / values[19]))
    with pytest.raises(ParameterError, match="not a date"):
        load_returns(path, start="yesterday-ish")


def test_returns_file_with_date_index_in_parquet(tmp_path):
    prices, _ = load_returns(INDICES, ["SPX", "IXIC"], start="2018-01-01")
    prices.to_parquet(tmp_path / "ret.parquet")          # dates stored as the index
    again, freq = load_returns(tmp_path / "ret.parquet", ["IXIC"], kind="returns")
    assert freq == "daily"
    np.testing.assert_allclose(again["IXIC"].to_numpy(), prices["IXIC"].to_numpy())


def test_bic_passes_over_a_spike_on_one_month_of_brent():
    # monthly Brent 1987-2020 (arch's data): BIC's best K=3 puts a component of weight 1/392 on one month
    r = load_returns(DATA / "crude.csv.gz", ["Brent"])[0]["Brent"].to_numpy()
    res = fit_mixture(r, max_components=4)
    assert 3 in res.excluded and min(res.bic_table, key=res.bic_table.get) == 3
    assert res.mixture.n_components == 2
    from gmmkit_apps.finance.dist import small_components

    assert small_components(res.mixture.weights, res.mixture.sds, r.size, r.std()).size == 0
