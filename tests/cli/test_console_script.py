"""The installed ``gmmkit`` console script, run as a subprocess (a few tests: startup costs)."""
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

GMMKIT = shutil.which("gmmkit")
pytestmark = pytest.mark.skipif(GMMKIT is None, reason="the gmmkit console script is not installed")

PLUGIN = '''
import typer

def hello(name: str, fail: bool = typer.Option(False, "--fail")):
    """Greet NAME. Example: gmmkit hello World"""
    secret_local_marker = "zz-" + "local" * 3  # its value is not in the source
    if fail:
        from gmmkit.exceptions import DataError
        raise DataError(f"{name}.csv: nothing to greet")
    typer.echo(f"hello {name}")
'''


@pytest.fixture
def third_party(tmp_path):
    """A tiny third-party plugin 'installed' as a distribution found on PYTHONPATH."""
    (tmp_path / "hello_plugin_mod.py").write_text(textwrap.dedent(PLUGIN))
    dist = tmp_path / "hello_gmmkit_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: hello-gmmkit-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[gmmkit.apps]\nhello = hello_plugin_mod:hello\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(tmp_path)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    env.pop("GMMKIT_DEBUG", None)
    return env


def run(args, env=None, cwd=None):
    return subprocess.run([GMMKIT, *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=120)


def test_version():
    from gmmkit import __version__

    proc = run(["--version"])
    assert proc.returncode == 0
    assert proc.stdout == f"gmmkit {__version__}\n"


def test_third_party_plugin_through_the_console_script(third_party, tmp_path):
    ok = run(["-q", "hello", "World"], env=third_party)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "hello World\n"

    err = run(["-q", "hello", "data", "--fail"], env=third_party)
    assert err.returncode == 2
    assert err.stderr == "error: data.csv: nothing to greet\n"

    debug = run(["-q", "--debug", "hello", "data", "--fail"], env=third_party)
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr and "DataError" in debug.stderr
    assert "zz-locallocallocal" not in debug.stderr  # no locals in tracebacks


def test_missing_file_one_line_and_no_half_written_output(tmp_path):
    proc = run(["-q", "fit", str(tmp_path / "absent.csv"), "-k", "2", "-o", str(tmp_path / "m.gmm")])
    assert proc.returncode == 2
    assert proc.stderr == f"error: file not found: {tmp_path / 'absent.csv'}\n"
    assert list(tmp_path.iterdir()) == []


def test_building_the_cli_imports_nothing_heavy():
    """What `gmmkit --help` pays for: the root app plus every installed plugin's CLI module."""
    code = textwrap.dedent("""
        import sys
        import gmmkit.cli
        gmmkit.cli.app
        heavy = ["numpy", "pandas", "scipy", "sklearn", "numba", "librosa", "PIL", "matplotlib"]
        print(" ".join(m for m in heavy if m in sys.modules))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""
