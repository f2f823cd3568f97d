"""``elmokit serve``: run the embedding service with uvicorn."""

from __future__ import annotations

import os

import click

from elmokit.server.settings import SETTINGS_ENV, ServerSettings


@click.command()
@click.option("--model", default=None, help="Model name or directory (default: bundled model).")
@click.option(
    "--mode",
    type=click.Choice(["exact", "fast", "int8", "reference"]),
    default=None,
    help="Inference mode of elmokit.Elmo (fast: bf16 LSTM, int8 without bf16 units; "
    "int8: int8 LSTM; default: exact).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processes; each loads its own model copy and has its own metrics.",
)
@click.option(
    "--api-key-file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="File holding a bearer key; then /v1/embed and /metrics need it.",
)
@click.option("--max-texts", default=64, show_default=True, type=click.IntRange(1))
@click.option("--max-tokens-per-text", default=512, show_default=True, type=click.IntRange(1))
@click.option("--max-tokens-per-request", default=4096, show_default=True, type=click.IntRange(1))
@click.option("--max-body-bytes", default=1 << 20, show_default=True, type=click.IntRange(1))
@click.option(
    "--timeout",
    "request_timeout_s",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Seconds before a request gets 504.",
)
@click.option("--max-batch-tokens", default=4096, show_default=True, type=click.IntRange(1))
@click.option("--max-batch-requests", default=64, show_default=True, type=click.IntRange(1))
@click.option(
    "--max-wait-ms",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0),
    help="How long a batch waits for companions.",
)
@click.option("--no-batching", is_flag=True, help="One request per forward pass (benchmarks).")
@click.option(
    "--max-queue",
    default=256,
    show_default=True,
    type=click.IntRange(1),
    help="Waiting requests before 503 + Retry-After.",
)
@click.option(
    "--torch-threads",
    default=None,
    type=click.IntRange(1),
    help="torch intra-op threads per worker (default: cores / workers).",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
@click.option("--access-log/--no-access-log", default=False, show_default=True)
def serve(
    model: str | None,
    mode: str | None,
    host: str,
    port: int,
    workers: int,
    api_key_file: str | None,
    no_batching: bool,
    log_level: str,
    access_log: bool,
    torch_threads: int | None,
    **limits: object,
) -> None:
    """Serve ELMo embeddings over HTTP (POST /v1/embed; docs at /docs)."""
    import uvicorn

    if torch_threads is None and workers > 1:
        torch_threads = max(1, (os.cpu_count() or 1) // workers)
    if no_batching:
        limits["max_batch_requests"] = 1
    settings = ServerSettings(
        model=model,
        mode=mode,
        api_key_file=os.path.abspath(api_key_file) if api_key_file else None,
        torch_threads=torch_threads,
        **limits,  # type: ignore[arg-type]
    )
    settings.resolved_api_key()  # fail now, not in every worker, on an unreadable key file
    if host not in ("127.0.0.1", "localhost", "::1") and not api_key_file:
        click.echo(f"warning: listening on {host} without --api-key-file", err=True)
    os.environ[SETTINGS_ENV] = settings.to_env()
    uvicorn.run(
        "elmokit.server.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=access_log,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=10,
    )
