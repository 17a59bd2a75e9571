"""The weighted reservoir of the out-of-core and Dask first-pass scans includes rows as
successive weighted sampling without replacement does (Efraimidis and Spirakis' A-Res):
heavier rows proportionally more often, zero-weight rows never.

Exact inclusion probabilities come from tests/reference.successive_sampling_inclusion
(small populations, many seeded repetitions) and Rosen's large-population formula
(tests/reference.rosen_inclusion, one big seeded scan). Bounds are five standard errors."""
import numpy as np
import pytest

from tests.helpers import dask_sample_rows, reservoir_rows
from tests.reference import rosen_inclusion, successive_sampling_inclusion

WEIGHTS = np.array([1.0, 1.0, 2.0, 0.5, 4.0, 0.0, 8.0, 3.0])


def inclusion_frequencies(sample_ids, n, reps):
    counts = np.zeros(n)
    for ids in sample_ids:
        counts[ids] += 1
    return counts / reps


def check_frequencies(freq, p, reps):
    se = np.sqrt(np.maximum(p * (1 - p), 1e-12) / reps)
    z = (freq - p) / se
    assert np.all(np.abs(z) < 5), np.c_[freq, p, z]
    assert np.all(freq[p == 0] == 0)


@pytest.mark.parametrize("chunking", [[8], [3, 5], [1, 2, 2, 3]])
def test_out_of_core_reservoir_inclusion_is_weight_proportional(chunking):
    """Three rows kept out of eight; the chunking decides when keys start (a small
    first part is kept as is until the reservoir overflows)."""
    size, reps = 3, 3000
    ids = np.arange(len(WEIGHTS), dtype=np.float64)[:, None]
    edges = np.cumsum([0] + chunking)
    chunks = [ids[a:b] for a, b in zip(edges[:-1], edges[1:])]
    wchunks = [WEIGHTS[a:b] for a, b in zip(edges[:-1], edges[1:])]
    samples = []
    for seed in range(reps):
        rows = reservoir_rows(chunks, wchunks, size, seed)
        assert rows.shape == (size, 1) and len(np.unique(rows)) == size  # without replacement
        samples.append(rows[:, 0].astype(int))
    freq = inclusion_frequencies(samples, len(WEIGHTS), reps)
    check_frequencies(freq, successive_sampling_inclusion(WEIGHTS, size), reps)


def test_out_of_core_reservoir_unweighted_is_uniform():
    size, reps, n = 4, 2000, 10
    ids = np.arange(n, dtype=np.float64)[:, None]
    samples = [reservoir_rows([ids[:3], ids[3:]], None, size, seed)[:, 0].astype(int) for seed in range(reps)]
    check_frequencies(inclusion_frequencies(samples, n, reps), np.full(n, size / n), reps)


def big_population(seed=0, n=12_000):
    """Row ids as data and four weight classes (0, 1, 3, 9), in shuffled order."""
    rng = np.random.default_rng(seed)
    w = rng.choice([0.0, 1.0, 3.0, 9.0], size=n, p=[0.1, 0.5, 0.3, 0.1])
    return np.arange(n, dtype=np.float64)[:, None], w


def check_classes(ids, w, size):
    """Per weight class, the number of sampled rows against Rosen's inclusion probabilities."""
    pi = rosen_inclusion(w, size)
    for cls in np.unique(w):
        members = w == cls
        got = np.isin(np.flatnonzero(members), ids).sum()
        expected = pi[members].sum()
        sd = np.sqrt((pi[members] * (1 - pi[members])).sum())
        # Rosen's formula is asymptotic: allow 2% of the class on top of 5 standard errors
        assert abs(got - expected) <= 5 * sd + 0.02 * expected, (cls, got, expected)
    assert not np.isin(np.flatnonzero(w == 0), ids).any()


def test_out_of_core_reservoir_big_population():
    X, w = big_population()
    size = 1500
    edges = np.r_[0:len(X):1000, len(X)]
    rows = reservoir_rows([X[a:b] for a, b in zip(edges[:-1], edges[1:])],
                          [w[a:b] for a, b in zip(edges[:-1], edges[1:])], size, seed=1)
    assert rows.shape == (size, 1)
    check_classes(rows[:, 0].astype(int), w, size)


def test_dask_scan_sample_big_population():
    pytest.importorskip("dask")
    X, w = big_population(seed=1)
    size = 1500
    rows = dask_sample_rows(X, w, size, seed=2, block_rows=1700)
    assert rows.shape == (size, 1) and len(np.unique(rows)) == size
    check_classes(rows[:, 0].astype(int), w, size)


def test_dask_scan_inclusion_is_weight_proportional():
    """Exact small-population inclusion frequencies for the Dask scan too (blocks of 3 rows)."""
    pytest.importorskip("dask")
    size, reps = 3, 400
    ids = np.arange(len(WEIGHTS), dtype=np.float64)[:, None]
    samples = [dask_sample_rows(ids, WEIGHTS, size, seed, block_rows=3)[:, 0].astype(int)
               for seed in range(reps)]
    freq = inclusion_frequencies(samples, len(WEIGHTS), reps)
    check_frequencies(freq, successive_sampling_inclusion(WEIGHTS, size), reps)
