"""The one EM driver and its parts (see docs/architecture.md): the loop, E-sources,
M-step, initialisation, prior, noise region and convergence monitor."""
