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
