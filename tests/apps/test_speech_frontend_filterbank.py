"""The front end's filter bank through model files and scoring: a linear (LFCC) UBM and its
speakers score with LFCCs, files written before the option load as mel, and two models folders
(MFCC and LFCC) fuse with a saved fusion (gmmkit_apps.speech.fusion)."""
import csv
import os

import numpy as np
import pytest

from gmmkit.exceptions import DataError, ModelFileError
from gmmkit_apps.speech import metrics
from gmmkit_apps.speech.corpus import features_of, load_model_set, load_ubm, read_trials
from gmmkit_apps.speech.enroll import enroll_speakers
from gmmkit_apps.speech.features import FrontEnd, load_audio
from gmmkit_apps.speech.fusion import (
    evaluate_fused,
    fit_fusion,
    fit_trials_fusion,
    fused_scores,
    load_fusion,
    save_fusion,
)
from gmmkit_apps.speech.lfcc import lfcc_frames
from gmmkit_apps.speech.trials import evaluate_trials, score_files
from gmmkit_apps.speech.ubm import score_frames, stack_speakers, train_ubm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEAKERS = os.path.join(ROOT, "datasets", "speech", "speakers")
VOICES = ("allison", "carlo", "june")


def _files():
    with open(os.path.join(SPEAKERS, "index.csv"), newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["speaker"] in VOICES]
    enrol = {v: [os.path.join(SPEAKERS, r["file"]) for r in rows if r["speaker"] == v and r["split"] == "enroll"][:5]
             for v in VOICES}
    tests = [(r["speaker"], os.path.join(SPEAKERS, r["file"])) for r in rows if r["split"] == "test"]
    return enrol, tests


def _folder(tmp, name, fe, enrol, seed=0, drop_filterbank=False):
    ubm = train_ubm(features_of([f for fs in enrol.values() for f in fs], fe), 4, max_iter=100, random_state=seed)
    d = fe.to_dict()
    if drop_filterbank:  # a file written before FrontEnd had the option
        d.pop("filterbank", None)
    ubm.fit_metadata_ = {"speech_front_end": d}
    path = tmp / f"{name}.gmm"
    ubm.save(path)
    enroll_speakers(tmp / name, path, enrol)
    return load_model_set(tmp / name)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("filterbank")
    enrol, tests = _files()
    mel = _folder(tmp, "mel", FrontEnd(), enrol, drop_filterbank=True)
    lin = _folder(tmp, "lfcc", FrontEnd(filterbank="linear"), enrol, seed=1)
    return tmp, mel, lin, tests


def test_old_files_load_as_mel_and_linear_files_score_with_lfcc(folders):
    _, mel, lin, tests = folders
    assert mel.front_end.filterbank == "mel" and lin.front_end.filterbank == "linear"
    assert load_ubm(os.path.join(lin.folder, "ubm.gmm"))[1] == FrontEnd(filterbank="linear")
    # the folder's scores are those of LFCC frames made by hand (mel frames would score otherwise)
    files = [f for _, f in tests[:4]]
    got = score_files(lin, files)
    stack = stack_speakers(lin.ubm, lin.speakers)
    want = np.stack([score_frames(lin.ubm, stack, lfcc_frames(load_audio(f), front_end=FrontEnd())) for f in files])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert not np.allclose(score_files(mel, files), got)


def test_bad_filterbank_in_a_model_file_is_refused(tmp_path):
    ubm = train_ubm([np.random.default_rng(0).normal(size=(200, 60))], 1, max_iter=100)
    ubm.fit_metadata_ = {"speech_front_end": {**FrontEnd().to_dict(), "filterbank": "bark"}}
    ubm.save(tmp_path / "ubm.gmm")
    with pytest.raises(ModelFileError, match="filterbank='bark'"):
        load_ubm(tmp_path / "ubm.gmm")


def test_two_folders_fuse_with_a_saved_fusion(folders):
    tmp, mel, lin, tests = folders
    lines = ["speaker,file,target"] + [f"{v},{f},{int(v == s)}" for s, f in tests for v in VOICES]
    (tmp / "trials.csv").write_text("\n".join(lines) + "\n")
    trials = read_trials(tmp / "trials.csv")
    fusion = fit_trials_fusion([mel, lin], trials)
    assert fusion.norm == "raw" and len(fusion.systems) == 2
    runs = [evaluate_trials(m, trials) for m in (mel, lin)]  # each folder's trial scores, in the folders' order
    ref = fit_fusion([r.scores for r in runs], trials["target"].to_numpy(bool))
    np.testing.assert_allclose(fusion.weights, ref.weights, rtol=1e-12)
    save_fusion(fusion, tmp / "fusion.npz")
    loaded = load_fusion(tmp / "fusion.npz")
    np.testing.assert_array_equal(loaded.weights, fusion.weights)
    assert loaded.offset == fusion.offset and loaded.systems == fusion.systems
    files = [f for _, f in tests[:5]]
    S, names = fused_scores([mel, lin], files, loaded)
    assert names == list(VOICES)
    want = fusion.offset + fusion.weights[0] * score_files(mel, files) + fusion.weights[1] * score_files(lin, files)
    np.testing.assert_allclose(S, want, rtol=1e-12)
    # a speaker subset in another order keeps each column with its speaker
    S2, names2 = fused_scores([mel, lin], files, loaded, speakers=["june", "allison"])
    np.testing.assert_allclose(S2, S[:, [2, 0]], rtol=1e-12)
    # the fused trial evaluation scores each trial as the fused matrix does (the last file's trials left out)
    summary, scores = evaluate_fused([mel, lin], trials, loaded)
    last = trials["path"] != tests[-1][1]
    sub = trials[last]
    summary2, _ = evaluate_fused([mel, lin], sub, loaded)
    M, _ = fused_scores([mel, lin], list(dict.fromkeys(trials["path"])), loaded)
    np.testing.assert_allclose(scores, M.ravel(), rtol=1e-12)  # trials written file by file, VOICES order
    assert summary["eer"] == metrics.eer(M.ravel(), trials["target"].to_numpy(bool))[0]
    assert summary["identification_accuracy"] == np.mean(np.asarray(VOICES)[M.argmax(1)] == [s for s, _ in tests])
    assert summary2["trials"] == int(last.sum()) and summary2["identification_files"] == len(tests) - 1
    with pytest.raises(DataError, match="not the models folder"):
        fused_scores([lin, mel], files, loaded)
    with pytest.raises(DataError, match="fitted on raw"):
        fused_scores([mel, lin], files, loaded, cohorts=[object(), object()])
    with pytest.raises(DataError, match="no model for"):
        fused_scores([mel, lin], files, loaded, speakers=["nobody"])


def test_fusion_files_are_checked(tmp_path):
    from gmmkit.exceptions import OutputExistsError
    from gmmkit.io import save_arrays
    from gmmkit_apps.speech.fusion import FUSION_KIND, LinearFusion

    save_fusion(LinearFusion(0.5, np.array([1.0, 2.0])), tmp_path / "f.npz")
    assert load_fusion(tmp_path / "f.npz").norm is None
    with pytest.raises(OutputExistsError):
        save_fusion(LinearFusion(0.5, np.array([1.0, 2.0])), tmp_path / "f.npz")
    save_arrays(tmp_path / "bad.npz", {"weights": np.array([1.0, np.nan])}, {"kind": FUSION_KIND, "offset": 0.0,
                                                                             "systems": []})
    with pytest.raises(ModelFileError, match="invalid"):
        load_fusion(tmp_path / "bad.npz")
    with pytest.raises(ModelFileError):
        load_fusion(os.path.join(SPEAKERS, "index.csv"))
