"""Application plugins: discovery through the ``gmmkit.apps`` entry-point group.

An application registers one entry point in the group ``gmmkit.apps``; its name
becomes the command name and its value names either

* a function, mounted as a single command (``gmmkit segment IMAGE``), or
* a :class:`typer.Typer` app, mounted as a group (``gmmkit speech enroll ...``).

gmmkit's own apps register from ``pyproject.toml`` exactly like a third-party
package would::

    [project.entry-points."gmmkit.apps"]
    myapp = "mypackage.cli:app"

Discovery is cached per process (:func:`refresh` forgets it). Loading an entry
point imports only the plugin's CLI module, which should import nothing heavier
than typer at module level. A plugin that fails to import, that is neither a
function nor a Typer app, or whose name is taken (by a built-in command or an
earlier plugin) does not stop the others: it becomes a one-line entry of
:attr:`Registry.problems`, which the CLI prints as a warning.

>>> from importlib.metadata import EntryPoint
>>> reg = discover([EntryPoint("broken", "no_such_module_xyz:app", "gmmkit.apps")])
>>> sorted(reg.plugins), [p.split(": ")[0] for p in reg.problems]
([], ["plugin 'broken' (no_such_module_xyz:app) failed to load"])
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

GROUP = "gmmkit.apps"

__all__ = ["GROUP", "Plugin", "Registry", "discover", "installed_entry_points", "refresh"]


@dataclass(frozen=True)
class Plugin:
    """One loaded application plugin."""

    name: str
    value: str  # "module:attribute", as registered
    distribution: str | None  # the installed package that registered it, if known
    obj: object  # the function or typer.Typer app
    kind: str  # "command" or "group"


@dataclass
class Registry:
    """The result of one discovery: loaded plugins by name, plus one line per problem."""

    plugins: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    failed: dict = field(default_factory=dict)  # name -> problem, for plugins that did not load

    def names(self):
        """Names of the loaded plugins, sorted."""
        return sorted(self.plugins)


def installed_entry_points():
    """The entry points installed in the group ``gmmkit.apps``."""
    from importlib.metadata import entry_points

    return list(entry_points(group=GROUP))


def _dist_name(ep):
    dist = getattr(ep, "dist", None)
    return getattr(dist, "name", None) if dist is not None else None


def _describe(exc):
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _classify(obj):
    """'group' for a typer.Typer, 'command' for a plain function, None otherwise."""
    import inspect

    import typer

    if isinstance(obj, typer.Typer):
        return "group"
    if inspect.isfunction(obj) or inspect.ismethod(obj):
        return "command"
    return None


def _check_builds(name, obj, kind):
    """Build the click command once, so a plugin with bad parameters fails here, alone."""
    import typer
    import typer.main

    if kind == "group":
        typer.main.get_command(obj)
    else:
        probe = typer.Typer()
        probe.command(name)(obj)
        typer.main.get_command(probe)


def discover(entry_points=None, *, reserved=()):
    """Load the application plugins and report the ones that cannot be used.

    Parameters
    ----------
    entry_points : iterable of importlib.metadata.EntryPoint, optional
        The entry points to load; by default those installed in ``gmmkit.apps``
        (cached, see :func:`refresh`). Tests pass fake ones here.
    reserved : iterable of str
        Names taken by built-in commands; a plugin claiming one is reported.

    Returns
    -------
    Registry
        ``plugins`` maps a command name to its :class:`Plugin`; ``problems``
        holds one line per plugin that failed to load or was skipped.

    Examples
    --------
    >>> reg = discover([])
    >>> reg.plugins, reg.problems
    ({}, [])
    """
    if entry_points is None:
        return _discover_installed(tuple(sorted(reserved)))
    return _discover(list(entry_points), set(reserved))


@functools.lru_cache(maxsize=None)
def _discover_installed(reserved):
    return _discover(installed_entry_points(), set(reserved))


def refresh():
    """Forget the cached discovery, e.g. after installing a plugin in this process."""
    _discover_installed.cache_clear()


def _discover(entry_points, reserved):
    reg = Registry()
    seen = {}  # name -> (value, dist) of the first claim
    for ep in entry_points:
        name, value, dist = ep.name, ep.value, _dist_name(ep)
        where = f"{value}" + (f" from {dist}" if dist else "")
        if name in seen:
            if seen[name][0] == value:
                continue  # the same plugin seen twice (e.g. an editable install and its egg-info)
            first_value, first_dist = seen[name]
            first = f"{first_value}" + (f" from {first_dist}" if first_dist else "")
            reg.problems.append(
                f"plugin name {name!r} is claimed twice: {first} and {where}; using the first"
            )
            continue
        seen[name] = (value, dist)
        if name in reserved:
            reg.problems.append(
                f"plugin {name!r} ({where}) skipped: {name!r} is a built-in gmmkit command"
            )
            continue
        if not name or name.startswith("-") or any(c.isspace() for c in name):
            reg.problems.append(f"plugin {name!r} ({where}) skipped: not a valid command name")
            continue
        try:
            obj = ep.load()
        except (Exception, SystemExit) as exc:  # any import-time failure of one plugin stays local
            reg.failed[name] = f"plugin {name!r} ({where}) failed to load: {_describe(exc)}"
            reg.problems.append(reg.failed[name])
            continue
        kind = _classify(obj)
        if kind is None:
            reg.problems.append(
                f"plugin {name!r} ({where}) skipped: it is a {type(obj).__name__}, "
                "expected a function or a typer.Typer app"
            )
            continue
        try:
            _check_builds(name, obj, kind)
        except Exception as exc:
            reg.failed[name] = f"plugin {name!r} ({where}) is unusable: {_describe(exc)}"
            reg.problems.append(reg.failed[name])
            continue
        reg.plugins[name] = Plugin(name, value, dist, obj, kind)
    return reg
