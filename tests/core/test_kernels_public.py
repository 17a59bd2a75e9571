"""The public kernel kit (gmmkit.kernels) against scipy's multivariate normal: the jitted
component log-densities for every covariance type, every component, a non-zero shift,
float64 and float32, called from Python and from an app's own ``@njit`` code, and the
threaded Python helper ``log_densities`` on fitted estimators (gmmkit's and scikit-learn's).

Tests whose name holds ``small`` run on small data (fit for a ``NUMBA_DISABLE_JIT=1`` run)."""
import numpy as np
import pytest
from numba import njit
from scipy.special import logsumexp

from gmmkit import GaussianMixture
from gmmkit.exceptions import ParameterError
from gmmkit.kernels import FASTMATH, component_logp, diag_logp, full_logp, kernel_parameters, log_densities
from tests.helpers import kernel_arguments, random_covariances
from tests.reference import full_covariances, weighted_log_prob

COV_TYPES = ["full", "tied", "diag", "spherical"]
DTYPES = [np.float64, np.float32]


def assert_close(got, ref, dtype, factor=1.0):
    """|got - ref| <= tol * max(1, |ref|): float32 kernels compute in float32 (relative
    error ~1e-7 of the quadratic form), float64 ones to round-off."""
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    tol = factor * (1e-10 if dtype == np.float64 else 2e-5) * np.maximum(1.0, np.abs(ref))
    err = np.abs(got - ref)
    assert np.all(err <= tol), f"max error {err.max():.3g}, max relative {(err / tol).max():.3g} x tol"


def problem(seed, cov_type, K, D, N, dtype):
    """Data far from the origin, a shift, and a mixture in the shifted coordinates; the
    reference values use exactly the (dtype-rounded) numbers the kernel sees."""
    rng = np.random.default_rng(seed)
    offset = 20.0 + rng.normal(scale=5.0, size=D)
    centres = rng.normal(scale=3.0, size=(K, D))
    X = (offset + centres[rng.integers(0, K, size=N)] + rng.normal(size=(N, D))).astype(dtype)
    shift = (X.astype(np.float64).mean(axis=0) + rng.normal(scale=0.5, size=D)).astype(dtype)
    weights = rng.dirichlet(np.full(K, 2.0))
    means = (centres + offset - shift).astype(dtype)
    covs = random_covariances(rng, cov_type, K, D)
    family, means_k, prec, logc = kernel_arguments(cov_type, weights, means, covs, dtype)
    if family == "diag":
        prec = np.ascontiguousarray(prec[:, None, :])  # the kernels' diagonal layout (K, 1, D)
    Y = X.astype(np.float64) - shift.astype(np.float64)
    ref = weighted_log_prob(Y, weights, means.astype(np.float64), full_covariances(cov_type, covs, K, D))
    return X, shift, means_k, prec, logc, ref


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_small_component_logp_matches_scipy_on_a_row_range(cov_type, dtype):
    X, shift, means, prec, logc, ref = problem(1, cov_type, 4, 3, 61, dtype)
    out = np.full((61, 4), 7.0, dtype=dtype)
    component_logp(X, 5, 58, shift, means, prec, logc, out)
    assert_close(out[5:58], ref[5:58], dtype)
    assert np.all(out[:5] == 7.0) and np.all(out[58:] == 7.0)  # rows outside lo:hi untouched


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_component_logp_more_rows_than_a_block_and_many_components(cov_type):
    """Several kernel blocks (the block is at most 256 rows) and a partial last block."""
    X, shift, means, prec, logc, ref = problem(2, cov_type, 9, 6, 1000, np.float64)
    out = np.empty((1000, 9))
    component_logp(X, 0, 1000, shift, means, prec, logc, out)
    assert_close(out, ref, np.float64)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_small_row_functions_match_scipy(cov_type, dtype):
    X, shift, means, prec, logc, ref = problem(3, cov_type, 3, 4, 20, dtype)
    Y = X - shift  # in the data's dtype: the row functions take shifted rows
    for i in range(len(X)):
        for k in range(3):
            if prec.shape[1] == 1:
                v = diag_logp(Y[i], means[k], prec[k, 0], logc[k])
            else:
                v = full_logp(Y[i], means[k], prec[k], logc[k])
            assert_close(v, ref[i, k], dtype)


def test_row_functions_and_component_logp_callable_from_njit_code():
    """What an app's kernel module does: call the public kernels from its own @njit loops."""
    @njit
    def app_kernel(X, shift, means, prec, logc, out, diag_prec, diag_logc):
        component_logp(X, 0, X.shape[0], shift, means, prec, logc, out)
        total = 0.0
        for i in range(X.shape[0]):
            total += diag_logp(X[i] - shift, means[0], diag_prec, diag_logc)
        return total

    X, shift, means, prec, logc, ref = problem(4, "full", 3, 2, 50, np.float64)
    out = np.empty((50, 3))
    dprec = np.array([0.5, 2.0])
    total = app_kernel(X, shift, means, prec, logc, out, dprec, -1.0)
    assert_close(out, ref, np.float64)
    Y = X - shift - means[0]
    np.testing.assert_allclose(total, np.sum(-1.0 - 0.5 * ((Y * dprec) ** 2).sum(axis=1)), rtol=1e-12)


def test_fastmath_flags_keep_infinities_and_are_the_engines():
    from gmmkit._kernels import em

    assert not FASTMATH & {"nnan", "ninf", "fast"}
    assert em.FASTMATH is FASTMATH
    # log-sum-exp relies on -inf: a zero weight gives -inf, not NaN
    X, shift, means, prec, logc, _ = problem(5, "diag", 3, 2, 10, np.float64)
    logc[1] = -np.inf
    out = np.empty((10, 3))
    component_logp(X, 0, 10, shift, means, prec, logc, out)
    assert np.all(out[:, 1] == -np.inf) and np.all(np.isfinite(out[:, [0, 2]]))


# ---------------------------------------------------------------- Python helpers on estimators
def fitted(cov_type, dtype, offset=1000.0, n=400, **kw):
    rng = np.random.default_rng(6)
    X = np.vstack([rng.normal(0, 1, (n, 3)), rng.normal(4, 2, (n, 3)) * [1, 0.5, 2]]) + offset
    X = X.astype(dtype)
    return GaussianMixture(3, covariance_type=cov_type, random_state=0, **kw).fit(X), X


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_log_densities_of_a_fitted_mixture_match_scipy_and_the_estimator(cov_type, dtype):
    gm, X = fitted(cov_type, dtype)  # data 1000 away from the origin: float32 needs the shift
    K, D = gm.means_.shape
    lp = log_densities(gm, X)
    assert lp.shape == (len(X), K) and lp.dtype == dtype
    ref = weighted_log_prob(X.astype(np.float64), gm.weights_, gm.means_,
                            full_covariances(cov_type, gm.covariances_, K, D))
    assert_close(lp, ref, dtype)
    if dtype == np.float64:
        np.testing.assert_allclose(logsumexp(lp, axis=1), gm.score_samples(X), rtol=1e-10)
        np.testing.assert_allclose(np.exp(lp - logsumexp(lp, axis=1, keepdims=True)),
                                   gm.predict_proba(X), atol=1e-10)


# scikit-learn's four names and mclust's 14 (Celeux and Govaert 1995), all entries of the table
ALL_NAMES = COV_TYPES + ["EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "VEE", "EVE", "VVE",
                         "EEV", "VEV", "EVV", "VVV"]


@pytest.mark.parametrize("name", ALL_NAMES)
def test_log_densities_for_every_entry_of_the_covariance_table(name):
    """Any estimator-like object with the fitted attributes; the reference expands the
    covariances by their layout alone (not through the table)."""
    from types import SimpleNamespace

    from gmmkit.covariance import covariance_type

    rng = np.random.default_rng(9)
    K, D = 3, 4
    entry = covariance_type(name)
    shape = entry.shape(K, D)
    if len(shape) == 1:
        cov = rng.uniform(0.3, 2.0, size=shape)
        full = cov[:, None, None] * np.eye(D)
    elif shape == (K, D):
        cov = rng.uniform(0.3, 2.0, size=shape)
        full = np.stack([np.diag(v) for v in cov])
    else:
        cov = random_covariances(rng, "full" if len(shape) == 3 else "tied", K, D)
        full = cov if len(shape) == 3 else np.repeat(cov[None], K, axis=0)
    model = SimpleNamespace(covariance_type=name, weights_=rng.dirichlet(np.ones(K)),
                            means_=rng.normal(10.0, 2.0, size=(K, D)), covariances_=cov,
                            precisions_cholesky_=entry.precision_cholesky(cov))
    X = rng.normal(10.0, 3.0, size=(80, D))
    ref = weighted_log_prob(X, model.weights_, model.means_, full)
    for dtype in DTYPES:
        assert_close(log_densities(model, X.astype(dtype)), ref, dtype)


def test_log_densities_threaded_equals_one_call():
    gm, _ = fitted("full", np.float64)
    rng = np.random.default_rng(7)
    X = rng.normal(1000, 3, size=(150_000, 3))  # K * D * D * N well above the threading threshold
    lp = log_densities(gm, X)
    one = np.empty_like(lp)
    component_logp(X, 0, len(X), *kernel_parameters(gm, np.float64), one)
    np.testing.assert_array_equal(lp, one)


def test_log_densities_with_scikit_learns_estimator_and_out():
    from sklearn.mixture import GaussianMixture as SkGMM

    rng = np.random.default_rng(8)
    X = np.vstack([rng.normal(0, 1, (200, 2)), rng.normal(5, 1, (200, 2))])
    for cov_type in COV_TYPES:
        sk = SkGMM(2, covariance_type=cov_type, random_state=0).fit(X)
        out = np.empty((400, 2))
        assert log_densities(sk, X, out=out) is out
        np.testing.assert_allclose(out, sk._estimate_weighted_log_prob(X), rtol=1e-10)


def test_log_densities_of_a_mixture_with_noise_leave_the_noise_out():
    gm, X = fitted("full", np.float64, offset=0.0, noise=True)
    assert gm.noise_weight_ > 0
    lp = log_densities(gm, X)
    log_noise = np.log(gm.noise_weight_) - gm.noise_log_volume_
    total = logsumexp(np.column_stack([lp, np.full(len(X), log_noise)]), axis=1)
    np.testing.assert_allclose(total, gm.score_samples(X), rtol=1e-10)


def test_kernel_parameters_layout():
    for cov_type, prec_shape in (("full", (3, 3, 3)), ("tied", (3, 3, 3)), ("diag", (3, 1, 3)),
                                 ("spherical", (3, 1, 3))):
        gm, X = fitted(cov_type, np.float64)
        shift, means, prec, logc = kernel_parameters(gm, np.float32)
        assert prec.shape == prec_shape
        assert all(a.dtype == np.float32 and a.flags.c_contiguous for a in (shift, means, prec, logc))
        # the shift is the weighted centre of the means, the means are relative to it
        np.testing.assert_allclose(shift, gm.weights_ @ gm.means_, rtol=1e-6)
        np.testing.assert_allclose(means + shift, gm.means_, rtol=1e-6)
    with pytest.raises(ParameterError, match="float32 or float64"):
        kernel_parameters(gm, np.int64)


def test_log_densities_reject_bad_shapes():
    gm, X = fitted("diag", np.float64)
    with pytest.raises(ParameterError, match=r"shape \(N, 3\)"):
        log_densities(gm, X[:, :2])
    with pytest.raises(ParameterError, match="out must be"):
        log_densities(gm, X, out=np.empty((len(X), 3), dtype=np.float32))
    with pytest.raises(ParameterError, match="out must be"):
        log_densities(gm, X, out=np.empty((len(X), 2)))
