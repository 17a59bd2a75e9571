"""A mixture of components that are each a Gaussian on the continuous features times
independent categorical distributions on the discrete ones (a latent-class part).

Component k has weight ``w_k``, a Gaussian ``N(mu_k, Sigma_k)`` on the continuous
block and, for every discrete feature j, level probabilities ``p_kj``. A row's
log-density is

    log sum_k w_k N(x_cont | mu_k, Sigma_k) prod_j p_kj(x_j)

(a density in the continuous features, a probability in the discrete ones). A
missing discrete cell contributes nothing (it is marginalised out). Every
discrete feature has one extra level, *unseen*, which only smoothing mass reaches:
a value never seen in training is rare by construction.

EM here is weighted (``weights`` per row; a zero weight trims a row out of the fit)
and starts deterministically (k-means from quantiles of the first principal axis),
so the same rows give the same model whatever the seed.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> Z = np.r_[rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + 6]
>>> codes = np.r_[np.zeros((200, 1), int), np.ones((200, 1), int)]
>>> p = em(Z, codes, [2], 2, np.ones(400))
>>> sorted(np.round(np.exp(p.cat_logp[0][:, :2]).max(axis=1), 3).tolist())
[0.995, 0.995]
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

_LOG_2PI = math.log(2.0 * math.pi)
#: the two covariance models of the Gaussian part: full matrices, or variances only
_DIAGONAL = {"full": False, "diag": True}


@dataclass
class MixedParams:
    """Weights (K,), means (K, Dc), covariances (K, Dc, Dc) ("full") or (K, Dc) ("diag"),
    and one (K, L_j + 1) table of log-probabilities per discrete feature (last column: unseen)."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    covariance_type: str
    cat_logp: list = field(default_factory=list)

    @property
    def n_components(self):
        return self.weights.shape[0]

    def select(self, idx):
        """The components ``idx``, weights renormalised."""
        w = self.weights[idx]
        return MixedParams(w / w.sum(), self.means[idx], self.covariances[idx], self.covariance_type,
                           [t[idx] for t in self.cat_logp])

    def n_parameters(self):
        K, D = self.means.shape
        cov = D if self.covariances.ndim == 2 else D * (D + 1) // 2  # (K, D): diagonal
        return (K - 1) + K * (D + cov) + K * sum(t.shape[1] - 2 for t in self.cat_logp)


def gaussian_terms(p, Z):
    """``log w_k + log N(z_i | mu_k, Sigma_k)``, shape (n, K); Z must be complete."""
    n, D = Z.shape
    K = p.n_components
    with np.errstate(divide="ignore"):
        out = np.tile(np.log(p.weights), (n, 1))
    if D == 0:
        return out
    for k in range(K):
        diff = Z - p.means[k]
        if p.covariances.ndim == 3:  # full matrices; (K, D) holds variances
            L = np.linalg.cholesky(p.covariances[k])
            u = np.linalg.solve(L, diff.T)
            d2 = np.einsum("ij,ij->j", u, u)
            logdet = 2.0 * np.log(np.diag(L)).sum()
        else:
            var = p.covariances[k]
            d2 = (diff * diff / var).sum(axis=1)
            logdet = np.log(var).sum()
        out[:, k] += -0.5 * (D * _LOG_2PI + logdet + d2)
    return out


def categorical_terms(p, codes):
    """``sum_j log p_kj(code_ij)`` over the discrete features, shape (n, K); code -1 = missing."""
    n = codes.shape[0]
    out = np.zeros((n, p.n_components))
    for j, table in enumerate(p.cat_logp):
        c = codes[:, j]
        seen = c >= 0
        out[seen] += table[:, c[seen]].T
    return out


def _logsumexp(a):
    m = a.max(axis=1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return (m + np.log(np.exp(a - m).sum(axis=1, keepdims=True)))[:, 0]


def m_step(Z, codes, levels, resp, weights, covariance_type, reg_covar, alpha, shrinkage=0.0,
           rounding=0.0):
    """Parameters from responsibilities ``resp`` (n, K) and row weights (n,). ``rounding``
    (scalar or (Dc,)) is added to the variances: the variance ``spacing**2 / 12`` of
    rounding a latent continuous value to a grid, for features observed on a few levels."""
    R = resp * weights[:, None]
    nk = R.sum(axis=0) + 1e-12
    means = (R.T @ Z) / nk[:, None]
    D = Z.shape[1]
    if not _DIAGONAL[covariance_type]:
        covs = np.empty((len(nk), D, D))
        for k in range(len(nk)):
            diff = Z - means[k]
            S = (diff * R[:, k:k + 1]).T @ diff / nk[k]
            lam = min(1.0, shrinkage * D / nk[k])  # towards the diagonal, more for fewer rows
            covs[k] = (1.0 - lam) * S + np.diag(lam * np.diag(S) + reg_covar + rounding)
    else:
        covs = np.stack([(R[:, k:k + 1] * (Z - means[k]) ** 2).sum(axis=0) / nk[k] + reg_covar + rounding
                         for k in range(len(nk))]) if D else np.zeros((len(nk), 0))
    tables = []
    for j, L in enumerate(levels):
        c = codes[:, j]
        seen = c >= 0
        counts = np.stack([np.bincount(c[seen], weights=R[seen, k], minlength=L + 1)[:L + 1]
                           for k in range(len(nk))])
        counts = counts + alpha
        tables.append(np.log(counts / counts.sum(axis=1, keepdims=True)))
    return MixedParams(nk / nk.sum(), means, covs, covariance_type, tables)


def initial_responsibilities(Z, codes, levels, K, weights, n_iter=10):
    """Hard k-means labels started from K quantile groups along the first principal axis
    (of the continuous block and the one-hot discrete block): deterministic."""
    n = Z.shape[0]
    if K == 1:
        return np.ones((n, 1))
    parts = [Z]
    for j, L in enumerate(levels):
        onehot = np.zeros((n, L + 1))
        seen = codes[:, j] >= 0
        onehot[np.flatnonzero(seen), codes[seen, j]] = 1.0
        parts.append(onehot)
    F = np.hstack(parts)
    live = weights > 0
    mu = F[live].mean(axis=0)
    Fc = F[live] - mu
    _, vecs = np.linalg.eigh(Fc.T @ Fc)
    axis = vecs[:, -1]
    proj = (F - mu) @ (axis if axis[np.argmax(np.abs(axis))] > 0 else -axis)  # sign fixed by the data
    edges = np.quantile(proj[live], np.linspace(0, 1, K + 1)[1:-1])
    labels = np.searchsorted(edges, proj)
    for _ in range(n_iter):
        cent = np.stack([F[live & (labels == k)].mean(axis=0) if (live & (labels == k)).any()
                         else F[live][0] for k in range(K)])
        d = ((F[:, None, :] - cent[None]) ** 2).sum(axis=2)
        new = d.argmin(axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
    resp = np.zeros((n, K))
    resp[np.arange(n), labels] = 1.0
    return resp


def em(Z, codes, levels, K, weights, *, covariance_type="full", reg_covar=1e-2, alpha=0.5,
       shrinkage=0.0, rounding=0.0, max_iter=100, tol=1e-4, start=None):
    """Weighted EM from a deterministic start (or ``start``, a MixedParams); returns MixedParams
    with ``loglik`` (weighted total) and ``n_iter`` set as attributes."""
    if start is None:
        resp = initial_responsibilities(Z, codes, levels, K, weights)
        p = m_step(Z, codes, levels, resp, weights, covariance_type, reg_covar, alpha, shrinkage, rounding)
    else:
        p = start
    prev = -np.inf
    wsum = weights.sum()
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        logp = gaussian_terms(p, Z) + categorical_terms(p, codes)
        ll_rows = _logsumexp(logp)
        ll = float(weights @ ll_rows)
        resp = np.exp(logp - ll_rows[:, None])
        p = m_step(Z, codes, levels, resp, weights, covariance_type, reg_covar, alpha, shrinkage, rounding)
        if abs(ll - prev) <= tol * wsum:
            break
        prev = ll
    p.loglik = ll
    p.n_iter = n_iter
    return p


def bic(p, weights):
    """Bayesian information criterion of an EM result on rows of total weight ``weights``."""
    return -2.0 * p.loglik + p.n_parameters() * math.log(max(2.0, weights.sum()))


def log_density(p, Z, codes):
    """Row log-densities under ``p`` (Z complete)."""
    return _logsumexp(gaussian_terms(p, Z) + categorical_terms(p, codes))
