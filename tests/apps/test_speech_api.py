"""The speech API behind the CLI: models folder rules (gmmkit_apps.speech.models) and trial
evaluation (gmmkit_apps.speech.trials), checked without the command line."""
import csv
import os

import numpy as np
import pandas as pd
import pytest

from gmmkit.exceptions import DataError, ModelFileError, OutputExistsError, ParameterError
from gmmkit_apps.speech import metrics
from gmmkit_apps.speech.corpus import features_of, load_model_set, read_trials
from gmmkit_apps.speech.enroll import enroll
from gmmkit_apps.speech.features import FrontEnd
from gmmkit_apps.speech.models import THRESHOLD_FILE, speaker_path, store_threshold, stored_threshold
from gmmkit_apps.speech.trials import evaluate_trials, identify, score_files, verify
from gmmkit_apps.speech.ubm import train_ubm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEAKERS = os.path.join(ROOT, "datasets", "speech", "speakers")
VOICES = ("allison", "carlo", "june")


def _rows():
    with open(os.path.join(SPEAKERS, "index.csv"), newline="") as fh:
        return [r for r in csv.DictReader(fh) if r["speaker"] in VOICES]


def _ubm_file(path, files, seed=0):
    fe = FrontEnd()
    ubm = train_ubm(features_of(files, fe), 8, max_iter=200, random_state=seed)
    ubm.fit_metadata_ = {"speech_front_end": fe.to_dict()}
    ubm.save(path)
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A models folder with three voices, enrolled through the API."""
    tmp = tmp_path_factory.mktemp("speech_api")
    rows = _rows()
    enrol = {v: [os.path.join(SPEAKERS, r["file"]) for r in rows
                 if r["speaker"] == v and r["split"] == "enroll"][:6] for v in VOICES}
    ubm = _ubm_file(tmp / "ubm.gmm", [f for fs in enrol.values() for f in fs])
    models = tmp / "models"
    for v in VOICES:
        model, path, used = enroll(models, ubm, v, enrol[v])
        assert path == speaker_path(models, v) and os.path.exists(path) and used == enrol[v]
        assert model.name == v and model.n_frames > 0
    tests = [(r["speaker"], os.path.join(SPEAKERS, r["file"])) for r in rows if r["split"] == "test"]
    return tmp, ubm, models, enrol, tests


def test_enroll_keeps_one_ubm_per_folder(folder, tmp_path):
    tmp, ubm, models, enrol, _ = folder
    assert (models / "ubm.gmm").exists()
    with pytest.raises(OutputExistsError, match="--force"):
        enroll(models, ubm, "carlo", enrol["carlo"])
    other = _ubm_file(tmp_path / "other.gmm", enrol["carlo"], seed=1)
    with pytest.raises(ModelFileError, match="different UBM"):
        enroll(models, other, "newcomer", enrol["carlo"][:1])
    with pytest.raises(ParameterError, match="speaker name"):
        enroll(models, ubm, "../escape", enrol["carlo"][:1])
    assert not (models / "newcomer.spk").exists()


def test_enroll_reads_feature_files_as_the_cli_does(folder, tmp_path):
    """``enroll`` takes the .npy files of 'speech features': the same model as from the audio."""
    from gmmkit_apps.speech.corpus import write_features

    _, ubm, models, enrol, _ = folder
    list(write_features(enrol["june"], tmp_path / "feats", FrontEnd()))
    model, _, used = enroll(tmp_path / "m", ubm, "june", [tmp_path / "feats"])
    assert len(used) == len(enrol["june"]) and all(f.endswith(".npy") for f in used)
    ref = load_model_set(models).speaker("june")
    assert model.n_frames == ref.n_frames
    np.testing.assert_allclose(model.means, ref.means, atol=1e-5)


def test_identify_and_verify(folder):
    _, _, models, _, tests = folder
    ms = load_model_set(models)
    files = [f for _, f in tests][:12]
    rows, S = identify(ms, files, top_c=3)
    assert S.shape == (len(files), len(VOICES))
    for r, s in zip(rows, S):
        assert r["speaker"] == ms.names[int(np.argmax(s))] and r["margin"] >= 0
        assert r["score"] == pytest.approx(s.max())
    truth = [spk for spk, _ in tests][:12]
    assert np.mean([r["speaker"] == t for r, t in zip(rows, truth)]) > 0.5  # chance: 1/3
    spk, f = tests[0]
    score = score_files(ms, [f], top_c=3, speakers=[ms.speaker(spk)])[0, 0]
    yes = verify(ms, f, spk, threshold=score - 1e-9, top_c=3)
    no = verify(ms, f, spk, threshold=score + 1e-9, top_c=3)
    assert (yes["decision"], no["decision"]) == ("accept", "reject")
    assert yes["score"] == pytest.approx(score)
    with pytest.raises(ParameterError, match="no model for speaker"):
        verify(ms, f, "nobody", threshold=0.0)


def test_evaluate_trials_matches_the_metrics(folder, tmp_path):
    _, _, models, _, tests = folder
    ms = load_model_set(models)
    trials = pd.DataFrame([{"speaker": claim, "file": os.path.relpath(f, tmp_path),
                            "target": int(claim == spk)}
                           for spk, f in tests[::3] for claim in VOICES])
    path = tmp_path / "trials.csv"
    trials.to_csv(path, index=False)
    df = read_trials(path)
    ev = evaluate_trials(ms, df, top_c=3, p_target=0.05)
    S = score_files(ms, list(df["path"]), top_c=3)
    col = {n: j for j, n in enumerate(ms.names)}
    scores = np.array([S[i, col[s]] for i, s in enumerate(df["speaker"])])
    np.testing.assert_allclose(ev.scores, scores, rtol=1e-10)
    e, thr = metrics.eer(scores, df["target"].to_numpy(bool))
    assert ev.summary["eer"] == e and ev.threshold == thr
    assert ev.summary["min_dcf"] == metrics.min_dcf(scores, df["target"], p_target=0.05)[0]
    assert ev.summary["trials"] == len(df) and ev.summary["targets"] == len(tests[::3])
    assert 0.5 <= ev.summary["identification_accuracy"] <= 1.0
    table = ev.score_table()
    assert list(table.columns) == ["speaker", "file", "target", "score"]
    # unknown speakers and missing audio are one-line data errors naming the trial list
    bad = df.copy()
    bad.loc[0, "speaker"] = "nobody"
    with pytest.raises(DataError, match="nobody"):
        evaluate_trials(ms, bad)
    gone = df.copy()
    gone.loc[0, "path"] = str(tmp_path / "missing.flac")
    with pytest.raises(DataError, match=f"{path}: 1 audio file"):
        evaluate_trials(ms, gone)


def test_threshold_file_round_trip(tmp_path):
    assert stored_threshold(tmp_path) == 0.0
    store_threshold(tmp_path, -0.75, source="t.csv", eer=0.1)
    assert stored_threshold(tmp_path) == -0.75
    (tmp_path / THRESHOLD_FILE).write_text("{not json")
    with pytest.raises(ModelFileError, match="unreadable threshold file"):
        stored_threshold(tmp_path)


def test_classification_scores_leave_unknown_classes_out_of_the_matrix():
    acc, unknown, cm = metrics.classification_scores(["a", "b", "z", "b"], ["a", "a", "b", "b"], ["a", "b"])
    assert acc == 0.5 and unknown == 1
    assert cm.values.tolist() == [[1, 0], [1, 1]]


def test_write_features_one_npy_per_file_and_no_name_clash(tmp_path):
    from gmmkit_apps.speech.corpus import write_features

    rows = _rows()
    files = [os.path.join(SPEAKERS, r["file"]) for r in rows[:2]]
    fe = FrontEnd()
    out = list(write_features(files, tmp_path / "feats", fe))
    assert [r["file"] for r in out] == files
    for r in out:
        F = np.load(r["output"])
        assert F.dtype == np.float32 and F.shape == (r["frames"], r["dim"]) == (r["frames"], fe.dim)
    with pytest.raises(ParameterError, match="both be written"):
        list(write_features([files[0], files[0]], tmp_path / "again", fe))
    assert not (tmp_path / "again").exists()
