"""``elmokit serve``: run the embedding service (:func:`elmokit.server.launch.run_server`).

Option defaults come from :class:`~elmokit.server.settings.ServerSettings` (limits, batching)
and from :func:`~elmokit.server.launch.run_server` (host, port, workers, logging), so they are
written once. Nothing heavy is imported until the command runs.
"""

from __future__ import annotations

import dataclasses
import inspect

import click

from elmokit.cli import LazyChoice
from elmokit.server.launch import LOG_LEVELS, run_server
from elmokit.server.settings import ServerSettings

_SETTING = {f.name: f.default for f in dataclasses.fields(ServerSettings)}
_RUN = {name: p.default for name, p in inspect.signature(run_server).parameters.items()}


def _echo_err(msg: str) -> None:
    click.echo(msg, err=True)


def _setting(flag: str, name: str, kind: click.ParamType, text: str | None = None):
    """An option for the :class:`ServerSettings` field ``name``, with its default."""
    return click.option(flag, name, default=_SETTING[name], show_default=True, type=kind, help=text)


@click.command()
@click.option(
    "--model", default=_SETTING["model"], help="Model name or directory (default: bundled model)."
)
@click.option(
    "--mode",
    type=LazyChoice("elmokit.inference:MODES"),
    default=_SETTING["mode"],
    help="Inference mode of elmokit.Elmo (fast: bf16 LSTM, int8 without bf16 units; "
    "int8: int8 LSTM; default: exact).",
)
@click.option("--host", default=_RUN["host"], show_default=True, help="Address to bind.")
@click.option("--port", default=_RUN["port"], show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    default=_RUN["workers"],
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processes; each loads its own model copy and has its own metrics.",
)
@click.option(
    "--api-key-file",
    type=click.Path(exists=True, dir_okay=False),
    default=_SETTING["api_key_file"],
    help="File holding a bearer key; then /v1/embed, /metrics, /openapi.json and "
    "/docs need it, and /readyz shows details only with it.",
)
@_setting("--max-texts", "max_texts", click.IntRange(1), "Texts (sentences) per request.")
@_setting("--max-tokens-per-text", "max_tokens_per_text", click.IntRange(1))
@_setting("--max-tokens-per-request", "max_tokens_per_request", click.IntRange(1))
@_setting("--max-body-bytes", "max_body_bytes", click.IntRange(1), "413 above this.")
@_setting(
    "--max-json-floats",
    "max_json_floats",
    click.IntRange(1),
    "Largest JSON answer in numbers (422 response_too_large above; "
    "application/x-npy answers are not limited).",
)
@_setting(
    "--timeout",
    "request_timeout_s",
    click.FloatRange(0, min_open=True),
    "Seconds before a request gets 504.",
)
@_setting(
    "--max-batch-tokens",
    "max_batch_tokens",
    click.IntRange(1),
    "Real tokens merged into one batch.",
)
@_setting(
    "--max-padded-tokens",
    "max_padded_tokens",
    click.IntRange(1),
    "Padded positions (rows x (longest + 2)) of one forward pass: bounds its memory.",
)
@_setting(
    "--max-batch-requests",
    "max_batch_requests",
    click.IntRange(1),
    "Requests merged into one forward pass.",
)
@_setting(
    "--max-wait-ms", "max_wait_ms", click.FloatRange(0), "How long a batch waits for companions."
)
@click.option("--no-batching", is_flag=True, help="One request per forward pass (benchmarks).")
@_setting(
    "--max-queue", "max_queue", click.IntRange(1), "Waiting requests before 503 + Retry-After."
)
@_setting(
    "--max-connections",
    "max_connections",
    click.IntRange(1),
    "Open connections served; above, requests get 503 and the connection closes.",
)
@_setting(
    "--keep-alive-timeout",
    "keep_alive_timeout_s",
    click.FloatRange(0, min_open=True),
    "Seconds an idle keep-alive connection stays open.",
)
@_setting(
    "--read-timeout",
    "read_timeout_s",
    click.FloatRange(0, min_open=True),
    "Seconds for a request head to arrive (connection closed) and then for its body (408).",
)
@_setting(
    "--write-timeout",
    "write_timeout_s",
    click.FloatRange(0, min_open=True),
    "Seconds a client may leave its answer unread before it is disconnected.",
)
@click.option(
    "--torch-threads",
    default=_SETTING["torch_threads"],
    type=click.IntRange(1),
    help="torch intra-op threads per worker (default: cores / workers).",
)
@click.option(
    "--log-level", default=_RUN["log_level"], show_default=True, type=click.Choice(LOG_LEVELS)
)
@click.option("--access-log/--no-access-log", default=_RUN["access_log"], show_default=True)
def serve(
    host: str,
    port: int,
    workers: int,
    log_level: str,
    access_log: bool,
    no_batching: bool,
    **settings: object,
) -> None:
    """Serve ELMo embeddings over HTTP (POST /v1/embed; docs at /docs)."""
    if no_batching:
        settings["max_batch_requests"] = 1
    run_server(
        ServerSettings(**settings),  # type: ignore[arg-type]
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=access_log,
        log=_echo_err,
    )
