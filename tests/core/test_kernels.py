"""The fused EM and scoring kernels against a slow float64 twin (tests/reference.kernel_twin),
for every covariance type, every component, a non-zero shift, sample weights, the noise
column, float64 and float32, serial and threaded, and each statistics path: dense,
sparse (separated components: most responsibilities underflow) and, for the diagonal
family with K >= 128, the matrix-product (GEMM) path.

Tests whose name holds ``small`` also run with ``NUMBA_DISABLE_JIT=1`` (test_nojit.py)."""
import numpy as np
import pytest

from tests.helpers import em_pass, kernel_arguments, random_covariances, score_pass
from tests.reference import full_covariances, kernel_twin

COV_TYPES = ["full", "tied", "diag", "spherical"]
DTYPES = [np.float64, np.float32]
# float32 kernels compute densities and responsibilities in float32
RTOL = {np.float64: 1e-10, np.float32: 2e-4}


def problem(seed, cov_type, K, D, N, layout, dtype, noise=True):
    """Data, weights and a mixture in the kernels' shifted coordinates, plus the exact
    (dtype-rounded) values the kernel sees, as float64 for the twin."""
    rng = np.random.default_rng(seed)
    offset = rng.normal(scale=5.0, size=D) + 20.0  # data far from the origin: the shift matters
    if layout == "separated":  # responsibilities underflow across components: sparse statistics
        centres = rng.normal(scale=30.0, size=(K, D))
        scale = 1.0
    else:  # everything overlaps: dense statistics (GEMM for diag with K >= 128)
        centres = rng.normal(scale=0.3, size=(K, D))
        scale = 4.0
    labels = rng.integers(0, K, size=N)
    X = offset + centres[labels] + rng.normal(size=(N, D))
    X[:6] = offset + rng.normal(scale=150.0, size=(6, D))  # scattered rows the noise column takes
    X = X.astype(dtype)
    sw = rng.uniform(0.0, 3.0, size=N)
    sw[rng.uniform(size=N) < 0.1] = 0.0  # zero weights change nothing
    shift = (X.astype(np.float64).mean(axis=0) + rng.normal(scale=0.5, size=D)).astype(dtype)
    pi0 = 0.03 if noise else 0.0
    weights = rng.dirichlet(np.full(K, 3.0)) * (1 - pi0)
    means = (centres + offset - shift + rng.normal(scale=0.2, size=(K, D))).astype(dtype)
    covs = random_covariances(rng, cov_type, K, D, scale=scale)
    family, means_k, prec, logc = kernel_arguments(cov_type, weights, means, covs, dtype)
    width = X.astype(np.float64).max(axis=0) - X.astype(np.float64).min(axis=0)
    log_noise = np.log(pi0) - np.log(width).sum() if noise else -np.inf
    twin_args = (X.astype(np.float64), sw, shift.astype(np.float64), weights, means.astype(np.float64),
                 full_covariances(cov_type, covs, K, D), log_noise)
    return X, sw, shift, (family, means_k, prec, logc, log_noise), twin_args


def check_statistics(got, ref, family, dtype):
    ll, nk, sx, sxx = got
    rtol = RTOL[dtype]
    K = sx.shape[0]
    assert nk.shape == (K + 1,)
    np.testing.assert_allclose(ll, ref["ll"], rtol=rtol)
    np.testing.assert_allclose(nk, ref["nk"], rtol=rtol, atol=rtol * ref["nk"].sum() * 1e-3)
    np.testing.assert_allclose(sx, ref["sx"], rtol=rtol, atol=rtol * np.abs(ref["sx"]).max())
    if family == "full":
        assert sxx.shape == ref["sxx"].shape
        got_sxx, ref_sxx = np.triu(sxx), np.triu(ref["sxx"])
    else:
        assert sxx.shape == (K, ref["sxx"].shape[1])
        got_sxx, ref_sxx = sxx, np.diagonal(ref["sxx"], axis1=1, axis2=2)
    np.testing.assert_allclose(got_sxx, ref_sxx, rtol=rtol, atol=rtol * np.abs(ref_sxx).max())


@pytest.mark.parametrize("layout", ["separated", "overlapping"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_small_em_pass_matches_twin(cov_type, dtype, layout):
    X, sw, shift, args, twin = problem(1, cov_type, K=4, D=3, N=300, layout=layout, dtype=dtype)
    ref = kernel_twin(*twin)
    assert ref["nk"][-1] > 0  # the noise column takes part
    if layout == "separated":  # the sparse path: most responsibilities are exactly zero
        assert (ref["resp"][:, :4] < 1e-15).mean() > 0.6
    family = args[0]
    for parallel in (False, True):
        check_statistics(em_pass(family, X, sw, shift, *args[1:], parallel), ref, family, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_small_em_pass_unit_weights_and_no_noise(cov_type, dtype):
    X, _, shift, args, twin = problem(2, cov_type, K=3, D=2, N=200, layout="overlapping", dtype=dtype,
                                      noise=False)
    ref = kernel_twin(twin[0], None, *twin[2:])
    got = em_pass(args[0], X, None, shift, *args[1:])
    assert got[1][-1] == 0.0
    check_statistics(got, ref, args[0], dtype)


@pytest.mark.parametrize("layout", ["separated", "overlapping"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov_type", ["diag", "spherical"])
def test_em_pass_many_components(cov_type, dtype, layout):
    """K >= 128: the diagonal family's dense statistics are matrix products (GEMM)."""
    K = 130
    X, sw, shift, args, twin = problem(3, cov_type, K=K, D=5, N=700, layout=layout, dtype=dtype)
    ref = kernel_twin(*twin)
    if layout == "overlapping":  # dense blocks: at least a quarter of responsibilities non-zero
        assert (ref["resp"][:, :K] > 1e-15).mean() > 0.5
    for parallel in (False, True):
        check_statistics(em_pass(args[0], X, sw, shift, *args[1:], parallel), ref, args[0], dtype)


@pytest.mark.parametrize("cov_type", ["full", "tied"])
def test_em_pass_wide_full(cov_type):
    """D = 12 (over 100 upper-triangle entries: another sparse/dense crossover)."""
    X, sw, shift, args, twin = problem(4, cov_type, K=5, D=12, N=400, layout="overlapping",
                                      dtype=np.float64)
    check_statistics(em_pass(args[0], X, sw, shift, *args[1:]), kernel_twin(*twin), args[0], np.float64)


@pytest.mark.parametrize("layout", ["separated", "overlapping"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_small_score_pass_matches_twin(cov_type, dtype, layout):
    X, _, shift, args, twin = problem(5, cov_type, K=4, D=3, N=300, layout=layout, dtype=dtype)
    ref = kernel_twin(*twin)
    rtol = RTOL[dtype]
    for parallel in (False, True):
        lse, resp, labels = score_pass(args[0], X, shift, *args[1:], parallel=parallel)
        np.testing.assert_allclose(lse, ref["lse"], rtol=rtol, atol=rtol)
        np.testing.assert_allclose(resp, ref["resp"], atol=10 * rtol)
        # labels where the winner is clear (float32 may break near-ties differently)
        top2 = np.sort(ref["resp"], axis=1)[:, -2:]
        clear = top2[:, 1] - top2[:, 0] > 1e-3
        assert clear.mean() > 0.5
        np.testing.assert_array_equal(labels[clear], ref["labels"][clear])
    assert (ref["labels"] == -1).any()
