"""GaussianMixture against scikit-learn and against slow NumPy references."""

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGM

from gmmkit import GaussianMixture, _engine
from gmmkit._covariance import COVARIANCE_TYPES
from gmmkit.exceptions import DataError, DegenerateComponentWarning, GMMKitError, ParameterError
from tests.helpers import make_blobs
from tests.reference import em_statistics, full_covariances

COV_TYPES = list(COVARIANCE_TYPES)


def _start(X, K, cov_type, seed=0):
    """Starting parameters from a short sklearn fit (a deliberately poor start)."""
    with pytest.warns(ConvergenceWarning):
        sk = SkGM(K, covariance_type=cov_type, max_iter=1, random_state=seed,
                  init_params="random_from_data").fit(X)
    return dict(weights_init=sk.weights_, means_init=sk.means_, precisions_init=sk.precisions_)


def _sklearn_trace(X, K, cov_type, start, n_iter):
    """sklearn's per-iteration lower bound: warm-started single EM steps."""
    sk = SkGM(K, covariance_type=cov_type, max_iter=1, warm_start=True, tol=0, **start)
    trace = []
    with pytest.warns(ConvergenceWarning):
        for _ in range(n_iter):
            sk.fit(X)
            trace.append(sk.lower_bound_)
    return np.array(trace), sk


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_trace_matches_sklearn_from_same_start(rng, cov_type):
    X = make_blobs(rng, n=900, d=3, k=3)
    start = _start(X, 3, cov_type)
    n_iter = 25
    ref, sk = _sklearn_trace(X, 3, cov_type, start, n_iter)
    with pytest.warns(ConvergenceWarning):
        gm = GaussianMixture(3, covariance_type=cov_type, max_iter=n_iter, tol=0, **start).fit(X)
    np.testing.assert_allclose(gm.lower_bounds_, ref, rtol=1e-8)
    np.testing.assert_allclose(gm.means_, sk.means_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gm.covariances_, sk.covariances_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gm.weights_, sk.weights_, rtol=1e-6)
    np.testing.assert_allclose(gm.score_samples(X), sk.score_samples(X), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(gm.predict_proba(X), sk.predict_proba(X), atol=1e-9)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_same_random_state_same_fit_as_sklearn(rng, cov_type):
    X = make_blobs(rng, n=600, d=2, k=3)
    gm = GaussianMixture(3, covariance_type=cov_type, random_state=7).fit(X)
    sk = SkGM(3, covariance_type=cov_type, random_state=7).fit(X)
    assert gm.n_iter_ == sk.n_iter_
    np.testing.assert_allclose(gm.lower_bound_, sk.lower_bound_, rtol=1e-9)
    np.testing.assert_allclose(gm.bic(X), sk.bic(X), rtol=1e-9)
    np.testing.assert_allclose(gm.aic(X), sk.aic(X), rtol=1e-9)
    np.testing.assert_array_equal(gm.predict(X), sk.predict(X))


def test_kernel_statistics_match_numpy_twin(rng):
    X = make_blobs(rng, n=300, d=3, k=2)
    gm = GaussianMixture(2, random_state=0).fit(X)
    sw = rng.uniform(0.1, 2.0, size=len(X))
    m, shift = gm._kernel_model(np.float64), np.zeros(3)
    for parallel in (False, True):
        ll, nk, sx, sxx = _engine.em_pass(X, sw, shift, m.means, m.prec, m.logc, -np.inf, parallel)
        ll_ref, nk_ref, sx_ref, sxx_ref = em_statistics(X, sw, gm.weights_, gm.means_, gm.covariances_)
        np.testing.assert_allclose(ll, ll_ref, rtol=1e-10)
        np.testing.assert_allclose(nk[:2], nk_ref, rtol=1e-10)
        assert nk[2] == 0.0
        np.testing.assert_allclose(sx, sx_ref, rtol=1e-10)
        np.testing.assert_allclose(np.triu(sxx[0]), np.triu(sxx_ref[0]), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_score_samples_matches_scipy(rng, cov_type):
    X = make_blobs(rng, n=200, d=3, k=2)
    gm = GaussianMixture(2, covariance_type=cov_type, random_state=0).fit(X)
    covs = full_covariances(cov_type, gm.covariances_, 2, 3)
    from scipy.special import logsumexp

    from tests.reference import weighted_log_prob

    ref = logsumexp(weighted_log_prob(X, gm.weights_, gm.means_, covs), axis=1)
    np.testing.assert_allclose(gm.score_samples(X), ref, rtol=1e-9)


def test_parallel_and_serial_paths_agree(rng, monkeypatch):
    X = make_blobs(rng, n=3000, d=4, k=3)
    serial = GaussianMixture(3, random_state=1).fit(X)
    monkeypatch.setattr(_engine, "PARALLEL_MIN_WORK", 0)
    par = GaussianMixture(3, random_state=1).fit(X)
    np.testing.assert_allclose(par.lower_bounds_, serial.lower_bounds_, rtol=1e-12)
    np.testing.assert_allclose(par.predict_proba(X), serial.predict_proba(X), atol=1e-12)
    np.testing.assert_array_equal(par.predict(X), serial.predict(X))


@pytest.mark.parametrize("cov_type", ["full", "diag"])
def test_float32_computed_in_float32_close_to_float64(rng, cov_type):
    X = make_blobs(rng, n=2000, d=4, k=3)
    start = _start(X, 3, cov_type)
    kw = dict(covariance_type=cov_type, max_iter=30, tol=0, **start)
    with pytest.warns(ConvergenceWarning):
        g64 = GaussianMixture(3, **kw).fit(X)
        g32 = GaussianMixture(3, **kw).fit(X.astype(np.float32))
    assert g32.score_samples(X.astype(np.float32)).dtype == np.float64
    np.testing.assert_allclose(g32.lower_bounds_, g64.lower_bounds_, rtol=1e-5)
    np.testing.assert_allclose(g32.means_, g64.means_, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("cov_type", ["full", "diag"])
def test_float32_statistics_do_not_cancel(rng, cov_type):
    # Tight clusters far from the data's mean: raw float32 second moments minus squared
    # means would lose every digit of the variance (offset^2 / var ~ 1e8).
    X = np.concatenate([rng.normal(size=(3000, 3)) * 0.05, 1000 + rng.normal(size=(3000, 3)) * 0.1])
    kw = dict(covariance_type=cov_type, random_state=0, reg_covar=1e-12)
    g64 = GaussianMixture(2, **kw).fit(X)
    g32 = GaussianMixture(2, **kw).fit(X.astype(np.float32))
    order64, order32 = np.argsort(g64.means_[:, 0]), np.argsort(g32.means_[:, 0])
    var64 = g64.covariances_[order64].reshape(2, -1)
    var32 = g32.covariances_[order32].reshape(2, -1)
    np.testing.assert_allclose(var32, var64, rtol=1e-3, atol=1e-8)


def test_fit_predict_equals_predict_and_proba_normalised(rng):
    X = make_blobs(rng)
    gm = GaussianMixture(3, random_state=0)
    labels = gm.fit_predict(X)
    np.testing.assert_array_equal(labels, gm.predict(X))
    np.testing.assert_allclose(gm.predict_proba(X).sum(axis=1), 1.0, rtol=1e-12)
    assert gm.score(X) == pytest.approx(gm.score_samples(X).mean())


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_sample_shapes_and_moments(rng, cov_type):
    X = make_blobs(rng, n=3000, d=2, k=3)
    gm = GaussianMixture(3, covariance_type=cov_type, random_state=0).fit(X)
    Xs, ys = gm.sample(20000)
    assert Xs.shape == (20000, 2) and ys.shape == (20000,)
    np.testing.assert_allclose(Xs.mean(axis=0), X.mean(axis=0), atol=0.15)
    with pytest.raises(ParameterError):
        gm.sample(0)


def test_n_init_keeps_best_and_history(rng):
    X = make_blobs(rng, n=900, d=2, k=4)
    one = GaussianMixture(4, n_init=1, init_params="random", random_state=3).fit(X)
    many = GaussianMixture(4, n_init=5, init_params="random", random_state=3).fit(X)
    assert many.lower_bound_ >= one.lower_bound_ - 1e-12
    assert len(many.lower_bounds_) == many.n_iter_
    assert many.lower_bounds_[-1] == many.lower_bound_


def test_warm_start_continues(rng):
    X = make_blobs(rng)
    gm = GaussianMixture(3, max_iter=2, warm_start=True, random_state=0, tol=0)
    with pytest.warns(ConvergenceWarning):
        gm.fit(X)
        first = gm.lower_bound_
        gm.fit(X)
    assert gm.lower_bounds_[0] >= first - 1e-12


@pytest.mark.parametrize("init", ["kmeans", "k-means++", "random", "random_from_data"])
def test_all_init_methods(rng, init):
    X = make_blobs(rng)
    gm = GaussianMixture(3, init_params=init, random_state=0, max_iter=300).fit(X)
    assert gm.converged_ and np.isfinite(gm.lower_bound_)


def test_verbose_and_callback(rng, capsys):
    X = make_blobs(rng)
    seen = []
    GaussianMixture(3, verbose=2, verbose_interval=1, random_state=0, callback=seen.append).fit(X)
    assert seen and seen[0]["n_iter"] == 1 and "lower_bound" in seen[-1]
    assert "Iteration" in capsys.readouterr().out


# ------------------------------------------------------------------ weights
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_integer_weights_equal_duplicated_rows(rng, cov_type):
    X = make_blobs(rng, n=300, d=2, k=3)
    w = rng.integers(0, 4, size=len(X))
    start = _start(X, 3, cov_type)
    kw = dict(covariance_type=cov_type, max_iter=20, tol=0, **start)
    with pytest.warns(ConvergenceWarning):
        weighted = GaussianMixture(3, **kw).fit(X, sample_weight=w)
        repeated = GaussianMixture(3, **kw).fit(np.repeat(X, w, axis=0))
    np.testing.assert_allclose(weighted.lower_bounds_, repeated.lower_bounds_, rtol=1e-10)
    np.testing.assert_allclose(weighted.means_, repeated.means_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(weighted.covariances_, repeated.covariances_, rtol=1e-8, atol=1e-10)


def test_zero_weights_change_nothing(rng):
    X = make_blobs(rng, n=300, d=2, k=3)
    extra = rng.normal(50, 1, size=(40, 2))
    start = _start(X, 3, "full")
    kw = dict(max_iter=20, tol=0, **start)
    with pytest.warns(ConvergenceWarning):
        base = GaussianMixture(3, **kw).fit(X)
        padded = GaussianMixture(3, **kw).fit(
            np.vstack([X, extra]), sample_weight=np.r_[np.ones(len(X)), np.zeros(len(extra))])
    np.testing.assert_allclose(padded.means_, base.means_, rtol=1e-9)
    np.testing.assert_allclose(padded.lower_bounds_, base.lower_bounds_, rtol=1e-9)


def test_bad_sample_weights(rng):
    X = make_blobs(rng, n=30)
    with pytest.raises(DataError, match="sample_weight"):
        GaussianMixture(2).fit(X, sample_weight=-np.ones(len(X)))
    with pytest.raises(DataError, match="non-zero"):
        GaussianMixture(2).fit(X, sample_weight=np.zeros(len(X)))
    with pytest.raises(DataError, match="sample_weight"):
        GaussianMixture(2).fit(X, sample_weight=np.ones(3))


# ------------------------------------------------------------------ degenerate data
def test_component_losing_its_points_is_reseeded(rng):
    X = make_blobs(rng, n=600, d=2, k=3)
    means = np.vstack([X[:3].mean(0), X[300:303].mean(0), [1e4, 1e4]])
    with pytest.warns(DegenerateComponentWarning, match="lost its points"):
        gm = GaussianMixture(3, means_init=means, random_state=0, max_iter=200).fit(X)
    assert gm.n_reseeded_ >= 1
    assert np.all(np.isfinite(gm.means_)) and np.all(gm.weights_ > 0.01)


def test_singular_covariance_is_reseeded(rng):
    # one component sits on a tight group of identical points; reg_covar=0 makes it singular
    X = np.vstack([rng.normal(size=(200, 2)), np.tile([[8.0, 8.0]], (30, 1))])
    with pytest.warns(DegenerateComponentWarning):
        with pytest.warns(ConvergenceWarning):
            gm = GaussianMixture(2, reg_covar=0.0, random_state=0, max_iter=20).fit(X)
    assert np.all(np.isfinite(gm.score_samples(X)))


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_constant_column_duplicates_and_k_equals_n(rng, cov_type):
    X = rng.normal(size=(100, 3))
    X[:, 1] = 5.0
    gm = GaussianMixture(2, covariance_type=cov_type, random_state=0).fit(X)
    assert np.all(np.isfinite(gm.score_samples(X)))
    dup = np.repeat(rng.normal(size=(10, 2)), 20, axis=0)
    assert np.isfinite(GaussianMixture(3, covariance_type=cov_type, random_state=0).fit(dup).lower_bound_)
    small = rng.normal(size=(4, 2))
    gm = GaussianMixture(4, covariance_type=cov_type, random_state=0).fit(small)
    assert np.all(np.isfinite(gm.score_samples(small)))


@pytest.mark.parametrize("X, match", [
    (np.zeros((0, 2)), "0 sample"),
    (np.arange(10.0), "2D array"),
    (np.array([[np.nan, np.nan], [2.0, 3.0], [4.0, 5.0]]), "every value missing"),
    (np.array([[1.0, np.inf], [2.0, 3.0], [4.0, 5.0]]), "infinity"),
    (np.array([["a", "b"], ["c", "d"], ["e", "f"]]), "numeric"),
])
def test_bad_input_raises_clear_error(X, match):
    with pytest.raises(GMMKitError, match=match) as info:
        GaussianMixture(2).fit(X)
    assert "\n" not in str(info.value)


def test_more_components_than_rows():
    with pytest.raises(DataError, match="n_samples >= n_components"):
        GaussianMixture(5).fit(np.random.default_rng(0).normal(size=(3, 2)))


@pytest.mark.parametrize("params", [
    dict(n_components=0), dict(covariance_type="banana"), dict(tol=-1.0), dict(init_params="x"),
])
def test_bad_parameters(params):
    with pytest.raises(ParameterError):
        GaussianMixture(**params).fit(np.random.default_rng(0).normal(size=(20, 2)))


def test_bad_initial_parameters(rng):
    X = make_blobs(rng, n=60)
    with pytest.raises(ParameterError, match="means_init"):
        GaussianMixture(2, means_init=np.zeros((3, 2))).fit(X)
    with pytest.raises(ParameterError, match="weights_init"):
        GaussianMixture(2, weights_init=[0.2, 0.2]).fit(X)
    with pytest.raises(ParameterError, match="positive definite"):
        GaussianMixture(2, precisions_init=-np.ones((2, 2, 2))).fit(X)


def test_predict_wrong_width_and_unfitted(rng):
    from sklearn.exceptions import NotFittedError

    X = make_blobs(rng, n=60)
    with pytest.raises(NotFittedError):
        GaussianMixture(2).predict(X)
    gm = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(DataError, match="features"):
        gm.predict(np.zeros((3, 5)))


def test_first_compile_is_announced_per_dtype(tmp_path, caplog):
    """A dispatcher with nothing compiled or cached for a dtype announces its compile
    once; one already compiled (or cached) for that dtype stays quiet."""
    import logging
    import pickle
    from types import SimpleNamespace

    from gmmkit import _engine

    index = tmp_path / "kernel.nbi"
    cache = SimpleNamespace(_cache_file=SimpleNamespace(
        _index_path=str(index),
        _load_index=lambda: pickle.loads(index.read_bytes())))
    fresh = SimpleNamespace(signatures=[], _cache=cache)
    with caplog.at_level(logging.WARNING, logger="gmmkit"):
        _engine.announce_compile(fresh, np.float64, "test kernels")
        _engine.announce_compile(fresh, np.float64, "test kernels")  # once per process
    assert caplog.text.count("compiling the test kernels for float64") == 1
    index.write_bytes(pickle.dumps({(("array(float32, 2d, C)",), "magic"): 0}))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gmmkit"):
        _engine.announce_compile(fresh, np.float32, "cached kernels")  # in the index
        _engine.announce_compile(SimpleNamespace(signatures=[("array(float32, 1d, C)",)], _cache=cache),
                                 np.float32, "compiled kernels")  # compiled in this process
        _engine.announce_compile(fresh, np.float64, "other kernels")  # float64 not in the index
    assert "cached kernels" not in caplog.text and "compiled kernels" not in caplog.text
    assert "compiling the other kernels for float64" in caplog.text


def test_kernel_caches_live_outside_the_installed_package():
    """Numba's cache files next to an installed package survive ``pip uninstall`` and
    the left-over directory shadows a later editable install: gmmkit's and the apps'
    kernels are cached in the user-wide (or NUMBA_CACHE_DIR) cache instead."""
    import os

    import gmmkit
    import gmmkit_apps.segment._kernels as seg
    from gmmkit._kernels import em

    roots = [os.path.dirname(os.path.abspath(gmmkit.__file__)),
             os.path.dirname(os.path.dirname(os.path.abspath(seg.__file__)))]
    for disp in (em.em_range, seg.icm_range):
        path = os.path.abspath(disp._cache._cache_path)
        assert not any(path.startswith(root + os.sep) for root in roots), path
