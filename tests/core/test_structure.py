"""The code's shape, as the architecture asks (issue 15): no import cycle inside
gmmkit, small modules, apps on public API only, covariance types answered by the
one table rather than by if/elif ladders."""
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "gmmkit"
APPS = ROOT / "apps"
MAX_LINES = 500


def _modules(package_dir, package):
    mods = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join([package, *parts])] = path
    return mods


def _imports(module, path, mods):
    """Every gmmkit module ``module`` imports, at the top or inside a function."""
    is_pkg = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: len(module.split(".")) - (node.level - 1) - (not is_pkg)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [f"{target}.{a.name}" for a in node.names] + [target]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in mods and "." in name:
                name = name.rsplit(".", 1)[0]
            if name in mods and name != module:
                out.add(name)
    return out


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_in_gmmkit():
    mods = _modules(CORE, "gmmkit")
    graph = {m: _imports(m, p, mods) for m, p in mods.items()}
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_modules_are_small(path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(ROOT)} has {n} lines; split it by job"


def _private_gmmkit_imports(path):
    bad = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "gmmkit":
            parts = node.module.split(".")
            private = [a.name for a in node.names if a.name.startswith("_") and not a.name.endswith("__")]
            if any(p.startswith("_") for p in parts) or private:
                bad.append(f"line {node.lineno}: from {node.module} import "
                           + ", ".join(a.name for a in node.names))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "gmmkit" and any(p.startswith("_") for p in a.name.split(".")):
                    bad.append(f"line {node.lineno}: import {a.name}")
    return bad


@pytest.mark.parametrize("path", sorted(APPS.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_apps_use_public_core_api_only(path):
    assert _private_gmmkit_imports(path) == []


_LADDER = re.compile(r"""(covariance_type|cov_type|kind)\s*(==|in)\s*\(?\s*["'](full|tied|diag|spherical)["']"""
                     r"""|\.family\s*==""")


@pytest.mark.parametrize("path", sorted([*CORE.rglob("*.py"), *APPS.rglob("*.py")]),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_covariance_type_ladders_outside_the_table(path):
    if path == CORE / "_covariance.py":
        return
    hits = [f"line {i}: {line.strip()}" for i, line in enumerate(path.read_text().splitlines(), 1)
            if _LADDER.search(line)]
    assert hits == [], "ask gmmkit.covariance instead"


def test_ladder_pattern_catches_a_ladder():
    assert _LADDER.search('    if gm.covariance_type == "tied":')
    assert _LADDER.search('    if cov_type in ("diag", "spherical"):')
    assert _LADDER.search("    full = entry.family == 'full'")
    assert not _LADDER.search('    entry = covariance_type(gm.covariance_type)')


@pytest.mark.parametrize("folder", sorted({p.parent for p in [*CORE.rglob("*.py"), *APPS.rglob("*.py")]}),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_every_package_folder_has_an_init(folder):
    """setup.py's find_packages skips a folder without __init__.py: an editable install still
    imports it (as a namespace package), but `pip install .` leaves it out (gmmkit._em was)."""
    assert (folder / "__init__.py").exists()
