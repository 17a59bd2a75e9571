"""Dask-distributed EM (gmmkit.dask): exact against the in-memory fit, on a process cluster,
and a fit that survives losing a worker."""
import os
import threading

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from gmmkit import GaussianMixture  # noqa: E402
from gmmkit.dask import fit_dask, read_dask, score_dask  # noqa: E402
from gmmkit.exceptions import DataError  # noqa: E402
from tests.helpers import make_blobs, well_conditioned  # noqa: E402

FITTED = ["weights_", "means_", "covariances_", "precisions_cholesky_"]


def assert_same_fit(a, b, rtol=1e-8):
    for name in FITTED:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, atol=0, err_msg=name)
    np.testing.assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=rtol, atol=0)
    assert a.n_iter_ == b.n_iter_ and a.converged_ == b.converged_


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, worker_dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture
def blobs(rng):
    return make_blobs(rng, n=3000, d=3, k=3)


@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
def test_cluster_equals_in_memory(client, blobs, cov):
    kw = dict(n_components=3, covariance_type=cov, random_state=0, tol=1e-8, max_iter=60)
    ref = GaussianMixture(**kw).fit(blobs)
    got = fit_dask(GaussianMixture(**kw), da.from_array(blobs, chunks=(400, 3)), client=client)
    assert_same_fit(got, ref)
    assert got.n_features_in_ == 3


def test_threaded_scheduler_weights_float32(blobs, rng):
    w = rng.integers(0, 3, size=len(blobs)).astype(float)
    kw = dict(n_components=3, covariance_type="diag", random_state=0, tol=1e-8)
    ref = GaussianMixture(**kw).fit(blobs, sample_weight=w)
    got = fit_dask(GaussianMixture(**kw), da.from_array(blobs, chunks=700), sample_weight=w, client=False)
    assert_same_fit(got, ref)
    X32 = well_conditioned(rng)
    ref32 = GaussianMixture(3, random_state=0).fit(X32)
    got32 = fit_dask(GaussianMixture(3, random_state=0), da.from_array(X32, chunks=(700, 1)), client=False)
    assert_same_fit(got32, ref32, rtol=1e-4)  # float32 sums, shifted by a float64 mean here


def test_sampled_init_same_start(client, rng):
    X = make_blobs(rng, n=6000, d=2, k=3)
    with pytest.warns(ConvergenceWarning):  # a deliberately rough start
        start = GaussianMixture(3, random_state=1, max_iter=2).fit(X[::7])
    kw = dict(n_components=3, weights_init=start.weights_, means_init=start.means_,
              precisions_init=start.precisions_, tol=1e-9, max_iter=50)
    ref = GaussianMixture(**kw).fit(X)
    got = fit_dask(GaussianMixture(**kw), da.from_array(X, chunks=1000), client=client, sample_size=500)
    assert_same_fit(got, ref)


def _exit_soon():
    threading.Timer(0.05, os._exit, (1,)).start()
    return os.getpid()


def _workers(client):
    return set(client.scheduler_info()["workers"])


def _wait_until(condition, timeout):
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_worker_killed_mid_fit(client, blobs):
    """A worker dies after iteration 3; Dask recomputes its blocks and the fit is unchanged."""
    X = da.from_array(blobs, chunks=(300, 3))
    kw = dict(n_components=3, random_state=0, tol=1e-10, max_iter=40)
    ref = fit_dask(GaussianMixture(**kw), X, client=client)
    assert ref.n_iter_ > 5
    client.wait_for_workers(2, timeout=60)  # an earlier test may have left a worker restarting
    victim = sorted(_workers(client))[0]
    killed = []

    def kill(info):
        if info["n_iter"] == 3 and not killed:
            killed.append(client.run(_exit_soon, workers=[victim])[victim])

    got = fit_dask(GaussianMixture(callback=kill, **kw), X, client=client)
    assert killed
    # that worker really died: the scheduler drops it, and the nanny's replacement joins
    assert _wait_until(lambda: victim not in _workers(client) and len(_workers(client)) >= 2, 60)
    assert_same_fit(got, ref, rtol=1e-12)
    assert_same_fit(got, GaussianMixture(**kw).fit(blobs))


def test_read_dask_files(tmp_path, client, blobs):
    import pandas as pd

    np.save(tmp_path / "a.npy", blobs[:1000])
    np.save(tmp_path / "b.npy", blobs[1000:])
    Xd = read_dask(str(tmp_path / "*.npy"), chunk_rows=450)
    assert Xd.chunks[0] == (450, 450, 100, 450, 450, 450, 450, 200)
    ref = GaussianMixture(3, random_state=0).fit(blobs)
    assert_same_fit(fit_dask(GaussianMixture(3, random_state=0), Xd, client=client), ref)
    frame = pd.DataFrame(blobs, columns=["a", "b", "c"]).assign(label="x")
    frame.iloc[:1500].to_parquet(tmp_path / "p0.parquet")
    frame.iloc[1500:].to_parquet(tmp_path / "p1.parquet")
    Xp = read_dask(str(tmp_path / "p*.parquet"), columns=["a", "b", "c"])
    assert_same_fit(fit_dask(GaussianMixture(3, random_state=0), Xp, client=client), ref)
    with pytest.raises(DataError, match="non-numeric"):
        read_dask(str(tmp_path / "p*.parquet"))
    with pytest.raises(DataError, match="no file matches"):
        read_dask(str(tmp_path / "*.csv"))


@pytest.mark.parametrize("cov,noise", [("full", True), ("diag", False), ("tied", False), ("spherical", True)])
def test_missing_values_on_cluster_equal_in_memory(client, blobs, rng, cov, noise):
    X = blobs.copy()
    X[rng.uniform(size=X.shape) < 0.15] = np.nan
    X = X[~np.isnan(X).all(axis=1)]
    X[:500] = blobs[:500]  # a block without NaN takes the dense kernel
    kw = dict(n_components=3, covariance_type=cov, noise=noise, random_state=0, tol=0.0, max_iter=15)
    with pytest.warns(ConvergenceWarning):  # tol=0: both run their 15 iterations
        ref = GaussianMixture(**kw).fit(X)
    with pytest.warns(ConvergenceWarning):
        got = fit_dask(GaussianMixture(**kw), da.from_array(X, chunks=(500, 3)), client=client)
    assert_same_fit(got, ref, rtol=1e-10)
    ll, n = score_dask(got, da.from_array(X, chunks=(500, 3)), client=client)
    assert n == len(X) and ll == pytest.approx(ref.score_samples(X).sum(), rel=1e-10)


def test_bad_data(blobs):
    bad = blobs.copy()
    bad[1234, 0] = np.inf
    with pytest.raises(DataError, match="infinity in block 2"):
        fit_dask(GaussianMixture(2), da.from_array(bad, chunks=500), client=False)
    bad[1234, 0] = np.nan
    with pytest.raises(DataError, match="NaN .missing values need missing='em'. in block 2"):
        fit_dask(GaussianMixture(2, missing="error"), da.from_array(bad, chunks=500), client=False)
    bad[1234] = np.nan
    with pytest.raises(DataError, match="every value missing in block 2"):
        fit_dask(GaussianMixture(2), da.from_array(bad, chunks=500), client=False)
    with pytest.raises(DataError, match="2-D"):
        fit_dask(GaussianMixture(2), da.from_array(blobs[:, 0], chunks=500))
    with pytest.raises(DataError, match="n_components"):
        fit_dask(GaussianMixture(5), da.from_array(blobs[:3], chunks=2))


def test_score_dask_on_cluster(client, blobs):
    gm = GaussianMixture(3, random_state=0, callback=lambda info: None).fit(blobs)
    ll, n = score_dask(gm, da.from_array(blobs, chunks=(700, 3)), client=client)
    assert n == len(blobs)
    np.testing.assert_allclose(ll, gm.score_samples(blobs).sum(), rtol=1e-12)
    assert gm.callback is not None  # the caller's estimator is untouched
