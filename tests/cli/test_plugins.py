"""Plugin discovery and mounting, with fake entry points (no installed app is needed)."""
import pytest

from gmmkit import plugins
from gmmkit.cli import make_app
from gmmkit.exceptions import DataError
from tests.helpers import ep

SINGLE = '''
import typer

def shout(word: str, times: int = typer.Option(1, "--times")):
    """Repeat WORD in capitals. Example: gmmkit shout hi --times 2"""
    typer.echo(" ".join([word.upper()] * times))
'''

GROUP = '''
import typer

app = typer.Typer(help="A plugin with subcommands.")

@app.command()
def add(a: int, b: int):
    """Add two numbers."""
    typer.echo(a + b)

@app.command()
def fail(kind: str):
    """Raise a user error (kind=data) or a typer.BadParameter (kind=param)."""
    from gmmkit.exceptions import DataError
    if kind == "data":
        raise DataError("table.csv: column 'x' is not numeric")
    if kind == "param":
        raise typer.BadParameter("must be positive", param_hint="'--level'")
    if kind == "missing":
        open("/no/such/dir/input.txt")
    raise RuntimeError("a real bug")
'''


def test_single_command_plugin_is_mounted_as_a_command(runner, plugin_module):
    mod = plugin_module("fake_single_plugin", SINGLE)
    app = make_app([ep("shout", f"{mod}:shout")])
    result = runner.invoke(app, ["shout", "hi", "--times", "2"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "HI HI\n"
    assert result.stderr == ""
    help_text = runner.invoke(app, ["--help"]).stdout
    assert "shout" in help_text and "Applications" in help_text


def test_typer_app_plugin_is_mounted_as_a_group(runner, plugin_module):
    mod = plugin_module("fake_group_plugin", GROUP)
    app = make_app([ep("calc", f"{mod}:app")])
    result = runner.invoke(app, ["calc", "add", "2", "3"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "5"


@pytest.mark.parametrize("kind, expected", [
    ("data", "error: table.csv: column 'x' is not numeric\n"),
    ("param", "error: Invalid value for '--level': must be positive (see 'gmmkit calc fail --help')\n"),
    ("missing", "error: file not found: /no/such/dir/input.txt\n"),
])
def test_plugin_user_errors_are_one_line_exit_2(runner, plugin_module, kind, expected):
    mod = plugin_module("fake_group_plugin2", GROUP)
    app = make_app([ep("calc", f"{mod}:app")])
    result = runner.invoke(app, ["calc", "fail", kind])
    assert result.exit_code == 2
    assert result.stderr == expected
    assert result.stdout == ""


def test_debug_lets_the_traceback_through(runner, plugin_module):
    mod = plugin_module("fake_group_plugin3", GROUP)
    app = make_app([ep("calc", f"{mod}:app")])
    result = runner.invoke(app, ["--debug", "calc", "fail", "data"])
    assert isinstance(result.exception, DataError)
    assert "error:" not in result.stderr


def test_a_real_bug_is_not_disguised_as_a_user_error(runner, plugin_module):
    mod = plugin_module("fake_group_plugin4", GROUP)
    app = make_app([ep("calc", f"{mod}:app")])
    result = runner.invoke(app, ["calc", "fail", "bug"])
    assert isinstance(result.exception, RuntimeError)
    assert result.exit_code == 1


def test_broken_plugin_is_one_warning_and_others_still_work(runner, plugin_module):
    good = plugin_module("fake_good_plugin", SINGLE)
    bad = plugin_module("fake_bad_plugin", "import not_an_installed_module_qq\n")
    app = make_app([ep("broken", f"{bad}:app"), ep("shout", f"{good}:shout"),
                    ep("ghost", "fake_no_such_module_zz:app")])
    result = runner.invoke(app, ["shout", "ok"])
    assert result.exit_code == 0
    assert result.stdout == "OK\n"
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("warning: plugin 'broken' (fake_bad_plugin:app) failed to load: "
                               "ModuleNotFoundError")
    assert lines[1].startswith("warning: plugin 'ghost'")
    # --quiet silences the warnings, the command still runs
    quiet = runner.invoke(app, ["--quiet", "shout", "ok"])
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_duplicate_reserved_and_wrong_type_are_reported(plugin_module):
    mod = plugin_module("fake_dupe_plugin", SINGLE + "\nNOT_A_COMMAND = 42\n")
    reg = plugins.discover([
        ep("shout", f"{mod}:shout"),
        ep("shout", f"{mod}:shout"),            # the same registration twice: silently merged
        ep("shout", f"{mod}:NOT_A_COMMAND"),    # another claim on the name: reported
        ep("fit", f"{mod}:shout"),              # a built-in command's name
        ep("number", f"{mod}:NOT_A_COMMAND"),   # neither a function nor a Typer app
    ], reserved=("fit", "predict"))
    assert reg.names() == ["shout"]
    assert reg.plugins["shout"].kind == "command"
    assert len(reg.problems) == 3
    assert "claimed twice" in reg.problems[0]
    assert "built-in gmmkit command" in reg.problems[1]
    assert "expected a function or a typer.Typer app" in reg.problems[2]


def test_plugin_whose_command_cannot_be_built_is_isolated(plugin_module):
    mod = plugin_module("fake_badsig_plugin", '''
        def weird(x: "NoSuchType"):
            """Annotation typer cannot handle."""
    ''')
    reg = plugins.discover([ep("weird", f"{mod}:weird")])
    assert reg.plugins == {}
    assert reg.problems and reg.problems[0].startswith("plugin 'weird'")


def test_installed_discovery_is_cached_until_refresh(monkeypatch, plugin_module):
    mod = plugin_module("fake_cached_plugin", SINGLE)
    found = [[ep("shout", f"{mod}:shout")]]
    monkeypatch.setattr(plugins, "installed_entry_points", lambda: list(found[0]))
    plugins.refresh()
    try:
        first = plugins.discover()
        assert first.names() == ["shout"]
        found[0] = []
        assert plugins.discover() is first          # cached
        plugins.refresh()
        assert plugins.discover().names() == []     # re-scanned
    finally:
        plugins.refresh()


def test_gmmkit_apps_entry_points_are_registered():
    names = {e.name for e in plugins.installed_entry_points()}
    assert {"segment", "speech", "finance", "outliers"} <= names


def test_default_app_always_has_the_generic_commands(runner):
    # whatever state the app plugins are in, the root app builds and its help works
    from gmmkit.cli import app

    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ("fit", "predict", "select", "info", "sample"):
        assert name in result.stdout


def test_calling_a_broken_plugin_explains_why(runner, plugin_module):
    bad = plugin_module("fake_exit_plugin", "import sys\nsys.exit('cannot start')\n")
    app = make_app([ep("exiter", f"{bad}:app")])
    result = runner.invoke(app, ["-q", "exiter", "run"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: the 'exiter' app is installed but unusable: plugin "
                                    "'exiter' (fake_exit_plugin:app) failed to load: SystemExit")
    assert len(result.stderr.splitlines()) == 1


def test_apps_option_lists_plugins_and_failures(runner, plugin_module):
    good = plugin_module("fake_list_single", SINGLE)
    grp = plugin_module("fake_list_group", GROUP)
    app = make_app([ep("shout", f"{good}:shout"), ep("calc", f"{grp}:app"),
                    ep("ghost", "fake_no_such_module_yy:app")])
    result = runner.invoke(app, ["-q", "--apps"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["calc", "group", "fake_list_group:app"]
    assert lines[1].split() == ["shout", "command", "fake_list_single:shout"]
    assert lines[2].split()[:3] == ["ghost", "BROKEN", "plugin"]
    assert runner.invoke(make_app([]), ["--apps"]).stdout.startswith("no application plugins")


def test_gmmkit_debug_environment_variable(runner, plugin_module):
    mod = plugin_module("fake_group_plugin5", GROUP)
    app = make_app([ep("calc", f"{mod}:app")])
    result = runner.invoke(app, ["calc", "fail", "data"], env={"GMMKIT_DEBUG": "1"})
    assert isinstance(result.exception, DataError)
    result = runner.invoke(app, ["calc", "fail", "data"], env={"GMMKIT_DEBUG": "0"})
    assert result.exit_code == 2
