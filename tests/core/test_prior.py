"""The MAP M-step under mclust's conjugate prior, for every covariance type, against
mclust itself (numbers stored by tests/data/make_mclust_prior.py) and against the
textbook formulas of Fraley and Raftery (2007) in tests/reference.map_mstep.

A fit from a given start with ``max_iter=1`` makes exactly one E-step (whose
responsibilities the oracle computes with scipy) and one M-step."""
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from gmmkit import GaussianMixture
from tests.helpers import random_covariances
from tests.reference import full_covariances, map_mstep, responsibilities

COV_TYPES = ["full", "tied", "diag", "spherical"]
MCLUST = json.loads((Path(__file__).resolve().parents[1] / "data" / "mclust_prior.json").read_text())



def _one_step(X, weights, means, cov_type, covariances, prior, sw=None):
    """gmmkit's first M-step from the given start (covariances in ``cov_type``'s layout)."""
    K = len(weights)
    gm = GaussianMixture(K, covariance_type=cov_type, prior=prior, reg_covar=0.0, max_iter=1,
                         weights_init=weights, means_init=means, precisions_init=_inverse(cov_type, covariances),
                         random_state=0)
    with pytest.warns(ConvergenceWarning):  # one iteration cannot have converged
        gm.fit(X, sample_weight=sw)
    return gm


def _inverse(cov_type, c):
    c = np.asarray(c, dtype=np.float64)
    return np.linalg.inv(c) if cov_type in ("full", "tied") else 1.0 / c


def _params(cov_type, case):
    return pytest.param(cov_type, case, id=f"{cov_type}-{case}")


CASES = [_params(c, i) for c in COV_TYPES for i in range(len(MCLUST["cases"]))]


@pytest.mark.parametrize("cov_type, case", CASES)
def test_map_mstep_matches_mclust(cov_type, case):
    """mclust's own one M-step (mstepVVV/EEE/VVI/VII with priorControl()) from the
    responsibilities of the same start; gmmkit's default prior is mclust's defaultPrior."""
    c = MCLUST["cases"][case]
    ref = c["mstep"][cov_type]
    X, weights, means = np.array(c["X"]), np.array(c["weights"]), np.array(c["means"])
    K, D = means.shape
    start = np.array(ref["start_covariances"])
    # the E-step of that start gives the responsibilities mclust was given
    z = responsibilities(X, weights, means, full_covariances(cov_type, start, K, D))
    np.testing.assert_allclose(z, ref["z"], atol=1e-12)
    gm = _one_step(X, weights, means, cov_type, start, "conjugate")
    np.testing.assert_allclose(gm.means_, ref["means"], rtol=1e-10)
    np.testing.assert_allclose(full_covariances(cov_type, gm.covariances_, K, D), ref["sigma"],
                               rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(gm.weights_, ref["pro"], rtol=1e-10)


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("case", range(len(MCLUST["cases"])))
def test_textbook_map_oracle_is_mclust(cov_type, case):
    """tests/reference.map_mstep (written from the paper) reproduces mclust 6's numbers,
    so it can stand in for mclust where mclust has no counterpart (sample weights)."""
    c = MCLUST["cases"][case]
    ref = c["mstep"][cov_type]
    X, z = np.array(c["X"]), np.array(ref["z"])
    K, D = z.shape[1], X.shape[1]
    weights, means, cov = map_mstep(X, z, cov_type, 0.01, D + 2, np.cov(X, rowvar=False) / K ** (2 / D),
                                    X.mean(axis=0))
    np.testing.assert_allclose(means, ref["means"], rtol=1e-12)
    np.testing.assert_allclose(full_covariances(cov_type, cov, K, D), ref["sigma"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(weights, ref["pro"], rtol=1e-12)


def _map_case(rng, cov_type, K=3, D=3, N=240):
    """Data, and a start (weights, means, covariances in ``cov_type``'s layout)."""
    X = rng.normal(size=(N, D)) * [1.0, 3.0, 0.5][:D] + rng.normal(size=D)
    X[: N // 3] += 4.0
    return X, (rng.dirichlet(np.full(K, 4.0)), X[rng.choice(N, K, replace=False)] + 0.3,
               random_covariances(rng, cov_type, K, D))


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_map_mstep_with_weights_and_explicit_prior(rng, cov_type):
    """Sample weights and every prior option (shrinkage, dof, scale) given: the prior
    mean is the weighted data mean, the weights scale the responsibilities."""
    X, start = _map_case(rng, cov_type)
    sw = rng.uniform(0.2, 3.0, size=len(X))
    D = X.shape[1]
    A = rng.normal(size=(D, D))
    scale = A @ A.T + np.eye(D)
    prior = {"shrinkage": 0.7, "dof": D + 5.5, "scale": scale}
    gm = _one_step(X, *start[:2], cov_type, start[2], prior, sw=sw)
    weights, means, covs = start
    z = responsibilities(X, weights, means, full_covariances(cov_type, covs, len(weights), D))
    w_ref, m_ref, c_ref = map_mstep(X, z, cov_type, 0.7, D + 5.5, scale, np.average(X, axis=0, weights=sw), sw=sw)
    np.testing.assert_allclose(gm.weights_, w_ref, rtol=1e-10)
    np.testing.assert_allclose(gm.means_, m_ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gm.covariances_, c_ref, rtol=1e-9)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_prior_changes_the_estimate(rng, cov_type):
    """A strong prior moves the M-step away from maximum likelihood (guards against a
    prior that is silently ignored for some covariance type)."""
    X, start = _map_case(rng, cov_type)
    D = X.shape[1]
    ml = _one_step(X, *start[:2], cov_type, start[2], None)
    strong = _one_step(X, *start[:2], cov_type, start[2], {"shrinkage": 50.0, "dof": 200.0, "scale": 100.0 * np.eye(D)})
    assert not np.allclose(strong.covariances_, ml.covariances_, rtol=1e-3)
    assert not np.allclose(strong.means_, ml.means_, rtol=1e-3)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_prior_fit_converges_to_a_fixed_point_of_the_map_step(rng, cov_type):
    """At convergence the MAP estimate is a fixed point of the textbook MAP M-step
    applied to the fit's own responsibilities."""
    X, _ = _map_case(rng, cov_type, N=300)
    K, D = 3, X.shape[1]
    gm = GaussianMixture(K, covariance_type=cov_type, prior="conjugate", reg_covar=0.0, tol=1e-12,
                         max_iter=2000, random_state=1).fit(X)
    assert gm.converged_
    z = gm.predict_proba(X)
    scale = np.cov(X, rowvar=False) / K ** (2 / D)
    w_ref, m_ref, c_ref = map_mstep(X, z, cov_type, 0.01, D + 2, scale, X.mean(axis=0))
    np.testing.assert_allclose(gm.means_, m_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gm.covariances_, c_ref, rtol=1e-5)
    np.testing.assert_allclose(gm.weights_, w_ref, rtol=1e-5)


@pytest.mark.parametrize("cov_type", ["full", "diag"])
def test_prior_integer_weights_equal_duplicated_rows(rng, cov_type):
    X = np.vstack([rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + 4])
    w = rng.integers(1, 4, size=len(X))
    kw = dict(covariance_type=cov_type, prior="conjugate", max_iter=5, tol=0, random_state=0,
              means_init=[[0.0, 0.0], [4.0, 4.0]])
    with pytest.warns(ConvergenceWarning):
        weighted = GaussianMixture(2, **kw).fit(X, sample_weight=w)
    with pytest.warns(ConvergenceWarning):
        repeated = GaussianMixture(2, **kw).fit(np.repeat(X, w, axis=0))
    np.testing.assert_allclose(weighted.means_, repeated.means_, rtol=1e-9)
    np.testing.assert_allclose(weighted.covariances_, repeated.covariances_, rtol=1e-9)
