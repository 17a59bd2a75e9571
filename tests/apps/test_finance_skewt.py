"""Hansen's skewed t (issue 22, part 4): density, quantile and ES against ``arch`` and numerical integrals,
and its use as a GARCH filter's own forecast distribution in ``risk`` and ``backtest``."""
import numpy as np
import pandas as pd
import pytest
from scipy import integrate

from gmmkit.exceptions import ParameterError
from gmmkit_apps.finance.rolling import rolling_forecasts
from gmmkit_apps.finance.skewt import SkewT, nll_terms
from gmmkit_apps.finance.volatility import Garch

SHAPES = [(2.2, -0.9), (3.5, -0.4), (6.0, -0.15), (10.0, 0.0), (25.0, 0.3), (300.0, 0.95)]


@pytest.mark.parametrize("eta, lam", SHAPES)
def test_log_density_matches_arch(eta, lam):
    arch = pytest.importorskip("arch")
    x = np.random.default_rng(0).standard_t(4, 200) * 0.02
    sigma2 = np.full(x.size, 0.015 ** 2)
    want = arch.univariate.SkewStudent().loglikelihood([eta, lam], x, sigma2, individual=True)
    np.testing.assert_allclose(SkewT(eta, lam, 0.0, 0.015).logpdf(x), want, rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("eta, lam", SHAPES)
def test_quantile_matches_arch_and_inverts_the_cdf(eta, lam):
    arch = pytest.importorskip("arch")
    p = np.array([1e-4, 0.01, 0.025, 0.2, 0.5, 0.8, 0.99])
    d = SkewT(eta, lam)
    np.testing.assert_allclose(d.ppf(p), arch.univariate.SkewStudent().ppf(p, [eta, lam]), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(d.cdf(d.ppf(p)), p, rtol=1e-10)


def _integral(d, g, upper):
    """``int_-inf^upper g(x) f(x) dx`` by quadrature, split at the density's kink (its mode)."""
    mode = d.loc - d.scale * d.a / d.b
    h = lambda x: g(x) * np.exp(d.logpdf(x))    # noqa: E731
    kw = dict(limit=400, epsabs=0.0, epsrel=1e-11)
    if upper <= mode:
        return integrate.quad(h, -np.inf, upper, **kw)[0]
    return integrate.quad(h, -np.inf, mode, **kw)[0] + integrate.quad(h, mode, upper, **kw)[0]


@pytest.mark.parametrize("eta, lam", SHAPES)
def test_standardised_and_es_matches_numerical_integral(eta, lam):
    d = SkewT(eta, lam, 0.001, 0.02)
    assert _integral(d, lambda x: 1.0, np.inf) == pytest.approx(1.0, abs=1e-8)
    assert _integral(d, lambda x: x, np.inf) == pytest.approx(0.001, abs=1e-9)
    if eta > 3:   # the second moment's integral converges too slowly below
        assert _integral(d, lambda x: (x - 0.001) ** 2, np.inf) == pytest.approx(0.02 ** 2, rel=1e-5)
    for level in (0.99, 0.975, 0.6):
        q = d.ppf(1 - level)
        es = -_integral(d, lambda x: x, q) / (1 - level)
        assert d.expected_shortfall(level) == pytest.approx(es, rel=1e-8)
        assert d.value_at_risk(level) == pytest.approx(-q)
    # a threshold above the mode takes both halves
    q = d.ppf(0.9)
    assert d.partial_mean(q) == pytest.approx(_integral(d, lambda x: x, q), rel=1e-8, abs=1e-13)


def test_sample_follows_the_distribution():
    d = SkewT(5.0, -0.3)
    x = d.sample(200_000, np.random.default_rng(1))
    for p in (0.01, 0.35, 0.5, 0.9, 0.99):      # the mode's CDF is 0.65 here: both sides are checked
        assert np.mean(x < d.ppf(p)) == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / x.size))
    assert x.mean() == pytest.approx(0.0, abs=0.01) and x.std() == pytest.approx(1.0, abs=0.02)


def test_derivatives_match_finite_differences():
    z = np.random.default_rng(3).standard_normal(60) * 2
    for eta, lam in SHAPES[:5]:
        _, dz, de, dl = nll_terms(z, eta, lam)
        h = 1e-6
        for got, (a, b) in [(dz, (nll_terms(z + h, eta, lam), nll_terms(z - h, eta, lam))),
                            (de, (nll_terms(z, eta + h, lam), nll_terms(z, eta - h, lam))),
                            (dl, (nll_terms(z, eta, lam + h), nll_terms(z, eta, lam - h)))]:
            np.testing.assert_allclose(got, (a[0] - b[0]) / (2 * h), rtol=1e-5, atol=1e-6)


def test_bad_shape_is_refused():
    for eta, lam in [(2.0, 0.0), (5.0, 1.0), (5.0, -1.2)]:
        with pytest.raises(ParameterError, match="skewed t"):
            SkewT(eta, lam)


def test_backtest_filter_row_is_the_fitted_skewt():
    """The ``filter`` column is the fitted GJR-skew-t: its VaR is ``sigma VaR_z - mu`` of that law."""
    rng = np.random.default_rng(4)
    g = Garch(mu=2e-4, omega=2e-6, alpha=0.03, beta=0.9, gamma=0.1)
    z = SkewT(5.0, -0.3).sample(1200, rng)[None, :]
    r = pd.Series(g.paths(z, 1.5e-4)[0, 500:], index=pd.bdate_range("2000-01-03", periods=700))
    frames, info, fc = rolling_forecasts(r, levels=(0.99, 0.975), window=500, refit=100, vol="gjr-skewt",
                                         methods=("filter", "gmm"), n_components=2)
    assert info["garch"]["median_lam"] < 0
    b = fc.blocks[0]
    d = b.dists["filter"]
    assert isinstance(d, SkewT) and d.lam < 0
    f = frames[0.99]
    np.testing.assert_allclose(f["var_filter"].to_numpy()[:100], f["sigma"].to_numpy()[:100]
                               * d.value_at_risk(0.99) - b.mu)
    assert np.all(f["es_filter"] > f["var_filter"])
    with pytest.raises(ParameterError, match="needs a GARCH"):
        rolling_forecasts(r, window=500, refit=100, vol="ewma", methods=("filter",))


def test_risk_adds_the_filters_own_row():
    """``risk --vol gjr-skewt``: a row of the fitted skewed t scaled to the next day's forecast."""
    from gmmkit_apps.finance.risk import conditional_risk

    rng = np.random.default_rng(5)
    g = Garch(mu=2e-4, omega=2e-6, alpha=0.03, beta=0.9, gamma=0.1)
    r = g.paths(SkewT(5.0, -0.3).sample(1100, rng)[None, :], 1.5e-4)[0, 500:]
    res = conditional_risk(r, vol="gjr-skewt", levels=(0.99, 0.975), n_components=2)
    fit = res["garch"]
    d = SkewT(fit.nu, fit.lam, res["mu"], res["sigma_next"])
    rows = {row["level"]: row for row in res["rows"] if row["model"] == "gjr-skewt"}
    assert set(rows) == {0.99, 0.975}
    for a, row in rows.items():
        assert row["var"] == pytest.approx(-d.ppf(1 - a))
        assert row["es"] == pytest.approx(d.expected_shortfall(a))
    assert not any(row["model"] == "gjr" for row in conditional_risk(r, vol="gjr", n_components=2)["rows"])


def test_cli_backtest_skewt_filter_row():
    from pathlib import Path

    from tests.helpers import app_runner

    indices = Path(__file__).resolve().parents[2] / "datasets" / "finance" / "indices.csv.gz"
    res = app_runner("finance")("backtest", indices, "-t", "SPX", "--start", "2007-01-01", "--end", "2010-12-31",
                                "--window", "250", "--refit", "50", "-k", "2", "--es-sims", "0", "--vol", "gjr-skewt")
    assert res.exit_code == 0, res.output
    assert "lambda -" in res.output                # the median skewness of the refits, negative on the S&P 500
    assert [line.split()[2] for line in res.output.splitlines() if line.startswith("   SPX")] == [
        "gmm", "normal", "historical", "filter"]
