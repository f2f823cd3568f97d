"""uvicorn's HTTP protocol (httptools) with the two connection timeouts uvicorn lacks.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) but waits forever for a
request head that never completes (a connection opened and left silent, or headers sent a
byte at a time) and for a client that never reads its answer. Each held connection costs a
file descriptor and its buffers, so a few hundred such clients could exhaust the server.
:class:`GuardedHttpToolsProtocol` closes the connection when

- the request head has not fully arrived ``read_timeout_s`` after the connection opened or
  after the previous answer was sent (the body is bounded by
  :class:`~elmokit.server.middleware.BodyGuardMiddleware`, which answers 408);
- the client has not read its answer for ``write_timeout_s`` (the socket's send buffer
  stayed full).

The timeouts come from :class:`~elmokit.server.settings.ServerSettings` in the environment
(:data:`~elmokit.server.settings.SETTINGS_ENV`), as the app of each worker gets them;
:func:`elmokit.server.launch.run_server` names this class as uvicorn's ``http`` protocol.
"""

from __future__ import annotations

import asyncio
import functools
import os
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from elmokit.server.settings import SETTINGS_ENV, ServerSettings


@functools.lru_cache(maxsize=4)
def _settings(raw: str | None) -> ServerSettings:
    return ServerSettings.from_env({SETTINGS_ENV: raw} if raw else {})


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` plus a request-head timeout and a write timeout."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = _settings(os.environ.get(SETTINGS_ENV))
        self.read_timeout_s = settings.read_timeout_s
        self.write_timeout_s = settings.write_timeout_s
        self._head_timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ request head
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_timer()  # the next request head, if any, has read_timeout_s

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.read_timeout_s, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.cycle is None or self.cycle.response_complete:  # no request is being served
            self.transport.close()

    # ------------------------------------------------------------------ answer
    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(self.write_timeout_s, self._write_timed_out)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _write_timed_out(self) -> None:
        self._write_timer = None
        self.transport.abort()  # the buffered answer is dropped with the connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None
        super().connection_lost(exc)
