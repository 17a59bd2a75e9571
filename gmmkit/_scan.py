"""The first pass over chunked data: size, weight total, observed-entry means, bounds,
finiteness checks and a weighted reservoir sample (shared by out-of-core and Dask scans)."""
from __future__ import annotations

import numpy as np

from ._missing import column_means, observed_sums
from .exceptions import DataError, ParameterError
from .tables.chunks import float_dtype

#: Rows kept in the reservoir sample used for initialisation and re-seeding.
DEFAULT_SAMPLE_SIZE = 20_000
_EMPTY = np.empty(0)

def a_res_keys(rng, n, w=None):
    """Efraimidis and Spirakis' keys ``log(u) / w`` for ``n`` rows with weights ``w``
    (None: unit weights; weight 0: key -inf, never drawn while rows with weight remain).
    Keeping the rows with the ``size`` largest keys is a weighted sample without replacement."""
    logu = np.log1p(-rng.random_sample(n))  # log(1 - u), u in [0, 1): finite
    if w is None:
        return logu
    keys = np.full(n, -np.inf)
    pos = w > 0
    keys[pos] = logu[pos] / w[pos]
    return keys


def largest(keys, size):
    """Indices of the ``size`` largest keys (all of them if there are fewer)."""
    if keys.shape[0] <= size:
        return np.arange(keys.shape[0])
    return np.argpartition(keys, -size)[-size:]


class Reservoir:
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

    def _keep(self, rows, keys):
        if rows.shape[0] > self.size:
            top = largest(keys, self.size)
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
                self._keep(rows, a_res_keys(self.rng, rows.shape[0], ws))
            return
        keys = a_res_keys(self.rng, X.shape[0], w)
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


class Scan:
    """What the first pass learns: size, weight total, mean, dtype and a sample."""

    def __init__(self, source, n_components, rng, sample_size, allow_nan=False):
        if int(sample_size) < max(2, n_components):
            raise ParameterError(f"sample_size must be >= n_components and >= 2, got {sample_size}")
        res = Reservoir(sample_size, rng)
        self.fingerprint = source.fingerprint()
        n = nnz = 0
        total, sums, counts, D, dtype, max_rows = 0.0, None, None, None, source.dtype, 0
        self.chunk_nan = []  # per chunk, in source order: passes take the NaN path only there
        for X, w in source:
            if D is None:
                D = X.shape[1]
                dtype = float_dtype(X.dtype) if dtype is None else dtype
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
        if source.fingerprint() != self.fingerprint:
            raise DataError(f"{source.name}: changed while it was being read (size or modification time)")
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
