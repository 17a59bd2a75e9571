"""The files of a multi-file table: paths, glob patterns and folders resolved, and every
file's format checked to agree with the first's (columns matched by name).

>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> for name, text in (("a.csv", "u,v\\n1,2\\n"), ("b.csv", "v,u\\n3,4\\n")):
...     with open(os.path.join(folder, name), "w") as fh:
...         _ = fh.write(text)
>>> [fmt.names for fmt in table_formats(table_files(os.path.join(folder, "*.csv")))]
[('u', 'v'), ('v', 'u')]
"""
from __future__ import annotations

import glob
import os

from ..exceptions import DataError
from .columns import default_columns, select_columns
from .format import detect_format, same_columns
from .frames import read_head

__all__ = ["table_files", "table_formats", "feature_columns"]


def table_files(paths):
    """The files named by ``paths`` (paths, glob patterns or folders of Parquet files), in order.

    A pattern that matches nothing, a missing file or a folder without Parquet
    files raises a DataError naming it.
    """
    files = []
    for path in map(os.fspath, [paths] if isinstance(paths, (str, os.PathLike)) else paths):
        if any(c in path for c in "*?["):
            hits = sorted(glob.glob(path))
            if not hits:
                raise DataError(f"no file matches {path}")
        elif os.path.isdir(path):
            hits = sorted(glob.glob(os.path.join(path, "*.parquet")))
            if not hits:
                raise DataError(f"{path}: folder holds no .parquet files")
        elif "://" not in path and not os.path.exists(path):
            raise DataError(f"data file not found: {path}")
        else:
            hits = [path]
        files += hits
    return files


def table_formats(files, *, header=None):
    """:func:`~gmmkit.tables.format.detect_format` of every file, checked to have the same
    columns (matched by name) and the same kind; a file that differs is a DataError naming it."""
    formats = [detect_format(f, header=header) for f in files]
    kinds = {fmt.kind for fmt in formats}
    if len(kinds) > 1:
        raise DataError(f"{formats[0].path} ... {formats[-1].path}: files of different kinds "
                        f"({', '.join(sorted(kinds))}); use files of one format")
    same_columns(formats)
    return formats


def feature_columns(source, columns=None, *, header=None):
    """The feature columns :func:`gmmkit.tables.read_table` picks, for files read in chunks.

    Parameters
    ----------
    source : str, path-like or list of them
        A file, a glob pattern, a folder of Parquet files or a list of paths
        (the files must have the same columns).
    columns : None, str or list of str/int, optional
        Names or positions to resolve; by default the numeric columns, decided
        from the first rows of the first file with read_table's rule (a column
        whose first value is text is a label and is left out).
    header : None or bool, optional
        CSV-like files: whether the first row is a header (None: detect).

    Returns
    -------
    list of str
        Column names, to pass as ``columns=`` to the chunked or Dask readers.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> with open(path, "w") as fh:
    ...     _ = fh.write("kind,a,b\\nx,1,2\\ny,3,4\\n")
    >>> feature_columns(path), feature_columns(path, "2,a")
    (['a', 'b'], ['b', 'a'])
    """
    fmt = table_formats(table_files(source), header=header)[0]
    if columns is not None:
        return select_columns(fmt.path, fmt.names, columns)
    return default_columns(fmt.path, read_head(fmt, 100))
