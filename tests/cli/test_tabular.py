"""gmmkit.tabular.read_table / write_table: formats, header detection, column picking, errors."""
import gzip

import numpy as np
import pandas as pd
import pytest

from gmmkit.exceptions import DataError, OutputExistsError
from gmmkit.tabular import _has_header, read_table, write_table


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_iris_header_detected_and_text_column_skipped(iris):
    frame, X, names = read_table(iris)
    assert names == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert X.shape == (150, 4) and X.dtype == np.float64 and X.flags.c_contiguous
    assert list(frame.columns)[-1] == "species" and len(frame) == 150
    np.testing.assert_allclose(X[0], [5.1, 3.5, 1.4, 0.2])


def test_headerless_csv_keeps_first_row_and_names_columns(tmp_path):
    path = write(tmp_path, "a.csv", "1,2,x\n3,4,y\n5,6,z\n")
    frame, X, names = read_table(path)
    assert names == ["x0", "x1"]
    np.testing.assert_array_equal(X, [[1, 2], [3, 4], [5, 6]])
    assert list(frame["x2"]) == ["x", "y", "z"]


@pytest.mark.parametrize("rows, header", [
    ([["a", "b"], ["1", "2"]], True),             # text above numbers
    ([["1", "2"], ["3", "4"]], False),            # numbers only
    ([["1.5", "lab"], ["2", "lab2"]], False),     # label column without header
    ([["id", "v"], ["x1", "3"]], True),           # text above a number in one column
    ([["a", "b"]], True),                         # only text
    ([["nan", "1e3"], ["1", "2"]], False),        # nan/exponent are numbers
])
def test_header_rule(rows, header):
    assert _has_header(rows) is header


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_separators_are_sniffed(tmp_path, sep):
    path = write(tmp_path, "s.csv", sep.join(["a", "b"]) + "\n" + sep.join(["1.5", "2"]) + "\n"
                 + sep.join(["3", "4"]) + "\n")
    _, X, names = read_table(path)
    assert names == ["a", "b"]
    np.testing.assert_array_equal(X, [[1.5, 2], [3, 4]])


def test_whitespace_separated_txt(tmp_path):
    path = write(tmp_path, "w.txt", "1 2 3\n4  5 6\n")
    _, X, names = read_table(path)
    assert X.shape == (2, 3) and names == ["x0", "x1", "x2"]


def test_gzip_csv(tmp_path):
    path = tmp_path / "z.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("a,b\n1,2\n3,4\n")
    _, X, _ = read_table(path)
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])


def test_columns_by_name_position_and_string(iris):
    _, X1, n1 = read_table(iris, columns="petal_width,sepal_length")
    _, X2, n2 = read_table(iris, columns=[3, "0"])
    assert n1 == n2 == ["petal_width", "sepal_length"]
    np.testing.assert_array_equal(X1, X2)


def test_npy_and_parquet_round_trip(tmp_path):
    arr = np.random.default_rng(0).normal(size=(20, 3))
    np.save(tmp_path / "a.npy", arr)
    _, X, names = read_table(tmp_path / "a.npy")
    np.testing.assert_array_equal(X, arr)
    assert names == ["x0", "x1", "x2"]
    np.save(tmp_path / "v.npy", arr[:, 0])
    assert read_table(tmp_path / "v.npy")[1].shape == (20, 1)
    frame = pd.DataFrame(arr, columns=["u", "v", "w"]).assign(tag="t")
    write_table(frame, tmp_path / "a.parquet")
    back, X, names = read_table(tmp_path / "a.parquet", columns="w,u")
    assert names == ["w", "u"]
    np.testing.assert_array_equal(X, arr[:, [2, 0]])
    assert list(back["tag"]) == ["t"] * 20


def test_write_table_csv_npy_and_no_overwrite(tmp_path):
    frame = pd.DataFrame({"a": [1.0, 2.5], "b": [3.0, -1.0]})
    write_table(frame, tmp_path / "o.csv")
    assert read_table(tmp_path / "o.csv")[2] == ["a", "b"]
    write_table(frame, tmp_path / "o.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), frame.to_numpy())
    with pytest.raises(OutputExistsError):
        write_table(frame, tmp_path / "o.csv", overwrite=False)
    with pytest.raises(DataError, match="numeric"):
        write_table(frame.assign(s="x"), tmp_path / "p.npy")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.csv", "o.npy"]  # no temp files left


@pytest.mark.parametrize("name, text, columns, message", [
    ("missing.csv", None, None, "file not found: .*missing.csv"),
    ("empty.csv", "", None, "empty.csv is empty"),
    ("head.csv", "a,b\n", None, "no data rows"),
    ("t.csv", "a,b\n1,2\n", "c", r"no column 'c' \(columns: a, b\)"),
    ("t.csv", "a,s\n1,x\n2,y\n", "s", r"column 's' is not numeric \(row 1 holds 'x'\)"),
    ("t.csv", "s\nx\ny\n", None, "no numeric columns"),
    ("t.csv", "a,b\n1,2\ninf,4\n", None, r"column 'a' has 1 infinite value \(first at row 2\)"),
    ("t.csv", "a,b\n1,2\n3,4\n", "a,a", "selected twice"),
    ("t.csv", "a,b\n1,2\n3,4\n", "a,a", "selected twice"),
    ("t.json", "{}", None, "unsupported table format '.json'"),
    ("bad.npy", "not an array", None, "not a readable .npy"),
    ("bad.parquet", "not parquet", None, "not a readable Parquet"),
])
def test_errors_are_one_line_data_errors_naming_the_file(tmp_path, name, text, columns, message):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    with pytest.raises(DataError, match=message) as info:
        read_table(path, columns=columns)
    assert "\n" not in str(info.value)
    assert name in str(info.value)


def test_header_can_be_forced_either_way(tmp_path):
    path = write(tmp_path, "years.csv", "1990,1991\n5,6\n7,8\n")
    assert read_table(path)[1].shape == (3, 2)  # numbers only: read as data
    _, X, names = read_table(path, header=True)
    assert names == ["1990", "1991"] and X.tolist() == [[5, 6], [7, 8]]
    _, X, names = read_table(tmp_path / "years.csv", columns="x1", header=False)
    assert X.ravel().tolist() == [1991, 6, 8]


def test_quoted_text_with_commas(tmp_path):
    path = write(tmp_path, "q.csv", 'name,a,b\n"Smith, J",1.0,2\n"Doe, K",3,4\n')
    frame, X, names = read_table(path)
    assert names == ["a", "b"] and X.tolist() == [[1, 2], [3, 4]]
    assert list(frame["name"]) == ["Smith, J", "Doe, K"]


def test_spreadsheet_export_bom_semicolon_decimal_comma(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffa;b\r\n1,5;2\r\n-3,25;4\r\n".encode("utf-8"))
    _, X, names = read_table(path)
    assert names == ["a", "b"]
    assert X.tolist() == [[1.5, 2], [-3.25, 4]]


def test_empty_cells_become_missing_values(tmp_path):
    path = write(tmp_path, "holes.csv", "a,b\n1,2\n,4\n5,\n")
    _, X, names = read_table(path)
    assert names == ["a", "b"]
    assert np.isnan(X[1, 0]) and np.isnan(X[2, 1]) and X[0].tolist() == [1.0, 2.0]
