"""Silent wrong answers in the core, each reproduced (issue 23): sources that change during
an out-of-core fit, extreme values, out-of-core column names, crafted model files."""
import numpy as np
import pandas as pd
import pytest

import gmmkit
from gmmkit import GaussianMixture
from gmmkit.exceptions import DataError, ModelFileError
from gmmkit.io import load_arrays, save_arrays
from gmmkit.outofcore import fit_chunks


@pytest.fixture
def table(tmp_path):
    X = np.random.default_rng(0).normal(size=(3000, 3))
    path = tmp_path / "t.csv"
    pd.DataFrame(X, columns=["a", "b", "c"]).to_csv(path, index=False)
    return X, path


def _grow_on(iteration, action):
    calls = [0]

    def callback(info):
        calls[0] += 1
        if calls[0] == iteration:
            action()

    return callback


def test_csv_appended_during_fit_stops_it(table):
    _, path = table

    def append():
        with open(path, "a") as fh:
            fh.write("100,100,100\n" * 50)

    gm = GaussianMixture(2, random_state=0, tol=0, max_iter=5, callback=_grow_on(2, append))
    with pytest.raises(DataError, match="changed during the fit"):
        fit_chunks(gm, path, chunk_rows=500)


def test_npy_rewritten_during_fit_stops_it(tmp_path):
    X = np.random.default_rng(1).normal(size=(2000, 2))
    path = tmp_path / "X.npy"
    np.save(path, X)
    gm = GaussianMixture(2, random_state=0, tol=0, max_iter=5,
                         callback=_grow_on(2, lambda: np.save(path, X[:1500] * 3)))
    with pytest.raises(DataError, match="changed"):
        fit_chunks(gm, path, chunk_rows=400)


def test_parquet_replaced_by_a_narrower_file_is_refused(tmp_path):
    pytest.importorskip("pyarrow")
    X = np.random.default_rng(2).normal(size=(2000, 3))
    path = tmp_path / "t.parquet"
    pd.DataFrame(X, columns=["a", "b", "c"]).to_parquet(path)

    def narrow():
        pd.DataFrame(X[:, :2], columns=["a", "b"]).to_parquet(path)

    gm = GaussianMixture(2, random_state=0, tol=0, max_iter=5, callback=_grow_on(1, narrow))
    with pytest.raises(DataError):
        fit_chunks(gm, path, chunk_rows=500)


def test_chunk_source_that_gains_a_column_or_rows_is_refused():
    rng = np.random.default_rng(3)
    passes = [0]

    def wider():
        passes[0] += 1
        return iter([rng.normal(size=(500, 3 if passes[0] < 3 else 4)) for _ in range(3)])

    with pytest.raises(DataError, match="first pass read 3 numeric columns"):
        fit_chunks(GaussianMixture(2, random_state=0, tol=0, max_iter=5), wider)
    block = rng.normal(size=(500, 3))
    passes[0] = 0

    def longer():
        passes[0] += 1
        return iter([block] * (3 if passes[0] < 3 else 4))

    with pytest.raises(DataError, match="rows"):
        fit_chunks(GaussianMixture(2, random_state=0, tol=0, max_iter=5), longer)


def test_out_of_core_fit_keeps_column_names(table):
    X, path = table
    gm = fit_chunks(GaussianMixture(2, random_state=0), path, chunk_rows=700)
    assert list(gm.feature_names_in_) == ["a", "b", "c"]
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    with pytest.warns(UserWarning, match="feature names"):
        by_position = gm.predict(X)  # an array has no names: sklearn says so
    np.testing.assert_array_equal(gm.predict(frame), by_position)
    with pytest.raises(DataError, match="feature names"):
        gm.predict(frame[["c", "a", "b"]])  # reordered columns are never matched by position


@pytest.mark.parametrize("scale", [1e155, 1e200, 1e300])
def test_extreme_values_are_refused_not_a_traceback(scale):
    X = np.random.default_rng(4).normal(size=(300, 2)) * scale
    with pytest.raises(DataError, match="rescale"):
        GaussianMixture(2, random_state=0).fit(X)


def test_far_points_score_minus_infinity_without_error():
    gm = GaussianMixture(2, random_state=0).fit(np.random.default_rng(5).normal(size=(300, 2)))
    far = np.array([[1e155, 0.0], [1e300, 1e300]])
    assert np.all(gm.score_samples(far) == -np.inf)
    assert gm.predict(far).shape == (2,)


def test_model_with_a_negative_precision_factor_is_refused(tmp_path):
    gm = GaussianMixture(2, covariance_type="diag", random_state=0).fit(
        np.random.default_rng(6).normal(size=(300, 2)))
    gm.save(tmp_path / "m.gmm")
    arrays, meta = load_arrays(tmp_path / "m.gmm")
    arrays["precisions_cholesky"] = -arrays["precisions_cholesky"]
    save_arrays(tmp_path / "bad.gmm", arrays, meta)
    with pytest.raises(ModelFileError, match="precision"):
        gmmkit.load(tmp_path / "bad.gmm")


def test_float32_of_offset_data_is_refused_not_collapsed():
    from gmmkit._validation import as_float32

    X = np.random.default_rng(7).normal(size=(500, 2))
    assert as_float32(X).dtype == np.float32
    with pytest.raises(DataError, match="float32 would round"):
        as_float32(X + 1e12, ["a", "b"])


def test_select_refuses_an_unbounded_grid_at_once():
    import time

    from gmmkit import select
    from gmmkit.exceptions import ParameterError

    X = np.random.default_rng(8).normal(size=(150, 2))
    t0 = time.perf_counter()
    with pytest.raises(ParameterError, match="at most 100 values"):
        select(X, n_components=range(1, 100_001))
    with pytest.raises(ParameterError, match="each at most 1000"):
        select(X, n_components=[2, 5000])
    assert time.perf_counter() - t0 < 5


def test_truncated_parquet_mid_fit_is_one_line(tmp_path):
    pytest.importorskip("pyarrow")
    from gmmkit.tables.chunks import open_source

    path = tmp_path / "t.parquet"
    pd.DataFrame(np.random.default_rng(9).normal(size=(4000, 3)), columns=list("abc")).to_parquet(
        path, row_group_size=1000)
    source = open_source(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cannot read the Parquet file"):
        for _ in source:
            pass
