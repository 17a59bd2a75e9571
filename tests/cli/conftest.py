import textwrap

import pytest
from typer.testing import CliRunner

from tests.helpers import IRIS


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def cli():
    """The root app without any installed plugin (the apps may be half-written)."""
    from gmmkit.cli import make_app

    return make_app(entry_points=[])


@pytest.fixture
def iris():
    assert IRIS.exists()
    return str(IRIS)


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    """Write a module into a folder on sys.path; return a factory (name, source) -> name."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(name, source):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        return name

    return make
