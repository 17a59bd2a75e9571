"""GARCH/GJR filters with Gaussian, Student-t or skewed-t innovations against ``arch`` (issue 22, part 4)."""
from pathlib import Path

import numpy as np
import pytest

from gmmkit_apps.finance.data import load_returns
from gmmkit_apps.finance.garch_lik import negloglik
from gmmkit_apps.finance.volatility import fit_garch

INDICES = Path(__file__).resolve().parents[2] / "datasets" / "finance" / "indices.csv.gz"


@pytest.mark.parametrize("asymmetric", [False, True])
@pytest.mark.parametrize("dist", ["normal", "t", "skewt"])
def test_gradient_matches_finite_differences(asymmetric, dist):
    x = np.random.default_rng(2).standard_t(5, 400) * 0.8
    shape = {"normal": [], "t": [6.0], "skewt": [6.0, -0.3]}[dist]
    theta = np.r_[0.02, 0.04, 0.06, 0.88, [0.07] if asymmetric else [], shape]
    f, g = negloglik(theta, x, asymmetric, dist)
    h = 1e-6
    num = [(negloglik(theta + d, x, asymmetric, dist)[0] - negloglik(theta - d, x, asymmetric, dist)[0]) / (2 * h)
           for d in np.eye(theta.size) * h]
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("o, dist", [(0, "normal"), (1, "normal"), (0, "t"), (1, "t"), (0, "skewt"),
                                     (1, "skewt")])
def test_fits_agree_with_arch(o, dist):
    arch = pytest.importorskip("arch")
    r = load_returns(INDICES, ["SPX"], start="2010-01-01")[0]["SPX"].to_numpy()
    res = arch.arch_model(r * 100, mean="Constant", vol="GARCH", p=1, o=o, q=1, dist=dist,
                          rescale=False).fit(disp="off")
    p = res.params
    g = fit_garch(r, asymmetric=bool(o), dist=dist)
    assert g.mu * 100 == pytest.approx(p["mu"], rel=0.02)
    assert g.omega * 1e4 == pytest.approx(p["omega"], rel=0.02)
    assert g.alpha == pytest.approx(p["alpha[1]"], abs=2e-3)
    assert g.beta == pytest.approx(p["beta[1]"], abs=2e-3)
    if o:
        assert g.gamma == pytest.approx(p["gamma[1]"], abs=2e-3)
    if dist == "t":
        assert g.nu == pytest.approx(p["nu"], rel=0.01)
    if dist == "skewt":
        # arch's standard errors: eta 0.6-0.7, lambda 0.025-0.028; seen apart: 0.005 and 0.0002 (the
        # start of the variance recursion differs), so 1% and 0.002 are a small share of either
        assert g.nu == pytest.approx(p["eta"], rel=0.01)
        assert g.lam == pytest.approx(p["lambda"], abs=2e-3)
        assert g.lam < -0.05                 # equity returns: a longer left tail
    # log-likelihood on the returns' scale (arch's is on percent returns); the start of the variance
    # recursion differs (arch: a backcast), worth about one unit here
    assert g.loglik == pytest.approx(res.loglikelihood + r.size * np.log(100), abs=3.0)
