"""Speaker back ends and the CMVN prior: GMM supervectors against a slow textbook twin (MAP
adaptation written out), the SVM against scikit-learn's own linear-kernel SVC, the shrunk CMVN
against its formula, and ``gmmkit speech ubm --cmvn-prior`` end to end on the shipped voices."""
import csv
import json
import os

import numpy as np
import pytest
from sklearn.svm import SVC
from typer.testing import CliRunner

from gmmkit.exceptions import DataError, ParameterError
from gmmkit_apps.speech.features import cmvn
from gmmkit_apps.speech.speaker_cmvn import fit_prior
from gmmkit_apps.speech.speaker_svm import supervectors, svm_scores, train_svms
from gmmkit_apps.speech.ubm import train_ubm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEAKERS = os.path.join(ROOT, "datasets", "speech", "speakers")


@pytest.fixture(scope="module")
def ubm():
    rng = np.random.default_rng(0)
    return train_ubm([rng.normal(size=(300, 3)) + c for c in (-2.0, 0.0, 2.0)], 4, random_state=0)


def _slow_supervector(ubm, X, r):
    """Textbook: MAP-adapt each mean frame by frame, then sqrt(w_k) (m_k - mu_k) / sigma_k."""
    K, D = ubm.means_.shape
    out = []
    resp = ubm.predict_proba(X.astype(np.float32))
    for k in range(K):
        n = sum(resp[t, k] for t in range(len(X)))
        ex = sum(resp[t, k] * X[t] for t in range(len(X))) / max(n, 1e-10)
        a = n / (n + r)
        m = a * ex + (1 - a) * ubm.means_[k]
        out.extend(np.sqrt(ubm.weights_[k]) * (m[d] - ubm.means_[k, d]) / np.sqrt(ubm.covariances_[k, d])
                   for d in range(D))
    return np.array(out)


@pytest.mark.parametrize("r", [4.0, 16.0])
def test_supervector_matches_textbook_map(ubm, r):
    rng = np.random.default_rng(1)
    utts = [rng.normal(size=(n, 3)) + 1.0 for n in (5, 40, 200)]
    got = supervectors(ubm, utts, relevance=r)
    for g, X in zip(got, utts):
        np.testing.assert_allclose(g, _slow_supervector(ubm, X, r), rtol=1e-5, atol=1e-7)


def test_svm_matches_scikit_learn_linear_svc(ubm):
    rng = np.random.default_rng(2)
    centres = {"a": 1.5, "b": -1.5, "c": 0.0}
    utts = [(s, rng.normal(size=(60, 3)) + c + rng.normal(scale=0.5, size=3)) for s, c in centres.items()
            for _ in range(6)]
    sv = supervectors(ubm, [u for _, u in utts])
    labels = [s for s, _ in utts]
    svms = train_svms(sv, labels, sorted(centres), C=0.5)
    test = supervectors(ubm, [rng.normal(size=(60, 3)) + c for c in centres.values()])
    S = svm_scores(svms, test)
    for j, s in enumerate(sorted(centres)):  # the oracle: SVC on the raw vectors, linear kernel
        ref = SVC(C=0.5, kernel="linear", class_weight="balanced", tol=1e-6).fit(sv, np.asarray(labels) == s)
        np.testing.assert_allclose(S[:, j], ref.decision_function(test), rtol=1e-4, atol=1e-5)
    assert [sorted(centres)[i] for i in S.argmax(1)] == list(centres)
    with pytest.raises(DataError, match="both"):
        train_svms(sv, labels, ["zed"])
    with pytest.raises(ParameterError, match="C="):
        train_svms(sv, labels, ["a"], C=0.0)


def _slow_shrunk(F, mu0, var0, tau):
    n = len(F)
    out = np.empty_like(F)
    for d in range(F.shape[1]):
        m = (sum(F[:, d]) + tau * mu0[d]) / (n + tau)
        v = (sum((x - m) ** 2 for x in F[:, d]) + tau * var0[d]) / (n + tau)
        out[:, d] = (F[:, d] - m) / np.sqrt(v)
    return out


def test_cmvn_prior_is_the_map_formula():
    rng = np.random.default_rng(3)
    bg = [rng.normal(4.0, 3.0, size=(n, 2)) for n in (50, 80, 120)]
    X = np.concatenate(bg)
    prior = fit_prior(bg, frames=30)
    np.testing.assert_allclose(prior.mean, X.mean(0))
    np.testing.assert_allclose(prior.var, X.var(0))
    F = rng.normal(6.0, 1.0, size=(25, 2))
    np.testing.assert_allclose(prior.apply(F), _slow_shrunk(F, X.mean(0), X.var(0), 30), rtol=1e-5, atol=1e-5)
    # a tiny prior is plain CMVN; a huge one is the background's global normalisation
    np.testing.assert_allclose(fit_prior(bg, frames=1e-9).apply(F), cmvn(F), atol=1e-5)
    np.testing.assert_allclose(fit_prior(bg, frames=1e12).apply(F), (F - X.mean(0)) / X.std(0), atol=1e-4)
    with pytest.raises(DataError, match="already"):
        fit_prior([cmvn(b) for b in bg], frames=30)


# ------------------------------------------------------------------ end to end through the CLI
def test_cmvn_prior_end_to_end(tmp_path):
    """ubm --cmvn-prior from --no-cmvn .npy features, enrol, evaluate; CMVN'd .npy are refused."""
    from gmmkit.cli import make_app

    app, runner = make_app(), CliRunner()

    def cli(*args, code=0):
        res = runner.invoke(app, ["speech", *map(str, args)])
        assert res.exit_code == code, (res.output, res.exception)
        return res

    voices = ("allison", "carlo", "june")
    with open(os.path.join(SPEAKERS, "index.csv"), newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["speaker"] in voices]
    for v in voices:
        for split in ("enroll", "test"):
            files = [os.path.join(SPEAKERS, r["file"]) for r in rows if r["speaker"] == v and r["split"] == split]
            cli("features", *files, "--no-cmvn", "-o", tmp_path / split / v, "-q")
    cli("ubm", tmp_path / "enroll", "-o", tmp_path / "ubm.gmm", "-k", 8, "--max-iter", 30, "--cmvn-prior", 300,
        "-q")
    cli("enroll", "--ubm", tmp_path / "ubm.gmm", tmp_path / "enroll", "-o", tmp_path / "models", "-q")
    with open(tmp_path / "trials.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["speaker", "file", "target"])
        for v in voices:
            for f in sorted((tmp_path / "test" / v).glob("*.npy")):
                w.writerows([c, f, int(c == v)] for c in voices)
    out = json.loads(cli("evaluate", "-m", tmp_path / "models", tmp_path / "trials.csv", "--json").stdout)
    assert out["identification_accuracy"] >= 0.9 and out["eer"] <= 0.15
    # the audio gives the scores the --no-cmvn .npy give (the prior is applied to both)
    wav = next(os.path.join(SPEAKERS, r["file"]) for r in rows if r["split"] == "test" and r["speaker"] == "june")
    npy = tmp_path / "test" / "june" / (os.path.basename(wav)[:-5] + ".npy")
    a = json.loads(cli("identify", "-m", tmp_path / "models", wav, npy, "--json").stdout)
    assert a[0]["score"] == pytest.approx(a[1]["score"], abs=1e-4) and a[0]["speaker"] == "june"
    # .npy frames already normalised by CMVN would be normalised twice: refused in one line
    cli("features", wav, "-o", tmp_path / "cmvn", "-q")
    res = cli("identify", "-m", tmp_path / "models", next((tmp_path / "cmvn").glob("*.npy")), code=2)
    assert "--no-cmvn" in res.output and len(res.output.strip().splitlines()) == 1
    res = cli("ubm", tmp_path / "cmvn", "-o", tmp_path / "u2.gmm", "-k", 2, "--cmvn-prior", 300, code=2)
    assert "cmvn True, not False" in res.output and "--no-cmvn" in res.output  # the folder's front-end record
    os.remove(tmp_path / "cmvn" / "front_end.json")  # without it, the frames themselves give it away
    res = cli("ubm", tmp_path / "cmvn", "-o", tmp_path / "u2.gmm", "-k", 2, "--cmvn-prior", 300, code=2)
    assert "already" in res.output
    cli("ubm", tmp_path / "enroll", "-o", tmp_path / "u3.gmm", "--cmvn-prior", 300, "--warp", 3, code=2)
