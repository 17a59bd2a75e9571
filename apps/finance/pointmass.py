"""Point masses in return series: exact repeated values, and a distribution with atoms.

A price that does not move gives a return of exactly 0; limit moves and stale
quotes repeat other values. A continuous density cannot represent a value
that occurs with positive probability: a mixture fitted to such returns puts a
component of almost zero width on it (BMW's 611 zeros: weight 0.098, sd 0.00001), its
likelihood grows without bound as the width shrinks, and a BIC comparison with
the normal or the Student-t becomes meaningless.

gmmkit finance therefore models returns as **point masses plus a continuous
part**: ``P(R = a_j) = p_j`` for the repeated values ``a_j`` (found by
:func:`find_atoms`: values taken by at least ``max(5, 0.5% of n)`` returns), and
``R ~ G`` (the mixture) with probability ``1 - sum p_j`` otherwise. ``p_j`` is the
observed share; ``G`` is fitted to the other returns, so every model is compared on
the same (continuous) returns.

:class:`PointMassMixture` has the exact CDF, quantile and expected shortfall of
such a distribution: ``VaR = -q`` with ``q = inf{x: F(x) >= 1 - level}``, and
``ES = -(E[R 1{R < q}] + q (alpha - P(R < q))) / alpha`` with ``alpha = 1 - level``
(Acerbi and Tasche, 2002), which is the usual formula when ``F`` is continuous at ``q``.

Examples
--------
>>> from scipy import stats
>>> from gmmkit_apps.finance.dist import NormalMixture
>>> pm = PointMassMixture([0.0], [0.1], NormalMixture([1.0], [0.0], [0.01]))
>>> round(pm.value_at_risk(0.99), 6) == round(-0.01 * float(stats.norm.ppf(0.01 / 0.9)), 6)
True
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from gmmkit.exceptions import ParameterError

#: a value is a point mass when at least this share of the returns take it exactly ...
MIN_ATOM_SHARE = 0.005
#: ... and at least this many
MIN_ATOM_COUNT = 5


def find_atoms(r, *, min_share=MIN_ATOM_SHARE, min_count=MIN_ATOM_COUNT):
    """``(values, counts)`` of the exact values repeated at least ``max(min_count, min_share n)`` times.

    >>> find_atoms(np.r_[np.zeros(6), np.linspace(-0.02, 0.02, 94)])
    (array([0.]), array([6]))
    """
    r = np.asarray(r, dtype=np.float64).ravel()
    counts = pd.Series(r).value_counts()
    keep = counts[counts >= max(min_count, min_share * r.size)]
    order = np.argsort(keep.index.to_numpy())
    return keep.index.to_numpy(dtype=np.float64)[order], keep.to_numpy(dtype=np.int64)[order]


def split_atoms(r, values):
    """Boolean mask of the returns equal to one of ``values``."""
    return np.isin(np.asarray(r, dtype=np.float64), np.asarray(values, dtype=np.float64))


def describe_atoms(values, counts, n):
    """One line for the user: ``'611 returns (9.9%) exactly 0'``."""
    parts = [f"{c} at {v:+.6g}" if v != 0 else f"{c} exactly 0" for v, c in zip(values, counts)]
    total = int(np.sum(counts))
    return f"{total} returns ({total / n:.1%}) are repeated values ({', '.join(parts)})"


class PointMassMixture:
    """Atoms ``values`` with probabilities ``probs``, and the continuous ``mixture`` otherwise.

    ``mixture`` is any distribution with ``cdf``, ``ppf``, ``partial_mean``,
    ``logpdf`` and ``sample`` (a :class:`~gmmkit_apps.finance.dist.NormalMixture`).
    """

    def __init__(self, values, probs, mixture):
        self.values = np.asarray(values, dtype=np.float64).ravel()
        self.probs = np.asarray(probs, dtype=np.float64).ravel()
        if self.values.shape != self.probs.shape or np.any(self.probs < 0) or self.probs.sum() >= 1:
            raise ParameterError("point masses need one probability each, non-negative, summing below 1")
        self.mixture = mixture
        self.p_cont = 1.0 - float(self.probs.sum())

    @property
    def n_components(self):
        return self.mixture.n_components

    def cdf(self, x):
        x = np.asarray(x, dtype=np.float64)
        atoms = (self.values <= x[..., None]) @ self.probs
        return atoms + self.p_cont * self.mixture.cdf(x)

    def ppf(self, p):
        """``inf{x: F(x) >= p}`` (scalar ``p``): the continuous part between atoms, or an atom."""
        p = float(p)
        below = 0.0
        for v, pv in zip(self.values, self.probs):
            g = (p - below) / self.p_cont             # the continuous quantile if no further atom intervened
            if 0.0 < g < 1.0:
                x = float(self.mixture.ppf(g))
                if x < v:
                    return x
            if float(self.cdf(v)) >= p:
                return float(v)
            below += pv
        return float(self.mixture.ppf(min(max((p - below) / self.p_cont, 1e-300), 1 - 1e-16)))

    def partial_mean_below(self, q):
        """``E[R 1{R < q}]`` and ``P(R < q)``."""
        lt = self.values < q
        m = float(self.values[lt] @ self.probs[lt]) + self.p_cont * self.mixture.partial_mean(q)
        return m, float(self.probs[lt].sum() + self.p_cont * self.mixture.cdf(q))

    def value_at_risk(self, level):
        return -self.ppf(1.0 - float(level))

    def expected_shortfall(self, level):
        alpha = 1.0 - float(level)
        q = self.ppf(alpha)
        m, p_below = self.partial_mean_below(q)
        return -(m + q * (alpha - p_below)) / alpha

    def sample(self, n, rng):
        out = self.mixture.sample(n, rng)
        u = rng.random(n)
        edges = np.cumsum(self.probs)
        idx = np.searchsorted(edges, u, side="right")
        hit = idx < self.values.size
        out[hit] = self.values[idx[hit]]
        return out

    def scaled(self, loc, scale):
        return PointMassMixture(loc + scale * self.values, self.probs, self.mixture.scaled(loc, scale))

    def mean(self):
        return float(self.values @ self.probs) + self.p_cont * self.mixture.mean()

    def std(self):
        m = self.mean()
        second = float((self.values ** 2) @ self.probs) + self.p_cont * (
            self.mixture.std() ** 2 + self.mixture.mean() ** 2)
        return float(np.sqrt(max(second - m * m, 0.0)))


def atom_loglik(counts, n):
    """Log-likelihood of the atoms' multinomial share (the same for every model compared)."""
    counts = np.asarray(counts, dtype=np.float64)
    rest = n - counts.sum()
    terms = np.r_[counts, rest]
    terms = terms[terms > 0]
    return float(np.sum(terms * np.log(terms / n)))


class ReturnsFit:
    """A mixture fitted to the continuous returns, with the point masses beside it.

    ``fit`` is the :class:`~gmmkit_apps.finance.dist.MixtureFit` of the returns that are
    not repeated values; ``values``/``counts`` the atoms; ``distribution`` the whole
    return distribution (a :class:`PointMassMixture`, or the mixture alone without atoms).
    """

    def __init__(self, fit, values, counts, n, continuous):
        self.fit, self.values, self.counts, self.n = fit, values, counts, n
        self.continuous = continuous

    @property
    def mixture(self):
        return self.fit.mixture

    @property
    def distribution(self):
        if self.values.size == 0:
            return self.fit.mixture
        return PointMassMixture(self.values, self.counts / self.n, self.fit.mixture)

    def note(self):
        """One line on the atoms, or '' without any."""
        if self.values.size == 0:
            return ""
        return (f"{describe_atoms(self.values, self.counts, self.n)}: modelled as point masses; "
                f"every model below is fitted to the {int(self.continuous.sum())} other returns")


def fit_returns(r, *, atoms=True, **kwargs):
    """:func:`~gmmkit_apps.finance.dist.fit_mixture` on the returns that are not point masses.

    >>> r = np.r_[np.zeros(50), np.random.default_rng(0).standard_t(4, 950) * 0.01]
    >>> res = fit_returns(r, n_components=2)
    >>> d = res.distribution
    >>> res.values.tolist(), int(res.continuous.sum()), round(float(d.cdf(0.0) - d.cdf(-1e-12)), 3)
    ([0.0], 950, 0.05)
    """
    from .dist import fit_mixture

    r = np.asarray(r, dtype=np.float64).ravel()
    if atoms:
        values, counts = find_atoms(r)
    else:
        values, counts = np.empty(0), np.empty(0, dtype=np.int64)
    keep = ~split_atoms(r, values)
    return ReturnsFit(fit_mixture(r[keep], **kwargs), values, counts, r.size, keep)
