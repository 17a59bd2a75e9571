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

import warnings

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import xlogy

from gmmkit.exceptions import DataError, DegenerateComponentWarning, ParameterError

from .dist import _check_level, _mixture_from_model, fit_mixture
from .risk import historical_var_es, normal_var_es
from .volatility import check_filter, ewma_volatility, fit_garch

METHODS = ("gmm", "normal", "historical")
ALL_METHODS = METHODS + ("hmm",)   # hmm: the Markov-switching model (:mod:`.switching`), on request


def _estimator(k, random_state, *, n_init, warm_start):
    from gmmkit import GaussianMixture

    return GaussianMixture(k, covariance_type="full", warm_start=warm_start, max_iter=500, tol=1e-6,
                           n_init=n_init, random_state=random_state)


def _degenerate(gm, n, *, min_points=5.0, min_sd=0.05):
    """A component holding fewer than ``min_points`` days or narrower than ``min_sd`` (standardised)."""
    sds = np.sqrt(np.asarray(gm.covariances_).reshape(gm.n_components, -1)[:, 0])
    return bool(np.any(gm.weights_ * n < min_points) or np.any(sds < min_sd))


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


def _garch_summary(fits):
    """Median parameters over the refits and how many fits SLSQP did not report converged."""
    keys = ("omega", "alpha", "beta", "gamma", "persistence")
    return {**{f"median_{k}": float(np.median([f.params()[k] for f in fits])) for k in keys},
            "not_converged": sum(not f.converged for f in fits)}


def rolling_var(returns, *, level=0.99, window=500, refit=20, n_components=None, max_components=5,
                n_init=3, random_state=0, methods=METHODS, vol="gjr", ewma_lambda=0.94, progress=None,
                n_states=None, max_states=3, n_mix=2):
    """Rolling one-period VaR forecasts of the three methods.

    Parameters
    ----------
    returns : pandas.Series
        Returns with a DatetimeIndex (sorted).
    level : float
        VaR confidence level.
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

    Returns
    -------
    (pandas.DataFrame, dict)
        Frame indexed by date with ``return`` and, per method, ``var_<m>`` and
        ``hit_<m>``; and info (``n_components``, ``n_refits``, ``n_restarts``: refits
        restarted from k-means after a collapse, ``mean_em_iterations`` per refit).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> r = pd.Series(rng.standard_t(4, 900) * 0.01, index=pd.bdate_range("2010-01-01", periods=900))
    >>> frame, info = rolling_var(r, window=500, refit=100, n_components=2)
    >>> len(frame), info["n_refits"]
    (400, 4)
    """
    from sklearn.exceptions import ConvergenceWarning

    level = _check_level(level)
    window, refit = int(window), int(refit)
    if window < 50:
        raise ParameterError(f"window must be at least 50 periods, got {window}")
    if refit < 1:
        raise ParameterError(f"refit must be at least 1, got {refit}")
    unknown = set(methods) - set(ALL_METHODS)
    if unknown:
        raise ParameterError(f"unknown method(s) {sorted(unknown)}; choose from {list(ALL_METHODS)}")
    check_filter(vol)
    if vol in ("garch", "gjr") and window < 100:
        raise ParameterError(f"--vol {vol} fits a GARCH on each window: window must be at least 100, "
                             f"got {window}")
    r = np.asarray(returns, dtype=np.float64)
    if r.size < window + refit:
        raise DataError(f"series too short for the backtest: {r.size} returns, need at least "
                        f"window + refit = {window + refit}")
    sigma = ewma_volatility(r, lam=ewma_lambda, init_periods=window) if vol == "ewma" else np.ones(r.size)
    n_out = r.size - window
    out = {m: np.empty(n_out) for m in methods}
    info = {"window": window, "refit": refit, "level": level, "vol": vol, "n_restarts": 0}
    gm = garch = None
    em_iters, garch_fits = [], []
    if "hmm" in methods:
        from .switching import RollingSwitching

        switching = RollingSwitching(level, n_states=n_states, max_states=max_states, n_mix=n_mix,
                                     n_init=n_init, random_state=random_state)
    starts = list(range(window, r.size, refit))
    for j, t in enumerate(starts):
        stop = min(t + refit, r.size)
        sl = slice(t - window, stop - window)
        if vol in ("garch", "gjr"):
            # refit on the window, then run the recursion on to the last day this fit forecasts
            garch = fit_garch(r[t - window:t], asymmetric=vol == "gjr", start=garch)
            garch_fits.append(garch)
            mu = garch.mu
            v0 = float(np.mean((r[t - window:t] - mu) ** 2))     # from the window only, as in the fit
            s = np.sqrt(garch.variance(r[t - window:stop - 1], v0=v0))
            hist, sig = (r[t - window:t] - mu) / s[:window], s[window:]
        else:
            mu, hist, sig = 0.0, r[t - window:t] / sigma[t - window:t], sigma[t:stop]
        if "gmm" in methods:
            if gm is None:
                first = fit_mixture(hist, n_components=n_components, max_components=max_components,
                                    min_components=min(2, max_components), n_init=n_init,
                                    random_state=random_state)
                loc, scale = first.loc, first.scale
                k = first.mixture.n_components
                info["n_components"] = k
                info["bic_first_window"] = first.bic_table
                gm = _estimator(k, random_state, n_init=1, warm_start=True)
                gm.set_params(weights_init=first.model.weights_, means_init=first.model.means_,
                              precisions_init=first.model.precisions_)
            X = ((hist - loc) / scale)[:, None]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                warnings.simplefilter("ignore", DegenerateComponentWarning)
                gm.fit(X)
                if _degenerate(gm, window):
                    # warm start can stay in a collapsed solution (a spike on a few days):
                    # start afresh from k-means and warm-start from there on
                    gm = _estimator(k, random_state, n_init=n_init, warm_start=True).fit(X)
                    info["n_restarts"] += 1
            em_iters.append(int(gm.n_iter_))
            out["gmm"][sl] = sig * _mixture_from_model(gm, loc, scale).value_at_risk(level) - mu
        if "normal" in methods:
            out["normal"][sl] = sig * normal_var_es(float(hist.mean()), float(hist.std()), level)[0] - mu
        if "historical" in methods:
            out["historical"][sl] = sig * historical_var_es(hist, level)[0] - mu
        if "hmm" in methods:
            out["hmm"][sl] = switching.block(r[t - window:t], r[t:stop])
        if progress is not None:
            progress(j + 1, len(starts))
    info["n_refits"] = len(starts)
    if em_iters:
        info["mean_em_iterations"] = float(np.mean(em_iters))
    if vol == "ewma":
        info["ewma_lambda"] = ewma_lambda
    if garch_fits:
        info["garch"] = _garch_summary(garch_fits)
    if "hmm" in methods:
        info["hmm"] = {"n_states": switching.fit.n_states, "n_mix": switching.fit.n_mix,
                       "bic_first_window": switching.first_bic,
                       "mean_em_iterations": float(np.mean(switching.iterations)),
                       "n_restarts": switching.restarts}
    index = returns.index[window:] if hasattr(returns, "index") else np.arange(window, r.size)
    frame = pd.DataFrame({"return": r[window:]}, index=index)
    for m in methods:
        frame[f"var_{m}"] = out[m]
        frame[f"hit_{m}"] = r[window:] < -out[m]
    return frame, info


def evaluate(frame, level, *, methods=None):
    """One row per method: exceedances, rate, Kupiec, Christoffersen and Basel zone."""
    methods = methods or [c[4:] for c in frame.columns if c.startswith("var_")]
    rows = []
    for m in methods:
        hits = frame[f"hit_{m}"].to_numpy()
        uc = kupiec(hits, level)
        cc = christoffersen(hits, level)
        rows.append({
            "model": m, "n": uc["n"], "exceedances": uc["x"], "rate": uc["rate"],
            "expected": uc["expected"], "kupiec_lr": uc["lr"], "kupiec_p": uc["p_value"],
            "ind_lr": cc["lr_ind"], "ind_p": cc["p_ind"], "cc_lr": cc["lr_cc"], "cc_p": cc["p_cc"],
            "basel_zone": traffic_light(hits, level),
            "mean_var": float(frame[f"var_{m}"].mean()),
        })
    return rows
