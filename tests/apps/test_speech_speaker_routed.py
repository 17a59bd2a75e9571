"""Condition routing and duration-aware calibration for speaker recognition: the channel
statistics against a slow frame-by-frame twin and known signals, the detector's decision against
the class densities written out with scipy, its file round trip, the router's choice of branch,
and the calibration against scikit-learn's LogisticRegression."""
import numpy as np
import pytest
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression

from gmmkit.exceptions import DataError, ModelFileError, ParameterError
from gmmkit_apps.speech.augment import add_noise, telephone_band
from gmmkit_apps.speech.calibrate import fit_duration_calibration
from gmmkit_apps.speech.condition import CLASSES, channel_stats, load_detector, save_detector, train_detector

SR = 8000


def _slow_stats(y, sr):
    """Textbook: one frame at a time, band sums by explicit frequency tests."""
    n, hop = 200, 80
    win = [0.5 - 0.5 * np.cos(2 * np.pi * i / (n - 1)) for i in range(n)]
    frames = []
    start = 0
    while start + n <= len(y):
        seg = [y[start + i] * win[i] for i in range(n)]
        frames.append(np.abs(np.fft.rfft(seg)) ** 2)
        start += hop
    freqs = [k * sr / n for k in range(n // 2 + 1)]
    energies = [float(sum(f)) for f in frames]
    order = sorted(range(len(frames)), key=lambda i: energies[i])
    quiet = order[:max(1, len(frames) // 10)]
    loud = order[len(frames) - max(1, len(frames) // 2):]
    snr = 10 * np.log10((np.mean([energies[i] for i in loud]) + 1e-12) /
                        (np.mean([energies[i] for i in quiet]) + 1e-12))
    band = [sum(frames[i][k] for i in loud) for k in range(len(freqs))]
    mid = sum(b for b, f in zip(band, freqs) if 300 <= f <= 3400) + 1e-12
    low = 10 * np.log10(sum(b for b, f in zip(band, freqs) if f < 300) / mid + 1e-12)
    high = 10 * np.log10(sum(b for b, f in zip(band, freqs) if f > 3400) / mid + 1e-12)
    floor = [np.mean([frames[i][k] for i in quiet]) + 1e-12 for k in range(1, len(freqs))]
    flat = np.exp(np.mean(np.log(floor))) / np.mean(floor) if snr < 60 else 0.0  # no floor to judge
    return np.array([min(snr, 80), max(low, -80), max(high, -80), flat])


def _speechlike(rng, seconds=1.5):
    """Bursts of harmonic 'voiced' sound between pauses holding a faint 50 Hz hum."""
    t = np.arange(int(seconds * SR)) / SR
    voiced = sum(rng.uniform(0.2, 1.0) * np.sin(2 * np.pi * 120 * h * t + rng.uniform(0, 6)) for h in range(1, 30))
    return (voiced * (np.sin(2 * np.pi * 1.3 * t) > 0) + 1e-2 * np.sin(2 * np.pi * 50 * t)).astype(np.float32)


def test_channel_stats_match_slow_twin():
    rng = np.random.default_rng(0)
    for y in (_speechlike(rng), add_noise(_speechlike(rng), 10.0, seed=1), telephone_band(_speechlike(rng), SR)):
        np.testing.assert_allclose(channel_stats(y, SR), _slow_stats(np.asarray(y, np.float64), SR), rtol=1e-7,
                                   atol=1e-7)


def test_channel_stats_known_signals():
    rng = np.random.default_rng(1)
    y = _speechlike(rng, 3.0)
    clean, noisy, band = (channel_stats(x, SR) for x in (y, add_noise(y, 10.0, seed=2), telephone_band(y, SR)))
    assert clean[0] > 40 and 8 < noisy[0] < 20  # the noise floor: SNR of the loud half over the quiet tenth
    assert noisy[3] > 0.5 > clean[3]  # the quiet frames of white noise have a flat spectrum
    assert band[1] < clean[1] - 15 and band[2] < clean[2] - 10  # little left below 300 Hz and above 3.4 kHz
    with pytest.raises(DataError, match="at least"):
        channel_stats(y[:100], SR)
    with pytest.raises(ParameterError, match="sample rate"):
        channel_stats(y, 4000)


@pytest.fixture(scope="module")
def stats():
    rng = np.random.default_rng(3)
    clean = rng.normal([40, -3, -28, 0.2], [10, 3, 8, 0.1], size=(60, 4))
    degraded = np.vstack([rng.normal([13, -3, -18, 0.95], [1.5, 3, 2, 0.03], size=(60, 4)),
                          rng.normal([40, -19, -45, 0.1], [10, 4, 8, 0.05], size=(60, 4))])
    return clean, degraded


def _slow_log_ratio(det, X):
    """The class log-densities written out: sum_k w_k prod_d N(x_d; mu_kd, var_kd), equal priors."""
    dens = []
    for m in det.classifier.models_:
        comp = [w * np.prod([norm.pdf(X[:, d], mu[d], np.sqrt(v[d])) for d in range(X.shape[1])], axis=0)
                for w, mu, v in zip(m.weights_, m.means_, m.covariances_)]
        dens.append(np.log(np.sum(comp, axis=0)))
    return dens[1] - dens[0], dens[0]


def test_detector_matches_densities_and_round_trips(stats, tmp_path):
    clean, degraded = stats
    det = train_detector(clean, degraded, outlier_quantile=0.0, trained_on=["noise10", "telephone"])
    X = np.vstack([clean[:10], degraded[::12]])
    ratio, _ = _slow_log_ratio(det, X)
    np.testing.assert_allclose(det.log_ratio(X), ratio, rtol=1e-6, atol=1e-6)
    assert det.detect(X) == [CLASSES[int(r > 0)] for r in ratio]
    assert np.mean(np.array(det.detect(degraded)) == "degraded") > 0.95
    assert np.mean(np.array(det.detect(clean)) == "clean") > 0.9
    save_detector(det, tmp_path / "d.npz")
    back = load_detector(tmp_path / "d.npz")
    np.testing.assert_allclose(back.log_ratio(X), det.log_ratio(X), rtol=1e-12)
    assert back.trained_on == ("noise10", "telephone") and back.sr == SR
    with pytest.raises(FileExistsError):
        save_detector(det, tmp_path / "d.npz")


def test_outlier_floor_sends_unseen_conditions_to_degraded(stats):
    clean, degraded = stats
    from gmmkit import GaussianMixture

    det = train_detector(clean, degraded, outlier_quantile=0.02)
    chosen, held_out = det.classifier.class_models_[0], []  # each clean row scored by a fit without its fold
    for i, x in enumerate(clean):
        rest = np.array([c for j, c in enumerate(clean) if j % 5 != i % 5])
        m = GaussianMixture(n_components=chosen["n_components"], covariance_type="diag", reg_covar=1e-3,
                            random_state=0).fit(rest)
        held_out.append(np.log(sum(w * np.prod(norm.pdf(x, mu, np.sqrt(v)))
                                   for w, mu, v in zip(m.weights_, m.means_, m.covariances_))))
    assert det.clean_floor == pytest.approx(np.quantile(held_out, 0.02), rel=1e-6)
    odd = np.array([[40.0, -3.0, -80.0, 0.2]])  # a band edge at 3 kHz: unseen, and unlike the studio
    assert det.detect(odd) == ["degraded"]
    assert train_detector(clean, degraded, outlier_quantile=0.0).clean_floor == -np.inf
    with pytest.raises(ParameterError, match="outlier quantile"):
        train_detector(clean, degraded, outlier_quantile=0.7)


def test_load_detector_refuses_other_files(tmp_path, stats):
    from gmmkit.io import save_arrays

    save_arrays(tmp_path / "x.npz", {"a": np.zeros(2)}, {"kind": "something-else"})
    with pytest.raises(ModelFileError, match="not a condition detector"):
        load_detector(tmp_path / "x.npz")


@pytest.mark.parametrize("l2", [1e-3, 0.1])
def test_calibration_matches_scikit_learn(l2):
    rng = np.random.default_rng(4)
    secs = rng.uniform(0.2, 6.0, 800)
    y = rng.random(800) < 0.15
    s = np.where(y, 2.0, -1.0) + rng.normal(size=800) * (0.3 + 1 / np.sqrt(secs))
    cal = fit_duration_calibration(s, secs, y, l2=l2)
    d = np.log(secs)
    w = np.where(y, 0.5 / y.sum(), 0.5 / (~y).sum())
    ref = LogisticRegression(C=1 / l2, tol=1e-12, max_iter=100_000).fit(np.column_stack([s, d, s * d]), y,
                                                                      sample_weight=w)
    np.testing.assert_allclose(cal.coef, np.r_[ref.intercept_, ref.coef_.ravel()], rtol=1e-5, atol=1e-7)
    got = cal.apply(s.reshape(40, 20), secs.reshape(40, 20))
    np.testing.assert_allclose(got.ravel(), ref.decision_function(np.column_stack([s, d, s * d])), rtol=1e-5,
                               atol=1e-6)


def test_calibration_refuses_bad_input():
    with pytest.raises(DataError, match="both target and impostor"):
        fit_duration_calibration([1.0, 2.0], [1.0, 2.0], [True, True])
    with pytest.raises(DataError, match="positive"):
        fit_duration_calibration([1.0, 2.0], [0.0, 2.0], [True, False])
    with pytest.raises(DataError, match="2 scores but 3"):
        fit_duration_calibration([1.0, 2.0], [1.0, 2.0], [True, False, True])
    with pytest.raises(DataError, match="do not determine"):  # separable and unpenalised: no optimum
        fit_duration_calibration([1.0, 2.0, -1.0, -2.0], [1.0, 2.0, 1.5, 3.0], [True, True, False, False], l2=0.0)


# ------------------------------------------------------------------ end to end: two model sets and a detector
@pytest.fixture(scope="module")
def routed(tmp_path_factory):
    """Shipped voices: a clean and a multi-condition models folder of the same two speakers, a
    detector trained on their enrolment audio, and test files clean and degraded (white noise 10 dB,
    telephone band) written as audio."""
    import csv
    import os

    import soundfile as sf
    from typer.testing import CliRunner

    from gmmkit.cli import make_app
    from gmmkit_apps.speech.features import load_audio

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    speakers = os.path.join(root, "datasets", "speech", "speakers")
    app, runner = make_app(), CliRunner()

    def cli(*args, ok=True):
        res = runner.invoke(app, ["speech", *map(str, args)])
        if ok:
            assert res.exit_code == 0, (res.output, res.exception)
        return res

    tmp = tmp_path_factory.mktemp("routed")
    with open(os.path.join(speakers, "index.csv"), newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["speaker"] in ("carlo", "june")]
    enrol = [os.path.join(speakers, r["file"]) for r in rows if r["split"] == "enroll"][::2]
    enrol_rows = [r for r in rows if r["split"] == "enroll"]
    for name, sel in (("enrol.csv", enrol_rows), ("cohort.csv", enrol_rows[::4])):
        with open(tmp / name, "w") as fh:
            fh.write("speaker,file\n" + "".join(f"{r['speaker']},{os.path.join(speakers, r['file'])}\n" for r in sel))
    for name, extra in (("clean", ()), ("mc", ("--multi-condition", "noise10,telephone"))):
        cli("ubm", *enrol, "-o", tmp / f"{name}.gmm", "-k", 8, "--max-iter", 10, *extra, "-q")
        cli("enroll", "--ubm", tmp / f"{name}.gmm", tmp / "enrol.csv", "-o", tmp / name, *extra, "-q")
    cli("condition-detector", *enrol, "--degrade", "noise10,noise20,telephone", "-o", tmp / "det.npz", "-q")
    tests = [r for r in rows if r["split"] == "test"][:6]
    files, truth = [], []
    for i, r in enumerate(tests):
        y = load_audio(os.path.join(speakers, r["file"]), 8000)
        for cond, yc in (("clean", y), ("noise10", add_noise(y, 10.0, seed=i)), ("telephone", telephone_band(y, SR))):
            files.append(tmp / f"{cond}-{i}.wav")
            sf.write(files[-1], yc, SR)
            truth.append((r["speaker"], cond))
    return tmp, cli, files, truth


def test_router_picks_the_branch_the_detector_names(routed):
    from gmmkit_apps.speech.condition_route import load_router, routes
    from gmmkit_apps.speech.corpus import load_model_set
    from gmmkit_apps.speech.trials import score_files

    tmp, _, files, truth = routed
    clean = load_model_set(tmp / "clean")
    router = load_router(clean, tmp / "mc", tmp / "det.npz")
    deg = routes(router.detector, files)
    bad = np.array([c != "clean" for _, c in truth])
    assert deg[bad].all() and (deg == bad).mean() >= 0.9  # every degraded file caught, at most 1 clean one sent there
    got = score_files(clean, files, router=router)
    want = np.where(deg[:, None], score_files(router.degraded, files), score_files(clean, files))
    np.testing.assert_allclose(got, want, rtol=1e-12)
    with pytest.raises(DataError, match="needs audio"):
        routes(router.detector, [tmp / "x.npy"])


def test_routed_cli_evaluate_and_refusals(routed, tmp_path):
    tmp, cli, files, truth = routed
    with open(tmp_path / "trials.csv", "w") as fh:
        fh.write("speaker,file,target\n" + "".join(f"{s},{f},{int(s == t)}\n" for f, (t, _) in zip(files, truth)
                                                  for s in ("carlo", "june")))
    import json

    out = json.loads(cli("evaluate", "-m", tmp / "clean", tmp_path / "trials.csv", "--degraded-models", tmp / "mc",
                         "--detector", tmp / "det.npz", "--cohort", tmp / "cohort.csv", "--json").stdout)
    assert 12 <= out["degraded_files"] <= 13 and out["trials"] == 36 and "snorm" in out["normalised"]
    ident = json.loads(cli("identify", "-m", tmp / "clean", *files, "--degraded-models", tmp / "mc",
                           "--detector", tmp / "det.npz", "--json").stdout)
    assert np.mean([o["speaker"] == t for o, (t, _) in zip(ident, truth)]) >= 0.8
    v = json.loads(cli("verify", "-m", tmp / "clean", "-s", truth[1][0], files[1], "--degraded-models", tmp / "mc",
                       "--detector", tmp / "det.npz", "--threshold", -100, "--json").stdout)
    assert v["decision"] == "accept"
    other = tmp_path / "other"
    cli("enroll", "--ubm", tmp / "mc.gmm", "-s", "carlo", files[0], "-o", other, "-q")
    for args, says in [
        (("identify", "-m", tmp / "clean", files[0], "--detector", tmp / "det.npz"), "go together"),
        (("identify", "-m", tmp / "clean", files[0], "--degraded-models", other, "--detector", tmp / "det.npz"),
         "different speakers"),
        (("identify", "-m", tmp / "clean", files[0], "--degraded-models", tmp / "mc", "--detector",
          tmp / "clean.gmm"), "not a condition detector"),
        (("verify", "-m", tmp / "clean", "-s", "carlo", files[0], "--degraded-models", tmp / "mc", "--detector",
          tmp / "det.npz"), "own --threshold"),
        (("condition-detector", files[0], "-o", tmp / "det.npz"), "exists"),
        (("condition-detector", files[0], "-o", tmp_path / "d.npz", "--degrade", "clean"), "not 'clean'"),
        (("condition-detector", files[0], "-o", tmp_path / "d.npz", "--degrade", "pink5"), "unknown condition"),
    ]:
        res = cli(*args, ok=False)
        lines = res.output.strip().splitlines()
        assert res.exit_code == 2 and len(lines) == 1 and says in lines[0], (args, res.output)
