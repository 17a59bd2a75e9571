"""Crafted model files (issue 23): refused with one line before anything is inflated or
allocated, never unpickled, never echoed raw to the terminal."""
import io
import json
import zipfile

import numpy as np
import pytest

import gmmkit
from gmmkit import GaussianMixture
from gmmkit.exceptions import ModelFileError
from gmmkit.io import load_arrays, save_arrays


@pytest.fixture
def model(tmp_path):
    gm = GaussianMixture(2, random_state=0).fit(np.random.default_rng(0).normal(size=(200, 2)))
    gm.save(tmp_path / "m.gmm")
    return load_arrays(tmp_path / "m.gmm")


def _npy_bytes(header_shape, payload):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": header_shape})
    return buf.getvalue() + payload


def test_member_claiming_a_huge_shape_is_refused_before_allocating(tmp_path, model):
    arrays, meta = model
    save_arrays(tmp_path / "ok.gmm", arrays, meta)
    with zipfile.ZipFile(tmp_path / "ok.gmm") as src, zipfile.ZipFile(tmp_path / "huge.gmm", "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "means.npy":
                data = _npy_bytes((10**12, 2), b"\0" * 32)
            dst.writestr(info.filename, data)
    with pytest.raises(ModelFileError, match="claims shape"):
        gmmkit.load(tmp_path / "huge.gmm")


def test_zip_bomb_member_is_refused_without_inflating(tmp_path, model):
    arrays, meta = model
    save_arrays(tmp_path / "ok.gmm", arrays, meta)
    with zipfile.ZipFile(tmp_path / "ok.gmm") as src, \
            zipfile.ZipFile(tmp_path / "bomb.gmm", "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
        dst.writestr("pad.npy", _npy_bytes((2_000_000,), b"\0" * 16_000_000))
    with pytest.raises(ModelFileError, match="compressed"):
        gmmkit.load(tmp_path / "bomb.gmm")


@pytest.mark.parametrize("meta", [[1, 2], "text", None, {"format": "gmmkit-model", "format_version": "1"}])
def test_metadata_of_the_wrong_shape_is_one_line(tmp_path, meta):
    blob = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(tmp_path / "odd.npz", __meta__=blob, weights=np.ones(1))
    with pytest.raises(ModelFileError):
        gmmkit.load(tmp_path / "odd.npz")


def test_wrong_field_types_in_params_are_one_line(tmp_path, model):
    arrays, meta = model
    for params in ({**meta["params"], "n_components": "two"}, {**meta["params"], "tol": "small"},
                   {**meta["params"], "covariance_type": ["full"]}, "not a dict"):
        save_arrays(tmp_path / "bad.gmm", arrays, {**meta, "params": params})
        with pytest.raises(ModelFileError):
            gmmkit.load(tmp_path / "bad.gmm")


def test_non_zip_file_is_not_offered_to_pickle(tmp_path):
    (tmp_path / "text.gmm").write_text("hello")
    with pytest.raises(ModelFileError) as err:
        gmmkit.load(tmp_path / "text.gmm")
    assert "pickle" not in str(err.value)


def test_terminal_escapes_in_metadata_are_not_echoed(tmp_path, model):
    arrays, meta = model
    save_arrays(tmp_path / "esc.gmm", arrays, {**meta, "kind": "\x1b[31mEvil\x1b[0m"})
    with pytest.raises(ModelFileError) as err:
        gmmkit.load(tmp_path / "esc.gmm")
    assert "\x1b" not in str(err.value)
