"""GaussianMixtureClassifier against mclust's MclustDA / EDDA / cvMclustDA (numbers stored by
tests/data/make_mclust_da.py: the tests do not need R), and its row and sequence scores
against sums of the class mixtures' own densities."""
import json
import os

import numpy as np
import pandas as pd
import pytest

from gmmkit import GaussianMixture
from gmmkit.classifier import GaussianMixtureClassifier, check_sequences, cross_val_error
from gmmkit.exceptions import DataError, ParameterError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
with open(os.path.join(ROOT, "tests", "data", "mclust_da.json")) as fh:
    MCLUST = json.load(fh)
# mclust names a one-component model by its shape only: XXX (ellipsoidal), XXI (diagonal), XII
ONE_COMPONENT = {"XXX": "VVV", "XXI": "VVI", "XII": "VII"}
# stated tolerance on cvMclustDA's 10-fold error, same folds and models, EM started differently
CV_TOLERANCE = 0.02


def _data(name):
    d = MCLUST["datasets"][name]
    frame = pd.read_csv(os.path.join(ROOT, d["file"]))
    return d, frame[d["columns"]].to_numpy(np.float64), frame[d["label"]].to_numpy()


@pytest.mark.parametrize("name", ["iris", "banknote", "wdbc"])
def test_edda_equals_mclust_model_parameters_posteriors_and_cross_validation(name):
    d, X, y = _data(name)
    ref = d["edda"]
    clf = GaussianMixtureClassifier(model_type="EDDA", reg_covar=0.0).fit(X, y)
    assert list(clf.classes_) == d["classes"]
    assert clf.covariance_type_ == ref["model"]
    for model, bic in ref["bic"].items():
        if bic is None:
            assert np.isnan(clf.bic_table_[model])
        else:
            np.testing.assert_allclose(clf.bic_table_[model], bic, rtol=1e-9)
    np.testing.assert_allclose([m.means_[0] for m in clf.models_], ref["means"], rtol=1e-10)
    np.testing.assert_allclose([m.covariances_[0] for m in clf.models_], ref["covariances"],
                               rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(clf.predict_proba(X), ref["posteriors"], atol=1e-10)
    fixed = GaussianMixtureClassifier(model_type="EDDA", covariance_types=ref["model"], reg_covar=0.0)
    cv, se, pred = cross_val_error(fixed, X, y, d["folds"])
    np.testing.assert_allclose([cv, se], [ref["cv_error"], ref["cv_se"]], rtol=1e-10)
    np.testing.assert_array_equal(np.searchsorted(clf.classes_, pred), ref["cv_classification"])


def test_mclustda_picks_mclusts_model_or_a_better_one_per_class():
    """iris on a grid that holds mclust's picks (the full 5 x 14 grid: docs/classifier.md)."""
    d, X, y = _data("iris")
    grid = ("EII", "VII", "VVI", "EEE", "VEV", "VVV")
    clf = GaussianMixtureClassifier(n_components=range(1, 4), covariance_types=grid, random_state=0).fit(X, y)
    for ours, theirs in zip(clf.class_models_, d["mclustda"]["classes"]):
        assert ONE_COMPONENT.get(theirs["model"], theirs["model"]) in grid
        assert ours["bic_mclust"] >= theirs["bic"] - 1e-3 * abs(theirs["bic"])
    # each class mixture is gmmkit.select's best on the class's rows
    setosa = X[y == "setosa"]
    assert clf.class_models_[0]["bic_mclust"] == pytest.approx(-clf.models_[0].bic(setosa), rel=1e-12)


def test_mclustda_with_mclusts_start_picks_mclusts_models_on_wdbc():
    """With mclust's hierarchical start and stopping rule, the full default grid (K = 1..5,
    14 models) picks mclust's model in each class, with a BIC as high or higher."""
    d, X, y = _data("wdbc")
    clf = GaussianMixtureClassifier(init_params="hc", tol=1e-5, max_iter=1000, random_state=0).fit(X, y)
    for ours, theirs in zip(clf.class_models_, d["mclustda"]["classes"]):
        assert (ours["covariance_type"], ours["n_components"]) == (theirs["model"], theirs["n_components"])
        assert theirs["bic"] - 1e-6 * abs(theirs["bic"]) <= ours["bic_mclust"] <= theirs["bic"] + 1.0


@pytest.mark.parametrize("name", ["iris", "wdbc"])  # banknote's picks: EVE,2 and one Gaussian
def test_mclustda_cross_validated_error_with_mclusts_models_and_folds(name):
    """cvMclustDA: mclust's per-class picks refitted on every training fold (EM started by
    k-means here, by hierarchical clustering in mclust), the error within CV_TOLERANCE."""
    d, X, y = _data(name)
    classes, counts = np.unique(y, return_counts=True)
    picks = [(c["n_components"], ONE_COMPONENT.get(c["model"], c["model"])) for c in d["mclustda"]["classes"]]
    models = [GaussianMixture(k, covariance_type=m, random_state=0).fit(X[y == c]) for c, (k, m) in zip(classes, picks)]
    clf = GaussianMixtureClassifier.from_models(classes, models, counts, random_state=0)
    cv, se, pred = cross_val_error(clf, X, y, d["folds"])
    assert abs(cv - d["mclustda"]["cv_error"]) <= CV_TOLERANCE
    assert cv == np.mean(pred != y) and se > 0


def test_rows_and_sequences_score_by_class_densities_and_priors():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (80, 3)), rng.normal(2, 1.5, (60, 3))])
    y = np.repeat([7, 9], [80, 60])
    clf = GaussianMixtureClassifier(n_components=2, covariance_types="diag", priors=[0.3, 0.7],
                                    random_state=0).fit(X, y)
    test = rng.normal(1, 1.5, (25, 3))
    joint = np.column_stack([m.score_samples(test) for m in clf.models_]) + np.log([0.3, 0.7])
    np.testing.assert_allclose(clf.predict_joint_log_proba(test), joint, rtol=1e-12)
    post = np.exp(joint - np.logaddexp(joint[:, :1], joint[:, 1:]))
    np.testing.assert_allclose(clf.predict_proba(test), post, rtol=1e-10)
    np.testing.assert_array_equal(clf.predict(test), np.array([7, 9])[joint.argmax(axis=1)])
    seqs = [test[:4], test[4:5], test[5:]]
    summed = np.array([[m.score_samples(s).sum() for m in clf.models_] for s in seqs]) + np.log([0.3, 0.7])
    np.testing.assert_allclose(clf.sequence_scores(seqs), summed, rtol=1e-12)
    np.testing.assert_allclose(clf.predict_proba_sequences(seqs).sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict_sequences(seqs), np.array([7, 9])[summed.argmax(axis=1)])
    # float32 frames are scored in float32 and summed in float64
    s32 = clf.sequence_scores([s.astype(np.float32) for s in seqs])
    np.testing.assert_allclose(s32, summed, rtol=1e-5)
    # uniform priors change only the prior term
    uni = GaussianMixtureClassifier(n_components=2, covariance_types="diag", priors="uniform",
                                    random_state=0).fit(X, y)
    np.testing.assert_allclose(uni.log_prior_, np.log([0.5, 0.5]))
    assert clf.class_models_[0]["n_components"] == 2 and clf.n_features_in_ == 3


def test_bad_input_is_refused_in_one_line():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(20, 2)), np.repeat(["a", "b"], 10)
    with pytest.raises(DataError, match="two classes"):
        GaussianMixtureClassifier(n_components=1).fit(X, np.zeros(20))
    with pytest.raises(ParameterError, match="priors"):
        GaussianMixtureClassifier(n_components=1, priors=[1, 2, 3]).fit(X, y)
    with pytest.raises(DataError, match="class 'b' \\(1 rows\\)"):
        GaussianMixtureClassifier(n_components=1, covariance_types="full").fit(X[:11], y[:10].tolist() + ["b"])
    with pytest.raises(ParameterError, match="EDDA"):
        GaussianMixtureClassifier(n_components=2, model_type="EDDA").fit(X, y)
    with pytest.raises(ParameterError, match="covariance"):
        GaussianMixtureClassifier(n_components=1, covariance_types="nope").fit(X, y)
    clf = GaussianMixtureClassifier(n_components=1, covariance_types="full").fit(X, y)
    with pytest.raises(DataError, match="sequence 1: 3 features"):
        clf.predict_sequences([X[:3], np.ones((2, 3))])
    with pytest.raises(DataError, match="NaN"):
        check_sequences([np.array([[np.nan, 1.0]])])
    with pytest.raises(ParameterError, match="3 classes"):
        GaussianMixtureClassifier.from_models(["a", "b", "c"], clf.models_, [1, 1, 1])


def test_scikit_learn_estimator_checks():
    """Every check of scikit-learn's check_estimator passes (array-API input is skipped by
    scikit-learn itself when SCIPY_ARRAY_API is not set). Run on EDDA (the M-step path);
    the per-class EM path is GaussianMixture's, checked in test_mixture.py."""
    from sklearn.utils.estimator_checks import check_estimator

    results = check_estimator(GaussianMixtureClassifier(model_type="EDDA", covariance_types="VVV"),
                              on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert not failed
