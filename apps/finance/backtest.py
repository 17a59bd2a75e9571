"""Rolling VaR backtests and the coverage tests that judge them.

Every ``refit`` periods, each method is refitted on the last ``window`` returns
and its one-period VaR is held until the next refit; the forecast for day ``t``
only uses returns before ``t``. The mixture is a :class:`gmmkit.GaussianMixture`
with ``warm_start=True``, so each refit starts EM from the previous fit; its K is
chosen by BIC on the first window (or fixed). The normal and historical
simulation are refitted on the same schedule, so the three are compared on
equal terms.

Tests (``p = 1 - level``, ``x`` exceedances in ``n`` days):

- Kupiec unconditional coverage: ``LR_uc = -2 log[(1-p)^(n-x) p^x / ((1-x/n)^(n-x) (x/n)^x)]``, chi2(1);
- Christoffersen independence: first-order Markov chain of the exceedances vs
  independence, ``LR_ind`` chi2(1); conditional coverage ``LR_cc = LR_uc + LR_ind``, chi2(2);
- Basel traffic light on the last 250 days: green while the binomial probability
  of at most ``x`` exceedances is below 95%, yellow below 99.99%, red above
  (at 99% VaR: green 0-4, yellow 5-9, red 10 or more).

Examples
--------
>>> hits = np.zeros(1000, dtype=bool); hits[::100] = True
>>> round(kupiec(hits, 0.99)["p_value"], 3)
1.0
>>> traffic_light(np.r_[np.ones(5, bool), np.zeros(245, bool)], 0.99)
'yellow'
"""
from __future__ import annotations

import numpy as np
import pandas as pd  # noqa: F401  (the doctests use it)
from scipy import stats
from scipy.special import xlogy

from gmmkit.exceptions import DataError

from .dist import _check_level
from .estests import mcneil_frey_test, z2_test
from .rolling import ALL_METHODS, METHODS, rolling_forecasts

__all__ = ["ALL_METHODS", "METHODS", "christoffersen", "evaluate", "kupiec", "rolling_var", "traffic_light"]


def _loglik_bernoulli(x, n, p):
    return xlogy(n - x, 1.0 - p) + xlogy(x, p)


def kupiec(hits, level):
    """Kupiec's unconditional coverage test: dict with ``n, x, rate, expected, lr, p_value``."""
    hits = np.asarray(hits, dtype=bool)
    p = 1.0 - _check_level(level)
    n, x = hits.size, int(hits.sum())
    if n == 0:
        raise DataError("no forecasts to test")
    lr = -2.0 * (_loglik_bernoulli(x, n, p) - _loglik_bernoulli(x, n, x / n))
    lr = max(float(lr), 0.0)
    return {"n": n, "x": x, "rate": x / n, "expected": p, "lr": lr, "p_value": float(stats.chi2.sf(lr, 1))}


def christoffersen(hits, level):
    """Christoffersen's independence and conditional coverage tests.

    Returns a dict with ``lr_ind, p_ind, lr_cc, p_cc`` and the transition counts.
    """
    hits = np.asarray(hits, dtype=bool)
    if hits.size < 2:
        raise DataError("need at least 2 forecasts for the independence test")
    prev, cur = hits[:-1], hits[1:]
    n00 = int(np.sum(~prev & ~cur))
    n01 = int(np.sum(~prev & cur))
    n10 = int(np.sum(prev & ~cur))
    n11 = int(np.sum(prev & cur))
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    l_markov = xlogy(n00, 1 - pi01) + xlogy(n01, pi01) + xlogy(n10, 1 - pi11) + xlogy(n11, pi11)
    l_indep = xlogy(n00 + n10, 1 - pi) + xlogy(n01 + n11, pi)
    lr_ind = max(float(-2.0 * (l_indep - l_markov)), 0.0)
    # conditional coverage on the same n-1 transitions, as Christoffersen (1998)
    uc = kupiec(cur, level)
    lr_cc = uc["lr"] + lr_ind
    return {"n00": n00, "n01": n01, "n10": n10, "n11": n11, "lr_ind": lr_ind,
            "p_ind": float(stats.chi2.sf(lr_ind, 1)), "lr_cc": lr_cc,
            "p_cc": float(stats.chi2.sf(lr_cc, 2))}


def traffic_light(hits, level, *, days=250):
    """Basel zone (``green``/``yellow``/``red``) of the last ``days`` exceedances."""
    hits = np.asarray(hits, dtype=bool)[-days:]
    p = 1.0 - _check_level(level)
    cum = stats.binom.cdf(int(hits.sum()), hits.size, p)
    if cum < 0.95:
        return "green"
    if cum < 0.9999:
        return "yellow"
    return "red"


def rolling_var(returns, *, level=0.99, window=500, refit=20, n_components=None, max_components=5,
                n_init=3, random_state=0, methods=METHODS, vol="gjr", ewma_lambda=0.94, progress=None,
                n_states=None, max_states=3, n_mix=2, atoms=True):
    """Rolling one-period VaR (and ES) forecasts at one level: ``(frame, info)``.

    Parameters
    ----------
    returns : pandas.Series
        Returns with a DatetimeIndex (sorted).
    level : float
        VaR confidence level (for several levels from the same refits, use
        :func:`.rolling.rolling_forecasts`).
    window, refit : int
        Estimation window and refit interval, in periods.
    n_components : int, optional
        Fixed K for the mixture; default: BIC over ``2..max_components`` on the
        first window (K=1 would be the normal column again).
    vol : {"gjr", "garch", "ewma", "none"}
        Volatility filter (:mod:`.volatility`), default GJR-GARCH. ``"none"``: the plain window.
        Otherwise every method is fitted to the window's standardised residuals
        ``z = (r - mu) / s`` and its VaR is ``s[t] VaR_z - mu`` with ``s[t]`` the
        day's volatility forecast: the normal becomes RiskMetrics-like (a normal
        for ``z``), historical simulation becomes filtered historical simulation
        (the empirical quantile of ``z``, rescaled), the mixture models the shape
        of ``z``. ``"ewma"``: RiskMetrics EWMA (``ewma_lambda``, ``mu = 0``);
        ``"garch"``/``"gjr"``: GARCH(1,1)/GJR-GARCH refitted by QMLE on each
        window (warm-started from the previous window's parameters), its
        recursion run on through the days until the next refit.
    progress : callable, optional
        Called with ``(done, total)`` after each refit.
    n_states, max_states, n_mix
        For the method ``"hmm"`` (Markov switching, :class:`.switching.RollingSwitching`):
        regimes fixed or by BIC over ``2..max_states`` on the first window, normal
        components per regime. It models the raw returns of the window (the regimes
        are its volatility model: ``vol`` does not apply to it), refits with warm start
        and updates its regime probabilities every day by the forward filter.
    atoms : bool
        Repeated exact returns become point masses of the mixture (:mod:`.pointmass`).

    Returns
    -------
    (pandas.DataFrame, dict)
        Frame indexed by date with ``return``, ``sigma`` and, per method, ``var_<m>``,
        ``es_<m>`` and ``hit_<m>``; and info (``n_components``, ``n_refits``,
        ``mean_em_iterations`` per refit, ``n_floored``: refits where a width sat at
        the floor, ``n_restarts``: always 0, the refits never restart from k-means).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> r = pd.Series(rng.standard_t(4, 900) * 0.01, index=pd.bdate_range("2010-01-01", periods=900))
    >>> frame, info = rolling_var(r, window=500, refit=100, n_components=2)
    >>> len(frame), info["n_refits"]
    (400, 4)
    """
    level = _check_level(level)
    frames, info, _ = rolling_forecasts(
        returns, levels=(level,), window=window, refit=refit, n_components=n_components,
        max_components=max_components, n_init=n_init, random_state=random_state, methods=methods, vol=vol,
        ewma_lambda=ewma_lambda, progress=progress, n_states=n_states, max_states=max_states, n_mix=n_mix,
        atoms=atoms)
    info["level"] = level
    return frames[level], info


def evaluate(frame, level, *, methods=None, forecasts=None, n_sims=1000, random_state=0):
    """One row per method: exceedances, rate, Kupiec, Christoffersen and Basel zone.

    With ``forecasts`` (:class:`.rolling.Forecasts`), the ES tests too:
    Acerbi-Szekely Z2 (``z2``, ``z2_p``, ``n_sims`` simulated paths) and McNeil-Frey
    (``mf_p``; NaN with fewer than 2 exceedances), see :mod:`.estests`.
    """
    methods = methods or [c[4:] for c in frame.columns if c.startswith("var_")]
    rows = []
    for m in methods:
        hits = frame[f"hit_{m}"].to_numpy()
        uc = kupiec(hits, level)
        cc = christoffersen(hits, level)
        es_row = {}
        if forecasts is not None and f"es_{m}" in frame:
            es_row = _es_tests(frame, m, level, forecasts, n_sims, random_state)
        rows.append({**es_row,
            "model": m, "n": uc["n"], "exceedances": uc["x"], "rate": uc["rate"],
            "expected": uc["expected"], "kupiec_lr": uc["lr"], "kupiec_p": uc["p_value"],
            "ind_lr": cc["lr_ind"], "ind_p": cc["p_ind"], "cc_lr": cc["lr_cc"], "cc_p": cc["p_cc"],
            "basel_zone": traffic_light(hits, level),
            "mean_var": float(frame[f"var_{m}"].mean()),
        })
    return rows


def _es_tests(frame, m, level, forecasts, n_sims, random_state):
    x, var, es = (frame[c].to_numpy() for c in ("return", f"var_{m}", f"es_{m}"))
    z2 = z2_test(x, var, es, level, lambda rng, n: forecasts.draw(m, rng, n), n_sims=n_sims,
                 random_state=random_state)
    scale = frame["sigma"].to_numpy() * float(np.std(x / frame["sigma"].to_numpy()))
    mf = mcneil_frey_test(x, var, es, scale, n_boot=n_sims, random_state=random_state)
    return {"mean_es": float(es.mean()), "z2": z2["z2"], "z2_p": z2["p_value"], "mf_p": mf["p_value"],
            "mf_mean_residual": mf["mean_residual"]}


def backtest_table(returns, *, levels=(0.99,), es_sims=1000, random_state=0, progress=None, **kwargs):
    """Backtest every column of ``returns`` at every level from one set of refits per series.

    Returns ``(rows, runs)``: one row per series, level and method (the columns of
    :func:`evaluate`, with ``series`` and ``level``; ES tests unless ``es_sims=0``),
    and per series ``{"frames": {level: frame}, "info": info}``. ``kwargs`` go to
    :func:`.rolling.rolling_forecasts`.
    """
    rows, runs = [], {}
    frame = returns.to_frame() if hasattr(returns, "to_frame") and returns.ndim == 1 else returns
    for name in frame.columns:
        frames, info, fc = rolling_forecasts(frame[name], levels=levels, random_state=random_state,
                                             progress=progress, **kwargs)
        runs[str(name)] = {"frames": frames, "info": info}
        for a, f in frames.items():
            for row in evaluate(f, a, forecasts=fc if es_sims else None, n_sims=es_sims,
                                random_state=random_state):
                rows.append({"series": str(name), "level": a, **row})
    return rows, runs
