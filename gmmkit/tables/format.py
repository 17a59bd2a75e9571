"""The table-format rules, written once: what a file is and how to parse it.

Every reader of gmmkit (the in-memory :func:`~gmmkit.tables.memory.read_table`,
the out-of-core chunk sources, the Dask reader and the applications) asks
:func:`detect_format` how to read a file, so a file reads the same everywhere:

- **kind** from the file name: ``.csv``/``.tsv``/``.txt`` (CSV-like),
  ``.parquet``/``.pq`` or ``.npy``; CSV-like files may be compressed
  (``.gz``, ``.bz2``, ``.zip``, ``.xz``, ``.zst``: ``t.csv.gz``);
- **separator** of a CSV-like file: tab, ``;`` or ``|`` when every line has one
  (these never occur inside a number), else ``,``, else runs of spaces; a
  ``.tsv`` file whose lines all hold a tab is tab-separated;
- **decimal comma** (``1,5``) in a file not separated by commas, when its
  numbers are written with commas and none with a point;
- **header row**: the first row is a header when some column holds text in it
  and only numbers below, or when it holds only text (see :func:`has_header`);
  columns without a header are named ``x0``, ``x1``, ...

Anything that cannot be read this way is a one-line
:class:`~gmmkit.exceptions.DataError` naming the file.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
>>> with open(path, "w") as fh:
...     _ = fh.write("a;b\\n1,5;2\\n3;4,25\\n")
>>> fmt = detect_format(path)
>>> fmt.kind, fmt.sep, fmt.decimal, fmt.header, fmt.names
('csv', ';', ',', True, ('a', 'b'))
"""
from __future__ import annotations

import csv
import dataclasses
import os
import re

from ..exceptions import DataError

__all__ = ["TableFormat", "detect_format", "table_kind", "check_file", "has_header",
           "sniff_separator", "check_separator", "decimal_comma", "default_names", "same_columns",
           "output_separator", "one_line", "TABLE_SUFFIXES", "CSV_SUFFIXES",
           "PARQUET_SUFFIXES", "COMPRESSION_SUFFIXES"]

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
NPY_SUFFIXES = (".npy",)
#: compressed-file endings and pandas' name of their compression
COMPRESSION_SUFFIXES = {".gz": "gzip", ".bz2": "bz2", ".zip": "zip", ".xz": "xz", ".zst": "zstd"}
#: File name endings the readers understand (compressed CSV too: ``.csv.gz`` ...).
TABLE_SUFFIXES = CSV_SUFFIXES + PARQUET_SUFFIXES + NPY_SUFFIXES
#: rows read to decide the separator, decimal mark and header
SNIFF_ROWS = 50
_KINDS = {**dict.fromkeys(CSV_SUFFIXES, "csv"), **dict.fromkeys(PARQUET_SUFFIXES, "parquet"),
          **dict.fromkeys(NPY_SUFFIXES, "npy")}
_COMMA_NUMBER = re.compile(r"^[-+]?\d*,\d+$")
_DOT_NUMBER = re.compile(r"^[-+]?\d*\.\d+$")
_WHITESPACE = r"\s+"
_NEVER_IN_NUMBERS = "\t;|"


def one_line(exc):
    """The text of an exception on one line (for messages that quote a library's error)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def table_kind(path):
    """The kind and compression of a table from its file name.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    kind : {"csv", "parquet", "npy"}
    compression : str or None
        pandas' name of the compression (``"gzip"`` ...), CSV-like files only.

    Raises
    ------
    gmmkit.exceptions.DataError
        An unknown file ending, or a compressed Parquet/``.npy`` file.

    Examples
    --------
    >>> table_kind("data/t.tsv.gz")
    ('csv', 'gzip')
    """
    name = os.path.basename(os.fspath(path)).lower()
    root, ext = os.path.splitext(name)
    compression = COMPRESSION_SUFFIXES.get(ext)
    if compression is not None:
        ext = os.path.splitext(root)[1]
    kind = _KINDS.get(ext)
    if kind is None:
        raise DataError(f"{path}: unsupported table format {ext or '(no extension)'!r} "
                        f"(expected one of {', '.join(TABLE_SUFFIXES)})")
    if compression is not None and kind != "csv":
        raise DataError(f"{path}: compressed {ext} files are not supported; decompress it first")
    return kind, compression


def check_file(path):
    """``path`` as a string, after checking that it is a non-empty file (else DataError)."""
    path = os.fspath(path)
    if "://" in path:  # a URL (object store ...): pandas/pyarrow will say what is wrong
        return path
    if not os.path.exists(path):
        raise DataError(f"file not found: {path}")
    if os.path.isdir(path):
        raise DataError(f"{path} is a folder, expected a table file")
    if os.path.getsize(path) == 0:
        raise DataError(f"{path} is empty")
    return path


def default_names(n_columns):
    """Names of the columns of a table without header: ``x0``, ``x1``, ...

    >>> default_names(3)
    ('x0', 'x1', 'x2')
    """
    return tuple(f"x{j}" for j in range(n_columns))


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def has_header(rows):
    """Decide whether the first of ``rows`` (lists of strings) is a header.

    It is when some column holds text in the first row and only numbers below
    it, or when every cell of the first row is text. A first row of numbers is
    data, and so is a text cell above more text (a label column without header).

    >>> has_header([["a", "b"], ["1", "2"]]), has_header([["1", "x"], ["2", "y"]])
    (True, False)
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


def _sniff(lines, delimiters):
    try:
        sep = csv.Sniffer().sniff("\n".join(lines), delimiters=delimiters).delimiter
    except csv.Error:
        return None
    return sep if all(sep in ln for ln in lines) else None


def _whitespace_separated(lines):
    """Every line has several space-separated fields and any comma is a decimal comma."""
    fields = [ln.split() for ln in lines]
    return all(len(f) > 1 for f in fields) and all(
        _COMMA_NUMBER.match(c) for f in fields for c in f if "," in c)


def sniff_separator(lines, path=""):
    """The field separator of a CSV-like file from its first (decompressed) lines.

    Tab, ``;`` and ``|`` never occur inside a number, so one of them on every
    line wins over a comma (which may be a decimal comma); a ``.tsv`` file whose
    lines all hold a tab is tab-separated.

    >>> sniff_separator(["1,5\\t2,5", "3,25\\t4"])
    '\\t'
    >>> sniff_separator(["1 2", "3  4"])
    '\\\\s+'
    """
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        return ","
    if table_suffix(path) == ".tsv" and all("\t" in ln for ln in lines):
        return "\t"
    sep = _sniff(lines, _NEVER_IN_NUMBERS)
    if sep is not None:
        return sep
    if _whitespace_separated(lines):
        return _WHITESPACE
    return ","


def table_suffix(path):
    """The file ending that names the format, compression aside (``t.tsv.gz``: ``.tsv``)."""
    root, ext = os.path.splitext(os.path.basename(os.fspath(path)).lower())
    return os.path.splitext(root)[1] if ext in COMPRESSION_SUFFIXES else ext


def decimal_comma(sep, rows):
    """True when numbers are written ``1,5`` (a table not separated by commas whose
    numbers have a comma and none a point).

    >>> decimal_comma(";", [["1,5", "2"]]), decimal_comma(";", [["1,5", "2.5"]])
    (True, False)
    """
    if sep == ",":
        return False
    cells = [c.strip() for r in rows for c in r]
    return any(_COMMA_NUMBER.match(c) for c in cells) and not any(_DOT_NUMBER.match(c) for c in cells)


def _packed(cell, sep):
    """True for a cell holding several numbers joined by another separator than ``sep``:
    two numbers between ``, ; tab |``, or only numbers between spaces."""
    cell = cell.strip()
    for other in (",", ";", "\t", "|", None):  # None: runs of spaces
        if other == sep or (other == "," and _COMMA_NUMBER.match(cell)):
            continue
        parts = cell.split(other)
        numbers = sum(_is_number(p) for p in parts)
        if numbers >= 2 and (other is not None or numbers == len(parts)):
            return True
    return False


def check_separator(path, sep, rows):
    """Refuse a separator that leaves several numbers in one cell (``'1.5|2'`` read with ``,``):
    the columns would silently be wrong.

    >>> check_separator("t.csv", ",", [["1.5", "2|3"]])
    Traceback (most recent call last):
    ...
    gmmkit.exceptions.DataError: t.csv: the cell '2|3' holds several numbers: cannot tell the separator (read as ',')
    """
    shown_sep = "spaces" if sep == _WHITESPACE else repr(sep)
    for row in rows:
        for cell in row:
            if _packed(cell, sep):
                raise DataError(f"{path}: the cell {cell!r} holds several numbers: cannot tell the "
                                f"separator (read as {shown_sep})")


@dataclasses.dataclass(frozen=True)
class TableFormat:
    """How to read one table file (the answer of :func:`detect_format`).

    Attributes
    ----------
    path : str
        The file.
    kind : {"csv", "parquet", "npy"}
    names : tuple of str
        Column names: the header's, the Parquet schema's, or ``x0, x1, ...``.
    compression : str or None
        pandas' compression name (CSV-like files).
    sep : str or None
        Field separator (CSV-like files; ``"\\\\s+"`` for runs of spaces).
    decimal : str
        Decimal mark of CSV-like files (``"."`` or ``","``).
    header : bool
        Whether a CSV-like file's first row is a header.
    """

    path: str
    kind: str
    names: tuple
    compression: str | None = None
    sep: str | None = None
    decimal: str = "."
    header: bool = False

    def csv_options(self):
        """Keyword arguments of ``pandas.read_csv`` that read this CSV-like file
        (the columns are named :attr:`names`, whatever the header row spells)."""
        return dict(sep=self.sep, decimal=self.decimal, compression=self.compression,
                    header=0 if self.header else None, names=list(self.names),
                    skipinitialspace=True, encoding="utf-8-sig")


def _raw_lines(path, compression, n=20):
    """The first ``n`` non-empty lines of a CSV-like file, decompressed."""
    import pandas as pd

    raw = pd.read_csv(path, header=None, sep="\x01", nrows=n, dtype=str, engine="python",
                      keep_default_na=False, quoting=csv.QUOTE_NONE, compression=compression,
                      encoding="utf-8-sig")
    return raw.iloc[:, 0].astype(str).tolist()


def _sample_rows(path, compression, sep, nrows=SNIFF_ROWS):
    import pandas as pd

    sample = pd.read_csv(path, header=None, dtype=str, nrows=nrows, sep=sep, keep_default_na=False,
                         compression=compression, skipinitialspace=True, encoding="utf-8-sig")
    return sample.astype(str).values.tolist()


def _header_names(cells):
    """Names from a header row; an empty cell is named like pandas does (``Unnamed: 2``)."""
    return tuple(c.strip() or f"Unnamed: {j}" for j, c in enumerate(cells))


def csv_errors():
    """The exception families a corrupt, truncated or mislabelled CSV-like file raises
    (pandas, csv, the decompressors, a missing optional decompressor)."""
    import lzma
    import zipfile
    import zlib

    import pandas as pd

    return (pd.errors.ParserError, csv.Error, UnicodeDecodeError, ValueError, EOFError, OSError,
            zlib.error, lzma.LZMAError, zipfile.BadZipFile, ImportError)


def csv_problem(path, exc):
    """The one-line :class:`DataError` for ``exc``, one of :func:`csv_errors`."""
    if isinstance(exc, ImportError):
        found = re.search(r"install the (\w+) package", str(exc))
        module = found.group(1) if found else getattr(exc, "name", None) or "a missing"
        return DataError(f"{path}: reading this file needs the {module} package (pip install {module})")
    return DataError(f"{path}: not a readable CSV table ({one_line(exc)})")


def _csv_format(path, compression, header):
    import pandas as pd

    try:
        sep = sniff_separator(_raw_lines(path, compression), path)
        rows = _sample_rows(path, compression, sep)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty") from None
    except csv_errors() as exc:
        raise csv_problem(path, exc) from None
    check_separator(path, sep, rows)
    decimal = "," if decimal_comma(sep, rows) else "."
    if header is None:
        plain = [[c.replace(",", ".") for c in r] for r in rows] if decimal == "," else rows
        header = has_header(plain)
    names = _header_names(rows[0]) if header else default_names(len(rows[0]))
    if header and len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise DataError(f"{path}: the header names column {dup!r} twice")
    return TableFormat(path, "csv", names, compression, sep, decimal, bool(header))


def _parquet_names(path):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow (pip install 'gmmkit[parquet]')") from None
    try:
        return tuple(str(n) for n in pq.read_schema(path).names if not str(n).startswith("__index_level_"))
    except Exception as exc:  # pyarrow raises its own families for corrupt files
        raise DataError(f"{path}: not a readable Parquet file ({one_line(exc)})") from None


def _npy_names(path):
    import numpy as np

    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npy array ({one_line(exc)})") from None
    if not isinstance(arr, np.ndarray):
        raise DataError(f"{path}: a .npz archive, not a .npy array; save one array with numpy.save")
    if arr.dtype.kind not in "biuf" and not arr.dtype.names:
        raise DataError(f"{path}: holds {arr.dtype} values; only real numbers can be fitted")
    if arr.dtype.names:
        return tuple(arr.dtype.names)
    return default_names(arr.shape[1] if arr.ndim == 2 else 1)


def detect_format(path, *, header=None):
    """Decide how to read the table file ``path``.

    Parameters
    ----------
    path : str or path-like
        A ``.csv``/``.tsv``/``.txt`` file (also compressed: ``.csv.gz`` ...), a
        ``.parquet``/``.pq`` file or a ``.npy`` array.
    header : None or bool, optional
        CSV-like files: whether the first row is a header; None (default)
        detects it with :func:`has_header`.

    Returns
    -------
    TableFormat

    Raises
    ------
    gmmkit.exceptions.DataError
        Missing, empty or unreadable file, unknown format, a header naming a
        column twice. The message is one line and names the file.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "t.txt")
    >>> with open(path, "w") as fh:
    ...     _ = fh.write("1 2\\n3 4\\n")
    >>> fmt = detect_format(path)
    >>> fmt.sep, fmt.header, fmt.names
    ('\\\\s+', False, ('x0', 'x1'))
    """
    path = check_file(path)
    kind, compression = table_kind(path)
    if kind == "csv":
        return _csv_format(path, compression, header)
    names = _parquet_names(path) if kind == "parquet" else _npy_names(path)
    return TableFormat(path, kind, names)


def same_columns(formats):
    """Check that every file of a multi-file table has the first file's columns.

    Columns are matched by name, so their order may differ; a file with other
    names (or another number of unnamed columns) raises a DataError naming it.

    >>> a = TableFormat("a.csv", "csv", ("u", "v"))
    >>> same_columns([a, TableFormat("b.csv", "csv", ("v", "u"))])
    >>> same_columns([a, TableFormat("c.csv", "csv", ("u", "w"))])
    Traceback (most recent call last):
    ...
    gmmkit.exceptions.DataError: c.csv: its columns differ from those of a.csv (missing 'v'; extra 'w')
    """
    first = formats[0]
    for fmt in formats[1:]:
        if set(fmt.names) == set(first.names) and fmt.header == first.header:
            continue
        missing = [n for n in first.names if n not in fmt.names]
        extra = [n for n in fmt.names if n not in first.names]
        what = "; ".join(part for part in (
            "missing " + ", ".join(map(repr, missing)) if missing else "",
            "extra " + ", ".join(map(repr, extra)) if extra else "",
            "header row " + ("present" if fmt.header else "absent") if fmt.header != first.header else "",
        ) if part)
        raise DataError(f"{fmt.path}: its columns differ from those of {first.path} ({what})")


def output_separator(path):
    """The separator to write a CSV-like file with: tab for ``.tsv`` (also compressed), else comma.

    >>> output_separator("out.tsv.gz")
    '\\t'
    """
    return "\t" if table_suffix(path) == ".tsv" else ","
