"""Lazy Dask arrays of table files, read with the same format rules as every other reader.

Needs the optional extra: ``pip install 'gmmkit[dask]'``.

>>> import numpy as np, os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "X.npy")
>>> np.save(path, np.arange(20.0).reshape(10, 2))
>>> read_dask(path, chunk_rows=4).chunks
((4, 4, 2), (2,))
"""
from __future__ import annotations

import os

import numpy as np

from ..exceptions import DataError, ParameterError
from .chunks import CsvSource, NpySource, ParquetSource
from .columns import select_columns
from .files import table_files, table_formats
from .format import one_line

__all__ = ["read_dask"]


def require_dask():
    try:
        import dask  # noqa: F401
        import dask.array  # noqa: F401
        import dask.dataframe  # noqa: F401
    except ImportError:  # pragma: no cover - optional dependency
        raise ParameterError("the Dask path needs dask: pip install 'gmmkit[dask]'") from None


def _read_npy_rows(path, lo, hi):
    """Rows lo:hi of a 2-D .npy file (runs on a worker; the file must be visible there)."""
    mm = np.load(path, mmap_mode="r")
    return np.array(mm[lo:hi])


def _npy_array(formats, chunk_rows):
    import dask
    import dask.array as da

    parts = []
    for fmt in formats:
        src = NpySource(fmt.path, chunk_rows=chunk_rows)
        N, D = src.shape
        for lo in range(0, N, src.rows):
            hi = min(N, lo + src.rows)
            block = dask.delayed(_read_npy_rows, pure=True)(os.path.abspath(fmt.path), lo, hi)
            parts.append(da.from_delayed(block, shape=(hi - lo, D), dtype=src.file_dtype))
    return da.concatenate(parts, axis=0)


def _csv_frame(fmt, columns):
    """One CSV-like file as a Dask DataFrame of the chosen columns (by name, in that order)."""
    import dask.dataframe as dd

    blocks = {"blocksize": None} if fmt.compression else {}  # a compressed file cannot be split
    frame = dd.read_csv(fmt.path, **fmt.csv_options(), usecols=list(columns),
                        dtype={c: "float64" for c in columns}, **blocks)
    return frame[list(columns)]


def _frame(formats, columns):
    import dask.dataframe as dd

    if formats[0].kind == "parquet":
        return dd.read_parquet([fmt.path for fmt in formats], columns=list(columns))
    return dd.concat([_csv_frame(fmt, columns) for fmt in formats])


def _columns(fmt, columns):
    """The feature columns of the first file, by the chunk readers' rules."""
    if fmt.kind == "parquet":
        return ParquetSource(fmt, columns=columns).columns
    return CsvSource(fmt, columns=columns).columns


def read_dask(source, *, columns=None, chunk_rows=None, header=None):
    """A 2-D dask array read lazily from files, so workers load their own blocks.

    Parameters
    ----------
    source : str or list of str
        ``.npy``, ``.parquet`` or CSV-like files (``.csv``, ``.tsv``, ``.txt``,
        also compressed), or a glob pattern of them. They are read with the
        rules of :func:`gmmkit.tables.format.detect_format` (separator, decimal
        comma, header), like :func:`gmmkit.tables.read_table`; the files must
        have the same columns (matched by name, in any order). On a real
        cluster the paths must be readable from every worker.
    columns : list of str or int, or str, optional
        Feature columns, by name or position (``x0, x1, ...`` for ``.npy``
        files). Default: all, which must be numeric.
    chunk_rows : int, optional
        Rows per block for ``.npy`` files (default about 32 MB; Parquet row groups
        and CSV blocks decide for those formats).
    header : None or bool, optional
        CSV-like files: whether the first row is a header (None: detect).

    Returns
    -------
    dask.array.Array
        Float rows, with known block sizes.

    Raises
    ------
    gmmkit.exceptions.DataError
        Missing or unreadable files, files whose columns differ, unknown or
        non-numeric columns; one line, naming the file.
    """
    require_dask()
    formats = table_formats(table_files(source), header=header)
    if formats[0].kind == "npy":
        X = _npy_array(formats, chunk_rows)
        names = list(formats[0].names)
        take = names if columns is None else select_columns(formats[0].path, names, columns)
        return X if take == names else X[:, [names.index(c) for c in take]]
    frame = _frame(formats, _columns(formats[0], columns))
    try:
        return frame.to_dask_array(lengths=True)
    except (ValueError, TypeError, OSError) as exc:
        raise DataError(f"{formats[0].path}: not a readable table ({one_line(exc)})") from None
