"""The generic commands end to end through typer's CliRunner, on the iris table."""
import json

import numpy as np
import pandas as pd
import pytest

import gmmkit
from gmmkit.cli._common import parse_covariance, parse_k
from gmmkit.exceptions import ParameterError
from tests.helpers import run_ok

SPECIES = {"setosa", "versicolor", "virginica"}


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """iris fitted once with K=3, full covariance, seed 0."""
    from typer.testing import CliRunner

    from gmmkit.cli import make_app
    from tests.helpers import IRIS

    path = tmp_path_factory.mktemp("model") / "iris.gmm"
    result = CliRunner().invoke(make_app(entry_points=[]), [
        "fit", str(IRIS), "-k", "3", "-o", str(path), "--seed", "0", "--json"])
    assert result.exit_code == 0, (result.stderr, result.exception)
    return path, json.loads(result.stdout)


def test_fit_json_and_model_file(fitted, iris):
    path, summary = fitted
    assert summary["n_components"] == 3 and summary["covariance_type"] == "full"
    assert summary["columns"] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert summary["n_rows"] == 150 and summary["model"] == str(path)
    est = gmmkit.load(path)
    X = pd.read_csv(iris).iloc[:, :4].to_numpy()
    # the saved model is the one the summary describes, and it separates the species
    assert est.lower_bound_ == pytest.approx(summary["lower_bound"])
    assert est.bic(X) == pytest.approx(summary["bic"])
    labels = est.predict(X)
    species = pd.read_csv(iris)["species"].to_numpy()
    purity = sum(np.bincount(pd.factorize(species[labels == k])[0]).max()
                 for k in np.unique(labels)) / len(labels)
    assert purity > 0.9
    assert est.fit_metadata_["columns"] == summary["columns"]


def test_fit_same_seed_same_model(runner, cli, iris, tmp_path, fitted):
    run_ok(runner, cli, ["fit", iris, "-k", "3", "-o", tmp_path / "b.gmm", "--seed", "0", "-q"])
    a, b = gmmkit.load(fitted[0]), gmmkit.load(tmp_path / "b.gmm")
    np.testing.assert_allclose(a.means_, b.means_)


def test_fit_human_output(runner, cli, iris):
    result = run_ok(runner, cli, ["fit", iris, "-k", "2", "--covariance", "diag", "--seed", "1"])
    assert "2 components, diag covariance" in result.stdout
    assert "model not saved" in result.stdout
    assert result.stderr == ""


def test_existing_output_needs_force(runner, cli, iris, tmp_path):
    out = tmp_path / "m.gmm"
    out.write_bytes(b"precious")
    result = runner.invoke(cli, ["fit", iris, "-k", "2", "-o", str(out), "--seed", "0"])
    assert result.exit_code == 2
    assert result.stderr == f"error: {out} exists; pass --force to overwrite it\n"
    assert out.read_bytes() == b"precious"
    run_ok(runner, cli, ["fit", iris, "-k", "2", "-o", out, "--seed", "0", "--force", "-q"])
    assert gmmkit.load(out).n_components == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.gmm"]


def test_predict_probabilities_and_log_density(runner, cli, iris, fitted, tmp_path):
    model, _ = fitted
    out = tmp_path / "labels.csv"
    result = run_ok(runner, cli, ["predict", model, iris, "-o", out])
    assert "150 rows labelled" in result.stdout
    table = pd.read_csv(out)
    assert list(table.columns) == ["sepal_length", "sepal_width", "petal_length", "petal_width",
                                   "species", "label", "p_0", "p_1", "p_2"]
    proba = table[["p_0", "p_1", "p_2"]].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_array_equal(table["label"], proba.argmax(axis=1))
    est = gmmkit.load(model)
    X = table.iloc[:, :4].to_numpy()
    np.testing.assert_array_equal(table["label"], est.predict(X))
    # --log-density, written to stdout
    result = run_ok(runner, cli, ["predict", model, iris, "--log-density"])
    from io import StringIO

    dens = pd.read_csv(StringIO(result.stdout))
    assert list(dens.columns)[-2:] == ["label", "log_density"]
    np.testing.assert_allclose(dens["log_density"], est.score_samples(X), rtol=1e-10)


def test_predict_json_counts(runner, cli, iris, fitted):
    result = run_ok(runner, cli, ["predict", fitted[0], iris, "--json"])
    doc = json.loads(result.stdout)
    assert sum(doc["counts"].values()) == 150 == len(doc["labels"])


def test_predict_finds_columns_by_name_in_another_order(runner, cli, fitted, tmp_path, iris):
    frame = pd.read_csv(iris)
    shuffled = frame[["species", "petal_width", "sepal_length", "petal_length", "sepal_width"]]
    shuffled.to_csv(tmp_path / "s.csv", index=False)
    a = json.loads(run_ok(runner, cli, ["predict", fitted[0], iris, "--json"]).stdout)
    b = json.loads(run_ok(runner, cli, ["predict", fitted[0], tmp_path / "s.csv", "--json"]).stdout)
    assert a["labels"] == b["labels"]


def test_predict_wrong_number_of_columns(runner, cli, fitted, tmp_path):
    pd.DataFrame({"u": [1.0, 2.0], "v": [3.0, 4.0]}).to_csv(tmp_path / "two.csv", index=False)
    result = runner.invoke(cli, ["predict", str(fitted[0]), str(tmp_path / "two.csv")])
    assert result.exit_code == 2
    assert "expects 4 columns (sepal_length, sepal_width, petal_length, petal_width)" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_info_human_and_json(runner, cli, fitted):
    model, summary = fitted
    result = run_ok(runner, cli, ["info", model])
    assert "3 components, full covariance, 4 features" in result.stdout
    assert "covariance summary" in result.stdout and "petal_length" in result.stdout
    doc = json.loads(run_ok(runner, cli, ["info", model, "--json"]).stdout)
    assert doc["columns"] == summary["columns"]
    np.testing.assert_allclose(doc["weights"], summary["weights"])
    cov = np.asarray(doc["covariances"])
    np.testing.assert_allclose(doc["stddevs"], np.sqrt(np.diagonal(cov, axis1=1, axis2=2)))
    assert doc["fit"]["n_rows"] == 150 and doc["fit"]["seed"] == 0


def test_sample_reproducible_and_shaped(runner, cli, fitted, tmp_path):
    model, _ = fitted
    out = tmp_path / "s.csv"
    run_ok(runner, cli, ["sample", model, "-n", "500", "-o", out, "--seed", "3", "-q"])
    a = pd.read_csv(out)
    assert a.shape == (500, 5) and list(a.columns)[-1] == "component"
    b = pd.read_csv(__import__("io").StringIO(
        run_ok(runner, cli, ["sample", model, "-n", "500", "--seed", "3"]).stdout))
    pd.testing.assert_frame_equal(a, b)
    est = gmmkit.load(model)
    # each component's sample mean is near its mean (500 draws, loose bound)
    for k in range(3):
        rows = a[a["component"] == k].iloc[:, :4].to_numpy()
        assert np.all(np.abs(rows.mean(axis=0) - est.means_[k]) < 0.3)
    c = json.loads(run_ok(runner, cli, ["sample", model, "-n", "10", "--seed", "4", "--no-labels",
                                        "--json"]).stdout)
    assert np.asarray(c["samples"]).shape == (10, 4) and sum(c["counts"]) == 10


@pytest.mark.skipif(not hasattr(gmmkit, "select"), reason="gmmkit.select not available")
def test_select_json_plot_and_model(runner, cli, iris, tmp_path):
    pytest.importorskip("matplotlib")
    out, plot = tmp_path / "best.gmm", tmp_path / "bic.png"
    result = run_ok(runner, cli, ["select", iris, "-k", "1..4", "--covariance", "full,diag",
                                  "-o", out, "--plot", plot, "--seed", "0", "--json"])
    doc = json.loads(result.stdout)
    assert len(doc["table"]) == 8
    bics = {(r["n_components"], r["covariance_type"]): r["bic"] for r in doc["table"]}
    best = min(bics, key=bics.get)
    assert (doc["best"]["n_components"], doc["best"]["covariance_type"]) == best
    est = gmmkit.load(out)
    assert (est.n_components, est.covariance_type) == best
    assert est.fit_metadata_["selection"]["criterion"] == "bic"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    human = run_ok(runner, cli, ["select", iris, "-k", "1..3", "-c", "spherical", "--seed", "0"])
    assert "BIC on 150 rows" in human.stdout and "best: K=" in human.stdout


@pytest.mark.skipif(not hasattr(gmmkit, "select"), reason="gmmkit.select not available")
def test_fit_k_auto_uses_selection(runner, cli, iris, tmp_path):
    doc = json.loads(run_ok(runner, cli, ["fit", iris, "-k", "2..4", "-c", "diag", "--seed", "0",
                                          "--json"]).stdout)
    assert doc["selection"]["k"] == [2, 3, 4]
    assert doc["n_components"] == doc["selection"]["best"]["n_components"]


@pytest.mark.parametrize("args, message", [
    (["fit", "{iris}", "-k", "0"], "error: -k '0': the number of components must be at least 1"),
    (["fit", "{iris}", "-k", "many"], "error: -k 'many': expected a number"),
    (["fit", "{iris}", "-k", "2", "-c", "round"], "error: --covariance 'round': choose from full"),
    (["fit", "{iris}", "-k", "2", "--columns", "petal"], "error: {iris}: no column 'petal'"),
    (["fit", "{iris}", "-k", "2", "--columns", "species"], "error: {iris}: column 'species' is not numeric"),
    (["fit", "{tmp}/nope.csv", "-k", "2"], "error: file not found: {tmp}/nope.csv"),
    (["fit", "{tmp}/m.gmm", "-k", "2"], "error: {tmp}/m.gmm: unsupported table format '.gmm'"),
    (["fit", "{iris}", "-k", "2", "--n-init", "0"], "error: Invalid value for '--n-init'"),
    (["fit", "{iris}", "-k", "200"], "error: Expected n_samples >= n_components"),
    (["fit", "{iris}"], "error: Missing option '-k'"),
    (["predict", "{tmp}/m.gmm", "{iris}"], "error: {tmp}/m.gmm is not a readable gmmkit model file"),
    (["info", "{tmp}/absent.gmm"], "error: model file not found: {tmp}/absent.gmm"),
    (["sample", "{tmp}/absent.gmm", "-n", "0"], "error: Invalid value for '-n'"),
    (["nosuch"], "error: No such command 'nosuch'"),
    (["fit", "{iris}", "-k", "2", "--merge", "--out-of-core"], "error: --merge needs the data in memory"),
    (["select", "{iris}", "-k", "1..2", "-c", "VII", "--lrt", "--weights", "petal_width"],
     "error: --lrt does not take --weights"),
    (["info", "{model}", "--bootstrap", "{iris}", "--kind", "jk"], "error: kind must be one of bs, wlbs, pb"),
])
def test_user_mistakes_one_line_exit_2(runner, cli, iris, tmp_path, args, message, fitted):
    (tmp_path / "m.gmm").write_bytes(b"not a model")
    args = [a.format(iris=iris, tmp=tmp_path, model=fitted[0]) for a in args]
    result = runner.invoke(cli, args)
    assert result.exit_code == 2, (result.stdout, result.exception)
    assert result.stderr.startswith(message.format(iris=iris, tmp=tmp_path)), result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.output


def test_parse_k_and_covariance():
    assert parse_k("auto") == list(range(1, 11))
    with pytest.raises(ParameterError):
        parse_k("4..2")
    assert parse_k("8,2,2") == [2, 8]
    assert parse_covariance("sklearn") == ("full", "diag", "tied", "spherical")
    assert len(parse_covariance("all")) == 14 and parse_covariance("mclust") == parse_covariance("all")
    assert parse_covariance("Diag, tied") == ("diag", "tied")
    with pytest.raises(ParameterError):
        parse_covariance("all", allow_all=False)


def test_weights_column_is_a_weight_not_a_feature(runner, cli, iris, tmp_path):
    frame = pd.read_csv(iris)
    frame["w"] = (frame["species"] == "setosa").astype(int)
    frame.to_csv(tmp_path / "w.csv", index=False)
    doc = json.loads(run_ok(runner, cli, ["fit", tmp_path / "w.csv", "-k", "1", "--weights", "w",
                                          "--json", "--seed", "0"]).stdout)
    assert doc["columns"] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    setosa = frame[frame["w"] == 1].iloc[:, :4].to_numpy()
    np.testing.assert_allclose(doc["means"][0], setosa.mean(axis=0), rtol=1e-6)
    # weighted BIC: only the 50 setosa rows count
    est = gmmkit.GaussianMixture(1, random_state=0).fit(setosa)
    assert doc["bic"] == pytest.approx(est.bic(setosa), rel=1e-6)
    bad = runner.invoke(cli, ["fit", str(tmp_path / "w.csv"), "-k", "1", "--weights", "species"])
    assert bad.exit_code == 2 and "weight column 'species' must hold finite numbers" in bad.stderr


@pytest.mark.filterwarnings("always::sklearn.exceptions.ConvergenceWarning")  # asserted: printed on one line
def test_warnings_are_one_line(runner, cli, iris):
    result = run_ok(runner, cli, ["fit", iris, "-k", "3", "--max-iter", "1", "--seed", "0", "-q"])
    assert result.stderr.startswith("warning: ConvergenceWarning: Best performing initialization "
                                    "did not converge")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("cov", ["diag", "tied", "spherical"])
def test_info_every_covariance_type(runner, cli, iris, tmp_path, cov):
    model = tmp_path / f"{cov}.gmm"
    run_ok(runner, cli, ["fit", iris, "-k", "2", "-c", cov, "-o", model, "--seed", "0", "-q"])
    assert f"2 components, {cov} covariance" in run_ok(runner, cli, ["info", model]).stdout
    doc = json.loads(run_ok(runner, cli, ["info", model, "--json"]).stdout)
    est = gmmkit.load(model)
    sd = np.asarray(doc["stddevs"])
    assert sd.shape == (2, 4)
    full = {"diag": lambda c: np.stack([np.diag(v) for v in c]),
            "tied": lambda c: np.stack([c, c]),
            "spherical": lambda c: np.stack([np.eye(4) * v for v in c])}[cov](est.covariances_)
    np.testing.assert_allclose(doc["log_det_covariance"], np.linalg.slogdet(full)[1])
    np.testing.assert_allclose(sd, np.sqrt(np.diagonal(full, axis1=1, axis2=2)))


def test_header_option(runner, cli, tmp_path):
    rng = np.random.default_rng(0)
    body = "\n".join(",".join(f"{v:.3f}" for v in row) for row in rng.normal(size=(40, 2)))
    (tmp_path / "y.csv").write_text("1990,1991\n" + body + "\n")
    auto = json.loads(run_ok(runner, cli, ["fit", tmp_path / "y.csv", "-k", "1", "--json"]).stdout)
    forced = json.loads(run_ok(runner, cli, ["fit", tmp_path / "y.csv", "-k", "1", "--header",
                                             "--json"]).stdout)
    assert auto["n_rows"] == 41 and auto["columns"] == ["x0", "x1"]
    assert forced["n_rows"] == 40 and forced["columns"] == ["1990", "1991"]


@pytest.mark.parametrize("command", ["fit", "predict", "select", "info", "sample"])
def test_every_command_help_has_an_example(runner, cli, command):
    result = run_ok(runner, cli, [command, "--help"])
    assert f"Example: gmmkit {command} " in result.stdout


def test_fit_and_predict_with_empty_cells(tmp_path, cli):
    """Empty CSV cells are missing values handled inside EM, in fit and in predict."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (150, 3)), rng.normal(5, 1, (150, 3))])
    X[rng.uniform(size=X.shape) < 0.15] = np.nan
    keep = ~np.isnan(X).all(axis=1)
    X, truth = X[keep], np.r_[np.zeros(150), np.ones(150)][keep]
    data = tmp_path / "holes.csv"
    pd.DataFrame(X, columns=["a", "b", "c"]).to_csv(data, index=False)
    model, out = tmp_path / "m.gmm", tmp_path / "out.csv"
    from typer.testing import CliRunner

    holes = np.isnan(X)
    said = (f"{np.isnan(X).any(axis=1).sum()} of {len(X)} rows have missing values "
            f"(a: {holes[:, 0].sum()}, b: {holes[:, 1].sum()}, c: {holes[:, 2].sum()})")
    for args in (["fit", str(data), "-k", "2", "-o", str(model), "--seed", "0"],
                 ["predict", str(model), str(data), "-o", str(out)]):
        assert said in run_ok(CliRunner(), cli, args).stderr  # never silently
    pred = pd.read_csv(out)
    assert len(pred) == len(X) and pred["label"].notna().all()
    agree = (pred["label"].to_numpy() == truth).mean()
    assert max(agree, 1 - agree) > 0.95


def test_covariance_all_is_mclusts_14_models_in_fit_and_select(runner, cli, iris):
    from gmmkit.covariance import MCLUST_MODELS

    doc = json.loads(run_ok(runner, cli, ["fit", iris, "-k", "2", "-c", "all", "--seed", "0", "--json"]).stdout)
    assert doc["selection"]["covariance_types"] == list(MCLUST_MODELS)
    assert doc["covariance_type"] == doc["selection"]["best"]["covariance_type"] in MCLUST_MODELS
    doc = json.loads(run_ok(runner, cli, ["select", iris, "-k", "2", "-c", "all", "--seed", "0", "--json"]).stdout)
    assert sorted(r["covariance_type"] for r in doc["table"]) == sorted(MCLUST_MODELS)
    doc = json.loads(run_ok(runner, cli, ["fit", iris, "-k", "2", "-c", "sklearn", "--seed", "0", "--json"]).stdout)
    assert doc["selection"]["covariance_types"] == ["full", "diag", "tied", "spherical"]


def test_select_lrt_info_bootstrap_and_fit_merge(runner, cli, iris, fitted):
    """The uncertainty surfaces print the Python API's results (tests/core/test_bootstrap.py,
    test_merge.py compare those with mclust)."""
    from gmmkit.merge import merge_components

    doc = json.loads(run_ok(runner, cli, ["select", iris, "-k", "1..3", "-c", "VII", "--lrt", "--n-boot", "9",
                                          "--seed", "0", "--json"]).stdout)
    lrt = doc["lrt"]
    assert lrt["covariance_type"] == "VII" and lrt["n_boot"] == 9
    assert [t["n_components"] for t in lrt["tests"]][0] == 1
    assert all(0.1 <= t["p_value"] <= 1 for t in lrt["tests"])  # (1 + #{boot >= obs}) / 10
    human = run_ok(runner, cli, ["select", iris, "-k", "1..2", "-c", "VII", "--lrt", "--n-boot", "4", "--seed", "0"])
    assert "bootstrap likelihood-ratio tests, VII" in human.stdout and "LRT picks K=" in human.stdout

    path, _ = fitted
    doc = json.loads(run_ok(runner, cli, ["info", path, "--bootstrap", iris, "--n-boot", "5", "--seed", "0",
                                          "--json"]).stdout)
    se = doc["bootstrap"]["standard_errors"]
    assert np.shape(se["weights"]) == (3,) and np.shape(se["covariances"]) == (3, 4, 4)
    assert doc["bootstrap"]["n_boot"] == 5 and np.all(np.asarray(se["means"]) > 0)
    human = run_ok(runner, cli, ["info", path, "--bootstrap", iris, "--n-boot", "3", "--kind", "wlbs"])
    assert "bootstrap standard errors (wlbs, 3 replicates" in human.stdout

    doc = json.loads(run_ok(runner, cli, ["fit", iris, "-k", "3", "--seed", "0", "--merge", "--json"]).stdout)
    est = gmmkit.load(path)  # the same fit as the fixture's (K=3, seed 0)
    X = pd.read_csv(iris).iloc[:, :4].to_numpy()
    res = merge_components(est, X)
    merged = doc["merge"]
    assert merged["n_clusters"] == res.n_clusters and merged["clusters"] == res.components(res.n_clusters)
    np.testing.assert_allclose([r["entropy"] for r in merged["sequence"]], res.entropy[::-1], rtol=1e-6)
    human = run_ok(runner, cli, ["fit", iris, "-k", "3", "--seed", "0", "--merge"])
    assert "components merged by entropy" in human.stdout and "elbow of the entropy" in human.stdout


def test_select_init_hc_picks_mclusts_model_on_faithful(runner, cli):
    """``--init hc``: one hierarchical tree for every K and model, as Mclust() (its pick: EEE,3)."""
    import json

    from tests.helpers import ROOT

    faithful = str(ROOT / "datasets" / "tables" / "faithful.csv")
    res = runner.invoke(cli, ["select", faithful, "--init", "hc", "-k", "1..4", "-c", "EEE,VVE,VVV", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["best"] == {"n_components": 3, "covariance_type": "EEE"}
    kmeans = runner.invoke(cli, ["select", faithful, "-k", "1..4", "-c", "EEE,VVE,VVV", "--seed", "0", "--json"])
    assert json.loads(kmeans.stdout)["best"] != {"n_components": 3, "covariance_type": "EEE"}  # the start matters


def test_fit_leaves_out_and_names_a_written_index_column(runner, cli, iris, tmp_path):
    frame = pd.read_csv(iris)
    data = tmp_path / "indexed.csv"
    frame.to_csv(data)  # pandas writes its index as an unnamed first column
    result = run_ok(runner, cli, ["fit", str(data), "-k", "3", "--seed", "0", "--json"])
    assert json.loads(result.stdout)["columns"] == list(frame.columns[:4])
    assert "not used as features: Unnamed: 0 (row identifiers)" in result.stderr


def test_components_on_one_value_and_constant_columns_are_warned(runner, cli, tmp_path):
    """Two values repeated: each component collapses onto one of them, its variance is reg_covar and
    the likelihood grows without bound; said, not printed as a good fit."""
    data = tmp_path / "two_values.csv"
    pd.DataFrame({"a": [1.0, 2.0] * 20, "b": 7.0}).to_csv(data, index=False)
    res = run_ok(runner, cli, ["fit", str(data), "-k", "2", "--seed", "0", "-c", "diag"])
    assert "warning: column b is constant" in res.stderr
    assert "component(s) sit on one value: " in res.stderr and "in a (at 1)" in res.stderr
    assert "in a (at 2)" in res.stderr
    res = run_ok(runner, cli, ["fit", str(data), "-k", "1", "--seed", "0", "--columns", "a"])
    assert "warning" not in res.stderr  # one component spread over both values: a real fit
