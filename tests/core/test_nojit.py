"""The kernel-oracle tests once more with ``NUMBA_DISABLE_JIT=1``: the kernels run as
plain Python, so coverage tools see them and a kernel that only works compiled (or
only as Python) shows up. Small data only (about 10 s)."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# one subprocess (interpreter and imports paid once): the kernel twins and the public
# kernel module's oracles named "small", and the missing-value kernel's textbook twin for
# each kernel family (full, diag) in float64
FILES = ["tests/core/test_kernels.py", "tests/core/test_kernels_public.py", "tests/core/test_missing.py",
         "tests/core/test_hmm.py"]
SELECT = ("small or (pattern_kernel_matches_textbook_em_step and float64 and (full or diag)) "
          "or (twin and not hmm_oracles)")


def test_kernel_oracles_without_jit():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", PYTHONPATH=os.pathsep.join(
        p for p in [str(ROOT), os.environ.get("PYTHONPATH", "")] if p))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *FILES, "-k", SELECT],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    counts = dict((k, int(v)) for v, k in re.findall(r"(\d+) (passed|deselected)", proc.stdout))
    assert counts.get("passed", 0) >= 40 and counts.get("deselected", 0) > 0, proc.stdout[-500:]
