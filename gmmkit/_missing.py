"""Missing values (NaN) inside EM, exactly (Ghahramani and Jordan 1994).

Rows are grouped by missingness pattern. For each pattern with observed
coordinates ``o`` and missing ``m``, the E-step is the ordinary fused pass run
on the observed columns with each component's *marginal* (mu_o, Sigma_oo), whose
Cholesky factor is computed once per pattern and iteration. The pass's
statistics of the observed block (nk, sum r x_o, sum r x_o x_o^T) then give the
missing block in closed form, because E[x_m | x_o, k] = c_k + B_k x_o is linear
in x_o (B_k = Sigma_mo Sigma_oo^-1, c_k = mu_m - B_k mu_o)::

    sum r x_m        = c nk + B sx_o
    sum r x_m x_o^T  = c sx_o^T + B S_oo
    sum r x_m x_m^T  = nk c c^T + c (B sx_o)^T + (B sx_o) c^T + B S_oo B^T
                       + nk (Sigma_mm - B Sigma_om)        (conditional covariance)

so the M-step is the dense one. Diagonal and spherical covariances make the
missing coordinates independent of the observed ones: E[x_m] = mu_m and the
conditional variance is sigma_m^2. All of this runs in one kernel call over
every pattern (:mod:`gmmkit._kernels.missing`): with hundreds of patterns a
per-pattern loop in Python was ~50x slower (page-blocks, 508 patterns: ~300 ms
against 4-6 ms per iteration). A row with every
value missing carries no information about the mixture and is rejected with an
error.
"""
from __future__ import annotations

import importlib

import numpy as np

from . import _engine
from ._covariance import covariance_type
from ._em.noise import NoiseRegion
from ._params import Statistics
from .exceptions import DataError


def _kernels(dtype, entry="em_patterns"):
    # imported on first use: a process without NaN never loads (or compiles) it; the
    # announcement asks the cache about the kernel the caller runs (scoring alone never
    # compiles em_patterns, so asking about it would announce a compile on every run)
    mod = importlib.import_module("gmmkit._kernels.missing")
    _engine.announce_compile(getattr(mod, entry), dtype, "missing-value kernels")
    return mod


class Patterns:
    """Rows of X grouped by missingness pattern, as the pattern kernels take them.

    Rows are sorted by pattern (``order``; stable, patterns in ``np.unique``
    order); pattern p holds sorted rows ``starts[p]:starts[p + 1]``, whose
    observed values are packed row by row in ``values[offsets[p]:offsets[p + 1]]``.
    ``idx[p]`` lists its observed columns then its missing ones (each ascending),
    ``n_obs[p]`` how many are observed, ``prefix[p]`` how many of them lead pattern
    p - 1's list too.
    """

    def __init__(self, X, sw):
        N, D = X.shape
        mask = np.isnan(X)
        uniq, inverse = np.unique(mask, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        self.order = np.argsort(inverse, kind="stable")
        counts = np.bincount(inverse, minlength=len(uniq))
        self.starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.n_obs = (D - uniq.sum(axis=1)).astype(np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(counts * self.n_obs)]).astype(np.int64)
        self.idx = np.ascontiguousarray(np.argsort(uniq, axis=1, kind="stable"), dtype=np.int64)
        # observed columns pattern p shares, as a leading run, with pattern p - 1
        # (the kernels keep that part of the marginal factorisation)
        cols = np.arange(D)
        same = (self.idx[1:] == self.idx[:-1]) & (cols < np.minimum(self.n_obs[1:], self.n_obs[:-1])[:, None])
        self.prefix = np.zeros(len(uniq), dtype=np.int64)
        self.prefix[1:] = np.cumprod(same, axis=1).sum(axis=1)
        self.values = np.ascontiguousarray(X[self.order][~mask[self.order]])
        self.sw = np.ascontiguousarray(sw[self.order]) if sw.size else sw
        self.N, self.D = N, D
        self._blocks = {}

    def __len__(self):
        return len(self.n_obs)

    def blocks(self, K):
        """Rows per kernel block of each pattern: the dense path's choice for its width,
        or fewer when the whole pattern fits (same blocks; smaller scratch to set up)."""
        b = self._blocks.get(K)
        if b is None:
            size = self.values.dtype.itemsize
            dense = np.array([_engine._block_size(K, int(d), size) for d in self.n_obs])
            n_rows = np.diff(self.starts)
            b = np.minimum(dense, np.maximum(8, -(-n_rows // 8) * 8)).astype(np.int64)
            self._blocks[K] = b
        return b

    def rows(self, p):
        """Original row indices of pattern p."""
        return self.order[self.starts[p]:self.starts[p + 1]]

    def observed(self, p):
        """Observed columns of pattern p (ascending)."""
        return self.idx[p, :self.n_obs[p]]

    def kernel_args(self, K):
        return self.values, self.offsets, self.starts, self.idx, self.n_obs, self.prefix, self.blocks(K)


def observed_sums(X, w, nan):
    """Per-column weighted sums and weights of X's observed entries: ``w`` None for unit
    weights, ``nan`` the NaN mask (None: X has no NaN)."""
    wx = np.ones(X.shape[0]) if w is None else w
    if nan is None:
        return wx @ X.astype(np.float64), np.full(X.shape[1], wx.sum())
    return wx @ np.where(nan, 0.0, X.astype(np.float64)), wx @ ~nan


def column_means(sums, counts):
    """``sums / counts`` per column, 0 for a column without an observed entry."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / counts
    return np.where(np.isfinite(mean), mean, 0.0)


def observed_mean(X, sw, nan):
    """Per-column (weighted) means of X's observed entries (``sw`` empty: unit weights)."""
    return column_means(*observed_sums(X, sw if sw.size else None, nan))


def _log(v):
    with np.errstate(divide="ignore"):
        return np.log(v)


_NOT_PD = ("a marginal covariance is not positive definite: the data are too extreme or "
           "degenerate; rescale X or increase reg_covar")


def pattern_statistics(pat, entry, params, shift, noise=None):
    """(log-likelihood, Statistics) of the rows in ``pat`` (:class:`Patterns`) under
    ``params`` (:class:`gmmkit._params.MixtureParams`): one kernel call over every
    missingness pattern (row chunks on the thread pool when the data are large
    enough). ``noise``: the noise component's :class:`NoiseRegion`, if any."""
    K, D = params.means.shape
    log_widths = noise.log_widths if noise is not None else np.zeros(D)
    pi0 = params.noise_weight
    log_pi0 = float(_log(pi0)) if noise is not None and pi0 > 0 else -np.inf
    args = (*pat.kernel_args(K), pat.sw)
    model = (np.ascontiguousarray(params.means, dtype=np.float64),
             entry.kernel_cov(params.covariances, K, D), _log(np.asarray(params.weights, dtype=np.float64)),
             np.ascontiguousarray(log_widths, dtype=np.float64), log_pi0)
    parallel = _engine.use_parallel(pat.N, entry.work_per_row(K, D))
    n_chunks = _engine.n_threads() if parallel else 1
    nk = np.zeros((n_chunks, K + 1))
    sx = np.zeros((n_chunks, K, D))
    sxx = np.zeros((n_chunks, K) + model[1].shape[1:])
    kern = _kernels(pat.values.dtype).em_patterns
    if n_chunks == 1:
        results = [kern(*args, 0, pat.N, shift, *model, nk[0], sx[0], sxx[0])]
    else:
        futs = [_engine.thread_pool().submit(kern, *args, lo, hi, shift, *model, nk[c], sx[c], sxx[c])
                for c, (lo, hi) in enumerate(_engine._chunks(pat.N, n_chunks))]
        results = [f.result() for f in futs]
    if not all(ok for _, ok in results):
        raise DataError(_NOT_PD)
    stats = Statistics(nk.sum(axis=0), sx.sum(axis=0), entry.from_kernel_stats(sxx.sum(axis=0)))
    return sum(ll for ll, _ in results), stats


def _fitted_model(est, log_pi0):
    K, D = est.means_.shape
    bounds = getattr(est, "noise_bounds_", None)
    log_widths = np.zeros(D) if bounds is None else NoiseRegion.from_bounds(bounds).log_widths
    return (np.ascontiguousarray(est.means_, dtype=np.float64),
            covariance_type(est.covariance_type).kernel_cov(est.covariances_, K, D),
            _log(np.asarray(est.weights_, dtype=np.float64)), log_widths, log_pi0)


def _score_sorted(est, pat, resp_cols, labels, log_pi0):
    """log p(x_o), responsibilities and labels of the rows in pattern order."""
    N = pat.N
    out_lse = np.empty(N)
    out_resp = np.empty((N if resp_cols else 0, max(resp_cols, 1)))
    out_label = np.empty(N if labels else 0, dtype=np.int64)
    K = est.means_.shape[0]
    score = _kernels(pat.values.dtype, "score_patterns").score_patterns
    if not score(*pat.kernel_args(K), *_fitted_model(est, log_pi0), out_lse, out_resp, out_label):
        raise DataError(_NOT_PD)
    return out_lse, out_resp, out_label


def score_missing(est, X, *, resp=False, labels=False):
    """score_samples / predict_proba / predict for rows with NaN (marginal densities)."""
    K = est.means_.shape[0]
    pi0 = est.noise_weight_
    pat = Patterns(X, np.empty(0))
    lse, r, lab = _score_sorted(est, pat, (K + (pi0 > 0)) if resp else 0, labels,
                                float(_log(pi0)) if pi0 > 0 else -np.inf)
    out_lse = np.empty_like(lse)
    out_lse[pat.order] = lse
    out_resp = out_label = None
    if resp:
        out_resp = np.empty_like(r)
        out_resp[pat.order] = r
    if labels:
        out_label = np.empty_like(lab)
        out_label[pat.order] = lab
    return out_lse, out_resp, out_label


def impute(est, X, n_draws=None, random_state=None):
    """Conditional-mean imputation, or ``n_draws`` multiple imputations (see GaussianMixture.impute)."""
    from sklearn.utils import check_random_state

    K, D = est.means_.shape
    rng = check_random_state(random_state)
    draws = 1 if n_draws is None else int(n_draws)
    out = np.repeat(X[None].astype(np.float64), draws, axis=0)
    pat = Patterns(X, np.empty(0))
    # P(k | x_o) among the Gaussian components (a noise component imputes nothing)
    _, resp, _ = _score_sorted(est, pat, K, False, -np.inf)
    means, cov, logw = _fitted_model(est, -np.inf)[:3]
    diag = covariance_type(est.covariance_type).independent_coordinates
    kern = _kernels(pat.values.dtype, "marginal")
    work = kern.workspace(cov.shape[0], D)
    for p in range(len(pat)):
        d_o = int(pat.n_obs[p])
        if d_o == D:
            continue
        rows, ocols, mcols = pat.rows(p), pat.observed(p), pat.idx[p, d_o:]
        r = resp[pat.starts[p]:pat.starts[p + 1]]
        if diag:  # x_m independent of x_o given k
            cm = np.broadcast_to(means[:, mcols], (len(rows), K, len(mcols)))
            cond = cov[:, 0, mcols]
        else:
            if not kern.marginal(means, cov, logw, pat.idx[p], d_o, np.dtype(np.float64), 0,
                                 *work[:3])[3]:
                raise DataError(_NOT_PD)
            c = np.empty((K, D - d_o))
            B = np.empty((K, D - d_o, d_o))
            cond = np.empty((K, D - d_o, D - d_o))
            for k in range(K):
                kern.conditional(means, cov, pat.idx[p], d_o, k, work[1], *work[3:], True)
                c[k], B[k], cond[k] = work[5][:D - d_o], work[4][:D - d_o, :d_o], work[6][:D - d_o, :D - d_o]
            cm = c[None] + np.einsum("kmo,no->nkm", B, X[np.ix_(rows, ocols)].astype(np.float64))
        if n_draws is None:
            out[0][np.ix_(rows, mcols)] = np.einsum("nk,nkm->nm", r, cm)
            continue
        for t in range(draws):
            # draw a component per row from P(k | x_o), then x_m from its conditional normal
            u = rng.uniform(size=len(rows))[:, None]
            ks = np.minimum((np.cumsum(r, axis=1) < u).sum(axis=1), K - 1)
            z = rng.standard_normal(size=(len(rows), len(mcols)))
            if diag:
                vals = cm[np.arange(len(rows)), ks] + z * np.sqrt(cond[ks])
            else:
                L = np.linalg.cholesky(cond + 1e-12 * np.eye(len(mcols)))
                vals = cm[np.arange(len(rows)), ks] + np.einsum("nij,nj->ni", L[ks], z)
            out[t][np.ix_(rows, mcols)] = vals
    return out[0] if n_draws is None else out
