"""Model-based agglomerative hierarchical clustering, as mclust's ``hc()`` (Banfield and
Raftery 1993, Fraley 1998): the start of ``init_params="hc"`` and of ``gmmkit.select``
with that start.

Starting from one cluster per row (as mclust's ``hc()``: its duplicate grouping does not
reach the model functions), each step merges the two clusters whose merge costs the
least classification likelihood. With ``n`` points, scatter matrix ``W`` (about the cluster
mean) and trace ``t``, mclust's cluster terms are

- ``VVV``: ``n log(det(W / n) + beta (t + alpha) / n)``, and ``n log(beta (t + alpha) / n)``
  while ``n <= D`` (W is singular); ``alpha`` = the data's total scatter trace / (N D),
  ``beta`` = 1 (mclust's ``hcVVV`` defaults);
- ``VII`` (``V`` on one column): ``n log((t + alpha) / n)``;
- ``EII`` (``E`` on one column, Ward's criterion): the merge cost is the trace increase
  ``n_i n_j / (n_i + n_j) |m_i - m_j|^2``, updated after a merge by Lance and Williams's
  formula as mclust does (so that rounding, and with it ties, go the same way);

and the cost of merging i and j is term(i + j) - term(i) - term(j). Ties go as in
mclust: the pair last in the packed order of the current cluster slots (after a merge
the last slot moves into the freed one), so that trees equal mclust's wherever the
costs are not tied to rounding.

Before clustering, the rows are transformed as mclust's ``hcUse`` says; mclust 6's
default is ``"SVD"`` (centred, scaled to unit standard deviation, then the scaled
principal components divided by the square roots of their singular values).

Cost: every pair's cost is kept (N (N - 1) / 2 floats: 16 MB for N = 2000), each merge
recomputes the costs against the merged cluster (O(N D^3): an LDL factor of each merged
scatter for VVV) and each column keeps its minimum, rescanned only where the minimum was
one of the merged pair and grew; the estimators run it on at most :data:`HC_ROWS` rows,
as mclust's ``Mclust`` does (its ``subset``). 2000 x 6 takes 0.7 s of CPU.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from .._kernels import register_kernel_module
from ..exceptions import DataError, ParameterError

register_kernel_module(__file__)

HC_ROWS = 2000
"""Rows the hierarchical start clusters at most (mclust's ``mclust.options("subset")``)."""
MODELS = {"EII": 0, "VII": 1, "VVV": 2, "E": 0, "V": 1}
"""mclust's hierarchical models gmmkit has: EII, VII, VVV, and E, V for one column."""
USES = ("SVD", "VARS", "STD")
_EII, _VII, _VVV = 0, 1, 2
_RTHALF = math.sqrt(0.5)


@njit(cache=True)
def _dot(v):
    s = 0.0
    for k in range(v.shape[0]):
        s += v[k] * v[k]
    return s


@njit(cache=True)
def _vvv_term(n, trc, W, alpha, beta, scratch):
    """mclust's VVV cluster term from the count, scatter trace and scatter matrix."""
    p = W.shape[0]
    if n <= p:
        return n * math.log(beta * (trc + alpha) / n)
    if trc == 0.0:
        return n * math.log(alpha * beta / n)
    # det(W) as the product of the pivots of W = L diag(piv) L^T (no square roots, one
    # log); a pivot <= 0 (W singular): the trace term alone, as mclust
    det, logdet = 1.0, 0.0
    for a in range(p):
        piv = W[a, a]
        for b in range(a):
            piv -= scratch[a, b] * scratch[a, b] * scratch[b, b]
        if not piv > 0.0:
            return n * math.log(beta * (trc + alpha) / n)
        scratch[a, a] = piv
        det *= piv
        if not 1e-150 < det < 1e150:  # many dimensions: fold into the log before it over/underflows
            logdet += math.log(det)
            det = 1.0
        for c in range(a + 1, p):
            acc = W[c, a]
            for b in range(a):
                acc -= scratch[c, b] * scratch[a, b] * scratch[b, b]
            scratch[c, a] = acc / piv
    detlog = logdet + math.log(det) - p * math.log(n)  # log det(W / n)
    rest = beta * (trc + alpha) / n
    if detlog <= 0.0:
        return n * math.log(math.exp(detlog) + rest)
    return n * (math.log(1.0 + math.exp(-detlog) * rest) + detlog)


@njit(cache=True)
def _merge(i, j, xs, cnt, tr, term, W, model, alpha, beta, v, Wm, scratch):
    """(cost, trace, term) of merging slots i and j; leaves the merged scatter in Wm and
    the between-means vector in v."""
    ni, nj = cnt[i], cnt[j]
    nij = ni + nj
    p = xs.shape[1]
    if model == _VVV and ni == 1.0 and nj == 1.0:  # mclust's two-singleton form
        for k in range(p):
            v[k] = (xs[i, k] - xs[j, k]) * _RTHALF
        trc = _dot(v)
    else:
        qij = 1.0 / nij
        si, sj = math.sqrt(ni * qij), math.sqrt(nj * qij)
        for k in range(p):
            v[k] = sj * xs[i, k] - si * xs[j, k]
        trc = (tr[i] + tr[j]) + _dot(v)
    if model == _EII:
        return trc - (tr[i] + tr[j]), trc, 0.0
    if model == _VII:
        trm = nij * math.log((trc + alpha) / nij)
    else:
        if nij > p:  # (with fewer points the scatter is singular: the trace term alone)
            for a in range(p):
                for b in range(p):
                    Wm[a, b] = W[i, a, b] + W[j, a, b] + v[a] * v[b]
        trm = _vvv_term(nij, trc, Wm, alpha, beta, scratch)
    return trm - (term[i] + term[j]), trc, trm


@njit(cache=True)
def _pk(i, j):
    return j * (j - 1) // 2 + i


@njit(cache=True)
def _rescan(d, j, colmin, colarg):
    best, arg = np.inf, -1
    for i in range(j):
        x = d[_pk(i, j)]
        if x <= best:
            best, arg = x, i
    colmin[j], colarg[j] = best, arg


@njit(cache=True)
def _offer(d, i, j, colmin, colarg):
    x = d[_pk(i, j)]
    if x < colmin[j] or (x == colmin[j] and i > colarg[j]):
        colmin[j], colarg[j] = x, i


@njit(cache=True)
def agglomerate(xs, cnt, model, alpha, beta, n_merges):
    """Merges of the G starting groups: ``xs`` (G, D) sqrt(count) x group mean, ``cnt``
    (G,) counts (groups start with zero scatter). Returns (slots (n_merges, 2) of each
    merge, in the slot numbering of that step; costs; gaps to the next best pair)."""
    G, p = xs.shape
    xs, cnt = xs.copy(), cnt.copy()
    tr = np.zeros(G)
    term = np.zeros(G)
    W = np.zeros((G if model == _VVV else 1, p, p))
    v, Wm, scratch = np.empty(p), np.empty((p, p)), np.empty((p, p))
    ward = np.empty(G)
    for g in range(G):
        if model == _VII:
            term[g] = cnt[g] * math.log(alpha / cnt[g])
        elif model == _VVV:
            term[g] = cnt[g] * math.log(alpha * beta / cnt[g])
    d = np.empty(max(G * (G - 1) // 2, 1))
    colmin, colarg = np.full(G, np.inf), np.full(G, -1)
    for j in range(1, G):
        for i in range(j):
            d[_pk(i, j)] = _merge(i, j, xs, cnt, tr, term, W, model, alpha, beta, v, Wm, scratch)[0]
        _rescan(d, j, colmin, colarg)
    slots = np.empty((n_merges, 2), dtype=np.int64)
    costs, gaps = np.empty(n_merges), np.empty(n_merges)
    L = G
    for step in range(n_merges):
        best, b = np.inf, -1
        for j in range(1, L):
            if colmin[j] <= best:
                best, b = colmin[j], j
        a = colarg[b]
        second = np.inf
        for j in range(1, L):
            if j != b and colmin[j] < second:
                second = colmin[j]
        for i in range(b):
            if i != a and d[_pk(i, b)] < second:
                second = d[_pk(i, b)]
        slots[step, 0], slots[step, 1] = a, b
        costs[step], gaps[step] = best, second - best
        if model == _EII:  # Ward's costs by Lance and Williams's update, as mclust's hceii
            for k in range(L):
                if k != a and k != b:
                    nk = cnt[k]
                    dk = (nk + cnt[a]) * d[_pk(min(a, k), max(a, k))] + (nk + cnt[b]) * d[_pk(min(b, k), max(b, k))]
                    ward[k] = (dk - nk * best) / (nk + (cnt[a] + cnt[b]))
        # the merged cluster goes to slot a
        _, trc, trm = _merge(a, b, xs, cnt, tr, term, W, model, alpha, beta, v, Wm, scratch)
        nij = cnt[a] + cnt[b]
        sa, sb = math.sqrt(cnt[a] / nij), math.sqrt(cnt[b] / nij)
        for k in range(p):
            xs[a, k] = sa * xs[a, k] + sb * xs[b, k]
        cnt[a], tr[a], term[a] = nij, trc, trm
        if model == _VVV:
            for r in range(p):
                for c in range(p):
                    W[a, r, c] = W[a, r, c] + W[b, r, c] + v[r] * v[c]
        # the last slot moves into slot b
        last = L - 1
        if b != last:
            xs[b], cnt[b], tr[b], term[b] = xs[last], cnt[last], tr[last], term[last]
            if model == _VVV:
                W[b] = W[last]
            ward[b] = ward[last]
            for k in range(b):
                d[_pk(k, b)] = d[_pk(k, last)]
            for k in range(b + 1, last):
                d[_pk(b, k)] = d[_pk(k, last)]
        L -= 1
        for k in range(L):
            if k != a:
                lo, hi = min(a, k), max(a, k)
                if model == _EII:
                    d[_pk(lo, hi)] = ward[k]
                else:
                    d[_pk(lo, hi)] = _merge(lo, hi, xs, cnt, tr, term, W, model, alpha, beta, v, Wm, scratch)[0]
        if a >= 1:
            _rescan(d, a, colmin, colarg)
        if 1 <= b < L:
            _rescan(d, b, colmin, colarg)
        for k in range(a + 1, L):
            if k == b:
                continue
            # only entries (a, k) and (b, k) changed: rescan only when the column's
            # minimum was one of them and grew
            arg = colarg[k]
            if arg == a or arg == b:
                x = d[_pk(arg, k)]
                if x > colmin[k]:
                    _rescan(d, k, colmin, colarg)
                    continue
                colmin[k] = x
            _offer(d, a, k, colmin, colarg)
            if b < k:
                _offer(d, b, k, colmin, colarg)
    return slots, costs, gaps


def transform(X, use="SVD"):
    """The rows as mclust's ``hc(use=...)`` clusters them: ``"VARS"`` as they are,
    ``"STD"`` centred and scaled, ``"SVD"`` (mclust 6's default) the scaled principal
    components over the square roots of the singular values. Constant columns are
    dropped where mclust's scaling makes them non-finite."""
    X = np.asarray(X, dtype=np.float64)
    if use == "VARS":
        return X
    if use not in USES:
        raise ParameterError(f"unknown hierarchical transform {use!r}; choose one of {', '.join(USES)}")
    sd = X.std(axis=0, ddof=1) if X.shape[0] > 1 else np.zeros(X.shape[1])
    Z = (X - X.mean(axis=0))[:, sd > 0] / sd[sd > 0]
    if use == "STD" or Z.shape[1] == 0:
        return Z
    _, s, vt = np.linalg.svd(Z, full_matrices=False)
    keep = s > 0
    return Z @ vt[keep].T / np.sqrt(s[keep])


@dataclass
class HCTree:
    """Merge tree of :func:`hc`: ``pairs[s]`` are the two group labels merged at step s
    (the merged group keeps the smaller; mclust's ``hcPairs`` less one), ``initial`` each
    row's starting group, ``costs`` and ``gaps`` each step's cost and its margin over the
    next best pair (0: a tie, broken as mclust breaks it)."""

    pairs: np.ndarray
    initial: np.ndarray
    costs: np.ndarray
    gaps: np.ndarray
    model: str
    use: str

    @property
    def n_groups(self):
        return int(self.pairs.shape[0] + 1) if self.pairs.size else int(self.initial.max(initial=-1) + 1)

    def partition(self, K):
        """Each row's cluster among K (numbered in order of first appearance), as mclust's
        ``hclass(tree, K)``."""
        G = self.n_groups
        if not 1 <= K <= G:
            raise DataError(f"the hierarchical tree has {G} leaves (rows); cannot cut it into {K}")
        parent = np.arange(G)
        merged = self.pairs[: G - K]
        parent[merged[:, 1]] = merged[:, 0]  # a group merges into a smaller label, once
        for g in range(G):
            parent[g] = parent[parent[g]]  # (smaller labels are resolved first)
        _, out = np.unique(parent[self.initial], return_inverse=True)
        first = np.unique(out, return_index=True)[1]
        rank = np.empty(K, dtype=np.int64)
        rank[np.argsort(first)] = np.arange(K)
        return rank[out]

    def ties(self, K=1, rtol=1e-10):
        """Steps before the cut into K clusters whose best merge was tied with another
        (within ``rtol``): there the tree rests on rounding."""
        steps = self.n_groups - K
        gap, cost = self.gaps[:steps], np.abs(self.costs[:steps])
        return np.flatnonzero(gap <= rtol * np.maximum(cost, 1.0))


def default_model(n_rows, n_cols):
    """mclust's choice: V on one column, EII with no more rows than columns, else VVV."""
    return "V" if n_cols == 1 else "EII" if n_rows <= n_cols else "VVV"


def hc(X, model=None, use="SVD", n_merges=None):
    """The merge tree of the rows of X (see the module docstring); ``model`` None picks
    mclust's default (:func:`default_model`)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or not np.all(np.isfinite(X)):
        raise DataError("hierarchical clustering needs a finite 2-D array")
    model = default_model(*X.shape) if model is None else model
    if model not in MODELS:
        raise ParameterError(f"hierarchical model {model!r} is not available; choose one of {', '.join(MODELS)}")
    Z = np.ascontiguousarray(transform(X, use))
    if Z.shape[1] == 0:
        raise DataError("hierarchical clustering: every column is constant")
    N, p = Z.shape
    G = N
    cnt = np.ones(N)
    xs = Z
    alpha = max(float(((Z - Z.mean(axis=0)) ** 2).sum()) / (N * p), np.finfo(float).eps)
    if model == "V":  # mclust's hcV: alpha = min(., eps), then max(., eps) in Fortran
        alpha = np.finfo(float).eps
    n_merges = G - 1 if n_merges is None else min(int(n_merges), G - 1)
    slots, costs, gaps = agglomerate(xs, cnt, MODELS[model], alpha, 1.0, max(n_merges, 0))
    return HCTree(_labels(slots, G), np.arange(N), costs, gaps, model, use)


def _labels(slots, G):
    """Slot pairs of each merge -> group labels (the merged group keeps the smaller label;
    the last slot's group moves into the freed slot), as mclust's hc output."""
    label = np.arange(G)
    pairs = np.empty_like(slots)
    L = G
    for s, (a, b) in enumerate(slots):
        la, lb = label[a], label[b]
        pairs[s] = (min(la, lb), max(la, lb))
        label[a] = min(la, lb)
        label[b] = label[L - 1]
        L -= 1
    return pairs


def hc_partitions(X, ks, rng=None, weights=None, max_rows=HC_ROWS, use="SVD"):
    """{K: each row's cluster among K} for every K of ``ks`` from one hierarchical tree of at
    most ``max_rows`` rows (drawn with ``rng``, with probability proportional to
    ``weights`` if given), as mclust's ``Mclust`` shares one tree among all K and models;
    rows outside the subsample, or of zero weight, get -1; None for a K above the rows."""
    X = np.asarray(X)
    N = X.shape[0]
    rows = np.arange(N) if weights is None else np.flatnonzero(weights > 0)
    if rows.size > max_rows:
        p = None if weights is None else weights[rows] / weights[rows].sum()
        rng = np.random.default_rng(rng) if not isinstance(rng, np.random.RandomState) else rng
        rows = np.sort(rng.choice(rows, max_rows, replace=False, p=p))
    tree = hc(X[rows], use=use)
    out = {}
    for K in ks:
        out[K] = None
        if K <= rows.size:
            out[K] = np.full(N, -1)
            out[K][rows] = tree.partition(K)
    return out


def hc_labels(X, K, rng=None, weights=None, max_rows=HC_ROWS, use="SVD"):
    """Each row's cluster among K (:func:`hc_partitions` for one K); DataError if K is
    above the rows clustered."""
    labels = hc_partitions(X, [K], rng, weights, max_rows, use)[K]
    if labels is None:
        raise DataError(f"init_params='hc' cannot make {K} clusters from fewer rows")
    return labels
