"""Rolling one-period VaR and ES forecasts at several levels, from one set of refits.

Every ``refit`` periods each method is refitted on the last ``window`` returns and
its forecast distribution is held until the next refit; the forecast for day
``t`` only uses returns before ``t``. The fits are shared by every level: VaR and
ES at 99% and 97.5% come from the same refit. The mixture's K is chosen by BIC
on the first window (or fixed); later refits run EM warm-started from the
previous fit (:func:`.em1d.em_1d`, widths floored at ``MIN_SD`` of the window's
scale, so no refit collapses and none restarts from k-means; a refit that ends with a
component on fewer than 10 days is re-run from the deterministic starts, counted in
``n_reseeded``). The first window's
BIC search also runs that EM, from deterministic starts (:func:`.em1d.select_1d`):
a backtest costs no k-means and no compiled-kernel set-up.

Point masses (:mod:`.pointmass`): returns repeated exactly in the window (the
zeros of a stale price) are taken out of the mixture's fit and given their
observed share as atoms of the mixture's forecast distribution; its VaR and ES
are those of atoms + continuous part, exactly. The normal and historical
simulation see every return, as before.

:class:`Forecasts` keeps each day's forecast distribution of every method, so
the ES tests (:mod:`.estests`) can simulate returns under the null.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gmmkit.exceptions import DataError, ParameterError

from .dist import NormalMixture, _check_level, small_components
from .em1d import em_1d, select_1d
from .pointmass import PointMassMixture, find_atoms, split_atoms
from .risk import normal_var_es
from .volatility import GARCH_FILTERS, check_filter, ewma_volatility, fit_garch, garch_options

METHODS = ("gmm", "normal", "historical")
#: on request: hmm, the Markov-switching model (:mod:`.switching`); filter, a GARCH filter's own
#: innovation law (Student-t or skewed t: :meth:`.volatility.Garch.innovations`), as arch forecasts
ALL_METHODS = METHODS + ("hmm", "filter")
#: narrowest component the refits allow, in units of the first window's standard deviation
MIN_SD = 0.05


class Empirical:
    """Historical simulation's forecast distribution: the window's values, equally likely."""

    def __init__(self, values):
        self.values = np.asarray(values, dtype=np.float64)

    def sample(self, n, rng):
        return self.values[rng.integers(0, self.values.size, size=n)]


@dataclass
class Block:
    """The days ``stop - len(sig) .. stop`` of the output, forecast by one refit."""

    start: int
    mu: float
    sig: np.ndarray
    dists: dict = field(default_factory=dict)     # method -> distribution of z (return = mu + sig z)
    atoms: tuple = ((), ())                       # gmm's point masses (values, probs) in return units
    daily: dict = field(default_factory=dict)     # method -> list of each day's return distribution


class Forecasts:
    """Every day's forecast distribution of every method (for simulating under the null)."""

    def __init__(self, n):
        self.n, self.blocks = n, []

    def draw(self, method, rng, n_paths):
        """``(n_paths, n)`` returns, each day drawn from that day's forecast distribution."""
        out = np.empty((n_paths, self.n))
        for b in self.blocks:
            days = slice(b.start, b.start + b.sig.size)
            if method in b.daily:
                for j, d in enumerate(b.daily[method]):
                    out[:, b.start + j] = d.sample(n_paths, rng)
                continue
            z = b.dists[method].sample(n_paths * b.sig.size, rng).reshape(n_paths, b.sig.size)
            x = b.mu + b.sig * z
            if method == "gmm" and len(b.atoms[0]):
                values, probs = b.atoms
                u = rng.random(x.shape)
                idx = np.searchsorted(np.cumsum(probs), u, side="right")
                hit = idx < len(values)
                x[hit] = np.asarray(values)[idx[hit]]
            out[:, days] = x
        return out


def _mixture_var_es(dist, values, probs, mu, sig, level):
    """VaR and ES of ``atoms + (mu + sig Z)`` for each ``sig``, ``Z ~ dist`` (exact)."""
    alpha = 1.0 - level
    total = float(np.sum(probs))
    if total == 0.0:
        return sig * dist.value_at_risk(level) - mu, sig * dist.expected_shortfall(level) - mu
    a = alpha / (1.0 - total)
    var = es = None
    if a < 1.0:
        zq = dist.ppf(a)
        q = mu + sig * zq
        ok = np.all(np.asarray(values)[:, None] > q[None, :], axis=0)
        var = -q
        es = -mu - sig * (1.0 - total) * dist.partial_mean(zq) / alpha
        if ok.all():
            return var, es
    else:
        ok = np.zeros(sig.size, dtype=bool)
        var, es = np.empty(sig.size), np.empty(sig.size)
    for i in np.flatnonzero(~ok):      # an atom below the quantile: solve that day exactly
        pm = PointMassMixture(values, probs, dist.scaled(mu, sig[i]))
        var[i], es[i] = pm.value_at_risk(level), pm.expected_shortfall(level)
    return var, es


def _empirical_var_es(z, level):
    q = float(np.quantile(z, 1.0 - level))
    return -q, -float(z[z <= q].mean())


class _MixtureRefits:
    """The mixture column: first window by BIC, then warm-started 1-D EM on the continuous returns."""

    def __init__(self, n_components, max_components, n_init, random_state, atoms):
        self.k, self.max_k, self.n_init, self.seed = n_components, max_components, n_init, random_state
        self.use_atoms = atoms
        self.params = None
        self.iterations, self.floored, self.atom_days, self.reseeded = [], 0, [], 0

    def fit(self, raw, z):
        if self.use_atoms:
            values, counts = find_atoms(raw)
            keep = ~split_atoms(raw, values)
        else:
            values, counts, keep = np.empty(0), np.empty(0), np.ones(raw.size, bool)
        self.atom_days.append(int(np.sum(counts)))
        x = z[keep]
        if self.params is None:
            # the first window: K by BIC over 2..max (or fixed), best of deterministic starts, with
            # the same floor as the refits; a K with a spike component is passed over
            self.loc, self.scale = float(x.mean()), float(x.std())
            X = (x - self.loc) / self.scale
            ks = [int(self.k)] if self.k is not None else list(range(min(2, self.max_k), self.max_k + 1))
            best, bic = select_1d(X, ks, min_sd=MIN_SD,
                                  small=lambda f: small_components(f.weights, f.sds, X.size, 1.0).size > 0)
            self.bic = {k: v + 2.0 * X.size * np.log(self.scale) for k, v in bic.items()}
            self.params = (best.weights, best.means, best.sds)
        X = (x - self.loc) / self.scale
        f = em_1d(X, *self.params, min_sd=MIN_SD)
        if small_components(f.weights, f.sds, X.size, 1.0).size:
            # the warm start drifted into a spike (a component on a few days): start this window
            # afresh from the deterministic starts, keeping the best without a spike
            f, _ = select_1d(X, [len(f.weights)], min_sd=MIN_SD,
                             small=lambda g: small_components(g.weights, g.sds, X.size, 1.0).size > 0)
            self.reseeded += 1
        self.params = (f.weights, f.means, f.sds)
        self.iterations.append(f.n_iter)
        self.floored += int(np.any(f.sds <= MIN_SD * (1 + 1e-9)))
        dist = NormalMixture(f.weights / f.weights.sum(), f.means, f.sds).scaled(self.loc, self.scale)
        return dist, values, counts / raw.size


def rolling_forecasts(returns, *, levels=(0.99,), window=500, refit=20, n_components=None, max_components=5,
                      n_init=3, random_state=0, methods=METHODS, vol="gjr", ewma_lambda=0.94, progress=None,
                      n_states=None, max_states=3, n_mix=2, atoms=True):
    """Rolling VaR/ES forecasts: ``({level: frame}, info, Forecasts)``.

    Each frame is indexed by date with ``return``, ``sigma`` (the volatility
    forecast, 1 with ``vol="none"``) and, per method, ``var_<m>``, ``es_<m>`` and
    ``hit_<m>``. Parameters as :func:`gmmkit_apps.finance.backtest.rolling_var`;
    ``atoms=False`` fits the mixture to every return, repeated ones included.
    """
    levels = [_check_level(a) for a in np.atleast_1d(levels)]
    window, refit = int(window), int(refit)
    if window < 50:
        raise ParameterError(f"window must be at least 50 periods, got {window}")
    if refit < 1:
        raise ParameterError(f"refit must be at least 1, got {refit}")
    unknown = set(methods) - set(ALL_METHODS)
    if unknown:
        raise ParameterError(f"unknown method(s) {sorted(unknown)}; choose from {list(ALL_METHODS)}")
    check_filter(vol)
    if "filter" in methods and vol not in GARCH_FILTERS:
        raise ParameterError(f"the method 'filter' is a GARCH filter's innovation law: it needs a GARCH --vol, "
                             f"not {vol!r}")
    if vol in GARCH_FILTERS and window < 100:
        raise ParameterError(f"--vol {vol} fits a GARCH on each window: window must be at least 100, "
                             f"got {window}")
    r = np.asarray(returns, dtype=np.float64)
    if r.size < window + refit:
        raise DataError(f"series too short for the backtest: {r.size} returns, need at least "
                        f"window + refit = {window + refit}")
    sigma = ewma_volatility(r, lam=ewma_lambda, init_periods=window) if vol == "ewma" else np.ones(r.size)
    n_out = r.size - window
    out = {(m, a, k): np.empty(n_out) for m in methods for a in levels for k in ("var", "es")}
    sig_out = np.empty(n_out)
    info = {"window": window, "refit": refit, "levels": levels, "vol": vol, "n_restarts": 0}
    forecasts = Forecasts(n_out)
    garch, garch_fits = None, []
    gmm = _MixtureRefits(n_components, max_components, n_init, random_state, atoms) if "gmm" in methods else None
    if "hmm" in methods:
        from .switching import RollingSwitching

        switching = RollingSwitching(levels[0], n_states=n_states, max_states=max_states, n_mix=n_mix,
                                     n_init=n_init, random_state=random_state)
    starts = list(range(window, r.size, refit))
    for j, t in enumerate(starts):
        stop = min(t + refit, r.size)
        sl = slice(t - window, stop - window)
        if vol in GARCH_FILTERS:
            asymmetric, innovations = garch_options(vol)
            garch = fit_garch(r[t - window:t], asymmetric=asymmetric, start=garch, dist=innovations)
            garch_fits.append(garch)
            mu = garch.mu
            v0 = float(np.mean((r[t - window:t] - mu) ** 2))     # from the window only, as in the fit
            s = np.sqrt(garch.variance(r[t - window:stop - 1], v0=v0))
            hist, sig = (r[t - window:t] - mu) / s[:window], s[window:]
        else:
            mu, hist, sig = 0.0, r[t - window:t] / sigma[t - window:t], sigma[t:stop]
        sig_out[sl] = sig
        block = Block(sl.start, mu, sig)
        if gmm is not None:
            dist, values, probs = gmm.fit(r[t - window:t], hist)
            block.dists["gmm"], block.atoms = dist, (values, probs)
            for a in levels:
                out["gmm", a, "var"][sl], out["gmm", a, "es"][sl] = _mixture_var_es(dist, values, probs, mu, sig, a)
        if "filter" in methods:
            block.dists["filter"] = d = garch.innovations()
            for a in levels:
                out["filter", a, "var"][sl] = sig * d.value_at_risk(a) - mu
                out["filter", a, "es"][sl] = sig * d.expected_shortfall(a) - mu
        if "normal" in methods:
            m_z, sd_z = float(hist.mean()), float(hist.std())
            block.dists["normal"] = NormalMixture([1.0], [m_z], [sd_z])
            for a in levels:
                v, e = normal_var_es(m_z, sd_z, a)
                out["normal", a, "var"][sl], out["normal", a, "es"][sl] = sig * v - mu, sig * e - mu
        if "historical" in methods:
            block.dists["historical"] = Empirical(hist)
            for a in levels:
                v, e = _empirical_var_es(hist, a)
                out["historical", a, "var"][sl], out["historical", a, "es"][sl] = sig * v - mu, sig * e - mu
        if "hmm" in methods:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                days = switching.predictives(r[t - window:t], r[t:stop])
            block.daily["hmm"] = days
            for a in levels:
                out["hmm", a, "var"][sl] = [d.value_at_risk(a) for d in days]
                out["hmm", a, "es"][sl] = [d.expected_shortfall(a) for d in days]
        forecasts.blocks.append(block)
        if progress is not None:
            progress(j + 1, len(starts))
    _fill_info(info, len(starts), gmm, garch_fits, vol, ewma_lambda, switching if "hmm" in methods else None)
    index = returns.index[window:] if hasattr(returns, "index") else np.arange(window, r.size)
    frames = {}
    for a in levels:
        frame = pd.DataFrame({"return": r[window:], "sigma": sig_out}, index=index)
        for m in methods:
            frame[f"var_{m}"] = out[m, a, "var"]
            frame[f"es_{m}"] = out[m, a, "es"]
            frame[f"hit_{m}"] = r[window:] < -out[m, a, "var"]
        frames[a] = frame
    return frames, info, forecasts


def _fill_info(info, n_refits, gmm, garch_fits, vol, ewma_lambda, switching):
    info["n_refits"] = n_refits
    if gmm is not None:
        info["n_components"] = len(gmm.params[0])
        info["bic_first_window"] = gmm.bic
        info["mean_em_iterations"] = float(np.mean(gmm.iterations))
        info["n_floored"] = gmm.floored
        info["n_reseeded"] = gmm.reseeded
        info["mean_atom_days"] = float(np.mean(gmm.atom_days))
    if vol == "ewma":
        info["ewma_lambda"] = ewma_lambda
    if garch_fits:
        keys = ("omega", "alpha", "beta", "gamma", "persistence", "nu", "lam")
        info["garch"] = {**{f"median_{k}": float(np.median([f.params()[k] for f in garch_fits])) for k in keys},
                         "not_converged": sum(not f.converged for f in garch_fits)}
    if switching is not None:
        info["hmm"] = {"n_states": switching.fit.n_states, "n_mix": switching.fit.n_mix,
                       "bic_first_window": switching.first_bic,
                       "mean_em_iterations": float(np.mean(switching.iterations)),
                       "n_restarts": switching.restarts}
