"""GMMHMM against independent implementations: hmmlearn's GaussianHMM and GMMHMM
(log-likelihood traces from the same start to 1e-8 relative), statsmodels'
MarkovRegression (a Markov-switching model on S&P 500 returns), and the EM
property that Baum-Welch never lowers the likelihood."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

from gmmkit import GMMHMM
from gmmkit.exceptions import DegenerateComponentWarning
from tests.core import hmm_oracle as oracle
from tests.core.hmm_oracle import fit_from, sequences, start_model

N_ITER = 10


def max_rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - b) / np.abs(b)))


@pytest.fixture(scope="module")
def data():
    X, lengths = sequences(np.random.default_rng(21), n_seq=10, D=3, S=3, lo=60, hi=120)
    return X, lengths


@pytest.mark.parametrize("cov_type", ["diag", "full"])
def test_trace_equals_hmmlearn_gaussian_hmm(data, cov_type):
    X, lengths = data
    start = start_model(X, lengths, 3, 1, cov_type)
    ours = fit_from(start, X, lengths, N_ITER).lower_bounds_ * X.shape[0]
    theirs = oracle.hmmlearn_trace(oracle.gaussian_hmm(start), X, lengths, N_ITER)
    assert max_rel(ours, theirs) < 1e-8
    assert theirs[-1] - theirs[0] > 1.0  # the trace moved: the comparison is not of a fixed point


@pytest.mark.parametrize("cov_type", ["diag", "full"])
@pytest.mark.parametrize("M", [1, 2])
def test_trace_equals_hmmlearn_gmmhmm_with_fixed_covariances(data, cov_type, M):
    X, lengths = data
    start = start_model(X, lengths, 3, M, cov_type)
    ours = fit_from(start, X, lengths, N_ITER, params="stmw").lower_bounds_ * X.shape[0]
    theirs = oracle.hmmlearn_trace(oracle.hmmlearn_model(start, params="stmw"), X, lengths, N_ITER)
    assert max_rel(ours, theirs) < 1e-8


@pytest.mark.parametrize("cov_type", ["diag", "full"])
def test_trace_equals_hmmlearn_gmmhmm_with_centred_covariance_update(data, cov_type):
    """hmmlearn 0.3.3's GMMHMM sums covariance statistics about the previous means (not
    the M-step's new ones); with that one line moved to the new means, every iteration agrees."""
    X, lengths = data
    start = start_model(X, lengths, 3, 2, cov_type)
    ours = fit_from(start, X, lengths, N_ITER).lower_bounds_ * X.shape[0]
    theirs = oracle.hmmlearn_trace(oracle.hmmlearn_model(start, corrected=True), X, lengths, N_ITER)
    assert max_rel(ours, theirs) < 1e-8
    plain = oracle.hmmlearn_trace(oracle.hmmlearn_model(start), X, lengths, N_ITER)
    assert plain[0] == pytest.approx(ours[0], rel=1e-12)  # same start, same first E-step


def test_markov_switching_equals_statsmodels():
    """Two-state Gaussian HMM on daily S&P 500 returns = Hamilton's Markov-switching model
    (MarkovRegression, switching mean and variance), both from a start of (1/2, 1/2)."""
    import pandas as pd
    import statsmodels.api as sm

    from tests.helpers import ROOT

    prices = pd.read_csv(ROOT / "datasets" / "finance" / "indices.csv.gz")["SPX"].to_numpy()
    r = 100 * np.diff(np.log(prices))
    mod = sm.tsa.MarkovRegression(r, k_regimes=2, trend="c", switching_variance=True)
    mod.initialize_known(np.array([0.5, 0.5]))
    res = mod.fit(em_iter=200, search_reps=0)
    P = res.model.regime_transition_matrix(res.params)[:, :, 0].T  # statsmodels: P[i, j] = p(j -> i)
    ours = GMMHMM(2, 1, "full", params="tmcw", startprob_init=[0.5, 0.5], tol=1e-12, max_iter=2000,
                  reg_covar=0.0, random_state=0).fit(r[:, None])
    order = np.argsort(ours.covariances_.ravel())  # calm regime first, as statsmodels found it
    sm_order = np.argsort(res.params[4:6])
    assert ours.score(r[:, None]) == pytest.approx(res.llf, rel=1e-4)
    np.testing.assert_allclose(ours.transmat_[np.ix_(order, order)], P[np.ix_(sm_order, sm_order)], atol=1e-4)
    np.testing.assert_allclose(ours.covariances_.ravel()[order], res.params[4:6][sm_order], rtol=1e-3)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), S=st.integers(1, 3), M=st.integers(1, 2),
       cov_type=st.sampled_from(["diag", "full", "tied", "spherical"]), D=st.integers(1, 3))
def test_baum_welch_never_lowers_the_likelihood(seed, S, M, cov_type, D):
    rng = np.random.default_rng(seed)
    X, lengths = sequences(rng, n_seq=4, D=D, S=max(S, 2), lo=40, hi=80)
    est = GMMHMM(S, M, cov_type, reg_covar=0.0, tol=1e-10, max_iter=15, random_state=seed)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("error", DegenerateComponentWarning)
        try:
            est.fit(X, lengths)
        except DegenerateComponentWarning:  # re-seeding restarts a component: not an EM step
            return
    lb = est.lower_bounds_
    assert np.all(np.diff(lb) >= -1e-10 * np.abs(lb[1:]))
