"""Every ``>>>`` example in gmmkit's and the apps' docstrings runs, one test per module.

The apps live in ``apps/`` but install as ``gmmkit_apps`` (pytest's --doctest-modules on
the folder would import them under the wrong name), so the modules are found with
pkgutil from the installed packages and their examples run with doctest here."""
import doctest
import importlib
import importlib.util
import pkgutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PACKAGES = ["gmmkit", "gmmkit_apps"]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

# module -> reason, for examples known to be wrong (xfail strict: fixing them is noticed)
KNOWN_BAD = {}


def modules_with_examples():
    """Names of the modules whose source holds a '>>>' example (found without importing
    leaf modules; ``__main__`` modules run the CLI on import and hold no examples)."""
    names = []
    for pkg_name in PACKAGES:
        pkg = importlib.import_module(pkg_name)
        names.append(pkg_name)
        names += [m.name for m in pkgutil.walk_packages(pkg.__path__, pkg_name + ".")]
    found = []
    for name in names:
        if name.rsplit(".", 1)[-1] == "__main__":
            continue
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            continue
        with open(spec.origin, encoding="utf-8") as fh:
            if ">>>" in fh.read():
                found.append(name)
    return sorted(found)


MODULES = modules_with_examples()


def test_examples_are_found():
    assert len(MODULES) >= 30
    assert {"gmmkit.mixture", "gmmkit_apps.outliers.detector"} <= set(MODULES)


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BAD[n])) if n in KNOWN_BAD else n
    for n in MODULES])
def test_doctests(name, tmp_path, monkeypatch):
    # examples read the repository's datasets/ by relative path, and write into mkdtemp()
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    module = importlib.import_module(name)
    tests = [t for t in doctest.DocTestFinder().find(module) if t.examples]
    assert tests, f"{name} has '>>>' in its source but no docstring example"
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report = []
    for test in sorted(tests, key=lambda t: t.name):
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)
