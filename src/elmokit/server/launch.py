"""Run the embedding service with uvicorn: what ``elmokit serve`` does after parsing.

>>> from elmokit.server import ServerSettings
>>> from elmokit.server.launch import run_server
>>> run_server(ServerSettings(model="allennlp-tiny"), port=8080, workers=2)   # blocks

Imports uvicorn only when called (``pip install 'elmokit[serve]'``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

from elmokit.errors import ConfigError
from elmokit.server.settings import SETTINGS_ENV, ServerSettings

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def worker_settings(settings: ServerSettings, workers: int = 1) -> ServerSettings:
    """``settings`` as each uvicorn worker process gets them: ``api_key_file`` absolute,
    ``torch_threads`` cores / ``workers`` when unset and ``workers > 1``; the key file is read
    once here, so an unreadable or empty one fails now instead of in every worker."""
    if settings.api_key and not settings.api_key_file:
        raise ConfigError(
            "workers get their settings through the environment, which never "
            "carries api_key: give api_key_file instead"
        )
    threads = settings.torch_threads
    if threads is None and workers > 1:
        threads = max(1, (os.cpu_count() or 1) // workers)
    key_file = os.path.abspath(settings.api_key_file) if settings.api_key_file else None
    settings = dataclasses.replace(settings, api_key_file=key_file, torch_threads=threads)
    settings.resolved_api_key()
    return settings


def uvicorn_options(settings: ServerSettings) -> dict[str, object]:
    """The uvicorn settings that bound connections: the protocol with request-head and write
    timeouts (it reads them from :data:`SETTINGS_ENV`), the keep-alive timeout, the connection
    limit (uvicorn counts the connection being refused too: +1 serves ``max_connections``)."""
    return {
        "http": "elmokit.server.protocol:GuardedHttpToolsProtocol",
        "timeout_keep_alive": settings.keep_alive_timeout_s,
        "limit_concurrency": settings.max_connections + 1,
        "timeout_graceful_shutdown": 10,
    }


def run_server(
    settings: ServerSettings,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    log_level: str = "info",
    access_log: bool = False,
    log: Callable[[str], None] | None = None,
) -> None:
    """Serve ``settings`` over HTTP until interrupted: ``workers`` uvicorn processes, each
    loading its own model copy, with the connection limit and timeouts of ``settings``
    (:mod:`elmokit.server.protocol`). ``log`` gets a warning when ``host`` is not a local
    address and no API key is set."""
    import uvicorn

    try:
        import httptools  # noqa: F401  (the parser GuardedHttpToolsProtocol builds on)
    except ImportError:
        raise ConfigError("elmokit serve needs the Python package 'httptools': "
                          "pip install 'elmokit[serve]'") from None  # fmt: skip
    settings = worker_settings(settings, workers)
    if host not in LOCAL_HOSTS and not settings.api_key_file and log is not None:
        log(f"warning: listening on {host} without --api-key-file")
    os.environ[SETTINGS_ENV] = settings.to_env()
    uvicorn.run(
        "elmokit.server.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=access_log,
        **uvicorn_options(settings),
    )
