"""Variational Bayes for a Gaussian mixture: the prior, the posterior update and the
lower bound of :class:`gmmkit.bayesian.BayesianGaussianMixture`.

The model is scikit-learn's (Bishop 2006, section 10.2; Blei and Jordan 2006 for the
Dirichlet process): weights with a Dirichlet-distribution or a truncated
stick-breaking (Dirichlet-process) prior, each mean Gaussian given its precision, each
precision Wishart. The variational E-step is an ordinary Gaussian E-step with precision
``nu_k W_k`` and per-component constants ``E[log pi_k] + 0.5 E[log|Lambda_k|]
- D / (2 beta_k)``, so it runs on the fused kernels of :class:`DenseRows` unchanged, fed a
:class:`KernelModel` with those constants. The sufficient statistics it returns (nk, sum x,
sum x x^T) are all the posterior update needs, and with the pass's log-likelihood they
also give the responsibilities' entropy (see :func:`entropy`), so no N x K array is ever
made.

How it rides on the one EM driver (:mod:`gmmkit._em.driver`): the driver's lower bound is
the E-pass's value over ``problem.total``, taken before ``problem.m_step``. The
variational bound of an iteration needs q(theta) *after* the update (as scikit-learn's
``_compute_lower_bound``), so :class:`VariationalRows` does the update inside its pass
and returns (bound, new posterior); :class:`VariationalProblem` has ``total = 1`` (the
bound is a sum over rows, as scikit-learn's) and an ``m_step`` that hands the posterior
on. The driver's restarts, warm start, convergence rule, reports and warning are reused
as they are.

Covariance types are asked of the covariance table, never named here: ``from_stats``
(the M-step's covariance estimate, which also reads scaled moments back into a layout),
``model_moments`` (a layout as moments), ``log_det``, ``full``/``full_factors``. The one
fact the table does not say directly, whether one matrix is shared by all components
(scikit-learn's "tied", whose Wishart has nu0 + N/K degrees of freedom), is read from its
shape: a shared covariance's shape does not depend on K.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, digamma, gammaln

from .._covariance import FactorError
from ..exceptions import DataError
from .init import partition_statistics
from .sources import DenseRows, KernelModel, check_finite, dense_statistics

_EPS = 10 * np.finfo(np.float64).eps  # scikit-learn's guard on nk
_LOG_2PI = math.log(2 * math.pi)


def is_shared(entry, D):
    """True if ``entry`` has one covariance for all components (its shape ignores K)."""
    return entry.shape(1, D) == entry.shape(2, D)


def prior_layout(entry, D):
    """Shape of ``covariance_prior`` for ``entry``: (D, D) for matrices, (D,) for
    variances, () for a single variance (scikit-learn's)."""
    return entry.select(np.zeros(entry.shape(1, D)), 0).shape


def default_covariance_prior(entry, X, sw, mean):
    """scikit-learn's default ``covariance_prior``: the data covariance (ddof 1; with
    frequency weights, as if rows were repeated) in the layout of :func:`prior_layout`."""
    Xc = X.astype(np.float64) - mean
    w = sw if sw.size else np.ones(X.shape[0])
    n = w.sum() - 1.0
    S = entry.second_moments(Xc, w)[None]
    D = X.shape[1]
    return entry.select(entry.from_stats(np.array([n]), np.zeros((1, D)), S, n, 0.0), 0)


@dataclass(frozen=True)
class VariationalPrior:
    """The priors, in the fit's shifted coordinates (``mean``)."""

    process: bool  # True: Dirichlet process (stick-breaking), False: Dirichlet distribution
    concentration: float
    mean_precision: float
    mean: np.ndarray
    dof: float
    covariance: np.ndarray  # prior_layout(entry, D)


@dataclass
class Posterior:
    """q(weights) q(means, precisions): scikit-learn's fitted attributes, means shifted.

    ``concentration`` is (2, K) (the sticks' Beta parameters) for a Dirichlet process,
    (K,) for a Dirichlet distribution; ``dof`` is (K,), with equal entries when the
    covariance is shared; ``covariances`` are W^-1 / nu and ``prec_chol`` their
    precision factors (so ``nu W`` is the precision the E-step uses)."""

    concentration: np.ndarray
    mean_precision: np.ndarray
    means: np.ndarray
    dof: np.ndarray
    covariances: np.ndarray
    prec_chol: np.ndarray

    def weights(self, process):
        """The posterior means of the weights (scikit-learn's ``weights_``)."""
        if process:
            a, b = self.concentration
            stick = a / (a + b) * np.hstack((1.0, np.cumprod(b / (a + b))[:-1]))
            return stick / stick.sum()
        return self.concentration / self.concentration.sum()


def expected_log_weights(process, concentration):
    """E[log pi_k] under q(weights)."""
    if process:
        a, b = concentration
        d_sum = digamma(a + b)
        return digamma(a) - d_sum + np.hstack((0.0, np.cumsum(digamma(b) - d_sum)[:-1]))
    return digamma(concentration) - digamma(concentration.sum())


def log_constants(entry, process, post):
    """(K,) per-component constants of the variational E-step: E[log pi_k] + 0.5
    E[log|Lambda_k|] - D/(2 beta_k) - D/2 log(2 pi nu_k) + log|U_k| (U: factor of W^-1/nu)."""
    K, D = post.means.shape
    nu = post.dof
    log_lambda = D * math.log(2.0) + digamma(0.5 * (nu[:, None] - np.arange(D))).sum(axis=1)
    return (expected_log_weights(process, post.concentration) + entry.log_det(post.prec_chol, K, D)
            - 0.5 * D * (_LOG_2PI + np.log(nu)) + 0.5 * (log_lambda - D / post.mean_precision))


def kernel_model(entry, logc, post, means, dtype):
    """The E-step as the fused kernels take it: ``means`` (shifted or not), the precision
    factors of nu W, the constants ``logc``."""
    K, D = means.shape
    return KernelModel(np.ascontiguousarray(means, dtype=dtype),
                       np.ascontiguousarray(entry.kernel_prec(post.prec_chol, K, D), dtype=dtype),
                       np.ascontiguousarray(logc, dtype=dtype), -np.inf)


class VariationalProblem:
    """What stays fixed during one variational fit (the driver's ``problem``)."""

    total = 1.0  # the bound is a sum over rows (scikit-learn's), not a mean

    def __init__(self, entry, K, D, shift, reg_covar, prior, sample, sample_w):
        self.entry, self.K, self.D, self.shift = entry, K, D, np.asarray(shift, dtype=np.float64)
        self.reg_covar, self.prior = reg_covar, prior
        self.sample, self.sample_w = sample, sample_w
        self.shared = is_shared(entry, D)
        self.prior_covariance = np.broadcast_to(prior.covariance, entry.shape(K, D))

    def m_step(self, posterior, rng, *, counter=None):
        """The update was made in the pass (:class:`VariationalRows`): hand it on."""
        return posterior

    def update(self, stats):
        """The variational M-step: q(weights), q(means, precisions) from statistics."""
        entry, prior, K, D = self.entry, self.prior, self.K, self.D
        nk = stats.nk[:K] + _EPS
        xk = stats.sx / nk[:, None]
        sk = entry.from_stats(nk, xk, stats.sxx, nk.sum(), self.reg_covar)
        if prior.process:
            tail = np.hstack((np.cumsum(nk[::-1])[-2::-1], 0.0))
            concentration = np.stack((1.0 + nk, prior.concentration + tail))
        else:
            concentration = prior.concentration + nk
        beta = prior.mean_precision + nk
        means = (prior.mean_precision * prior.mean + nk[:, None] * xk) / beta[:, None]
        # Wishart scale: C0 + n_k S_k + n_k beta0 / beta_k (xbar_k - m0)(xbar_k - m0)^T, over
        # nu_k = nu0 + n_k; a shared covariance pools the K terms, with N/K for n_k in the
        # first two (scikit-learn's tied case), hence the 1/K.
        count = np.full(K, nk.sum() / K) if self.shared else nk
        nu = prior.dof + count
        zero_means, zero_cov = np.zeros((K, D)), np.zeros(entry.shape(K, D))
        scale = (entry.model_moments(np.ones(K), zero_means, self.prior_covariance, 0.0)
                 + entry.model_moments(count, zero_means, sk, 0.0)
                 + entry.model_moments(nk * prior.mean_precision / beta, xk - prior.mean, zero_cov, 0.0))
        if self.shared:
            scale /= K
        cov = entry.from_stats(nu, zero_means, scale, nu[0], 0.0)
        try:
            prec_chol = entry.precision_cholesky(cov)
        except FactorError as exc:
            raise DataError(
                f"the posterior covariance of component(s) {exc.bad} is not positive definite "
                f"(covariance type {entry.name!r}); increase reg_covar or covariance_prior, or rescale X"
            ) from None
        return Posterior(concentration, beta, means, nu, cov, prec_chol)

    def entropy(self, ll, stats, post, logc):
        """-sum_i w_i sum_k r_ik log r_ik of the pass under ``post`` (constants ``logc``)
        that gave ``ll`` and ``stats``: log r_ik = c_k - q_ik / 2 - log p_i, so it is
        ll - sum_k n_k c_k + sum_k sum_i w_i r_ik q_ik / 2, and the last sum is
        n_k tr(P_k C_k) + n_k (xbar_k - m_k)^T P_k (xbar_k - m_k), with C_k the
        statistics' covariance (pooled, with N/K per component, when shared)."""
        entry, K, D = self.entry, self.K, self.D
        nk = stats.nk[:K]
        nk_g = nk + _EPS
        xk = stats.sx / nk_g[:, None]
        U = entry.full_factors(post.prec_chol, K, D)
        P = U @ U.transpose(0, 2, 1)
        C = entry.full(entry.from_stats(nk_g, xk, stats.sxx, nk_g.sum(), 0.0), K, D)
        count = np.full(K, nk_g.sum() / K) if self.shared else nk_g
        d = xk - post.means
        quad = count @ np.einsum("kij,kji->k", P, C) + np.einsum("k,ki,kij,kj->", nk, d, P, d)
        return ll - nk @ logc + 0.5 * quad

    def lower_bound(self, post, entropy):
        """scikit-learn's bound (its constant terms dropped): the entropy of the
        responsibilities minus the Wishart, weight and mean-precision normalisers."""
        K, D = self.K, self.D
        nu = post.dof
        log_det = self.entry.log_det(post.prec_chol, K, D) - 0.5 * D * np.log(nu)
        log_wishart = -(nu * log_det + nu * D * 0.5 * math.log(2.0)
                        + gammaln(0.5 * (nu[:, None] - np.arange(D))).sum(axis=1))
        if self.prior.process:
            log_norm_weight = -betaln(*post.concentration).sum()
        else:
            log_norm_weight = gammaln(post.concentration.sum()) - gammaln(post.concentration).sum()
        return float(entropy - log_wishart.sum() - log_norm_weight
                     - 0.5 * D * np.log(post.mean_precision).sum())

    def initial(self, init_params, rng):
        """The posterior after scikit-learn's initialisation ``init_params`` with ``rng``
        (a RandomState: the same draws as scikit-learn's)."""
        return self.update(partition_statistics(self, *initial_partition(self, init_params, rng)))


def initial_partition(problem, init_params, rng):
    """(resp, labels, weights) of scikit-learn's initialisations: k-means labels, random
    responsibilities, random rows or k-means++ rows (labels -1 elsewhere)."""
    X, K = problem.sample, problem.K
    N = X.shape[0]
    sw = problem.sample_w if problem.sample_w.size else None
    if init_params == "random":
        resp = rng.uniform(size=(N, K)).astype(X.dtype)
        resp /= resp.sum(axis=1)[:, None]
        return resp, None, sw
    if init_params == "kmeans":
        from sklearn.cluster import KMeans

        return None, KMeans(n_clusters=K, n_init=1, random_state=rng).fit(X, sample_weight=sw).labels_, sw
    if init_params == "random_from_data":
        idx = rng.choice(N, size=K, replace=False, p=None if sw is None else sw / sw.sum())
    else:  # k-means++
        from sklearn.cluster import kmeans_plusplus

        idx = kmeans_plusplus(X, K, random_state=rng, sample_weight=sw)[1]
    labels = np.full(N, -1)
    labels[idx] = np.arange(K)
    return None, labels, sw


class VariationalRows(DenseRows):
    """Rows in memory: one fused kernel pass per iteration, then the posterior update.
    ``e_pass(posterior) -> (lower bound, updated posterior)`` (see the module docstring)."""

    def __init__(self, problem, X, sw, process):
        super().__init__(problem, X, sw)
        self.process = process

    def e_pass(self, post):
        problem, dtype = self.problem, self.X.dtype
        logc = log_constants(problem.entry, self.process, post)
        model = kernel_model(problem.entry, logc, post, post.means, dtype)
        ll, stats = dense_statistics(problem.entry, self.X, self.sw, self.shift, model, self.parallel)
        check_finite(ll, dtype)
        new = problem.update(stats)
        return problem.lower_bound(new, problem.entropy(ll, stats, post, logc)), new
