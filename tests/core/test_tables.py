"""gmmkit.tables: one format layer, so a file reads the same in memory, in chunks, with Dask,
from the CLI and in the apps (separator, decimal comma, header, compression, columns by name)."""
import bz2
import gzip
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import gmmkit
from gmmkit.exceptions import DataError
from gmmkit.outofcore import fit_chunks, open_source
from gmmkit.tables import detect_format, read_frame, read_table
from gmmkit.tables.format import has_header, sniff_separator
from tests.helpers import make_blobs, run_ok

FITTED = ["weights_", "means_", "covariances_", "precisions_cholesky_"]


@pytest.fixture(scope="module")
def data():
    """Three well-separated clusters, a few empty cells, a text label column."""
    X = make_blobs(np.random.default_rng(0), n=600, d=3, k=3)
    X[np.random.default_rng(1).uniform(size=X.shape) < 0.03] = np.nan
    X = X[~np.isnan(X).all(axis=1)]
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    return frame


def _text(frame, sep=",", decimal=".", header=True):
    return frame.to_csv(sep=sep, decimal=decimal, header=header, index=False, float_format="%.17g")


def _write(path, text):
    """Write ``text`` to ``path``, compressed as its name says."""
    name = path.name
    if name.endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    elif name.endswith(".bz2"):
        with bz2.open(path, "wt") as fh:
            fh.write(text)
    elif name.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr(name[:-4], text)
    else:
        path.write_text(text)
    return path


# name, separator, decimal mark, header row: every variant the layer must read alike
VARIANTS = [
    ("t.tsv", "\t", ".", True),
    ("semi.csv", ";", ",", True),
    ("noheader.csv", ",", ".", False),
    ("t.csv.gz", ",", ".", True),
    ("t.tsv.bz2", "\t", ".", True),
    ("t.csv.zip", ",", ".", True),
    ("pipe.txt", "|", ".", True),
    ("spaces.txt", " ", ".", False),
    ("tabcomma.csv", "\t", ",", False),   # tab-separated, decimal commas, no header
]


@pytest.fixture(params=VARIANTS, ids=[v[0] for v in VARIANTS])
def variant(request, tmp_path, data):
    name, sep, decimal, header = request.param
    frame = data.fillna(0.0) if sep == " " else data  # runs of spaces cannot hold an empty cell
    path = _write(tmp_path / name, _text(frame, sep, decimal, header))
    names = ["a", "b", "c"] if header else ["x0", "x1", "x2"]
    return path, frame.to_numpy(), names, sep, decimal, header


def _chunks(source, **kw):
    src = open_source(source, **kw)
    return src, np.vstack([X.copy() for X, _ in src])


def test_format_detected(variant):
    path, _, names, sep, decimal, header = variant
    fmt = detect_format(path)
    assert fmt.kind == "csv" and fmt.names == tuple(names) and fmt.header is header
    assert fmt.sep == (r"\s+" if sep == " " else sep) and fmt.decimal == decimal


def test_in_memory_chunks_and_dask_read_the_same(variant):
    path, X, names, *_ = variant
    _, Xm, got = read_table(path)
    assert got == names
    np.testing.assert_array_equal(Xm, X)
    src, Xc = _chunks(path, chunk_rows=97)
    assert src.columns == names
    np.testing.assert_array_equal(Xc, X)
    pytest.importorskip("dask.dataframe")
    from gmmkit.tables.distributed import read_dask

    np.testing.assert_array_equal(read_dask(path).compute(scheduler="sync"), X)


def test_spaces_around_header_names_are_dropped_by_every_reader(tmp_path):
    path = _write(tmp_path / "sp.csv", "a , b\n1, 2\n3, 4\n")
    assert read_table(path)[2] == ["a", "b"]
    src, X = _chunks(path, columns=["b"])
    assert src.columns == ["b"] and X.ravel().tolist() == [2.0, 4.0]
    assert read_table(path, columns=" a ")[2] == ["a"]


def test_fit_chunks_equals_in_memory_fit_on_a_semicolon_decimal_comma_file(tmp_path, data):
    path = _write(tmp_path / "excel.csv", _text(data, ";", ","))
    _, X, _ = read_table(path)
    kw = dict(n_components=3, covariance_type="full", random_state=0, max_iter=200)
    ref = gmmkit.GaussianMixture(**kw).fit(X)
    got = fit_chunks(gmmkit.GaussianMixture(**kw), path, chunk_rows=100)
    for name in FITTED:
        np.testing.assert_allclose(getattr(got, name), getattr(ref, name), rtol=1e-10, atol=0, err_msg=name)
    assert got.n_iter_ == ref.n_iter_


@pytest.mark.parametrize("name, sep, decimal, header", [("t.tsv", "\t", ".", True),
                                                        ("h.csv", ",", ".", False)])
def test_cli_fit_in_memory_and_out_of_core_agree(tmp_path, data, name, sep, decimal, header):
    from gmmkit.cli import make_app

    path = _write(tmp_path / name, _text(data, sep, decimal, header))
    app, runner = make_app(entry_points=[]), CliRunner()
    fits = {}
    for mode in ([], ["--out-of-core"]):
        model = tmp_path / f"m{len(fits)}.gmm"
        res = run_ok(runner, app, ["fit", *mode, path, "-k", "3", "--seed", "0", "-o", model, "--json"])
        fits[bool(mode)] = (json.loads(res.stdout), gmmkit.load(model))
    (s_mem, m_mem), (s_ooc, m_ooc) = fits[False], fits[True]
    assert s_ooc["n_rows"] == len(data) and s_ooc["mode"] == "out-of-core"
    np.testing.assert_allclose(m_ooc.means_, m_mem.means_, rtol=1e-8)
    np.testing.assert_allclose(s_ooc["bic"], s_mem["bic"], rtol=1e-9)


def test_glob_columns_matched_by_name(tmp_path, data):
    head, tail = data.iloc[:300], data.iloc[300:]
    _write(tmp_path / "p0.csv", _text(head))
    _write(tmp_path / "p1.csv", _text(tail[["c", "a", "b"]]))  # same names, other order
    src, X = _chunks(str(tmp_path / "p*.csv"), columns=["b", "a"], chunk_rows=64)
    assert src.columns == ["b", "a"]
    np.testing.assert_array_equal(X, data[["b", "a"]].to_numpy())
    pytest.importorskip("dask.dataframe")
    from gmmkit.tables.distributed import read_dask

    got = read_dask(str(tmp_path / "p*.csv"), columns="b,a").compute(scheduler="sync")
    np.testing.assert_array_equal(got, data[["b", "a"]].to_numpy())


@pytest.mark.parametrize("second, message", [
    (lambda f: f.rename(columns={"c": "d"}), r"p1.csv: its columns differ from those of .*p0.csv "
                                             r"\(missing 'c'; extra 'd'\)"),
    (lambda f: f.assign(e=1.0), r"p1.csv: .*extra 'e'"),
    (None, r"p1.csv: .*header row absent"),
])
def test_glob_with_another_header_is_an_error_naming_the_file(tmp_path, data, second, message):
    _write(tmp_path / "p0.csv", _text(data.iloc[:300]))
    tail = data.iloc[300:]
    _write(tmp_path / "p1.csv", _text(tail, header=False) if second is None else _text(second(tail)))
    with pytest.raises(DataError, match=message) as info:
        open_source(str(tmp_path / "p*.csv"))
    assert "\n" not in str(info.value)
    pytest.importorskip("dask.dataframe")
    from gmmkit.tables.distributed import read_dask

    with pytest.raises(DataError, match=message):
        read_dask(str(tmp_path / "p*.csv"))


def test_text_below_numbers_is_an_error_in_memory_and_in_chunks(tmp_path):
    rows = "\n".join(f"{i},{i * 0.5}" for i in range(200))
    path = _write(tmp_path / "late.csv", "a,b\n" + rows + "\n7,?\n")
    # never silently drop a numeric column because of one bad cell far down
    with pytest.raises(DataError, match=r"late.csv: column 'b' is not numeric \(row 201 holds '\?'\)"):
        read_table(path)
    with pytest.raises(DataError, match=r"late.csv: column 'b' is not numeric \(row 201 holds '\?'\)"):
        _chunks(path, chunk_rows=50)


def test_repeated_header_row_named(tmp_path):
    path = _write(tmp_path / "cat.csv", "a,b\n1,2\n3,4\na,b\n5,6\n")
    with pytest.raises(DataError, match=r"row 3 holds 'a': the header row again\?"):
        _chunks(path, chunk_rows=2)


def test_label_column_skipped_in_memory_refused_in_chunks(tmp_path, data):
    path = _write(tmp_path / "lab.csv", _text(data.assign(kind="x")))
    assert read_table(path)[2] == ["a", "b", "c"]
    with pytest.raises(DataError, match=r"non-numeric column\(s\) \['kind'\].*\(numeric: a, b, c\)"):
        open_source(path)
    src, X = _chunks(path, columns="0,1,2")
    assert src.columns == ["a", "b", "c"]
    np.testing.assert_array_equal(X, data.to_numpy())


def test_feature_columns_pick_what_read_table_picks(tmp_path, data):
    from gmmkit.tables.files import feature_columns

    path = _write(tmp_path / "lab.tsv", _text(data.assign(kind="x").iloc[:, [3, 0, 1, 2]], "\t"))
    names = feature_columns(path)
    assert names == read_table(path)[2] == ["a", "b", "c"]
    np.testing.assert_array_equal(_chunks(path, columns=names)[1], read_table(path)[1])


def test_npy_columns_by_name_or_position_in_chunks_and_dask(tmp_path, data):
    X = data.fillna(0.0).to_numpy()
    np.save(tmp_path / "X.npy", X)
    _, want, names = read_table(tmp_path / "X.npy", columns="x2,0")
    src, got = _chunks(tmp_path / "X.npy", columns="x2,0", chunk_rows=64)
    assert names == src.columns == ["x2", "x0"]
    np.testing.assert_array_equal(got, want)
    pytest.importorskip("dask.array")
    from gmmkit.tables.distributed import read_dask

    np.testing.assert_array_equal(read_dask(tmp_path / "X.npy", columns=[2, "x0"]).compute(), want)


@pytest.mark.parametrize("name, text, message", [
    ("t.json", "{}", r"t.json: unsupported table format '.json'"),
    ("t.parquet.gz", "x", r"t.parquet.gz: compressed .parquet files are not supported"),
    ("dup.csv", "a,b,a\n1,2,3\n", r"dup.csv: the header names column 'a' twice"),
    ("empty.tsv", "", r"empty.tsv is empty"),
    ("head.tsv", "a\tb\n", r"head.tsv has a header row but no data rows"),
])
def test_one_line_errors_naming_the_file(tmp_path, name, text, message):
    path = _write(tmp_path / name, text)
    for read in (read_table, open_source):
        with pytest.raises(DataError, match=message) as info:
            src = read(path)
            list(src)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("lines, sep", [
    (["a,b", "1,2"], ","),
    (["1,5;2", "3;4,25"], ";"),
    (["1,5\t2,5", "3,25\t4"], "\t"),          # a comma cannot beat a tab: it may be a decimal mark
    (["1,5 2,5", "3,25 4"], r"\s+"),           # space-separated decimal commas
    (["John Smith,1,2", "Jane Doe,3,4"], ","),  # spaces inside text do not make a separator
    (["x|y", "1|2"], "|"),
])
def test_separator_rules(lines, sep):
    assert sniff_separator(lines) == sep


@pytest.mark.parametrize("text", [
    "1.5,2.5,a;3\n4.5,5.5,b;6\n",   # ';' inside a text column on every line
    "1.5|2.5,7\n4|5.5,6\n",         # '|' on every line, and commas between numbers
])
def test_a_cell_holding_several_numbers_is_refused(tmp_path, text):
    path = _write(tmp_path / "odd.csv", text)
    for read in (read_table, open_source):
        with pytest.raises(DataError, match="odd.csv: the cell .* holds several numbers"):
            read(path)


def test_header_rule_is_the_one_the_old_module_exported():
    from gmmkit.tabular import _has_header

    assert _has_header is has_header
    assert has_header([["id", "v"], ["x1", "3"]]) and not has_header([["1", "x"], ["2", "y"]])


def test_outliers_app_reads_chunks_like_read_table(tmp_path, data):
    table = pytest.importorskip("gmmkit_apps.outliers.table")
    path = _write(tmp_path / "semi.csv", _text(data.assign(kind="x"), ";", ","))
    names, skipped = table.feature_columns(path)
    assert names == ["a", "b", "c"] and skipped == ["kind"]
    X = np.vstack([table.chunk_matrix(f, names, path) for f in table.iter_chunks(path, 111)])
    np.testing.assert_array_equal(X, read_table(path)[1])


def test_finance_app_reads_a_semicolon_decimal_comma_file(tmp_path):
    data = pytest.importorskip("gmmkit_apps.finance.data")
    dates = pd.bdate_range("2020-01-01", periods=30)
    prices = pd.DataFrame({"Date": dates.strftime("%Y-%m-%d"), "SPX": np.linspace(100, 130, 30)})
    path = _write(tmp_path / "p.csv", _text(prices, ";", ","))
    np.testing.assert_array_equal(data.read_table(path)["SPX"], read_frame(path)["SPX"])
    returns, freq = data.load_returns(path)
    assert freq == "daily" and len(returns) == 29
    np.testing.assert_allclose(returns["SPX"].iloc[0], np.log(prices.SPX[1] / prices.SPX[0]))


def test_row_identifiers_are_not_features_in_any_reader(tmp_path, data):
    """The index column pandas writes (``df.to_csv(path)``) and id columns number the rows:
    as features they would split the data by row order. Every reader skips them alike."""
    from gmmkit.tables.files import feature_columns

    rng = np.random.default_rng(1)
    n = len(data)
    frame = data.assign(patient_id=rng.permutation(n) + 1000, customerId=np.arange(n),
                        id_like=rng.integers(0, 5, n),  # repeats: a measurement, not an identifier
                        count=np.arange(n))              # distinct but not named like an identifier
    frame.index.name = None
    path = tmp_path / "ids.csv"
    frame.to_csv(path)  # writes the index as an unnamed first column
    want = ["a", "b", "c", "id_like", "count"]
    assert read_table(path)[2] == want == feature_columns(path)
    table = pytest.importorskip("gmmkit_apps.outliers.table")
    names, skipped = table.feature_columns(path)
    assert names == want and set(skipped) == {"Unnamed: 0", "patient_id", "customerId"}
    # asked for by name, an identifier is used
    assert read_table(path, columns="patient_id,a")[2] == ["patient_id", "a"]
    # an "id" with a repeated or a fractional value measures something: kept
    for values in ([1, 2, 2], [0.5, 1, 2]):
        odd = tmp_path / "odd.csv"
        pd.DataFrame({"id": values, "x": [1.0, 2.0, 4.0]}).to_csv(odd, index=False)
        assert read_table(odd)[2] == ["id", "x"]
    only = tmp_path / "only.csv"
    pd.DataFrame({"id": [1, 2, 3], "name": ["a", "b", "c"]}).to_csv(only, index=False)
    with pytest.raises(DataError, match="besides row identifiers"):
        read_table(only)


@pytest.mark.parametrize("dressed", [["1,234.5", "2,100.0", "4.5"], ["$1,200", "$950", "$12,000"],
                                     ["12%", "7.5 %", "100%"], ["1.234,5", "2.100,0", "3,25"]])
def test_numbers_written_as_text_are_refused_not_skipped_as_labels(tmp_path, dressed):
    """A column of '1,234.5' or '$1,200' is read as text; skipped like a label, it would leave a
    feature out without a word. Every reader refuses it, naming the column."""
    from gmmkit.tables.files import feature_columns

    frame = pd.DataFrame({"amount": dressed, "x": [1.0, 2.0, 3.0], "kind": ["a", "b", "c"]})
    path = tmp_path / "dressed.csv"
    frame.to_csv(path, index=False)
    for read in (read_table, feature_columns):
        with pytest.raises(DataError, match=r"column 'amount' holds numbers written as text"):
            read(path)
    table = pytest.importorskip("gmmkit_apps.outliers.table")
    with pytest.raises(DataError, match=r"column 'amount' holds numbers written as text"):
        table.feature_columns(path)
    assert read_table(path, columns="x")[2] == ["x"]  # left out on purpose: fine
    frame.drop(columns="amount").to_csv(path, index=False)
    assert read_table(path)[2] == ["x"]  # a text label is still skipped
