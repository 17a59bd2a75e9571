"""Run every case of the bad-input matrix (see tests/badinput/kit.py) through the ``gmmkit`` CLI."""
from __future__ import annotations

import hashlib
import importlib
import re
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import IRIS, ROOT

HERE = Path(__file__).parent
NONFINITE = re.compile(r"(?<![A-Za-z_])(nan|-?inf)(?![A-Za-z_])", re.IGNORECASE)


def _all_cases():
    out = []
    for path in sorted(HERE.glob("cases_*.py")):
        module = importlib.import_module(f"tests.badinput.{path.stem}")
        out += [pytest.param(case, id=f"{path.stem[6:]}:{case.id}") for case in module.CASES]
    return out


CASES = _all_cases()


@pytest.fixture(scope="session")
def assets(tmp_path_factory):
    """Shared valid inputs: a model fitted on iris, the iris table, the datasets folder."""
    from gmmkit.cli import app

    folder = tmp_path_factory.mktemp("assets")
    model = folder / "iris.gmm"
    result = CliRunner().invoke(app, ["fit", str(IRIS), "-k", "2", "--seed", "0", "-q", "-o", str(model)])
    assert result.exit_code == 0, result.output
    return {"model": str(model), "iris": str(IRIS), "data": str(ROOT / "datasets")}


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


@pytest.mark.parametrize("case", CASES)
def test_bad_input(case, assets, tmp_path, monkeypatch):
    from gmmkit.cli import app

    for module in case.without:  # as if not installed: importing it raises ImportError
        monkeypatch.setitem(sys.modules, module, None)
    for name, content in case.files.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(target, assets)
        elif isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    kept = {name: _digest(tmp_path / name) for name in case.keep}
    argv = [a.format(tmp=tmp_path, **assets) for a in case.argv]
    result = CliRunner().invoke(app, argv)
    shown = f"gmmkit {' '.join(argv)}\nexit {result.exit_code}\n{result.output}"
    assert "Traceback" not in result.output, shown
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{shown}\nraised {type(result.exception).__name__}: {result.exception}")
    if case.expect == "error":
        assert result.exit_code == 2, shown
        lines = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
        assert len(lines) == 1, shown
        if case.match:
            assert re.search(case.match, lines[0], re.IGNORECASE), shown
    else:
        assert result.exit_code == 0, shown
        assert not NONFINITE.search(result.stdout), shown
    for name, digest in kept.items():
        assert _digest(tmp_path / name) == digest, f"{name} was replaced\n{shown}"
    for name in case.absent:
        assert not (tmp_path / name).exists(), f"{name} was written\n{shown}"
    leftovers = [p.name for p in tmp_path.rglob("*") if ".tmp-" in p.name or p.name.startswith(".tmp")]
    assert not leftovers, f"temporary files left: {leftovers}\n{shown}"
