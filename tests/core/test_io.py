"""Model files: round trip, atomic writes, and every way a file can be bad."""
import json
import os
import zipfile

import numpy as np
import pytest

import gmmkit
from gmmkit import GaussianMixture
from gmmkit.exceptions import ModelFileError, OutputExistsError
from gmmkit.io import FORMAT_VERSION, atomic_path, load_arrays, save_arrays


@pytest.fixture
def fitted(rng):
    X = rng.normal(size=(300, 3))
    return GaussianMixture(3, covariance_type="full", random_state=0).fit(X), X


@pytest.mark.parametrize("cov_type", ["full", "tied", "diag", "spherical"])
def test_round_trip(tmp_path, rng, cov_type):
    X = rng.normal(size=(200, 2)).astype(np.float32)
    gm = GaussianMixture(2, covariance_type=cov_type, random_state=0).fit(X)
    path = tmp_path / "m.gmm"
    gm.save(path)
    back = gmmkit.load(path)
    for attr in ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"):
        np.testing.assert_array_equal(getattr(back, attr), getattr(gm, attr))
    assert back.get_params() == {**gm.get_params(), "random_state": 0}
    assert back.lower_bounds_ == gm.lower_bounds_
    np.testing.assert_array_equal(back.predict(X), gm.predict(X))
    np.testing.assert_allclose(back.score_samples(X), gm.score_samples(X))


def test_overwrite_refused_and_atomic(tmp_path, fitted):
    gm, _ = fitted
    path = tmp_path / "m.gmm"
    gm.save(path)
    before = path.read_bytes()
    with pytest.raises(OutputExistsError):
        gm.save(path, overwrite=False)
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                fh.write(b"half")
            raise RuntimeError("crash while writing")
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.gmm"]


def test_truncated_file(tmp_path, fitted):
    gm, _ = fitted
    path = tmp_path / "m.gmm"
    gm.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated or corrupted"):
        gmmkit.load(path)


def test_corrupted_values(tmp_path, fitted):
    gm, _ = fitted
    arrays = {"weights": np.array([0.5, 0.7, 0.1]), "means": gm.means_,
              "covariances": gm.covariances_, "precisions_cholesky": gm.precisions_cholesky_}
    meta = {"kind": "GaussianMixture", "params": gm.get_params() | {"callback": None},
            "n_features_in": 3}
    meta["params"] = {k: v for k, v in meta["params"].items() if not k.endswith("_init")}
    path = tmp_path / "bad.gmm"
    save_arrays(path, arrays, meta)
    with pytest.raises(ModelFileError, match="probability"):
        gmmkit.load(path)
    arrays["weights"] = gm.weights_
    arrays["means"] = gm.means_[:, :2]
    save_arrays(path, arrays, meta)
    with pytest.raises(ModelFileError, match="wrong shape"):
        gmmkit.load(path)


def test_foreign_newer_missing_and_pickled(tmp_path):
    np.savez(tmp_path / "foreign.npz", a=np.arange(3))
    with pytest.raises(ModelFileError, match="not a gmmkit model"):
        gmmkit.load(tmp_path / "foreign.npz")
    (tmp_path / "text.gmm").write_text("hello")
    with pytest.raises(ModelFileError):
        gmmkit.load(tmp_path / "text.gmm")
    with pytest.raises(ModelFileError, match="not found"):
        gmmkit.load(tmp_path / "nope.gmm")
    meta = np.frombuffer(json.dumps({"format": "gmmkit-model", "format_version": FORMAT_VERSION + 1,
                                     "kind": "GaussianMixture"}).encode(), dtype=np.uint8)
    np.savez(tmp_path / "newer.gmm.npz", __meta__=meta)
    with pytest.raises(ModelFileError, match="newer gmmkit"):
        gmmkit.load(tmp_path / "newer.gmm.npz")
    # an object array would need pickle to load: refused, never executed
    np.savez(tmp_path / "pickled.npz", __meta__=meta, evil=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ModelFileError):
        load_arrays(tmp_path / "pickled.npz")
    with zipfile.ZipFile(tmp_path / "empty.zip", "w"):
        pass
    with pytest.raises(ModelFileError):
        gmmkit.load(tmp_path / "empty.zip")


def test_wrong_kind(tmp_path):
    save_arrays(tmp_path / "x.npz", {"a": np.zeros(2)}, {"kind": "GMMClassifier"})
    with pytest.raises(ModelFileError, match="expected a 'GaussianMixture'"):
        gmmkit.load(tmp_path / "x.npz")
