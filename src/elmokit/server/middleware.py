"""ASGI middleware: the request-body guard (size and time) and the request metrics."""

from __future__ import annotations

import asyncio
import time

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from elmokit.server.errors import ApiError, ClientGone, error_response
from elmokit.server.metrics import Metrics


class BodyGuardMiddleware:
    """Bounds what reading a request body can cost: 413 above ``max_bytes`` (by Content-Length
    up front, else while streaming) and 408 when the body has not fully arrived ``timeout_s``
    seconds after the request head (a slow or stalled client). Both close the connection, as
    the rest of the body is never read."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float) -> None:
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            try:
                too_large = int(length) > self.max_bytes
            except ValueError:
                refusal = self._refuse(400, "bad_request", "invalid Content-Length")
                await self._answer(refusal, scope, receive, send)
                return
            if too_large:
                refusal = self._refuse(413, "payload_too_large", self._too_large)
                await self._answer(refusal, scope, receive, send)
                return
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        received, complete = 0, False

        async def guarded_receive() -> Message:
            nonlocal received, complete
            if complete:  # after the body: only http.disconnect is left to wait for
                return await receive()
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                message = await asyncio.wait_for(receive(), max(remaining, 0.0))
            except asyncio.TimeoutError:  # noqa: UP041 (not TimeoutError before Python 3.11)
                raise self._refuse(
                    408, "request_timeout",
                    f"the request body did not arrive within {self.timeout_s:g} s",
                ) from None  # fmt: skip
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._refuse(413, "payload_too_large", self._too_large)
                complete = not message.get("more_body", False)
            return message

        await self.app(scope, guarded_receive, send)

    @property
    def _too_large(self) -> str:
        return f"request body is larger than {self.max_bytes} bytes"

    @staticmethod
    def _refuse(status: int, code: str, message: str) -> ApiError:
        return ApiError(status, code, message, headers={"Connection": "close"})

    @staticmethod
    async def _answer(refusal: ApiError, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(refusal.status, refusal.code, refusal.message,
                                  headers=refusal.headers)  # fmt: skip
        await response(scope, receive, send)


class MetricsMiddleware:
    """Counts every request and its latency by method, path and status. A client that hung up
    (:class:`ClientGone`, Starlette's ``ClientDisconnect``) is counted as status 499 and in
    ``elmokit_client_disconnects_total``; it is not a server error, so nothing is logged."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except (ClientGone, ClientDisconnect) as exc:
            stage = exc.stage if isinstance(exc, ClientGone) else "body"
            self.metrics.observe_disconnect(
                scope["method"], scope["path"], stage, time.perf_counter() - started
            )
            return
        except asyncio.CancelledError:
            # uvicorn cancels a request's task when its connection is gone (the client closed
            # it, or the protocol's read/write timeout did): not a server error
            if status == 500:  # no answer started
                self.metrics.observe_disconnect(
                    scope["method"], scope["path"], "cancelled", time.perf_counter() - started
                )
            raise
        except BaseException:
            self.metrics.observe_request(
                scope["method"], scope["path"], status, time.perf_counter() - started
            )
            raise
        self.metrics.observe_request(
            scope["method"], scope["path"], status, time.perf_counter() - started
        )
