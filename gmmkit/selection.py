"""Model selection: fit a grid of (K, covariance type) candidates and rank them, as
mclust's ``Mclust()`` does: by default K = 1..9 over mclust's 14 covariance models.

As in scikit-learn, **lower is better** for every criterion (``convention="sklearn"``):

- BIC = -2 log L + p log n
- AIC = -2 log L + 2 p
- ICL = BIC - 2 sum_i log max_k P(k | x_i)   (BIC plus a penalty for overlapping
  components, Biernacki, Celeux and Govaert 2000; mclust's ICL with the sign flipped)

mclust's sign, **higher is better** (``2 log L - p log n``), is the table's ``bic_mclust``
and ``icl_mclust`` columns, :attr:`SelectionResult.bic_mclust` (mclust's ``fit$BIC``) and,
with ``convention="mclust"``, what the plot and the CLI show. Models that cannot be
estimated on the data (more parameters than rows, a singular covariance) are skipped:
their row carries the reason in ``error`` and no criterion.

With the default k-means start, every K's partition is computed once and shared by all
the covariance models: each model starts from its own M-step on that partition. With
``init_params="hc"`` the partitions are mclust's: one model-based hierarchical tree
(:mod:`gmmkit._em.hc`, VVV on SVD-transformed rows, a 2000-row subsample for larger
data) cut at every K, as ``Mclust()`` starts every candidate.

Candidates can run in parallel (``n_jobs``) without changing the results: each
candidate's seed depends only on ``random_state``, never on scheduling.

>>> import numpy as np, gmmkit
>>> rng = np.random.default_rng(0)
>>> X = np.vstack([rng.normal(-4, 1, (200, 2)), rng.normal(4, 1, (200, 2))])
>>> res = gmmkit.select(X, n_components=range(1, 5), covariance_types=("full", "diag"),
...                     random_state=0)
>>> res.best_params_["n_components"]
2
>>> res = gmmkit.select(X, n_components=range(1, 4), random_state=0)  # mclust's 14 models
>>> res.bic_mclust.shape, res.best_params_["n_components"]
((3, 14), 2)
"""
from __future__ import annotations

import math
import threading
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .exceptions import GMMKitError, ParameterError

CRITERIA = ("bic", "aic", "icl")
CONVENTIONS = ("sklearn", "mclust")
SKLEARN_TYPES = ("full", "diag", "tied", "spherical")
ALL_TYPES = ("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV")
"""mclust's 14 models in mclust's order (VVV, EEE, VVI, VII are full, tied, diag, spherical)."""
_ITERATIVE = ("VEI", "VEE", "EVE", "VVE", "VEV")  # M-steps that iterate (mclust's MM / FLURY)
NAMED_TYPES = {"all": ALL_TYPES, "mclust": ALL_TYPES, "sklearn": SKLEARN_TYPES}
"""Named grids of ``covariance_types``: 'all' and 'mclust' (the 14), 'sklearn' (the four)."""


# mclust's bicPlotColors and (as matplotlib markers, open or filled) bicPlotSymbols
MCLUST_STYLE = {
    "EII": ("gray", "^", True), "VII": ("black", "^", False), "EEI": ("#218B21", "o", True),
    "EVI": ("#41884F", "P", False), "VEI": ("#508476", "X", False), "VVI": ("#58819C", "o", False),
    "EEE": ("#597DC3", "s", True), "VEE": ("#5178EA", "*", False), "EVE": ("#716EE7", "D", False),
    "VVE": ("#9B60B8", "d", False), "EEV": ("#B2508B", "p", False), "VEV": ("#C03F60", "x", False),
    "EVV": ("#C82A36", "h", False), "VVV": ("#CC0000", "s", False),
}
_MCLUST_NAME = {"full": "VVV", "tied": "EEE", "diag": "VVI", "spherical": "VII"}


@dataclass
class SelectionResult:
    """Outcome of :func:`select`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per candidate: n_components, covariance_type, log_likelihood,
        n_parameters, bic, aic, icl (lower is better), bic_mclust, icl_mclust (mclust's
        sign: higher is better), converged, n_iter, seconds, error (why a candidate was
        skipped; empty if fitted), selected.
    criterion : str
        The criterion used to rank.
    best_model_ : GaussianMixture
        The winning candidate, fitted.
    best_params_ : dict
        ``{"n_components": K, "covariance_type": type}`` of the winner.
    convention : {"sklearn", "mclust"}
        The sign the plot and :meth:`criterion_table` show by default (the ranking is the same).
    """

    table: object
    criterion: str
    best_model_: object
    best_params_: dict
    models: dict = field(default_factory=dict, repr=False)
    convention: str = "sklearn"

    def criterion_table(self, criterion=None, convention=None):
        """K by covariance type table of ``criterion`` (default: the ranking one) in
        ``convention``'s sign; NaN where the candidate was skipped."""
        criterion = criterion or self.criterion
        convention = convention or self.convention
        if convention not in CONVENTIONS:
            raise ParameterError(f"convention must be one of {', '.join(CONVENTIONS)}; got {convention!r}")
        t = self.table
        values = t[criterion] if convention == "sklearn" else -t[criterion]
        frame = t.assign(value=values.where(t["error"] == "")).pivot(
            index="n_components", columns="covariance_type", values="value")
        return frame[list(dict.fromkeys(t["covariance_type"]))]

    @property
    def bic_mclust(self):
        """BIC as mclust's ``Mclust(...)$BIC``: K by model, 2 log L - p log n (higher is
        better), NaN where the model was skipped."""
        return self.criterion_table("bic", "mclust")

    def plot(self, ax=None, path=None, convention=None):
        """Criterion against K, one line per covariance type, as mclust draws BIC (mclust's
        colours and symbols for its 14 models); ``convention`` picks the sign (default: the
        result's). Needs matplotlib (``pip install gmmkit[plot]``). Saves to ``path`` if
        given; returns the Axes.
        """
        try:
            from matplotlib.figure import Figure
        except ImportError:
            raise GMMKitError("plotting needs matplotlib: pip install 'gmmkit[plot]'") from None
        if ax is None:
            # a bare Figure: no pyplot state, no backend switch in the caller's process
            ax = Figure(figsize=(7, 4.5)).subplots()
        convention = convention or self.convention
        frame = self.criterion_table(convention=convention)
        for cov_type in frame.columns:
            style = MCLUST_STYLE.get(_MCLUST_NAME.get(cov_type, cov_type))
            color, marker, filled = style if style else (None, "o", True)
            line, = ax.plot(frame.index, frame[cov_type], color=color, marker=marker, lw=1, ms=6,
                            label=cov_type)
            if not filled and marker not in ("x", "*"):
                line.set_markerfacecolor("none")
        best = self.best_params_
        best_val = frame.loc[best["n_components"], best["covariance_type"]]
        ax.scatter([best["n_components"]], [best_val], s=220, facecolors="none",
                   edgecolors="k", zorder=5, label="selected")
        ax.set_xticks(list(frame.index))
        ax.set_xlabel("number of components K")
        better = "lower" if convention == "sklearn" else "higher"
        ax.set_ylabel(f"{self.criterion.upper()} ({better} is better)")
        ax.legend(ncol=2 if len(frame.columns) > 7 else 1, fontsize="small",
                  loc="best" if len(frame.columns) <= 7 else "lower right")
        ax.grid(alpha=0.3)
        if path is not None:
            from .io import atomic_path

            with atomic_path(path, suffix=".png") as tmp:
                ax.figure.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
        return ax


#: Bounds of a selection grid: a typo such as ``-k 1..100000`` must not run for hours.
MAX_K, MAX_CANDIDATE_KS = 1000, 100


def check_grid(ks, n_rows):
    """Refuse (one line) a list of K too long or too large to try (a K above the number of
    rows is not refused here: its candidate records the error and the others run)."""
    if ks[-1] > MAX_K or len(ks) > MAX_CANDIDATE_KS:
        raise ParameterError(f"{len(ks)} values of K up to {ks[-1]} for {n_rows} rows: select tries at "
                             f"most {MAX_CANDIDATE_KS} values, each at most {MAX_K}; give a shorter range")


def criteria(model, log_likelihood, n):
    """BIC and AIC (lower is better) of a fitted model from its total (weighted)
    log-likelihood over ``n`` rows (or total weight), e.g. from
    :func:`gmmkit.outofcore.score_chunks` when the data do not fit in memory.

    >>> import numpy as np
    >>> from gmmkit import GaussianMixture
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> gm = GaussianMixture(2, random_state=0).fit(X)
    >>> c = criteria(gm, gm.score_samples(X).sum(), len(X))
    >>> bool(np.isclose(c["bic"], gm.bic(X))), c["n_parameters"]
    (True, 11)
    """
    p = model._n_parameters()
    return {"bic": float(-2 * log_likelihood + p * math.log(n)),
            "aic": float(-2 * log_likelihood + 2 * p), "n_parameters": int(p)}


def _skip(row, t0, reason):
    row.update(log_likelihood=np.nan, n_parameters=np.nan, bic=np.nan, aic=np.nan, icl=np.nan,
               bic_mclust=np.nan, icl_mclust=np.nan, converged=False, n_iter=0,
               seconds=time.perf_counter() - t0, error=reason)
    return row, None


def _shared_start(X, sample_weight, K, cov_type, labels, reg):
    """weights_init, means_init, precisions_init of ``cov_type``: its M-step on the shared
    k-means partition ``labels`` (None if that start is singular: the fit then makes its own)."""
    from ._covariance import FactorError, covariance_type

    entry = covariance_type(cov_type)
    D = X.shape[1]
    shift = X.mean(axis=0)
    nk, sx = np.zeros(K), np.zeros((K, D))
    sxx = np.zeros(entry.stats_shape(K, D))
    for k in range(K):
        idx = np.flatnonzero(labels == k)
        Xk = X[idx].astype(np.float64) - shift
        r = np.ones(idx.size) if sample_weight is None else sample_weight[idx]
        nk[k], sx[k], sxx[k] = r.sum(), r @ Xk, entry.second_moments(Xk, r)
    if np.any(nk <= 0):
        return None
    means = sx / nk[:, None]
    try:
        with np.errstate(all="ignore"):
            cov = entry.from_stats(nk, means, sxx, nk.sum(), reg)
            prec = entry.precisions(entry.precision_cholesky(cov))
    except (FactorError, np.linalg.LinAlgError, ValueError, ArithmeticError):
        return None
    if not np.all(np.isfinite(prec)):
        return None
    return {"weights_init": nk / nk.sum(), "means_init": means + shift, "precisions_init": prec,
            "init_params": "random_from_data"}


def _fit_from(X, sample_weight, K, cov_type, seed, params, labels):
    """One fit: from the shared partition ``labels`` if given (and not singular), else the
    estimator's own start."""
    from .mixture import GaussianMixture

    start = {}
    if labels is not None:
        # a singular start from the shared partition: the estimator's k-means start instead
        start = (_shared_start(X, sample_weight, K, cov_type, labels, params.get("reg_covar", 1e-6))
                 or {"init_params": "kmeans"})
        start["n_init"] = 1
    gm = GaussianMixture(K, covariance_type=cov_type, random_state=seed, **{**params, **start})
    return gm.fit(X, sample_weight=sample_weight)


def _candidate(X, sample_weight, K, cov_type, seed, params, partitions=None):
    from ._covariance import n_parameters

    t0 = time.perf_counter()
    row = {"n_components": K, "covariance_type": cov_type}
    n_rows, D = X.shape
    p = n_parameters(cov_type, K, D)
    if K <= n_rows < p:  # (K above the rows: the estimator's own error says so)
        return _skip(row, t0, f"skipped: {cov_type} with K={K} has {p} parameters for {n_rows} rows")
    gm, errors = None, []
    # one fit per shared partition (n_init of them), the best kept; or one fit with n_init starts
    for i, labels in enumerate(partitions or [None]):
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                fit = _fit_from(X, sample_weight, K, cov_type, seed + i, params, labels)
        except (GMMKitError, np.linalg.LinAlgError, ValueError, ArithmeticError) as exc:
            errors.append(" ".join(str(exc).split()) or type(exc).__name__)
            continue
        if gm is None or fit.lower_bound_ > gm.lower_bound_:
            gm = fit
    if gm is None:
        return _skip(row, t0, f"skipped: {cov_type} with K={K}: {errors[0]}")
    try:
        with np.errstate(all="ignore"):
            lse = gm.score_samples(X)
            resp = gm.predict_proba(X)
    except (GMMKitError, np.linalg.LinAlgError, ValueError, ArithmeticError) as exc:
        return _skip(row, t0, f"skipped: {cov_type} with K={K}: {' '.join(str(exc).split())}")
    w = np.ones(n_rows) if sample_weight is None else sample_weight
    loglik = float(w @ lse)
    if not np.isfinite(loglik):
        return _skip(row, t0, f"skipped: {cov_type} with K={K}: the log-likelihood is not finite")
    crit = criteria(gm, loglik, float(w.sum()))
    p, bic = crit["n_parameters"], crit["bic"]
    with np.errstate(divide="ignore"):
        entropy = -float(w @ np.log(np.maximum(resp.max(axis=1), 1e-300)))
    row.update(
        log_likelihood=loglik, n_parameters=p, bic=bic, aic=crit["aic"], icl=bic + 2 * entropy,
        bic_mclust=-bic, icl_mclust=-(bic + 2 * entropy), converged=bool(gm.converged_),
        n_iter=int(gm.n_iter_), seconds=time.perf_counter() - t0, error="",
    )
    return row, gm


#: k-means for the shared start runs on at most this many rows (mclust's hierarchical start
#: uses a subset of the same size, ``mclust.options("subset")``); every row then joins its
#: nearest centre
START_ROWS = 2000


def _partition(X, sample_weight, K, seed):
    """The k-means partition every covariance model with K components starts from."""
    from sklearn.cluster import KMeans

    N = X.shape[0]
    if K >= N:
        return None
    rows = slice(None)
    if N > START_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(N, START_ROWS, replace=False))
    sw = None if sample_weight is None else sample_weight[rows]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km = KMeans(n_clusters=K, n_init=1, random_state=seed).fit(X[rows], sample_weight=sw)
    labels = km.labels_ if N <= START_ROWS else km.predict(X)
    return labels if np.unique(labels).size == K else None


def _hc_partitions(X, sample_weight, ks, seed):
    """mclust's start: one hierarchical tree (on a START_ROWS subsample for larger data)
    cut at every K; None for a K the tree cannot give."""
    from ._em.hc import hc_partitions

    return hc_partitions(X, ks, np.random.default_rng(seed), sample_weight, max_rows=START_ROWS)


def covariance_grid(covariance_types):
    """The tuple of covariance types a ``covariance_types`` argument names (a name of
    :data:`NAMED_TYPES`, one type or an iterable of types); ParameterError on unknown ones."""
    from ._covariance import COVARIANCE_NAMES

    if isinstance(covariance_types, str):
        covariance_types = NAMED_TYPES.get(covariance_types.lower(), (covariance_types,))
    covariance_types = tuple(covariance_types)
    unknown = [c for c in covariance_types if c not in COVARIANCE_NAMES]
    if unknown or not covariance_types:
        raise ParameterError(f"unknown covariance type(s) {unknown}; use {', '.join(COVARIANCE_NAMES)}, "
                             "'all' or 'mclust' (mclust's 14) or 'sklearn' (scikit-learn's four)")
    return covariance_types


def select(X, n_components=range(1, 10), covariance_types="all", criterion="bic", *,
           n_init=1, random_state=None, n_jobs=1, sample_weight=None, callback=None,
           convention="sklearn", **params):
    """Fit every (K, covariance type) candidate and pick the best by ``criterion``: by
    default mclust's ``Mclust()`` grid, K = 1..9 over its 14 covariance models.

    Parameters
    ----------
    X : array-like (n_samples, n_features)
    n_components : iterable of int, default 1..9
    covariance_types : iterable of str, or "all" (default) / "mclust" (mclust's 14 models),
        "sklearn" (full, diag, tied, spherical)
    criterion : {"bic", "aic", "icl"}; the ranking is the same in either convention.
    n_init : int, starts per candidate (with the default k-means start, each K's
        ``n_init`` partitions are shared by all covariance types; the best fit is kept;
        with ``init_params="hc"``, one hierarchical tree per start for all K; one in all
        when the data have at most 2000 rows, as the tree is then deterministic).
    random_state : int or None. Every candidate uses the same seed, so results do
        not depend on ``n_jobs``.
    n_jobs : int, candidates fitted at once (threads; each fit then runs serially).
    sample_weight : frequency weights, as in ``GaussianMixture.fit``.
    callback : callable, optional
        Called as ``callback(done, total, row)`` after each candidate (progress bars).
    convention : {"sklearn", "mclust"}
        Sign shown by the plot and :meth:`SelectionResult.criterion_table`: "sklearn",
        lower is better; "mclust", higher is better (2 log L - p log n). The table has both.
    **params : passed to every :class:`gmmkit.GaussianMixture`.

    Returns
    -------
    SelectionResult
    """
    from . import _engine

    if criterion not in CRITERIA:
        raise ParameterError(f"criterion must be one of {', '.join(CRITERIA)}; got {criterion!r}")
    if convention not in CONVENTIONS:
        raise ParameterError(f"convention must be one of {', '.join(CONVENTIONS)}; got {convention!r}")
    covariance_types = covariance_grid(covariance_types)
    ks = sorted({int(k) for k in n_components})
    if not ks or ks[0] < 1:
        raise ParameterError("n_components must list positive integers")
    if random_state is None:
        seed = int(np.random.default_rng().integers(2**31 - 1))
    elif isinstance(random_state, (int, np.integer)):
        seed = int(random_state)
    else:
        raise ParameterError("random_state must be an int or None for select()")

    from .mixture import GaussianMixture

    # validate X once, with the estimator's own checks and messages
    X = GaussianMixture()._check_X(X, reset=True, min_samples=2)
    check_grid(ks, X.shape[0])
    if sample_weight is not None:
        sample_weight = GaussianMixture()._check_sample_weight(sample_weight, X)[0]
    params = dict(params, n_init=n_init)
    grid = [(k, c) for c in covariance_types for k in ks]
    n_jobs = max(1, min(int(n_jobs if n_jobs != -1 else _engine.n_threads()), len(grid)))
    init = params.get("init_params", "kmeans")
    shared = (init in ("kmeans", "hc") and (len(covariance_types) > 1 or init == "hc")
              and not params.get("noise") and not np.isnan(X).any()
              and all(params.get(f"{a}_init") is None for a in ("weights", "means", "precisions")))

    done = [0]
    lock = threading.Lock()
    labels = {}

    def run(kc):
        out = _candidate(X, sample_weight, kc[0], kc[1], seed, params, labels.get(kc[0]))
        if callback is not None:
            with lock:
                done[0] += 1
                callback(done[0], len(grid), out[0])
        return out

    def part(k):
        labels[k] = [_partition(X, sample_weight, k, seed + i) for i in range(n_init)]

    if shared and init == "hc":  # one tree per start (one in all without a subsample), cut at every K
        n_trees = n_init if X.shape[0] > START_ROWS else 1
        trees = [_hc_partitions(X, sample_weight, ks, seed + i) for i in range(n_trees)]
        labels.update({k: [t[k] for t in trees] for k in ks})
        shared = False

    if n_jobs == 1:
        with _engine.blas_single_thread():
            if shared:
                for k in ks:
                    part(k)
            results = [run(kc) for kc in grid]
    else:
        from concurrent.futures import ThreadPoolExecutor

        # one level of parallelism: candidates in threads, each fit serial
        with _engine.serial_only(), _engine.blas_single_thread(openmp=True), \
                ThreadPoolExecutor(n_jobs) as pool:
            if shared:  # the largest K first: they take longest
                list(pool.map(part, sorted(ks, reverse=True)))
            # the slowest candidates first (large K, the models whose M-step iterates), so
            # that no thread is left with a long fit at the end; the table keeps grid order
            order = sorted(range(len(grid)), key=lambda i: -grid[i][0] * (3 if grid[i][1] in _ITERATIVE else 1))
            done_out = dict(zip(order, pool.map(run, [grid[i] for i in order])))
            results = [done_out[i] for i in range(len(grid))]

    import pandas as pd

    table = pd.DataFrame([r for r, _ in results])
    ok = table[table["error"] == ""]
    if ok.empty:
        raise GMMKitError(f"no candidate could be fitted: {table['error'].iloc[0]}")
    best_idx = ok[criterion].idxmin()
    best = table.loc[best_idx]
    table["selected"] = table.index == best_idx
    models = {(r["n_components"], r["covariance_type"]): m for r, m in results if m is not None}
    best_params = {"n_components": int(best["n_components"]),
                   "covariance_type": str(best["covariance_type"])}
    return SelectionResult(table=table, criterion=criterion,
                           best_model_=models[(best_params["n_components"], best_params["covariance_type"])],
                           best_params_=best_params, models=models, convention=convention)
