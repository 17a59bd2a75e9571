"""Speech app: end to end through ``gmmkit speech`` on the shipped voices, plus the pure functions.

Real data: datasets/speech/speakers (7 studio voices, 20 enrolment + 12 held-out prompts each)
and datasets/speech/phonemes (flite voices with phone boundaries; slt is the held-out voice).
"""
import csv
import json
import os

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from gmmkit.exceptions import DataError, ModelFileError, ParameterError
from gmmkit_apps.speech import metrics
from gmmkit_apps.speech.classifier import GMMClassifier
from gmmkit_apps.speech.features import FrontEnd, cmvn, extract, load_audio, mfcc_frames
from gmmkit_apps.speech.ubm import SpeakerModel, load_speaker, map_adapt, save_speaker, score_frames, train_ubm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEAKERS = os.path.join(ROOT, "datasets", "speech", "speakers")
PHONEMES = os.path.join(ROOT, "datasets", "speech", "phonemes")
SR = 8000


@pytest.fixture(scope="module")
def cli():
    from gmmkit.cli import make_app

    app = make_app()
    runner = CliRunner()

    def run(*args, ok=True):
        res = runner.invoke(app, ["speech", *map(str, args)])
        if ok:
            assert res.exit_code == 0, (res.output, res.exception)
        return res

    return run


def _index():
    with open(os.path.join(SPEAKERS, "index.csv"), newline="") as fh:
        return list(csv.DictReader(fh))


def _tone(seconds, freq=220.0, amp=0.3, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(1)
    return (amp * np.sin(2 * np.pi * freq * t) + 0.01 * amp * rng.normal(size=t.size)).astype(np.float32)


# ------------------------------------------------------------------ end to end, speakers
@pytest.fixture(scope="module")
def enrolled(tmp_path_factory, cli):
    """UBM on the enrolment prompts of all voices, then one model per voice (through the CLI)."""
    tmp = tmp_path_factory.mktemp("speech")
    rows = _index()
    enroll = [r for r in rows if r["split"] == "enroll"]
    ubm = tmp / "ubm.gmm"
    cli("ubm", *[os.path.join(SPEAKERS, r["file"]) for r in enroll], "-o", ubm,
        "-k", 32, "--max-iter", 40, "--seed", 0, "--quiet")
    models = tmp / "models"
    for spk in sorted({r["speaker"] for r in rows}):
        files = [os.path.join(SPEAKERS, r["file"]) for r in enroll if r["speaker"] == spk]
        cli("enroll", "--ubm", ubm, "--speaker", spk, *files, "-o", models, "-q")
    return tmp, ubm, models, rows


def test_identify_held_out_utterances(enrolled, cli):
    tmp, _, models, rows = enrolled
    test = [r for r in rows if r["split"] == "test"]
    res = cli("identify", "--models", models, *[os.path.join(SPEAKERS, r["file"]) for r in test],
              "--json", "-o", tmp / "scores.csv")
    out = json.loads(res.stdout)
    assert [o["file"] for o in out] == [os.path.join(SPEAKERS, r["file"]) for r in test]
    accuracy = np.mean([o["speaker"] == r["speaker"] for o, r in zip(out, test)])
    assert len(test) == 84 and accuracy >= 0.97
    assert (tmp / "scores.csv").exists()
    # the scores file exists now: no overwrite without --force
    res = cli("identify", "--models", models, os.path.join(SPEAKERS, test[0]["file"]),
              "-o", tmp / "scores.csv", ok=False)
    assert res.exit_code == 2 and "--force" in res.output


def test_evaluate_trials_eer_and_det(enrolled, cli):
    tmp, _, models, _ = enrolled
    det = tmp / "det.png"
    res = cli("evaluate", "--models", models, os.path.join(SPEAKERS, "trials.csv"), "--det", det,
              "--json", "--save-threshold", "--scores", tmp / "trials_scores.csv")
    out = json.loads(res.stdout)
    assert out["trials"] == 588 and out["targets"] == 84
    assert out["eer"] <= 0.05
    assert out["identification_accuracy"] >= 0.97
    assert 0.0 <= out["min_dcf"] <= 1.0
    assert det.stat().st_size > 5000
    # the trial scores written are those the metrics were computed from
    with open(tmp / "trials_scores.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    s = np.array([float(r["score"]) for r in rows])
    y = np.array([r["target"] == "1" for r in rows])
    assert metrics.eer(s, y)[0] == pytest.approx(out["eer"])
    assert (models / "threshold.json").exists()


def test_verify_accepts_true_and_rejects_impostor(enrolled, cli):
    _, _, models, rows = enrolled
    carlo = next(r for r in rows if r["split"] == "test" and r["speaker"] == "carlo")
    path = os.path.join(SPEAKERS, carlo["file"])
    true = json.loads(cli("verify", "--models", models, "--speaker", "carlo", path, "--json").stdout)
    fake = json.loads(cli("verify", "--models", models, "--speaker", "june", path, "--json").stdout)
    assert true["decision"] == "accept" and fake["decision"] == "reject"
    assert true["score"] > fake["score"]
    res = cli("verify", "--models", models, "--speaker", "nobody", path, ok=False)
    assert res.exit_code == 2 and "nobody" in res.output


def test_enroll_refuses_overwrite_and_foreign_ubm(enrolled, cli, tmp_path):
    _, ubm, models, rows = enrolled
    files = [os.path.join(SPEAKERS, r["file"]) for r in rows if r["speaker"] == "july"][:3]
    res = cli("enroll", "--ubm", ubm, "--speaker", "july", *files, "-o", models, ok=False)
    assert res.exit_code == 2 and "july.spk" in res.output
    # a different UBM cannot be mixed into the same models folder
    other = tmp_path / "other.gmm"
    cli("ubm", *files, "-o", other, "-k", 2, "--max-iter", 500, "-q")
    res = cli("enroll", "--ubm", other, "--speaker", "newcomer", *files, "-o", models, ok=False)
    assert res.exit_code == 2 and "different UBM" in res.output


def test_bad_audio_names_the_file(enrolled, cli, tmp_path):
    _, _, models, _ = enrolled
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage that is not audio" * 3)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(SR * 2, dtype=np.float32), SR)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, dtype=np.float32), SR)
    short = tmp_path / "short.wav"
    y = np.zeros(SR * 2, dtype=np.float32)
    y[SR: SR + 160] = _tone(0.02)  # 20 ms of sound in 2 s of silence
    sf.write(short, y, SR)
    for path, words in [(corrupt, "cannot read"), (silent, "silent"), (empty, "empty"),
                        (short, "too little speech"), (tmp_path / "missing.wav", "no such")]:
        res = cli("identify", "--models", models, path, ok=False)
        assert res.exit_code == 2, res.output
        assert str(path) in res.output and words in res.output
        assert "Traceback" not in res.output


def test_features_command_writes_frames(cli, tmp_path):
    files = [os.path.join(SPEAKERS, "june", "vm-login.flac"), os.path.join(SPEAKERS, "carlo", "vm-login.flac")]
    files = [f for f in files if os.path.exists(f)] or sorted(
        os.path.join(SPEAKERS, "june", f) for f in os.listdir(os.path.join(SPEAKERS, "june")))[:2]
    res = cli("features", *files, "-o", tmp_path / "feats", "--json")
    out = json.loads(res.stdout)
    for f, o in zip(files, out):
        F = np.load(o["output"])
        assert F.shape == (o["frames"], 60) and F.dtype == np.float32
        np.testing.assert_allclose(F, extract(f, FrontEnd()), rtol=1e-6)


# ------------------------------------------------------------------ end to end, phonemes
def test_phoneme_classifier_on_held_out_voice(cli, tmp_path):
    seg = os.path.join(PHONEMES, "segments.csv")
    model = tmp_path / "ph.gmmc"
    cli("phonemes", "train", seg, "--split", "train", "-o", model, "-k", 2, "--min-count", 30, "-q")
    res = cli("phonemes", "classify", seg, "--split", "test", "-m", model, "--json",
              "--confusion", tmp_path / "conf.png")
    out = json.loads(res.stdout)
    cm = np.array(out["confusion"]["matrix"])
    n_classes = len(out["confusion"]["classes"])
    assert cm.shape == (n_classes, n_classes)
    known = out["n"] - out["unknown_classes"]
    assert cm.sum() == known
    assert out["accuracy"] == pytest.approx(np.trace(cm) / out["n"])
    # well above the majority-class rate on the held-out voice
    truth = [p["true"] for p in out["predictions"]]
    majority = max(truth.count(c) for c in set(truth)) / len(truth)
    assert out["accuracy"] > 2 * majority
    assert (tmp_path / "conf.png").stat().st_size > 5000


# ------------------------------------------------------------------ front end
def test_front_end_shapes_cmvn_and_vad():
    fe = FrontEnd()
    y = np.concatenate([np.zeros(SR, np.float32), _tone(1.0), np.zeros(SR, np.float32)])
    full = mfcc_frames(y, front_end=FrontEnd(vad=False, cmvn=False))
    assert full.shape == (301, 60)  # 3 s at a 10 ms hop, centred frames
    kept = mfcc_frames(y, front_end=fe)
    # the detector keeps the tone (1 s = 100 frames), give or take the smoothing, and drops the silence
    assert 90 <= kept.shape[0] <= 115
    np.testing.assert_allclose(kept.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(kept.std(axis=0)[kept.std(axis=0) > 0], 1.0, atol=1e-3)


def test_cmvn_matches_definition():
    X = np.random.default_rng(0).normal(3.0, 2.0, size=(50, 4))
    Z = cmvn(X)
    np.testing.assert_allclose(Z, (X - X.mean(0)) / X.std(0), rtol=1e-5, atol=1e-5)


def test_load_audio_resamples_and_mixes(tmp_path):
    y = _tone(1.0, sr=16000)
    path = tmp_path / "stereo16k.wav"
    sf.write(path, np.stack([y, y], axis=1), 16000)
    z = load_audio(path, sr=SR)
    assert z.dtype == np.float32 and abs(z.size - SR) <= 2
    with pytest.raises(DataError, match="no such"):
        load_audio(tmp_path / "nope.wav")


def test_front_end_rejects_bad_settings():
    with pytest.raises(ParameterError):
        FrontEnd(n_mfcc=50, n_mels=40)
    assert FrontEnd.from_dict(FrontEnd(sr=16000).to_dict()) == FrontEnd(sr=16000)


# ------------------------------------------------------------------ GMM-UBM pieces
def _toy_ubm(rng, K=3, D=2):
    X = np.concatenate([rng.normal(c, 1.0, size=(300, D)) for c in np.linspace(-4, 4, K)])
    return train_ubm([X], K, random_state=0), X


def test_map_adapt_matches_reynolds_formulas():
    rng = np.random.default_rng(0)
    ubm, _ = _toy_ubm(rng)
    X = rng.normal(1.0, 1.0, size=(200, 2))
    r = 16.0
    m = map_adapt(ubm, X, relevance=r, adapt="mwv", name="x")
    # naive reference, one component at a time
    resp = ubm.predict_proba(X.astype(np.float32)).astype(np.float64)
    for k in range(ubm.n_components):
        n = resp[:, k].sum()
        a = n / (n + r)
        ex = (resp[:, k:k + 1] * X).sum(0) / n
        ex2 = (resp[:, k:k + 1] * X * X).sum(0) / n
        mu = a * ex + (1 - a) * ubm.means_[k]
        np.testing.assert_allclose(m.means[k], mu, rtol=1e-6)
        var = a * ex2 + (1 - a) * (ubm.covariances_[k] + ubm.means_[k] ** 2) - mu ** 2
        np.testing.assert_allclose(m.variances[k], np.maximum(var, 1e-3), rtol=1e-6)
    assert m.weights.sum() == pytest.approx(1.0)
    # means only: weights and variances stay the UBM's; huge relevance leaves the UBM untouched
    m2 = map_adapt(ubm, X, relevance=r, name="x")
    np.testing.assert_array_equal(m2.variances, ubm.covariances_)
    np.testing.assert_allclose(map_adapt(ubm, X, relevance=1e12, name="x").means, ubm.means_, atol=1e-8)
    with pytest.raises(ParameterError):
        map_adapt(ubm, X, adapt="q")
    with pytest.raises(ParameterError):
        map_adapt(ubm, X, name="../evil")


def _naive_llr(ubm, spk, X, C):
    from scipy.special import logsumexp
    from scipy.stats import norm

    def comp(w, mu, var):
        return np.log(w) + norm.logpdf(X[:, None, :], mu[None], np.sqrt(var)[None]).sum(axis=2)

    lu = comp(ubm.weights_, ubm.means_, ubm.covariances_)
    ls = comp(spk.weights, spk.means, spk.variances)
    top = np.argsort(-lu, axis=1)[:, :C]
    return np.mean(logsumexp(np.take_along_axis(ls, top, 1), axis=1)
                   - logsumexp(np.take_along_axis(lu, top, 1), axis=1))


@pytest.mark.parametrize("C", [1, 2, 3])
def test_top_c_scoring_matches_naive(C):
    rng = np.random.default_rng(1)
    ubm, _ = _toy_ubm(rng)
    spk = map_adapt(ubm, rng.normal(2.0, 1.0, size=(300, 2)), adapt="mwv", name="a")
    X = rng.normal(0.5, 1.5, size=(100, 2))
    got = score_frames(ubm, [spk, spk], X, top_c=C)
    assert got[0] == pytest.approx(_naive_llr(ubm, spk, X, C), rel=1e-9, abs=1e-9)
    assert got[0] == got[1]


def test_speaker_model_file_round_trip_and_checks(tmp_path):
    rng = np.random.default_rng(2)
    ubm, _ = _toy_ubm(rng)
    spk = map_adapt(ubm, rng.normal(size=(100, 2)), name="bob", adapt="mw")
    save_speaker(spk, tmp_path / "bob.spk")
    back = load_speaker(tmp_path / "bob.spk")
    np.testing.assert_array_equal(back.means, spk.means)
    assert back.name == "bob" and back.ubm_fingerprint == spk.ubm_fingerprint
    bad = SpeakerModel("eve", spk.weights, spk.means, spk.variances, ubm_fingerprint="0" * 16)
    with pytest.raises(ModelFileError, match="different UBM"):
        score_frames(ubm, [bad], rng.normal(size=(10, 2)))
    (tmp_path / "trunc.spk").write_bytes((tmp_path / "bob.spk").read_bytes()[:100])
    with pytest.raises(ModelFileError):
        load_speaker(tmp_path / "trunc.spk")
    ubm.save(tmp_path / "ubm.gmm")
    with pytest.raises(ModelFileError, match="expected"):
        load_speaker(tmp_path / "ubm.gmm")


# ------------------------------------------------------------------ classifier
def test_gmm_classifier_probabilities_priors_and_file(tmp_path):
    rng = np.random.default_rng(3)
    seqs = [rng.normal(loc, 1.0, size=(int(rng.integers(5, 30)), 3)) for loc in [0] * 6 + [3] * 4]
    y = ["a"] * 6 + ["b"] * 4
    clf = GMMClassifier(n_components=2, random_state=0).fit(seqs, y)
    np.testing.assert_allclose(clf.log_prior_, np.log([0.6, 0.4]))
    test = [rng.normal(loc, 1.0, size=(15, 3)) for loc in (0, 3, 0, 3)]
    assert clf.predict(test).tolist() == ["a", "b", "a", "b"]
    P = clf.predict_proba(test)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    # decision = summed frame log-likelihood + log prior, per class
    d = clf.decision_function(test[:1])
    ref = [m.score_samples(test[0].astype(np.float32)).sum() + lp
           for m, lp in zip(clf.models_, clf.log_prior_)]
    np.testing.assert_allclose(d[0], ref, rtol=1e-5)
    clf.save(tmp_path / "c.gmmc")
    back, _ = GMMClassifier.load(tmp_path / "c.gmmc")
    np.testing.assert_allclose(back.decision_function(test), clf.decision_function(test), rtol=1e-6)
    with pytest.raises(DataError):
        GMMClassifier().fit(seqs, y[:-1])
    with pytest.raises(DataError):
        clf.predict([rng.normal(size=(4, 2))])


# ------------------------------------------------------------------ metrics
def _naive_rates(s, y, thr):
    return np.mean(s[y] < thr), np.mean(s[~y] >= thr)


def test_eer_and_min_dcf_match_brute_force():
    rng = np.random.default_rng(4)
    y = rng.random(300) < 0.3
    s = rng.normal(size=300) + 1.5 * y
    miss, fa, thr = metrics.error_rates(s, y)
    for m, f, t in zip(miss, fa, thr):
        assert (m, f) == pytest.approx(_naive_rates(s, y, t))
    assert np.all(np.diff(miss) >= 0) and np.all(np.diff(fa) <= 0)
    e, _ = metrics.eer(s, y)
    cands = sorted(np.concatenate([s, [s.max() + 1]]))
    gaps = [_naive_rates(s, y, t) for t in cands]
    best = min(gaps, key=lambda p: abs(p[0] - p[1]))
    assert min(best) - 1e-9 <= e <= max(best) + 1e-9
    dcf, _ = metrics.min_dcf(s, y, p_target=0.1)
    naive = min(0.1 * m + 0.9 * f for m, f in gaps + [(0.0, 1.0)]) / 0.1
    assert dcf == pytest.approx(naive)
    assert metrics.eer(np.r_[2.0, 3.0, 0.0, 1.0], np.r_[True, True, False, False])[0] == 0.0
    with pytest.raises(DataError):
        metrics.eer([1.0, 2.0], [True, True])


def test_parallel_and_serial_scoring_kernels_agree():
    from gmmkit_apps.speech import _kernels

    rng = np.random.default_rng(5)
    T, C, S, K, D = 300, 3, 4, 8, 5
    X = rng.normal(size=(T, D))
    top = np.ascontiguousarray(np.argsort(rng.random((T, K)), axis=1)[:, :C].astype(np.int64))
    args = (X, top, rng.normal(size=T), np.log(rng.dirichlet(np.ones(K), size=S)),
            rng.normal(size=(S, K, D)), rng.uniform(0.5, 2, size=(S, K, D)), rng.normal(size=(S, K)))
    np.testing.assert_allclose(_kernels.topc_llr_sums_parallel(*args), _kernels.topc_llr_sums(*args),
                               rtol=1e-12)


def test_word_style_training_from_class_folders_and_plain_files(cli, tmp_path):
    """`phonemes train` on a folder with one sub-folder per class; `classify` on plain audio files."""
    rows = _index()
    voices = ["allison", "carlo", "july"]
    for v in voices:
        (tmp_path / "train" / v).mkdir(parents=True)
        for r in [r for r in rows if r["speaker"] == v and r["split"] == "enroll"][:8]:
            os.symlink(os.path.join(SPEAKERS, r["file"]), tmp_path / "train" / v / os.path.basename(r["file"]))
    model = tmp_path / "voices.gmmc"
    cli("phonemes", "train", tmp_path / "train", "-o", model, "-k", 4, "-q")
    test = [r for r in rows if r["speaker"] in voices and r["split"] == "test"][::4]
    out = json.loads(cli("phonemes", "classify", "-m", model, "--json",
                         *[os.path.join(SPEAKERS, r["file"]) for r in test]).stdout)
    assert "accuracy" not in out  # no labels given
    pred = [p["predicted"] for p in out["predictions"]]
    assert np.mean([p == r["speaker"] for p, r in zip(pred, test)]) >= 0.8
    res = cli("phonemes", "train", tmp_path / "train", "-o", model, ok=False)
    assert res.exit_code == 2 and "--force" in res.output


def test_mfcc_and_deltas_equal_librosa():
    """The NumPy front end reproduces librosa's MFCC and delta features (librosa is the reference)."""
    import librosa

    from gmmkit_apps.speech import features as feat

    y = load_audio(os.path.join(SPEAKERS, "menardi", sorted(os.listdir(os.path.join(SPEAKERS, "menardi")))[0]))
    yd = y + np.random.default_rng(0).normal(0.0, 1e-5, size=y.shape).astype(np.float32)  # same dither
    ref = librosa.feature.mfcc(y=yd, sr=SR, n_mfcc=20, n_fft=256, win_length=200, hop_length=80,
                               n_mels=40, fmin=20.0, fmax=SR / 2)
    got = mfcc_frames(y, front_end=FrontEnd(vad=False, cmvn=False)).T
    np.testing.assert_allclose(got[:20], ref, atol=1e-3 * np.abs(ref).max())
    np.testing.assert_allclose(got[20:40], librosa.feature.delta(ref, width=9, order=1), atol=1e-2)
    np.testing.assert_allclose(got[40:], librosa.feature.delta(ref, width=9, order=2), atol=1e-2)
    m = np.random.default_rng(1).normal(size=(3, 7))
    for width in (3, 5, 7):
        for order in (1, 2):
            np.testing.assert_allclose(feat._delta(m, width, order),
                                       librosa.feature.delta(m, width=width, order=order), atol=1e-12)


def test_top_c_must_be_positive():
    rng = np.random.default_rng(6)
    ubm, _ = _toy_ubm(rng)
    spk = map_adapt(ubm, rng.normal(size=(50, 2)), name="a")
    with pytest.raises(ParameterError, match="top_c"):
        score_frames(ubm, [spk], rng.normal(size=(10, 2)), top_c=0)
    # top_c larger than the UBM scores every component
    full = score_frames(ubm, [spk], rng.normal(size=(10, 2)), top_c=99)
    assert np.isfinite(full).all()
