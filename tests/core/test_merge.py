"""Entropy merging of components against mclust's clustCombi / clustCombiOptim (numbers
stored by tests/data/make_mclust_uncertainty.py: the tests do not need R)."""
import json
import os

import numpy as np
import pandas as pd
import pytest

from gmmkit import GaussianMixture
from gmmkit.exceptions import ParameterError
from gmmkit.merge import merge_components, merge_posteriors

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
with open(os.path.join(ROOT, "tests", "data", "mclust_uncertainty.json")) as fh:
    MCLUST = json.load(fh)


def _naive_entropy(t):
    t = t[t > 0]
    return -float((t * np.log(t)).sum())


@pytest.mark.parametrize("name", ["faithful", "iris"])
def test_merge_sequence_and_entropies_equal_clustcombi_from_mclusts_posteriors(name):
    d = MCLUST["datasets"][name]
    ref = d["merge"]
    res = merge_posteriors(np.array(d["posteriors"]))
    K = d["n_components"]
    assert res.max_clusters == K
    for j, (l1, l2) in enumerate(res.merges):  # R's pairs are 1-based, keyed by the K merged from
        assert [l1 + 1, l2 + 1] == ref["pairs"][str(K - j)]
    np.testing.assert_allclose(res.entropy, [ref["entropy"][str(k)] for k in range(1, K + 1)],
                               rtol=1e-12, atol=1e-9)
    for k in range(1, K + 1):
        np.testing.assert_array_equal(res.labels(k) + 1, ref["classification"][str(k)])
        assert res.entropy[k - 1] == pytest.approx(_naive_entropy(res.posteriors[k - 1]), abs=1e-9)
        np.testing.assert_allclose(res.posteriors[k - 1].sum(axis=1), 1.0)
    assert res.n_clusters == ref["optim"]


def test_merging_our_own_faithful_fit_gives_mclusts_clusters():
    d = MCLUST["datasets"]["faithful"]
    X = pd.read_csv(os.path.join(ROOT, d["file"]))[d["columns"]].to_numpy(np.float64)
    gm = GaussianMixture(d["n_components"], covariance_type=d["model"], tol=1e-8, max_iter=1000,
                         random_state=0).fit(X)
    res = merge_components(gm, X)
    # mclust's EM stops at a relative change of 1e-5 (log L -1126.326; converged: -1126.316),
    # which moves the posteriors' entropy by ~1% (42.31 against 42.77 here)
    np.testing.assert_allclose(res.entropy, [d["merge"]["entropy"][str(k)] for k in range(1, 4)],
                               rtol=0.03, atol=1e-6)
    for k in range(1, 4):  # the same partitions, whatever the components' order, but for
        ours, theirs = res.labels(k), np.asarray(d["merge"]["classification"][str(k)])
        table = pd.crosstab(ours, theirs)  # a borderline row or two (the convergence above)
        assert table.shape == (k, k) and table.max(axis=1).sum() >= len(X) - 2
    groups = res.components(2)
    assert sorted(len(g) for g in groups) == [1, 2] and sorted(sum(groups, [])) == [0, 1, 2]
    assert list(res.table()["n_clusters"]) == [3, 2, 1]


def test_bad_posteriors_are_refused():
    with pytest.raises(ParameterError, match="posteriors"):
        merge_posteriors(np.array([[0.5, np.nan]]))
    with pytest.raises(ParameterError, match="n_clusters"):
        merge_posteriors(np.eye(3)).labels(4)
