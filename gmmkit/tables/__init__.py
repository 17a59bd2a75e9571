"""Reading tables: one format layer for the in-memory, chunked and Dask readers.

- :mod:`~gmmkit.tables.format`: what a file is and how to parse it (kind,
  compression, separator, decimal comma, header row), written once;
- :mod:`~gmmkit.tables.columns`: feature columns by name, cells to floats;
- :mod:`~gmmkit.tables.frames`: a file as pandas DataFrames, whole or in chunks;
- :mod:`~gmmkit.tables.memory`: :func:`read_table` / :func:`write_table`;
- :mod:`~gmmkit.tables.chunks`: re-iterable chunk sources for out-of-core EM;
- :mod:`~gmmkit.tables.distributed`: :func:`read_dask`, lazy Dask arrays of files.

>>> from gmmkit.tables import detect_format, read_table
"""
from .format import TABLE_SUFFIXES, TableFormat, detect_format
from .frames import iter_frames, read_frame
from .memory import read_table, write_table

__all__ = ["TABLE_SUFFIXES", "TableFormat", "detect_format", "iter_frames", "read_frame",
           "read_table", "write_table"]
