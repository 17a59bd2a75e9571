"""Backwards-compatible home of :func:`read_table` and :func:`write_table`.

They live in :mod:`gmmkit.tables` now (format rules in :mod:`gmmkit.tables.format`).

>>> from gmmkit.tabular import read_table
>>> from gmmkit.tables import read_table as same
>>> read_table is same
True
"""
from .tables.format import TABLE_SUFFIXES
from .tables.format import has_header as _has_header  # noqa: F401  (kept for old imports)
from .tables.memory import read_table, write_table

__all__ = ["read_table", "write_table", "TABLE_SUFFIXES"]
