"""The public CLI kit (gmmkit.cli.kit): JSON, lines, output checks, progress, tables."""
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from gmmkit.cli import kit
from gmmkit.exceptions import OutputExistsError, ParameterError


def test_json_is_always_valid_nan_and_inf_become_null(capsys):
    kit.print_json({"nan": float("nan"), "inf": np.float32("inf"), "arr": np.array([1.0, np.nan]),
                    "int": np.int64(3), "path": Path("a/b"), "tuple": (1, -math.inf), 7: True})
    out = capsys.readouterr().out
    doc = json.loads(out)  # strict parsers too: no NaN/Infinity tokens
    assert "NaN" not in out and "Infinity" not in out
    assert doc == {"nan": None, "inf": None, "arr": [1.0, None], "int": 3, "path": "a/b",
                   "tuple": [1, None], "7": True}


def test_jsonable_dates_frames_and_unknown_objects():
    import pandas as pd

    frame = pd.DataFrame({"a": [1.0, np.nan]})
    doc = kit.jsonable({"when": pd.Timestamp("2020-01-02"), "frame": frame, "series": frame["a"],
                        "other": object})
    assert doc["when"].startswith("2020-01-02") and doc["frame"] == [{"a": 1.0}, {"a": None}]
    assert doc["series"] == {"0": 1.0, "1": None} and isinstance(doc["other"], str)


def test_note_warn_error_lines_and_quiet(capsys):
    kit.note("hello")
    kit.note("note: once")
    kit.note("hidden", quiet=True)
    kit.warn("careful")
    kit.error_line("bad file")
    kit.echo("result")
    kit.echo("hidden", quiet=True)
    out, err = capsys.readouterr()
    assert err == "note: hello\nnote: once\nwarning: careful\nerror: bad file\n"
    assert out == "result\n"


def test_root_quiet_silences_notes(capsys):
    from gmmkit.cli._errors import STATE

    STATE.quiet = True
    try:
        kit.note("hidden")
        assert kit.is_quiet() and kit.Progress().enabled is False
    finally:
        STATE.reset()
    assert capsys.readouterr().err == ""


def test_check_output(tmp_path):
    f = tmp_path / "a.csv"
    kit.check_output(None, False)
    kit.check_output(f, False)
    f.write_text("x")
    with pytest.raises(OutputExistsError, match="pass --force"):
        kit.check_output(f, False)
    kit.check_output(f, True)
    with pytest.raises(OutputExistsError, match="is a folder"):
        kit.check_output(tmp_path, True)
    with pytest.raises(OutputExistsError, match="not a folder"):
        kit.check_output(f, True, folder=True)
    with pytest.raises(ParameterError, match="same file"):
        kit.check_outputs(tmp_path / "x", tmp_path / "." / "x", force=True)


def test_text_table_and_fmt():
    text = kit.text_table([{"m": "gmm", "v": 0.01234, "n": None}, {"m": "normal", "v": 0.5, "n": 3}],
                          ["m", "v", "n"], {"v": "{:.2%}"})
    assert text.splitlines() == ["     m       v  n",
                                 "------  ------  -",
                                 "   gmm   1.23%  -",
                                 "normal  50.00%  3"]
    assert kit.fmt(1e-5) == "1.000e-05" and kit.fmt(float("inf")) == "inf"


def terminal():
    buf = io.StringIO()
    return buf, Console(file=buf, force_terminal=True, width=100)


def test_progress_tasks_on_a_terminal_and_nothing_elsewhere():
    buf, console = terminal()
    with kit.Progress(console=console) as p:
        step = p.task("reading data.csv", total=10)
        step(5)
        step.advance()
        p.print("a line above the bar")
    text = buf.getvalue()
    assert "reading data.csv" in text and "a line above the bar" in text
    plain = io.StringIO()
    with kit.Progress(console=Console(file=plain)) as p:
        assert p.task("reading") is None
    assert plain.getvalue() == ""
    with kit.Progress(enabled=False, console=console) as p:
        assert p.task("x") is None


def test_progress_delay_defers_drawing_until_needed():
    buf, console = terminal()
    with kit.Progress(console=console, delay=60.0) as p:
        step = p.task("slow", total=3)
        step(1)
    assert step is not None and buf.getvalue() == ""


def test_spinner_is_one_progress_line():
    buf, console = terminal()
    with kit.Spinner("fitting 4 candidate models", console=console):
        pass
    assert "fitting 4 candidate models" in buf.getvalue()


def test_kit_imports_nothing_heavy():
    code = ("import sys, gmmkit.cli.kit; "
            "print(sorted(m for m in ('numpy', 'pandas', 'rich', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_require_matplotlib_names_the_option(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ParameterError, match="--plot needs matplotlib"):
        kit.require_matplotlib("--plot")


def test_fit_weighted_criteria_are_the_estimators(cli, runner, tmp_path):
    """gmmkit fit --weights reports est.bic/aic(X, sample_weight=w): the criteria of the rows
    repeated w times."""
    from gmmkit import load

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(-2, 1, (80, 2)), rng.normal(3, 1, (80, 2))])
    w = rng.integers(1, 4, size=len(X))
    import pandas as pd

    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "w": w}).to_csv(tmp_path / "d.csv", index=False)
    res = runner.invoke(cli, ["fit", str(tmp_path / "d.csv"), "-k", "2", "--weights", "w", "--seed", "0",
                              "-o", str(tmp_path / "m.gmm"), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    est = load(tmp_path / "m.gmm")
    assert doc["columns"] == ["a", "b"]
    assert doc["bic"] == pytest.approx(est.bic(X, sample_weight=w), rel=1e-12)
    assert doc["aic"] == pytest.approx(est.aic(X, sample_weight=w), rel=1e-12)
    repeated = np.repeat(X, w, axis=0)
    assert doc["bic"] == pytest.approx(est.bic(repeated), rel=1e-9)
    assert doc["aic"] == pytest.approx(est.aic(repeated), rel=1e-9)
