"""Out-of-core EM: exact fits from data that do not fit in memory, and streaming EM.

EM only needs, at every iteration, sums over the rows (weights, first and second
moments of the responsibilities). Those sums add up over chunks, so
:func:`fit_chunks` streams the data through the same fused Numba kernel one
chunk at a time and adds the statistics: the result is the in-memory fit's, up
to the order of floating-point additions, while memory stays bounded by one
chunk (plus a fixed-size sample). The M-step, component re-seeding and the
convergence test are the one EM driver's (:mod:`gmmkit._em`); :class:`FileChunks` is the E-source.

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

import numpy as np

from . import _engine
from ._em.noise import NoiseRegion
from ._em.sources import KernelModel, check_finite, dense_statistics
from ._scan import DEFAULT_SAMPLE_SIZE, Scan
from ._validation import check_range
from .exceptions import DataError
from .streaming import partial_fit, step_size
from .tables.chunks import ChunkSource, open_source

__all__ = [
    "ChunkSource", "open_source", "fit_chunks", "score_chunks", "partial_fit",
    "step_size", "DEFAULT_SAMPLE_SIZE",
]

_EMPTY = np.empty(0)


# ====================================================================== E-source
class FileChunks:
    """E-source over the chunks of a :class:`ChunkSource`: each E-pass reads the whole
    source once and adds the chunks' statistics (the pattern pass for chunks with NaN)."""

    def __init__(self, problem, source, scan):
        self.problem, self.source, self.scan = problem, source, scan
        self.dtype, self.chunk_nan = scan.dtype, scan.chunk_nan
        self.shift = np.ascontiguousarray(problem.shift, dtype=scan.dtype)
        self.parallel = _engine.use_parallel(scan.max_rows, problem.entry.work_per_row(problem.K, problem.D))
        self.n_passes = 0

    def e_pass(self, params):
        from ._missing import Patterns, pattern_statistics

        problem, scan = self.problem, self.scan
        model = KernelModel.of(problem, params, self.dtype)
        self._check_unchanged()
        ll, acc, rows, total = 0.0, None, 0, 0.0
        for i, (X, w) in enumerate(self.source):
            if X.ndim != 2 or X.shape[1] != scan.D or X.dtype.kind not in "fiu":
                raise DataError(f"{self.source.name}: chunk {i} has shape {X.shape} and dtype {X.dtype}; the "
                                f"first pass read {scan.D} numeric columns: the source changed during the fit")
            rows += X.shape[0]
            total += X.shape[0] if w is None else float(np.sum(w))
            X = np.ascontiguousarray(X, dtype=self.dtype)
            sw = _EMPTY if w is None else np.ascontiguousarray(w, dtype=np.float64)
            # the scan's flag; a chunk it did not see takes the (always exact) NaN path
            if i >= len(self.chunk_nan) or self.chunk_nan[i]:
                part, stats = pattern_statistics(Patterns(X, sw), problem.entry, params, self.shift,
                                                 problem.noise)
            else:
                part, stats = dense_statistics(problem.entry, X, sw, self.shift, model, self.parallel)
            ll += part
            acc = stats if acc is None else acc + stats
        if rows != scan.n or not np.isclose(total, scan.total, rtol=1e-9, atol=0):
            raise DataError(f"{self.source.name}: {rows} rows (weight {total:.6g}) in this pass, {scan.n} "
                            f"(weight {scan.total:.6g}) in the first: the source changed during the fit")
        self._check_unchanged()
        self.n_passes += 1
        return check_finite(ll, self.dtype), acc

    def _check_unchanged(self):
        if self.source.fingerprint() != self.scan.fingerprint:
            raise DataError(f"{self.source.name}: the file changed during the fit (size or modification "
                            "time); the model would mix two data sets, so the fit stops")


def fit_chunks(estimator, source, *, sample_weight=None, columns=None, chunk_rows=None,
               sample_size=DEFAULT_SAMPLE_SIZE, header=None):
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

    estimator._validate_all_params()
    src = open_source(source, columns=columns, chunk_rows=chunk_rows, sample_weight=sample_weight,
                      header=header)
    rng = check_random_state(estimator.random_state)
    scan = Scan(src, estimator.n_components, rng, sample_size, allow_nan=estimator.missing == "em")
    estimator._check_initial_parameters(scan.D)
    check_range(scan.bounds, scan.shift, scan.dtype, src.name)
    # the noise region is the whole data's bounding box, not the sample's
    noise = NoiseRegion.from_bounds(scan.bounds, estimator.noise_volume) if estimator.noise else None
    problem = estimator._problem(scan.D, scan.shift, scan.total, scan.sample, scan.sample_w, noise, rng)
    chunks = FileChunks(problem, src, scan)
    estimator._run_driver(problem, chunks, rng)
    estimator._set_n_features(scan.D, getattr(src, "columns", None))
    estimator.n_data_passes_ = chunks.n_passes + 1
    return estimator


def score_chunks(estimator, source, *, columns=None, chunk_rows=None, header=None):
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
    src = open_source(source, columns=columns, chunk_rows=chunk_rows, header=header)
    ll, n = 0.0, 0
    for X, _ in src:
        ll += float(positional_scores(estimator, X).sum())
        n += X.shape[0]
    return ll, n


def positional_scores(model, X):
    """``model.score_samples`` of a chunk whose columns are the model's, in its order, but
    unnamed (a chunk of the source it was fitted on): no feature-name warning."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        return model.score_samples(X)
