"""Registry fetches (``make eval-data``, ``make corpus``) fail with one line when a registry
command hangs, instead of waiting forever with no message."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

from elmokit_corpus import fetch  # noqa: E402


def test_a_hanging_registry_command_times_out(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(fetch, "FETCH_TIMEOUT", 0.5)
    cmd = [sys.executable, "-c", "import time; time.sleep(30)"]  # a registry that never answers
    with pytest.raises(fetch.FetchError) as error:
        fetch._run(cmd, tmp_path)
    message = str(error.value)
    assert "did not finish in 0 s: is the registry reachable?" in message
    assert "\n" not in message and "ELMOKIT_FETCH_TIMEOUT" in message
    assert "time.sleep(30)" in capsys.readouterr().err  # what it was waiting for was shown
    assert fetch._run([sys.executable, "-c", "print('ok')"], tmp_path).stdout == "ok\n"
