"""Chunk sources: re-iterable readers of row chunks (``.npy``, Parquet, CSV-like files,
arrays, iterables), for out-of-core EM and the first-pass scan.

Files are read with the rules of :mod:`gmmkit.tables.format` (separator, decimal
comma, header, compression), so the chunks of a file hold the same columns and
values as :func:`gmmkit.tables.read_table` gives in memory; columns are chosen by
name, and the files of a glob must have the same columns.

>>> import numpy as np
>>> src = open_source(np.zeros((10, 2)), chunk_rows=4)
>>> [X.shape[0] for X, _ in src]
[4, 4, 2]
"""
from __future__ import annotations

import os

import numpy as np

from ..exceptions import DataError, ParameterError
from .columns import default_columns, float_matrix, select_columns, shown
from .files import table_files, table_formats
from .format import default_names
from .frames import as_format, iter_frames, read_head

__all__ = ["ChunkSource", "NpySource", "ArraySource", "ParquetSource", "CsvSource", "ConcatSource",
           "IterableSource", "ColumnsSource", "open_source", "float_dtype", "DEFAULT_CHUNK_BYTES"]

#: Target size of one chunk when ``chunk_rows`` is not given.
DEFAULT_CHUNK_BYTES = 32 * 2**20

class ChunkSource:
    """A re-iterable source of row chunks.

    Iterating yields ``(X, w)`` pairs: ``X`` a 2-D numeric array (possibly a
    buffer reused by the next chunk, so copy what you keep) and ``w`` a 1-D
    float64 array of sample weights or None. ``name`` appears in error messages.
    """

    name = "<chunks>"
    dtype = None  # float dtype to compute in, if known before reading

    def __iter__(self):  # pragma: no cover - interface
        raise NotImplementedError

    def fingerprint(self):
        """What tells whether the source changed between passes (file sources: path, size
        and modification time); None when there is nothing to check."""
        path = getattr(self, "path", None)
        if path is None or "://" in str(path):
            return None
        try:
            st = os.stat(path)
        except OSError:
            return (path, None)
        return (path, st.st_size, st.st_mtime_ns)


def _chunk_rows(n_features, itemsize, chunk_rows):
    if chunk_rows is None:
        return max(1024, DEFAULT_CHUNK_BYTES // max(1, n_features * itemsize))
    if int(chunk_rows) < 1:
        raise ParameterError(f"chunk_rows must be >= 1, got {chunk_rows}")
    return int(chunk_rows)


def float_dtype(dtype):
    """float32 stays float32 (computed in float32, as in memory); all else float64."""
    return np.dtype(np.float32) if np.dtype(dtype) == np.float32 else np.dtype(np.float64)


class NpySource(ChunkSource):
    """A 2-D ``.npy`` file read chunk by chunk into one reused buffer.

    The header is read through ``np.load(mmap_mode="r")``; rows are then read with
    plain file reads, so resident memory is one chunk, not the pages touched.
    """

    def __init__(self, path, *, chunk_rows=None):
        self.path = self.name = os.fspath(path)
        try:
            mm = np.load(self.path, mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise DataError(f"{self.path}: not a readable .npy file: {exc}") from None
        if not isinstance(mm, np.ndarray):
            raise DataError(f"{self.path}: a .npz archive, not a .npy array; save one array with numpy.save")
        if mm.ndim != 2:
            raise DataError(f"{self.path}: expected a 2-D array (rows x features), got shape {mm.shape}")
        if mm.dtype.kind not in "fiu":
            raise DataError(f"{self.path}: expected numeric data, got dtype {mm.dtype}")
        self.shape, self.file_dtype = mm.shape, mm.dtype
        self.columns = list(default_names(mm.shape[1]))
        self.fortran = mm.shape[0] > 1 and mm.shape[1] > 1 and not mm.flags.c_contiguous
        self.offset = int(mm.offset)
        del mm
        self.dtype = float_dtype(self.file_dtype)
        self.rows = _chunk_rows(self.shape[1], self.file_dtype.itemsize, chunk_rows)

    def __iter__(self):
        N, D = self.shape
        if self.fortran:  # column-major file: strided reads through a memory map
            mm = np.load(self.path, mmap_mode="r")
            for lo in range(0, N, self.rows):
                yield np.ascontiguousarray(mm[lo:lo + self.rows], dtype=self.dtype), None
            return
        buf = np.empty((min(self.rows, N), D), dtype=self.file_dtype)
        row_bytes = D * self.file_dtype.itemsize
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            for lo in range(0, N, self.rows):
                n = min(self.rows, N - lo)
                view = buf[:n]
                got = fh.readinto(memoryview(view.reshape(-1).view(np.uint8)))
                if got != n * row_bytes:
                    raise DataError(f"{self.path}: file is truncated (row {lo + got // row_bytes} of {N})")
                if view.dtype != self.dtype or not view.dtype.isnative:
                    view = view.astype(self.dtype)
                yield view, None


class ArraySource(ChunkSource):
    """Row slices of an in-memory array or ``np.memmap`` (optionally with weights)."""

    def __init__(self, X, sample_weight=None, *, chunk_rows=None, name="<array>"):
        if X.ndim != 2:
            raise DataError(f"{name}: expected a 2-D array (rows x features), got shape {X.shape}")
        if X.dtype.kind not in "fiu":
            raise DataError(f"{name}: expected numeric data, got dtype {X.dtype}")
        self.X, self.name = X, name
        self.dtype = float_dtype(X.dtype)
        self.w = None
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64)
            if w.shape != (X.shape[0],):
                raise DataError(f"sample_weight: expected shape ({X.shape[0]},), got {w.shape}")
            self.w = w
        self.rows = _chunk_rows(X.shape[1], X.dtype.itemsize, chunk_rows)

    def __iter__(self):
        for lo in range(0, self.X.shape[0], self.rows):
            w = None if self.w is None else self.w[lo:lo + self.rows]
            yield np.ascontiguousarray(self.X[lo:lo + self.rows], dtype=self.dtype), w


def _feature_columns(fmt, columns, numeric):
    """The chosen columns of a file: ``columns`` resolved by name (or position), else every
    column, which must then all be numeric (``numeric(name)`` tells from a sample)."""
    if columns is not None:
        return select_columns(fmt.path, fmt.names, columns)
    bad = [n for n in fmt.names if not numeric(n)]
    if bad:
        good = [n for n in fmt.names if n not in bad]
        raise DataError(f"{fmt.path}: non-numeric column(s) {bad}; choose the feature columns with "
                        f"columns=[...] (numeric: {shown(good) or 'none'})")
    return list(fmt.names)


class ParquetSource(ChunkSource):
    """Record batches of a Parquet file (pyarrow), selected numeric columns."""

    def __init__(self, path, *, columns=None, chunk_rows=None):
        try:
            import pyarrow.parquet as pq
            import pyarrow.types as pt
        except ImportError:  # pragma: no cover - optional dependency
            raise ParameterError("reading Parquet needs pyarrow: pip install 'gmmkit[parquet]'") from None
        self.fmt = as_format(path)
        self.path = self.name = self.fmt.path
        schema = pq.read_schema(self.path)
        num = lambda c: pt.is_floating(schema.field(c).type) or pt.is_integer(schema.field(c).type)  # noqa: E731
        self.columns = _feature_columns(self.fmt, columns, num)
        types = [schema.field(c).type for c in self.columns]
        self.dtype = np.dtype(np.float32) if all(pt.is_float32(t) for t in types) else np.dtype(np.float64)
        self.rows = _chunk_rows(len(self.columns), 8, chunk_rows)

    def __iter__(self):
        import pyarrow as pa

        try:
            yield from self._batches()
        except (OSError, ValueError, pa.ArrowException) as exc:
            if isinstance(exc, DataError):
                raise
            raise DataError(f"{self.path}: cannot read the Parquet file (truncated or changed?): "
                            f"{' '.join(str(exc).split())[:160]}") from None

    def _batches(self):
        import pyarrow.parquet as pq

        with pq.ParquetFile(self.path) as pf:
            for batch in pf.iter_batches(batch_size=self.rows, columns=self.columns):
                if batch.schema.names != list(self.columns):
                    raise DataError(f"{self.path}: columns {batch.schema.names} where {list(self.columns)} "
                                    "were read before: the file changed")
                X = np.empty((batch.num_rows, len(self.columns)), dtype=self.dtype)
                for j, col in enumerate(batch.columns):
                    X[:, j] = col.to_numpy(zero_copy_only=False)
                yield X, None


class CsvSource(ChunkSource):
    """Chunks of a CSV-like file (also compressed), read with the rules of
    :func:`gmmkit.tables.format.detect_format`: the same separator, decimal mark,
    header and column names as :func:`gmmkit.tables.read_table`. Empty cells are
    NaN; text in a chosen column or an infinity is a DataError naming the row."""

    def __init__(self, path, *, columns=None, chunk_rows=None, header=None):
        self.fmt = as_format(path, header)
        self.path = self.name = self.fmt.path
        if columns is None:
            numeric = default_columns(self.path, read_head(self.fmt, 100))  # refuses numbers-then-text
            self.columns = _feature_columns(self.fmt, None, numeric.__contains__)
        else:
            self.columns = _feature_columns(self.fmt, columns, None)
        self.dtype = np.dtype(np.float64)
        self.rows = _chunk_rows(len(self.columns), 8, chunk_rows)

    def __iter__(self):
        row0 = 0
        for frame in iter_frames(self.fmt, self.rows, columns=self.columns):
            yield float_matrix(frame, self.columns, self.path, row0), None
            row0 += len(frame)


class ConcatSource(ChunkSource):
    """Several sources one after the other (e.g. the files of a glob)."""

    def __init__(self, sources):
        self.sources = list(sources)
        self.name = self.sources[0].name if len(self.sources) == 1 else (
            f"{self.sources[0].name} (+{len(self.sources) - 1} more)")
        self.columns = getattr(self.sources[0], "columns", None)  # file sources: the same names
        dts = {s.dtype for s in self.sources}
        self.dtype = dts.pop() if len(dts) == 1 else np.dtype(np.float64)

    def __iter__(self):
        for s in self.sources:
            for X, w in s:
                yield X, w

    def fingerprint(self):
        return tuple(s.fingerprint() for s in self.sources)


class IterableSource(ChunkSource):
    """A re-iterable of chunks, or a function returning a fresh iterator of chunks."""

    def __init__(self, obj, name="<chunks>"):
        self.obj, self.name = obj, name
        if not callable(obj):
            try:
                it = iter(obj)
            except TypeError:
                raise ParameterError(
                    f"cannot read data from a {type(obj).__name__}: pass a path (.npy, .parquet, "
                    ".csv or a glob), an array, or a re-iterable of chunks"
                ) from None
            if it is obj:
                raise ParameterError(
                    "EM reads the data once per iteration, but a one-shot iterator/generator was "
                    "given: pass a list of chunks or a function returning a fresh iterator"
                )

    def __iter__(self):
        for item in (self.obj() if callable(self.obj) else self.obj):
            w = None
            if isinstance(item, tuple):
                if len(item) != 2:
                    raise DataError(f"{self.name}: a chunk must be X or (X, sample_weight)")
                item, w = item
                w = None if w is None else np.asarray(w, dtype=np.float64)
            X = np.asarray(item)
            if X.ndim != 2 or X.dtype.kind not in "fiu":
                raise DataError(f"{self.name}: each chunk must be a 2-D numeric array, got "
                                f"shape {X.shape} dtype {X.dtype}")
            if w is not None and w.shape != (X.shape[0],):
                raise DataError(f"{self.name}: chunk weights have shape {w.shape}, expected ({X.shape[0]},)")
            yield X, w


_SOURCES = {"csv": CsvSource, "parquet": ParquetSource}


class ColumnsSource(ChunkSource):
    """Some columns of another source's chunks, chosen by name among ``names``
    (e.g. ``x1`` of a ``.npy`` file, whose columns are ``x0, x1, ...``)."""

    def __init__(self, source, names, columns):
        self.source, self.name, self.dtype = source, source.name, source.dtype
        self.columns = select_columns(source.name, names, columns)
        self.take = [list(names).index(c) for c in self.columns]

    def __iter__(self):
        for X, w in self.source:
            yield np.ascontiguousarray(X[:, self.take]), w

    def fingerprint(self):
        return self.source.fingerprint()


def _open_file(fmt, columns, chunk_rows):
    if fmt.kind != "npy":
        return _SOURCES[fmt.kind](fmt, columns=columns, chunk_rows=chunk_rows)
    source = NpySource(fmt.path, chunk_rows=chunk_rows)
    if columns is None or select_columns(fmt.path, fmt.names, columns) == source.columns:
        return source
    return ColumnsSource(source, fmt.names, columns)


def _file_source(paths, columns, chunk_rows, header):
    formats = table_formats(table_files(paths), header=header)
    first = _open_file(formats[0], columns, chunk_rows)
    columns = getattr(first, "columns", None)  # the first file decides; the others read the same names
    sources = [first] + [_open_file(fmt, columns, chunk_rows) for fmt in formats[1:]]
    return first if len(sources) == 1 else ConcatSource(sources)


def open_source(source, *, columns=None, chunk_rows=None, sample_weight=None, header=None):
    """Turn ``source`` into a :class:`ChunkSource`.

    Parameters
    ----------
    source : str, path, list of paths, ndarray, np.memmap, ChunkSource or iterable
        A ``.npy``, ``.parquet`` or CSV-like file (``.csv``, ``.tsv``, ``.txt``,
        also compressed: ``.csv.gz`` ...), a glob pattern (``"data/*.csv"``) or
        folder of Parquet files, a list of paths, an array, or a re-iterable of
        chunks (list, or function returning an iterator). Files are read with
        the rules of :func:`gmmkit.tables.format.detect_format`, so a file gives
        the same columns and values as :func:`gmmkit.tables.read_table`; the
        files of a glob must have the same columns (matched by name).
    columns : list of str or int, or str, optional
        Feature columns: names or 0-based positions, or ``"a,b"`` (the columns
        of a ``.npy`` file are ``x0, x1, ...``). Default: all, which must be
        numeric (see :func:`gmmkit.tables.files.feature_columns` for the
        columns :func:`~gmmkit.tables.read_table` would pick).
    chunk_rows : int, optional
        Rows per chunk (default: about 32 MB per chunk).
    sample_weight : array, optional
        Weights of the rows (array sources only; chunks may carry their own).
    header : None or bool, optional
        CSV-like files: whether the first row is a header (None: detect).

    Examples
    --------
    >>> import numpy as np
    >>> src = open_source(np.zeros((10, 2)), chunk_rows=4)
    >>> [X.shape[0] for X, _ in src]
    [4, 4, 2]
    """
    if isinstance(source, ChunkSource):
        return source
    if sample_weight is not None and not isinstance(source, np.ndarray):
        raise ParameterError("sample_weight applies to array sources; chunks can carry (X, w) pairs")
    if isinstance(source, (str, os.PathLike)) or (isinstance(source, (list, tuple)) and source and all(
            isinstance(s, (str, os.PathLike)) for s in source)):
        return _file_source(source, columns, chunk_rows, header)
    if isinstance(source, np.ndarray):
        return ArraySource(source, sample_weight, chunk_rows=chunk_rows)
    if type(source).__module__.split(".")[0] == "dask":
        raise ParameterError("a dask collection was given: use gmmkit.dask.fit_dask")
    if hasattr(source, "to_numpy") and hasattr(source, "columns"):  # a DataFrame in memory
        return ArraySource(source.to_numpy(), chunk_rows=chunk_rows, name="<DataFrame>")
    return IterableSource(source)
