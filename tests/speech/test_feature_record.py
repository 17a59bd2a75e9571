"""Feature files remember their front end: an MFCC .npy scored by an LFCC model (same dimension)
was accepted without a word."""
import json
import os

import numpy as np
import pytest

from gmmkit.exceptions import DataError, ParameterError
from gmmkit_apps.speech.corpus import FRONT_END_FILE, write_features
from gmmkit_apps.speech.features import FrontEnd, extract
from gmmkit_apps.speech.inputs import load_feature_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLIPS = [os.path.join(ROOT, "datasets", "speech", "speakers", "allison", f)
         for f in ("agent-alreadyon.flac", "agent-loginok.flac")]


def test_feature_files_carry_their_front_end(tmp_path):
    mel, linear = FrontEnd(), FrontEnd(filterbank="linear")
    assert mel.dim == linear.dim  # the dimension alone cannot tell them apart
    rows = list(write_features(CLIPS, tmp_path, mel))
    record = json.loads((tmp_path / FRONT_END_FILE).read_text())
    assert record["filterbank"] == "mel" and record["n_mfcc"] == mel.n_mfcc
    F = load_feature_file(rows[0]["output"], mel)
    np.testing.assert_array_equal(F, extract(CLIPS[0], mel))
    with pytest.raises(DataError, match=r"another front end than the model's \(filterbank 'mel', not 'linear'"):
        load_feature_file(rows[0]["output"], linear)
    with pytest.raises(ParameterError, match="holds features of another front end"):
        list(write_features(CLIPS, tmp_path, FrontEnd(vad_db=25.0)))
    # a record written before a field existed reads that field's default
    del record["filterbank"]
    (tmp_path / FRONT_END_FILE).write_text(json.dumps(record))
    assert load_feature_file(rows[0]["output"], mel).shape == F.shape
    # files without a record (made before it existed) are checked by their dimension only
    os.remove(tmp_path / FRONT_END_FILE)
    assert load_feature_file(rows[0]["output"], linear).shape == F.shape


def test_a_front_end_option_from_a_newer_version_is_refused(tmp_path):
    from gmmkit.exceptions import ModelFileError

    newer = dict(FrontEnd().to_dict(), pitch_shift=2.0)
    with pytest.raises(ModelFileError, match=r"m.gmmw: front-end option\(s\) pitch_shift unknown to this gmmkit"):
        FrontEnd.from_dict(newer, source="m.gmmw")
    assert FrontEnd.from_dict({"n_mfcc": 13}).n_mfcc == 13  # an older file: defaults for the rest
    list(write_features(CLIPS[:1], tmp_path, FrontEnd()))
    (tmp_path / FRONT_END_FILE).write_text(json.dumps(newer))
    with pytest.raises(DataError, match="not a readable front-end record.*pitch_shift"):
        load_feature_file(tmp_path / "agent-alreadyon.npy", FrontEnd())
