"""Value-at-Risk and Expected Shortfall from the mixture, the normal and historical simulation.

VaR and ES are reported as positive losses in return units: ``VaR = -q`` with
``q`` the ``1 - level`` quantile of the return, ``ES = -E[R | R <= q]``.

One period (``horizon=1``): the mixture's figures are exact (quantile by root
finding, ES in closed form), the normal's are closed form, historical simulation
uses the empirical quantile (linear interpolation) and the mean of the returns
at or below it. Several periods: the mixture and historical simulation are
*simulated* (``n_sims`` paths of i.i.d. draws from the mixture, or bootstrap
draws from the history, log returns summed or simple returns compounded); the
normal is exact for log returns (``h`` mean, ``sqrt(h)`` sd) and simulated for
simple returns. The ``method`` field of each row says which.

Examples
--------
>>> import numpy as np
>>> from gmmkit_apps.finance.dist import NormalMixture
>>> mix = NormalMixture([1.0], [0.0], [0.01])
>>> r = np.random.default_rng(0).normal(0, 0.01, 2000)
>>> rows = risk_table(r, mix, levels=(0.99,))
>>> [row["model"] for row in rows]
['gmm', 'normal', 'historical']
>>> round(rows[0]["var"], 5)
0.02326
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

from gmmkit.exceptions import ParameterError

from .dist import _check_level, normal_fit


def normal_var_es(mu, sd, level):
    """Closed-form normal VaR and ES (positive losses)."""
    level = _check_level(level)
    z = stats.norm.ppf(1.0 - level)
    return -(mu + sd * z), -(mu - sd * stats.norm.pdf(z) / (1.0 - level))


def historical_var_es(r, level):
    """Historical-simulation VaR (empirical quantile) and ES (mean of returns at or below it)."""
    level = _check_level(level)
    r = np.asarray(r, dtype=np.float64)
    q = float(np.quantile(r, 1.0 - level))
    tail = r[r <= q]
    return -q, -float(tail.mean())


def _empirical(paths, level):
    q = float(np.quantile(paths, 1.0 - level))
    return -q, -float(paths[paths <= q].mean())


def _aggregate(draws, log):
    """Sum log returns, compound simple returns, along the last axis."""
    if log:
        return draws.sum(axis=-1)
    return np.prod(1.0 + draws, axis=-1) - 1.0


def _check_simulation(horizon, n_sims):
    horizon = int(horizon)
    if horizon < 1:
        raise ParameterError(f"horizon must be at least 1, got {horizon}")
    if n_sims < 1000:
        raise ParameterError(f"n_sims must be at least 1000, got {n_sims}")
    if horizon > 1 and n_sims * horizon > 50_000_000:
        raise ParameterError(f"{n_sims} paths of {horizon} periods is too many draws; lower --sims "
                             f"to at most {50_000_000 // horizon}")
    return horizon


def risk_table(r, mixture, *, levels=(0.95, 0.99), horizon=1, log=True, n_sims=100_000,
               random_state=0):
    """VaR/ES rows for the mixture, the normal and historical simulation.

    Parameters
    ----------
    r : array-like
        The return history (the normal is fitted to it; historical simulation uses it).
    mixture : NormalMixture
        The fitted mixture.
    levels : sequence of float
        Confidence levels, e.g. ``(0.95, 0.99)``.
    horizon : int
        Number of periods; above 1 uses simulation (see module docstring).
    log : bool
        Whether ``r`` holds log returns (summed) or simple returns (compounded).
    n_sims : int
        Simulated paths for ``horizon > 1``.
    random_state : int
        Seed for the simulations.

    Returns
    -------
    list of dict
        ``model, level, horizon, var, es, method``.
    """
    r = np.asarray(r, dtype=np.float64)
    horizon = _check_simulation(horizon, n_sims)
    levels = [_check_level(a) for a in levels]
    mu, sd = normal_fit(r)
    rows = []
    if horizon == 1:
        for a in levels:
            rows.append(dict(model="gmm", level=a, horizon=1, var=mixture.value_at_risk(a),
                             es=mixture.expected_shortfall(a), method="exact"))
            v, e = normal_var_es(mu, sd, a)
            rows.append(dict(model="normal", level=a, horizon=1, var=v, es=e, method="exact"))
            v, e = historical_var_es(r, a)
            rows.append(dict(model="historical", level=a, horizon=1, var=v, es=e, method="empirical"))
        return rows
    rng = np.random.default_rng(random_state)
    gmm_paths = _aggregate(mixture.sample(n_sims * horizon, rng).reshape(n_sims, horizon), log)
    hs_paths = _aggregate(rng.choice(r, size=(n_sims, horizon), replace=True), log)
    if not log:
        norm_paths = _aggregate(rng.normal(mu, sd, size=(n_sims, horizon)), log)
    for a in levels:
        v, e = _empirical(gmm_paths, a)
        rows.append(dict(model="gmm", level=a, horizon=horizon, var=v, es=e,
                         method=f"simulated ({n_sims} paths)"))
        if log:
            v, e = normal_var_es(mu * horizon, sd * math.sqrt(horizon), a)
            rows.append(dict(model="normal", level=a, horizon=horizon, var=v, es=e, method="exact"))
        else:
            v, e = _empirical(norm_paths, a)
            rows.append(dict(model="normal", level=a, horizon=horizon, var=v, es=e,
                             method=f"simulated ({n_sims} paths)"))
        v, e = _empirical(hs_paths, a)
        rows.append(dict(model="historical", level=a, horizon=horizon, var=v, es=e,
                         method=f"bootstrap ({n_sims} paths)"))
    return rows


def garch_risk_table(z, mixture, garch, sigma_next, *, levels=(0.95, 0.99), horizon=10, log=True,
                     n_sims=100_000, random_state=0):
    """Several periods ahead under a fitted (GJR-)GARCH, by simulated variance paths.

    Every model draws standardised shocks: from ``mixture`` (fitted to the
    standardised residuals ``z``), from the normal fitted to ``z``, or by bootstrap
    of ``z`` (filtered historical simulation). Each path starts from the next
    period's volatility forecast ``sigma_next`` and its variance follows the GARCH
    recursion, so a large early loss raises the later periods' volatility. Rows as
    :func:`risk_table`.

    >>> from gmmkit_apps.finance.dist import NormalMixture
    >>> from gmmkit_apps.finance.volatility import Garch
    >>> g = Garch(mu=0.0, omega=2e-6, alpha=0.1, beta=0.88)
    >>> z = np.random.default_rng(0).standard_normal(3000)
    >>> rows = garch_risk_table(z, NormalMixture([1.0], [0.0], [1.0]), g, 0.01, levels=(0.99,),
    ...                         horizon=10, n_sims=20_000)
    >>> [row["model"] for row in rows], bool(0.06 < rows[0]["var"] < 0.09)
    (['gmm', 'normal', 'historical'], True)
    """
    z = np.asarray(z, dtype=np.float64)
    horizon = _check_simulation(horizon, n_sims)
    levels = [_check_level(a) for a in levels]
    rng = np.random.default_rng(random_state)
    m, sd = normal_fit(z)
    draws = {  # one model at a time: the shocks of all three at once would triple the memory
        "gmm": lambda: mixture.sample(n_sims * horizon, rng).reshape(n_sims, horizon),
        "normal": lambda: rng.normal(m, sd, size=(n_sims, horizon)),
        "historical": lambda: rng.choice(z, size=(n_sims, horizon), replace=True),
    }
    paths = {k: _aggregate(garch.paths(draw(), sigma_next ** 2), log) for k, draw in draws.items()}
    method = {"gmm": "GARCH simulation", "normal": "GARCH simulation", "historical": "filtered bootstrap"}
    rows = []
    for a in levels:
        for k, p in paths.items():
            v, e = _empirical(p, a)
            rows.append(dict(model=k, level=a, horizon=horizon, var=v, es=e,
                             method=f"{method[k]} ({n_sims} paths)"))
    return rows


def conditional_risk(r, *, vol="none", ewma_lambda=0.94, levels=(0.95, 0.99), horizon=1, log=True,
                     n_sims=100_000, n_components=None, max_components=5, random_state=0, atoms=True):
    """VaR/ES of the mixture, the normal and historical simulation, unconditional or conditional
    on the next period's volatility forecast.

    ``vol="none"``: :func:`risk_table` of a mixture fitted to the returns ``r``.
    ``vol`` in ewma/garch/gjr: the mixture is fitted to the filter's standardised
    residuals (:func:`gmmkit_apps.finance.volatility.standardise`) and every figure
    is scaled to the next period's forecast; with garch/gjr and ``horizon`` above 1
    the paths are simulated through the GARCH variance recursion
    (:func:`garch_risk_table`). Returns a dict: n_components, vol, sigma_next, mu,
    garch (the filter's parameters or None), rows and point_masses.

    ``atoms``: returns repeated exactly (:mod:`.pointmass`) are left out of the
    mixture's fit and kept as point masses of its distribution (in return units,
    also when the mixture models filtered residuals); multi-period simulations
    draw them with their shares, except GARCH path simulations (no atoms there).
    A Student-t or skewed-t GARCH filter adds, for one period, a row named after
    ``vol``: VaR/ES of its own innovation law (:meth:`.volatility.Garch.innovations`).
    """
    from .dist import fit_mixture
    from .pointmass import PointMassMixture, find_atoms, split_atoms
    from .volatility import check_filter, standardise

    check_filter(vol)
    raw = x = np.asarray(r, dtype=np.float64)
    mu = sigma_next = garch = None
    if vol != "none":
        x, mu, sigma_next, garch = standardise(x, vol, lam=ewma_lambda)
    # a GARCH path simulation draws shocks of the filtered residuals: point masses of returns have no
    # place in it, so there the mixture is fitted to every residual, as before
    atoms = atoms and not (garch is not None and horizon > 1)
    values, counts = find_atoms(raw) if atoms else (np.empty(0), np.empty(0, dtype=np.int64))
    keep = ~split_atoms(raw, values)
    res = fit_mixture(x[keep], n_components=n_components, max_components=max_components,
                      random_state=random_state)
    mixture = res.mixture
    point_masses = [{"value": float(v), "count": int(c), "share": float(c / raw.size)}
                    for v, c in zip(values, counts)]
    if garch is not None and horizon > 1:  # (no atoms here: see above)
        rows = garch_risk_table(x, mixture, garch, sigma_next, levels=levels, horizon=horizon, log=log,
                                n_sims=n_sims, random_state=random_state)
    else:
        if sigma_next is not None:  # the atoms are return values: attached after this scaling
            mixture, x = mixture.scaled(mu, sigma_next), mu + x * sigma_next
        dist = PointMassMixture(values, counts / raw.size, mixture) if values.size else mixture
        rows = risk_table(x, dist, levels=levels, horizon=horizon, log=log, n_sims=n_sims,
                          random_state=random_state)
    if garch is not None and garch.dist != "normal" and horizon == 1:
        # the filter's own innovation law (Student-t or skewed t), as arch forecasts: exact
        d = garch.innovations().scaled(mu, sigma_next)
        rows += [dict(model=vol, level=a, horizon=1, var=d.value_at_risk(a), es=d.expected_shortfall(a),
                      method="exact") for a in levels]
    return {"n_components": res.mixture.n_components, "vol": vol, "sigma_next": sigma_next, "mu": mu,
            "garch": garch, "rows": rows, "point_masses": point_masses}
