"""The noise component against a plain computation: a uniform density pi_0 / V over the
data's bounding box (V = product of the column ranges), one EM step with it, and scores."""
import numpy as np
import pytest
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning

from gmmkit import GaussianMixture
from tests.reference import full_covariances, weighted_log_prob

COV_TYPES = ["full", "tied", "diag", "spherical"]


def noisy_data(seed=0):
    rng = np.random.default_rng(seed)
    means = np.array([[0.0, 0.0, 0.0], [6.0, 0.0, 1.0], [3.0, 5.0, -2.0]])
    X = np.vstack([rng.normal(m, [0.8, 1.2, 0.5], size=(200, 3)) for m in means])
    return np.vstack([X, rng.uniform([-15, -10, -8], [20, 18, 9], size=(60, 3))]), means


def log_noise_density(X, pi0):
    width = X.max(axis=0) - X.min(axis=0)
    return np.log(pi0) - np.log(width).sum()


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_noise_scores_are_the_uniform_box_density(cov_type):
    X, _ = noisy_data()
    gm = GaussianMixture(3, covariance_type=cov_type, noise=True, random_state=0).fit(X)
    K, D = gm.means_.shape
    np.testing.assert_allclose(gm.noise_bounds_, [X.min(axis=0), X.max(axis=0)])
    np.testing.assert_allclose(gm.noise_volume_, np.prod(X.max(axis=0) - X.min(axis=0)), rtol=1e-12)
    lp = weighted_log_prob(X, gm.weights_, gm.means_, full_covariances(cov_type, gm.covariances_, K, D))
    lp = np.column_stack([lp, np.full(len(X), log_noise_density(X, gm.noise_weight_))])
    np.testing.assert_allclose(gm.score_samples(X), logsumexp(lp, axis=1), rtol=1e-10)
    np.testing.assert_allclose(gm.predict_proba(X), np.exp(lp - logsumexp(lp, axis=1)[:, None]), atol=1e-10)


def test_one_em_step_with_noise_matches_plain_computation():
    X, means = noisy_data(1)
    N, D = X.shape
    weights, pi0 = np.array([0.3, 0.3, 0.4]), 0.2
    covs = np.stack([np.diag([1.0, 1.5, 0.7])] * 3)
    gm = GaussianMixture(3, noise=True, noise_init=pi0, max_iter=1, reg_covar=0.0, weights_init=weights,
                         means_init=means + 0.5, precisions_init=np.linalg.inv(covs), random_state=0)
    with pytest.warns(ConvergenceWarning):  # one step cannot have converged
        gm.fit(X)
    lp = weighted_log_prob(X, weights * (1 - pi0), means + 0.5, covs)
    lp = np.column_stack([lp, np.full(N, log_noise_density(X, pi0))])
    lse = logsumexp(lp, axis=1)
    r = np.exp(lp - lse[:, None])
    assert gm.lower_bounds_[0] == pytest.approx(lse.mean(), rel=1e-12)
    nk = r.sum(axis=0)
    np.testing.assert_allclose(gm.weights_, nk[:3] / N, rtol=1e-10)
    assert gm.noise_weight_ == pytest.approx(nk[3] / N, rel=1e-10)
    mu = (r[:, :3].T @ X) / nk[:3, None]
    np.testing.assert_allclose(gm.means_, mu, rtol=1e-10)
    cov = np.stack([(r[:, k, None] * (X - mu[k])).T @ (X - mu[k]) / nk[k] for k in range(3)])
    np.testing.assert_allclose(gm.covariances_, cov, rtol=1e-9)
