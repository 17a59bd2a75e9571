"""The fit progress bar: fed by the estimator's callback, shown only on terminals and slow fits."""
import io

import numpy as np
from rich.console import Console

from gmmkit import GaussianMixture
from gmmkit.cli._progress import FitProgress


def blobs():
    rng = np.random.default_rng(0)
    return np.vstack([rng.normal(-3, 1, (200, 2)), rng.normal(3, 1, (200, 2))])


def terminal():
    buf = io.StringIO()
    return buf, Console(file=buf, force_terminal=True, width=100)


def test_bar_shows_restarts_iterations_and_log_likelihood_on_a_terminal():
    buf, console = terminal()
    with FitProgress(n_init=2, max_iter=50, delay=0.0, console=console) as bar:
        gm = GaussianMixture(2, n_init=2, max_iter=50, random_state=0, callback=bar).fit(blobs())
    text = buf.getvalue()
    assert bar.calls >= gm.n_iter_
    assert "init 2/2" in text and "log-lik" in text and "/50" in text


def test_quick_fit_or_non_terminal_prints_nothing():
    buf, console = terminal()
    with FitProgress(n_init=1, max_iter=50, delay=60.0, console=console) as bar:
        GaussianMixture(2, random_state=0, callback=bar).fit(blobs())
    assert bar.calls > 0 and buf.getvalue() == ""
    plain = io.StringIO()
    with FitProgress(n_init=1, max_iter=50, delay=0.0, console=Console(file=plain)) as bar:
        GaussianMixture(2, random_state=0, callback=bar).fit(blobs())
    assert bar.calls > 0 and plain.getvalue() == ""
