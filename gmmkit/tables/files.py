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
from .format import detect_format, same_columns

__all__ = ["table_files", "table_formats"]


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
