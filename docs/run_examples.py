"""Run every ``gmmkit`` command shown in a code block of README.md and docs/*.md.

    python docs/run_examples.py            # every page
    python docs/run_examples.py cli.md     # pages whose name contains 'cli.md'

Each page runs in its own scratch folder (``datasets`` linked in, an empty ``docs/img``), its
commands in the order shown, so ``fit -o m.gmm`` then ``info m.gmm`` work as on a user's machine
and nothing committed is overwritten. A command with a placeholder (``DATA``, ``MODEL``, ``...``)
or an input that only exists on the author's machine is skipped, and said so. The summary lists
each command as ok / FAILED (with its last error line) / skipped; the exit code is the number of
failures. tests/test_docs_examples.py checks, fast and in CI, that every shown option exists.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = re.compile(r"\b[A-Z]{3,}\b|\.\.\.|<|\[|\$|\*|\bhost\b")


def commands(page):
    """(command, shown error line or None) for the ``gmmkit ...`` lines of the page's code blocks
    (continuation lines joined; a pipe or redirection cut off). A command followed by an
    ``error: ...`` line is an example of a refusal: it must exit 2 with that line."""
    out, in_block, pending = [], False, ""
    for line in page.read_text().splitlines():
        if in_block and out and out[-1][1] is None and line.strip().startswith("error:") and not pending:
            out[-1] = (out[-1][0], line.strip())
        if line.lstrip().startswith("```"):
            in_block = not in_block
            continue
        if not in_block:
            continue
        text = pending + line.strip().removeprefix("$ ")
        pending = ""
        if text.endswith("\\"):
            pending = text[:-1] + " "
            continue
        if text.startswith("gmmkit "):
            out.append((re.split(r" #| \| | > ", text)[0].strip(), None))
    return out


def run_page(page, timeout):
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        os.symlink(ROOT / "datasets", Path(tmp) / "datasets")
        (Path(tmp) / "docs" / "img").mkdir(parents=True)
        for text, shown_error in commands(page):
            if PLACEHOLDER.search(text.replace("gmmkit", "")):
                results.append((text, "skipped", "placeholder or shell syntax"))
                continue
            t0 = time.perf_counter()
            try:
                proc = subprocess.run([sys.executable, "-m", "gmmkit", *shlex.split(text)[1:]], cwd=tmp,
                                      capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                results.append((text, "FAILED", f"no result after {timeout} s"))
                continue
            seconds = time.perf_counter() - t0
            if shown_error is not None:
                got = (proc.stderr.strip().splitlines() or ["(nothing)"])[-1]
                same = proc.returncode == 2 and got == shown_error
                results.append((text, "ok" if same else "FAILED",
                                "refused as shown" if same else f"exit {proc.returncode}: {got}"))
            elif proc.returncode == 0:
                results.append((text, "ok", f"{seconds:.1f} s"))
            elif "not found" in proc.stderr and "datasets/" not in proc.stderr:
                results.append((text, "skipped", proc.stderr.strip().splitlines()[-1]))
            else:
                last = (proc.stderr.strip() or proc.stdout.strip() or "?").splitlines()[-1]
                results.append((text, "FAILED", f"exit {proc.returncode}: {last}"))
    return results


def main(argv):
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    if argv:
        pages = [p for p in pages if any(a in p.name for a in argv)]
    failures = 0
    for page in pages:
        for text, status, detail in run_page(page, timeout=900):
            failures += status == "FAILED"
            print(f"{status:8s} {page.name}: {text}  ({detail})", flush=True)
    print(f"{failures} failed")
    return failures


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
