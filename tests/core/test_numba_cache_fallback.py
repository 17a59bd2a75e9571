"""Kernels still cache (and say where) when Numba's user cache folder cannot be written."""
import os
import shutil
import subprocess
import sys
import textwrap


def test_unwritable_cache_folder_falls_back_to_a_temp_folder(tmp_path):
    (tmp_path / "mykern.py").write_text(textwrap.dedent("""
        from gmmkit.kernels import register_kernel_module
        register_kernel_module(__file__)
        from numba import njit

        @njit(cache=True)
        def twice(x):
            return 2 * x
    """))
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(XDG_CACHE_HOME="/dev/null/not-a-folder", TMPDIR=str(tmp_path / "tmp"), PYTHONPATH=str(tmp_path))
    (tmp_path / "tmp").mkdir()
    out = subprocess.run([sys.executable, "-c", "import mykern; print(mykern.twice(21))"], env=env,
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "42"
    assert "not writable" in out.stderr and str(tmp_path / "tmp") in out.stderr
    cached = [n for _, _, files in os.walk(tmp_path / "tmp") for n in files if n.startswith("mykern.twice")]
    assert cached, "nothing was cached in the temp folder"


def test_app_kernel_is_recompiled_when_a_core_function_it_calls_changes(tmp_path):
    # Numba checks a cache entry against its own file only; an app kernel inlines the core
    # function it calls, so its stamp must follow the core kernels (here: an edited copy).
    import gmmkit

    shutil.copytree(os.path.dirname(gmmkit.__file__), tmp_path / "gmmkit",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "appk.py").write_text(textwrap.dedent("""
        import numpy as np
        from gmmkit.kernels import diag_logp, register_kernel_module
        register_kernel_module(__file__)
        from numba import njit

        @njit(cache=True)
        def half_square(x):
            return diag_logp(x, np.zeros(1), np.ones(1), 0.0)
    """))
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(tmp_path))
    code = "import appk, gmmkit, numpy as np; print(gmmkit.__file__); print(appk.half_square(np.ones(1)))"

    def run():
        out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        where, value = out.stdout.split()
        assert where.startswith(str(tmp_path)), where
        return float(value)

    assert run() == -0.5
    density = tmp_path / "gmmkit" / "_kernels" / "density.py"
    text = density.read_text()
    assert "return logc - 0.5 * s\n" in text
    density.write_text(text.replace("return logc - 0.5 * s\n", "return logc - 0.25 * s\n"))
    assert run() == -0.25
