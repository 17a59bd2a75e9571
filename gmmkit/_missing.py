"""Missing values (NaN) inside EM, exactly (Ghahramani and Jordan 1994).

Rows are grouped by missingness pattern. For each pattern with observed
coordinates ``o`` and missing ``m``, the E-step is the ordinary fused kernel run
on the observed columns with each component's *marginal* (mu_o, Sigma_oo), whose
Cholesky factor is computed once per pattern and iteration. The kernel's
statistics of the observed block (nk, sum r x_o, sum r x_o x_o^T) then give the
missing block in closed form, because E[x_m | x_o, k] = c_k + B_k x_o is linear
in x_o (B_k = Sigma_mo Sigma_oo^-1, c_k = mu_m - B_k mu_o)::

    sum r x_m        = c nk + B sx_o
    sum r x_m x_o^T  = c sx_o^T + B S_oo
    sum r x_m x_m^T  = nk c c^T + c (B sx_o)^T + (B sx_o) c^T + B S_oo B^T
                       + nk (Sigma_mm - B Sigma_om)        (conditional covariance)

so the M-step is the dense one. Diagonal and spherical covariances make the
missing coordinates independent of the observed ones: E[x_m] = mu_m and the
conditional variance is sigma_m^2. Rows without NaN take the dense path
unchanged. A row with every value missing carries no information about the
mixture and is rejected with an error.
"""
from __future__ import annotations

import math

import numpy as np

from . import _engine
from ._covariance import COVARIANCE_TYPES, _chol_prec_full

_LOG_2PI = math.log(2 * math.pi)


def patterns(X):
    """[(observed mask, row indices)] for each distinct missingness pattern of X."""
    mask = np.isnan(X)
    uniq, inverse = np.unique(mask, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(uniq) + 1))
    return [(~uniq[p], order[bounds[p]:bounds[p + 1]]) for p in range(len(uniq))]


class Marginal:
    """A mixture's parameters marginalised to the observed coordinates ``o``."""

    def __init__(self, cov_type, weights, means, cov, o, log_widths=None, pi0=0.0):
        entry = COVARIANCE_TYPES[cov_type]
        K, D = means.shape
        self.o, self.m = o, ~o
        self.family = entry.family
        d_o = int(o.sum())
        self.means_o = means[:, o]
        with np.errstate(divide="ignore"):
            logw = np.log(weights)
        if entry.family == "full":
            S = entry.as_full(cov, K, D)
            self.S = S
            S_oo = S[:, o][:, :, o]
            self.prec = _chol_prec_full(np.ascontiguousarray(S_oo))
            logdet = np.log(np.diagonal(self.prec, axis1=1, axis2=2)).sum(axis=1)
        else:
            var = entry.as_variances(cov, K, D)
            self.var = var
            self.prec = 1.0 / np.sqrt(var[:, o])
            logdet = np.log(self.prec).sum(axis=1)
        self.logc = np.ascontiguousarray(logw + logdet - 0.5 * d_o * _LOG_2PI)
        self.log_noise = -np.inf
        if pi0 > 0:
            self.log_noise = math.log(pi0) - float(log_widths[o].sum())

    def kernel_args(self, dtype):
        return (np.ascontiguousarray(self.means_o, dtype=dtype),
                np.ascontiguousarray(self.prec, dtype=dtype), self.logc, self.log_noise)

    def regression(self, means):
        """(B, c) with E[x_m | x_o, k] = c_k + B_k x_o (full family only)."""
        o, m = self.o, self.m
        S_oo = self.S[:, o][:, :, o]
        S_mo = self.S[:, m][:, :, o]
        B = np.linalg.solve(S_oo, S_mo.transpose(0, 2, 1)).transpose(0, 2, 1)
        c = means[:, m] - np.einsum("kmo,ko->km", B, means[:, o])
        return B, c

    def complete_statistics(self, means, nk, sx_o, sxx_o, D):
        """Observed-block statistics -> statistics over all D coordinates."""
        o, m = self.o, self.m
        if o.all():
            return sx_o, sxx_o
        K = means.shape[0]
        sx = np.zeros((K, D))
        sx[:, o] = sx_o
        if self.family == "diag":
            sxx = np.zeros((K, D))
            sxx[:, o] = sxx_o
            sx[:, m] = nk[:, None] * means[:, m]
            sxx[:, m] = nk[:, None] * (means[:, m] ** 2 + self.var[:, m])
            return sx, sxx
        S_oo = np.triu(sxx_o) + np.triu(sxx_o, 1).transpose(0, 2, 1)
        B, c = self.regression(means)
        Bsx = np.einsum("kmo,ko->km", B, sx_o)
        sx[:, m] = c * nk[:, None] + Bsx
        S_mo = c[:, :, None] * sx_o[:, None, :] + np.einsum("kmo,kop->kmp", B, S_oo)
        cond = self.S[:, m][:, :, m] - np.einsum("kmo,kpo->kmp", B, self.S[:, m][:, :, o])
        S_mm = (nk[:, None, None] * (c[:, :, None] * c[:, None, :] + cond)
                + c[:, :, None] * Bsx[:, None, :] + Bsx[:, :, None] * c[:, None, :]
                + np.einsum("kmo,kop,kqp->kmq", B, S_oo, B))
        sxx = np.zeros((K, D, D))
        sxx[np.ix_(np.arange(K), o, o)] = S_oo
        sxx[np.ix_(np.arange(K), m, o)] = S_mo
        sxx[np.ix_(np.arange(K), o, m)] = S_mo.transpose(0, 2, 1)
        sxx[np.ix_(np.arange(K), m, m)] = S_mm
        return sx, sxx

    def conditional(self, means, x_o):
        """Per-component conditional means (n, K, |m|) of the missing coordinates, and
        conditional covariances (K, |m|, |m|) (diagonal ones as (K, |m|))."""
        m = self.m
        if self.family == "diag":
            cm = np.broadcast_to(means[:, m], (x_o.shape[0],) + means[:, m].shape)
            return cm, self.var[:, m]
        B, c = self.regression(means)
        cm = c[None] + np.einsum("kmo,no->nkm", B, x_o)
        cond = self.S[:, m][:, :, m] - np.einsum("kmo,kpo->kmp", B, self.S[:, m][:, :, self.o])
        return cm, cond


def patterns_with_rows(X, sw):
    """Per pattern: (observed mask, row indices, contiguous observed block, its weights)."""
    out = []
    for o, rows in patterns(X):
        Xp = np.ascontiguousarray(X[np.ix_(rows, np.flatnonzero(o))])
        out.append((o, rows, Xp, sw[rows] if sw.size else sw))
    return out


def e_pass_missing(ctx, params):
    """The EM statistics of data with NaN: one kernel pass per missingness pattern."""
    weights, means, prec_chol, cov, pi0 = params
    est, K, D = ctx.est, ctx.K, ctx.D
    cov_type = est.covariance_type
    family = COVARIANCE_TYPES[cov_type].family
    ll = 0.0
    nk = np.zeros(K + 1)
    sx = np.zeros((K, D))
    sxx = np.zeros((K, D, D) if family == "full" else (K, D))
    pi = pi0 if ctx.noise else 0.0
    for o, rows, Xp, swp in ctx.pattern_blocks:
        marg = Marginal(cov_type, weights, means, cov, o, ctx.log_widths, pi)
        work = K * Xp.shape[1] * (Xp.shape[1] if family == "full" else 1)
        ll_p, nk_p, sx_o, sxx_o = _engine.em_pass(
            family, Xp, swp, np.ascontiguousarray(ctx.shift[o]), *marg.kernel_args(Xp.dtype),
            _engine.use_parallel(len(rows), work))
        ll += ll_p
        nk += nk_p
        sx_p, sxx_p = marg.complete_statistics(means, nk_p[:K], sx_o, sxx_o, D)
        sx += sx_p
        sxx += sxx_p
    return ll, (nk, sx, sxx)


def score_missing(est, X, *, resp=False, labels=False):
    """score_samples / predict_proba / predict for rows with NaN (marginal densities)."""
    N = X.shape[0]
    K, D = est.means_.shape
    pi0 = getattr(est, "noise_weight_", 0.0)
    log_widths = _log_widths_from_bounds(est)
    out_lse = np.empty(N)
    out_resp = np.empty((N, K + (pi0 > 0))) if resp else None
    out_label = np.empty(N, dtype=np.int64) if labels else None
    for o, rows, Xp, _ in patterns_with_rows(X, np.empty(0)):
        marg = Marginal(est.covariance_type, est.weights_, est.means_, est.covariances_, o,
                        log_widths, pi0)
        lse, r, lab = _engine.score_pass(
            marg.family, Xp, np.zeros(Xp.shape[1], dtype=Xp.dtype), *marg.kernel_args(Xp.dtype),
            resp_cols=out_resp.shape[1] if resp else 0, labels=labels)
        out_lse[rows] = lse
        if resp:
            out_resp[rows] = r
        if labels:
            out_label[rows] = lab
    return out_lse, out_resp, out_label


def _log_widths_from_bounds(est):
    bounds = getattr(est, "noise_bounds_", None)
    if bounds is None:
        return None
    width = bounds[1] - bounds[0]
    return np.log(np.where(width > 0, width, 1.0))


def impute(est, X, n_draws=None, random_state=None):
    """Conditional-mean imputation, or ``n_draws`` multiple imputations (see GaussianMixture.impute)."""
    from sklearn.utils import check_random_state

    K, D = est.means_.shape
    rng = check_random_state(random_state)
    draws = 1 if n_draws is None else int(n_draws)
    out = np.repeat(X[None].astype(np.float64), draws, axis=0)
    for o, rows, Xp, _ in patterns_with_rows(X, np.empty(0)):
        if o.all():
            continue
        marg = Marginal(est.covariance_type, est.weights_, est.means_, est.covariances_, o)
        _, r, _ = _engine.score_pass(
            marg.family, Xp, np.zeros(Xp.shape[1], dtype=Xp.dtype), *marg.kernel_args(Xp.dtype),
            resp_cols=K)
        cm, cond = marg.conditional(est.means_, Xp.astype(np.float64))
        mcols = np.flatnonzero(~o)
        if n_draws is None:
            out[0][np.ix_(rows, mcols)] = np.einsum("nk,nkm->nm", r, cm)
            continue
        for t in range(draws):
            # draw a component per row from P(k | x_o), then x_m from its conditional normal
            u = rng.uniform(size=len(rows))[:, None]
            ks = np.minimum((np.cumsum(r, axis=1) < u).sum(axis=1), K - 1)
            z = rng.standard_normal(size=(len(rows), len(mcols)))
            if marg.family == "diag":
                vals = cm[np.arange(len(rows)), ks] + z * np.sqrt(cond[ks])
            else:
                L = np.linalg.cholesky(cond + 1e-12 * np.eye(len(mcols)))
                vals = cm[np.arange(len(rows)), ks] + np.einsum("nij,nj->ni", L[ks], z)
            out[t][np.ix_(rows, mcols)] = vals
    return out[0] if n_draws is None else out
