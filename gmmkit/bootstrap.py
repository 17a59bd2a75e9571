"""Bootstrap inference for a fitted mixture, as mclust's ``MclustBootstrap`` and
``mclustBootstrapLRT``.

- :func:`bootstrap`: standard errors and percentile intervals of the weights, means and
  covariances. Each replicate refits the model by EM from the fitted parameters (mclust
  starts from the fitted posteriors, which is the same first E-step) on
  ``"bs"``: rows drawn with replacement (the nonparametric bootstrap);
  ``"wlbs"``: every row weighted by an Exp(1) draw (the weighted-likelihood bootstrap,
  Newton and Raftery 1994; mclust divides the draws by their maximum, which changes
  nothing); ``"pb"``: rows drawn from the fitted mixture (parametric).
  Components keep their labels because every refit starts from the fitted model.
- :func:`bootstrap_lrt`: the bootstrap likelihood-ratio test of K against K + 1
  components (McLachlan 1987): the observed statistic 2 (log L(K+1) - log L(K)) is
  compared with its distribution over data simulated from the K-component fit, both
  models refitted from the observed fits; p = (1 + #{boot >= observed}) / (B + 1).

>>> import numpy as np
>>> from gmmkit import GaussianMixture
>>> from gmmkit.bootstrap import bootstrap, bootstrap_lrt
>>> rng = np.random.default_rng(0)
>>> X = np.vstack([rng.normal(-3, 1, (150, 2)), rng.normal(3, 1, (150, 2))])
>>> gm = GaussianMixture(2, random_state=0).fit(X)
>>> se = bootstrap(gm, X, n_boot=30, random_state=0).standard_errors()
>>> se["weights"].shape, se["means"].shape, se["covariances"].shape
((2,), (2, 2), (2, 2, 2))
>>> lrt = bootstrap_lrt(X, "VVV", max_components=2, n_boot=19, random_state=0)
>>> bool(lrt.p_values[0] <= 0.05), lrt.selected   # 2 components beat 1, 3 do not beat 2
(True, 2)
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field

import numpy as np

from .exceptions import GMMKitError, ParameterError

__all__ = ["BootstrapResult", "LRTResult", "bootstrap", "bootstrap_lrt", "KINDS"]

KINDS = ("bs", "wlbs", "pb")
_FIT_ERRORS = (GMMKitError, np.linalg.LinAlgError, ValueError, ArithmeticError)


def _refit(model, X, sample_weight=None, seed=0):
    """``model`` refitted by EM on X from its own parameters (None if EM failed)."""
    est = copy.deepcopy(model)
    est.set_params(warm_start=True, n_init=1, callback=None, verbose=0, random_state=seed)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # a replicate that does not converge is kept, as mclust
            est.fit(X, sample_weight=sample_weight)
            loglik = float(est.score_samples(X) @ (np.ones(len(X)) if sample_weight is None else sample_weight))
    except _FIT_ERRORS:
        return None, np.nan
    return (est, loglik) if np.isfinite(loglik) else (None, np.nan)


def _draw(model, n, seed):
    """n rows drawn from the fitted mixture."""
    est = copy.copy(model)
    est.random_state = seed
    return est.sample(n)[0]


def _check_model(model, X):
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model, "means_")
    if getattr(model, "noise_weight_", 0.0) > 0:
        raise ParameterError("the bootstrap of a model with a noise component is not supported")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != model.means_.shape[1]:
        raise ParameterError(f"X must have shape (n, {model.means_.shape[1]}) for this model; got {X.shape}")
    return X


@dataclass
class BootstrapResult:
    """Replicates of :func:`bootstrap`: ``weights`` (B, K), ``means`` (B, K, D),
    ``covariances`` (B, K, D, D) (full matrices, whatever the covariance type)."""

    kind: str
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    n_failed: int = 0
    model: object = field(default=None, repr=False)

    @property
    def n_boot(self):
        return int(self.weights.shape[0])

    def _apply(self, fn):
        return {"weights": fn(self.weights), "means": fn(self.means), "covariances": fn(self.covariances)}

    def standard_errors(self):
        """Standard deviations over the replicates (mclust's ``summary(boot, what = "se")``)."""
        return self._apply(lambda a: a.std(axis=0, ddof=1))

    def averages(self):
        """Means over the replicates (mclust's ``what = "ave"``)."""
        return self._apply(lambda a: a.mean(axis=0))

    def confidence_intervals(self, level=0.95):
        """Percentile intervals (2, ...) of the weights, means and variances (the diagonals
        of the covariances), as mclust's ``what = "ci"``."""
        if not 0 < level < 1:
            raise ParameterError(f"level must be in (0, 1); got {level!r}")
        q = [(1 - level) / 2, (1 + level) / 2]
        var = np.diagonal(self.covariances, axis1=2, axis2=3)
        return {"weights": np.quantile(self.weights, q, axis=0), "means": np.quantile(self.means, q, axis=0),
                "variances": np.quantile(var, q, axis=0)}


def bootstrap(model, X, *, n_boot=999, kind="bs", random_state=None, max_failures=None, callback=None):
    """Bootstrap replicates of a fitted :class:`gmmkit.GaussianMixture` on its data X.

    Parameters
    ----------
    model : fitted GaussianMixture (any covariance type; no noise component)
    X : (n, D) the data the model was fitted on
    n_boot : int, replicates (mclust: 999)
    kind : {"bs", "wlbs", "pb"}, resampling (module docstring)
    random_state : int or None
    max_failures : replicates whose EM fails are drawn again, at most this many times
        (default ``10 * n_boot``, as mclust)
    callback : called as ``callback(done, n_boot)`` after each replicate

    Returns
    -------
    BootstrapResult
    """
    from .covariance import full_covariances

    if kind not in KINDS:
        raise ParameterError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    if int(n_boot) < 2:
        raise ParameterError(f"n_boot must be at least 2; got {n_boot!r}")
    X = _check_model(model, X)
    n = X.shape[0]
    rng = np.random.default_rng(random_state)
    max_failures = 10 * n_boot if max_failures is None else int(max_failures)
    out, failed = [], 0
    while len(out) < n_boot:
        seed = int(rng.integers(2**31 - 1))
        if kind == "bs":
            est, _ = _refit(model, X[rng.integers(0, n, size=n)], seed=seed)
        elif kind == "wlbs":
            w = rng.exponential(size=n)
            est, _ = _refit(model, X, w / w.max(), seed=seed)
        else:
            est, _ = _refit(model, _draw(model, n, seed), seed=seed)
        if est is None:
            failed += 1
            if failed > max_failures:
                raise GMMKitError(f"the bootstrap gave up: EM failed on {failed} resamples "
                                  f"({len(out)} of {n_boot} replicates done)")
            continue
        out.append((est.weights_, est.means_, full_covariances(est)))
        if callback is not None:
            callback(len(out), n_boot)
    w, m, c = (np.array(a) for a in zip(*out))
    return BootstrapResult(kind, w, m, c, failed, model)


@dataclass
class LRTResult:
    """Outcome of :func:`bootstrap_lrt`. ``n_components[i]`` components were tested against
    one more: observed ``statistics[i]``, ``p_values[i]``, replicates ``bootstrap[:, i]``."""

    covariance_type: str
    n_components: list
    statistics: np.ndarray
    p_values: np.ndarray
    bootstrap: np.ndarray
    log_likelihoods: dict
    level: float = 0.05
    models: dict = field(default_factory=dict, repr=False)

    @property
    def selected(self):
        """The first K whose test against K + 1 is not significant at ``level`` (the last
        K + 1 tested if every test is)."""
        for g, p in zip(self.n_components, self.p_values):
            if p > self.level:
                return int(g)
        return int(self.n_components[-1]) + 1

    def table(self):
        """One row per test: K, K + 1, statistic, p-value, mean of the bootstrap statistics."""
        import pandas as pd

        return pd.DataFrame({"n_components": self.n_components,
                             "alternative": [g + 1 for g in self.n_components],
                             "statistic": self.statistics, "p_value": self.p_values,
                             "bootstrap_mean": np.nanmean(self.bootstrap, axis=0)})


def bootstrap_lrt(X, covariance_type="VVV", *, max_components=None, n_boot=999, level=0.05,
                  random_state=None, callback=None, **params):
    """Bootstrap likelihood-ratio tests of K against K + 1 components for one covariance
    model, as mclust's ``mclustBootstrapLRT``.

    With ``max_components=None`` K runs 1, 2, ... up to 8 and stops after the first test
    that is not significant at ``level``; with ``max_components=M`` every K = 1..M is tested.
    The observed fits are :func:`gmmkit.select`'s (``**params`` go to every
    :class:`gmmkit.GaussianMixture`); a K that cannot be fitted ends the sequence.
    ``callback(done, total)`` is called after each bootstrap replicate.

    Returns
    -------
    LRTResult
    """
    from . import select

    if not 0 < level < 1:
        raise ParameterError(f"level must be in (0, 1); got {level!r}")
    if int(n_boot) < 1:
        raise ParameterError(f"n_boot must be at least 1; got {n_boot!r}")
    top = 9 if max_components is None else int(max_components) + 1
    if top < 2:
        raise ParameterError(f"max_components must be at least 1; got {max_components!r}")
    rng = np.random.default_rng(random_state)
    res = select(X, n_components=range(1, top + 1), covariance_types=[covariance_type], criterion="bic",
                 random_state=int(rng.integers(2**31 - 1)), **params)
    models = {k: m for (k, _), m in res.models.items()}
    loglik = {int(r.n_components): float(r.log_likelihood) for r in res.table.itertuples() if not r.error}
    ks = []
    while len(ks) + 2 <= top and len(ks) + 1 in models and len(ks) + 2 in models:
        ks.append(len(ks) + 1)  # 1, 2, ... up to the first K that could not be fitted
    if not ks:
        raise GMMKitError(f"no two consecutive numbers of components could be fitted with {covariance_type}")
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    stats, pvals, boots, done = [], [], [], 0
    total = n_boot * len(ks)
    for g in ks:
        obs = 2 * (loglik[g + 1] - loglik[g])
        reps = np.full(n_boot, np.nan)
        b = tries = 0
        while b < n_boot:
            seed = int(rng.integers(2**31 - 1))
            Xb = _draw(models[g], n, seed)
            _, l0 = _refit(models[g], Xb, seed=seed)
            _, l1 = _refit(models[g + 1], Xb, seed=seed)
            tries += 1
            if not np.isfinite(l1 - l0):
                if tries > 10 * n_boot:
                    raise GMMKitError(f"the bootstrap LRT gave up at K={g}: EM failed on {tries - b} samples")
                continue
            reps[b] = 2 * (l1 - l0)
            b += 1
            done += 1
            if callback is not None:
                callback(done, total)
        stats.append(obs)
        pvals.append((1 + np.sum(reps >= obs)) / (n_boot + 1))
        boots.append(reps)
        if max_components is None and pvals[-1] > level:
            break
    return LRTResult(str(covariance_type), ks[:len(stats)], np.array(stats), np.array(pvals),
                     np.column_stack(boots), loglik, level, models)
