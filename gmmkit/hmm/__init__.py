"""Hidden Markov models with Gaussian-mixture emissions (:class:`GMMHMM`): Baum-Welch
on gmmkit's EM driver, log-space forward-backward and Viterbi in Numba.

See docs/hmm.md.
"""
from .model import GMMHMM, load

__all__ = ["GMMHMM", "load"]
