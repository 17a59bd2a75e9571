"""gmmkit finance: return distributions, VaR and ES, regimes and backtests with Gaussian mixtures.

Modules: :mod:`.data` (reading prices/returns), :mod:`.dist` (the mixture, normal
and Student-t fits), :mod:`.risk` (VaR/ES), :mod:`.backtest` (rolling backtests
and coverage tests), :mod:`.regimes` (regimes and portfolios), :mod:`.plots`
(matplotlib figures), :mod:`.cli` (the ``gmmkit finance`` commands).
This package imports nothing heavy, so ``gmmkit --help`` stays fast.
"""
