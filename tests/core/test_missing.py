"""Missing values inside EM: exactness, accuracy against the usual shortcuts, API."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn.exceptions import ConvergenceWarning

from gmmkit import GaussianMixture
from gmmkit.exceptions import DataError, ParameterError
from tests.helpers import make_blobs
from tests.reference import full_covariances


def classical_missing_em(X, mu, S, n_iter):
    """Textbook EM for one multivariate normal with missing data (row by row)."""
    n, d = X.shape
    for _ in range(n_iter):
        T1 = np.zeros(d)
        T2 = np.zeros((d, d))
        for x in X:
            o = ~np.isnan(x)
            m = ~o
            xh = x.copy()
            C = np.zeros((d, d))
            if m.any():
                B = S[np.ix_(m, o)] @ np.linalg.inv(S[np.ix_(o, o)])
                xh[m] = mu[m] + B @ (x[o] - mu[o])
                C[np.ix_(m, m)] = S[np.ix_(m, m)] - B @ S[np.ix_(o, m)]
            T1 += xh
            T2 += np.outer(xh, xh) + C
        mu = T1 / n
        S = T2 / n - np.outer(mu, mu)
    return mu, S


def mcar(X, frac, rng):
    Xm = X.copy()
    Xm[rng.uniform(size=X.shape) < frac] = np.nan
    return Xm[~np.isnan(Xm).all(axis=1)]


def test_one_component_equals_classical_missing_data_em(rng):
    cov = np.array([[2.0, 0.8, 0.3], [0.8, 1.0, -0.4], [0.3, -0.4, 1.5]])
    X = mcar(rng.multivariate_normal([1.0, -2.0, 0.5], cov, size=400), 0.25, rng)
    mu0, S0 = np.zeros(3), np.eye(3)
    mu_ref, S_ref = classical_missing_em(X, mu0, S0, 30)
    with pytest.warns(ConvergenceWarning):
        gm = GaussianMixture(1, reg_covar=0.0, max_iter=30, tol=0, means_init=mu0[None],
                             precisions_init=np.eye(3)[None]).fit(X)
    np.testing.assert_allclose(gm.means_[0], mu_ref, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(gm.covariances_[0], S_ref, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("frac", [0.2, 0.4])
def test_missing_em_beats_mean_imputation_and_complete_cases(frac):
    # Measured when written (mean distance of means, mean Frobenius error of covariances):
    #   20% missing: EM 0.120 / 0.232, mean-imputation 0.790 / 1.462, complete cases 0.131 / 0.316
    #   40% missing: EM 0.158 / 0.297, mean-imputation 1.584 / 2.147, complete cases 0.316 / 0.479
    rng = np.random.default_rng(1)
    true_means = np.array([[0.0, 0.0, 0.0, 0.0], [4.0, 4.0, 0.0, 2.0], [0.0, 5.0, 4.0, -2.0]])
    A = [np.array([[1.0, 0.6, 0.2, 0.0], [0.6, 1.0, 0.3, 0.1], [0.2, 0.3, 1.0, 0.4], [0.0, 0.1, 0.4, 1.0]])] * 3
    X = np.vstack([rng.multivariate_normal(m, a, size=500) for m, a in zip(true_means, A)])
    Xm = mcar(X, frac, rng)

    def errors(gm):
        d = np.linalg.norm(gm.means_[:, None] - true_means[None], axis=2)
        r, c = linear_sum_assignment(d)
        cov_err = np.mean([np.linalg.norm(gm.covariances_[i] - A[j]) for i, j in zip(r, c)])
        return d[r, c].mean(), cov_err

    em = errors(GaussianMixture(3, random_state=0, n_init=3).fit(Xm))
    col_means = np.nanmean(Xm, axis=0)
    imputed = np.where(np.isnan(Xm), col_means, Xm)
    mean_imp = errors(GaussianMixture(3, random_state=0, n_init=3).fit(imputed))
    complete = errors(GaussianMixture(3, random_state=0, n_init=3).fit(Xm[~np.isnan(Xm).any(axis=1)]))
    print(f"missing {frac:.0%}: EM {em}, mean-imputation {mean_imp}, complete cases {complete}")
    assert em[0] < mean_imp[0] and em[0] < complete[0]
    assert em[1] < mean_imp[1] and em[1] < complete[1]


@pytest.mark.parametrize("cov_type", ["full", "tied", "diag", "spherical"])
def test_all_types_monotone_and_consistent(rng, cov_type):
    X = mcar(make_blobs(rng, n=600, d=3, k=3), 0.2, rng)
    with pytest.warns(ConvergenceWarning):  # tol=0: all 40 iterations, for the monotonicity check
        gm = GaussianMixture(3, covariance_type=cov_type, random_state=0, tol=0, max_iter=40).fit(X)
    lb = np.asarray(gm.lower_bounds_)
    assert np.all(np.diff(lb) > -1e-9 * (1 + np.abs(lb[:-1])))
    s = gm.score_samples(X)
    assert np.all(np.isfinite(s))
    assert gm.score(X) == pytest.approx(gm.lower_bound_, abs=0.05)
    proba = gm.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(gm.predict(X), proba.argmax(axis=1))


def test_marginal_score_matches_fit_on_observed_columns(rng):
    X = make_blobs(rng, n=400, d=3, k=2)
    gm = GaussianMixture(2, random_state=0).fit(X)
    Xq = X[:50].copy()
    Xq[:, 2] = np.nan
    sub = GaussianMixture.from_parameters(gm.weights_, gm.means_[:, :2], gm.covariances_[:, :2, :2])
    np.testing.assert_allclose(gm.score_samples(Xq), sub.score_samples(X[:50, :2]), rtol=1e-10)


def test_no_nan_is_identical_to_dense(rng):
    X = make_blobs(rng, n=500, d=3, k=3)
    a = GaussianMixture(3, random_state=0, missing="em").fit(X)
    b = GaussianMixture(3, random_state=0, missing="error").fit(X)
    assert a.lower_bounds_ == b.lower_bounds_
    np.testing.assert_array_equal(a.means_, b.means_)


def test_impute_and_multiple_imputation(rng):
    cov = np.array([[1.0, 0.9], [0.9, 1.0]])
    X = rng.multivariate_normal([0, 0], cov, size=2000)
    gm = GaussianMixture(1, random_state=0).fit(X)
    Xq = np.array([[2.0, np.nan], [np.nan, -1.0], [0.5, 0.5]])
    filled = gm.impute(Xq)
    assert filled[0, 1] == pytest.approx(1.8, abs=0.1)
    assert filled[1, 0] == pytest.approx(-0.9, abs=0.1)
    np.testing.assert_array_equal(filled[2], Xq[2])
    draws = gm.impute(Xq, n_draws=400, random_state=0)
    assert draws.shape == (400, 3, 2)
    assert draws[:, 0, 1].std() == pytest.approx(np.sqrt(1 - 0.81), rel=0.15)
    assert draws[:, 0, 1].mean() == pytest.approx(1.8, abs=0.1)
    with pytest.raises(ParameterError):
        gm.impute(Xq, n_draws=0)


def test_missing_errors(rng):
    X = make_blobs(rng, n=50)
    Xn = X.copy()
    Xn[3] = np.nan
    with pytest.raises(DataError, match="every value missing"):
        GaussianMixture(2).fit(Xn)
    Xi = X.copy()
    Xi[0, 0] = np.inf
    with pytest.raises(DataError, match="infinity"):
        GaussianMixture(2).fit(Xi)
    Xh = X.copy()
    Xh[0, 0] = np.nan
    with pytest.raises(DataError, match="missing='em'"):
        GaussianMixture(2, missing="error").fit(Xh)


def test_missing_with_weights_and_noise(rng):
    X = mcar(make_blobs(rng, n=600, d=2, k=3), 0.15, rng)
    X = np.vstack([X, rng.uniform(-30, 30, size=(40, 2))])
    w = rng.integers(1, 3, size=len(X))
    gm = GaussianMixture(3, noise=True, random_state=0).fit(X, sample_weight=w)
    assert 0 < gm.noise_weight_ < 0.2
    assert np.all(np.isfinite(gm.score_samples(X)))


# -- the pattern kernel against a row-by-row textbook computation ----------------------
def textbook_rows(X, weights, means, covs):
    """Per row: log p(x_o), P(k | x_o), and per component E[x | x_o, k] and Cov[x | x_o, k]."""
    N, D = X.shape
    K = len(weights)
    lse, resp = np.empty(N), np.empty((N, K))
    xhat, C = np.empty((N, K, D)), np.zeros((N, K, D, D))
    for n, x in enumerate(X):
        o = ~np.isnan(x)
        m = ~o
        logp = np.empty(K)
        for k in range(K):
            S = covs[k]
            S_oo = S[np.ix_(o, o)]
            d = x[o] - means[k, o]
            logp[k] = np.log(weights[k]) - 0.5 * (d @ np.linalg.solve(S_oo, d)
                                                  + np.linalg.slogdet(S_oo)[1] + o.sum() * np.log(2 * np.pi))
            B = S[np.ix_(m, o)] @ np.linalg.inv(S_oo)
            xhat[n, k] = x
            xhat[n, k, m] = means[k, m] + B @ d
            C[n, k][np.ix_(m, m)] = S[np.ix_(m, m)] - B @ S[np.ix_(o, m)]
        top = logp.max()
        lse[n] = top + np.log(np.exp(logp - top).sum())
        resp[n] = np.exp(logp - lse[n])
    return lse, resp, xhat, C


def textbook_em_step(X, cov_type, weights, means, covs):
    """One exact EM step with missing values (reg_covar = 0): (mean log-likelihood, weights,
    means, covariances in cov_type's shape), and P(k | x_o) per row."""
    N, D = X.shape
    lse, resp, xhat, C = textbook_rows(X, weights, means, covs)
    nk = resp.sum(axis=0)
    mu = np.einsum("nk,nkd->kd", resp, xhat) / nk[:, None]
    sxx = np.einsum("nk,nkd,nke->kde", resp, xhat, xhat) + np.einsum("nk,nkde->kde", resp, C)
    cov = sxx / nk[:, None, None] - mu[:, :, None] * mu[:, None, :]
    if cov_type == "tied":
        cov = (nk[:, None, None] * cov).sum(axis=0) / N
    elif cov_type == "diag":
        cov = np.diagonal(cov, axis1=1, axis2=2)
    elif cov_type == "spherical":
        cov = np.diagonal(cov, axis1=1, axis2=2).mean(axis=1)
    return lse.mean(), nk / N, mu, cov, resp


def many_patterns_data(dtype):
    """Three far-apart 6-D components (responsibilities underflow to exactly 0 across
    components), ~25% MCAR (dozens of patterns), and rows with one observed coordinate."""
    rng = np.random.default_rng(7)
    D = 6
    centres = np.array([np.zeros(D), np.full(D, 60.0), np.r_[np.full(3, -60.0), np.full(3, 60.0)]])
    A = np.eye(D) + 0.4 * rng.normal(size=(D, D))
    X = np.vstack([c + rng.normal(size=(300, D)) @ A for c in centres])
    X[rng.uniform(size=X.shape) < 0.25] = np.nan
    single = X[:12].copy()
    single[:] = np.nan
    single[np.arange(12), np.arange(12) % D] = X[np.arange(12, 24), np.arange(12) % D]
    X = np.vstack([X, single])
    X = X[~np.isnan(X).all(axis=1)]
    start = dict(weights_init=np.array([0.3, 0.3, 0.4]), means_init=centres + 1.5)
    return X.astype(dtype), start


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cov_type", ["full", "tied", "diag", "spherical"])
def test_pattern_kernel_matches_textbook_em_step(cov_type, dtype):
    X, start = many_patterns_data(dtype)
    K, D = 3, X.shape[1]
    rng = np.random.default_rng(3)
    A = np.eye(D) + 0.2 * rng.normal(size=(D, D))
    full = np.stack([A @ A.T * (1 + 0.5 * k) for k in range(K)])
    cov0 = {"full": full, "tied": full[0], "diag": np.diagonal(full, axis1=1, axis2=2),
            "spherical": np.array([1.0, 1.5, 2.0])}[cov_type]
    prec0 = np.linalg.inv(cov0) if cov_type in ("full", "tied") else 1.0 / cov0
    Xr = X.astype(np.float64)
    ll, w, mu, cov, resp = textbook_em_step(Xr, cov_type, start["weights_init"], start["means_init"],
                                            full_covariances(cov_type, cov0, K, D))
    mask = np.isnan(Xr)
    pats, inverse = np.unique(mask, axis=0, return_inverse=True)
    assert len(pats) >= 40 and (~pats).sum(axis=1).min() == 1
    # the case this guards: a component with exactly zero responsibility in some pattern
    per_pattern = np.stack([resp[inverse.ravel() == p].sum(axis=0) for p in range(len(pats))])
    zero = per_pattern == 0
    assert zero.any() and (per_pattern.sum(axis=0)[zero.any(axis=0)] > 1).all()
    with pytest.warns(ConvergenceWarning):
        gm = GaussianMixture(K, covariance_type=cov_type, max_iter=1, tol=0, reg_covar=0.0,
                             precisions_init=prec0, **start).fit(X)
    rtol = 1e-9 if dtype == np.float64 else 2e-5
    assert gm.lower_bounds_[0] == pytest.approx(ll, rel=rtol)
    np.testing.assert_allclose(gm.weights_, w, rtol=rtol)
    np.testing.assert_allclose(gm.means_, mu, rtol=rtol, atol=rtol * 60)
    np.testing.assert_allclose(gm.covariances_, cov, rtol=rtol * 10, atol=rtol * 10)
    # scoring and imputation of the fitted model take the same marginals
    covs = full_covariances(cov_type, gm.covariances_, K, D)
    lse, r, xhat, _ = textbook_rows(Xr, gm.weights_, gm.means_, covs)
    np.testing.assert_allclose(gm.score_samples(X), lse, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(gm.predict_proba(X), r, atol=10 * rtol)
    filled = np.einsum("nk,nkd->nd", r, xhat)
    np.testing.assert_allclose(gm.impute(X), filled, rtol=rtol, atol=60 * rtol)


def test_pattern_kernel_row_chunks_equal_serial(monkeypatch):
    # rows split across threads mid-pattern: the statistics are linear in each part
    from gmmkit import _engine

    X, start = many_patterns_data(np.float64)
    fits = []
    for min_work in (10**12, 1):
        monkeypatch.setattr(_engine, "PARALLEL_MIN_WORK", min_work)
        monkeypatch.setenv("GMMKIT_NUM_THREADS", "3")
        with pytest.warns(ConvergenceWarning):
            fits.append(GaussianMixture(3, max_iter=5, tol=0, random_state=0, **start).fit(X))
    np.testing.assert_allclose(fits[0].lower_bounds_, fits[1].lower_bounds_, rtol=1e-12)
    np.testing.assert_allclose(fits[0].covariances_, fits[1].covariances_, rtol=1e-10, atol=1e-10)


def test_marginal_not_positive_definite_is_a_data_error(rng):
    from gmmkit._missing import score_missing

    X = mcar(make_blobs(rng, n=300, d=3, k=2), 0.2, rng)
    gm = GaussianMixture(2, random_state=0).fit(X)
    gm.covariances_ = gm.covariances_.copy()
    gm.covariances_[0] = -np.eye(3)
    with pytest.raises(DataError, match="not positive definite"):
        score_missing(gm, X)


def test_compile_announcement_asks_about_the_kernel_each_step_runs(monkeypatch):
    """Scoring never compiles em_patterns: asking the cache about it announced a compile on
    every run of ``gmmkit predict`` on data with holes."""
    from gmmkit import _engine

    X = make_blobs(np.random.default_rng(0), n=200)
    X[::7, 1] = np.nan
    est = GaussianMixture(2, random_state=0).fit(X)
    asked = []
    monkeypatch.setattr(_engine, "announce_compile", lambda disp, *a, **k: asked.append(disp.__name__))
    est.score_samples(X)
    assert set(asked) == {"score_patterns"}
    asked.clear()
    with pytest.warns(ConvergenceWarning):
        GaussianMixture(2, random_state=0, max_iter=2).fit(X)
    assert "em_patterns" in asked
