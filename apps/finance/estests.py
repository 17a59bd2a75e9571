"""Expected-shortfall backtests: Acerbi-Szekely Z2 and McNeil-Frey, p-values by simulation.

Both judge a run of ES forecasts against the returns that followed (``x[t]``
returns, ``var[t]`` and ``es[t]`` positive losses at confidence ``level``,
``alpha = 1 - level``, exceedance ``I[t] = 1{x[t] < -var[t]}``).

- **Acerbi and Szekely (2014), test 2**: ``Z2 = sum_t x[t] I[t] / (T alpha es[t]) + 1``.
  Its expectation is 0 when the forecast distributions are right and negative
  when the ES is too small (too many or too large exceedances). The p-value is
  ``P(Z2 <= observed)`` under the null, found as the paper does by simulation:
  ``n_sims`` return paths drawn from each day's own forecast distribution, scored
  against the same VaR and ES forecasts.
- **McNeil and Frey (2000)**: on exceedance days the residuals
  ``e[t] = (-x[t] - es[t]) / sigma[t]`` (``sigma[t]`` the forecast volatility) have
  mean 0 when the ES is right and a positive mean when it is too small. The
  one-sided test uses their bootstrap (Efron and Tibshirani, 1993, 16.4): the
  studentised mean of ``e`` against the same statistic on resamples of ``e - mean(e)``.

Both p-values are ``(1 + #{as extreme}) / (1 + n)``, never 0.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> x = rng.standard_normal(2000)
>>> var, es = np.full(2000, 2.326), np.full(2000, 2.665)
>>> z = acerbi_szekely_z2(x, var, es, 0.99)
>>> bool(abs(z) < 0.3)
True
"""
from __future__ import annotations

import numpy as np

from gmmkit.exceptions import DataError


def acerbi_szekely_z2(x, var, es, level):
    """The Z2 statistic (0 under the null, negative when ES is underestimated)."""
    x, var, es = (np.asarray(a, dtype=np.float64) for a in (x, var, es))
    alpha = 1.0 - float(level)
    if x.size == 0:
        raise DataError("no forecasts to test")
    if not np.all(es > 0):
        raise DataError("ES forecasts must be positive losses for the Z2 test")
    hits = x < -var
    return float(np.sum(np.where(hits, x / es, 0.0)) / (x.size * alpha) + 1.0)


def z2_test(x, var, es, level, draw, *, n_sims=1000, random_state=0):
    """Z2 and its simulated p-value.

    ``draw(rng, n)`` returns ``n`` simulated return paths, shape ``(n, T)``, each day
    from that day's forecast distribution. Returns ``{"z2", "p_value", "n_sims"}``.
    """
    z = acerbi_szekely_z2(x, var, es, level)
    rng = np.random.default_rng(random_state)
    var, es = np.asarray(var, dtype=np.float64), np.asarray(es, dtype=np.float64)
    alpha = 1.0 - float(level)
    sims, done = [], 0
    chunk = max(1, min(n_sims, 2_000_000 // max(var.size, 1)))
    while done < n_sims:
        m = min(chunk, n_sims - done)
        xs = draw(rng, m)
        sims.append(np.sum(np.where(xs < -var, xs / es, 0.0), axis=1) / (var.size * alpha) + 1.0)
        done += m
    sims = np.concatenate(sims)
    return {"z2": z, "p_value": float((1 + np.sum(sims <= z)) / (1 + n_sims)), "n_sims": int(n_sims)}


def exceedance_residuals(x, var, es, sigma):
    """McNeil-Frey residuals ``(-x - es) / sigma`` on the exceedance days."""
    x, var, es, sigma = (np.asarray(a, dtype=np.float64) for a in (x, var, es, sigma))
    hits = x < -var
    return (-x[hits] - es[hits]) / sigma[hits]


def _studentised_mean(e):
    sd = e.std(axis=-1, ddof=1)
    return e.mean(axis=-1) / np.where(sd > 0, sd, np.inf) * np.sqrt(e.shape[-1])


def mcneil_frey_test(x, var, es, sigma, *, n_boot=1000, random_state=0):
    """McNeil-Frey exceedance-residual test (one-sided: ES too small).

    Returns ``{"n_exceed", "mean_residual", "t", "p_value"}``; with fewer than 2
    exceedances the test cannot be run and ``p_value`` is NaN.
    """
    e = exceedance_residuals(x, var, es, sigma)
    if e.size < 2:
        return {"n_exceed": int(e.size), "mean_residual": float(e.mean()) if e.size else float("nan"),
                "t": float("nan"), "p_value": float("nan")}
    t = float(_studentised_mean(e))
    rng = np.random.default_rng(random_state)
    centred = e - e.mean()
    boot = _studentised_mean(centred[rng.integers(0, e.size, size=(n_boot, e.size))])
    return {"n_exceed": int(e.size), "mean_residual": float(e.mean()), "t": t,
            "p_value": float((1 + np.sum(boot >= t)) / (1 + n_boot))}
