"""Slow, obvious NumPy twins of gmmkit's kernels and EM, used as test oracles."""
import numpy as np
from scipy.special import logsumexp
from scipy.stats import multivariate_normal


def weighted_log_prob(X, weights, means, covs):
    """log(w_k) + log N(x | mu_k, Sigma_k) for full covariances (K, D, D), via scipy."""
    return np.column_stack([
        np.log(w) + multivariate_normal(m, c, allow_singular=False).logpdf(X)
        for w, m, c in zip(weights, means, covs)
    ]).reshape(len(X), len(weights))


def em_statistics(X, sw, weights, means, covs):
    """(sum w log p, nk, sum r x, sum r x x^T) of one E-step, as plain NumPy."""
    lp = weighted_log_prob(X, weights, means, covs)
    lse = logsumexp(lp, axis=1)
    r = np.exp(lp - lse[:, None]) * sw[:, None]
    return float(sw @ lse), r.sum(0), r.T @ X, np.einsum("nk,ni,nj->kij", r, X, X)


def full_covariances(cov_type, covariances, K, D):
    """Any sklearn covariance layout expanded to (K, D, D)."""
    c = np.asarray(covariances)
    if cov_type == "full":
        return c
    if cov_type == "tied":
        return np.repeat(c[None], K, axis=0)
    if cov_type == "diag":
        return np.stack([np.diag(v) for v in c])
    return np.stack([np.eye(D) * v for v in c])


# ---------------------------------------------------------------- kernels
def kernel_twin(X, sw, shift, weights, means, covs, log_noise=-np.inf):
    """Everything one fused kernel pass computes, as plain float64 NumPy/scipy.

    ``means`` are in the shifted coordinates the kernels use (data minus ``shift``);
    ``covs`` are (K, D, D). Returns a dict: ``lse`` (N,) log p(x), ``resp`` (N, K+1)
    with the noise column last, ``labels`` (-1 = noise), and the weighted statistics
    ``ll``, ``nk`` (K+1), ``sx`` (K, D), ``sxx`` (K, D, D), sums about ``shift``."""
    Y = np.asarray(X, dtype=np.float64) - np.asarray(shift, dtype=np.float64)
    lp = weighted_log_prob(Y, weights, means, covs)
    lp = np.column_stack([lp, np.full(len(Y), log_noise)])
    lse = logsumexp(lp, axis=1)
    resp = np.exp(lp - lse[:, None])
    w = np.ones(len(Y)) if sw is None else np.asarray(sw, dtype=np.float64)
    r = resp * w[:, None]
    K = len(weights)
    best = resp[:, :K].argmax(axis=1)
    labels = np.where(resp[:, K] > resp[np.arange(len(Y)), best], -1, best)
    return {"lse": lse, "resp": resp, "labels": labels, "ll": float(w @ lse), "nk": r.sum(axis=0),
            "sx": r[:, :K].T @ Y, "sxx": np.einsum("nk,ni,nj->kij", r[:, :K], Y, Y)}


# ---------------------------------------------------------------- MAP M-step
def map_mstep(X, z, cov_type, shrinkage, dof, scale, mean, sw=None):
    """One M-step under mclust's conjugate prior, from the formulas of Fraley and
    Raftery (2007, J. Classification 24:155-181), written out term by term.

    With responsibilities z (N, K) (times sample weights sw), n_k = sum_i z_ik,
    xbar_k the weighted mean, W_k = sum_i z_ik (x_i - xbar_k)(x_i - xbar_k)^T and
    B_k = kappa n_k / (kappa + n_k) (xbar_k - mu_p)(xbar_k - mu_p)^T:

    - means (all models):  (n_k xbar_k + kappa mu_p) / (n_k + kappa)
    - VVV (full):          (Lambda + W_k + B_k) / (nu + n_k + d + 2)
    - EEE (tied):          (Lambda + sum_k (W_k + B_k)) / (nu + n + d + G + 1)
    - VVI (diag):          (s + diag(W_k) + diag(B_k)) / (nu + n_k + 3)
    - VII (spherical):     (s + tr W_k + tr B_k) / (nu + (n_k + 1) d + 2)

    where the diagonal models' scale is the scalar s = tr(Lambda) / d (mclust's
    defaultPrior gives them a scalar scale). Returns (weights, means, covariances) in
    scikit-learn's layout for ``cov_type``."""
    X = np.asarray(X, dtype=np.float64)
    N, D = X.shape
    r = np.asarray(z, dtype=np.float64) * (np.ones(N) if sw is None else np.asarray(sw))[:, None]
    K = r.shape[1]
    kappa, nu, mu_p = float(shrinkage), float(dof), np.asarray(mean, dtype=np.float64)
    Lam = np.atleast_2d(np.asarray(scale, dtype=np.float64))
    nk = r.sum(axis=0)
    n = nk.sum()
    xbar = (r.T @ X) / nk[:, None]
    W = np.stack([(r[:, k, None] * (X - xbar[k])).T @ (X - xbar[k]) for k in range(K)])
    B = np.stack([kappa * nk[k] / (kappa + nk[k]) * np.outer(xbar[k] - mu_p, xbar[k] - mu_p)
                  for k in range(K)])
    means = (nk[:, None] * xbar + kappa * mu_p) / (nk + kappa)[:, None]
    s = np.trace(Lam) / D
    if cov_type == "full":
        cov = np.stack([(Lam + W[k] + B[k]) / (nu + nk[k] + D + 2) for k in range(K)])
    elif cov_type == "tied":
        cov = (Lam + W.sum(axis=0) + B.sum(axis=0)) / (nu + n + D + K + 1)
    elif cov_type == "diag":
        cov = np.stack([(s + np.diag(W[k]) + np.diag(B[k])) / (nu + nk[k] + 3) for k in range(K)])
    else:
        cov = np.array([(s + np.trace(W[k]) + np.trace(B[k])) / (nu + (nk[k] + 1) * D + 2)
                        for k in range(K)])
    return nk / n, means, cov


def responsibilities(X, weights, means, covs):
    """Posterior probabilities (N, K) of a mixture with full covariances (K, D, D)."""
    lp = weighted_log_prob(X, weights, means, covs)
    return np.exp(lp - logsumexp(lp, axis=1)[:, None])


# ---------------------------------------------------------------- weighted sampling
def successive_sampling_inclusion(w, k):
    """Exact inclusion probabilities of successive weighted sampling without
    replacement (draw a row with probability w_i / sum of the remaining weights, k
    times): the law of Efraimidis and Spirakis' A-Res reservoir. By recursion over
    the draws, so only for small populations."""
    w = np.asarray(w, dtype=np.float64)
    n = len(w)
    incl = np.zeros(n)

    def walk(taken, prob, depth):
        if depth == k:
            for i in taken:
                incl[i] += prob
            return
        rest = [i for i in range(n) if i not in taken and w[i] > 0]
        total = sum(w[i] for i in rest)
        for i in rest:
            walk(taken | {i}, prob * w[i] / total, depth + 1)

    walk(frozenset(), 1.0, 0)
    return incl


def rosen_inclusion(w, k):
    """Large-population inclusion probabilities of successive weighted sampling without
    replacement (Rosen 1972): pi_i = 1 - exp(-w_i t) with t such that sum pi_i = k."""
    from scipy.optimize import brentq

    w = np.asarray(w, dtype=np.float64)
    t = brentq(lambda t: (1 - np.exp(-w * t)).sum() - k, 0.0, 1e3 * k / w[w > 0].min())
    return 1 - np.exp(-w * t)
