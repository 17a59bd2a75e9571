"""BayesianGaussianMixture against scikit-learn's (the oracle): lower-bound traces, fitted
attributes and predictions from the same start, on real data sets."""
from pathlib import Path

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture as SklearnBGM
from sklearn.utils.estimator_checks import check_estimator

import gmmkit._em.variational as variational
from gmmkit.bayesian import BayesianGaussianMixture
from gmmkit.exceptions import DataError, ParameterError

TABLES = Path(__file__).resolve().parents[2] / "datasets" / "tables"
COV_TYPES = ["full", "tied", "diag", "spherical"]
PRIOR_TYPES = ["dirichlet_process", "dirichlet_distribution"]
no_convergence_warning = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def table(name):
    import pandas as pd

    return np.ascontiguousarray(pd.read_csv(TABLES / f"{name}.csv").select_dtypes("number").to_numpy(float))


def trace(est):
    # scikit-learn keeps (1,)-arrays in lower_bounds_ for the tied type
    return np.array([float(np.ravel(v)[0]) for v in est.lower_bounds_])


class SklearnFromResp(SklearnBGM):
    """scikit-learn's estimator started from given responsibilities."""

    def _initialize_parameters(self, X, random_state, xp=None):
        self._initialize(X, self.start_resp)


def fit_both(X, resp, monkeypatch, sample_weight=None, **kw):
    """Both estimators from the same initial responsibilities ``resp``."""
    sk = SklearnFromResp(**kw)
    sk.start_resp = resp
    sk.fit(X)
    monkeypatch.setattr(variational, "initial_partition",
                        lambda problem, init_params, rng: (resp, None, problem.sample_w if problem.sample_w.size
                                                           else None))
    gk = BayesianGaussianMixture(**kw).fit(X, sample_weight=sample_weight)
    return sk, gk


def kmeans_resp(X, K, seed=0):
    labels = KMeans(K, n_init=1, random_state=seed).fit(X).labels_
    return np.eye(K)[labels]


def assert_same_posterior(sk, gk, rtol=1e-7):
    for name in ("mean_precision_", "means_", "degrees_of_freedom_", "covariances_", "precisions_cholesky_",
                 "precisions_", "weights_"):
        np.testing.assert_allclose(getattr(gk, name), getattr(sk, name), rtol=rtol, atol=1e-10, err_msg=name)
    np.testing.assert_allclose(np.asarray(gk.weight_concentration_), np.asarray(sk.weight_concentration_),
                               rtol=rtol)


@no_convergence_warning
@pytest.mark.parametrize("data", ["iris", "faithful", "banknote", "wdbc"])
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_lower_bound_trace_equals_sklearn_from_the_same_start(data, prior_type, cov_type, monkeypatch):
    X = table(data)
    K = 4
    kw = dict(n_components=K, covariance_type=cov_type, weight_concentration_prior_type=prior_type,
              max_iter=8, tol=0.0)
    sk, gk = fit_both(X, kmeans_resp(X, K), monkeypatch, **kw)
    assert len(gk.lower_bounds_) == 8
    np.testing.assert_allclose(trace(gk), trace(sk), rtol=1e-8, atol=0)
    assert_same_posterior(sk, gk)
    np.testing.assert_allclose(gk.predict_proba(X), sk.predict_proba(X), rtol=1e-7, atol=1e-9)
    # atol: scikit-learn computes X U - mu U, which cancels on data far from the origin
    np.testing.assert_allclose(gk.score_samples(X), sk.score_samples(X), rtol=1e-9, atol=1e-8)
    assert gk.score(X) == pytest.approx(sk.score(X), rel=1e-9)


@no_convergence_warning
@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_initialisations_draw_what_sklearn_draws(init_params):
    # no start fed: the same random_state gives the same starts, restarts and best run
    X = table("faithful")
    kw = dict(n_components=5, max_iter=10, tol=0.0, random_state=3, init_params=init_params, n_init=2)
    sk, gk = SklearnBGM(**kw).fit(X), BayesianGaussianMixture(**kw).fit(X)
    np.testing.assert_allclose(trace(gk), trace(sk), rtol=1e-8)
    assert_same_posterior(sk, gk)


@no_convergence_warning
def test_warm_start_predict_and_sample_as_sklearn():
    X = table("iris")
    kw = dict(n_components=3, covariance_type="tied", max_iter=4, tol=0.0, random_state=0, warm_start=True)
    sk, gk = SklearnBGM(**kw), BayesianGaussianMixture(**kw)
    for _ in range(2):  # the second fit continues from the first's posterior and bound
        sk.fit(X)
        gk.fit(X)
    assert gk.n_iter_ == sk.n_iter_ == 4
    np.testing.assert_allclose(trace(gk), trace(sk), rtol=1e-8)
    assert_same_posterior(sk, gk)
    np.testing.assert_array_equal(gk.predict(X), sk.predict(X))
    (xg, yg), (xs, ys) = gk.sample(40), sk.sample(40)
    np.testing.assert_allclose(xg, xs, rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(yg, ys)


def test_converges_as_sklearn_and_switches_spare_components_off():
    X = table("faithful")
    kw = dict(n_components=6, random_state=0, max_iter=500)
    sk, gk = SklearnBGM(**kw).fit(X), BayesianGaussianMixture(**kw).fit(X)
    assert gk.converged_ and gk.n_iter_ == sk.n_iter_
    assert gk.lower_bound_ == pytest.approx(float(np.ravel(sk.lower_bound_)[0]), rel=1e-8)
    assert (gk.weights_ > 0.05).sum() == 2  # faithful's two eruption types
    np.testing.assert_array_equal(gk.fit_predict(X), gk.predict(X))


@no_convergence_warning
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_the_bound_never_decreases(cov_type, rng):
    X = np.vstack([rng.normal(0, 1, (150, 3)), rng.normal(4, 0.5, (150, 3))])
    gk = BayesianGaussianMixture(n_components=5, covariance_type=cov_type, max_iter=40, tol=0.0,
                                 random_state=0, init_params="random").fit(X)
    lb = np.asarray(gk.lower_bounds_)
    assert np.all(np.diff(lb) >= -1e-9 * np.abs(lb[1:]))


@no_convergence_warning
@pytest.mark.parametrize("cov_type", ["full", "spherical"])
def test_integer_weights_equal_duplicated_rows(cov_type, monkeypatch):
    X = table("iris")
    w = np.random.default_rng(0).integers(0, 4, size=X.shape[0])
    resp = kmeans_resp(X, 3)
    kw = dict(n_components=3, covariance_type=cov_type, max_iter=6, tol=0.0)
    _, weighted = fit_both(X, resp, monkeypatch, sample_weight=w.astype(float), **kw)
    _, repeated = fit_both(np.repeat(X, w, axis=0), np.repeat(resp, w, axis=0), monkeypatch, **kw)
    np.testing.assert_allclose(weighted.lower_bounds_, repeated.lower_bounds_, rtol=1e-10)
    np.testing.assert_allclose(weighted.covariance_prior_, repeated.covariance_prior_, rtol=1e-12)
    assert_same_posterior(repeated, weighted, rtol=1e-9)


@no_convergence_warning
def test_float32_data_agree_with_float64():
    X = table("banknote")
    kw = dict(n_components=3, covariance_type="full", max_iter=10, tol=0.0, random_state=0)
    a = BayesianGaussianMixture(**kw).fit(X)
    b = BayesianGaussianMixture(**kw).fit(X.astype(np.float32))
    np.testing.assert_allclose(b.lower_bounds_, a.lower_bounds_, rtol=1e-4)
    np.testing.assert_allclose(b.means_, a.means_, rtol=1e-4)


@pytest.mark.parametrize("kw, X, error, words", [
    ({}, [[0.0, np.nan], [1.0, 2.0], [2.0, 1.0]], DataError, "NaN"),
    ({"covariance_prior": np.eye(3)}, None, ParameterError, "shape (2, 2)"),
    ({"covariance_prior": [[1.0, 2.0], [2.0, 1.0]]}, None, ParameterError, "positive definite"),
    ({"covariance_type": "diag", "covariance_prior": [1.0, -1.0]}, None, ParameterError, "positive definite"),
    ({"mean_prior": [0.0]}, None, ParameterError, "mean_prior must have shape (2,)"),
    ({"degrees_of_freedom_prior": 0.5}, None, ParameterError, "greater than n_features - 1 = 1"),
    ({"covariance_type": "VVV"}, None, ParameterError, "covariance_type"),
    ({"n_components": 30}, None, DataError, "n_samples >= n_components"),
])
def test_bad_input_gets_one_line_naming_it(kw, X, error, words):
    X = np.random.default_rng(0).normal(size=(20, 2)) if X is None else np.asarray(X)
    with pytest.raises(error) as info:
        BayesianGaussianMixture(**kw).fit(X)
    assert words in str(info.value) and "\n" not in str(info.value)


@no_convergence_warning  # some of the checks' data do not converge in 100 iterations (nor in sklearn)
def test_passes_sklearn_check_estimator():
    check_estimator(BayesianGaussianMixture())
    check_estimator(
        BayesianGaussianMixture(n_components=2, covariance_type="diag"),
        expected_failed_checks={
            "check_sample_weight_equivalence_on_dense_data":
                "k-means initialisation samples rows; equivalence holds from fixed starts "
                "(test_integer_weights_equal_duplicated_rows)",
        },
    )


def test_convergence_warning_as_sklearn():
    X = table("iris")
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        gk = BayesianGaussianMixture(n_components=3, max_iter=2, random_state=0).fit(X)
    assert not gk.converged_ and gk.n_iter_ == 2
