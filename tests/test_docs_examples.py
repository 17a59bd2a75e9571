"""Every ``gmmkit ...`` command the docs show names commands and options that exist (issue 23:
docs/scale.md showed a ``--components`` option that does not exist).

The commands are taken from README.md and docs/*.md: lines of code blocks and inline code spans that
start with ``gmmkit``. Each is resolved through the real click command tree (the apps' plugins
included) and every ``-x``/``--option`` it uses must be one of that command's options. Running them
all is the job of ``docs/run_examples.py``; this test only needs the parser, so it is fast.
"""
from __future__ import annotations

import functools
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
INLINE = re.compile(r"`(gmmkit [^`]+)`")


def _examples():
    found = []
    for page in PAGES:
        in_block = False
        for n, line in enumerate(page.read_text().splitlines(), 1):
            if line.lstrip().startswith("```"):
                in_block = not in_block
                continue
            text = line.strip().removeprefix("$ ")
            if in_block and text.startswith("gmmkit "):
                found.append((page.name, n, text))
            elif not in_block:
                found += [(page.name, n, m) for m in INLINE.findall(line)]
    return found


def _words(text):
    text = re.sub(r"\$\([^)]*\)", "FILES", text)  # shell substitutions stand for arguments
    text = text.split(" #")[0].split("|")[0].split(">")[0].rstrip("\\ ")
    try:
        return shlex.split(text)[1:]
    except ValueError:
        return text.split()[1:]


EXAMPLES = _examples()


def test_the_docs_show_commands():
    assert len(EXAMPLES) > 40


@functools.lru_cache(maxsize=1)
def _root():
    import typer

    from gmmkit.cli import app

    return typer.main.get_command(app)


@pytest.mark.parametrize("page, line, text", EXAMPLES, ids=[f"{p}:{n}" for p, n, _ in EXAMPLES])
def test_documented_command_and_options_exist(page, line, text):
    command = _root()
    words = _words(text)
    path = ["gmmkit"]
    while words and hasattr(command, "get_command") and not words[0].startswith("-"):
        if not re.fullmatch(r"[a-z][a-z0-9-]*", words[0]):
            return  # a placeholder (APP, <cmd>, ...) or prose, not a command
        sub = command.get_command(command.context_class(command), words[0])
        assert sub is not None, f"{page}:{line}: {' '.join(path)} has no command {words[0]!r} in: {text}"
        path.append(words.pop(0))
        command = sub
    known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)} | {"--help", "-h"}
    for word in words:
        if word.startswith("-") and len(word) > 1 and not re.fullmatch(r"-[\d.]+", word):
            option = word.split("=")[0]
            assert option in known, (f"{page}:{line}: '{' '.join(path)}' has no option {option} "
                                     f"(it has {', '.join(sorted(known))}) in: {text}")
