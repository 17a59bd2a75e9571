"""Speech app, isolated-word recogniser: ``WordRecognizer`` and ``gmmkit speech words``.

Real data: datasets/speech/digits (a subset of the Free Spoken Digit Dataset: 3 takes of each
digit by each of 4 speakers, CC BY-SA 4.0).
"""
import json
import os
import shutil

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from gmmkit import GMMHMM
from gmmkit.exceptions import DataError, ModelFileError, ParameterError
from gmmkit_apps.speech.features import FrontEnd, extract, mfcc_frames, perturb_speed
from gmmkit_apps.speech.loop import WordLoop
from gmmkit_apps.speech.words import WordRecognizer, labelled_files, parse_pattern
from gmmkit_apps.speech.words_eval import cross_validate_speakers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIGITS = os.path.join(ROOT, "datasets", "speech", "digits")
SR = 8000


_RUNNER = CliRunner()


def _words(*args, ok=True):
    """``gmmkit speech words ARGS`` in-process; exit 0 asserted unless ``ok=False``."""
    from gmmkit.cli import make_app

    res = _RUNNER.invoke(make_app(), ["speech", "words", *map(str, args)])
    assert not ok or res.exit_code == 0, (res.output, res.exception)
    return res


@pytest.fixture(scope="module")
def cli():
    return _words


def _say(rng, word, n=10):
    """A synthetic "word": a sequence of 3 sounds (2-D means), n frames each."""
    sounds = {"a": [(-4, 0), (0, 4), (4, 0)], "b": [(4, 0), (0, 4), (-4, 0)], "c": [(0, -4), (0, 4), (0, -4)]}
    k = n + int(rng.integers(-3, 4))
    return np.vstack([rng.normal(m, 1.0, (k, 2)) for m in sounds[word]])


def _viterbi(hmm, X):
    """Independent log-space Viterbi for diagonal-covariance GMM-HMMs (NumPy only)."""
    X = np.asarray(X, dtype=np.float64)
    var = hmm.covariances_  # (S, M, D)
    diff = X[:, None, None, :] - hmm.means_[None]
    logn = -0.5 * (np.sum(diff ** 2 / var, axis=3) + np.sum(np.log(2 * np.pi * var), axis=2))
    with np.errstate(divide="ignore"):
        logb = np.logaddexp.reduce(logn + np.log(hmm.weights_)[None], axis=2)  # (T, S)
        logA, logpi = np.log(hmm.transmat_), np.log(hmm.startprob_)
    delta = logpi + logb[0]
    for t in range(1, len(X)):
        delta = np.max(delta[:, None] + logA, axis=0) + logb[t]
    return delta[-1]  # left-to-right: the path ends in the last state


# ------------------------------------------------------------------ maths
def test_separated_synthetic_words_and_viterbi_scores():
    rng = np.random.default_rng(0)
    words = ["a", "b", "c"] * 8
    rec = WordRecognizer(n_mix=1, frames_per_state=10).fit([_say(rng, w) for w in words], words)
    assert [m.n_components for m in rec.models_] == [3, 3, 3]
    test_words = ["c", "a", "b"] * 4
    X = [_say(rng, w) for w in test_words]
    assert rec.predict(X).tolist() == test_words
    S = rec.score(X)
    for i in (0, 1):
        for j, m in enumerate(rec.models_):
            assert S[i, j] == pytest.approx(m.decode(X[i])[0], rel=1e-10)  # the engine's Viterbi
            assert S[i, j] == pytest.approx(_viterbi(m, X[i]), rel=1e-9)   # and an independent one
    P = rec.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert np.all(P.argmax(axis=1) == S.argmax(axis=1))
    # other versions of the utterances: the best per-frame score, times the frames
    np.testing.assert_allclose(rec.score(X, versions=[X]), S)
    shifted = [x + 3.0 for x in X]
    best = np.maximum(S / np.array([len(x) for x in X])[:, None],
                      rec.score(shifted) / np.array([len(x) for x in X])[:, None])
    np.testing.assert_allclose(rec.score(shifted, versions=[X]), best * np.array([len(x) for x in X])[:, None])
    # the learnt chain is left to right
    A = rec.models_[0].transmat_
    np.testing.assert_array_equal(np.tril(A, -1), 0.0)


def test_rejection_threshold_and_too_short():
    rng = np.random.default_rng(1)
    words = ["a", "b"] * 6
    rec = WordRecognizer(n_mix=1, frames_per_state=10).fit([_say(rng, w) for w in words], words)
    rows = rec.recognize([_say(rng, "a"), rng.normal(20.0, 1.0, (30, 2))])  # a word, then garbage
    good, garbage = rows[0]["loglik_per_frame"], rows[1]["loglik_per_frame"]
    assert good > garbage + 50
    thr = (good + garbage) / 2
    assert rec.predict([_say(rng, "a"), rng.normal(20.0, 1.0, (30, 2))], threshold=thr).tolist() == ["a", "<none>"]
    rec.threshold = thr
    assert rec.predict([rng.normal(20.0, 1.0, (30, 2))]).tolist() == ["<none>"]
    with pytest.raises(DataError, match="at least 3"):
        rec.score([rng.normal(size=(2, 2))])
    with pytest.raises(ParameterError):
        WordRecognizer(n_states=0).fit([_say(rng, w) for w in words], words)


def test_leave_one_speaker_out_with_augmented_copies():
    rng = np.random.default_rng(2)
    words = ["a", "b", "c"] * 6
    speakers = ["s1"] * 6 + ["s2"] * 6 + ["s3"] * 6
    X = [_say(rng, w) for w in words]
    copies = [x + 0.1 for x in X]
    rows, cm = cross_validate_speakers(X, words, speakers, augment=[copies], n_mix=1, frames_per_state=10)
    assert [r["speaker"] for r in rows] == ["s1", "s2", "s3"]
    assert all(r["accuracy"] == 1.0 for r in rows) and int(cm.values.trace()) == 18
    with pytest.raises(DataError, match="speakers"):
        cross_validate_speakers(X, words, ["s1"] * 18)
    with pytest.raises(DataError, match="augment"):
        cross_validate_speakers(X, words, speakers, augment=[copies[:3]])


def test_word_model_groups_are_a_product_of_experts(tmp_path):
    """``fit(groups=...)``: one model set per group, each equal to a recogniser trained on that
    group alone; a word's score is the mean of the sets' Viterbi log-likelihoods; the model
    file keeps the groups."""
    rng = np.random.default_rng(4)
    wa, wb = ["a", "b", "c"] * 3, ["a", "b", "c", "c"]
    A, B = [_say(rng, w) - 0.5 for w in wa], [_say(rng, w, 14) + 0.5 for w in wb]
    test = [_say(rng, w) for w in ["a", "b", "c"]]
    opts = dict(n_mix=2, frames_per_state=10)
    rec = WordRecognizer(**opts).fit(A + B, wa + wb, groups=["x"] * 9 + ["y"] * 4)
    ra, rb = WordRecognizer(**opts).fit(A, wa), WordRecognizer(**opts).fit(B, wb)
    assert rec.groups_.tolist() == ["x", "y"] and rec.n_train_.tolist() == [4, 4, 5]
    assert np.allclose(rec.score(test), (ra.score(test) + rb.score(test)) / 2)
    rec.save(tmp_path / "g.gmmw")
    back, _ = WordRecognizer.load(tmp_path / "g.gmmw")
    assert back.groups_.tolist() == ["x", "y"] and np.allclose(back.score(test), rec.score(test))
    with pytest.raises(DataError, match="group 'y' has no utterance of word"):
        WordRecognizer(**opts).fit(A + B[:2], wa + wb[:2], groups=["x"] * 9 + ["y"] * 2)
    with pytest.raises(ParameterError, match="groups"):
        WordLoop(rec)


def test_leave_one_speaker_out_with_extra_training_voices():
    """``extra`` utterances join every fold's training and are never tested: each fold equals a
    recogniser trained by hand on the other speakers plus the extra ones (pooled, or as a
    model set of their own)."""
    rng = np.random.default_rng(3)
    words = np.array(["a", "b", "c"] * 4)
    speakers = np.array(["s1"] * 6 + ["s2"] * 6)
    X = [_say(rng, w) + (0.8 if s == "s2" else -0.8) for w, s in zip(words, speakers)]
    extra_words = ["a", "b", "c", "c"]
    extra = [_say(rng, w) for w in extra_words]
    for how in ("pooled", "group"):
        rows, cm = cross_validate_speakers(X, words, speakers, extra=(extra, extra_words), extra_as=how,
                                           n_mix=1, frames_per_state=10)
        assert int(cm.values.sum()) == 12  # the extra voices are not tested
        for r in rows:
            tr = np.flatnonzero(speakers != r["speaker"])
            groups = None if how == "pooled" else ["own"] * len(tr) + ["more"] * len(extra)
            rec = WordRecognizer(n_mix=1, frames_per_state=10).fit([X[i] for i in tr] + extra,
                                                                   list(words[tr]) + extra_words, groups=groups)
            assert list(rec.predict([X[i] for i in r["index"]])) == list(r["predicted"])
            assert rec.n_train_.sum() == len(tr) + len(extra)
    with pytest.raises(DataError, match="extra"):
        cross_validate_speakers(X, words, speakers, extra=(extra, extra_words[:2]))


def test_synthetic_digit_voices(tmp_path):
    """datasets/speech/make_synthetic_digits.py: distinct speaker names the FSDD pattern parses;
    with flite and sox installed, one voice's ten digits as 8 kHz audio the front end accepts."""
    import sys

    sys.path.insert(0, os.path.join(ROOT, "datasets", "speech"))
    from make_synthetic_digits import make, plan

    rows = plan(40)
    names = [r["speaker"] for r in rows]
    assert len(set(names)) == 40 and not any("_" in n for n in names)
    assert [r["engine"] for r in rows] == ["flite"] * 30 + ["espeak-ng"] * 10 and plan(40) == rows
    if not (shutil.which("flite") and shutil.which("sox") and shutil.which("espeak-ng")):
        pytest.skip("flite, espeak-ng or sox not installed")
    assert make(tmp_path, 1, progress=False) == 10
    files, words, speakers = labelled_files(tmp_path)
    assert words == list("0123456789") and set(speakers) == {names[0]}
    assert all(sf.info(f).samplerate == SR for f in files)
    assert min(len(extract(f, FrontEnd(n_mfcc=13))) for f in files) >= 20


def test_speed_perturbation():
    y = np.sin(np.arange(8000) / 5.0).astype(np.float32)
    assert len(perturb_speed(y, 8000, 1.25)) == 6400 and len(perturb_speed(y, 8000, 0.8)) == 10000
    assert perturb_speed(y, 8000, 1.0) is y
    with pytest.raises(ParameterError):
        perturb_speed(y, 8000, 3.0)
    f = os.path.join(DIGITS, "4_nicolas_0.flac")
    assert len(extract(f, FrontEnd(n_mfcc=13), speed=0.9)) > len(extract(f, FrontEnd(n_mfcc=13)))


def test_pattern_and_labelled_sources(tmp_path):
    assert parse_pattern("{word}-{n}").match("yes-3").group("word") == "yes"
    with pytest.raises(ParameterError):
        parse_pattern("{speaker}_{n}")
    files, words, speakers = labelled_files(DIGITS)
    assert len(files) == 120 and sorted(set(words)) == list("0123456789")
    assert sorted(set(speakers)) == ["george", "jackson", "lucas", "nicolas"]
    table = tmp_path / "t.csv"
    table.write_text("file,word\n" + "\n".join(f"{f},{w}" for f, w in zip(files[:4], words[:4])) + "\n")
    assert labelled_files(table)[1] == words[:4]
    (tmp_path / "yes").mkdir()
    shutil.copy(files[0], tmp_path / "yes" / "x.flac")
    assert labelled_files(tmp_path)[1] == ["yes"]


# ------------------------------------------------------------------ front end
def test_short_utterances_accepted_silence_refused(tmp_path):
    fe = FrontEnd(n_mfcc=13)
    lengths = [len(extract(os.path.join(DIGITS, f), fe)) for f in sorted(os.listdir(DIGITS))]
    assert min(lengths) < 30  # these were refused before (minimum 30 frames)
    # 0.15 s of a real digit (the loudest part) is accepted
    y, sr = sf.read(os.path.join(DIGITS, "8_george_0.flac"), dtype="float32")
    k = int(np.argmax(np.convolve(y ** 2, np.ones(1200), "valid")))
    F = mfcc_frames(y[k:k + 1200], front_end=fe)
    assert 10 <= len(F) <= 20
    # 20 ms of sound is not enough; the minimum is configurable
    blip = np.zeros(SR, dtype=np.float32)
    blip[4000:4160] = 0.3 * np.sin(np.arange(160) / 3.0)
    with pytest.raises(DataError, match="too little speech"):
        mfcc_frames(blip, front_end=fe)
    assert len(mfcc_frames(blip, front_end=FrontEnd(min_speech_frames=3))) >= 3
    with pytest.raises(ParameterError):
        FrontEnd(min_speech_frames=1)


# ------------------------------------------------------------------ CLI, real digits
@pytest.fixture(scope="module")
def digits_model(tmp_path_factory, cli):
    tmp = tmp_path_factory.mktemp("words")
    model = tmp / "digits.gmmw"
    res = cli("train", DIGITS, "-o", model, "--mix", "2", "--json")
    out = json.loads(res.stdout)
    assert out["files"] == 120 and out["words"] == list("0123456789")
    assert all(3 <= s <= 10 for s in out["states"].values())
    return model, tmp


def test_cli_recognize_evaluate(digits_model, cli):
    model, tmp = digits_model
    files = [os.path.join(DIGITS, f"{d}_jackson_1.flac") for d in "0123456789"]
    rows = json.loads(cli("recognize", "-m", model, *files, "--json").stdout)
    assert [r["file"] for r in rows] == files
    assert sum(r["word"] == str(d) for d, r in enumerate(rows)) >= 9  # seen in training
    assert all(set(r["scores"]) == set("0123456789") for r in rows)
    res = cli("evaluate", DIGITS, "-m", model, "--confusion", tmp / "cm.png", "--json")
    ev = json.loads(res.stdout)
    assert ev["n"] == 120 and ev["accuracy"] >= 0.9
    assert np.sum(ev["confusion"]["matrix"]) == 120
    assert (tmp / "cm.png").read_bytes()[:4] == b"\x89PNG"
    sped = json.loads(cli("recognize", "-m", model, files[0], "--test-speeds", "0.9,1.1", "--json").stdout)
    assert sped[0]["loglik_per_frame"] >= rows[0]["loglik_per_frame"] - 1e-9  # the best of 3 versions
    rej = json.loads(cli("recognize", "-m", model, files[0], "--threshold", "0", "--json").stdout)
    assert rej[0]["word"] == "<none>" and rej[0]["rejected"]


def test_cli_connected_digit_strings(digits_model, cli):
    """Shipped strings (datasets/speech/connected: digits of the training takes joined with
    pauses) recognised by the digit loop; the word error rate is low for speakers it was trained on."""
    import pandas as pd

    from gmmkit_apps.speech.loop import word_errors

    model, _ = digits_model
    folder = os.path.join(ROOT, "datasets", "speech", "connected")
    table = pd.read_csv(os.path.join(folder, "strings.csv"), dtype=str)
    paths = [os.path.join(folder, f) for f in table["file"]]
    rows = json.loads(cli("recognize", "-m", model, "--connected", *paths, "--json").stdout)
    errors = sum(sum(word_errors(ref.split(), r["words"])) for ref, r in zip(table["words"], rows))
    n = sum(len(ref.split()) for ref in table["words"])
    assert n >= 24 and errors <= 0.15 * n, (errors, n)
    seg = rows[0]["segments"]
    assert [s["word"] for s in seg] == rows[0]["words"] and seg[0]["first_frame"] == 0
    assert seg[-1]["last_frame"] == rows[0]["frames"] - 1
    text = cli("recognize", "-m", model, "--connected", paths[0]).stdout
    assert text.strip() == f"{paths[0]}\t{' '.join(rows[0]['words'])}"
    bad = cli("recognize", "-m", model, "--connected", paths[0], "--scores", ok=False)
    assert bad.exit_code == 2 and "--connected" in bad.output


def test_cli_vad_threshold_travels_in_the_model(cli, tmp_path):
    files = [os.path.join(DIGITS, f"{d}_{s}_{n}.flac") for d in "01" for s in ("george", "lucas") for n in range(3)]
    cli("train", *files, "-o", tmp_path / "m.gmmw", "--vad-db", "50", "--mix", "1", "--states", "3")
    _, extra = WordRecognizer.load(tmp_path / "m.gmmw")
    fe = FrontEnd.from_dict(extra["speech_front_end"])
    assert fe.vad_db == 50.0
    loud = extract(files[0], fe)
    assert len(loud) >= len(extract(files[0], FrontEnd(n_mfcc=13)))  # a lower floor keeps more frames
    cli("train", *files, "-o", tmp_path / "d.gmmw", "--mix", "1", "--states", "3")
    assert WordRecognizer.load(tmp_path / "d.gmmw")[1]["speech_front_end"]["vad_db"] == 40.0  # the words default


def test_cli_leave_one_speaker_out_with_extra_training_voices(cli, tmp_path):
    """``evaluate --by-speaker --extra-train``: the extra voice joins every fold's training and is
    never tested; the result is the API's (``cross_validate_speakers(extra=...)``)."""
    sub = [f for f in sorted(os.listdir(DIGITS)) if f.split("_")[1] in ("george", "lucas") and f[-6] in "01"]
    data, extra = tmp_path / "real", tmp_path / "voices"
    data.mkdir()
    extra.mkdir()
    for f in sub:
        shutil.copy(os.path.join(DIGITS, f), data / f)
    for d in "0123456789":  # a third "voice": jackson's first takes, played 10% faster
        y, _ = sf.read(os.path.join(DIGITS, f"{d}_jackson_0.flac"), dtype="float32")
        sf.write(extra / f"{d}_fast-jackson_0.wav", perturb_speed(y, SR, 1.1), SR)
    args = ("--mix", "1", "--states", "3", "--noise-copies", "20", "--json")
    out = json.loads(cli("evaluate", data, "--by-speaker", "--extra-train", extra, *args).stdout)
    assert out["n"] == 40 and [r["speaker"] for r in out["speakers"]] == ["george", "lucas"]
    fe = FrontEnd(n_mfcc=13, vad_db=40.0)  # the words commands' default
    files, words, speakers = labelled_files(data)
    efiles, ewords, _ = labelled_files(extra)
    noisy = [extract(f, fe, noise_db=20, seed=k) for k, f in enumerate(efiles)]
    rows, _ = cross_validate_speakers([extract(f, fe) for f in files], words, speakers, n_mix=1, n_states=3,
                                      augment=[[extract(f, fe, noise_db=20, seed=k) for k, f in enumerate(files)]],
                                      extra=([extract(f, fe) for f in efiles] + noisy, ewords * 2))
    assert [r["accuracy"] for r in out["speakers"]] == [r["accuracy"] for r in rows]
    model = json.loads(cli("train", data, "-o", tmp_path / "x.gmmw", "--extra-train", extra, *args).stdout)
    assert model["groups"] == ["data", "extra"] and model["extra_files"] == 20
    rec, _ = WordRecognizer.load(tmp_path / "x.gmmw")
    assert rec.n_train_.tolist() == [(4 + 1) * 2] * 10
    res = cli("evaluate", data, "-m", tmp_path / "x.gmmw", "--extra-train", extra, ok=False)
    assert res.exit_code == 2 and "--by-speaker" in res.output


def test_model_file_round_trip(digits_model, tmp_path):
    model, _ = digits_model
    rec, extra = WordRecognizer.load(model)
    fe = FrontEnd.from_dict(extra["speech_front_end"])
    assert fe.n_mfcc == 13
    X = [extract(os.path.join(DIGITS, f"{d}_lucas_2.flac"), fe) for d in "05"]
    S = rec.score(X)
    rec.save(tmp_path / "again.gmmw", extra=extra)
    rec2, _ = WordRecognizer.load(tmp_path / "again.gmmw")
    np.testing.assert_array_equal(rec2.score(X), S)
    assert isinstance(rec2.models_[0], GMMHMM) and rec2.models_[0].topology == "left-right"
    bad = tmp_path / "bad.gmmw"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelFileError):
        WordRecognizer.load(bad)


def test_cli_one_bad_clip_does_not_cost_the_batch(digits_model, cli, tmp_path):
    model, _ = digits_model
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(SR, dtype=np.float32), SR)
    good = [os.path.join(DIGITS, f"{d}_jackson_1.flac") for d in "37"]
    alone = json.loads(cli("recognize", "-m", model, *good, "--json").stdout)
    res = cli("recognize", "-m", model, good[0], silent, good[1], "--json", ok=False)
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert json.loads(res.stdout) == alone  # the usable clips, scored as without the bad one
    assert f"error: {silent}: audio is silent" in res.stderr and "1 of 3 input(s) failed" in res.stderr
    res = cli("recognize", "-m", model, "--connected", silent, good[0], ok=False)
    assert res.exit_code == 1 and res.stdout.split("\t")[0] == good[0]
    res = cli("recognize", "-m", model, silent, silent, ok=False)
    assert res.exit_code == 2 and "2 of 2 input(s) failed" in res.stderr


def test_cli_errors_are_one_line(digits_model, cli, tmp_path):
    model, _ = digits_model
    empty = tmp_path / "empty"
    empty.mkdir()
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(SR, dtype=np.float32), SR)
    unknown = tmp_path / "x_george_0.flac"
    shutil.copy(os.path.join(DIGITS, "1_george_0.flac"), unknown)
    cases = [(("train", empty, "-o", tmp_path / "m.gmmw"), "no audio"),
             (("recognize", "-m", model, silent), "silent"),
             (("evaluate", unknown, "-m", model), "not in the model"),
             (("recognize", "-m", tmp_path / "missing.gmmw", silent), "missing.gmmw"),
             (("train", DIGITS, "-o", tmp_path / "m.gmmw", "--perturb", "3"), "between 0.5 and 2")]
    for args, words in cases:
        res = cli(*args, ok=False)
        assert res.exit_code == 2, res.output
        assert words in res.output and "Traceback" not in res.output
        assert len(res.output.strip().splitlines()) == 1, res.output
