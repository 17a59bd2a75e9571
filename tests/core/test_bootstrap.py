"""Bootstrap standard errors and the bootstrap likelihood-ratio test against mclust's
MclustBootstrap and mclustBootstrapLRT (numbers stored by
tests/data/make_mclust_uncertainty.py with 999 replicates: the tests do not need R)."""
import json
import os

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linear_sum_assignment

from gmmkit import GaussianMixture
from gmmkit.bootstrap import bootstrap, bootstrap_lrt
from gmmkit.exceptions import ParameterError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
with open(os.path.join(ROOT, "tests", "data", "mclust_uncertainty.json")) as fh:
    MCLUST = json.load(fh)
# mclust's EM stops at a relative change of 1e-5: its log-likelihoods sit up to ~0.01 below the
# converged maximum (faithful EEE, K=3: -1126.326 against -1126.316)
LOGLIK_ATOL = 0.015


def _faithful():
    d = MCLUST["datasets"]["faithful"]
    X = pd.read_csv(os.path.join(ROOT, d["file"]))[d["columns"]].to_numpy(np.float64)
    gm = GaussianMixture(d["n_components"], covariance_type=d["model"], tol=1e-8, max_iter=1000,
                         random_state=0).fit(X)
    # our components in mclust's order (matched by their means)
    cost = ((gm.means_[:, None] - np.asarray(d["means"])[None]) ** 2).sum(axis=-1)
    rows, cols = linear_sum_assignment(cost)
    return d, X, gm, rows[np.argsort(cols)]


@pytest.mark.parametrize("kind", ["bs", "wlbs"])
def test_standard_errors_agree_with_mclust_bootstrap(kind):
    """300 replicates against mclust's 999: each standard error within 20% (the Monte Carlo
    error of a standard deviation over 300 replicates is 5-10% here: the two overlapping
    components trade rows). The refits stop as mclust's do: a relative change of 1e-5 in
    log L is a change of ~4e-5 in the mean (refitted to full convergence, the standard errors
    of the overlapping components come out 10-30% larger: docs/uncertainty.md)."""
    d, X, gm, order = _faithful()
    np.testing.assert_allclose(gm.weights_[order], d["weights"], rtol=0.03)  # mclust stopped early
    gm.set_params(tol=1e-5 * abs(d["loglik"]) / len(X))
    res = bootstrap(gm, X, n_boot=300, kind=kind, random_state=1)
    se, ref = res.standard_errors(), d["bootstrap"][kind]
    assert res.n_boot == 300 and res.covariances.shape == (300, 3, 2, 2)
    np.testing.assert_allclose(se["weights"][order], ref["se_weights"], rtol=0.2)
    np.testing.assert_allclose(se["means"][order], ref["se_means"], rtol=0.2)
    np.testing.assert_allclose(se["covariances"][order], ref["se_covariances"], rtol=0.2)
    # the replicates centre on the fit (mclust's averages, within 2 of mclust's standard errors)
    ave = res.averages()
    assert np.all(np.abs(ave["means"][order] - np.asarray(ref["ave_means"])) <= 2 * np.asarray(ref["se_means"]))
    ci = res.confidence_intervals(0.9)
    assert np.all(ci["weights"][0] < gm.weights_) and np.all(gm.weights_ < ci["weights"][1])


def test_lrt_statistics_equal_mclusts_and_bootstrap_distribution_agrees():
    d = MCLUST["datasets"]["faithful"]
    X = pd.read_csv(os.path.join(ROOT, d["file"]))[d["columns"]].to_numpy(np.float64)
    ref = d["lrt"]
    res = bootstrap_lrt(X, d["model"], max_components=2, n_boot=25, random_state=0, tol=1e-8, max_iter=1000)
    assert res.n_components == [1, 2]
    for k in (1, 2, 3):  # the same maxima (mclust's never above ours)
        assert res.log_likelihoods[k] == pytest.approx(ref["loglik"][str(k)], abs=LOGLIK_ATOL)
        assert ref["loglik"][str(k)] <= res.log_likelihoods[k] + 1e-6
    # K = 1 against 2: both fits converged in mclust, the statistic is the same to 1e-7
    assert res.statistics[0] == pytest.approx(ref["obs"][0], rel=1e-7)
    assert res.statistics[1] == pytest.approx(ref["obs"][1], abs=2 * LOGLIK_ATOL)
    # the bootstrap statistics' mean, within 4 Monte Carlo standard errors of mclust's
    for j in range(2):
        mc = 4 * ref["boot_sd"][j] * np.sqrt(1 / 25 + 1 / MCLUST["nboot"])
        assert abs(np.mean(res.bootstrap[:, j]) - ref["boot_mean"][j]) <= mc
    # both tests significant, as in mclust (p = 1/26: no replicate reaches the statistic)
    np.testing.assert_allclose(res.p_values, 1 / 26)
    assert all(p <= 0.05 for p in ref["p"][:2]) and res.selected == 3
    assert list(res.table()["alternative"]) == [2, 3]


def test_the_sequential_lrt_stops_at_the_first_non_significant_test():
    rng = np.random.default_rng(5)
    X = np.vstack([rng.normal(-4, 1, (120, 2)), rng.normal(4, 1, (120, 2))])
    res = bootstrap_lrt(X, "VII", n_boot=19, random_state=0)
    assert res.n_components == [1, 2] and res.p_values[0] == pytest.approx(1 / 20)
    assert res.p_values[1] > 0.05 and res.selected == 2
    assert res.bootstrap.shape == (19, 2) and np.all(np.isfinite(res.bootstrap))


def test_bad_input_is_refused():
    X = np.random.default_rng(0).normal(size=(60, 2))
    gm = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ParameterError, match="kind"):
        bootstrap(gm, X, kind="jk")
    with pytest.raises(ParameterError, match="shape"):
        bootstrap(gm, X[:, :1])
    with pytest.raises(ParameterError, match="level"):
        bootstrap_lrt(X, level=1.5)
    with pytest.raises(ParameterError, match="level"):
        bootstrap(gm, X, n_boot=3).confidence_intervals(2)
