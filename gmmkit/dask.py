"""Dask-distributed EM: the exact EM fit of data spread over a cluster's workers.

The data are persisted on the workers once. Every EM iteration then broadcasts
the current parameters (a few kB, one task of the graph) to the workers, runs gmmkit's fused Numba
kernel on every block where it lives, and adds the per-block sufficient
statistics up a tree (``split_every`` blocks per node); only those statistics
travel back. The M-step, re-seeding and convergence test are the estimator's
own, so the result equals the in-memory fit from the same starting parameters
up to the order of floating-point additions (about 1e-12 relative in float64).
The reduction tree is fixed by the blocks, so a fit is reproducible, and a
worker lost in the middle of a fit only costs the recomputation of its blocks,
which Dask does from the task graph.

Needs the optional extra: ``pip install 'gmmkit[dask]'``. With a
``dask.distributed.Client`` (given, or the current default one) the work runs
on its cluster; without one, on Dask's local threaded scheduler.

>>> import numpy as np, dask.array as da
>>> from gmmkit import GaussianMixture
>>> from gmmkit.dask import fit_dask
>>> rng = np.random.default_rng(0)
>>> X = np.vstack([rng.normal(-3, 1, (3000, 2)), rng.normal(3, 1, (3000, 2))])
>>> gm = fit_dask(GaussianMixture(2, random_state=0), da.from_array(X, chunks=1000))
>>> ref = GaussianMixture(2, random_state=0).fit(X)
>>> bool(np.allclose(gm.means_, ref.means_, rtol=1e-8, atol=0))
True
"""
from __future__ import annotations

import numpy as np

from ._em.noise import NoiseRegion
from ._em.sources import KernelModel, check_finite
from ._missing import column_means
from ._scan import DEFAULT_SAMPLE_SIZE, a_res_keys, chunk_problem, column_summary, largest, scan_bounds
from ._validation import check_range
from .exceptions import DataError, ParameterError
from .tables.chunks import float_dtype
from .tables.distributed import read_dask, require_dask  # noqa: F401  (read_dask is public here too)

__all__ = ["fit_dask", "score_dask", "read_dask", "get_client"]


def get_client(scheduler=None):
    """A ``distributed.Client``: connected to ``scheduler`` (an address such as
    ``tcp://host:8786``) if given, else the current default client, else None."""
    if scheduler is None:
        try:
            from distributed import default_client

            return default_client()
        except (ImportError, ValueError):
            return None
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - optional dependency
        raise ParameterError("--scheduler needs distributed: pip install 'gmmkit[dask]'") from None
    try:
        return Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ParameterError(f"cannot connect to the Dask scheduler at {scheduler}: {exc}") from None


# ====================================================================== block tasks
def _block_scan(X, w, sample_size, seed, take=None, allow_nan=False):
    """First pass over one block: counts, sums, bounds, finiteness and a sample
    (every row if ``seed`` is None, rows ``take`` if given, else weighted reservoir keys)."""
    X = np.asarray(X)
    n = X.shape[0]
    nan, problem = chunk_problem(X, allow_nan)
    out = {"n": n, "has_nan": nan is not None, "problem": problem}
    if w is not None:
        w = np.asarray(w, dtype=np.float64)
        if not (np.isfinite(w).all() and (w >= 0).all()):
            out["problem"] = "a negative or non-finite sample weight"
    if out["problem"]:
        return out
    out.update(column_summary(X, w, nan))
    if seed is None:  # the whole data set is the sample: keep every row, in order
        out["rows"], out["w"] = np.array(X), w
        return out
    if take is not None:  # unweighted: rows chosen by the driver
        out["rows"], out["keys"] = np.array(X[take]), np.zeros(len(take))
        return out
    # weighted reservoir keys (A-Res); keep this block's sample_size largest
    keys = a_res_keys(np.random.RandomState(seed), n, w)
    top = largest(keys, sample_size)
    out["rows"], out["keys"] = np.array(X[top]), keys[top]
    return out


def _identity(x):
    return x


def _block_stats(X, w, payload, has_nan=False):
    """(log-likelihood, Statistics) of one block under the broadcast parameters (on a worker)."""
    from ._em.sources import dense_statistics
    from ._missing import Patterns, pattern_statistics

    entry, shift, model, params, noise = payload
    X = np.ascontiguousarray(X, dtype=model.means.dtype)
    sw = np.empty(0) if w is None else np.ascontiguousarray(w, dtype=np.float64)
    if has_nan:
        return pattern_statistics(Patterns(X, sw), entry, params, shift, noise)
    return dense_statistics(entry, X, sw, shift, model, False)


def _add_stats(*parts):
    ll, stats = parts[0]
    for part_ll, part in parts[1:]:
        ll += part_ll
        stats = stats + part
    return ll, stats


def _tree_reduce(parts, split_every):
    import dask

    level = list(parts)
    while len(level) > 1:
        level = [dask.delayed(_add_stats, pure=True)(*level[i:i + split_every])
                 for i in range(0, len(level), split_every)]
    return level[0]


# ====================================================================== cluster
#: Seconds to wait for a worker when the cluster has none (all lost, or none started).
WORKER_WAIT = 60.0


def run_on_cluster(client, work, *, wait=None):
    """Compute ``work`` (a delayed object or a list of them) on ``client``'s cluster.

    A cluster without workers gets ``wait`` seconds (:data:`WORKER_WAIT`) for one to
    join, then a one-line error instead of waiting forever; a lost scheduler or a
    cancelled computation is a one-line error too."""
    wait = WORKER_WAIT if wait is None else wait
    try:
        if not client.scheduler_info().get("workers"):
            try:
                client.wait_for_workers(1, timeout=wait)
            except TimeoutError:
                raise DataError(f"the Dask cluster at {client.scheduler.address} has no workers "
                                f"(waited {wait:g} s); start workers or fit in memory/out of core") from None
        if isinstance(work, list):
            return client.compute(work, sync=True)
        return client.compute(work).result()
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - distributed's many failure types, turned into one line
        name = type(exc).__name__
        if name in ("CancelledError", "FutureCancelledError", "CommClosedError", "OSError",
                    "TimeoutError", "StreamClosedError") or isinstance(exc, (OSError, TimeoutError)):
            raise DataError(f"the Dask cluster was lost during the fit ({name}: "
                            f"{' '.join(str(exc).split())[:120]})") from None
        raise


# ====================================================================== E-source
class DaskBlocks:
    """E-source over persisted dask blocks: every E-pass broadcasts the parameters (a few
    kB, one task of the graph), runs the kernel where each block lives and adds the
    per-block statistics up a tree; only statistics travel back."""

    def __init__(self, problem, blocks, wblocks, scan, client, split_every):
        self.problem, self.blocks, self.wblocks = problem, blocks, wblocks
        self.client, self.split_every = client, split_every
        self.dtype, self.block_nan = scan["dtype"], scan["block_nan"]
        self.shift = np.ascontiguousarray(problem.shift, dtype=self.dtype)

    def e_pass(self, params):
        import dask

        problem = self.problem
        # the parameters are one literal task: the scheduler ships its result to every
        # worker once per iteration (a broadcast that survives losing workers)
        payload = (problem.entry, self.shift, KernelModel.of(problem, params, self.dtype), params,
                   problem.noise)
        shared = dask.delayed(_identity, pure=True)(payload)
        task = dask.delayed(_block_stats, pure=True)
        parts = [task(b, w, shared, nan) for b, w, nan in zip(self.blocks, self.wblocks, self.block_nan)]
        root = _tree_reduce(parts, self.split_every)
        if self.client is not None:
            ll, stats = run_on_cluster(self.client, root)
        else:
            ll, stats = root.compute(scheduler="threads")
        return check_finite(ll, self.dtype), stats


# ====================================================================== driver
def _scan(blocks, wblocks, block_rows, N, n_components, rng, sample_size, client, dtype, allow_nan=False):
    import dask

    keyed = N > sample_size
    seeds = rng.randint(0, 2**31 - 1, size=len(blocks)) if keyed else [None] * len(blocks)
    takes = [None] * len(blocks)
    if keyed and wblocks[0] is None:
        # unweighted: a uniform sample of row numbers, drawn here; blocks just pick theirs
        rows = np.sort(rng.choice(N, size=sample_size, replace=False))
        edges = np.cumsum([0] + list(block_rows))
        takes = [rows[(rows >= lo) & (rows < hi)] - lo for lo, hi in zip(edges[:-1], edges[1:])]
    task = dask.delayed(_block_scan, pure=True)
    tasks = [task(b, w, sample_size, None if s is None else int(s), t, allow_nan)
             for b, w, s, t in zip(blocks, wblocks, seeds, takes)]
    parts = (run_on_cluster(client, tasks) if client is not None
             else dask.compute(*tasks, scheduler="threads"))
    for i, p in enumerate(parts):
        if p["problem"]:
            raise DataError(f"{p['problem']} in block {i} of the dask array")
    total = sum(p["total"] for p in parts)
    nnz = sum(p["nnz"] for p in parts)
    if N < max(2, n_components) or nnz < n_components:
        raise DataError(f"Expected n_samples >= n_components but got n_components = {n_components}, "
                        f"n_samples = {min(N, nnz)} (weight > 0)")
    if not total > 0:
        raise DataError("sample_weight: the weights sum to zero")
    shift = column_means(sum(p["sums"] for p in parts), sum(p["counts"] for p in parts))
    bounds = scan_bounds(np.min([p["lo"] for p in parts], axis=0), np.max([p["hi"] for p in parts], axis=0))
    scan = {"total": total, "dtype": dtype, "shift": shift, "bounds": bounds,
            "block_nan": [p["has_nan"] for p in parts]}
    rows = np.concatenate([p["rows"] for p in parts])
    if not keyed:
        ws = [p["w"] for p in parts]
        scan["sample_w"] = np.empty(0) if ws[0] is None else np.ascontiguousarray(np.concatenate(ws))
    else:
        keys = np.concatenate([p["keys"] for p in parts])
        top = largest(keys, sample_size)
        top = top[np.isfinite(keys[top])]
        rows, scan["sample_w"] = rows[np.sort(top)], np.empty(0)
    if any(scan["block_nan"]):  # initialisation and re-seeding run on the sample, mean-imputed
        rows = np.where(np.isnan(rows), scan["shift"], rows)
    scan["sample"] = np.ascontiguousarray(rows, dtype=dtype)
    return scan


def _as_dask_2d(X):
    """A dask DataFrame, dask array or anything array-like as a 2-D dask array."""
    import dask.array as da

    if hasattr(X, "to_dask_array"):
        X = X.to_dask_array(lengths=True)
    if not isinstance(X, da.Array):
        X = da.asarray(np.asarray(X))
    if X.ndim != 2:
        raise DataError(f"expected a 2-D array (rows x features), got {X.ndim}-D")
    return X


def fit_dask(estimator, X, *, sample_weight=None, client=None, sample_size=DEFAULT_SAMPLE_SIZE,
             split_every=8, feature_names=None):
    """Fit ``estimator`` (a :class:`gmmkit.GaussianMixture`) by exact EM on a dask array.

    Parameters
    ----------
    estimator : GaussianMixture
        All its parameters are honoured, as in ``fit``.
    X : dask.array.Array, dask DataFrame, or array-like
        The data, shape (n_samples, n_features), split into blocks of rows.
        float32 data are computed in float32.
    sample_weight : dask or NumPy array, optional
        Frequency weights, one per row.
    client : distributed.Client, None or False
        Cluster to run on; None: the current default client if there is one,
        else Dask's threaded scheduler in this process; False: that threaded
        scheduler in any case.
    sample_size : int
        Rows of the (weighted reservoir) sample the initialisation runs on; if
        the data have no more rows than that, the initialisation is exactly the
        in-memory one.
    split_every : int
        Fan-in of the reduction tree of the per-block statistics.
    feature_names : list of str, optional
        Names of X's columns (a dask DataFrame gives its own), kept as
        ``feature_names_in_`` so that later DataFrames are matched by name.

    Returns
    -------
    estimator : fitted, with the attributes ``fit`` sets.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from gmmkit import GaussianMixture
    >>> X = da.random.RandomState(0).normal(size=(4000, 2), chunks=(1000, 2))
    >>> fit_dask(GaussianMixture(2, covariance_type="diag", random_state=0), X).means_.shape
    (2, 2)
    """
    require_dask()
    import dask.array as da
    from sklearn.utils import check_random_state

    est = estimator
    est._validate_all_params()
    if int(split_every) < 2:
        raise ParameterError(f"split_every must be >= 2, got {split_every}")
    client = get_client() if client is None else (client or None)
    if feature_names is None and hasattr(X, "columns"):  # a DataFrame names its columns
        feature_names = list(X.columns)
    X = _as_dask_2d(X)
    if X.dtype.kind not in "fiu":
        raise DataError(f"X must be numeric, got dtype {X.dtype}")
    dtype = float_dtype(X.dtype)
    if X.dtype != dtype:
        X = X.astype(dtype)
    if any(np.isnan(c) for c in X.chunks[0]):
        X = X.compute_chunk_sizes()
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    N, D = X.shape
    if sample_weight is not None:
        w = da.asarray(sample_weight).astype(np.float64)
        if w.shape != (N,):
            raise DataError(f"sample_weight: expected shape ({N},), got {w.shape}")
        w = w.rechunk((X.chunks[0],))
    est._check_initial_parameters(D)

    # keep the data on the workers for the whole fit
    if client is not None:
        X = client.persist(X)
        w = client.persist(w) if sample_weight is not None else None
    else:
        X = X.persist(scheduler="threads")
        w = w.persist(scheduler="threads") if sample_weight is not None else None
    blocks = X.to_delayed().ravel().tolist()
    wblocks = w.to_delayed().ravel().tolist() if w is not None else [None] * len(blocks)

    rng = check_random_state(est.random_state)
    scan = _scan(blocks, wblocks, X.chunks[0], N, est.n_components, rng, int(sample_size), client, dtype,
                 allow_nan=est.missing == "em")
    check_range(scan["bounds"], scan["shift"], dtype, "the dask array")
    # the noise region is the whole data's bounding box
    noise = NoiseRegion.from_bounds(scan["bounds"], est.noise_volume) if est.noise else None
    problem = est._problem(D, scan["shift"], scan["total"], scan["sample"], scan["sample_w"], noise, rng)
    est._run_driver(problem, DaskBlocks(problem, blocks, wblocks, scan, client, int(split_every)), rng)
    est._set_n_features(D, feature_names)
    return est


def _block_score(X, model):
    from .outofcore import positional_scores

    return float(positional_scores(model, np.asarray(X)).sum()), int(X.shape[0])


def score_dask(estimator, X, *, client=None):
    """Total log-likelihood and row count of a dask array under a fitted model, computed
    on the workers. Returns ``(sum_loglik, n_rows)``; the BIC is
    ``-2 * sum_loglik + n_parameters * log(n_rows)``.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from gmmkit import GaussianMixture
    >>> X = np.random.default_rng(0).normal(size=(1000, 2))
    >>> gm = GaussianMixture(1).fit(X)
    >>> ll, n = score_dask(gm, da.from_array(X, chunks=300), client=False)
    >>> n, bool(np.isclose(ll / n, gm.score(X)))
    (1000, True)
    """
    require_dask()
    import copy

    import dask

    client = get_client() if client is None else (client or None)
    X = _as_dask_2d(X)
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    model = copy.copy(estimator)
    model.callback = None  # progress bars do not travel to workers
    if hasattr(model, "_gmmkit_stream"):
        del model._gmmkit_stream
    shared = dask.delayed(model, pure=True)
    tasks = [dask.delayed(_block_score, pure=True)(b, shared) for b in X.to_delayed().ravel()]
    parts = run_on_cluster(client, tasks) if client is not None else dask.compute(*tasks, scheduler="threads")
    return float(sum(p[0] for p in parts)), int(sum(p[1] for p in parts))
