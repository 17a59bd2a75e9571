"""Weighted information criteria: frequency weights act as repeated rows."""
import numpy as np

from gmmkit import GaussianMixture


def test_weighted_bic_aic_equal_repeated_rows():
    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(-2, 1, (80, 2)), rng.normal(2, 1, (80, 2))])
    w = rng.integers(0, 4, size=len(X)).astype(float)
    gm = GaussianMixture(2, covariance_type="diag", noise=True, random_state=0).fit(X, sample_weight=w)
    Xr = np.repeat(X, w.astype(int), axis=0)
    assert np.isclose(gm.bic(X, sample_weight=w), gm.bic(Xr), rtol=1e-12)
    assert np.isclose(gm.aic(X, sample_weight=w), gm.aic(Xr), rtol=1e-12)
    # and unweighted criteria are unchanged by the new argument
    assert gm.bic(X) == gm.bic(X, sample_weight=None)
    p = gm._n_parameters()
    assert np.isclose(gm.bic(X), -2 * gm.score_samples(X).sum() + p * np.log(len(X)), rtol=1e-12)
