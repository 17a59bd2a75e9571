"""The speech app's scoring against slow NumPy/scipy twins: top-C log-likelihood ratios
(UBM densities from gmmkit.kernels, the app's top-C kernel calling gmmkit.kernels.diag_logp),
the classifier's model files rebuilt with GaussianMixture.from_parameters for every
covariance type, and the app's use of public gmmkit names only."""
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from gmmkit.exceptions import ModelFileError
from gmmkit.io import load_arrays, save_arrays
from gmmkit_apps.speech import _kernels
from gmmkit_apps.speech.classifier import GMMClassifier
from gmmkit_apps.speech.ubm import map_adapt, score_frames, train_ubm

APP = Path(_kernels.__file__).resolve().parent


def diag_log_prob(X, weights, means, variances):
    """(T, K) log w_k + log N(x | mu_k, diag var_k), one scipy call per component."""
    return np.column_stack([np.log(w) + multivariate_normal(m, np.diag(v)).logpdf(X)
                            for w, m, v in zip(weights, means, variances)])


def topc_twin(ubm, speakers, X, top_c):
    """Average over frames of log p_s(x) - log p_ubm(x), both over the UBM's top-C components."""
    ubm_lp = diag_log_prob(X, ubm.weights_, ubm.means_, ubm.covariances_)
    top = np.argsort(-ubm_lp, axis=1, kind="stable")[:, :top_c]
    ubm_ll = logsumexp(np.take_along_axis(ubm_lp, top, axis=1), axis=1)
    out = []
    for s in speakers:
        lp = diag_log_prob(X, s.weights, s.means, s.variances)
        out.append(np.mean(logsumexp(np.take_along_axis(lp, top, axis=1), axis=1) - ubm_ll))
    return np.array(out)


@pytest.fixture(scope="module")
def models():
    rng = np.random.default_rng(11)
    bg = [rng.normal(size=(300, 4)) * [1, 2, 0.5, 1] + c for c in (-3.0, 0.0, 3.0)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ubm = train_ubm(bg, n_components=6, max_iter=50, random_state=0)
    spk = [map_adapt(ubm, rng.normal(size=(200, 4)) + loc, name=f"s{i}", adapt=adapt)
           for i, (loc, adapt) in enumerate([(3.0, "m"), (-3.0, "mwv"), (0.5, "mv")])]
    return ubm, spk, rng


@pytest.mark.parametrize("top_c", [1, 3, 6, 50])
def test_score_frames_match_the_top_c_twin(models, top_c):
    ubm, spk, rng = models
    X = rng.normal(size=(120, 4)) * 2 + 1
    np.testing.assert_allclose(score_frames(ubm, spk, X, top_c=top_c), topc_twin(ubm, spk, X, top_c),
                               rtol=1e-9, atol=1e-9)


def test_top_c_kernel_matches_its_twin_for_every_speaker_and_component():
    """The jitted kernel alone, on arbitrary parameters (prec = 1/sigma, logdet = sum log prec
    - D/2 log 2 pi), serial and parallel."""
    rng = np.random.default_rng(12)
    T, C, S, K, D = 40, 3, 4, 7, 5
    X = rng.normal(size=(T, D))
    top = np.ascontiguousarray(np.argsort(rng.random((T, K)), axis=1)[:, :C].astype(np.int64))
    ubm_ll = rng.normal(size=T)
    logw = np.log(rng.dirichlet(np.ones(K), size=S))
    means = rng.normal(size=(S, K, D))
    var = rng.uniform(0.5, 2, size=(S, K, D))
    prec = 1 / np.sqrt(var)
    logdet = np.log(prec).sum(axis=2) - 0.5 * D * np.log(2 * np.pi)
    want = []
    for s in range(S):
        lp = diag_log_prob(X, np.exp(logw[s]), means[s], var[s])
        want.append(np.sum(logsumexp(np.take_along_axis(lp, top, axis=1), axis=1) - ubm_ll))
    for kernel in (_kernels.topc_llr_sums, _kernels.topc_llr_sums_parallel):
        np.testing.assert_allclose(kernel(X, top, ubm_ll, logw, means, prec, logdet), want, rtol=1e-10)


@pytest.mark.parametrize("cov_type", ["full", "tied", "diag", "spherical"])
def test_classifier_file_round_trip_for_every_covariance_type(tmp_path, cov_type):
    rng = np.random.default_rng(13)
    seqs = [rng.normal(loc, 1.0, size=(30, 3)) * [1, 0.5, 2] for loc in [0] * 4 + [3] * 4]
    y = ["a"] * 4 + ["b"] * 4
    clf = GMMClassifier(n_components=2, covariance_type=cov_type, random_state=0).fit(seqs, y)
    clf.save(tmp_path / "c.gmmc")
    back, _ = GMMClassifier.load(tmp_path / "c.gmmc")
    test = [rng.normal(loc, 1.0, size=(10, 3)) for loc in (0, 3)]
    np.testing.assert_allclose(back.decision_function(test), clf.decision_function(test), rtol=1e-6)
    for a, b in zip(back.models_, clf.models_):
        assert a.covariance_type == cov_type
        np.testing.assert_allclose(a.precisions_cholesky_, b.precisions_cholesky_, rtol=1e-6)
        np.testing.assert_allclose(a.precisions_, b.precisions_, rtol=1e-6)


def test_classifier_file_with_a_broken_covariance_is_refused(tmp_path):
    rng = np.random.default_rng(14)
    seqs = [rng.normal(loc, 1.0, size=(30, 2)) for loc in (0, 0, 3, 3)]
    clf = GMMClassifier(n_components=2, random_state=0).fit(seqs, ["a", "a", "b", "b"])
    clf.save(tmp_path / "c.gmmc")
    arrays, meta = load_arrays(tmp_path / "c.gmmc", kind="gmmkit-speech-classifier")
    arrays["c1"] = -arrays["c1"]  # negative variances
    save_arrays(tmp_path / "bad.gmmc", arrays, meta)
    with pytest.raises(ModelFileError, match="incomplete or invalid"):
        GMMClassifier.load(tmp_path / "bad.gmmc")


def test_speech_app_uses_public_gmmkit_names_and_no_density_or_flag_copy():
    for path in sorted(APP.glob("*.py")):
        text = path.read_text()
        assert not re.search(r"\bgmmkit\._", text), f"{path.name} imports a private gmmkit name"
        assert not re.search(r"^_?FASTMATH\s*=", text, re.M), f"{path.name} defines its own fastmath flags"
    assert _kernels.FASTMATH is __import__("gmmkit.kernels", fromlist=["FASTMATH"]).FASTMATH
