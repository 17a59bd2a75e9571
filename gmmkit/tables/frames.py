"""Reading a table file into pandas DataFrames, whole or in chunks, with the format rules
of :mod:`gmmkit.tables.format` (so both give the same columns and values).

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "t.tsv")
>>> with open(path, "w") as fh:
...     _ = fh.write("a\\tb\\n1\\t2\\n3\\t4\\n5\\t6\\n")
>>> [len(f) for f in iter_frames(path, 2)], list(read_frame(path).columns)
([2, 1], ['a', 'b'])
"""
from __future__ import annotations

from ..exceptions import DataError
from .format import TableFormat, csv_errors, csv_problem, detect_format, one_line

__all__ = ["read_frame", "read_head", "iter_frames", "as_format"]


def as_format(source, header=None):
    """``source`` if it is a :class:`TableFormat`, else :func:`detect_format` of it."""
    return source if isinstance(source, TableFormat) else detect_format(source, header=header)


def _no_rows(fmt):
    what = "a header row but no data rows" if fmt.header else "no data rows"
    return DataError(f"{fmt.path} has {what}")


def _read_csv(fmt, handle=None, **options):
    import pandas as pd

    try:
        return pd.read_csv(fmt.path if handle is None else handle, **fmt.csv_options(),
                           index_col=False, **options)
    except pd.errors.EmptyDataError:
        raise DataError(f"{fmt.path} is empty") from None
    except csv_errors() as exc:
        raise csv_problem(fmt.path, exc) from None


def _read_parquet(path):
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow (pip install 'gmmkit[parquet]')") from None
    except Exception as exc:  # pyarrow raises its own families for corrupt files
        raise DataError(f"{path}: not a readable Parquet file ({one_line(exc)})") from None


def _read_npy(fmt, lo=0, hi=None):
    import numpy as np
    import pandas as pd

    try:
        arr = np.load(fmt.path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{fmt.path}: not a readable .npy array ({one_line(exc)})") from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise DataError(f"{fmt.path}: expected a 1-D or 2-D array, got shape {arr.shape}")
    part = np.array(arr[lo:hi])
    if part.dtype.names:  # structured array: one column per field
        return pd.DataFrame({name: part[name].ravel() for name in part.dtype.names})
    return pd.DataFrame(part, columns=list(fmt.names))


def read_frame(source, *, header=None):
    """The whole table as a DataFrame (every column, names as strings).

    Parameters
    ----------
    source : str, path-like or TableFormat
        The file (see :func:`~gmmkit.tables.format.detect_format`).
    header : None or bool, optional
        CSV-like files: whether the first row is a header (None: detect).

    Returns
    -------
    pandas.DataFrame
        A Parquet file's index (if it saved one) stays the frame's index.

    Raises
    ------
    gmmkit.exceptions.DataError
        Unreadable file, or no data rows.
    """
    fmt = as_format(source, header)
    if fmt.kind == "csv":
        frame = _read_csv(fmt)
    elif fmt.kind == "parquet":
        frame = _read_parquet(fmt.path)
    else:
        frame = _read_npy(fmt)
    frame.columns = [str(c) for c in frame.columns]
    if frame.shape[0] == 0:
        raise _no_rows(fmt)
    return frame


def _parquet_batches(fmt, chunk_rows, columns):
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(fmt.path)
    except Exception as exc:  # pyarrow's own error families
        raise DataError(f"{fmt.path}: not a readable Parquet file ({one_line(exc)})") from None
    with pf:
        for batch in pf.iter_batches(batch_size=chunk_rows, columns=columns):
            yield batch.to_pandas()


def _npy_frames(fmt, chunk_rows, columns):
    lo = 0
    while True:
        frame = _read_npy(fmt, lo, lo + chunk_rows)
        if len(frame) == 0:
            return
        yield frame if columns is None else frame[list(columns)]
        lo += chunk_rows


def _csv_frames(fmt, chunk_rows, columns, handle):
    with _read_csv(fmt, handle, usecols=columns, chunksize=chunk_rows) as reader:
        try:
            yield from reader
        except csv_errors() as exc:
            raise csv_problem(fmt.path, exc) from None


def iter_frames(source, chunk_rows, *, columns=None, header=None, handle=None):
    """Yield the table as DataFrames of at most ``chunk_rows`` rows.

    Parameters
    ----------
    source : str, path-like or TableFormat
        The file.
    chunk_rows : int
        Rows per chunk.
    columns : list of str, optional
        Read only these columns (names of ``TableFormat.names``); default all.
    header : None or bool, optional
        CSV-like files: whether the first row is a header (None: detect).
    handle : binary file object, optional
        An open handle on an uncompressed CSV-like file, read instead of the
        path (so a caller can follow progress with ``handle.tell()``).

    Raises
    ------
    gmmkit.exceptions.DataError
        Unreadable file, or no data rows at all.
    """
    fmt = as_format(source, header)
    if fmt.kind == "csv":
        frames = _csv_frames(fmt, chunk_rows, columns, handle)
    elif fmt.kind == "parquet":
        frames = _parquet_batches(fmt, chunk_rows, columns)
    else:
        frames = _npy_frames(fmt, chunk_rows, columns)
    any_rows = False
    for frame in frames:
        if len(frame):
            any_rows = True
            frame.columns = [str(c) for c in frame.columns]
            yield frame
    if not any_rows:
        raise _no_rows(fmt)


def read_head(source, nrows=100, *, header=None):
    """The first ``nrows`` rows of the table (every column), e.g. to see column types."""
    frames = iter_frames(source, nrows, header=header)
    try:
        return next(frames)
    finally:
        frames.close()
