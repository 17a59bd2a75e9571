"""A rich progress bar fed by the estimator's ``callback``, shown only for slow fits.

The bar appears once a fit has run for ``delay`` seconds (quick fits print
nothing), lives on stderr, is transient (erased when done) and is only drawn on
a terminal, so pipes, files and tests see no control codes.
"""
from __future__ import annotations

import time


class FitProgress:
    """Callable for ``GaussianMixture(callback=...)``; use as a context manager.

    Shows ``init i/n`` (restarts), the EM iteration out of ``max_iter`` and the
    current mean log-likelihood.
    """

    def __init__(self, *, n_init, max_iter, enabled=True, delay=1.0, console=None, label="EM"):
        self.n_init = int(n_init)
        self.max_iter = int(max_iter)
        self.delay = float(delay)
        self.label = label
        self._console = console
        self.enabled = enabled
        self._progress = None
        self._task = None
        self._t0 = time.monotonic()
        self.calls = 0

    def __enter__(self):
        if self.enabled:
            from rich.console import Console

            if self._console is None:
                self._console = Console(stderr=True)
            self.enabled = self._console.is_terminal
        self._t0 = time.monotonic()
        return self

    def _start(self):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn,
                                   TextColumn, TimeElapsedColumn)

        self._progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
            MofNCompleteColumn(), TextColumn("log-lik {task.fields[ll]}"), TimeElapsedColumn(),
            console=self._console, transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(self.label, total=self.max_iter, ll="-")

    def __call__(self, info):
        self.calls += 1
        if not self.enabled:
            return
        if self._progress is None:
            if time.monotonic() - self._t0 < self.delay:
                return
            self._start()
        init = int(info.get("init", 0))
        desc = f"{self.label} init {init + 1}/{self.n_init}" if self.n_init > 1 else self.label
        self._progress.update(self._task, description=desc, completed=int(info["n_iter"]),
                              ll=f"{float(info['lower_bound']):.5g}")

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        return False


class Spinner:
    """A transient spinner on stderr for work without iteration callbacks (model selection)."""

    def __init__(self, text, *, enabled=True):
        self.text = text
        self.enabled = enabled
        self._status = None

    def __enter__(self):
        if self.enabled:
            from rich.console import Console

            console = Console(stderr=True)
            if console.is_terminal:
                self._status = console.status(self.text)
                self._status.start()
        return self

    def __exit__(self, *exc):
        if self._status is not None:
            self._status.stop()
        return False
