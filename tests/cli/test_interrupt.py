"""Ctrl-C during a command prints one line and exits 130 (issue 23: it printed nothing)."""
import subprocess
import sys
import textwrap
from pathlib import Path

IRIS = Path(__file__).resolve().parents[2] / "datasets" / "tables" / "iris.csv"


def test_ctrl_c_prints_interrupted_and_exits_130(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        import gmmkit.selection as sel
        from gmmkit.cli import main

        def interrupted(*args, **kwargs):
            raise KeyboardInterrupt

        sel.select = interrupted  # the command is 'interrupted' while it works
        sys.argv = ["gmmkit", "select", {str(IRIS)!r}, "-k", "1..3"]
        main()
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 130, out.stderr
    assert out.stderr.strip().splitlines()[-1] == "error: interrupted"
    assert "Traceback" not in out.stderr


def test_seed_and_sample_size_out_of_range_are_one_line(tmp_path):
    """(issue 23) `sample --seed -1` and `sample -n 1e10` gave a ValueError / MemoryError traceback."""
    model = tmp_path / "m.gmm"
    run = [sys.executable, "-m", "gmmkit"]
    subprocess.run([*run, "fit", str(IRIS), "-k", "2", "-o", str(model), "-q"], check=True, timeout=300)
    for args in (["--seed", "-1"], ["-n", "10000000000"]):
        out = subprocess.run([*run, "sample", str(model), *args], capture_output=True, text=True, timeout=300)
        assert out.returncode == 2, out.stderr
        assert out.stderr.startswith("error: Invalid value") and "Traceback" not in out.stderr
