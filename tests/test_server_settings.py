"""Server settings, the API key file, and the ``elmokit serve`` command line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from elmokit.errors import ConfigError
from elmokit.server.settings import SETTINGS_ENV, ServerSettings


def test_env_round_trip_never_carries_the_key(tmp_path) -> None:
    settings = ServerSettings(model="allennlp-tiny", mode="fast", max_texts=3, api_key="k3y")
    raw = settings.to_env()
    assert "k3y" not in raw
    back = ServerSettings.from_env({SETTINGS_ENV: raw})
    assert back.max_texts == 3 and back.mode == "fast" and back.api_key is None
    assert ServerSettings.from_env({}) == ServerSettings()


@pytest.mark.parametrize(
    "raw", ["{not json", json.dumps({"unknown": 1}), json.dumps({"max_texts": 0})]
)
def test_bad_env_settings(raw: str) -> None:
    with pytest.raises(ConfigError):
        ServerSettings.from_env({SETTINGS_ENV: raw})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_queue": 0},
        {"request_timeout_s": 0},
        {"max_wait_ms": -1},
        {"torch_threads": 0},
        {"max_padded_tokens": 0},
        {"max_connections": 0},
        {"max_texts": True},
        {"max_batch_tokens": 1.5},
        {"max_body_bytes": "10"},
        {"read_timeout_s": float("nan")},
        {"write_timeout_s": float("inf")},
        {"keep_alive_timeout_s": -1},
        {"request_timeout_s": "30"},
        {"max_wait_ms": float("nan")},
    ],
)
def test_invalid_values(kwargs: dict) -> None:
    with pytest.raises(ConfigError, match=next(iter(kwargs))):
        ServerSettings(**kwargs)


def test_api_key_file(tmp_path) -> None:
    key = tmp_path / "key"
    key.write_text("  abc \n")
    assert ServerSettings(api_key_file=str(key)).resolved_api_key() == "abc"
    key.write_text("\n")
    with pytest.raises(ConfigError, match="empty"):
        ServerSettings(api_key_file=str(key)).resolved_api_key()
    with pytest.raises(ConfigError, match="cannot read"):
        ServerSettings(api_key_file=str(tmp_path / "missing")).resolved_api_key()
    assert ServerSettings().resolved_api_key() is None


def test_cli_help_lists_the_options() -> None:
    pytest.importorskip("uvicorn")
    from elmokit.cli import main

    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--model", "--host", "--port", "--workers", "--api-key-file", "--no-batching"):
        assert option in result.output
    assert "127.0.0.1" in result.output


def test_cli_refuses_an_empty_key_file(tmp_path) -> None:
    pytest.importorskip("uvicorn")
    from elmokit.cli import main

    key = tmp_path / "key"
    key.write_text("")
    result = CliRunner().invoke(main, ["serve", "--api-key-file", str(key)])
    assert result.exit_code == 1 and "empty" in result.output
