"""Model-based hierarchical clustering (``init_params="hc"``) against mclust's ``hc()``:
merge trees and ``hclass`` partitions stored by tests/data/make_mclust_hc.py (R is not
needed here), and against a slow textbook twin of the merge criterion.

Two oracles, so that a failure says where: from mclust's own transformed rows (stored in
the file) the whole merge tree must equal mclust's, ties included (gmmkit breaks them as
mclust does); from the raw table, gmmkit's own SVD transform differs from R's in the last
bits, so a rounding-level tie may go the other way: partitions must then still be equal,
unless a tie (margin 0 up to 1e-10) came before the cut.
"""
import json
import os

import numpy as np
import pandas as pd
import pytest

from gmmkit import GaussianMixture
from gmmkit._em.hc import agglomerate, hc, hc_labels, transform
from gmmkit.exceptions import ParameterError

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
with open(os.path.join(HERE, "..", "data", "mclust_hc.json")) as fh:
    REF = json.load(fh)
CASES = [(name, model) for name, d in REF["datasets"].items() for model in d["models"]]
CODES = {"EII": 0, "E": 0, "VII": 1, "V": 1, "VVV": 2}


def table(name):
    d = REF["datasets"][name]
    return pd.read_csv(os.path.join(ROOT, d["file"]))[d["columns"]].to_numpy(float), d


def same_partition(a, b):
    """Equal up to a permutation of the labels."""
    a, b = np.asarray(a), np.asarray(b)
    return len(set(zip(a, b))) == len(set(a)) == len(set(b))


def test_oracle_file():
    assert REF["mclust_version"].startswith("6.")
    assert "hclass" in REF["command"]


@pytest.mark.parametrize("name,model", CASES)
def test_tree_equals_mclust_from_its_rows(name, model):
    """From mclust's transformed rows, every merge as mclust's (ties broken as mclust)."""
    X, d = table(name)
    Z = np.asarray(d["transformed"], dtype=float)
    tree = hc(Z, model=model, use="VARS")
    ref = np.asarray(d["models"][model]["pairs"]) - 1
    assert tree.pairs.shape == ref.shape
    first = np.flatnonzero((tree.pairs != ref).any(axis=1))
    assert first.size == 0, f"{name} {model}: first different merge at step {first[:1]} of {len(ref)}"


@pytest.mark.parametrize("name", list(REF["datasets"]))
def test_transform_as_mclust_svd(name):
    X, d = table(name)
    Z, Zr = transform(X, "SVD"), np.asarray(d["transformed"])
    assert Z.shape == Zr.shape
    signs = np.sign((Z * Zr).sum(axis=0))  # singular vectors are defined up to sign
    np.testing.assert_allclose(Z * signs, Zr, atol=1e-12)


@pytest.mark.parametrize("name,model", CASES)
def test_partitions_equal_mclust(name, model):
    """hclass(hc(X, model, use = "SVD"), 2:5) from the raw table: identical partitions,
    except after a rounding-level tie (reported by ``HCTree.ties``); mclust's default
    (VVV) has none that matter on these data."""
    X, d = table(name)
    tree = hc(X, model=model)
    for g, part in d["models"][model]["partitions"].items():
        ours = tree.partition(int(g))
        if not same_partition(ours, part):
            assert model != "VVV", f"{name} VVV G={g}: partition differs from mclust's"
            assert tree.ties(int(g)).size, f"{name} {model} G={g}: differs from mclust's with no tie"


def naive_vvv_tree(Z):
    """Textbook twin: every step recomputes every pair's merge cost from the clusters'
    points (mclust's VVV terms, slogdet), the last pair in packed slot order winning ties."""
    N, p = Z.shape
    alpha = ((Z - Z.mean(axis=0)) ** 2).sum() / (N * p)

    def term(idx):
        n = len(idx)
        C = Z[idx] - Z[idx].mean(axis=0)
        W = C.T @ C
        t = np.trace(W)
        if n <= p:
            return n * np.log((t + alpha) / n)
        return n * np.log(np.exp(np.linalg.slogdet(W / n)[1]) + (t + alpha) / n)

    slots = [[i] for i in range(N)]
    labels = list(range(N))
    pairs = []
    while len(slots) > 1:
        best, arg = np.inf, None
        for j in range(1, len(slots)):
            for i in range(j):
                c = term(slots[i] + slots[j]) - term(slots[i]) - term(slots[j])
                if c <= best:
                    best, arg = c, (i, j)
        i, j = arg
        pairs.append((min(labels[i], labels[j]), max(labels[i], labels[j])))
        slots[i] = slots[i] + slots[j]
        labels[i] = min(labels[i], labels[j])
        slots[j], labels[j] = slots[-1], labels[-1]
        slots.pop()
        labels.pop()
    return np.asarray(pairs)


@pytest.mark.parametrize("scale", [1.0, 1e3])  # the trace term, then the determinant, dominating
def test_vvv_equals_textbook_twin(scale):
    rng = np.random.default_rng(3)
    Z = scale * np.vstack([rng.normal(0, 1, (14, 3)), rng.normal(4, [0.5, 2, 1], (14, 3))])
    tree = hc(Z, model="VVV", use="VARS")
    np.testing.assert_array_equal(tree.pairs, naive_vvv_tree(Z))


def test_ward_costs_are_trace_increases():
    """EII merges cost the rise of the total within-cluster sum of squares (Ward)."""
    rng = np.random.default_rng(4)
    Z = rng.normal(size=(30, 2))
    slots, costs, _ = agglomerate(Z, np.ones(30), CODES["EII"], 1.0, 1.0, 29)
    tree = hc(Z, model="EII", use="VARS")

    def wss(labels):
        return sum(((Z[labels == k] - Z[labels == k].mean(axis=0)) ** 2).sum() for k in np.unique(labels))

    for K in (10, 5, 2):
        assert np.isclose(wss(tree.partition(K)), costs[: 30 - K].sum(), rtol=1e-9)


def test_init_params_hc_starts_from_mclust_partition():
    """max_iter=0: the fitted means are the class means of mclust's 3-cluster partition."""
    X, d = table("iris")
    part = np.asarray(d["models"]["VVV"]["partitions"]["3"])
    gm = GaussianMixture(3, init_params="hc", max_iter=0).fit(X)
    expected = np.array([X[part == k].mean(axis=0) for k in (1, 2, 3)])
    np.testing.assert_allclose(gm.means_, expected, atol=1e-9)


def test_subsample_for_large_n(monkeypatch):
    monkeypatch.setattr("gmmkit._em.hc.HC_ROWS", 300)
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(-5, 1, (1500, 2)), rng.normal(5, 1, (1500, 2))])
    labels = hc_labels(X, 2, rng, max_rows=300)
    assert (labels >= 0).sum() == 300 and set(np.unique(labels)) == {-1, 0, 1}
    chosen = labels >= 0
    assert same_partition(labels[chosen], X[chosen, 0] > 0)
    w = np.r_[np.zeros(10), np.ones(2990)]
    assert np.all(hc_labels(X, 2, rng, weights=w, max_rows=300)[:10] == -1)  # zero weight: left out
    gm = GaussianMixture(2, init_params="hc", random_state=0).fit(X)  # a 300-row subsample
    assert sorted(np.round(gm.means_[:, 0]).tolist()) == [-5.0, 5.0]


def test_default_models_and_errors():
    rng = np.random.default_rng(1)
    assert hc(rng.normal(size=(20, 1))).model == "V"
    assert hc(rng.normal(size=(3, 5))).model == "EII"  # no more rows than columns, as Mclust
    assert hc(rng.normal(size=(20, 3))).model == "VVV"
    with pytest.raises(ParameterError, match="EEE"):
        hc(rng.normal(size=(20, 3)), model="EEE")
    with pytest.raises(ParameterError, match="transform"):
        hc(rng.normal(size=(20, 3)), use="PCA")
    with pytest.raises(Exception, match="cannot cut"):
        hc(rng.normal(size=(5, 2))).partition(6)
