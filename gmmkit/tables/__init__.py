"""Reading tables: one format layer for the in-memory, chunked and Dask readers.

- :mod:`~gmmkit.tables.format`: what a file is and how to parse it (kind,
  compression, separator, decimal comma, header row), written once;
- :mod:`~gmmkit.tables.columns`: feature columns by name, cells to floats;
- :mod:`~gmmkit.tables.frames`: a file as pandas DataFrames, whole or in chunks;
- :mod:`~gmmkit.tables.memory`: :func:`read_table` / :func:`write_table`;
- :mod:`~gmmkit.tables.chunks`: re-iterable chunk sources for out-of-core EM;
- :mod:`~gmmkit.tables.distributed`: :func:`read_dask`, lazy Dask arrays of files;
- :mod:`~gmmkit.tables.files`: the files of a glob, checked to share their columns;
  :func:`feature_columns` (read_table's column choice, for chunked reading).

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "t.tsv")
>>> with open(path, "w") as fh:
...     _ = fh.write("a\\tb\\n1\\t2\\n3\\t4\\n")
>>> detect_format(path).sep == "\\t", read_table(path)[2], open_source(path).columns
(True, ['a', 'b'], ['a', 'b'])
"""
from .chunks import open_source
from .distributed import read_dask
from .files import feature_columns
from .format import TABLE_SUFFIXES, TableFormat, detect_format
from .frames import iter_frames, read_frame
from .memory import read_table, write_table

__all__ = ["TABLE_SUFFIXES", "TableFormat", "detect_format", "feature_columns", "iter_frames",
           "open_source", "read_dask", "read_frame", "read_table", "write_table"]
