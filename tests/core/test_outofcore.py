"""Out-of-core EM (gmmkit.outofcore): exact against the in-memory fit, sources, memory, streaming."""
import glob
import os
import tracemalloc

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from gmmkit import GaussianMixture
from gmmkit._scan import Reservoir as _Reservoir
from gmmkit.exceptions import DataError, ParameterError
from gmmkit.outofcore import fit_chunks, open_source, partial_fit, score_chunks, step_size
from gmmkit.tables.chunks import NpySource
from tests.helpers import make_blobs, well_conditioned

COV_TYPES = ["full", "tied", "diag", "spherical"]
FITTED = ["weights_", "means_", "covariances_", "precisions_cholesky_"]


def assert_same_fit(a, b, rtol=1e-10):
    for name in FITTED:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, atol=0, err_msg=name)
    np.testing.assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=rtol, atol=0)
    assert a.n_iter_ == b.n_iter_ and a.converged_ == b.converged_


@pytest.fixture
def blobs(rng):
    return make_blobs(rng, n=1500, d=3, k=3)


@pytest.fixture
def iris():
    from sklearn.datasets import load_iris

    return load_iris(as_frame=True).frame  # 4 numeric features + integer target


@pytest.mark.parametrize("cov", COV_TYPES)
def test_npy_equals_in_memory(tmp_path, blobs, cov):
    path = tmp_path / "X.npy"
    np.save(path, blobs)
    kw = dict(n_components=3, covariance_type=cov, random_state=0, tol=1e-8, max_iter=60)
    ref = GaussianMixture(**kw).fit(blobs)
    got = fit_chunks(GaussianMixture(**kw), path, chunk_rows=256)  # 6 chunks, the last partial
    assert_same_fit(got, ref)
    assert got.n_features_in_ == 3
    assert got.n_data_passes_ == got.n_iter_ + 1
    np.testing.assert_array_equal(got.predict(blobs), ref.predict(blobs))


def test_float32_computed_in_float32(tmp_path, rng):
    X = well_conditioned(rng)
    np.save(tmp_path / "X.npy", X)
    ref = GaussianMixture(3, random_state=0).fit(X)
    got = fit_chunks(GaussianMixture(3, random_state=0), tmp_path / "X.npy", chunk_rows=500)
    assert NpySource(tmp_path / "X.npy").dtype == np.float32
    assert_same_fit(got, ref, rtol=1e-4)  # float32 sums, shifted by a float64 mean here


def test_large_data_sampled_init_same_start(tmp_path, rng):
    """More rows than the sample: init differs, so give both fits the same starting parameters."""
    X = make_blobs(rng, n=6000, d=2, k=3)
    with pytest.warns(ConvergenceWarning):  # a deliberately rough start
        start = GaussianMixture(3, random_state=1, max_iter=2).fit(X[::7])
    kw = dict(n_components=3, weights_init=start.weights_, means_init=start.means_,
              precisions_init=start.precisions_, tol=1e-9, max_iter=50)
    ref = GaussianMixture(**kw).fit(X)
    np.save(tmp_path / "X.npy", X)
    got = fit_chunks(GaussianMixture(**kw), tmp_path / "X.npy", chunk_rows=1000, sample_size=500)
    assert_same_fit(got, ref)


def test_sampled_init_is_sensible(rng):
    X = make_blobs(rng, n=9000, d=2, k=3, spread=8.0)
    ref = GaussianMixture(3, random_state=0).fit(X)
    got = fit_chunks(GaussianMixture(3, random_state=0), X, chunk_rows=2000, sample_size=300)
    order = lambda m: m[np.argsort(m[:, 0])]  # noqa: E731
    np.testing.assert_allclose(order(got.means_), order(ref.means_), atol=1e-3)


def test_parquet_and_csv_real_data(tmp_path, iris):
    X = iris.iloc[:, :4].to_numpy()
    cols = list(iris.columns[:4])
    kw = dict(n_components=3, covariance_type="full", random_state=0, tol=1e-8)
    ref = GaussianMixture(**kw).fit(X)
    iris.to_parquet(tmp_path / "iris.parquet")
    iris.assign(species=np.where(iris.target == 0, "setosa", "other")).to_csv(tmp_path / "iris.csv", index=False)
    got_pq = fit_chunks(GaussianMixture(**kw), tmp_path / "iris.parquet", columns=cols, chunk_rows=40)
    got_csv = fit_chunks(GaussianMixture(**kw), tmp_path / "iris.csv", columns=cols, chunk_rows=40)
    assert_same_fit(got_pq, ref)
    assert_same_fit(got_csv, ref)
    with pytest.raises(DataError, match="non-numeric column.*species"):
        fit_chunks(GaussianMixture(**kw), tmp_path / "iris.csv")
    with pytest.raises(DataError, match="no column"):
        fit_chunks(GaussianMixture(**kw), tmp_path / "iris.parquet", columns=["petal"])


def test_glob_of_files_is_their_concatenation(tmp_path, blobs):
    parts = np.array_split(blobs, 4)
    for i, p in enumerate(parts):
        np.save(tmp_path / f"part{i}.npy", p)
    ref = GaussianMixture(3, random_state=0).fit(blobs)
    got = fit_chunks(GaussianMixture(3, random_state=0), str(tmp_path / "part*.npy"))
    assert_same_fit(got, ref)
    src = open_source(sorted(glob.glob(str(tmp_path / "part*.npy"))), chunk_rows=100)
    assert sum(X.shape[0] for X, _ in src) == blobs.shape[0]


def test_weighted_chunks_equal_weighted_fit(rng, blobs):
    w = rng.integers(0, 4, size=blobs.shape[0]).astype(float)
    kw = dict(n_components=3, covariance_type="diag", random_state=0, tol=1e-8)
    ref = GaussianMixture(**kw).fit(blobs, sample_weight=w)
    chunks = [(blobs[i:i + 300], w[i:i + 300]) for i in range(0, len(w), 300)]
    assert_same_fit(fit_chunks(GaussianMixture(**kw), chunks), ref)
    assert_same_fit(fit_chunks(GaussianMixture(**kw), blobs, sample_weight=w, chunk_rows=333), ref)


def test_function_source_and_callback(blobs):
    calls = []
    gm = GaussianMixture(3, random_state=0, callback=calls.append)
    fit_chunks(gm, lambda: (blobs[i:i + 500] for i in range(0, len(blobs), 500)))
    assert [c["n_iter"] for c in calls] == list(range(1, gm.n_iter_ + 1))
    assert calls[-1]["lower_bound"] == gm.lower_bound_


def test_warm_start_continues(blobs):
    # not converged after 3 iterations; converged within 3 more (both ways)
    with pytest.warns(ConvergenceWarning):
        a = fit_chunks(GaussianMixture(3, random_state=0, max_iter=3, warm_start=True), blobs, chunk_rows=400)
    b = GaussianMixture(3, random_state=0, max_iter=3, warm_start=True)
    with pytest.warns(ConvergenceWarning):
        b.fit(blobs)
    b.fit(blobs)
    fit_chunks(a, blobs, chunk_rows=400)
    assert a.converged_ and b.converged_
    assert_same_fit(a, b)


@pytest.mark.parametrize("cov,noise", [("full", False), ("tied", False), ("diag", True),
                                       ("spherical", False), ("full", True)])
def test_missing_values_equal_in_memory(tmp_path, rng, blobs, cov, noise):
    X = blobs.copy()
    X[rng.uniform(size=X.shape) < 0.15] = np.nan
    X = X[~np.isnan(X).all(axis=1)]
    X[:300] = blobs[:300]  # whole chunks without NaN take the dense path
    np.save(tmp_path / "X.npy", X)
    kw = dict(covariance_type=cov, noise=noise, random_state=0, max_iter=15, tol=0.0)
    with pytest.warns(ConvergenceWarning):  # tol=0: both run their 15 iterations
        a = GaussianMixture(3, **kw).fit(X)
    with pytest.warns(ConvergenceWarning):
        b = fit_chunks(GaussianMixture(3, **kw), tmp_path / "X.npy", chunk_rows=300)
    assert_same_fit(a, b)
    if noise:
        assert b.noise_weight_ == pytest.approx(a.noise_weight_, rel=1e-10)
    ll, n = score_chunks(b, tmp_path / "X.npy", chunk_rows=300)
    assert n == X.shape[0] and ll == pytest.approx(a.score_samples(X).sum(), rel=1e-10)


def test_bad_inputs(tmp_path, blobs):
    gm = GaussianMixture(2)
    with pytest.raises(ParameterError, match="one-shot"):
        fit_chunks(gm, (blobs[i:i + 100] for i in range(0, 1000, 100)))
    bad = blobs.copy()
    bad[700, 1] = np.inf
    with pytest.raises(DataError, match="infinity in rows 600..899"):
        fit_chunks(gm, bad, chunk_rows=300)
    bad[700, 1] = np.nan
    with pytest.raises(DataError, match="NaN .missing values need missing='em'. in rows 600..899"):
        fit_chunks(GaussianMixture(2, missing="error"), bad, chunk_rows=300)
    bad[700] = np.nan
    with pytest.raises(DataError, match="every value missing in rows 600..899"):
        fit_chunks(gm, bad, chunk_rows=300)
    with pytest.raises(DataError, match="3 features, earlier ones 2"):
        fit_chunks(gm, [blobs[:10, :2], blobs[10:20]])
    with pytest.raises(DataError, match="not found"):
        fit_chunks(gm, tmp_path / "missing.npy")
    with pytest.raises(DataError, match="no file matches"):
        fit_chunks(gm, str(tmp_path / "*.parquet"))
    np.save(tmp_path / "v.npy", blobs[:, 0])
    with pytest.raises(DataError, match="2-D"):
        fit_chunks(gm, tmp_path / "v.npy")
    with pytest.raises(DataError, match="n_components"):
        fit_chunks(GaussianMixture(5), blobs[:4])
    with pytest.raises(ParameterError):
        fit_chunks(GaussianMixture(2, covariance_type="bogus"), blobs)


def test_truncated_npy(tmp_path, blobs):
    path = tmp_path / "X.npy"
    np.save(path, blobs)
    with open(path, "r+b") as fh:
        fh.truncate(os.path.getsize(path) - 100)
    with pytest.raises(DataError, match="truncated"):
        fit_chunks(GaussianMixture(2), path, chunk_rows=400)


def test_memory_bounded_by_chunk(tmp_path, rng):
    X = rng.normal(size=(200_000, 4))  # 6.4 MB
    path = tmp_path / "X.npy"
    np.save(path, X)
    del X
    src = NpySource(path, chunk_rows=5000)  # 160 kB chunks
    assert max(c.shape[0] for c, _ in src) == 5000
    tracemalloc.start()
    try:
        with pytest.warns(ConvergenceWarning):  # tol=0: five passes, then stop
            fit_chunks(GaussianMixture(2, covariance_type="diag", random_state=0, max_iter=5, tol=0),
                       src, sample_size=2000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3_000_000, peak  # well under the 6.4 MB of data (chunk + sample + kmeans)


def test_reservoir_is_uniform_without_replacement():
    N, m, reps = 1000, 100, 200
    counts = np.zeros(N)
    for seed in range(reps):
        res = _Reservoir(m, np.random.RandomState(seed))
        for lo in range(0, N, 64):
            res.add(np.arange(lo, min(N, lo + 64), dtype=float)[:, None], None)
        rows, w = res.sample(np.float64)
        assert rows.shape == (m, 1) and len(np.unique(rows)) == m and w.size == 0
        counts[rows[:, 0].astype(int)] += 1
    # each row kept with probability m/N = 0.1: 20 expected per row out of 200 draws
    # (counts.mean() is 20 by construction: m rows per draw; the spread is what can fail)
    first, last = counts[:500].sum(), counts[500:].sum()
    assert abs(first - last) < 0.05 * (first + last)  # the end of the stream is not favoured
    assert counts.std() < 2 * np.sqrt(20)


def test_reservoir_weights():
    res = _Reservoir(50, np.random.RandomState(0))
    x = np.arange(1000, dtype=float)[:, None]
    w = np.where(np.arange(1000) % 2 == 0, 0.0, 1.0)
    res.add(x, w)
    rows, _ = res.sample(np.float64)
    assert rows.shape[0] == 50 and np.all(rows[:, 0] % 2 == 1)  # zero weight never sampled
    small = _Reservoir(50, np.random.RandomState(0))
    small.add(x[:20], w[:20])
    rows, ws = small.sample(np.float64)  # fits: all rows, in order, with their weights
    np.testing.assert_array_equal(rows[:, 0], np.arange(20))
    np.testing.assert_array_equal(ws, w[:20])


def test_score_chunks(blobs):
    gm = GaussianMixture(3, random_state=0).fit(blobs)
    ll, n = score_chunks(gm, blobs, chunk_rows=128)
    assert n == len(blobs)
    np.testing.assert_allclose(ll, gm.score_samples(blobs).sum(), rtol=1e-12)


# ---------------------------------------------------------------- streaming
def test_step_size_schedule():
    assert step_size(0) == 1.0
    np.testing.assert_allclose([step_size(t, 0.6) for t in (1, 9)], [2 ** -0.6, 10 ** -0.6])
    with pytest.raises(ParameterError, match="step_exponent"):
        partial_fit(GaussianMixture(2), np.zeros((10, 2)), step_exponent=0.4)


@pytest.mark.parametrize("cov", ["full", "diag"])
def test_partial_fit_approaches_batch_em(rng, cov):
    X = make_blobs(rng, n=12_000, d=2, k=3, spread=6.0)
    X = X[rng.permutation(len(X))]
    ref = GaussianMixture(3, covariance_type=cov, random_state=0).fit(X)
    gm = GaussianMixture(3, covariance_type=cov, random_state=0)
    for _epoch in range(2):
        for batch in np.array_split(X, 60):
            partial_fit(gm, batch, step_exponent=0.7)
    assert gm.n_iter_ == 120 and not gm.converged_ and len(gm.lower_bounds_) == 120
    order = lambda m: m[np.argsort(m[:, 0])]  # noqa: E731
    np.testing.assert_allclose(order(gm.means_), order(ref.means_), atol=0.1)
    assert gm.score(X) > ref.score(X) - 0.01  # approximate, but close in likelihood
    np.testing.assert_allclose(gm.weights_.sum(), 1.0)


@pytest.mark.parametrize("noise", [False, True])
def test_partial_fit_with_missing_values(rng, noise):
    X = make_blobs(rng, n=6000, d=3, k=3, spread=6.0)
    X = X[rng.permutation(len(X))]
    X[rng.uniform(size=X.shape) < 0.15] = np.nan
    X = X[~np.isnan(X).all(axis=1)]
    # the first batch is one exact EM step from the same start as the in-memory fit
    first = GaussianMixture(3, random_state=0, noise=noise)
    partial_fit(first, X[:1000])
    one = GaussianMixture(3, random_state=0, noise=noise, max_iter=1)
    with pytest.warns(Warning):
        one.fit(X[:1000])
    for name in FITTED:
        np.testing.assert_allclose(getattr(first, name), getattr(one, name), rtol=1e-9, err_msg=name)
    # the stream improves on its start and stays finite
    start = first.score(X)
    for batch in np.array_split(X, 30):
        partial_fit(first, batch)
    assert np.isfinite(first.means_).all() and first.score(X) > start
    # a converged fit is a fixed point: a step on all the data leaves it in place, which
    # holds only if the batch's expected statistics of the missing entries are exact
    ref = GaussianMixture(3, random_state=0, noise=noise, tol=1e-14, max_iter=5000).fit(X)
    before = {name: getattr(ref, name).copy() for name in FITTED}
    partial_fit(ref, X)
    for name in FITTED:
        np.testing.assert_allclose(getattr(ref, name), before[name], rtol=1e-7, atol=1e-9, err_msg=name)


@pytest.mark.parametrize("cov", COV_TYPES)
def test_model_statistics_round_trip(blobs, cov):
    """A fitted model as stream statistics: the M-step gives the model back."""
    from gmmkit._em.init import from_estimator
    from gmmkit._em.mstep import m_step
    from gmmkit.streaming import _model_statistics

    gm = GaussianMixture(3, covariance_type=cov, random_state=0).fit(blobs)
    rng = np.random.RandomState(0)
    problem = gm._problem(blobs.shape[1], blobs.mean(0), 1.0, blobs, np.empty(0), None, rng)
    p = from_estimator(problem, gm)
    q = m_step(problem, _model_statistics(problem, p), rng)
    for name in ("weights", "means", "prec_chol", "covariances"):
        np.testing.assert_allclose(getattr(q, name), getattr(p, name), rtol=1e-9, atol=1e-12)


def test_partial_fit_warm_from_fit_and_restart(rng, blobs):
    blobs = blobs[rng.permutation(len(blobs))]
    gm = GaussianMixture(3, random_state=0).fit(blobs)
    before = gm.means_.copy()
    partial_fit(gm, blobs[:300])
    assert gm.n_iter_ == 2  # the fitted model counts as the first batch
    np.testing.assert_allclose(gm.means_, before, atol=0.3)  # one step from the fitted model
    partial_fit(gm, blobs[300:600])
    assert gm.n_iter_ == 3
    gm.fit(blobs)  # refitting restarts the stream from the new fit
    partial_fit(gm, blobs[:300])
    assert gm.n_iter_ == 2
    with pytest.raises(DataError):
        partial_fit(gm, blobs[:10, :2])
    with pytest.raises(DataError, match="first batch"):
        partial_fit(GaussianMixture(5), blobs[:3])


@pytest.mark.parametrize("extra", [dict(noise=True), dict(prior="conjugate")])
def test_noise_and_prior_equal_in_memory(tmp_path, rng, blobs, extra):
    X = np.vstack([blobs, rng.uniform(-15, 15, size=(60, 3))])  # scattered outliers
    kw = dict(n_components=3, random_state=0, tol=1e-8, **extra)
    ref = GaussianMixture(**kw).fit(X)
    np.save(tmp_path / "X.npy", X)
    got = fit_chunks(GaussianMixture(**kw), tmp_path / "X.npy", chunk_rows=400)
    assert_same_fit(got, ref)
    if "noise" in extra:
        assert got.noise_weight_ > 0
        np.testing.assert_allclose(got.noise_weight_, ref.noise_weight_, rtol=1e-10)
        np.testing.assert_allclose(got.noise_bounds_, ref.noise_bounds_, rtol=0)
