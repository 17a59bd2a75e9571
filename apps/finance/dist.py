"""Return distributions: a univariate normal mixture, and the normal and Student-t fits.

A fitted Gaussian mixture of returns is a :class:`NormalMixture` (weights, means,
standard deviations). Its CDF and density are exact; its quantile is found by
root finding on the CDF (:func:`scipy.optimize.brentq`), and the expected
shortfall has a closed form: for a component ``N(m, s^2)`` and a threshold ``q``,
``E[R 1{R <= q}] = m Phi(z) - s phi(z)`` with ``z = (q - m) / s``.

Mixtures are fitted on returns divided by a fixed scale (their standard
deviation), so that the EM engine's ``reg_covar`` is negligible at any return
magnitude, and mapped back exactly.

Examples
--------
>>> mix = NormalMixture([0.9, 0.1], [0.001, -0.002], [0.01, 0.03])
>>> q = mix.ppf(0.01)
>>> round(float(mix.cdf(q)), 6)
0.01
>>> bool(mix.expected_shortfall(0.99) > mix.value_at_risk(0.99) > 0)
True
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats
from scipy.special import log_ndtr, logsumexp, ndtr
from sklearn.exceptions import ConvergenceWarning

from gmmkit.exceptions import DataError, DegenerateComponentWarning, ParameterError

from .data import MAX_ABS_RETURN

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


class NormalMixture:
    """A univariate mixture of normals, ``sum_k w_k N(mu_k, sigma_k^2)``.

    Parameters
    ----------
    weights, means, sds : array-like of shape (K,)
        Component weights (summing to 1), means and standard deviations.

    Examples
    --------
    >>> m = NormalMixture([1.0], [0.0], [1.0])
    >>> round(m.value_at_risk(0.975), 4), round(m.expected_shortfall(0.975), 4)
    (1.96, 2.3378)
    """

    def __init__(self, weights, means, sds):
        self.weights = np.asarray(weights, dtype=np.float64).ravel()
        self.means = np.asarray(means, dtype=np.float64).ravel()
        self.sds = np.asarray(sds, dtype=np.float64).ravel()
        if not (self.weights.shape == self.means.shape == self.sds.shape):
            raise ParameterError("weights, means and sds must have the same length")
        if np.any(self.sds <= 0) or np.any(self.weights < 0):
            raise ParameterError("standard deviations must be positive and weights non-negative")
        if not np.isclose(self.weights.sum(), 1.0, atol=1e-8):
            raise ParameterError("mixture weights must sum to 1")

    @property
    def n_components(self):
        return self.weights.size

    def mean(self):
        """Mixture mean."""
        return float(self.weights @ self.means)

    def std(self):
        """Mixture standard deviation."""
        m = self.mean()
        return float(np.sqrt(self.weights @ (self.sds ** 2 + (self.means - m) ** 2)))

    def _z(self, x):
        x = np.asarray(x, dtype=np.float64)
        return (x[..., None] - self.means) / self.sds

    def cdf(self, x):
        """Cumulative distribution function."""
        return ndtr(self._z(x)) @ self.weights

    def logpdf(self, x):
        """Log density."""
        z = self._z(x)
        comp = -0.5 * z * z - np.log(self.sds) - _LOG_SQRT_2PI
        return logsumexp(comp, b=self.weights, axis=-1)

    def pdf(self, x):
        """Density."""
        return np.exp(self.logpdf(x))

    def logcdf(self, x):
        """Log CDF, accurate far in the lower tail."""
        return logsumexp(log_ndtr(self._z(x)), b=self.weights, axis=-1)

    def ppf(self, p):
        """Quantile: the ``x`` with ``cdf(x) = p``, by root finding (scalar ``p``)."""
        p = float(p)
        if not 0.0 < p < 1.0:
            raise ParameterError(f"probability must be in (0, 1), got {p}")
        # every component quantile bounds the mixture quantile from one side
        zq = stats.norm.ppf(p)
        lo = float(np.min(self.means + zq * self.sds)) - 1e-12
        hi = float(np.max(self.means + zq * self.sds)) + 1e-12
        if lo == hi:
            return lo
        logp = math.log(p)
        if p > 1e-12:   # the plain CDF is accurate here, and much cheaper than the log-sum-exp form
            w, m, sd = self.weights, self.means, self.sds
            return optimize.brentq(lambda x: math.log(float(ndtr((x - m) / sd) @ w)) - logp, lo, hi,
                                   xtol=1e-14, rtol=1e-13, maxiter=200)
        return optimize.brentq(lambda x: float(self.logcdf(x)) - logp, lo, hi, xtol=1e-14, rtol=1e-13,
                               maxiter=200)

    def partial_mean(self, q):
        """``E[R 1{R <= q}]`` in closed form."""
        z = (q - self.means) / self.sds
        return float(self.weights @ (self.means * ndtr(z) - self.sds * stats.norm.pdf(z)))

    def value_at_risk(self, level):
        """VaR at confidence ``level`` (e.g. 0.99), as a positive loss: ``-ppf(1 - level)``."""
        return -self.ppf(1.0 - _check_level(level))

    def expected_shortfall(self, level):
        """ES at ``level``: ``-E[R | R <= -VaR]``, closed form for normal mixtures."""
        level = _check_level(level)
        q = self.ppf(1.0 - level)
        return -self.partial_mean(q) / (1.0 - level)

    def sample(self, n, rng):
        """Draw ``n`` returns with the numpy Generator ``rng``."""
        k = rng.choice(self.n_components, size=n, p=self.weights)
        return self.means[k] + self.sds[k] * rng.standard_normal(n)

    def scaled(self, loc, scale):
        """The mixture of ``loc + scale * R``."""
        return NormalMixture(self.weights, loc + scale * self.means, abs(scale) * self.sds)


def _check_level(level):
    level = float(level)
    if not 0.5 <= level < 1.0:
        raise ParameterError(f"confidence level must be in [0.5, 1), got {level} (e.g. 0.99)")
    return level


@dataclass
class MixtureFit:
    """A Gaussian mixture fitted to one return series.

    Attributes
    ----------
    mixture : NormalMixture
        The return distribution (on the returns' own scale).
    model : gmmkit.GaussianMixture
        The fitted estimator, on ``(r - loc) / scale``.
    loc, scale : float
        The standardisation used for fitting.
    bic_table : dict
        ``{K: BIC}`` of the candidates tried (on the returns' scale).
    excluded : dict
        ``{K: reason}`` of candidates passed over because a component was below the
        minimum weight or width (:func:`small_components`).
    """

    mixture: NormalMixture
    model: object
    loc: float
    scale: float
    bic_table: dict
    excluded: dict = None

    def standardise(self, r):
        return ((np.asarray(r, dtype=np.float64) - self.loc) / self.scale)[:, None]


#: a component must hold at least this many observations (weight x n) ...
MIN_COMPONENT_POINTS = 10
#: ... and be at least this wide, as a share of the sample's standard deviation, to count as a regime
MIN_COMPONENT_SD = 0.05


def small_components(weights, sds, n, scale):
    """Indices of components below the minimum weight (``MIN_COMPONENT_POINTS / n``) or width
    (``MIN_COMPONENT_SD * scale``): a spike on a few observations, not a regime.

    >>> small_components([0.5, 0.497, 0.003], [1.0, 2.0, 1.5], 1000, 1.0).tolist()
    [2]
    """
    w, sd = np.asarray(weights, dtype=np.float64), np.asarray(sds, dtype=np.float64)
    return np.flatnonzero((w * n < MIN_COMPONENT_POINTS) | (sd < MIN_COMPONENT_SD * scale))


def _model_sds(gm):
    return np.sqrt(np.asarray(gm.covariances_, dtype=np.float64).reshape(gm.n_components, -1)[:, 0])


def _mixture_from_model(gm, loc, scale):
    sds = _model_sds(gm)
    return NormalMixture(gm.weights_ / gm.weights_.sum(), gm.means_[:, 0], sds).scaled(loc, scale)


def _check_returns(r, minimum=10):
    r = np.asarray(r, dtype=np.float64).ravel()
    if r.size < minimum:
        raise DataError(f"need at least {minimum} returns, got {r.size}")
    if not np.all(np.isfinite(r)):
        raise DataError("returns contain NaN or infinite values")
    if np.std(r) == 0:
        raise DataError("returns are constant")
    big = float(np.max(np.abs(r)))
    if big > MAX_ABS_RETURN:
        raise DataError(f"a return of {big:.3g} per period is not plausible (above {MAX_ABS_RETURN:g}); "
                        f"check the units (--percent?) and the prices")
    return r


def fit_mixture(r, *, n_components=None, max_components=5, min_components=1, n_init=3, random_state=0,
                criterion="bic"):
    """Fit a Gaussian mixture to returns; K by BIC over ``min_components..max_components`` unless given.

    Parameters
    ----------
    r : array-like of shape (n,)
        Returns.
    n_components : int, optional
        Fixed number of components (no selection).
    max_components, min_components : int
        Range of K tried when selecting.
    n_init, random_state : passed to :class:`gmmkit.GaussianMixture`.

    Returns
    -------
    MixtureFit

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> r = np.concatenate([rng.normal(0, 0.01, 3000), rng.normal(0, 0.04, 300)])
    >>> fit = fit_mixture(r, max_components=3)
    >>> fit.mixture.n_components >= 2
    True
    """
    r = _check_returns(r)
    loc, scale = float(np.mean(r)), float(np.std(r))
    X = ((r - loc) / scale)[:, None]
    if n_components is not None:
        candidates = [int(n_components)]
    else:
        if not 1 <= min_components <= max_components:
            raise ParameterError(f"need 1 <= min_components <= max_components, got "
                                 f"{min_components} and {max_components}")
        candidates = list(range(int(min_components), int(max_components) + 1))
    if candidates[0] < 1:
        raise ParameterError("n_components must be at least 1")
    shift = 2.0 * r.size * math.log(scale)   # BIC on the returns' scale = BIC(X) + 2 n log(scale)
    best, table, excluded = None, {}, {}
    with warnings.catch_warnings():
        # the fit is reported as is; EM's iteration limit and re-seeded components are not errors here
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", DegenerateComponentWarning)
        best = _fit_candidates(X, candidates, n_init, random_state, criterion, shift, table, excluded)
    return MixtureFit(_mixture_from_model(best, loc, scale), best, loc, scale, table, excluded)


def _fit_candidates(X, candidates, n_init, random_state, criterion, shift, table, excluded=None):
    """Fit every K (with :func:`gmmkit.select` when the core has it); fill ``table``; return the best
    candidate without a component below the minimum weight or width (those go in ``excluded``)."""
    from gmmkit import GaussianMixture

    params = dict(max_iter=500, tol=1e-6)
    select = _select_function()
    if select is not None and len(candidates) > 1:
        res = select(X, n_components=candidates, covariance_types=("full",), criterion=criterion,
                     n_init=n_init, random_state=random_state, **params)
        for _, row in res.table.iterrows():
            if not row.get("error"):
                table[int(row["n_components"])] = float(row[criterion]) + shift
        if excluded is None:      # several columns (a portfolio): no width rule, BIC's choice
            return res.best_model_
        models = {k: m for (k, _), m in getattr(res, "models", {}).items() if m is not None}
        for k in sorted(table, key=table.get):
            gm = models.get(k)
            if gm is None:
                return res.best_model_
            small = small_components(gm.weights_, _model_sds(gm), X.shape[0], 1.0)
            if small.size == 0 or k == min(table):
                return gm
            w, sd = gm.weights_[small[0]], _model_sds(gm)[small[0]]
            excluded[k] = f"a component of weight {w:.3g} ({w * X.shape[0]:.1f} obs.), sd {sd:.3g} x the sample's"
        return res.best_model_
    best = None
    for k in candidates:
        gm = GaussianMixture(k, covariance_type="full", n_init=n_init, random_state=random_state,
                             **params).fit(X)
        table[k] = (float(gm.bic(X)) if criterion == "bic" else float(gm.aic(X))) + shift
        if best is None or table[k] < table[best.n_components]:
            best = gm
    return best


def _select_function():
    """``gmmkit.select`` (the core's model selection), or None on a core without it."""
    import gmmkit

    try:
        return gmmkit.select
    except AttributeError:
        return None


def normal_fit(r):
    """Maximum-likelihood normal fit: ``(mean, sd)``."""
    r = _check_returns(r, minimum=2)
    return float(np.mean(r)), float(np.std(r))


def student_t_fit(r):
    """Maximum-likelihood Student-t fit (scipy): ``(df, loc, scale)``."""
    r = _check_returns(r)
    df, loc, scale = stats.t.fit(r)
    return float(df), float(loc), float(scale)


def compare_fits(r, fit, *, atoms=None):
    """Log-likelihood, parameter count, AIC and BIC of the mixture, normal and Student-t fits.

    Returns a list of dicts (one per model), on the returns' scale. ``atoms``
    (``(counts, n_total)``): ``r`` are the continuous returns of a series whose other
    returns are point masses; every model then gets the same atom part (their shares,
    one parameter each) added to its likelihood, and BIC counts all ``n_total`` returns.
    """
    r = _check_returns(r)
    n = r.size
    extra_ll, extra_p = 0.0, 0
    if atoms is not None and len(atoms[0]):
        from .pointmass import atom_loglik

        extra_ll, extra_p, n = atom_loglik(atoms[0], atoms[1]), len(atoms[0]), int(atoms[1])
    mu, sd = normal_fit(r)
    df, tl, ts = student_t_fit(r)
    rows = [
        ("gmm", float(np.sum(fit.mixture.logpdf(r))), 3 * fit.mixture.n_components - 1,
         f"K={fit.mixture.n_components}"),
        ("normal", float(np.sum(stats.norm.logpdf(r, mu, sd))), 2, ""),
        ("student-t", float(np.sum(stats.t.logpdf(r, df, tl, ts))), 3, f"df={df:.2f}"),
    ]
    rows = [(name, ll + extra_ll, p + extra_p, note) for name, ll, p, note in rows]
    return [{"model": name, "loglik": ll, "n_params": p, "aic": 2 * p - 2 * ll,
             "bic": p * math.log(n) - 2 * ll, "note": note} for name, ll, p, note in rows]


def components_table(mixture, periods_per_year, n=None, scale=None):
    """One dict per component: weight, mean, sd, annualised mean and volatility, sorted by volatility.

    With ``n`` (observations) and ``scale`` (their standard deviation), a component
    below the minimum weight or width (:func:`small_components`) gets a ``note``.
    """
    order = np.argsort(mixture.sds)
    small = set() if n is None else set(small_components(mixture.weights, mixture.sds, n, scale).tolist())
    return [{"component": int(i), "weight": float(mixture.weights[k]), "mean": float(mixture.means[k]),
             "sd": float(mixture.sds[k]), "ann_mean": float(mixture.means[k] * periods_per_year),
             "ann_vol": float(mixture.sds[k] * math.sqrt(periods_per_year)),
             "note": "spike, not a regime" if k in small else ""}
            for i, k in enumerate(order)]
