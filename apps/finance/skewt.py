"""Hansen's (1994) skewed Student-t, standardised to mean 0 and variance 1.

With ``eta > 2`` degrees of freedom and skewness ``-1 < lam < 1`` (``lam = 0``: the
unit-variance Student-t; ``lam < 0``: a longer left tail),
``c = G((eta+1)/2) / (sqrt(pi (eta-2)) G(eta/2))``, ``a = 4 lam c (eta-2)/(eta-1)``,
``b^2 = 1 + 3 lam^2 - a^2``, the density is

    ``f(z) = b c (1 + ((b z + a) / (1 + s lam))^2 / (eta - 2))^(-(eta+1)/2)``,  ``s = sign(z + a/b)``

(the parametrisation of the ``arch`` package's ``SkewStudent``). Each side of the mode
``-a/b`` is a rescaled half Student-t: with ``u = (b z + a) / (1 + s lam) sqrt(eta/(eta-2))``
and ``F_t`` the Student-t(eta) CDF, ``F(z) = (1 - lam) F_t(u)`` below the mode and
``(1 - lam)/2 + (1 + lam)(F_t(u) - 1/2)`` above it. So the quantile is closed-form
(through the t quantile) and so is the partial mean ``E[Z 1{Z <= q}]`` (through
``int t f_t(t) dt = -f_t(u) (eta + u^2)/(eta - 1)``): VaR and ES are exact.

>>> d = SkewT(6.0, -0.2)
>>> round(float(d.cdf(d.ppf(0.01))), 10)
0.01
>>> bool(d.expected_shortfall(0.99) > d.value_at_risk(0.99) > SkewT(6.0, 0.2).value_at_risk(0.99))
True
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats
from scipy.special import digamma, gammaln

from gmmkit.exceptions import ParameterError

from .dist import _check_level


def constants(eta, lam):
    """``(log c, a, b)`` of the density (module docstring)."""
    log_c = gammaln((eta + 1) / 2) - gammaln(eta / 2) - 0.5 * math.log(math.pi * (eta - 2))
    a = 4.0 * lam * math.exp(log_c) * (eta - 2) / (eta - 1)
    return log_c, a, math.sqrt(1.0 + 3.0 * lam * lam - a * a)


def nll_terms(z, eta, lam):
    """Negative log density of each ``z`` and its derivatives: ``(l, dl/dz, dl/deta, dl/dlam)``.

    ``l`` summed is the negative log-likelihood of unit-variance residuals ``z``;
    the derivatives are exact (``a``, ``b``, ``c`` differentiated through).
    """
    log_c, a, b = constants(eta, lam)
    c = math.exp(log_c)
    s = np.where(b * z + a < 0, -1.0, 1.0)
    d = 1.0 + s * lam
    q = (b * z + a) / d
    k = q * q / (eta - 2)
    l = -math.log(b) - log_c + 0.5 * (eta + 1) * np.log1p(k)
    w = (eta + 1) * q / ((eta - 2) * (1 + k))          # dl/dq
    dl_dz = w * b / d
    # lambda: a, b and the side's divisor depend on it
    a_lam = 4.0 * c * (eta - 2) / (eta - 1)
    b_lam = (3.0 * lam - a * a_lam) / b
    q_lam = (z * b_lam + a_lam) / d - q * s / d
    dl_dlam = -b_lam / b + w * q_lam
    # eta: c, a, b and the power
    logc_eta = 0.5 * digamma((eta + 1) / 2) - 0.5 * digamma(eta / 2) - 0.5 / (eta - 2)
    a_eta = 4.0 * lam * c * (logc_eta * (eta - 2) / (eta - 1) + 1.0 / (eta - 1) ** 2)
    b_eta = -a * a_eta / b
    q_eta = (z * b_eta + a_eta) / d
    dl_deta = (-b_eta / b - logc_eta + 0.5 * np.log1p(k)
               + 0.5 * (eta + 1) * (2 * q * q_eta / (eta - 2) - q * q / (eta - 2) ** 2) / (1 + k))
    return l, dl_dz, dl_deta, dl_dlam


class SkewT:
    """``loc + scale * Z`` with ``Z`` Hansen's standardised skewed t (module docstring).

    Same interface as :class:`.dist.NormalMixture` (``cdf``, ``ppf``, ``partial_mean``,
    ``value_at_risk``, ``expected_shortfall``, ``sample``, ``scaled``), so a filter's
    own innovation distribution is backtested like the mixture.

    >>> t = SkewT(5.0, 0.0)
    >>> bool(abs(t.value_at_risk(0.99) + stats.t.ppf(0.01, 5) * math.sqrt(3 / 5)) < 1e-12)
    True
    """

    def __init__(self, eta, lam, loc=0.0, scale=1.0):
        self.eta, self.lam, self.loc, self.scale = float(eta), float(lam), float(loc), float(scale)
        if not (self.eta > 2 and -1 < self.lam < 1 and self.scale > 0):
            raise ParameterError(f"skewed t needs eta > 2, -1 < lambda < 1 and a positive scale; got eta "
                                 f"{self.eta}, lambda {self.lam}, scale {self.scale}")
        _, self.a, self.b = constants(self.eta, self.lam)
        self._r = math.sqrt(self.eta / (self.eta - 2))       # t units per unit of (b z + a) / (1 +- lam)

    def _side(self, z):
        """``(s, u)``: the side of the mode and the Student-t argument of standard values ``z``."""
        s = np.where(self.b * z + self.a < 0, -1.0, 1.0)
        return s, (self.b * z + self.a) / (1.0 + s * self.lam) * self._r

    def logpdf(self, x):
        z = (np.asarray(x, dtype=np.float64) - self.loc) / self.scale
        return -nll_terms(z, self.eta, self.lam)[0] - math.log(self.scale)

    def cdf(self, x):
        z = (np.asarray(x, dtype=np.float64) - self.loc) / self.scale
        s, u = self._side(z)
        ft = stats.t.cdf(u, self.eta)
        return np.where(s < 0, (1 - self.lam) * ft, (1 - self.lam) / 2 + (1 + self.lam) * (ft - 0.5))

    def ppf(self, p):
        """Quantile, closed form through the Student-t quantile (array ``p`` allowed)."""
        p = np.asarray(p, dtype=np.float64)
        if np.any((p <= 0) | (p >= 1)):
            raise ParameterError("probabilities must be in (0, 1)")
        lo = p < (1 - self.lam) / 2
        pt = np.where(lo, p / (1 - self.lam), 0.5 + (p - (1 - self.lam) / 2) / (1 + self.lam))
        u = stats.t.ppf(pt, self.eta)
        z = (u / self._r * np.where(lo, 1 - self.lam, 1 + self.lam) - self.a) / self.b
        z = self.loc + self.scale * z
        return float(z) if z.ndim == 0 else z

    def _half_partial(self, u, side):
        """``E[Z 1{Z on this side, below u}]`` for one side, ``u`` the t argument (0 at the mode)."""
        d = 1.0 - self.lam if side < 0 else 1.0 + self.lam
        ft = stats.t.cdf(u, self.eta)
        pm = -stats.t.pdf(u, self.eta) * (self.eta + u * u) / (self.eta - 1)     # int_-inf^u t f_t
        if side > 0:    # from the mode up
            ft -= 0.5
            pm += stats.t.pdf(0.0, self.eta) * self.eta / (self.eta - 1)
        return d / self.b * (d / self._r * pm - self.a * ft)

    def partial_mean(self, q):
        """``E[X 1{X <= q}]`` in closed form (scalar ``q``)."""
        z = (float(q) - self.loc) / self.scale
        s, u = self._side(z)
        zpart = self._half_partial(float(u), -1) if s < 0 else (
            self._half_partial(0.0, -1) + self._half_partial(float(u), 1))
        return float(self.loc * self.cdf(q) + self.scale * zpart)

    def value_at_risk(self, level):
        return -self.ppf(1.0 - _check_level(level))

    def expected_shortfall(self, level):
        level = _check_level(level)
        return -self.partial_mean(self.ppf(1.0 - level)) / (1.0 - level)

    def sample(self, n, rng):
        """Exact draws: the lower side of the mode with probability ``(1 - lam)/2``, then a half
        Student-t on that side (a dozen times faster than the quantile of uniforms)."""
        t = np.abs(rng.standard_t(self.eta, n))
        s = np.where(rng.random(n) < (1 - self.lam) / 2, -1.0, 1.0)
        return self.loc + self.scale * ((s * (1 + s * self.lam) * t / self._r - self.a) / self.b)

    def scaled(self, loc, scale):
        """The distribution of ``loc + scale * X``."""
        return SkewT(self.eta, self.lam, loc + scale * self.loc, abs(scale) * self.scale)
