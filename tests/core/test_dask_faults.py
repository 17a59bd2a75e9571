"""A Dask fit fails clearly, in bounded time, when its cluster has no worker (issue 23)."""
import time

import numpy as np
import pytest

pytest.importorskip("distributed")

import dask.array as da  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402

import gmmkit.dask as gdask  # noqa: E402
from gmmkit import GaussianMixture  # noqa: E402
from gmmkit.exceptions import DataError  # noqa: E402


def test_fit_on_a_cluster_without_workers_fails_within_the_wait(monkeypatch):
    monkeypatch.setattr(gdask, "WORKER_WAIT", 2.0)
    X = da.from_array(np.random.default_rng(0).normal(size=(1000, 2)), chunks=250)
    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster, Client(cluster) as client:
        t0 = time.perf_counter()
        with pytest.raises(DataError, match="no workers"):
            gdask.fit_dask(GaussianMixture(2, random_state=0), X, client=client)
        assert time.perf_counter() - t0 < 30
