"""GJR-GARCH(1,1) negative log-likelihood and its exact gradient: Gaussian, Student-t or skewed-t innovations.

Parameters ``theta = [mu, omega, alpha, beta, (gamma), (nu), (lam)]`` (``gamma`` with
``asymmetric``, ``nu`` with ``dist="t"`` or ``"skewt"``, ``lam`` with ``"skewt"``) on returns
``x`` (already divided by a fixed scale). ``e[t] = x[t] - mu``, ``s2[0] = mean(e^2)``, ``s2[t] = omega +
(alpha + gamma 1{e[t-1] < 0}) e[t-1]^2 + beta s2[t-1]``.

- normal: ``l[t] = 0.5 (log 2 pi + log s2[t] + e[t]^2 / s2[t])``;
- Student-t with ``nu > 2`` degrees of freedom, scaled to unit variance (as the
  ``arch`` package's ``StudentsT``): ``l[t] = -log G((nu+1)/2) + log G(nu/2) +
  0.5 log(pi (nu-2)) + 0.5 log s2[t] + (nu+1)/2 log(1 + e[t]^2 / ((nu-2) s2[t]))``;
- Hansen's skewed t (:mod:`.skewt`, as ``arch``'s ``SkewStudent``): ``l[t] = 0.5 log s2[t] +
  l_skewt(e[t] / s[t]; nu, lam)``, whose derivatives :func:`.skewt.nll_terms` gives.

The gradient follows the recursion: every ``d s2[t] / d theta`` is the same
first-order linear filter as ``s2`` itself (``y[t] = beta y[t-1] + g[t-1]``),
run for all parameters at once by :func:`scipy.signal.lfilter`; one call gives the
value and the gradient (about twice the cost of the value alone, against the
``len(theta) + 1`` values a finite-difference gradient needs).

>>> x = np.random.default_rng(0).standard_normal(300)
>>> theta = np.array([0.01, 0.05, 0.05, 0.9, 0.05, 8.0])
>>> f, g = negloglik(theta, x, asymmetric=True, dist="t")
>>> num = [(negloglik(theta + h, x, True, "t")[0] - negloglik(theta - h, x, True, "t")[0]) / 2e-6
...        for h in np.eye(6) * 1e-6]
>>> bool(np.allclose(g, num, rtol=1e-5, atol=1e-5))
True
>>> theta = np.r_[theta, -0.2]
>>> f, g = negloglik(theta, x, asymmetric=True, dist="skewt")
>>> num = [(negloglik(theta + h, x, True, "skewt")[0] - negloglik(theta - h, x, True, "skewt")[0]) / 2e-6
...        for h in np.eye(7) * 1e-6]
>>> bool(np.allclose(g, num, rtol=1e-5, atol=1e-5))
True
"""
from __future__ import annotations

import math

import numpy as np
from scipy import signal
from scipy.special import digamma, gammaln

from .skewt import nll_terms

_HUGE = 1e100


def _filter(g, beta, y0):
    """Rows ``y[t] = beta y[t-1] + g[t-1]``, ``y[0] = y0``; ``g`` (k, n) -> (k, n) (the last input unused)."""
    out = np.empty_like(g)
    out[:, 0] = y0
    out[:, 1:] = signal.lfilter([1.0], [1.0, -beta], g[:, :-1], axis=1, zi=(beta * y0)[:, None])[0]
    return out


def negloglik(theta, x, asymmetric=False, dist="normal"):
    """``(value, gradient)`` of the negative log-likelihood (see module docstring)."""
    theta = np.asarray(theta, dtype=np.float64)
    mu, omega, alpha, beta = theta[:4]
    gamma = theta[4] if asymmetric else 0.0
    nu = theta[-1] if dist == "t" else theta[-2] if dist == "skewt" else None
    lam = theta[-1] if dist == "skewt" else 0.0
    e = x - mu
    e2 = e * e
    neg = (e < 0).astype(np.float64)
    a_t = alpha + gamma * neg
    v0 = float(e2.mean())
    u = omega + a_t * e2
    s2 = np.empty_like(e)
    s2[0] = v0
    s2[1:] = signal.lfilter([1.0], [1.0, -beta], u[:-1], zi=[beta * v0])[0]
    if not np.all(s2 > 0) or (nu is not None and nu <= 2.0) or not -1.0 < lam < 1.0:
        return _HUGE, np.zeros_like(theta)
    n = x.size
    if nu is None:
        f = 0.5 * float(np.sum(np.log(s2) + e2 / s2)) + 0.5 * n * math.log(2 * math.pi)
        d_s2 = 0.5 * (1.0 / s2 - e2 / (s2 * s2))            # dl/ds2
        d_e = e / s2                                          # dl/de
    elif dist == "skewt":
        s = np.sqrt(s2)
        z = e / s
        l, dz, d_nu, d_lam = nll_terms(z, nu, lam)
        f = float(np.sum(l)) + 0.5 * float(np.sum(np.log(s2)))
        d_s2 = 0.5 / s2 - 0.5 * dz * z / s2
        d_e = dz / s
    else:
        c = nu - 2.0
        k = e2 / (c * s2)
        f = float(n * (gammaln(nu / 2) - gammaln((nu + 1) / 2) + 0.5 * math.log(math.pi * c))
                  + 0.5 * np.sum(np.log(s2)) + 0.5 * (nu + 1) * np.sum(np.log1p(k)))
        d_s2 = 0.5 / s2 - 0.5 * (nu + 1) * k / (s2 * (1 + k))
        d_e = (nu + 1) * e / (c * s2 * (1 + k))
    # inputs of the derivative filters, one row per recursion parameter
    rows = [-2.0 * a_t * e, np.ones(n), e2, s2]             # mu, omega, alpha, beta
    starts = [-2.0 * float(e.mean()), 0.0, 0.0, 0.0]
    if asymmetric:
        rows.append(neg * e2)
        starts.append(0.0)
    ds2 = _filter(np.vstack(rows), beta, np.array(starts))
    grad = ds2 @ d_s2
    grad[0] -= float(np.sum(d_e))                            # de/dmu = -1
    if dist == "skewt":
        grad = np.r_[grad, np.sum(d_nu), np.sum(d_lam)]
    elif nu is not None:
        d_nu = (n * (0.5 * digamma(nu / 2) - 0.5 * digamma((nu + 1) / 2) + 0.5 / c)
                + 0.5 * np.sum(np.log1p(k)) - 0.5 * (nu + 1) * np.sum(k / (c * (1 + k))))
        grad = np.r_[grad, d_nu]
    return f, grad
