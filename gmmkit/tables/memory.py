"""Read and write whole tables in memory (CSV-like, Parquet, ``.npy``).

:func:`read_table` is where gmmkit turns a user's file into a float matrix: the
format rules are :func:`gmmkit.tables.format.detect_format`'s (the chunked and
Dask readers follow the same), the feature columns are the numeric ones (or the
ones asked for, by name or position), and every problem is a one-line
:class:`gmmkit.exceptions.DataError` naming the file. Applications use it too,
so its signature is stable.

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

import os

import numpy as np

from ..exceptions import DataError
from ..io import atomic_path
from .columns import default_columns, float_matrix, select_columns
from .format import detect_format, output_separator, table_kind
from .frames import read_frame

__all__ = ["read_table", "write_table"]


def read_table(path, columns=None, *, header=None):
    """Read a CSV-like, Parquet or ``.npy`` table and pick its numeric columns.

    Parameters
    ----------
    path : str or path-like
        ``.csv``/``.tsv``/``.txt`` (also compressed: ``.csv.gz`` ...), ``.parquet``
        or ``.npy``. A CSV-like file's separator (``,`` ``;`` tab ``|`` or
        spaces), decimal comma and header row are detected (see
        :mod:`gmmkit.tables.format`). Columns without a header, and the columns
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
        The selected columns, C-contiguous; empty cells are NaN.
    names : list of str
        Names of the selected columns, in the order of ``X``'s columns.

    Raises
    ------
    gmmkit.exceptions.DataError
        Missing or empty file, unknown format, unknown or non-numeric column,
        no numeric column, or infinite values (or no values) in a selected
        column. The message is one line and names the file.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.npy")
    >>> np.save(path, np.arange(6.0).reshape(3, 2))
    >>> frame, X, names = read_table(path, columns=[1])
    >>> names, X.shape
    (['x1'], (3, 1))
    """
    fmt = detect_format(path, header=header)
    frame = read_frame(fmt)
    if columns is None:
        names = default_columns(fmt.path, frame)
    else:
        names = select_columns(fmt.path, list(frame.columns), columns)
    X = float_matrix(frame, names, fmt.path)
    empty = np.isnan(X).all(axis=0)
    if empty.any():
        raise DataError(f"{fmt.path}: column {names[int(np.argmax(empty))]!r} has no values")
    return frame, X, names


def _write_npy(frame, path, tmp):
    try:
        arr = frame.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{path}: .npy output needs numeric columns only") from None
    with open(tmp, "wb") as fh:
        np.save(fh, arr)


def _write_parquet(frame, path, tmp):
    try:
        frame.to_parquet(tmp, index=False)
    except ImportError:
        raise DataError(f"{path}: writing Parquet needs pyarrow (pip install 'gmmkit[parquet]')") from None


def write_table(frame, path, *, overwrite=True):
    """Write a DataFrame atomically as CSV, Parquet or ``.npy`` (chosen by the file name).

    A ``.tsv`` file (also compressed) is written tab-separated, other CSV-like
    files comma-separated; ``.npy`` needs an all-numeric frame. With
    ``overwrite=False`` an existing ``path`` raises
    :class:`gmmkit.exceptions.OutputExistsError`.

    >>> import pandas as pd, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "out.csv")
    >>> write_table(pd.DataFrame({"a": [1.5, 2.0]}), path)
    >>> open(path).read().split()
    ['a', '1.5', '2.0']
    """
    path = os.fspath(path)
    kind, _ = table_kind(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        if kind == "csv":
            # the temporary name keeps the suffix, so pandas infers compression from it
            frame.to_csv(tmp, index=False, sep=output_separator(path), compression="infer")
        elif kind == "parquet":
            _write_parquet(frame, path, tmp)
        else:
            _write_npy(frame, path, tmp)
