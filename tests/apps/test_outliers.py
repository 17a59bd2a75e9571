"""gmmkit outliers: detector semantics, robust fitting (masking), explanations, CLI end to end."""
import json
import os

import numpy as np
import pandas as pd
import pytest

from gmmkit import GaussianMixture
from gmmkit.exceptions import DataError, ModelFileError
from gmmkit_apps.outliers import table as tb
from gmmkit_apps.outliers.detector import (
    GMMOutlierDetector,
    conditional_zscores,
    load_detector,
    robust_scale,
)
from gmmkit_apps.outliers.explain import explain_rows
from tests.helpers import app_runner

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "datasets", "outliers")
CANCER = os.path.join(DATA, "breast_cancer.csv")
ABALONE = os.path.join(DATA, "keel_abalone19.csv")


@pytest.fixture(scope="module")
def cli():
    return app_runner("outliers")


def _bulk_and_cluster(seed=0, n=970, n_out=30):
    """A correlated 2-D bulk plus a tight far cluster of outliers (3 %)."""
    rng = np.random.default_rng(seed)
    A = np.array([[1.0, 0.0], [0.8, 0.6]])
    bulk = rng.normal(size=(n, 2)) @ A.T
    cluster = np.array([4.0, -4.0]) + 0.05 * rng.normal(size=(n_out, 2))
    X = np.vstack([bulk, cluster])
    y = np.r_[np.zeros(n, bool), np.ones(n_out, bool)]
    return X, y


# ---------------------------------------------------------------- pure functions
def test_conditional_zscores_match_schur_complement(rng):
    X = rng.normal(size=(500, 3)) @ np.array([[1, 0, 0], [0.7, 0.5, 0], [0.2, -0.4, 0.6]])
    gm = GaussianMixture(2, random_state=0).fit(X)
    pts = rng.normal(scale=3, size=(6, 3))
    labels = gm.predict(pts)
    z = conditional_zscores(gm, pts, labels)
    for i, x in enumerate(pts):
        k = labels[i]
        m, S = gm.means_[k], gm.covariances_[k]
        for j in range(3):
            o = [c for c in range(3) if c != j]
            w = np.linalg.solve(S[np.ix_(o, o)], S[o, j])
            cond_mean = m[j] + w @ (x[o] - m[o])
            cond_var = S[j, j] - S[j, o] @ w
            assert z[i, j] == pytest.approx((x[j] - cond_mean) / np.sqrt(cond_var), rel=1e-6)


@pytest.mark.parametrize("cov", ["diag", "spherical", "tied"])
def test_conditional_zscores_other_covariance_types(rng, cov):
    X = rng.normal(size=(300, 2)) * [1.0, 3.0]
    gm = GaussianMixture(1, covariance_type=cov, random_state=0).fit(X)
    x = np.array([[2.0, -1.0]])
    z = conditional_zscores(gm, x, np.array([0]))
    S = {"diag": lambda: np.diag(gm.covariances_[0]), "spherical": lambda: np.eye(2) * gm.covariances_[0],
         "tied": lambda: gm.covariances_}[cov]()
    P = np.linalg.inv(S)
    expect = (P @ (x[0] - gm.means_[0])) / np.sqrt(np.diag(P))
    np.testing.assert_allclose(z[0], expect, rtol=1e-6)


def test_explain_rows_orders_by_magnitude():
    z = np.array([[0.1, -7.0, 3.0, 2.0], [5.0, 0.0, 0.0, -5.5]])
    assert explain_rows(z, list("abcd"), top=2) == ["b=-7.0 c=+3.0", "d=-5.5 a=+5.0"]


def test_robust_scale_ignores_the_outliers_and_constant_columns(rng):
    X = np.c_[rng.normal(10, 2, 1000), np.full(1000, 3.0)]
    X[:20, 0] = 1e6
    center, scale, used = robust_scale(X)
    assert center[0] == pytest.approx(10, abs=0.3) and scale[0] == pytest.approx(2, rel=0.15)
    assert used.tolist() == [True, False]


def test_positive_label_rules():
    assert tb.positive_label(np.array(["-1", "1", "1"])) == "-1"
    assert tb.positive_label(np.array(["benign"] * 5 + ["malignant"])) == "malignant"
    assert tb.positive_label(np.array(["a", "b"]), positive="b") == "b"
    with pytest.raises(DataError, match="exactly 2 values"):
        tb.positive_label(np.array(["a", "b", "c"]))


# ---------------------------------------------------------------- detector
def test_masking_tight_cluster_is_flagged_and_plain_mixture_misses_it():
    X, y = _bulk_and_cluster()
    # the failure mode: a BIC-chosen plain mixture gives the tight cluster its own
    # component, so the cluster has the *highest* densities and looks normal
    plain = min((GaussianMixture(k, random_state=0).fit(X) for k in (1, 2, 3)), key=lambda g: g.bic(X))
    s = plain.score_samples(X)
    assert np.mean(s[y] < np.quantile(s, 0.03)) < 0.1
    det = GMMOutlierDetector(contamination=0.03, max_components=3, random_state=0).fit(X)
    pred = det.predict(X)
    assert np.mean(pred[y] == -1) >= 0.95
    assert np.mean(pred[~y] == -1) < 0.02
    assert det.mixture_.n_components == 1  # the cluster's component was not kept as normal


def test_trimming_keeps_scattered_outliers_from_inflating_the_covariance(rng):
    inl = rng.normal(size=(950, 2))
    out = rng.uniform(-15, 15, size=(50, 2))
    out = out[np.abs(out).max(axis=1) > 6]
    X = np.vstack([inl, out])
    untrimmed = GMMOutlierDetector(n_components=1, n_rounds=0, random_state=0).fit(X)
    trimmed = GMMOutlierDetector(n_components=1, random_state=0).fit(X)
    def cov(d):
        return d.mixture_.covariances_[0] * np.outer(d.scale_, d.scale_)
    assert np.trace(cov(untrimmed)) > 4.0  # contaminated: far from the true trace 2
    # trimmed and corrected for the trimming: close to the inliers' covariance
    assert np.trace(cov(trimmed)) == pytest.approx(np.trace(np.cov(inl.T)), rel=0.2)
    assert trimmed.n_kept_ < X.shape[0]


def test_sklearn_conventions(rng):
    X = rng.normal(size=(400, 3))
    det = GMMOutlierDetector(n_components=1, contamination=0.05, random_state=0).fit(X)
    s = det.score_samples(X)
    np.testing.assert_allclose(det.decision_function(X), s - det.offset_)
    pred = det.predict(X)
    assert set(np.unique(pred)) == {-1, 1}
    assert np.mean(pred == -1) == pytest.approx(0.05, abs=0.005)
    # log-density is in the units of X: a standard normal's density at the origin
    assert det.score_samples(np.zeros((1, 3)))[0] == pytest.approx(-1.5 * np.log(2 * np.pi), abs=0.15)
    thr = GMMOutlierDetector(n_components=1, threshold=-6.0, random_state=0).fit(X)
    assert thr.offset_ == -6.0
    assert np.array_equal(thr.predict(X) == -1, thr.score_samples(X) < -6.0)


def test_works_inside_a_pipeline():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = pd.read_csv(CANCER)
    X, y = frame.drop(columns="diagnosis"), frame["diagnosis"] == "malignant"
    pipe = make_pipeline(StandardScaler(), GMMOutlierDetector(covariance_type="diag", contamination=0.05,
                                                              random_state=0))
    pred = pipe.fit(X).predict(X)
    assert set(np.unique(pred)) == {-1, 1}
    # malignant rows are flagged far more often than benign ones
    assert np.mean(pred[y] == -1) > 5 * np.mean(pred[~y] == -1)
    assert pipe.decision_function(X).shape == (len(X),)


def test_save_and_load_round_trip(tmp_path, rng):
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    det = GMMOutlierDetector(n_components=2, random_state=0).fit(X)
    det.save(tmp_path / "d.gmm")
    back = load_detector(tmp_path / "d.gmm")
    np.testing.assert_allclose(back.score_samples(X), det.score_samples(X), rtol=1e-10)
    assert back.offset_ == det.offset_ and list(back.feature_names_in_) == ["a", "b", "c"]
    GaussianMixture(1).fit(X.to_numpy()).save(tmp_path / "plain.gmm")
    with pytest.raises(ModelFileError, match="expected a 'GMMOutlierDetector'"):
        load_detector(tmp_path / "plain.gmm")


def test_bad_input_to_the_detector():
    with pytest.raises(DataError, match="constant"):
        GMMOutlierDetector().fit(np.ones((50, 2)))
    with pytest.raises(DataError, match="infinity"):
        GMMOutlierDetector().fit(np.array([[1.0, np.inf], [2.0, 3.0], [3.0, 1.0]]))
    with pytest.raises(DataError, match="constant"):  # one observed value per column
        GMMOutlierDetector().fit(np.array([[np.nan, np.nan], [2.0, 3.0], [np.nan, np.nan]]))


# ---------------------------------------------------------------- missing values
def test_chi2_tail_helpers_match_scipy_and_extend_it():
    from scipy.stats import chi2

    from gmmkit_apps.outliers.calibrate import chi2_isf_log, chi2_logsf

    x = np.array([0.1, 1.0, 10.0, 100.0, 1000.0])
    for df in (1, 3, 10):
        np.testing.assert_allclose(chi2_logsf(x, df), chi2.logsf(x, df), rtol=1e-9)
        np.testing.assert_allclose(chi2_isf_log(chi2_logsf(x, df), df), x, rtol=1e-7)
    # beyond scipy's underflow the series takes over, continuously and invertibly
    deep = np.array([1100.0, 1300.0, 1e4, 1e6])
    for df in (1, 3, 10):
        ls = chi2_logsf(deep, df)
        assert np.all(np.isfinite(ls)) and np.all(np.diff(ls) < 0)
        np.testing.assert_allclose(chi2_isf_log(ls, df), deep, rtol=1e-6)
        edge = chi2_logsf(np.array([1150.0, 1250.0]), df)
        assert edge[1] < -600 < edge[0] or np.all(edge < -600) or np.all(edge > -600)


def test_calibrated_score_is_the_log_density_for_complete_rows_and_calibrated_otherwise(rng):
    from gmmkit_apps.outliers.calibrate import calibrated_log_density

    A = np.array([[1, 0, 0, 0], [0.8, 0.6, 0, 0], [0.3, -0.4, 0.8, 0], [0.1, 0.2, 0.3, 0.9]])
    X = rng.normal(size=(2000, 4)) @ A.T
    X[:700] += 5.0
    gm = GaussianMixture(2, random_state=0).fit(X)
    np.testing.assert_allclose(calibrated_log_density(gm, X[:50]), gm.score_samples(X[:50]), rtol=1e-9)
    noisy = GaussianMixture(2, noise=True, random_state=0).fit(X)
    far = np.r_[X[:5], [[30.0, -30.0, 30.0, 0.0]]]  # where the noise floor is the density
    assert noisy.noise_weight_ > 0
    np.testing.assert_allclose(calibrated_log_density(noisy, far), noisy.score_samples(far), rtol=1e-9)
    # rows drawn from one Gaussian: at a fixed threshold, the fraction below it is the
    # same whatever is missing (exact for one component; for a mixture it holds per
    # component where the components do not overlap in the observed coordinates);
    # the raw marginal density is not comparable
    gm = GaussianMixture(1, random_state=0).fit(X[700:])
    Y, _ = gm.sample(20000)
    full = gm.score_samples(Y)
    thr = np.quantile(full, 0.02)
    for n_missing in (1, 3):
        Ym = Y.copy()
        idx = np.argsort(rng.random(Y.shape), axis=1)[:, :n_missing]
        np.put_along_axis(Ym, idx, np.nan, axis=1)
        calibrated = np.mean(calibrated_log_density(gm, Ym) < thr)
        raw = np.mean(gm.score_samples(Ym) < thr)
        assert calibrated == pytest.approx(0.02, abs=0.004)
        assert raw < 0.01  # the marginal density is higher: rows with holes would hide
    assert np.isnan(calibrated_log_density(gm, np.full((1, 4), np.nan)))[0]


def test_detector_fits_and_scores_rows_with_missing_cells(rng):
    X, y = _bulk_and_cluster(seed=2)  # the masking case, with 15 % of the cells empty
    X = np.c_[X, X[:, 0] - X[:, 1] + 0.3 * rng.normal(size=len(X))]
    holes = rng.random(X.shape) < 0.15
    holes[holes.all(axis=1), 0] = False
    Xm = np.where(holes, np.nan, X)
    det = GMMOutlierDetector(contamination=0.03, max_components=3, random_state=0).fit(Xm)
    pred = det.predict(Xm)
    # masking guard and trimming still work with NaN
    assert det.mixture_.n_components == 1 and det.n_kept_ < len(X)
    assert np.mean(pred[y] == -1) >= 0.9 and np.mean(pred[~y] == -1) < 0.03
    partial = np.isnan(Xm).any(axis=1)
    assert np.mean(pred[~y & partial] == -1) < 0.04  # inliers with holes are not over-flagged
    # a planted outlier with a missing cell: x1 far from what x0 predicts (x0, x1 correlated 0.8)
    # and an inlier with a missing cell
    rows = np.array([[1.5, -1.5, np.nan], [1.0, 0.8, np.nan], [np.nan, np.nan, np.nan]])
    # the all-NaN row cannot be scored: neither an outlier (-1) nor an inlier (+1)
    from gmmkit_apps.outliers.detector import UNSCORABLE

    assert det.predict(rows).tolist() == [-1, 1, UNSCORABLE] and UNSCORABLE not in (-1, 1)
    s = det.score_samples(rows)
    assert s[0] < det.offset_ < s[1] and np.isnan(s[2])
    assert det.component(rows).tolist()[2] == -1 and det.component(rows)[0] == 0
    z, text = det.explain(rows, feature_names=["a", "b", "c"])
    assert np.isnan(z[0, 2]) and "c=" not in text[0] and text[0].split("=")[0] in ("a", "b")
    assert text[2] == "" and np.isnan(z[2]).all()
    # the calibrated score is below the raw marginal log-density of the observed pair
    raw = det.mixture_.score_samples(det._standardise(rows[:2])) + det._log_jacobian
    assert np.all(s[:2] < raw)
    # a row seen on one feature only, 4 standard deviations out (1 row in 16,000 for a
    # normal): flagged; its raw 1-D marginal density would sit above the threshold
    lone = np.array([[4.0, np.nan, np.nan]])
    assert det.predict(lone)[0] == -1
    assert det.mixture_.score_samples(det._standardise(lone))[0] + det._log_jacobian > det.offset_


def test_save_and_load_score_rows_with_missing_cells(tmp_path, rng):
    X = rng.normal(size=(300, 3))
    X[rng.random(X.shape) < 0.1] = np.nan
    det = GMMOutlierDetector(n_components=2, random_state=0).fit(X)
    det.save(tmp_path / "d.gmm")
    back = load_detector(tmp_path / "d.gmm")
    np.testing.assert_allclose(back.score_samples(X), det.score_samples(X), rtol=1e-10)
    assert np.isfinite(det.score_samples(X)).all()


# ---------------------------------------------------------------- command line
def test_cli_end_to_end_on_breast_cancer(cli, tmp_path):
    out = tmp_path / "flagged.csv"
    r = cli(CANCER, "--label-column", "diagnosis", "--contamination", "0.05",
            "--covariance-type", "diag", "-o", out, "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    flagged = pd.read_csv(out)
    original = pd.read_csv(CANCER)
    assert list(flagged.columns) == list(original.columns) + list(tb.OUTPUT_COLUMNS)
    pd.testing.assert_frame_equal(flagged[original.columns], original)
    assert s["flagged"] == int(flagged["is_outlier"].sum()) == pytest.approx(0.05 * 375, abs=2)
    assert (flagged["explanation"].notna() == flagged["is_outlier"]).all()
    assert s["evaluation"]["positive"] == "malignant"
    assert s["evaluation"]["roc_auc"] > 0.85 and s["evaluation"]["average_precision"] > 0.25
    assert "diagnosis" not in s["features"]
    # score = negative log-density; the flag is exactly score > threshold
    assert np.array_equal(flagged["is_outlier"], flagged["outlier_score"] > s["threshold_score"])


def test_cli_train_save_model_then_score_with_it(cli, tmp_path):
    frame = pd.read_csv(CANCER)
    clean, new = tmp_path / "clean.csv", tmp_path / "new.csv"
    frame[frame.diagnosis == "benign"].iloc[:250].to_csv(clean, index=False)
    frame.iloc[250:].to_csv(new, index=False)
    r1 = cli(new, "--train", clean, "--covariance-type", "diag", "--save-model", tmp_path / "det.gmm",
             "-o", tmp_path / "a.csv", "--quiet", "--label-column", "diagnosis")
    assert r1.exit_code == 0, r1.output
    r2 = cli(new, "--model", tmp_path / "det.gmm", "-o", tmp_path / "b.csv", "--explain")
    assert r2.exit_code == 0, r2.output
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    np.testing.assert_allclose(a["outlier_score"], b["outlier_score"], rtol=1e-9)
    assert "most anomalous rows" in r2.output and "=" in r2.output
    # output exists: refused without --force, replaced with it
    r3 = cli(new, "--model", tmp_path / "det.gmm", "-o", tmp_path / "b.csv")
    assert r3.exit_code == 2 and "--force" in r3.output
    assert cli(new, "--model", tmp_path / "det.gmm", "-o", tmp_path / "b.csv", "--force").exit_code == 0


def test_cli_plain_mixture_model_and_threshold(cli, tmp_path, rng):
    X = rng.normal(size=(400, 2))
    pd.DataFrame(X, columns=["u", "v"]).to_csv(tmp_path / "d.csv", index=False)
    gm = GaussianMixture(1, random_state=0).fit(X)
    gm.save(tmp_path / "m.gmm")
    r = cli(tmp_path / "d.csv", "--model", tmp_path / "m.gmm", "--threshold", "-5", "-o", tmp_path / "o.csv")
    assert r.exit_code == 0, r.output
    o = pd.read_csv(tmp_path / "o.csv")
    np.testing.assert_allclose(-o["outlier_score"], gm.score_samples(X), rtol=1e-9)
    assert np.array_equal(o["is_outlier"], gm.score_samples(X) < -5)


def test_cli_chunks_give_the_same_result(cli, tmp_path):
    args = [CANCER, "--covariance-type", "diag", "--components", "1", "--quiet"]
    assert cli(*args, "-o", tmp_path / "one.csv").exit_code == 0
    assert cli(*args, "-o", tmp_path / "many.csv", "--chunksize", "40").exit_code == 0
    one, many = pd.read_csv(tmp_path / "one.csv"), pd.read_csv(tmp_path / "many.csv")
    pd.testing.assert_frame_equal(one, many)


def test_cli_skips_text_columns_and_scores_rows_with_empty_cells(cli, tmp_path):
    frame = pd.read_csv(ABALONE).iloc[:600].copy()
    features = [c for c in frame.columns if c not in ("sex", "class")]
    frame.loc[[3, 10], "length"] = np.nan
    frame.loc[20, features] = np.nan  # every feature cell empty: cannot be scored
    # a planted anomaly with an empty cell: whole weight far too heavy for its size
    frame.loc[30, features] = frame.loc[31, features]
    frame.loc[30, "whole_weight"] = frame["whole_weight"].max() * 3
    frame.loc[30, "diameter"] = np.nan
    path = tmp_path / "ab.csv"
    frame.to_csv(path, index=False)
    r = cli(path, "--covariance-type", "diag", "-o", tmp_path / "o.csv", "--label-column", "class",
            "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert "skipped column(s) sex (text)" in r.stderr
    assert "3 of 600 rows" in r.stderr and "fitted and scored on their observed features" in r.stderr
    assert "1 of 600 rows" in r.stderr and "not scored" in r.stderr
    assert (s["rows"], s["scored"], s["unscored_rows"], s["rows_with_empty_cells"]) == (600, 599, 1, 3)
    o = pd.read_csv(tmp_path / "o.csv")
    assert o.loc[[3, 10], "outlier_score"].notna().all() and not o.loc[[3, 10], "is_outlier"].any()
    assert np.isnan(o.loc[20, "outlier_score"]) and o["is_outlier"].isna().sum() == 1
    assert o.loc[30, "is_outlier"] and s["flagged_with_empty_cells"] >= 1
    assert "whole_weight" in o.loc[30, "explanation"] and "diameter" not in o.loc[30, "explanation"]
    assert s["top"][0]["row"] == 31  # data row numbers are 1-based


@pytest.mark.parametrize("content, message", [
    ("", "is empty"),
    ("a,b\n", "no data rows"),
    ("a,b\n1,2\n1,2\n1,2\n", "every feature column is constant"),
    ("name,kind\nx,y\nz,w\n", "no numeric columns"),
])
def test_cli_bad_files_one_line_errors(cli, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    r = cli(path)
    assert r.exit_code == 2
    assert message in r.output
    assert "Traceback" not in r.output


def test_cli_bad_columns_and_options(cli, tmp_path):
    r = cli(ABALONE, "--columns", "sex,length")
    assert r.exit_code == 2 and "'sex' are not numeric" in r.output
    r = cli(ABALONE, "--columns", "nope")
    assert r.exit_code == 2 and "no column(s) 'nope'" in r.output
    r = cli(CANCER, "--contamination", "0.1", "--threshold", "-3")
    assert r.exit_code == 2
    r = cli(CANCER, "--model", tmp_path / "missing.gmm")
    assert r.exit_code == 2 and "not found" in r.output


def test_cli_plot(cli, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "o.png"
    r = cli(CANCER, "--covariance-type", "diag", "--components", "1", "--plot", png, "--label-column", "diagnosis")
    assert r.exit_code == 0, r.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "drew" in r.output


def test_constant_features_are_ignored_with_a_warning_and_binary_ones_modelled(rng):
    from gmmkit_apps.outliers.detector import IgnoredFeatureWarning

    X = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400),
                      "flag": rng.integers(0, 2, 400).astype(float), "flat": np.full(400, 3.0)})
    with pytest.warns(IgnoredFeatureWarning, match="flat"):
        det = GMMOutlierDetector(random_state=0).fit(X)
    assert det.used_features_.tolist() == [True, True, True, False]
    assert det.kinds_.tolist() == ["continuous", "continuous", "discrete", "constant"]
    # the ignored feature takes no part in the score; the binary one does
    Y = X.copy()
    Y["flat"] = 5.0
    np.testing.assert_allclose(det.score_samples(Y), det.score_samples(X))
    Y["flag"] = 1.0 - X["flag"]
    assert not np.allclose(det.score_samples(Y), det.score_samples(X))


def test_cli_parquet_and_tsv_inputs_score_like_csv(cli, tmp_path):
    pytest.importorskip("pyarrow")
    frame = pd.read_csv(CANCER)
    frame.to_parquet(tmp_path / "c.parquet")
    frame.to_csv(tmp_path / "c.tsv", sep="\t", index=False)
    args = ["--covariance-type", "diag", "--components", "1", "--quiet", "--chunksize", "100"]
    assert cli(CANCER, *args, "-o", tmp_path / "a.csv").exit_code == 0
    assert cli(tmp_path / "c.parquet", *args, "-o", tmp_path / "b.csv").exit_code == 0
    assert cli(tmp_path / "c.tsv", *args, "-o", tmp_path / "c.tsv.out.tsv").exit_code == 0
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    c = pd.read_csv(tmp_path / "c.tsv.out.tsv", sep="\t")
    np.testing.assert_allclose(a["outlier_score"], b["outlier_score"], rtol=1e-9)
    np.testing.assert_allclose(a["outlier_score"], c["outlier_score"], rtol=1e-9)
