"""Linear score fusion for speaker verification (gmmkit_apps.speech.fusion) against scikit-learn's
LogisticRegression with prior weights, and its refusals."""
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from gmmkit.exceptions import DataError, ParameterError
from gmmkit_apps.speech.fusion import LinearFusion, fit_fusion


def _trials(n=900, seed=5):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.15
    a = np.where(y, 2.0, -1.0) + rng.normal(size=n)
    b = np.where(y, 0.5, -0.5) + rng.normal(size=n) * 1.5 + 0.3 * a  # weaker, correlated with a
    c = rng.normal(size=n) * 2.0 + 1.0                                # no information
    return [a, b, c], y


@pytest.mark.parametrize("p_target,l2", [(0.5, 1e-3), (0.5, 0.2), (0.1, 1e-3)])
def test_fusion_matches_scikit_learn(p_target, l2):
    sets, y = _trials()
    fusion = fit_fusion(sets, y, p_target=p_target, l2=l2)
    w = np.where(y, p_target / y.sum(), (1 - p_target) / (~y).sum())
    X = np.column_stack(sets)
    ref = LogisticRegression(C=1 / l2, tol=1e-12, max_iter=100_000).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(fusion.weights, ref.coef_.ravel(), rtol=1e-5, atol=1e-7)
    # the offset leaves out the prior's log-odds: fused scores are log-likelihood ratios
    np.testing.assert_allclose(fusion.offset, ref.intercept_[0] - np.log(p_target / (1 - p_target)), atol=1e-6)
    got = fusion.apply([s.reshape(30, 30) for s in sets])
    want = ref.decision_function(X) - np.log(p_target / (1 - p_target))
    np.testing.assert_allclose(got.ravel(), want, rtol=1e-5, atol=1e-6)


def test_fusion_weights_follow_the_information():
    sets, y = _trials(4000, seed=6)
    fusion = fit_fusion(sets, y, l2=0.0)
    assert fusion.weights[0] > fusion.weights[1] > 0 and abs(fusion.weights[2]) < 0.1 * fusion.weights[0]


def test_fusion_refuses_bad_input():
    sets, y = _trials(50)
    with pytest.raises(DataError, match="one score per trial"):
        fit_fusion([sets[0], sets[1][:-1]], y)
    with pytest.raises(DataError, match="both target and impostor"):
        fit_fusion(sets, np.ones(50, bool))
    with pytest.raises(DataError, match="finite"):
        fit_fusion([np.r_[sets[0][:-1], np.nan]], y)
    with pytest.raises(DataError, match="do not determine"):  # one system twice, unpenalised
        fit_fusion([sets[0], sets[0]], y, l2=0.0)
    with pytest.raises(ParameterError, match="p_target"):
        fit_fusion(sets, y, p_target=1.0)
    fusion = LinearFusion(0.0, np.array([1.0, 2.0]))
    with pytest.raises(DataError, match="2 systems applied to 1"):
        fusion.apply([np.zeros(3)])
    with pytest.raises(DataError, match="different shapes"):
        fusion.apply([np.zeros(3), np.zeros(4)])
