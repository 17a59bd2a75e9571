"""Out-of-core EM: exact fits from data that do not fit in memory, and streaming EM.

EM only needs, at every iteration, sums over the rows (weights, first and second
moments of the responsibilities). Those sums add up over chunks, so
:func:`fit_chunks` streams the data through the same fused Numba kernel one
chunk at a time and adds the statistics: the result is the in-memory fit's, up
to the order of floating-point additions, while memory stays bounded by one
chunk (plus a fixed-size sample). The M-step, component re-seeding and the
convergence test are the estimator's own (:class:`gmmkit.mixture._FitContext`).

Sources (see :func:`open_source`): a ``.npy`` file (read chunk by chunk into one
reused buffer, so pages of the file never pile up in the process), Parquet and
CSV files (pyarrow / pandas chunked readers), a glob pattern or list of such
files, an array or ``np.memmap``, or any re-iterable of chunks (a list, or a
function returning a fresh iterator; a chunk is an array, a DataFrame or an
``(X, sample_weight)`` pair).

The first pass over the data counts rows, computes the mean (EM runs on data
shifted by it, like the in-memory fit), checks every value is finite and keeps a
reservoir sample of ``sample_size`` rows; the initialisation (k-means,
k-means++, ...) runs on that sample. When the whole data set fits in the sample
the initialisation is exactly the in-memory one.

:func:`partial_fit` is stepwise (online) EM for data arriving over time: it is
approximate (see its docstring for the step-size schedule).

>>> import numpy as np, os, tempfile
>>> from gmmkit import GaussianMixture
>>> from gmmkit.outofcore import fit_chunks
>>> rng = np.random.default_rng(0)
>>> X = np.vstack([rng.normal(-3, 1, (3000, 2)), rng.normal(3, 1, (3000, 2))])
>>> path = os.path.join(tempfile.mkdtemp(), "X.npy")
>>> np.save(path, X)
>>> gm = fit_chunks(GaussianMixture(2, random_state=0), path, chunk_rows=1000)
>>> ref = GaussianMixture(2, random_state=0).fit(X)
>>> bool(np.allclose(gm.means_, ref.means_, rtol=1e-10, atol=0))
True
"""
from __future__ import annotations

import glob
import os

import numpy as np

from ._missing import column_means, observed_sums
from .exceptions import DataError, ParameterError

__all__ = [
    "ChunkSource", "open_source", "fit_chunks", "score_chunks", "partial_fit",
    "step_size", "DEFAULT_SAMPLE_SIZE",
]

#: Target size of one chunk when ``chunk_rows`` is not given.
DEFAULT_CHUNK_BYTES = 32 * 2**20
#: Rows kept in the reservoir sample used for initialisation and re-seeding.
DEFAULT_SAMPLE_SIZE = 20_000
_EMPTY = np.empty(0)


# ====================================================================== sources
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


def _chunk_rows(n_features, itemsize, chunk_rows):
    if chunk_rows is None:
        return max(1024, DEFAULT_CHUNK_BYTES // max(1, n_features * itemsize))
    if int(chunk_rows) < 1:
        raise ParameterError(f"chunk_rows must be >= 1, got {chunk_rows}")
    return int(chunk_rows)


def _float_dtype(dtype):
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
        if mm.ndim != 2:
            raise DataError(f"{self.path}: expected a 2-D array (rows x features), got shape {mm.shape}")
        if mm.dtype.kind not in "fiu":
            raise DataError(f"{self.path}: expected numeric data, got dtype {mm.dtype}")
        self.shape, self.file_dtype = mm.shape, mm.dtype
        self.fortran = mm.shape[0] > 1 and mm.shape[1] > 1 and not mm.flags.c_contiguous
        self.offset = int(mm.offset)
        del mm
        self.dtype = _float_dtype(self.file_dtype)
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
        self.dtype = _float_dtype(X.dtype)
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


def _numeric_columns(names, types, is_numeric, path, columns):
    if columns is not None:
        missing = [c for c in columns if c not in names]
        if missing:
            raise DataError(f"{path}: no column(s) {missing}; columns are {list(names)}")
        return list(columns)
    bad = [n for n, t in zip(names, types) if not is_numeric(t)]
    if bad:
        raise DataError(
            f"{path}: non-numeric column(s) {bad}; choose the feature columns with columns=[...]"
        )
    return list(names)


class ParquetSource(ChunkSource):
    """Record batches of a Parquet file (pyarrow), selected numeric columns."""

    def __init__(self, path, *, columns=None, chunk_rows=None):
        try:
            import pyarrow.parquet as pq
            import pyarrow.types as pt
        except ImportError:  # pragma: no cover - optional dependency
            raise ParameterError("reading Parquet needs pyarrow: pip install 'gmmkit[parquet]'") from None
        self.path = self.name = os.fspath(path)
        try:
            schema = pq.read_schema(self.path)
        except (OSError, ValueError) as exc:
            raise DataError(f"{self.path}: not a readable Parquet file: {exc}") from None
        num = lambda t: pt.is_floating(t) or pt.is_integer(t)  # noqa: E731
        self.columns = _numeric_columns(schema.names, schema.types, num, self.path, columns)
        types = [schema.field(c).type for c in self.columns]
        self.dtype = np.dtype(np.float32) if all(pt.is_float32(t) for t in types) else np.dtype(np.float64)
        self.rows = _chunk_rows(len(self.columns), 8, chunk_rows)

    def __iter__(self):
        import pyarrow.parquet as pq

        with pq.ParquetFile(self.path) as pf:
            for batch in pf.iter_batches(batch_size=self.rows, columns=self.columns):
                X = np.empty((batch.num_rows, len(self.columns)), dtype=self.dtype)
                for j, col in enumerate(batch.columns):
                    X[:, j] = col.to_numpy(zero_copy_only=False)
                yield X, None


class CsvSource(ChunkSource):
    """Chunks of a CSV file with a header row (pandas), selected numeric columns."""

    def __init__(self, path, *, columns=None, chunk_rows=None):
        import pandas as pd

        self.path = self.name = os.fspath(path)
        try:
            head = pd.read_csv(self.path, nrows=100)
        except (OSError, ValueError) as exc:
            raise DataError(f"{self.path}: not a readable CSV file: {exc}") from None
        num = lambda t: t.kind in "fiu"  # noqa: E731
        self.columns = _numeric_columns(list(head.columns), list(head.dtypes), num, self.path, columns)
        self.dtype = np.dtype(np.float64)
        self.rows = _chunk_rows(len(self.columns), 8, chunk_rows)

    def __iter__(self):
        import pandas as pd

        try:
            with pd.read_csv(self.path, usecols=self.columns, chunksize=self.rows) as reader:
                for frame in reader:
                    yield frame[self.columns].to_numpy(dtype=np.float64), None
        except ValueError as exc:
            raise DataError(f"{self.path}: non-numeric value in columns {self.columns}: {exc}") from None


class ConcatSource(ChunkSource):
    """Several sources one after the other (e.g. the files of a glob)."""

    def __init__(self, sources):
        self.sources = list(sources)
        self.name = self.sources[0].name if len(self.sources) == 1 else (
            f"{self.sources[0].name} (+{len(self.sources) - 1} more)")
        dts = {s.dtype for s in self.sources}
        self.dtype = dts.pop() if len(dts) == 1 else np.dtype(np.float64)

    def __iter__(self):
        for s in self.sources:
            for X, w in s:
                yield X, w


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


_READERS = {".npy": NpySource, ".parquet": ParquetSource, ".pq": ParquetSource,
            ".csv": CsvSource, ".gz": CsvSource, ".bz2": CsvSource, ".zip": CsvSource}


def _file_source(path, columns, chunk_rows):
    path = os.fspath(path)
    if os.path.isdir(path):
        files = sorted(glob.glob(os.path.join(path, "*.parquet")))
        if not files:
            raise DataError(f"{path}: folder holds no .parquet files")
        return ConcatSource([ParquetSource(f, columns=columns, chunk_rows=chunk_rows) for f in files])
    if not os.path.exists(path):
        raise DataError(f"data file not found: {path}")
    ext = os.path.splitext(path)[1].lower()
    reader = _READERS.get(ext)
    if reader is None:
        raise DataError(f"{path}: unknown data file type {ext!r}; use .npy, .parquet or .csv")
    if reader is NpySource:
        if columns is not None:
            raise ParameterError("columns=... applies to Parquet/CSV files, not .npy")
        return NpySource(path, chunk_rows=chunk_rows)
    return reader(path, columns=columns, chunk_rows=chunk_rows)


def open_source(source, *, columns=None, chunk_rows=None, sample_weight=None):
    """Turn ``source`` into a :class:`ChunkSource`.

    Parameters
    ----------
    source : str, path, list of paths, ndarray, np.memmap, ChunkSource or iterable
        A path to a ``.npy``, ``.parquet`` or ``.csv`` file, a glob pattern
        (``"data/*.parquet"``) or folder of Parquet files, a list of paths, an
        array, or a re-iterable of chunks (list, or function returning an iterator).
    columns : list of str, optional
        Feature columns of Parquet/CSV files (default: all, which must be numeric).
    chunk_rows : int, optional
        Rows per chunk (default: about 32 MB per chunk).
    sample_weight : array, optional
        Weights of the rows (array sources only; chunks may carry their own).

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
    if isinstance(source, (str, os.PathLike)):
        s = os.fspath(source)
        if any(c in s for c in "*?["):
            files = sorted(glob.glob(s))
            if not files:
                raise DataError(f"no file matches {s}")
            return ConcatSource([_file_source(f, columns, chunk_rows) for f in files])
        return _file_source(s, columns, chunk_rows)
    if isinstance(source, (list, tuple)) and source and all(
            isinstance(s, (str, os.PathLike)) for s in source):
        return ConcatSource([_file_source(f, columns, chunk_rows) for f in source])
    if isinstance(source, np.ndarray):
        return ArraySource(source, sample_weight, chunk_rows=chunk_rows)
    if type(source).__module__.split(".")[0] == "dask":
        raise ParameterError("a dask collection was given: use gmmkit.dask.fit_dask")
    if hasattr(source, "to_numpy") and hasattr(source, "columns"):  # a DataFrame in memory
        return ArraySource(source.to_numpy(), chunk_rows=chunk_rows, name="<DataFrame>")
    return IterableSource(source)


# ====================================================================== first pass
class _Reservoir:
    """Uniform (or weight-proportional) sample without replacement of a stream of rows.

    Rows are kept in order, untouched, until more than ``size`` have been seen
    (so a small data set is its own sample and no random numbers are drawn);
    from then on every row gets the key ``log(u) / w`` and the ``size`` largest
    keys are kept (Efraimidis and Spirakis' weighted reservoir, A-Res).
    """

    def __init__(self, size, rng):
        self.size, self.rng = int(size), rng
        self.parts, self.wparts, self.count = [], [], 0
        self.keys = self.rows = None

    def _keys(self, n, w):
        logu = np.log1p(-self.rng.random_sample(n))  # log(1 - u), u in [0, 1): finite
        if w is None:
            return logu
        k = np.full(n, -np.inf)
        pos = w > 0
        k[pos] = logu[pos] / w[pos]
        return k

    def _keep(self, rows, keys):
        if rows.shape[0] > self.size:
            top = np.argpartition(keys, -self.size)[-self.size:]
            rows, keys = rows[top], keys[top]
        self.rows, self.keys = rows, keys

    def add(self, X, w):
        if self.keys is None:
            self.parts.append(np.array(X, copy=True))
            self.wparts.append(None if w is None else np.array(w, dtype=np.float64))
            self.count += X.shape[0]
            if self.count > self.size:
                rows = np.concatenate(self.parts)
                has_w = any(p is not None for p in self.wparts)
                ws = np.concatenate([np.ones(p.shape[0]) if q is None else q
                                     for p, q in zip(self.parts, self.wparts)]) if has_w else None
                self.parts = self.wparts = None
                self._keep(rows, self._keys(rows.shape[0], ws))
            return
        keys = self._keys(X.shape[0], w)
        new = keys > self.keys.min()
        if new.any():
            self._keep(np.concatenate([self.rows, X[new]]), np.concatenate([self.keys, keys[new]]))

    def sample(self, dtype):
        """(rows, weights): all rows with their weights if they fit, else the sample, unweighted."""
        if self.keys is None:
            rows = np.ascontiguousarray(np.concatenate(self.parts), dtype=dtype)
            if all(q is None for q in self.wparts):
                return rows, _EMPTY
            return rows, np.concatenate([np.ones(p.shape[0]) if q is None else q
                                         for p, q in zip(self.parts, self.wparts)])
        keep = np.isfinite(self.keys)  # zero-weight rows only if fewer positive rows than size
        return np.ascontiguousarray(self.rows[keep], dtype=dtype), _EMPTY


class _Scan:
    """What the first pass learns: size, weight total, mean, dtype and a sample."""

    def __init__(self, source, n_components, rng, sample_size, allow_nan=False):
        if int(sample_size) < max(2, n_components):
            raise ParameterError(f"sample_size must be >= n_components and >= 2, got {sample_size}")
        res = _Reservoir(sample_size, rng)
        n = nnz = 0
        total, sums, counts, D, dtype, max_rows = 0.0, None, None, None, source.dtype, 0
        self.chunk_nan = []  # per chunk, in source order: passes take the NaN path only there
        for X, w in source:
            if D is None:
                D = X.shape[1]
                dtype = _float_dtype(X.dtype) if dtype is None else dtype
                sums, counts = np.zeros(D), np.zeros(D)
                lo, hi = np.full(D, np.inf), np.full(D, -np.inf)
            span = f"rows {n}..{n + X.shape[0] - 1}"
            if X.shape[1] != D:
                raise DataError(f"{source.name}: a chunk has {X.shape[1]} features, earlier ones {D}")
            nan, problem = chunk_problem(X, allow_nan)
            if problem:
                raise DataError(f"{source.name}: {problem} in {span}")
            if w is not None and (not np.isfinite(w).all() or (w < 0).any()):
                raise DataError(f"{source.name}: sample weights must be finite and >= 0 ({span})")
            self.chunk_nan.append(nan is not None)
            part = column_summary(X, w, nan)
            sums += part["sums"]
            counts += part["counts"]
            total += part["total"]
            nnz += part["nnz"]
            lo, hi = np.fmin(lo, part["lo"]), np.fmax(hi, part["hi"])
            n += X.shape[0]
            max_rows = max(max_rows, X.shape[0])
            res.add(X, w)
        if D is None or n < 2:
            raise DataError(f"{source.name}: need at least 2 rows, got {n}")
        if n < n_components or nnz < n_components:
            raise DataError(f"{source.name}: Expected n_samples >= n_components but got "
                            f"n_components = {n_components}, n_samples = {min(n, nnz)} (weight > 0)")
        if not total > 0:
            raise DataError(f"{source.name}: the sample weights sum to zero")
        self.n, self.total, self.D, self.dtype, self.max_rows = n, total, D, dtype, max_rows
        self.shift = column_means(sums, counts)
        self.bounds = scan_bounds(lo, hi)
        self.sample, self.sample_w = res.sample(dtype)
        if any(self.chunk_nan):  # initialisation and re-seeding run on the sample, mean-imputed
            self.sample = np.where(np.isnan(self.sample), self.shift.astype(dtype), self.sample)


def column_summary(X, w, nan=None):
    """One chunk's part of the first pass: weight total, rows with weight, per-column
    sums and weights of the observed (non-NaN) entries, and bounds of the weighted rows
    (NaN skipped). The out-of-core and Dask scans add these up the same way."""
    rows = X if w is None else X[w > 0]
    D = X.shape[1]
    out = {"total": float(X.shape[0] if w is None else w.sum()), "nnz": int(rows.shape[0])}
    # per-column means over the observed entries, as the in-memory fit
    out["sums"], out["counts"] = observed_sums(X, w, nan)
    empty = rows.shape[0] == 0
    out["lo"] = np.full(D, np.inf) if empty else np.fmin.reduce(rows, axis=0).astype(np.float64)
    out["hi"] = np.full(D, -np.inf) if empty else np.fmax.reduce(rows, axis=0).astype(np.float64)
    return out


def scan_bounds(lo, hi):
    """The (2, D) bounds of the scanned rows; 0 for a column that was never observed."""
    return np.vstack([np.where(np.isfinite(lo), lo, 0.0), np.where(np.isfinite(hi), hi, 0.0)])


def chunk_problem(X, allow_nan):
    """(NaN mask or None if there is no NaN, what is wrong with the chunk or None)."""
    if np.isfinite(X).all():
        return None, None
    nan = np.isnan(X)
    if np.isinf(X).any():
        return nan, "infinity"
    if not allow_nan:
        return nan, "NaN (missing values need missing='em')"
    if nan.all(axis=1).any():
        return nan, "a row with every value missing"
    return nan, None


# ====================================================================== EM driver
def _run_em(est, ctx, rng, do_init):
    """The estimator's own EM driver (restarts, convergence, callback, fitted attributes)
    on a context whose ``e_pass`` streams chunks or maps over dask blocks."""
    ctx.fit(rng, do_init)
    return est


def _set_n_features(est, D):
    est.n_features_in_ = int(D)
    if hasattr(est, "feature_names_in_"):
        del est.feature_names_in_


def _chunked_context_class():
    from .mixture import _FitContext

    class _ChunkedContext(_FitContext):
        """A fit context whose E-pass streams the chunks of a source and adds their statistics.

        ``X``/``sw`` hold the reservoir sample between passes (used to initialise and
        to re-seed collapsed components); during a pass they point at each chunk so
        the parent's E-pass (kernel parameters, Numba kernel, finiteness check) runs
        unchanged on it.
        """

        def __init__(self, est, source, scan, entry, rng):
            super().__init__(est, scan.sample, scan.sample_w, scan.total, scan.shift, entry, rng)
            if self.noise:  # the noise region is the whole data's bounding box, not the sample's
                self.noise_bounds = scan.bounds
                if est.noise_volume is None:
                    width = scan.bounds[1] - scan.bounds[0]
                    self.log_volume = float(np.log(np.where(width > 0, width, 1.0)).sum())
            self.source, self.dtype = source, scan.dtype
            self._sample = (self.X, self.sw)
            self.chunk_nan = scan.chunk_nan
            self.log_widths = self.noise_log_widths()
            from . import _engine

            work = self.K * self.D * (self.D if entry.family == "full" else 1)
            self.parallel = _engine.use_parallel(scan.max_rows, work)
            self.n_passes = 0

        def e_pass(self, params):
            ll, acc = 0.0, None
            try:
                for i, (X, w) in enumerate(self.source):
                    self.X = np.ascontiguousarray(X, dtype=self.dtype)
                    self.sw = _EMPTY if w is None else np.ascontiguousarray(w, dtype=np.float64)
                    # the scan's flag; a chunk it did not see takes the (always exact) NaN path
                    if i >= len(self.chunk_nan) or self.chunk_nan[i]:
                        part, stats = self._e_pass_missing(params)
                    else:
                        part, stats = super().e_pass(params)
                    ll += part
                    acc = [s.copy() for s in stats] if acc is None else [a + s for a, s in zip(acc, stats)]
            finally:
                self.X, self.sw = self._sample
            self.n_passes += 1
            return ll, tuple(acc)

        def _e_pass_missing(self, params):
            from ._missing import Patterns

            self.pattern_blocks = Patterns(self.X, self.sw)
            return self.e_pass_patterns(params)

    return _ChunkedContext


def fit_chunks(estimator, source, *, sample_weight=None, columns=None, chunk_rows=None,
               sample_size=DEFAULT_SAMPLE_SIZE):
    """Fit ``estimator`` (a :class:`gmmkit.GaussianMixture`) by exact EM over chunks.

    Every EM iteration reads the whole source once, chunk by chunk; memory is one
    chunk plus a ``sample_size``-row sample. The fitted attributes are those
    ``estimator.fit`` sets (``weights_``, ``means_``, ..., ``lower_bounds_``,
    ``n_features_in_``) and equal the in-memory fit from the same starting
    parameters up to rounding (about 1e-12 relative in float64).

    Parameters
    ----------
    estimator : GaussianMixture
        Its parameters (n_components, covariance_type, tol, max_iter, n_init,
        init_params, *_init, random_state, warm_start, callback) are honoured.
    source : path, glob, list of paths, array, memmap or re-iterable of chunks
        See :func:`open_source`.
    sample_weight : array, optional
        Frequency weights (array sources only).
    columns : list of str, optional
        Feature columns of Parquet/CSV sources.
    chunk_rows : int, optional
        Rows per chunk (default about 32 MB).
    sample_size : int
        Size of the reservoir sample the initialisation runs on.

    Returns
    -------
    estimator : the fitted estimator.

    Examples
    --------
    >>> import numpy as np
    >>> from gmmkit import GaussianMixture
    >>> X = np.random.default_rng(0).normal(size=(5000, 3))
    >>> chunks = [X[i:i + 1000] for i in range(0, 5000, 1000)]
    >>> gm = fit_chunks(GaussianMixture(2, random_state=0), chunks)
    >>> gm.means_.shape, gm.n_features_in_
    ((2, 3), 3)
    """
    from sklearn.utils import check_random_state

    from ._covariance import COVARIANCE_TYPES

    estimator._validate_all_params()
    src = open_source(source, columns=columns, chunk_rows=chunk_rows, sample_weight=sample_weight)
    rng = check_random_state(estimator.random_state)
    scan = _Scan(src, estimator.n_components, rng, sample_size, allow_nan=estimator.missing == "em")
    estimator._check_initial_parameters(scan.D)
    ctx = _chunked_context_class()(estimator, src, scan, COVARIANCE_TYPES[estimator.covariance_type], rng)
    do_init = not (estimator.warm_start and hasattr(estimator, "converged_"))
    _run_em(estimator, ctx, rng, do_init)
    _set_n_features(estimator, scan.D)
    estimator.n_data_passes_ = ctx.n_passes + 1
    return estimator


def score_chunks(estimator, source, *, columns=None, chunk_rows=None):
    """Total log-likelihood and row count of a source under a fitted model, chunk by chunk.

    Returns ``(sum_loglik, n_rows)``; ``-2 * sum_loglik + p * log(n_rows)`` is the BIC.

    Examples
    --------
    >>> import numpy as np
    >>> from gmmkit import GaussianMixture
    >>> X = np.random.default_rng(0).normal(size=(1000, 2))
    >>> gm = GaussianMixture(1).fit(X)
    >>> ll, n = score_chunks(gm, X, chunk_rows=300)
    >>> n, bool(np.isclose(ll / n, gm.score(X)))
    (1000, True)
    """
    src = open_source(source, columns=columns, chunk_rows=chunk_rows)
    ll, n = 0.0, 0
    for X, _ in src:
        ll += float(estimator.score_samples(X).sum())
        n += X.shape[0]
    return ll, n


# ====================================================================== streaming
def step_size(t, exponent=0.7):
    """Step size of stepwise EM after ``t`` earlier batches: ``(t + 1) ** -exponent``.

    ``t = 0`` gives 1 (the first batch sets the statistics); ``exponent`` must be
    in (0.5, 1] for the Robbins-Monro conditions; 1 averages the batches equally.

    >>> [round(step_size(t), 3) for t in range(4)]
    [1.0, 0.616, 0.463, 0.379]
    """
    return float((t + 1) ** (-exponent))


class _StreamState:
    """Running statistics of stepwise EM, kept on the estimator between batches."""

    def __init__(self, shift, rng):
        self.shift, self.rng, self.t, self.stats, self.means = shift, rng, 0, None, None
        self.noise = None


def partial_fit(estimator, X, sample_weight=None, *, step_exponent=0.7):
    """One step of stepwise (online) EM on a batch ``X``; approximate, for streams.

    The running sufficient statistics ``s`` (per-row averages of the
    responsibilities and their first and second moments) are updated as
    ``s <- (1 - eta_t) s + eta_t s_batch`` with ``eta_t = (t + 1) ** -step_exponent``
    (:func:`step_size`), ``t`` the number of earlier batches, then the M-step
    turns ``s`` into parameters (Sato and Ishii 2000; Cappe and Moulines 2009;
    Liang and Klein 2009). Unlike :func:`fit_chunks` this is not the batch EM
    result: it forgets early batches, which suits data that drift, and converges
    to a fixed point of EM only as batches accumulate.

    The first batch (at least ``n_components`` rows) initialises the model with
    the estimator's ``init_params``, unless the estimator is already fitted, in
    which case the stream starts from its parameters. ``lower_bounds_`` holds each
    batch's mean log-likelihood under the parameters before its update; ``n_iter_``
    counts batches and ``converged_`` stays False.

    Examples
    --------
    >>> import numpy as np
    >>> from gmmkit import GaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> gm = GaussianMixture(2, random_state=0)
    >>> for _ in range(20):
    ...     batch = np.concatenate([rng.normal(-4, 1, (100, 1)), rng.normal(4, 1, (100, 1))])
    ...     gm = partial_fit(gm, batch)
    >>> np.round(np.sort(gm.means_[:, 0])).tolist()
    [-4.0, 4.0]
    """
    from sklearn.utils import check_random_state

    from . import _engine
    from ._covariance import COVARIANCE_TYPES
    from ._missing import observed_mean
    from .mixture import _FitContext, _MissingFitContext

    if not 0.5 < step_exponent <= 1:
        raise ParameterError(f"step_exponent must be in (0.5, 1], got {step_exponent}")
    est = estimator
    est._validate_all_params()
    state = getattr(est, "_gmmkit_stream", None)
    fitted = hasattr(est, "means_")
    if state is not None and state.means is not getattr(est, "means_", None):
        state = None  # the model was refitted (or loaded) since: restart the stream from it
    first = state is None
    X = est._check_X(X, reset=first and not fitted, min_samples=1)
    if first and fitted and X.shape[1] != est.n_features_in_:
        raise DataError(f"X has {X.shape[1]} features, but the model expects {est.n_features_in_}")
    if first and not fitted and X.shape[0] < max(2, est.n_components):
        raise DataError(f"the first batch needs at least max(2, n_components) rows, got {X.shape[0]}")
    if first:
        est._check_initial_parameters(X.shape[1])
    sw, total = est._check_sample_weight(sample_weight, X) if (first and not fitted) else (
        _stream_weights(sample_weight, X))
    entry = COVARIANCE_TYPES[est.covariance_type]
    nan = np.isnan(X)  # only with missing="em": _check_X refuses NaN otherwise
    if first:
        rng = check_random_state(est.random_state)
        shift = (est.weights_ @ est.means_ / est.weights_.sum() if fitted
                 else observed_mean(X, sw, nan))
        state = _StreamState(np.asarray(shift, dtype=np.float64), rng)
    # a batch with NaN: the exact pattern E-pass, in the stream's coordinates
    ctx = (_MissingFitContext if nan.any() else _FitContext)(est, X, sw, total, state.shift, entry,
                                                             state.rng)
    if ctx.noise:  # one noise region for the whole stream: the fitted one, else the first batch's
        if state.noise is None:
            state.noise = ((est.noise_bounds_, est.noise_log_volume_) if fitted and est.noise_weight_ > 0
                           else (ctx.noise_bounds, ctx.log_volume))
        ctx.noise_bounds, ctx.log_volume = state.noise
        ctx.log_widths = ctx.noise_log_widths()  # rows with NaN: the stream's box, observed columns
    with _engine.blas_single_thread():
        params = ctx.params_from_attributes() if fitted else ctx.initial_params(state.rng)
        if first and fitted:  # the fitted model counts as the stream's first batch
            state.stats, state.t = _model_statistics(ctx, params), 1
        ll, stats = ctx.e_pass(params)
        eta = step_size(state.t, step_exponent)
        batch = tuple(s / total for s in stats)
        state.stats = batch if state.stats is None else tuple(
            (1 - eta) * a + eta * b for a, b in zip(state.stats, batch))
        ctx.total = 1.0  # statistics are per-row averages from here on
        new = ctx.m_step(state.stats, state.rng)
    ctx.set_attributes(new)
    state.t += 1
    state.means = est.means_
    est._gmmkit_stream = state
    history = [] if first else list(est.lower_bounds_)
    history.append(float(ll / total))
    est.lower_bounds_ = history
    est.lower_bound_ = history[-1]
    est.n_iter_ = state.t
    est.converged_ = False
    est.n_reseeded_ = (0 if first else est.n_reseeded_) + ctx.n_reseeded
    if not fitted:
        _set_n_features(est, X.shape[1])
    return est


def _model_statistics(ctx, params):
    """Per-row statistics (nk, sx, sxx) that a data set following ``params`` exactly would
    give (the M-step maps them back to ``params``), in the kernel's layout."""
    weights, means, _, cov, pi0 = params
    K, D = ctx.K, ctx.D
    reg = ctx.est.reg_covar
    nk = np.append(weights, pi0)
    if ctx.entry.family == "full":
        C = np.broadcast_to(cov, (K, D, D)) - reg * np.eye(D)  # tied: one matrix for all
        sxx = np.triu(nk[:K, None, None] * (C + means[:, :, None] * means[:, None, :]))
    else:
        var = np.broadcast_to(np.reshape(cov, (K, -1)), (K, D)) - reg  # spherical: (K,) -> (K, D)
        sxx = nk[:K, None] * (var + means ** 2)
    return nk, nk[:K, None] * means, sxx


def _stream_weights(sample_weight, X):
    if sample_weight is None:
        return _EMPTY, float(X.shape[0])
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (X.shape[0],) or not np.isfinite(w).all() or (w < 0).any() or not w.sum() > 0:
        raise DataError(f"sample_weight must be {X.shape[0]} finite non-negative values with a positive sum")
    return np.ascontiguousarray(w), float(w.sum())
