"""ES backtests (Acerbi-Szekely Z2, McNeil-Frey), point masses and the rolling 1-D EM (issue 22)."""
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from gmmkit import GaussianMixture
from gmmkit_apps.finance import estests as es
from gmmkit_apps.finance.backtest import evaluate
from gmmkit_apps.finance.dist import NormalMixture
from gmmkit_apps.finance.em1d import em_1d
from gmmkit_apps.finance.pointmass import PointMassMixture, atom_loglik, find_atoms
from gmmkit_apps.finance.rolling import rolling_forecasts

# ---------------------------------------------------------------- ES tests, as the papers define them

T_DF = 4
T_SCALE = np.sqrt((T_DF - 2) / T_DF)     # unit-variance Student-t


def _t_var_es(level, scale=1.0):
    a = 1 - level
    q = stats.t.ppf(a, T_DF)
    es_std = stats.t.pdf(q, T_DF) / a * (T_DF + q * q) / (T_DF - 1)     # E[-T | T < q] for a standard t
    return -q * T_SCALE * scale, es_std * T_SCALE * scale


def test_z2_matches_its_definition_and_is_centred_under_the_null():
    level = 0.975
    var, esv = _t_var_es(level)
    rng = np.random.default_rng(0)
    x = stats.t.rvs(T_DF, size=500_000, random_state=rng) * T_SCALE
    hits = x < -var
    # the paper's formula, written out by hand
    z2 = np.sum(x * hits / esv) / (x.size * (1 - level)) + 1
    assert es.acerbi_szekely_z2(x, np.full(x.size, var), np.full(x.size, esv), level) == pytest.approx(z2)
    assert abs(z2) < 0.02            # E[Z2] = 0 under the null
    # the ES of the unit-variance t by numerical integration, as a check on _t_var_es
    dens = lambda v: -v * stats.t.pdf(v / T_SCALE, T_DF) / T_SCALE        # noqa: E731
    assert integrate.quad(dens, -np.inf, -var)[0] / (1 - level) == pytest.approx(esv, rel=1e-6)


def _pvalues(n_rep, forecast, *, n=500, level=0.975, n_sims=199):
    """Z2 and McNeil-Frey p-values for ``n_rep`` samples of unit-variance t returns. ``forecast``:
    ``"t"`` (the truth: the null holds), ``"narrow"`` (the t at 0.75 of its scale: VaR and ES too
    small), ``"normal"`` (a normal with the right VaR: the ES too small beyond it)."""
    var, esv = _t_var_es(level, 0.75 if forecast == "narrow" else 1.0)
    sd = 0.75 if forecast == "narrow" else 1.0
    if forecast == "normal":
        z = stats.norm.ppf(1 - level)
        sd = var / -z
        esv = sd * stats.norm.pdf(z) / (1 - level)
    v, e, s = np.full(n, var), np.full(n, esv), np.full(n, sd)
    out = []
    for i in range(n_rep):
        rng = np.random.default_rng(100 + i)
        x = rng.standard_t(T_DF, n) * T_SCALE

        def draw(g, m):
            if forecast == "normal":
                return g.normal(0, sd, size=(m, n))
            return g.standard_t(T_DF, (m, n)) * (T_SCALE * sd)

        z = es.z2_test(x, v, e, level, draw, n_sims=n_sims, random_state=i)["p_value"]
        mf = es.mcneil_frey_test(x, v, e, s, n_boot=n_sims, random_state=i)["p_value"]
        out.append((z, mf))
    return np.array(out)


def test_es_tests_have_uniform_p_values_under_the_null_and_reject_an_understated_es():
    null = _pvalues(120, "t")
    for p in null.T:
        p = p[np.isfinite(p)]
        assert stats.kstest(p, "uniform").pvalue > 0.01
        assert 0.0 < np.mean(p < 0.05) < 0.12
    # Z2 sees a forecast that is too narrow everywhere; McNeil-Frey, which conditions on the
    # exceedances, does not (the t's ES/VaR ratio does not depend on its scale) ...
    narrow = _pvalues(30, "narrow")
    assert np.mean(narrow[:, 0] < 0.05) > 0.9
    # ... but it sees a right VaR with too thin a tail beyond it (Z2 less often: 23% in this setting)
    thin = _pvalues(30, "normal", n=1000)
    assert np.mean(thin[:, 1] < 0.05) > 0.8 and np.mean(thin[:, 0] < 0.05) > 0.1


def test_mcneil_frey_residuals_and_too_few_exceedances():
    x = np.array([-3.0, 0.1, -2.5, 0.2])
    r = es.exceedance_residuals(x, np.full(4, 2.0), np.full(4, 2.6), np.full(4, 0.5))
    np.testing.assert_allclose(r, [(3.0 - 2.6) / 0.5, (2.5 - 2.6) / 0.5])
    assert np.isnan(es.mcneil_frey_test(x[:2], np.full(2, 2.0), np.full(2, 2.6), np.ones(2))["p_value"])


# ---------------------------------------------------------------- point masses

CONT = NormalMixture([0.8, 0.2], [0.0005, -0.001], [0.01, 0.03])


@pytest.mark.parametrize("values, probs", [([0.0], [0.1]), ([-0.1, 0.0], [0.02, 0.1]), ([-0.02, 0.0], [0.3, 0.1])])
def test_point_mass_var_es_against_a_large_sample(values, probs):
    pm = PointMassMixture(values, probs, CONT)
    x = np.sort(pm.sample(1_000_000, np.random.default_rng(1)))
    for level in (0.99, 0.975, 0.95):
        q = x[int(np.ceil((1 - level) * x.size)) - 1]
        assert pm.value_at_risk(level) == pytest.approx(-q, abs=1.5e-3)   # sampling error ~5e-4
        # ES as the mean of the worst alpha share (atoms split at the quantile)
        assert pm.expected_shortfall(level) == pytest.approx(-x[: int(round((1 - level) * x.size))].mean(),
                                                             rel=8e-3)
        # F(q) >= 1 - level and F(q-) <= 1 - level: the exact quantile
        v = -pm.value_at_risk(level)
        assert pm.cdf(v) >= 1 - level - 1e-9 and pm.cdf(v - 1e-9) <= 1 - level + 1e-9


def test_find_atoms_and_the_shared_atom_likelihood():
    r = np.r_[np.zeros(40), np.full(3, 0.01), np.random.default_rng(0).normal(0, 0.01, 957)]
    values, counts = find_atoms(r)
    assert values.tolist() == [0.0] and counts.tolist() == [40]          # 3 repeats are not an atom
    assert atom_loglik([40], 1000) == pytest.approx(40 * np.log(0.04) + 960 * np.log(0.96))


# ---------------------------------------------------------------- 1-D EM against the core's EM

def test_em_1d_matches_gaussian_mixture_from_the_same_start():
    rng = np.random.default_rng(3)
    x = np.r_[rng.normal(0, 0.6, 700), rng.normal(0.2, 1.5, 250), rng.normal(-1, 3.0, 50)]
    w0, m0, s0 = np.array([0.5, 0.3, 0.2]), np.array([0.0, 0.1, -0.5]), np.array([0.5, 1.0, 2.0])
    ours = em_1d(x, w0, m0, s0, max_iter=30, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = GaussianMixture(3, covariance_type="full", max_iter=30, tol=0.0, weights_init=w0,
                             means_init=m0[:, None], precisions_init=(1 / s0 ** 2)[:, None, None]).fit(x[:, None])
    np.testing.assert_allclose(ours.weights, gm.weights_, rtol=1e-6)
    np.testing.assert_allclose(ours.means, gm.means_[:, 0], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.sds ** 2, gm.covariances_.ravel(), rtol=1e-6)


def test_em_1d_floor_holds_a_collapsing_component():
    x = np.r_[np.zeros(60), np.random.default_rng(0).normal(0, 1, 440)]
    free = em_1d(x, [0.1, 0.9], [0.0, 0.0], [0.1, 1.0], max_iter=200)
    held = em_1d(x, [0.1, 0.9], [0.0, 0.0], [0.1, 1.0], max_iter=200, min_sd=0.05)
    assert free.sds.min() < 0.01                  # it collapses onto the zeros without the floor
    assert held.sds.min() == pytest.approx(0.05)


# ---------------------------------------------------------------- a backtest with zeros

def _stale_series(n=1400, share=0.1, seed=4):
    rng = np.random.default_rng(seed)
    r = stats.t.rvs(4, size=n, random_state=rng) * 0.01 * T_SCALE
    r[rng.random(n) < share] = 0.0
    return pd.Series(r, index=pd.bdate_range("2001-01-01", periods=n))


def test_backtest_with_zeros_models_them_as_a_point_mass():
    r = _stale_series()
    frames, info, fc = rolling_forecasts(r, levels=(0.99, 0.975), window=500, refit=50, n_components=2,
                                         vol="none")
    assert info["mean_atom_days"] > 30 and info["n_restarts"] == 0
    f99, f975 = frames[0.99], frames[0.975]
    assert (f99["var_gmm"] > f975["var_gmm"]).all() and (f99["es_gmm"] > f99["var_gmm"]).all()
    # the forecast VaR is the exact quantile of zeros + mixture: simulated draws agree
    draws = fc.draw("gmm", np.random.default_rng(0), 20_000)[:, :50].ravel()   # the first block: one distribution
    assert np.quantile(draws, 0.01) == pytest.approx(-f99["var_gmm"].iloc[0], rel=0.02)
    assert np.mean(draws == 0) == pytest.approx(fc.blocks[0].atoms[1][0], abs=0.002)
    rows = evaluate(f99, 0.99, forecasts=fc, n_sims=200)
    assert {"z2", "z2_p", "mf_p"} <= set(rows[0])
    assert all(0 < row["z2_p"] <= 1 for row in rows)


def test_fit_puts_stale_prices_in_a_point_mass_not_a_collapsed_component(tmp_path):
    from tests.helpers import app_runner

    cli = app_runner("finance")
    r = _stale_series(n=2000, share=0.12, seed=9)
    prices = 100 * np.exp(np.r_[0.0, r.to_numpy()].cumsum())
    pd.DataFrame({"Date": pd.bdate_range("2001-01-01", periods=prices.size), "Close": prices}).to_csv(
        tmp_path / "STALE.csv", index=False)
    import json

    res = cli("fit", tmp_path / "STALE.csv", "--json", "--max-components", "4")
    out = json.loads(res.output)
    assert out["ticker"] == "STALE" and out["point_masses"][0]["value"] == 0.0
    assert out["point_masses"][0]["share"] == pytest.approx(np.mean(r.to_numpy() == 0))
    assert min(c["sd"] for c in out["components"]) > 1e-3            # no component on the zeros
    rows = {row["model"]: row for row in out["comparison"]}
    assert rows["gmm"]["n_params"] == 3 * out["n_components"] - 1 + 1  # + the atom's share
    # without the point mass, BIC's best K has a component of almost no width on the zeros (the issue's
    # artefact): the width rule passes that K over, and says so
    res = cli("fit", tmp_path / "STALE.csv", "--json", "--max-components", "4", "--no-point-masses")
    out = json.loads(res.output)
    assert out["passed_over"] and "sd" in next(iter(out["passed_over"].values()))
    assert min(c["sd"] for c in out["components"]) > 1e-3
