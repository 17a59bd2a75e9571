"""gmmkit's own applications, installed as ``gmmkit_apps``.

Each app registers through the ``gmmkit.apps`` entry-point group exactly as a
third-party plugin would; the core never imports this package, and the apps
use only gmmkit's public API and never each other.
"""
