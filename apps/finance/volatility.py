"""Volatility filters: RiskMetrics EWMA and GARCH(1,1) / GJR-GARCH(1,1,1) by Gaussian QMLE.

A filter turns returns ``r[t]`` into standardised residuals ``z[t] = (r[t] - mu) / s[t]``
with ``s[t]`` a one-period volatility forecast that only uses returns before ``t``;
a distribution fitted to ``z`` and scaled back by the next forecast is a
*conditional* (filtered) model.

- EWMA: ``s2[t] = lam s2[t-1] + (1 - lam) r[t-1]^2``, no mean, nothing fitted.
- GARCH: ``e[t] = r[t] - mu``, ``s2[t] = omega + (alpha + gamma 1[e[t-1] < 0]) e[t-1]^2 + beta s2[t-1]``
  (``gamma = 0`` unless ``asymmetric``, GJR), parameters by maximising the Gaussian
  log-likelihood (quasi-ML: consistent for non-normal ``z`` too) with SLSQP under
  ``omega > 0``, ``alpha, beta, gamma >= 0``, ``alpha + gamma/2 + beta < 1``. The
  recursion is a first-order linear filter in ``s2``, run by :func:`scipy.signal.lfilter`.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> r = simulate_garch(4000, omega=1e-6, alpha=0.08, beta=0.9, rng=rng)
>>> g = fit_garch(r)
>>> bool(0.94 < g.persistence < 1.0)
True
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize, signal

from gmmkit.exceptions import DataError, ParameterError

from .garch_lik import negloglik

#: the filters ``--vol`` accepts (``-t``: Student-t innovations by maximum likelihood; ``-skewt``:
#: Hansen's skewed t, :mod:`.skewt`)
FILTERS = ("none", "ewma", "garch", "gjr", "garch-t", "gjr-t", "garch-skewt", "gjr-skewt")
GARCH_FILTERS = FILTERS[2:]
_DISTS = {"t": 1, "skewt": 2, "normal": 0}       # innovation law -> number of shape parameters


def garch_options(vol):
    """``(asymmetric, dist)`` of a GARCH filter name (``"gjr-skewt"`` -> ``(True, "skewt")``).

    >>> garch_options("gjr-skewt"), garch_options("garch-t"), garch_options("gjr")
    ((True, 'skewt'), (False, 't'), (True, 'normal'))
    """
    return vol.startswith("gjr"), (vol.split("-", 1)[1] if "-" in vol else "normal")

#: stationarity bound used in the fit (alpha + gamma/2 + beta)
_MAX_PERSISTENCE = 0.9999


def check_filter(vol):
    """Raise :class:`ParameterError` unless ``vol`` is one of :data:`FILTERS`."""
    if vol not in FILTERS:
        raise ParameterError(f"--vol must be one of {', '.join(FILTERS)}; got {vol!r}")
    return vol


def _recursion(u, beta, v0):
    """``s2[0] = v0``, ``s2[t] = beta s2[t-1] + u[t-1]``; returns ``len(u) + 1`` values."""
    out = np.empty(u.size + 1)
    out[0] = v0
    out[1:] = signal.lfilter([1.0], [1.0, -beta], u, zi=[beta * v0])[0]
    return out


def ewma_variance(r, *, lam=0.94, init_periods=500):
    """EWMA variance forecasts ``s2[0..n]`` (the last is the forecast after ``r[-1]``).

    ``s2[0]`` is the variance of the first ``init_periods`` returns.

    >>> np.round(ewma_variance(np.array([0.01, -0.01, 0.03]), lam=0.5, init_periods=2) * 1e4, 3).tolist()
    [1.0, 1.0, 1.0, 5.0]
    """
    r = np.asarray(r, dtype=np.float64)
    if not 0.0 < lam < 1.0:
        raise ParameterError(f"EWMA lambda must be in (0, 1), got {lam}")
    s2 = _recursion((1.0 - lam) * r * r, lam, float(r[:init_periods].var()))
    if np.any(s2 <= 0):
        raise DataError("EWMA volatility is zero (a run of zero returns); use --vol none")
    return s2


def ewma_volatility(r, *, lam=0.94, init_periods=500):
    """RiskMetrics EWMA volatility forecast ``s[t]`` for each return (uses returns before ``t``).

    >>> s = ewma_volatility(np.array([0.01, -0.01, 0.03]), lam=0.5, init_periods=2)
    >>> np.round(s ** 2 * 1e4, 3).tolist()
    [1.0, 1.0, 1.0]
    """
    return np.sqrt(ewma_variance(r, lam=lam, init_periods=init_periods)[:-1])


@dataclass(frozen=True)
class Garch:
    """A fitted GARCH(1,1) (``gamma = 0``) or GJR-GARCH(1,1,1) in return units."""

    mu: float
    omega: float
    alpha: float
    beta: float
    gamma: float = 0.0
    loglik: float = float("nan")
    converged: bool = True
    nu: float = float("inf")          # Student-t degrees of freedom (inf: Gaussian QMLE)
    lam: float = 0.0                  # skewed-t skewness (Hansen's lambda; 0: symmetric)
    dist: str = "normal"              # innovations: normal (QMLE), t or skewt

    def innovations(self):
        """The fitted unit-variance innovation law: a :class:`.skewt.SkewT` (Student-t: ``lam = 0``)
        or, for Gaussian QMLE, the standard normal (as a one-component :class:`.dist.NormalMixture`).

        >>> Garch(0.0, 1e-6, 0.1, 0.8, nu=5.0, lam=-0.1, dist="skewt").innovations().lam
        -0.1
        """
        if self.dist == "normal":
            from .dist import NormalMixture

            return NormalMixture([1.0], [0.0], [1.0])
        from .skewt import SkewT

        return SkewT(self.nu, self.lam)

    @property
    def persistence(self):
        """``alpha + gamma/2 + beta`` (below 1: covariance stationary)."""
        return self.alpha + 0.5 * self.gamma + self.beta

    @property
    def long_run_variance(self):
        return self.omega / (1.0 - self.persistence)

    def variance(self, r, v0=None):
        """Variance forecasts ``s2[0..n]`` for returns ``r`` (``s2[n]`` is the next period's).

        ``v0`` (default: the sample variance of ``r - mu``) starts the recursion.
        """
        return garch_variance(np.asarray(r, dtype=np.float64) - self.mu, self.omega, self.alpha,
                              self.beta, self.gamma, v0)

    def paths(self, z, s2_first):
        """Returns along simulated paths: ``z`` (n_paths, h) standardised shocks, the first
        period's variance ``s2_first``; each path's variance follows the recursion.

        >>> g = Garch(mu=0.0, omega=1e-6, alpha=0.1, beta=0.8)
        >>> np.round(g.paths(np.array([[1.0, -1.0]]), 1e-4) * 1e4, 2).tolist()
        [[100.0, -95.39]]
        """
        z = np.atleast_2d(np.asarray(z, dtype=np.float64))
        out = np.empty_like(z)
        s2 = np.full(z.shape[0], float(s2_first))
        for t in range(z.shape[1]):  # the recursion is nonlinear in the shock: step by step
            e = np.sqrt(s2) * z[:, t]
            out[:, t] = self.mu + e
            s2 = self.omega + (self.alpha + self.gamma * (e < 0)) * e * e + self.beta * s2
        return out

    def params(self):
        return {"mu": self.mu, "omega": self.omega, "alpha": self.alpha, "beta": self.beta,
                "gamma": self.gamma, "persistence": self.persistence, "converged": self.converged,
                "nu": self.nu, "lam": self.lam}


def garch_variance(e, omega, alpha, beta, gamma=0.0, v0=None):
    """GJR-GARCH variance recursion on residuals ``e``; ``len(e) + 1`` values."""
    e2 = e * e
    v0 = float(e2.mean()) if v0 is None else float(v0)
    u = omega + (alpha + gamma * (e < 0)) * e2
    return _recursion(u, beta, v0)


def fit_garch(r, *, asymmetric=False, start=None, dist="normal"):
    """GARCH(1,1) (or GJR with ``asymmetric=True``) by Gaussian quasi-maximum likelihood,
    or by maximum likelihood with Student-t innovations (``dist="t"``, ``nu`` estimated)
    or Hansen's skewed t (``dist="skewt"``, ``nu`` and ``lam`` estimated).

    The likelihood's exact gradient (:mod:`.garch_lik`) goes to SLSQP.

    Parameters
    ----------
    r : array-like
        Returns (at least 100).
    asymmetric : bool
        Add the GJR leverage term ``gamma``.
    start : Garch, optional
        Starting values (a previous fit, to warm-start rolling refits).

    Returns
    -------
    Garch
        ``converged`` is False when SLSQP did not report success (the best point it
        reached is still returned, so rolling refits go on; callers count these).
    """
    r = np.asarray(r, dtype=np.float64)
    if r.size < 100:
        raise DataError(f"GARCH needs at least 100 returns, got {r.size}")
    if not np.all(np.isfinite(r)):
        raise DataError("GARCH input has NaN or infinite returns")
    scale = float(r.std())
    if not scale > 0:
        raise DataError("GARCH input is constant (zero variance); use --vol none")
    # fit on unit-variance data so every parameter is of order one for the optimiser
    x = r / scale
    if dist not in _DISTS:
        raise ParameterError(f"GARCH innovations must be 'normal', 't' or 'skewt', not {dist!r}")
    shape = _DISTS[dist]
    if start is None:
        theta0 = [float(x.mean()), 0.05, 0.02 if asymmetric else 0.05, 0.9] + ([0.1] if asymmetric else [])
        theta0 += [8.0, 0.0][:shape]
    else:
        theta0 = [start.mu / scale, start.omega / scale ** 2, start.alpha, start.beta]
        theta0 += [start.gamma] if asymmetric else []
        theta0 += [min(start.nu, 100.0) if np.isfinite(start.nu) else 8.0, start.lam][:shape]
    bounds = [(-1.0, 1.0), (1e-8, 2.0), (0.0, 1.0), (0.0, 1.0)] + ([(0.0, 2.0)] if asymmetric else [])
    bounds += [(2.05, 500.0), (-0.99, 0.99)][:shape]
    g = 0.5 if asymmetric else 0.0
    cons_jac = np.zeros(len(theta0))
    cons_jac[2:4] = -1.0
    if asymmetric:
        cons_jac[4] = -g
    cons = {"type": "ineq", "fun": lambda t: _MAX_PERSISTENCE - t[2] - t[3] - (g * t[4] if asymmetric else 0.0),
            "jac": lambda t: cons_jac}
    with warnings.catch_warnings():
        # older SciPy (seen with 1.15) warns when an SLSQP step leaves the bounds and it
        # clips the step back: that clipping is what the bounds ask for
        warnings.filterwarnings("ignore", "Values in x were outside bounds", RuntimeWarning)
        res = optimize.minimize(negloglik, np.clip(theta0, [b[0] for b in bounds], [b[1] for b in bounds]),
                                args=(x, asymmetric, dist), jac=True, method="SLSQP", bounds=bounds,
                                constraints=[cons], options={"maxiter": 200, "ftol": 1e-9})
    t = res.x
    n = r.size
    loglik = -float(res.fun) - n * float(np.log(scale))
    return Garch(mu=float(t[0] * scale), omega=float(t[1] * scale ** 2), alpha=float(t[2]),
                 beta=float(t[3]), gamma=float(t[4]) if asymmetric else 0.0, loglik=loglik,
                 converged=bool(res.success), nu=float(t[len(t) - shape]) if shape else float("inf"),
                 lam=float(t[-1]) if dist == "skewt" else 0.0, dist=dist)


def standardise(r, vol, *, lam=0.94, init_periods=500):
    """Filter a whole history: ``(z, mu, s_next, garch)``.

    ``z = (r - mu) / s`` are the standardised residuals, ``s_next`` the volatility
    forecast for the period after the last return, ``garch`` the fitted
    :class:`Garch` (None for EWMA). ``vol`` is ``ewma``, ``garch`` or ``gjr``.

    >>> r = simulate_garch(1000, omega=1e-6, alpha=0.08, beta=0.9, rng=1)
    >>> z, mu, s_next, g = standardise(r, "ewma")
    >>> mu, g is None, bool(s_next > 0)
    (0.0, True, True)
    """
    check_filter(vol)
    r = np.asarray(r, dtype=np.float64)
    if vol == "ewma":
        s2 = ewma_variance(r, lam=lam, init_periods=min(init_periods, r.size))
        mu, g = 0.0, None
    elif vol in GARCH_FILTERS:
        asymmetric, dist = garch_options(vol)
        g = fit_garch(r, asymmetric=asymmetric, dist=dist)
        mu, s2 = g.mu, g.variance(r)
    else:
        raise ParameterError("standardise() needs a volatility filter, not 'none'")
    return (r - mu) / np.sqrt(s2[:-1]), mu, float(np.sqrt(s2[-1])), g


def simulate_garch(n, *, mu=0.0, omega, alpha, beta, gamma=0.0, rng=None, burn=500):
    """``n`` returns of a Gaussian GJR-GARCH(1,1) (for tests and examples)."""
    rng = np.random.default_rng(rng)
    g = Garch(mu=mu, omega=omega, alpha=alpha, beta=beta, gamma=gamma)
    return g.paths(rng.standard_normal((1, n + burn)), g.long_run_variance)[0, burn:]
