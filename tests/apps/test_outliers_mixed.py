"""gmmkit outliers, issue 19: the Gaussian x categorical mixture against independent oracles,
masking cases, seed stability, explanations of discrete values; issue 23's CLI refusals."""
import os

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal, norm
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture as SkGMM

from gmmkit.exceptions import ModelFileError, ParameterError
from gmmkit_apps.outliers import GMMOutlierDetector, load_detector
from gmmkit_apps.outliers.features import encode, feature_kinds
from gmmkit_apps.outliers.mixed import categorical_terms, em, log_density
from tests.helpers import app_runner

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "datasets", "outliers")
HBK = os.path.join(DATA, "hbk.csv")


def _one_component(X, flags):
    """A detector with one component, no trimming, no shrinkage: the textbook estimates."""
    df = pd.DataFrame(np.c_[X, flags], columns=["a", "b", "c", "flag"])
    return df, GMMOutlierDetector(n_rounds=0, shrinkage=0.0, reg_covar=1e-9, random_state=0).fit(df)


def test_one_component_is_sample_gaussian_times_smoothed_level_frequencies(rng):
    X = rng.normal(size=(300, 3)) @ np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 1.0]])
    flags = (rng.random(300) < 0.2).astype(float)
    df, det = _one_component(X, flags)
    # oracle: scipy's Gaussian with the sample mean and ML covariance, times the
    # frequency of the flag's level with alpha = 0.5 pseudo-counts (two levels + unseen)
    mean, cov = X.mean(axis=0), np.cov(X.T, bias=True)
    ones = flags.sum()
    p1 = (ones + 0.5) / (300 + 1.5)
    p0 = (300 - ones + 0.5) / (300 + 1.5)
    expected = multivariate_normal(mean, cov).logpdf(X) + np.log(np.where(flags == 1, p1, p0))
    np.testing.assert_allclose(det.score_samples(df), expected, rtol=1e-6, atol=1e-6)
    # a level never seen in training gets the smoothing mass of the unseen level
    new = df.iloc[:1].copy()
    new["flag"] = 7.0
    unseen = multivariate_normal(mean, cov).logpdf(X[:1]) + np.log(0.5 / 301.5)
    np.testing.assert_allclose(det.score_samples(new), unseen, rtol=1e-6)


def test_em_matches_scikit_learn_on_a_continuous_mixture(rng):
    Z = np.r_[rng.normal(size=(300, 2)), rng.normal(size=(200, 2)) * 0.5 + [4.0, 1.0]]
    p = em(Z, np.zeros((500, 0), int), [], 2, np.ones(500), reg_covar=1e-6, tol=1e-8, max_iter=500)
    sk = SkGMM(2, reg_covar=1e-6, tol=1e-8, max_iter=500, random_state=0).fit(Z)
    np.testing.assert_allclose(log_density(p, Z, np.zeros((500, 0), int)).mean(), sk.score(Z), atol=1e-5)
    np.testing.assert_allclose(np.sort(p.weights), np.sort(sk.weights_), atol=1e-4)


def test_latent_classes_recover_dependent_binary_features(rng):
    # two classes; each of 6 binary features is 1 with probability 0.9 in class 0, 0.1 in class 1
    cls = rng.random(2000) < 0.4
    B = (rng.random((2000, 6)) < np.where(cls[:, None], 0.1, 0.9)).astype(float)
    kinds = feature_kinds(B, 2)
    codes = encode(B, kinds, [np.array([0.0, 1.0])] * 6)
    p = em(np.zeros((2000, 0)), codes, [2] * 6, 2, np.ones(2000), tol=1e-8)
    np.testing.assert_allclose(np.sort(p.weights), [0.4, 0.6], atol=0.03)
    probs = np.sort(np.exp(np.array([t[:, 1] for t in p.cat_logp])), axis=1)  # P(level 1) per class
    np.testing.assert_allclose(probs, np.tile([0.1, 0.9], (6, 1)), atol=0.04)
    # and the terms are the textbook product of level probabilities
    k = 0
    expected = sum(p.cat_logp[j][k, codes[:, j]] for j in range(6))
    np.testing.assert_allclose(categorical_terms(p, codes)[:, k], expected)


def test_masking_cases_hbk_and_wine():
    from sklearn.datasets import load_wine

    hbk = pd.read_csv(HBK)
    y = hbk.pop("outlier") == "yes"
    s = -GMMOutlierDetector(random_state=0).fit(hbk).score_samples(hbk)
    assert roc_auc_score(y, s) >= 0.95
    w = load_wine()
    rows = np.r_[np.flatnonzero(w.target != 0),
                 np.random.default_rng(0).choice(np.flatnonzero(w.target == 0), 10, replace=False)]
    X, y = w.data[rows], w.target[rows] == 0
    assert roc_auc_score(y, -GMMOutlierDetector(random_state=0).fit(X).score_samples(X)) >= 0.95
    # the failure it guards against: a plain mixture with K by BIC (scikit-learn) gives the
    # tight group of outliers its own component and is masked
    plain = min((SkGMM(k, random_state=0).fit(hbk) for k in (1, 2, 3)), key=lambda g: g.bic(hbk))
    assert roc_auc_score(hbk.index < 14, -plain.score_samples(hbk)) < 0.5
    # ... and so would gmmkit's detector be without pruning and trimming
    loose = GMMOutlierDetector(max_components=3, n_rounds=0, min_component_weight=0.0, shrinkage=0.0,
                               reg_covar=1e-6, random_state=0).fit(hbk)
    assert loose.n_components_ > 1
    robust = GMMOutlierDetector(max_components=3, random_state=0).fit(hbk)
    assert roc_auc_score(hbk.index < 14, -robust.score_samples(hbk)) >= 0.95


def test_the_fit_does_not_depend_on_the_seed(rng):
    X = np.c_[np.r_[rng.normal(size=(300, 2)), rng.normal(size=(150, 2)) + 5], rng.integers(0, 2, 450)]
    a = GMMOutlierDetector(max_components=3, random_state=0).fit(X).score_samples(X)
    b = GMMOutlierDetector(max_components=3, random_state=12345).fit(X).score_samples(X)
    np.testing.assert_array_equal(a, b)


def test_a_rare_binary_value_is_explained_by_its_probability(rng):
    X = rng.normal(size=(400, 2))
    flags = (rng.random(400) < 0.02).astype(float)
    df = pd.DataFrame(np.c_[X, flags], columns=["a", "b", "flag"])
    det = GMMOutlierDetector(random_state=0).fit(df)
    row = pd.DataFrame([[0.0, 0.0, 1.0]], columns=df.columns)
    z, text = det.explain(row)
    p = np.exp(det.cat_logp_[0][0, 1])
    assert z[0, 2] == pytest.approx(norm.isf(p / 2))
    assert text[0].startswith("flag=+")


def test_save_load_keeps_categorical_parts_and_refuses_broken_ones(tmp_path, rng):
    X = np.c_[rng.normal(size=(300, 2)), rng.integers(0, 2, 300), rng.integers(0, 2, 300)]
    det = GMMOutlierDetector(random_state=0).fit(X)
    det.save(tmp_path / "d.gmm")
    back = load_detector(tmp_path / "d.gmm")
    np.testing.assert_array_equal(back.score_samples(X), det.score_samples(X))
    assert back.explain(X[:5])[1] == det.explain(X[:5])[1]
    det.cat_logp_[0] = det.cat_logp_[0] + 1.0  # probabilities no longer sum to 1
    det.save(tmp_path / "bad.gmm")
    with pytest.raises(ModelFileError, match="sum to 1"):
        load_detector(tmp_path / "bad.gmm")


def test_all_binary_table_and_threshold_must_be_finite(rng):
    B = (rng.random((500, 5)) < 0.3).astype(float)
    det = GMMOutlierDetector(random_state=0).fit(B)
    assert det.mixture_ is None and det.n_components_ == 1
    s = det.score_samples(B)
    assert np.isfinite(s).all()
    with pytest.raises(ParameterError, match="finite"):
        det.calibrate(threshold=float("nan"))
    with pytest.raises(ParameterError):
        GMMOutlierDetector(threshold=float("inf")).fit(B)
    nan_row = np.full((1, 5), np.nan)
    assert det.predict(nan_row).tolist() == [0]  # unscorable, as the CLI's "not scored"


@pytest.fixture(scope="module")
def cli():
    return app_runner("outliers")


@pytest.mark.parametrize("args, message", [
    (["--threshold", "nan"], "finite"),
    (["--seed", "-1"], "seed"),
    (["--show", "-5"], "--show"),
])
def test_cli_refuses_bad_numbers_in_one_line(cli, args, message):
    r = cli(HBK, *args)
    assert r.exit_code == 2
    assert message in r.output and "Traceback" not in r.output


def test_cli_summary_counts_used_features_and_plot_finds_names_with_spaces(cli, tmp_path, rng):
    pytest.importorskip("matplotlib")
    n = 300
    frame = pd.DataFrame({"left arm": rng.normal(size=n), "right arm": rng.normal(size=n),
                          "body mass": rng.normal(size=n), "flat": np.ones(n)})
    frame.loc[:4, "body mass"] = 12.0  # the flagged rows are unusual in 'body mass'
    frame.to_csv(tmp_path / "t.csv", index=False)
    r = cli(tmp_path / "t.csv", "--plot", tmp_path / "p.png", "--json", "--contamination", "0.02")
    assert r.exit_code == 0, r.output
    import json

    s = json.loads(r.output[r.output.index("{"):])  # after the note on the constant column
    assert "flat" not in s["used_features"] and len(s["used_features"]) == 3
    assert "body mass" in s["plot_features"]
