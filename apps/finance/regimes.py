"""Regimes (each day's most likely component) and portfolios from a joint mixture.

Regimes: the components of a fitted return mixture are ranked by volatility; the
calmest is ``calm``, the most volatile ``turbulent`` and any others ``mid1``,
``mid2``... Each day gets its most likely component and the posterior
probability of the turbulent one. (The mixture treats days as independent, so a
regime is a label of the day's return, not a persistent state.)

Portfolio: a Gaussian mixture fitted jointly to several assets' returns,
``sum_k w_k N(mu_k, S_k)``, gives the return of a portfolio with weights ``a``
exactly as the univariate mixture ``sum_k w_k N(a.mu_k, a' S_k a)``, hence its
VaR and ES exactly. Portfolio returns are linear in the assets' *simple*
returns, so the portfolio command uses simple returns.

Examples
--------
>>> import numpy as np
>>> means = np.array([[0.0, 0.0], [-0.01, -0.02]])
>>> covs = np.array([np.diag([1e-4, 4e-4]), np.diag([9e-4, 16e-4])])
>>> mix = portfolio_mixture([0.5, 0.5], means, covs, [0.5, 0.5])
>>> np.round(mix.means, 3).tolist(), np.round(mix.sds ** 2 * 1e4, 2).tolist()
([0.0, -0.015], [1.25, 6.25])
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning

from gmmkit.exceptions import DataError, DegenerateComponentWarning, ParameterError

from .dist import NormalMixture, _fit_candidates


def regime_names(sds):
    """Names by volatility rank: ``calm``, ``mid1``..., ``turbulent`` (one component: ``calm``)."""
    order = np.argsort(sds)
    k = len(sds)
    names = np.empty(k, dtype=object)
    for rank, comp in enumerate(order):
        if rank == 0:
            names[comp] = "calm"
        elif rank == k - 1:
            names[comp] = "turbulent"
        else:
            names[comp] = f"mid{rank}"
    return names


def regimes(returns, fit):
    """Each day's regime from a :class:`~gmmkit_apps.finance.dist.MixtureFit`.

    Parameters
    ----------
    returns : pandas.Series
        The returns the mixture was fitted to (or others on the same scale).
    fit : MixtureFit

    Returns
    -------
    pandas.DataFrame
        Indexed by date: ``return``, ``component`` (rank by volatility, 0 = calmest),
        ``regime`` and ``p_turbulent``.

    Examples
    --------
    >>> from gmmkit_apps.finance.dist import fit_mixture
    >>> rng = np.random.default_rng(0)
    >>> r = pd.Series(np.r_[rng.normal(0, .01, 400), rng.normal(0, .05, 100)],
    ...               index=pd.bdate_range("2020-01-01", periods=500))
    >>> frame = regimes(r, fit_mixture(r.to_numpy(), n_components=2))
    >>> frame["regime"].iloc[-100:].value_counts().idxmax()
    'turbulent'
    """
    proba = fit.model.predict_proba(fit.standardise(returns.to_numpy()))
    sds = fit.mixture.sds
    order = np.argsort(sds)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    best = proba.argmax(axis=1)
    names = regime_names(sds)
    return pd.DataFrame({
        "return": returns.to_numpy(),
        "component": rank[best],
        "regime": names[best],
        "p_turbulent": proba[:, order[-1]],
    }, index=returns.index)


def regime_summary(frame, periods_per_year):
    """Per regime: share of days, mean return, annualised volatility, mean run length (days)."""
    rows = []
    labels = frame["regime"].to_numpy()
    runs = pd.Series(labels).ne(pd.Series(labels).shift()).cumsum()
    run_len = pd.Series(labels).groupby(runs).agg(["first", "size"])
    for name, part in frame.groupby("regime", sort=False):
        r = part["return"].to_numpy()
        rows.append({"regime": name, "share": len(part) / len(frame), "days": len(part),
                     "mean": float(r.mean()),
                     "ann_vol": float(r.std() * np.sqrt(periods_per_year)),
                     "mean_run": float(run_len[run_len["first"] == name]["size"].mean())})
    order = {"calm": -1, "turbulent": 10 ** 6}
    return sorted(rows, key=lambda row: order.get(row["regime"], int(row["regime"][3:])
                                                  if row["regime"].startswith("mid") else 0))


def fit_joint(returns, *, n_components=None, max_components=5, n_init=3, random_state=0):
    """Fit a full-covariance mixture to several assets' returns (K by BIC unless given).

    Returns ``(model, loc, scale, bic_table)``: the model is fitted on
    ``(returns - loc) / scale`` (per-asset standardisation).
    """
    X = np.asarray(returns, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] < 2:
        raise DataError("a portfolio needs at least two assets (choose them with --ticker)")
    if X.shape[0] < 10 * X.shape[1]:
        raise DataError(f"too few returns ({X.shape[0]}) for {X.shape[1]} assets")
    loc, scale = X.mean(axis=0), X.std(axis=0)
    if np.any(scale == 0):
        raise DataError("an asset's returns are constant")
    Z = (X - loc) / scale
    ks = [int(n_components)] if n_components else list(range(1, int(max_components) + 1))
    table = {}
    shift = 2.0 * X.shape[0] * float(np.sum(np.log(scale)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", DegenerateComponentWarning)
        best = _fit_candidates(Z, ks, n_init, random_state, "bic", shift, table)
    return best, loc, scale, table


def joint_parameters(model, loc, scale):
    """Weights, means (K, D) and covariances (K, D, D) on the returns' scale."""
    from gmmkit.covariance import full_covariances

    covs = full_covariances(model) * np.outer(scale, scale)
    means = loc + model.means_ * scale
    return model.weights_ / model.weights_.sum(), means, covs


def portfolio_mixture(weights, means, covs, allocation):
    """The portfolio's return mixture for ``allocation`` (one weight per asset)."""
    a = np.asarray(allocation, dtype=np.float64)
    if a.shape != (means.shape[1],):
        raise ParameterError(f"need {means.shape[1]} portfolio weights, got {a.size}")
    var = np.einsum("i,kij,j->k", a, covs, a)
    if np.any(var <= 0):
        raise ParameterError("portfolio weights give a zero-variance component (all zero weights?)")
    return NormalMixture(weights, means @ a, np.sqrt(var))


def stress_scenarios(weights, means, covs, allocation, *, n=100_000, tail=0.01, random_state=0):
    """Sample scenarios from the joint mixture; summarise the worst ``tail`` share for the portfolio.

    Returns a dict: the portfolio's sampled quantile and mean loss beyond it,
    each asset's mean return in those worst scenarios, and the share of them
    drawn from each component (by volatility rank).
    """
    rng = np.random.default_rng(random_state)
    k = rng.choice(len(weights), size=n, p=weights)
    L = np.linalg.cholesky(covs)
    eps = rng.standard_normal((n, means.shape[1]))
    draws = means[k] + np.einsum("nij,nj->ni", L[k], eps)
    port = draws @ np.asarray(allocation, dtype=np.float64)
    q = float(np.quantile(port, tail))
    worst = port <= q
    port_sds = np.sqrt(np.einsum("i,kij,j->k", allocation, covs, allocation))
    rank = np.empty(len(weights), dtype=int)
    rank[np.argsort(port_sds)] = np.arange(len(weights))
    share = np.bincount(rank[k[worst]], minlength=len(weights)) / worst.sum()
    return {"n": n, "tail": tail, "quantile": q, "mean_beyond": float(port[worst].mean()),
            "asset_means": draws[worst].mean(axis=0).tolist(),
            "component_share": share.tolist()}


def portfolio_risk(returns, allocation, *, levels=(0.95, 0.99), n_components=None, max_components=5,
                   n_sims=100_000, tail=0.01, random_state=0):
    """VaR/ES of a portfolio from a joint mixture of its assets' simple returns, and stress scenarios.

    ``returns`` (n, D) simple returns of D assets, ``allocation`` D portfolio weights.
    The joint full-covariance mixture (:func:`fit_joint`) gives the portfolio return
    as a univariate normal mixture, hence exact VaR and ES
    (:func:`gmmkit_apps.finance.risk.risk_table`, next to the normal and historical
    simulation of the portfolio's own return series); :func:`stress_scenarios`
    summarises the worst ``tail`` share of ``n_sims`` sampled scenarios. Returns a
    dict: n_components, bic_by_k, rows, stress.
    """
    from .risk import risk_table

    model, loc, scale, table = fit_joint(returns, n_components=n_components,
                                         max_components=max_components, random_state=random_state)
    w, means, covs = joint_parameters(model, loc, scale)
    mix = portfolio_mixture(w, means, covs, allocation)
    port = np.asarray(returns, dtype=np.float64) @ np.asarray(allocation, dtype=np.float64)
    rows = risk_table(port, mix, levels=levels, log=False, random_state=random_state)
    stress = stress_scenarios(w, means, covs, allocation, n=n_sims, tail=tail, random_state=random_state)
    return {"n_components": int(model.n_components), "bic_by_k": table, "rows": rows, "stress": stress}
