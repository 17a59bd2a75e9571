"""The outlier detector's API behind the CLI: threshold calibration, unscorable rows, model
loading, sub-mixtures built with GaussianMixture.from_parameters."""
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from gmmkit import GaussianMixture
from gmmkit.exceptions import DataError, ModelFileError, ParameterError
from gmmkit_apps.outliers.detector import (
    UNSCORABLE,
    GMMOutlierDetector,
    constant_columns,
    from_mixture,
    inflate_for_trimming,
    load_model,
    submixture,
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return np.vstack([rng.normal(size=(600, 3)), rng.normal(8, 0.5, size=(6, 3))])


@pytest.fixture(scope="module")
def det(data):
    return GMMOutlierDetector(n_components=1, contamination=0.02, random_state=0).fit(data)


def test_calibrate_by_threshold_or_contamination(det, data):
    d = GMMOutlierDetector(n_components=1, random_state=0).fit(data)
    assert d.calibrate(threshold=-7.5).offset_ == -7.5
    d.calibrate(data, contamination=0.05)
    s = d.score_samples(data)
    assert d.offset_ == pytest.approx(np.quantile(s, 0.05))
    assert np.mean(d.predict(data) == -1) == pytest.approx(0.05, abs=1 / len(data))
    d.calibrate(data)  # default: the contamination parameter
    assert d.offset_ == pytest.approx(np.quantile(s, d.contamination))
    with pytest.raises(ParameterError, match="not both"):
        d.calibrate(data, contamination=0.1, threshold=-3.0)
    with pytest.raises(ParameterError, match="needs rows"):
        d.calibrate(contamination=0.1)
    with pytest.raises(ParameterError, match="contamination"):
        d.calibrate(data, contamination=0.9)


def test_unscorable_rows_are_neither_outliers_nor_inliers(det, data):
    rows = np.vstack([data[:3], np.full((2, 3), np.nan), [[50.0, 50.0, 50.0]]])
    pred = det.predict(rows)
    assert pred.tolist()[3:] == [UNSCORABLE, UNSCORABLE, -1] and set(pred[:3]) <= {1, -1}
    assert det.scorable(rows).tolist() == [True, True, True, False, False, True]
    assert np.isnan(det.decision_function(rows)[3:5]).all()
    # unscorable rows do not move the calibrated threshold
    before = det.calibrate(data, contamination=0.02).offset_
    after = det.calibrate(np.vstack([data, np.full((50, 3), np.nan)]), contamination=0.02).offset_
    assert after == before
    with pytest.raises(DataError, match="no row can be scored"):
        det.calibrate(np.full((4, 3), np.nan))


def test_plain_mixture_needs_calibration_and_keeps_its_names(tmp_path, data):
    frame = pd.DataFrame(data, columns=["a", "b", "c"])
    gm = GaussianMixture(2, random_state=0).fit(frame)
    d = from_mixture(gm)
    assert not d.calibrated_ and list(d.feature_names_in_) == ["a", "b", "c"]
    assert hasattr(gm, "feature_names_in_")  # the caller's mixture is not modified
    d.calibrate(frame, contamination=0.01)
    assert d.calibrated_
    np.testing.assert_allclose(d.score_samples(frame), gm.score_samples(frame), rtol=1e-12)
    gm.save(tmp_path / "m.gmm")
    loaded = load_model(tmp_path / "m.gmm")
    assert not loaded.calibrated_
    with pytest.raises(DataError, match="expects 3 features"):
        from_mixture(GaussianMixture(1).fit(data)).use_feature_names(["a", "b"])


def test_load_model_reads_a_saved_detector_and_refuses_other_files(tmp_path, det, data):
    det.save(tmp_path / "det.gmm")
    back = load_model(tmp_path / "det.gmm")
    assert back.offset_ == det.offset_ and back.calibrated_
    np.testing.assert_allclose(back.score_samples(data), det.score_samples(data), rtol=1e-10)
    (tmp_path / "junk.gmm").write_bytes(b"not a model")
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "junk.gmm")


@pytest.mark.parametrize("cov", ["full", "diag", "tied", "spherical"])
def test_submixture_is_a_validated_fitted_mixture(cov, data):
    gm = GaussianMixture(3, covariance_type=cov, random_state=0).fit(data)
    sub = submixture(gm, [0, 2])
    assert sub.n_components == 2 and sub.covariance_type == cov
    np.testing.assert_allclose(sub.weights_, gm.weights_[[0, 2]] / gm.weights_[[0, 2]].sum())
    np.testing.assert_allclose(sub.means_, gm.means_[[0, 2]])
    expected = gm.covariances_ if cov == "tied" else gm.covariances_[[0, 2]]
    np.testing.assert_allclose(sub.covariances_, expected)
    # the density is that of the kept components, renormalised
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    from gmmkit.covariance import full_covariances

    C = full_covariances(gm)
    logs = [np.log(gm.weights_[k]) + multivariate_normal(gm.means_[k], C[k]).logpdf(data[:5]) for k in (0, 2)]
    ref = logsumexp(logs, axis=0) - np.log(gm.weights_[[0, 2]].sum())
    np.testing.assert_allclose(sub.score_samples(data[:5]), ref, rtol=1e-8)
    # trimming 10 % shrinks covariances by c < 1: inflate_for_trimming divides them by c
    from scipy.stats import chi2

    c = chi2.cdf(chi2.ppf(0.9, 3), 5) / 0.9
    wide = inflate_for_trimming(gm, 0.1)
    np.testing.assert_allclose(full_covariances(wide), C / c, rtol=1e-12)
    assert wide.weights_.sum() == pytest.approx(1.0) and c < 1


def test_constant_columns():
    X = np.array([[1.0, 2.0, np.nan, 5.0], [1.0, 3.0, np.nan, np.nan]])
    assert constant_columns(X).tolist() == [True, False, True, True]


def test_cli_counts_unscorable_rows_apart(tmp_path, data):
    from gmmkit.cli import app

    frame = pd.DataFrame(data, columns=["a", "b", "c"])
    frame.loc[[5, 7], :] = np.nan
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    GaussianMixture(1, random_state=0).fit(data).save(tmp_path / "m.gmm")
    res = CliRunner().invoke(app, ["outliers", str(path), "--model", str(tmp_path / "m.gmm"),
                                   "-o", str(tmp_path / "o.csv"), "--json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["unscored_rows"] == 2 and s["scored"] == len(data) - 2
    assert s["flagged"] + s["inliers"] + s["unscored_rows"] == s["rows"] == len(data)
    assert "2 of 606 rows" in res.stderr and "neither as outliers nor as inliers" in res.stderr
    out = pd.read_csv(tmp_path / "o.csv")
    assert out["is_outlier"].isna().sum() == 2 and out.loc[[5, 7], "outlier_score"].isna().all()


def test_fit_on_table_reports_what_it_left_out(tmp_path, data):
    from gmmkit_apps.outliers.workflow import calibrate_on_table, fit_on_table, load_for_table

    frame = pd.DataFrame(data, columns=["a", "b", "c"])
    frame["kind"] = "x"
    frame["flat"] = 1.0
    frame.loc[3, "a"] = np.nan
    frame.loc[4, ["a", "b", "c", "flat"]] = np.nan
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    fit = fit_on_table(path, n_components=1, data_is_source=False)
    assert fit.names == ["a", "b", "c"] and fit.skipped == ["kind"] and fit.n_rows == len(frame)
    text = " | ".join(fit.notes)
    assert "skipped column(s) kind (text)" in text and "constant column(s) flat" in text
    assert "1 of 606 rows" in text and "left out of the fit" in text
    assert fit.detector.calibrated_ and fit.X.shape[1] == 3
    # a plain mixture: its columns come from the table, its threshold from a sample
    GaussianMixture(1, random_state=0).fit(data).save(tmp_path / "m.gmm")
    det, names = load_for_table(tmp_path / "m.gmm", path, columns="a,b,c")
    assert names == ["a", "b", "c"] and not det.calibrated_
    calibrate_on_table(det, path, names, contamination=0.05)
    assert det.calibrated_
    with pytest.raises(DataError, match="expects 3 features"):
        load_for_table(tmp_path / "m.gmm", path, columns="a,b")
