"""The kernel-oracle tests once more with ``NUMBA_DISABLE_JIT=1``: the kernels run as
plain Python, so coverage tools see them and a kernel that only works compiled (or
only as Python) shows up. Small data only (about 20 s)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

NOJIT_TARGETS = [
    ["tests/core/test_kernels.py", "-k", "small"],
    ["tests/core/test_kernels_public.py", "-k", "small"],
    ["tests/core/test_missing.py", "-k", "pattern_kernel_matches_textbook_em_step and float64"],
]


@pytest.mark.parametrize("target", NOJIT_TARGETS, ids=["kernels", "kernels_public", "missing"])
def test_kernel_oracles_without_jit(target):
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", PYTHONPATH=os.pathsep.join(
        p for p in [str(ROOT), os.environ.get("PYTHONPATH", "")] if p))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *target],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and " deselected" in proc.stdout
