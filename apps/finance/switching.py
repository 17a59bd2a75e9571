"""Markov-switching regimes: a hidden Markov chain of states, each emitting a normal mixture.

Hamilton's Markov-switching model of returns, with mixture emissions: the day's
regime follows a Markov chain (``transmat[i, j] = p(regime_t = j | regime_{t-1} = i)``)
and, given the regime ``s``, the return is drawn from the state's normal mixture
``sum_m w_sm N(mu_sm, sigma_sm^2)`` (``n_mix = 1``: one normal per regime, Hamilton's
model). It is a :class:`gmmkit.GMMHMM` fitted on ``(r - loc) / scale`` (the returns
standardised by their mean and standard deviation, so that ``reg_covar`` is
negligible) and mapped back exactly.

Regimes are named by the volatility of their mixture (``calm`` ... ``turbulent``,
as the i.i.d. mixture's components in :mod:`.regimes`); a regime persists for
``1 / (1 - p_ii)`` days on average (the mean of its geometric spell length).

Risk: the next day's state probabilities are the filtered probabilities of today
(``p(regime_T | r_1..r_T)``, no look-ahead) times the transition matrix, and the
next day's return is the normal mixture ``sum_s p_s sum_m w_sm N(mu_sm, sigma_sm^2)``,
whose VaR and ES are exact (:class:`~gmmkit_apps.finance.dist.NormalMixture`).

Examples
--------
>>> import pandas as pd
>>> rng = np.random.default_rng(0)
>>> r = np.concatenate([rng.normal(0, .01, 300), rng.normal(0, .04, 200), rng.normal(0, .01, 300)])
>>> fit = fit_switching(r, n_states=2, n_mix=1)
>>> [round(d, -1) > 50 for d in fit.durations()]
[True, True]
>>> frame = switching_regimes(pd.Series(r, index=pd.bdate_range("2020-01-01", periods=800)), fit)
>>> frame["regime"].iloc[350], int(frame["regime"].ne(frame["regime"].shift()).sum() - 1)
('turbulent', 2)
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning

from gmmkit.exceptions import DataError, DegenerateComponentWarning, ParameterError

from .dist import NormalMixture, _check_level, _check_returns
from .regimes import regime_names

MODELS = ("hmm", "mixture")


def check_model(model):
    """``model`` must be ``hmm`` (Markov switching) or ``mixture`` (i.i.d. mixture)."""
    if model not in MODELS:
        raise ParameterError(f"unknown model {model!r}; choose hmm (Markov switching) or mixture (i.i.d.)")
    return model


def _estimator(n_states, n_mix, *, n_init, random_state, warm_start=False):
    from gmmkit import GMMHMM

    return GMMHMM(n_components=n_states, n_mix=n_mix, covariance_type="full", n_init=n_init,
                  max_iter=500, tol=1e-6, random_state=random_state, warm_start=warm_start)


@dataclass
class SwitchingFit:
    """A Markov-switching model fitted to one return series.

    Attributes
    ----------
    model : gmmkit.GMMHMM
        Fitted on ``(r - loc) / scale``; its states are in the fit's order.
    loc, scale : float
        The standardisation.
    bic_table : dict
        ``{n_states: BIC}`` on the returns' scale.
    order : ndarray
        The model's states from the calmest to the most volatile: state ``order[i]``
        is regime ``i`` here. Every array this class returns is in that order.
    """

    model: object
    loc: float
    scale: float
    bic_table: dict
    order: np.ndarray = None

    def __post_init__(self):
        if self.order is None:
            sds = [self._state_mixture(s).std() for s in range(self.model.n_components)]
            self.order = np.argsort(sds, kind="stable")

    @property
    def n_states(self):
        return int(self.model.n_components)

    @property
    def n_mix(self):
        return int(self.model.n_mix)

    def _state_mixture(self, s):
        m = self.model
        w = m.weights_[s] / m.weights_[s].sum()
        sds = np.sqrt(np.asarray(m.covariances_[s], dtype=np.float64).reshape(m.n_mix, -1)[:, 0])
        return NormalMixture(w, m.means_[s, :, 0], sds).scaled(self.loc, self.scale)

    def state_mixtures(self):
        """Each regime's return distribution (a :class:`NormalMixture`), calmest first."""
        return [self._state_mixture(s) for s in self.order]

    def names(self):
        """``calm``, ``mid1``..., ``turbulent`` (in the order of :meth:`state_mixtures`)."""
        return list(regime_names(np.arange(self.n_states, dtype=float)))

    @property
    def transmat(self):
        """Transition probabilities between the regimes (rows: from, columns: to)."""
        o = self.order
        return self.model.transmat_[np.ix_(o, o)]

    @property
    def startprob(self):
        return self.model.startprob_[self.order]

    def durations(self):
        """Expected spell length of each regime, ``1 / (1 - p_ii)`` periods."""
        stay = np.diag(self.transmat)
        with np.errstate(divide="ignore"):
            return [float(d) for d in np.where(stay < 1.0, 1.0 / (1.0 - stay), np.inf)]

    def stationary(self):
        """The chain's stationary distribution (long-run share of each regime)."""
        A = self.transmat
        vals, vecs = np.linalg.eig(A.T)
        v = np.real(vecs[:, np.argmin(np.abs(vals - 1.0))])
        return v / v.sum()

    def standardise(self, r):
        return ((np.asarray(r, dtype=np.float64) - self.loc) / self.scale)[:, None]

    def smoothed(self, r):
        """p(regime_t | all returns): the forward-backward posteriors, shape (n, S)."""
        return self.model.predict_proba(self.standardise(r))[:, self.order]

    def filtered(self, r):
        """p(regime_t | returns up to t): no look-ahead, shape (n, S)."""
        return self.model.filtered_proba(self.standardise(r))[:, self.order]

    def viterbi(self, r):
        """The most likely regime path (regime indices, calmest 0)."""
        rank = np.empty(self.n_states, dtype=int)
        rank[self.order] = np.arange(self.n_states)
        return rank[self.model.predict(self.standardise(r))]

    def next_state_proba(self, r):
        """The next period's regime probabilities after the returns ``r``:
        ``filtered(r)[-1] @ transmat``."""
        return self.filtered(r)[-1] @ self.transmat

    def predictive(self, state_proba):
        """The return distribution given regime probabilities: ``sum_s p_s * mixture_s``."""
        p = np.asarray(state_proba, dtype=np.float64)
        if p.shape != (self.n_states,) or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
            raise ParameterError(f"need {self.n_states} regime probabilities summing to 1")
        mixes = self.state_mixtures()
        w = np.concatenate([ps * m.weights for ps, m in zip(p / p.sum(), mixes)])
        return NormalMixture(w, np.concatenate([m.means for m in mixes]),
                             np.concatenate([m.sds for m in mixes]))

    def next_mixture(self, r):
        """The next period's predictive return distribution after the returns ``r``."""
        return self.predictive(self.next_state_proba(r))

    def simulate(self, state_proba, horizon, n, rng):
        """``n`` paths of ``horizon`` returns: the first regime drawn from ``state_proba``,
        then the chain; shape (n, horizon)."""
        mixes = self.state_mixtures()
        A = np.cumsum(self.transmat, axis=1)
        cum0 = np.cumsum(np.asarray(state_proba, dtype=np.float64))
        out = np.empty((n, horizon))
        state = np.minimum(np.searchsorted(cum0 / cum0[-1], rng.random(n)), self.n_states - 1)
        for h in range(horizon):
            if h:
                u = rng.random(n)
                state = np.minimum((u[:, None] > A[state]).sum(axis=1), self.n_states - 1)
            for s, mix in enumerate(mixes):
                idx = np.flatnonzero(state == s)
                if idx.size:
                    out[idx, h] = mix.sample(idx.size, rng)
        return out

    def regime_table(self, periods_per_year):
        """Per regime: stay probability, expected duration, annualised mean and volatility,
        the stationary share, and the emission mixture's components."""
        rows = []
        for name, mix, stay, dur, share in zip(self.names(), self.state_mixtures(), np.diag(self.transmat),
                                              self.durations(), self.stationary()):
            rows.append({"regime": name, "p_stay": float(stay), "duration": dur,
                         "stationary_share": float(share),
                         "ann_mean": mix.mean() * periods_per_year,
                         "ann_vol": mix.std() * math.sqrt(periods_per_year),
                         "weights": mix.weights.tolist(), "means": mix.means.tolist(),
                         "sds": mix.sds.tolist()})
        return rows


def fit_switching(r, *, n_states=None, max_states=3, min_states=2, n_mix=2, n_init=3, random_state=0):
    """Fit a Markov-switching model (K states by BIC over ``min_states..max_states`` unless given).

    Parameters
    ----------
    r : array-like of shape (n,)
        Returns (one series, in time order).
    n_states : int, optional
        Fixed number of regimes.
    n_mix : int
        Normal components in each regime's mixture (1: Hamilton's Gaussian regimes).

    Returns
    -------
    SwitchingFit
    """
    r = _check_returns(r, minimum=20)
    n_mix = int(n_mix)
    if n_mix < 1:
        raise ParameterError(f"n_mix must be at least 1, got {n_mix}")
    if n_states is not None:
        candidates = [int(n_states)]
    else:
        if not 1 <= min_states <= max_states:
            raise ParameterError(f"need 1 <= min_states <= max_states, got {min_states} and {max_states}")
        candidates = list(range(int(min_states), int(max_states) + 1))
    if candidates[0] < 1:
        raise ParameterError("the number of regimes must be at least 1")
    if r.size < 10 * max(candidates) * n_mix:
        raise DataError(f"too few returns ({r.size}) for {max(candidates)} regimes of {n_mix} components")
    loc, scale = float(np.mean(r)), float(np.std(r))
    X = ((r - loc) / scale)[:, None]
    shift = 2.0 * r.size * math.log(scale)      # BIC on the returns' scale
    table, best, best_bic = {}, None, np.inf
    for k in candidates:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", DegenerateComponentWarning)
            model = _estimator(k, n_mix, n_init=n_init, random_state=random_state).fit(X)
        table[k] = float(model.bic(X)) + shift
        if table[k] < best_bic:
            best, best_bic = model, table[k]
    return SwitchingFit(best, loc, scale, table)


def switching_regimes(returns, fit):
    """Each day's regime from the smoothed probabilities of a :class:`SwitchingFit`.

    Returns a DataFrame indexed by date: ``return``, ``state`` (0 = calmest),
    ``regime`` (the most probable regime given all returns), ``viterbi`` (the most
    likely path's regime), ``p_turbulent`` (smoothed) and ``p_turbulent_filtered``
    (given the returns up to the day only).
    """
    r = returns.to_numpy()
    smooth = fit.smoothed(r)
    filt = fit.filtered(r)
    names = np.array(fit.names(), dtype=object)
    best = smooth.argmax(axis=1)
    return pd.DataFrame({"return": r, "state": best, "regime": names[best],
                         "viterbi": names[fit.viterbi(r)], "p_turbulent": smooth[:, -1],
                         "p_turbulent_filtered": filt[:, -1]}, index=returns.index)


def switches_per_year(labels, index):
    """Regime changes per calendar year: label changes between consecutive days / years spanned."""
    labels = np.asarray(labels)
    changes = int(np.sum(labels[1:] != labels[:-1]))
    years = (pd.Timestamp(index[-1]) - pd.Timestamp(index[0])).days / 365.25
    return changes / years if years > 0 else float("nan")


def spells(labels, index, name):
    """The spells of regime ``name``: list of (first day, last day, length in periods)."""
    labels = np.asarray(labels)
    mask = np.r_[False, labels == name, False]
    edges = np.flatnonzero(np.diff(mask.astype(int)))
    return [(index[a], index[b - 1], int(b - a)) for a, b in zip(edges[::2], edges[1::2])]


def switching_risk(r, *, levels=(0.95, 0.99), horizon=1, log=True, n_sims=100_000, n_states=None,
                   max_states=3, n_mix=2, random_state=0):
    """VaR/ES from the Markov-switching model's predictive distribution, with the normal and
    historical simulation of the same returns.

    One period: the predictive mixture after the last return, exact. Several periods:
    ``n_sims`` paths through the chain (regimes drawn day by day), summed (log) or
    compounded (simple). Returns a dict: n_states, n_mix, bic_by_k, next_state_proba
    (calmest first), rows (as :func:`gmmkit_apps.finance.risk.risk_table`, model ``hmm``).
    """
    from .risk import _aggregate, _check_simulation, _empirical, risk_table

    x = _check_returns(r, minimum=20)
    levels = [_check_level(a) for a in levels]
    horizon = _check_simulation(horizon, n_sims)
    fit = fit_switching(x, n_states=n_states, max_states=max_states, n_mix=n_mix, random_state=random_state)
    p_next = fit.next_state_proba(x)
    mix = fit.predictive(p_next)
    rows = risk_table(x, mix, levels=levels, horizon=horizon, log=log, n_sims=n_sims, random_state=random_state)
    if horizon > 1:   # the i.i.d. draws of risk_table would ignore the chain: simulate it
        paths = _aggregate(fit.simulate(p_next, horizon, n_sims, np.random.default_rng(random_state)), log)
        for row in rows:
            if row["model"] == "gmm":
                row["var"], row["es"] = _empirical(paths, row["level"])
                row["method"] = f"Markov-chain simulation ({n_sims} paths)"
    for row in rows:
        if row["model"] == "gmm":
            row["model"] = "hmm"
    return {"n_states": fit.n_states, "n_mix": fit.n_mix, "bic_by_k": fit.bic_table,
            "next_state_proba": p_next.tolist(), "regimes": fit.names(), "rows": rows}


def _degenerate(model, *, min_sd=0.05, min_weight=1e-3):
    """A component narrower than ``min_sd`` (standardised) or with almost no weight."""
    sds = np.sqrt(np.asarray(model.covariances_).reshape(-1))
    return bool(np.any(sds < min_sd) or np.any(model.weights_ < min_weight))


class RollingSwitching:
    """The Markov-switching column of the rolling backtest (:func:`..backtest.rolling_var`).

    :meth:`block` refits on a window (the first time: regimes by BIC, then warm
    start from the previous fit) and returns the one-period VaR of each following
    day up to the next refit: the filtered regime probabilities of the day before
    (the forward pass run on from the window's start with the window's parameters,
    so no day sees its own return) times the transition matrix, times the regimes'
    mixtures.
    """

    def __init__(self, level, *, n_states=None, max_states=3, n_mix=2, n_init=3, random_state=0):
        self.level = _check_level(level)
        self.n_states, self.max_states, self.n_mix = n_states, max_states, n_mix
        self.n_init, self.random_state = n_init, random_state
        self.fit = None
        self.iterations, self.restarts = [], 0

    def block(self, window_returns, following):
        """VaR of the ``len(following)`` days after ``window_returns``; ``following[:-1]``
        are the returns those days' forecasts may use (each only the ones before it)."""
        return np.array([m.value_at_risk(self.level) for m in self.predictives(window_returns, following)])

    def predictives(self, window_returns, following):
        """The predictive mixture (:class:`NormalMixture`) of each of the ``len(following)`` days."""
        x = np.asarray(window_returns, dtype=np.float64)
        if self.fit is None:
            first = fit_switching(x, n_states=self.n_states, max_states=self.max_states, n_mix=self.n_mix,
                                  n_init=self.n_init, random_state=self.random_state)
            model = first.model
            model.set_params(warm_start=True, n_init=1)
            self.fit, self.first_bic = first, first.bic_table
            self.iterations.append(int(model.n_iter_))
        else:
            model = self.fit.model
            X = self.fit.standardise(x)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                warnings.simplefilter("ignore", DegenerateComponentWarning)
                model.fit(X)
                if _degenerate(model):
                    model = _estimator(model.n_components, self.n_mix, n_init=self.n_init,
                                       random_state=self.random_state, warm_start=True).fit(X)
                    self.restarts += 1
            self.iterations.append(int(model.n_iter_))
            self.fit = SwitchingFit(model, self.fit.loc, self.fit.scale, self.fit.bic_table)
        n = len(following)
        seen = np.concatenate([x, np.asarray(following, dtype=np.float64)[:n - 1]])
        filt = self.fit.filtered(seen)[x.size - 1:]            # day before each forecast day
        nxt = filt @ self.fit.transmat
        return [self.fit.predictive(p) for p in nxt]


def regime_analysis(returns, *, n_states=None, max_states=3, n_mix=2, periods_per_year=252, random_state=0):
    """The Markov-switching regimes of a return series, beside the i.i.d. mixture's.

    Fits :func:`fit_switching` and, for comparison, an i.i.d. Gaussian mixture with as
    many components as regimes (:func:`gmmkit_apps.finance.regimes.regimes`: each day
    its most likely component). Returns ``(frame, info)``: the daily frame of
    :func:`switching_regimes` with the mixture's ``mixture_regime`` and
    ``mixture_p_turbulent`` columns, and a dict with n_states, n_mix, bic_by_k,
    transmat (calmest first), the per-regime table (:meth:`SwitchingFit.regime_table`
    with the share of days and observed mean spell of each regime), the regime switches
    per year of the HMM (smoothed and Viterbi) and of the mixture, and the turbulent
    regime's longest spells.
    """
    from .dist import fit_mixture
    from .regimes import regimes as mixture_regimes

    fit = fit_switching(returns.to_numpy(), n_states=n_states, max_states=max_states, n_mix=n_mix,
                        random_state=random_state)
    frame = switching_regimes(returns, fit)
    mix = mixture_regimes(returns, fit_mixture(returns.to_numpy(), n_components=fit.n_states,
                                               random_state=random_state))
    frame["mixture_regime"] = mix["regime"].to_numpy()
    frame["mixture_p_turbulent"] = mix["p_turbulent"].to_numpy()
    idx = frame.index
    table = fit.regime_table(periods_per_year)
    for row in table:
        runs = spells(frame["regime"], idx, row["regime"])
        row["days"] = int(sum(n for *_, n in runs))
        row["share"] = row["days"] / len(frame)
        row["mean_spell"] = float(np.mean([n for *_, n in runs])) if runs else 0.0
    top = sorted(spells(frame["regime"], idx, "turbulent"), key=lambda s: -s[2])[:5]
    info = {
        "n_states": fit.n_states, "n_mix": fit.n_mix, "bic_by_k": fit.bic_table,
        "transmat": fit.transmat.tolist(), "regimes": table,
        "switches_per_year": {"hmm": switches_per_year(frame["regime"], idx),
                              "hmm_viterbi": switches_per_year(frame["viterbi"], idx),
                              "mixture": switches_per_year(frame["mixture_regime"], idx)},
        "longest_turbulent_spells": [{"start": str(a.date()), "end": str(b.date()), "days": n}
                                     for a, b, n in sorted(top)],
    }
    return frame, info
