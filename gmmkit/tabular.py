"""Read and write the tables the command line works on (CSV, Parquet, ``.npy``).

:func:`read_table` is the one place where gmmkit turns a user's file into a
float matrix: it detects the format from the file name, whether a CSV file has a
header row, picks the numeric columns (or the ones asked for) and turns every
problem into a one-line :class:`gmmkit.exceptions.DataError` naming the file.
Applications (``gmmkit outliers`` ...) use it too, so its signature is stable.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
>>> with open(path, "w") as fh:
...     _ = fh.write("name,a,b\\nx,1,2\\ny,3,4.5\\n")
>>> frame, X, names = read_table(path)
>>> names, X.tolist()
(['a', 'b'], [[1.0, 2.0], [3.0, 4.5]])
>>> read_table(path, columns="b")[1].ravel().tolist()
[2.0, 4.5]
"""
from __future__ import annotations

import csv
import os
import re

from .exceptions import DataError

__all__ = ["read_table", "write_table", "TABLE_SUFFIXES"]

_CSV = (".csv", ".tsv", ".txt")
_COMPRESSED = (".gz", ".bz2", ".xz", ".zip", ".zst")
_PARQUET = (".parquet", ".pq")
_NPY = (".npy",)
#: File name endings :func:`read_table` understands (compressed CSV too: ``.csv.gz`` ...).
TABLE_SUFFIXES = _CSV + _PARQUET + _NPY
_SNIFF_ROWS = 50
_COMMA_NUMBER = re.compile(r"^[-+]?\d*,\d+$")
_DOT_NUMBER = re.compile(r"^[-+]?\d*\.\d+$")


def _format(path):
    """Return 'csv', 'parquet' or 'npy' from the file name, or raise DataError."""
    name = os.path.basename(path).lower()
    for comp in _COMPRESSED:
        if name.endswith(comp):
            name = name[: -len(comp)]
            break
    ext = os.path.splitext(name)[1]
    if ext in _CSV:
        return "csv"
    if ext in _PARQUET:
        return "parquet"
    if ext in _NPY:
        return "npy"
    raise DataError(
        f"{path}: unsupported table format {ext or '(no extension)'!r} "
        f"(expected one of {', '.join(TABLE_SUFFIXES)})"
    )


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _sniff_sep(path, sample_lines):
    """The field separator of a CSV-like file: sniffed among , ; tab |, else whitespace/comma.

    A ';' separated file may write decimals with a comma (``1,5``); that is detected too.
    """
    sample = "\n".join(sample_lines)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        pass
    if path.lower().endswith((".tsv", ".tsv.gz")):
        return "\t"
    lines = [ln for ln in sample_lines if ln.strip()]
    if lines and "," not in sample and all(len(ln.split()) > 1 for ln in lines):
        return r"\s+"
    return ","


def _decimal_comma(sep, rows):
    """True for a ';'-separated table whose numbers are written 1,5 (European spreadsheets)."""
    if sep != ";":
        return False
    cells = [c.strip() for r in rows for c in r]
    return any(_COMMA_NUMBER.match(c) for c in cells) and not any(_DOT_NUMBER.match(c) for c in cells)


def _has_header(rows):
    """Decide whether the first of ``rows`` (lists of strings) is a header.

    It is when some column holds text in the first row and only numbers below
    it, or when every cell of the first row is text. A first row of numbers is
    data, and so is a text cell above more text (a label column without header).
    """
    if not rows:
        return False
    first, rest = rows[0], rows[1:]
    texts = [bool(c.strip()) and not _is_number(c) for c in first]
    if texts and all(texts):
        return True
    for j, is_text in enumerate(texts):
        if not is_text:
            continue
        below = [r[j] for r in rest if j < len(r) and r[j].strip()]
        if below and all(_is_number(c) for c in below):
            return True
    return False


def _read_csv(path, header=None):
    import pandas as pd

    try:
        sep = _sniff_from_file(path)
        engine = "python" if len(sep) > 1 else "c"
        sample = pd.read_csv(path, header=None, dtype=str, nrows=_SNIFF_ROWS, sep=sep,
                             engine=engine, keep_default_na=False)
        rows = sample.astype(str).values.tolist()
        decimal = "," if _decimal_comma(sep, rows) else "."
        if header is None:
            if decimal == ",":
                rows = [[c.replace(",", ".") for c in r] for r in rows]
            header = _has_header(rows)
        frame = pd.read_csv(path, header=0 if header else None, sep=sep, engine=engine,
                            decimal=decimal, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty") from None
    except (pd.errors.ParserError, csv.Error, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: not a readable CSV table ({_one_line(exc)})") from None
    if not header:
        frame.columns = [f"x{j}" for j in range(frame.shape[1])]
    elif frame.shape[0] == 0:
        raise DataError(f"{path} has a header row but no data rows")
    return frame


def _sniff_from_file(path):
    import pandas as pd

    # read a few raw lines through pandas' decompression so .csv.gz works too
    raw = pd.read_csv(path, header=None, sep="\x01", nrows=20, dtype=str, engine="python",
                      keep_default_na=False, quoting=csv.QUOTE_NONE)
    return _sniff_sep(path, raw.iloc[:, 0].astype(str).tolist())


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


def _read_parquet(path):
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except ImportError:
        raise DataError(
            f"{path}: reading Parquet needs pyarrow (pip install 'gmmkit[parquet]')"
        ) from None
    except Exception as exc:  # pyarrow raises its own families for corrupt files
        raise DataError(f"{path}: not a readable Parquet file ({_one_line(exc)})") from None


def _read_npy(path):
    import numpy as np
    import pandas as pd

    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npy array ({_one_line(exc)})") from None
    if arr.dtype.names:  # structured array: one column per field
        return pd.DataFrame({name: arr[name] for name in arr.dtype.names})
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise DataError(f"{path}: expected a 1-D or 2-D array, got shape {arr.shape}")
    return pd.DataFrame(arr, columns=[f"x{j}" for j in range(arr.shape[1])])


def _is_numeric(series):
    import pandas as pd

    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _resolve_columns(path, frame, columns):
    names = list(frame.columns)
    if isinstance(columns, str):
        columns = [c.strip() for c in columns.split(",") if c.strip()]
    else:
        columns = list(columns)
    if not columns:
        raise DataError(f"{path}: no columns selected")
    chosen = []
    for col in columns:
        key = str(col)
        if key in names:
            chosen.append(key)
        elif key.lstrip("-").isdigit() and -len(names) <= int(key) < len(names):
            chosen.append(names[int(key)])
        else:
            shown = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
            raise DataError(f"{path}: no column {key!r} (columns: {shown})")
    if len(set(chosen)) != len(chosen):
        raise DataError(f"{path}: a column is selected twice ({', '.join(chosen)})")
    for name in chosen:
        if not _is_numeric(frame[name]):
            import pandas as pd

            values = pd.to_numeric(frame[name], errors="coerce")
            bad = frame[name][values.isna() & frame[name].notna()]
            example = f" (row {bad.index[0] + 1} holds {str(bad.iloc[0])!r})" if len(bad) else ""
            raise DataError(f"{path}: column {name!r} is not numeric{example}")
    return chosen


def read_table(path, columns=None, *, header=None):
    """Read a CSV, Parquet or ``.npy`` table and pick its numeric columns.

    Parameters
    ----------
    path : str or path-like
        ``.csv``/``.tsv``/``.txt`` (also compressed: ``.csv.gz`` ...), ``.parquet``
        or ``.npy``. A CSV file's separator (``,`` ``;`` tab ``|`` or spaces) and
        header row are detected: the first row is a header when it holds text
        above numbers (or only text). Columns without a header, and the columns
        of a ``.npy`` array, are named ``x0``, ``x1``, ...
    columns : None, str or sequence of str/int, optional
        Columns to use: names, or 0-based positions, as a list or one
        comma-separated string (``"a,b,c"``). By default every numeric column
        (text columns such as labels are skipped).
    header : None or bool, optional
        CSV only: whether the first row is a header; None (default) detects it.
        Set it for the ambiguous cases, such as a header made only of numbers.

    Returns
    -------
    frame : pandas.DataFrame
        The whole table as read (all columns, column names as strings).
    X : numpy.ndarray of float64, shape (n_rows, n_selected)
        The selected columns, C-contiguous.
    names : list of str
        Names of the selected columns, in the order of ``X``'s columns.

    Raises
    ------
    gmmkit.exceptions.DataError
        Missing or empty file, unknown format, unknown or non-numeric column,
        no numeric column, or missing/infinite values in a selected column.
        The message is one line and names the file.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.npy")
    >>> np.save(path, np.arange(6.0).reshape(3, 2))
    >>> frame, X, names = read_table(path, columns=[1])
    >>> names, X.shape
    (['x1'], (3, 1))
    """
    import numpy as np

    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(f"file not found: {path}")
    if os.path.isdir(path):
        raise DataError(f"{path} is a folder, expected a table file")
    kind = _format(path)
    if os.path.getsize(path) == 0:
        raise DataError(f"{path} is empty")
    if kind == "csv":
        frame = _read_csv(path, header)
    else:
        frame = {"parquet": _read_parquet, "npy": _read_npy}[kind](path)
    frame.columns = [str(c) for c in frame.columns]
    if frame.shape[0] == 0:
        raise DataError(f"{path} has no data rows")
    if columns is None:
        names = [c for c in frame.columns if _is_numeric(frame[c])]
        if not names:
            raise DataError(f"{path}: no numeric columns (columns: {', '.join(frame.columns)})")
    else:
        names = _resolve_columns(path, frame, columns)
    X = np.ascontiguousarray(frame[names].to_numpy(dtype=np.float64))
    # Empty cells stay NaN: the estimators treat them as missing values inside EM.
    # Infinities and columns with no value at all are errors.
    inf = np.isinf(X)
    if inf.any():
        j = int(np.nonzero(inf.any(axis=0))[0][0])
        rows = np.nonzero(inf[:, j])[0]
        raise DataError(
            f"{path}: column {names[j]!r} has {rows.size} infinite value"
            f"{'s' if rows.size > 1 else ''} (first at row {rows[0] + 1})"
        )
    empty = np.isnan(X).all(axis=0)
    if empty.any():
        raise DataError(f"{path}: column {names[int(np.argmax(empty))]!r} has no values")
    return frame, X, names


def write_table(frame, path, *, overwrite=True):
    """Write a DataFrame atomically as CSV, Parquet or ``.npy`` (chosen by the file name).

    ``.npy`` needs an all-numeric frame. With ``overwrite=False`` an existing
    ``path`` raises :class:`gmmkit.exceptions.OutputExistsError`.

    >>> import pandas as pd, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "out.csv")
    >>> write_table(pd.DataFrame({"a": [1.5, 2.0]}), path)
    >>> open(path).read().split()
    ['a', '1.5', '2.0']
    """
    import numpy as np

    from .io import atomic_path

    path = os.fspath(path)
    kind = _format(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        if kind == "csv":
            sep = "\t" if path.lower().endswith((".tsv", ".tsv.gz")) else ","
            compression = "infer"
            # the temporary name keeps the suffix, so pandas infers compression from it
            frame.to_csv(tmp, index=False, sep=sep, compression=compression)
        elif kind == "parquet":
            try:
                frame.to_parquet(tmp, index=False)
            except ImportError:
                raise DataError(
                    f"{path}: writing Parquet needs pyarrow (pip install 'gmmkit[parquet]')"
                ) from None
        else:
            try:
                arr = frame.to_numpy(dtype=np.float64)
            except (TypeError, ValueError):
                raise DataError(f"{path}: .npy output needs numeric columns only") from None
            with open(tmp, "wb") as fh:
                np.save(fh, arr)
