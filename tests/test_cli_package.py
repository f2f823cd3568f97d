"""The ``elmokit.cli`` package: a light ``--help``, every command's help, the command table,
missing-dependency hints, ``serve`` options derived from ``ServerSettings``."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from elmokit.cli import LAZY_COMMANDS, main, missing_dependency_hint
from elmokit.server.settings import SETTINGS_ENV, ServerSettings

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_help_does_not_import_torch() -> None:
    _python(
        "import sys; from click.testing import CliRunner; from elmokit.cli import main; "
        "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0, r.output; "
        "assert 'torch' not in sys.modules, 'elmokit --help imported torch'"
    )


def test_import_elmokit_is_light_and_exports_work() -> None:
    _python(
        "import sys, elmokit; assert elmokit.__version__; "
        "assert 'torch' not in sys.modules, 'import elmokit imported torch'; "
        "from elmokit import Elmo, ElmoLayer, ElmoError, load, tokenize; "
        "assert Elmo.__name__ == 'Elmo' and ElmoLayer.__name__ == 'ElmoLayer'; "
        "assert 'Elmo' in dir(elmokit)"
    )


def _listed_commands() -> list[str]:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    section = result.output.split("Commands:", 1)[1]
    return [line.split()[0] for line in section.splitlines() if line.strip()]


def test_every_listed_command_has_help() -> None:
    listed = _listed_commands()
    assert sorted(listed) == sorted(LAZY_COMMANDS)
    for name in listed:
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert f"Usage: main {name}" in result.output


def test_command_table_targets_are_click_commands() -> None:
    import importlib

    tomllib = pytest.importorskip("tomllib")
    for name, (target, extra) in LAZY_COMMANDS.items():
        module, attr = target.split(":")
        assert module.startswith("elmokit.cli."), name
        assert isinstance(getattr(importlib.import_module(module), attr), click.Command)
        extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
            "optional-dependencies"
        ]
        assert extra is None or extra in extras


def test_python_dash_m() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "elmokit.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0 and "serve" in done.stdout, done.stderr


@pytest.mark.parametrize(
    ("command", "extra"),
    [
        ("embed", None),
        ("train", None),
        ("evaluate", "downstream"),
        ("classify", "downstream"),
        ("plot", "downstream"),
        ("neighbors", "downstream"),
        ("serve", "serve"),
    ],
)
def test_missing_dependency_hint_names_the_extra(command: str, extra: str | None) -> None:
    hint = missing_dependency_hint(command, "somepkg.sub")
    assert "'somepkg'" in hint and command in hint
    if extra:
        assert f"pip install 'elmokit[{extra}]'" in hint
    else:
        assert "elmokit[" not in hint


def test_all_extra_is_the_union_of_the_others() -> None:
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    (all_of,) = extras["all"]
    named = set(all_of.removeprefix("elmokit[").removesuffix("]").split(","))
    # every extra but the heavy optional TensorFlow one (and "all" and "test" themselves)
    assert named == set(extras) - {"all", "test", "tf"}
    hinted = {extra for _, extra in LAZY_COMMANDS.values() if extra}
    assert hinted <= set(extras)


def test_a_missing_dependency_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # "import uvicorn" now fails
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: command 'serve' needs the Python package 'uvicorn', which is not installed: "
        "pip install 'elmokit[serve]'"
    ]


def test_serve_defaults_come_from_the_settings() -> None:
    from elmokit.cli.serve import serve

    fields = {f.name: f.default for f in dataclasses.fields(ServerSettings)}
    options = {p.name: p for p in serve.params}
    for name, default in fields.items():
        if name in options:
            assert options[name].default == default, name
    assert "--max-json-floats" in options["max_json_floats"].opts
    help_text = CliRunner().invoke(main, ["serve", "--help"]).output
    assert "--max-json-floats" in help_text and "2000000" in help_text


def test_serve_hands_the_settings_to_uvicorn(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    uvicorn = pytest.importorskip("uvicorn")
    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    monkeypatch.setenv(SETTINGS_ENV, "")  # restored after the test
    key = tmp_path / "key"
    key.write_text("s3cret\n")
    result = CliRunner().invoke(
        main,
        [
            "serve",
            "--max-json-floats",
            "10",
            "--no-batching",
            "--workers",
            "2",
            "--port",
            "9",
            "--api-key-file",
            str(key),
            "--host",
            "0.0.0.0",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    (call,) = calls
    assert call["app"] == "elmokit.server.app:app_from_env"
    assert (call["port"], call["workers"], call["host"]) == (9, 2, "0.0.0.0")
    settings = ServerSettings.from_env()
    assert settings.max_json_floats == 10 and settings.max_batch_requests == 1
    assert settings.torch_threads is not None and settings.torch_threads >= 1
    assert settings.api_key_file == str(key.absolute()) and settings.resolved_api_key() == "s3cret"
    assert "s3cret" not in json.dumps(call)
    calls.clear()
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 0 and "warning: listening on 0.0.0.0" in result.output


def test_neighbors_is_a_library_call(tiny_elmo) -> None:
    pytest.importorskip("sklearn")
    from elmokit.downstream.neighbors import find_neighbors

    report = find_neighbors("cell", k=2, vocab_size=50, model=tiny_elmo)
    assert report.source == "built-in sense sentences" and report.indexed > 0
    assert len(report.queries) == 3 and all(len(hits) == 2 for _, hits in report.queries)
    assert report.spelling is not None and len(report.spelling) == 2
    assert str(report).count("[cell]") == 6
    empty = find_neighbors("zebra", sentences=["a zebra ran"], vocab_size=0, model=tiny_elmo)
    assert empty.indexed == 0 and "(no occurrences to compare with)" in str(empty)
