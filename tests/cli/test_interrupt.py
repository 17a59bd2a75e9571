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


def test_sigterm_while_writing_leaves_no_temporary_file(tmp_path):
    """(issue 23) SIGTERM during a write left a ``.tmp-*`` file in the output folder."""
    out = tmp_path / "out"
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import os, signal, sys, time
        import gmmkit.io as io
        from gmmkit.cli import main

        real = io.save_arrays

        def slow_save(path, arrays, meta=None, **kw):
            with io.atomic_path(path) as tmp:
                open(tmp, "wb").write(b"half")
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(30)

        io.save_arrays = slow_save
        import gmmkit._model_file as mf
        mf.save_arrays = slow_save
        sys.argv = ["gmmkit", "fit", {str(IRIS)!r}, "-k", "2", "--seed", "0", "-o", {str(out / "m.gmm")!r}]
        main()
    """))
    out.mkdir()
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 143, res.stderr
    assert res.stderr.strip().splitlines()[-1] == "error: terminated"
    assert list(out.iterdir()) == []
