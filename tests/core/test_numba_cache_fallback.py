"""Kernels still cache (and say where) when Numba's user cache folder cannot be written."""
import os
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
