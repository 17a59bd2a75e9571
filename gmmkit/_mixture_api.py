"""What :class:`~gmmkit.GaussianMixture` and :class:`~gmmkit.BayesianGaussianMixture`
share: their common parameter constraints, the scoring methods built on each class's
``_score`` and ``_check_X``, and drawing samples component by component."""
from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, InvalidParameterError
from sklearn.utils.validation import check_is_fitted

from ._validation import InvalidParameter
from .exceptions import ParameterError

#: Constraints of the parameters both estimators take (scikit-learn's declarations).
SHARED_CONSTRAINTS = {
    "n_components": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0.0, None, closed="left")],
    "reg_covar": [Interval(Real, 0.0, None, closed="left")],
    "max_iter": [Interval(Integral, 0, None, closed="left")],
    "n_init": [Interval(Integral, 1, None, closed="left")],
    "random_state": ["random_state"],
    "warm_start": ["boolean"],
    "verbose": ["verbose"],
    "verbose_interval": [Interval(Integral, 1, None, closed="left")],
    "callback": [callable, None],
}


class MixtureScoring:
    """Scoring methods over a class's ``_fit(X, sample_weight)`` (returns the validated
    X), ``_score(X, resp=, labels=)`` (per-row log-density, responsibilities, labels)
    and ``_check_X(X, reset=)``."""

    def _validate_all_params(self):
        try:
            self._validate_params()
        except InvalidParameterError as exc:
            raise InvalidParameter(str(exc)) from None

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the most likely component of every row of X."""
        X = self._fit(X, sample_weight)
        # a final pass, so that fit_predict(X) == fit(X).predict(X)
        return self._score(X, labels=True)[2]

    def _checked(self, X):
        check_is_fitted(self)
        return self._check_X(X, reset=False)

    def score_samples(self, X):
        """Log-density of every row of X under the fitted mixture, shape (n_samples,)."""
        return self._score(self._checked(X))[0]

    def score(self, X, y=None):
        """Mean of :meth:`score_samples` over the rows of X."""
        return float(np.mean(self.score_samples(X)))

    def predict(self, X):
        """Most likely component of every row of X."""
        return self._score(self._checked(X), labels=True)[2]

    def predict_proba(self, X):
        """Posterior probability of each component for every row, shape (n_samples, K)."""
        return self._score(self._checked(X), resp=True)[1]


def sample_counts(est, n_samples, probs, rng):
    """How many of ``n_samples`` draws each component gets (scikit-learn's multinomial
    draw, so the same seed draws the same points); refuses fewer than one sample."""
    check_is_fitted(est)
    if n_samples < 1:
        raise ParameterError(
            f"Invalid value for 'n_samples': {n_samples}. The sampling requires at least one sample."
        )
    probs = np.asarray(probs, dtype=np.float64)
    return rng.multinomial(n_samples, probs / probs.sum())


def draw_components(entry, rng, means, covariances, counts):
    """Points from each Gaussian component in turn (``counts[k]`` from component k)."""
    return [entry.sample(rng, mean, covariances, k, int(n))
            for k, (mean, n) in enumerate(zip(means, counts))]
