"""Model selection: fit a grid of (K, covariance type) candidates and rank them.

As in scikit-learn, **lower is better** for every criterion:

- BIC = -2 log L + p log n
- AIC = -2 log L + 2 p
- ICL = BIC - 2 sum_i log max_k P(k | x_i)   (BIC plus a penalty for overlapping
  components, Biernacki, Celeux and Govaert 2000; mclust's ICL with the sign flipped)

Candidates can run in parallel (``n_jobs``) without changing the results: each
candidate's seed depends only on ``random_state``, never on scheduling.

>>> import numpy as np, gmmkit
>>> rng = np.random.default_rng(0)
>>> X = np.vstack([rng.normal(-4, 1, (200, 2)), rng.normal(4, 1, (200, 2))])
>>> res = gmmkit.select(X, n_components=range(1, 5), covariance_types=("full", "diag"),
...                     random_state=0)
>>> res.best_params_["n_components"]
2
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
ALL_TYPES = ("full", "diag", "tied", "spherical")


@dataclass
class SelectionResult:
    """Outcome of :func:`select`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per candidate: n_components, covariance_type, log_likelihood,
        n_parameters, bic, aic, icl, converged, n_iter, seconds, error.
    criterion : str
        The criterion used to rank (lower is better).
    best_model_ : GaussianMixture
        The winning candidate, fitted.
    best_params_ : dict
        ``{"n_components": K, "covariance_type": type}`` of the winner.
    """

    table: object
    criterion: str
    best_model_: object
    best_params_: dict
    models: dict = field(default_factory=dict, repr=False)

    def plot(self, ax=None, path=None):
        """Criterion against K, one line per covariance type (as mclust draws BIC).

        Needs matplotlib (``pip install gmmkit[plot]``). Saves to ``path`` if given;
        returns the Axes.
        """
        try:
            from matplotlib.figure import Figure
        except ImportError:
            raise GMMKitError("plotting needs matplotlib: pip install 'gmmkit[plot]'") from None
        if ax is None:
            # a bare Figure: no pyplot state, no backend switch in the caller's process
            ax = Figure(figsize=(6, 4)).subplots()
        t = self.table
        for cov_type, rows in t.groupby("covariance_type", sort=False):
            rows = rows.sort_values("n_components")
            ax.plot(rows["n_components"], rows[self.criterion], marker="o", label=cov_type)
        best = self.best_params_
        best_val = t[(t.n_components == best["n_components"])
                     & (t.covariance_type == best["covariance_type"])][self.criterion].iloc[0]
        ax.scatter([best["n_components"]], [best_val], s=160, facecolors="none",
                   edgecolors="k", zorder=5, label="selected")
        ax.set_xlabel("number of components K")
        ax.set_ylabel(f"{self.criterion.upper()} (lower is better)")
        ax.legend()
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


def _candidate(X, sample_weight, K, cov_type, seed, params):
    from .mixture import GaussianMixture

    t0 = time.perf_counter()
    row = {"n_components": K, "covariance_type": cov_type}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gm = GaussianMixture(K, covariance_type=cov_type, random_state=seed, **params)
            gm.fit(X, sample_weight=sample_weight)
    except GMMKitError as exc:
        row.update(log_likelihood=np.nan, n_parameters=np.nan, bic=np.nan, aic=np.nan,
                   icl=np.nan, converged=False, n_iter=0,
                   seconds=time.perf_counter() - t0, error=str(exc))
        return row, None
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    n = float(w.sum())
    lse = gm.score_samples(X)
    loglik = float(w @ lse)
    crit = criteria(gm, loglik, n)
    p, bic = crit["n_parameters"], crit["bic"]
    resp = gm.predict_proba(X)
    with np.errstate(divide="ignore"):
        entropy = -float(w @ np.log(np.maximum(resp.max(axis=1), 1e-300)))
    row.update(
        log_likelihood=loglik, n_parameters=p, bic=bic, aic=crit["aic"],
        icl=bic + 2 * entropy, converged=bool(gm.converged_), n_iter=int(gm.n_iter_),
        seconds=time.perf_counter() - t0, error="",
    )
    return row, gm


def select(X, n_components=range(1, 10), covariance_types=ALL_TYPES, criterion="bic", *,
           n_init=1, random_state=None, n_jobs=1, sample_weight=None, callback=None, **params):
    """Fit every (K, covariance type) candidate and pick the best by ``criterion``.

    Parameters
    ----------
    X : array-like (n_samples, n_features)
    n_components : iterable of int
    covariance_types : iterable of str, or "all"
    criterion : {"bic", "aic", "icl"}; lower is better.
    n_init : int, restarts per candidate.
    random_state : int or None. Every candidate uses the same seed, so results do
        not depend on ``n_jobs``.
    n_jobs : int, candidates fitted at once (threads; each fit then runs serially).
    sample_weight : frequency weights, as in ``GaussianMixture.fit``.
    callback : callable, optional
        Called as ``callback(done, total, row)`` after each candidate (progress bars).
    **params : passed to every :class:`gmmkit.GaussianMixture`.

    Returns
    -------
    SelectionResult
    """
    from . import _engine

    if criterion not in CRITERIA:
        raise ParameterError(f"criterion must be one of {', '.join(CRITERIA)}; got {criterion!r}")
    from ._covariance import COVARIANCE_NAMES, MCLUST_MODELS

    if isinstance(covariance_types, str):
        covariance_types = {"all": ALL_TYPES, "mclust": tuple(MCLUST_MODELS)}.get(covariance_types,
                                                                                 (covariance_types,))
    covariance_types = tuple(covariance_types)
    unknown = [c for c in covariance_types if c not in COVARIANCE_NAMES]
    if unknown:
        raise ParameterError(f"unknown covariance type(s) {unknown}; use {', '.join(COVARIANCE_NAMES)}, "
                             "'all' (scikit-learn's four) or 'mclust' (mclust's 14)")
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
    params = dict(params, n_init=n_init)
    grid = [(k, c) for c in covariance_types for k in ks]
    n_jobs = max(1, min(int(n_jobs if n_jobs != -1 else _engine.n_threads()), len(grid)))

    done = [0]
    lock = threading.Lock()

    def run(kc):
        out = _candidate(X, sample_weight, kc[0], kc[1], seed, params)
        if callback is not None:
            with lock:
                done[0] += 1
                callback(done[0], len(grid), out[0])
        return out

    if n_jobs == 1:
        with _engine.blas_single_thread():
            results = [run(kc) for kc in grid]
    else:
        from concurrent.futures import ThreadPoolExecutor

        # one level of parallelism: candidates in threads, each fit serial
        with _engine.serial_only(), _engine.blas_single_thread(openmp=True), \
                ThreadPoolExecutor(n_jobs) as pool:
            results = list(pool.map(run, grid))

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
                           best_params_=best_params, models=models)
