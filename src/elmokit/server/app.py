"""The FastAPI app factory: routes, limits, auth, errors. Thin edge over :class:`elmokit.Elmo`.

``create_app(settings)`` returns an ASGI app whose lifespan loads the model once, warms it up,
and starts the :class:`~elmokit.server.batching.MicroBatcher`. Endpoints:

- ``POST /v1/embed`` tokens or raw texts -> JSON float lists, or ``Accept: application/x-npy``
  for one little-endian float32 ``.npy`` array (see :func:`npy_response`);
- ``GET /healthz`` (liveness), ``GET /readyz`` (model loaded), ``GET /metrics`` (Prometheus),
  ``/docs`` and ``/openapi.json``.

Every error is ``{"error": {"code", "message", "details"?}}`` with a 4xx/5xx status.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import io
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import numpy as np
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from elmokit import __version__
from elmokit.embedder import Elmo
from elmokit.layers import combine_layers, pool_tokens, select_output
from elmokit.server.batching import (
    MicroBatcher,
    NotRunningError,
    QueueFullError,
    RequestTimeoutError,
)
from elmokit.server.metrics import Metrics
from elmokit.server.schemas import EmbedRequest, EmbedResponse, ErrorResponse
from elmokit.server.settings import ServerSettings
from elmokit.tokenize import split_text

NPY_MEDIA_TYPE = "application/x-npy"
#: Above this many characters, tokenizing / formatting moves off the event loop.
_OFFLOOP_CHARS = 20_000
_OFFLOOP_FLOATS = 200_000
#: Module level: FastAPI resolves the (string) annotations of dependencies in module globals.
_BEARER = HTTPBearer(auto_error=False, description="Needed only when the server has a key.")


class ApiError(Exception):
    """An error answer: HTTP status, stable code, message, optional details and headers."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details, self.headers = details, headers


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The one JSON error shape of the service."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


_STATUS_CODES = {
    400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
    406: "not_acceptable", 413: "payload_too_large", 415: "unsupported_media_type",
    422: "invalid_request", 500: "internal_error", 503: "unavailable", 504: "timeout",
}  # fmt: skip


def _clean_errors(errors: list[Any]) -> list[dict[str, Any]]:
    """Pydantic error dicts -> JSON-safe {loc, msg, type} (never echoes the input back)."""
    out = []
    for err in errors:
        loc = [p if isinstance(p, (str, int)) else str(p) for p in err.get("loc", ())]
        out.append({"loc": loc, "msg": str(err.get("msg", "")), "type": str(err.get("type"))})
    return out


# ---------------------------------------------------------------------- middleware
class BodyLimitMiddleware:
    """413 for bodies over ``max_bytes``: by Content-Length up front, else while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            try:
                too_large = int(length) > self.max_bytes
            except ValueError:
                await error_response(400, "bad_request", "invalid Content-Length")(
                    scope, receive, send
                )
                return
            if too_large:
                await self._refuse(scope, receive, send)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise ApiError(413, "payload_too_large", self._message())
            return message

        await self.app(scope, limited_receive, send)

    def _message(self) -> str:
        return f"request body is larger than {self.max_bytes} bytes"

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, "payload_too_large", self._message())
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


class MetricsMiddleware:
    """Counts every answered request and its latency by method, path and status."""

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
        finally:
            self.metrics.observe_request(
                scope["method"], scope["path"], status, time.perf_counter() - started
            )


# ---------------------------------------------------------------------- formatting
def format_one(layers: np.ndarray, output: str, weights: list[float] | None) -> np.ndarray:
    """One sentence's (L, n, D) layers -> the array the ``output`` option asks for.

    "all" / "top" / "average": :func:`elmokit.layers.select_output`; "mix": (n, D) the layers
    mixed by ``weights`` as given, ``sum_k weights[k] * layer_k`` (no softmax; equal weights
    when None); "sentence": (D,) the token mean of the layer average.

    >>> format_one(np.ones((3, 4, 8), np.float32), "mix", [0.2, 0.3, 0.5]).shape
    (4, 8)
    """
    if output == "mix":
        return combine_layers(layers, "average" if weights is None else weights)
    if output == "sentence":
        return pool_tokens(combine_layers(layers, "average"), "mean")  # (L, n, D) -> (D,)
    return select_output(layers, output)


def npy_response(arrays: list[np.ndarray], output: str, headers: dict[str, str]) -> Response:
    """One float32 ``.npy``: "sentence" -> (B, D); "all" -> (L, N, D); else (N, D), where N
    is the total token count and ``X-Elmo-Lengths`` (comma-separated) splits it by sentence."""
    if output == "sentence":
        array = np.stack(arrays)
    else:
        array = np.concatenate(arrays, axis=1 if output == "all" else 0)
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array, dtype="<f4"), allow_pickle=False)
    return Response(buffer.getvalue(), media_type=NPY_MEDIA_TYPE, headers=headers)


def json_body(payload: dict[str, Any], arrays: list[np.ndarray]) -> bytes:
    """The JSON answer, encoded directly (no per-float pydantic pass)."""
    payload["embeddings"] = [a.tolist() for a in arrays]
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()


def wants_npy(request: Request) -> bool:
    """True when the Accept header asks for ``application/x-npy`` (over JSON)."""
    accept = request.headers.get("accept", "")
    return NPY_MEDIA_TYPE in accept.lower()


# ---------------------------------------------------------------------- app
def _request_body_spec() -> dict[str, Any]:
    schema = EmbedRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    }


_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": desc}
    for code, desc in {
        400: "Malformed JSON or non-UTF-8 body",
        401: "Missing or wrong bearer API key",
        413: "Body larger than the limit",
        415: "Body is not application/json",
        422: "Wrong types, empty input, control characters, or over a texts/tokens limit",
        503: "Queue full (Retry-After) or model not ready",
        504: "Not answered within the request timeout",
    }.items()
}


def create_app(settings: ServerSettings | None = None, *, elmo: Elmo | None = None) -> FastAPI:
    """The ASGI app. ``elmo`` (tests) skips loading ``settings.model`` in the lifespan."""
    settings = settings or ServerSettings()
    api_key = settings.resolved_api_key()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.torch_threads:
            import torch

            torch.set_num_threads(settings.torch_threads)
        if elmo is not None:
            model = elmo
        else:
            options = {"mode": settings.mode} if settings.mode else {}
            model = await asyncio.to_thread(Elmo.load, settings.model, **options)
        await asyncio.to_thread(model.embed_batch, [["warm", "up", "."]])
        batcher = MicroBatcher(
            model.embed_batch,
            max_batch_tokens=settings.max_batch_tokens,
            max_batch_requests=settings.max_batch_requests,
            max_wait_ms=settings.max_wait_ms,
            max_queue=settings.max_queue,
            metrics=metrics,
        )
        await batcher.start()
        app.state.elmo, app.state.batcher = model, batcher
        # Move everything alive after start-up (torch, the model, FastAPI) out of the cyclic
        # GC's reach: full collections then scan only per-request garbage. On the load test
        # this cut the p99 latency at 32 clients from ~150-260 ms to ~90-110 ms.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            app.state.batcher = None
            await batcher.stop()
            gc.unfreeze()

    app = FastAPI(
        title="elmokit",
        version=__version__,
        summary="ELMo contextual word embeddings over HTTP, with dynamic micro-batching.",
        lifespan=lifespan,
    )
    app.state.settings, app.state.metrics = settings, metrics
    app.state.elmo, app.state.batcher = None, None
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # outermost: sees 413s too

    # ------------------------------------------------------------------ errors
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(
            422, "invalid_request", "request validation failed", _clean_errors(exc.errors())
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return error_response(500, "internal_error", f"internal error ({type(exc).__name__})")

    # ------------------------------------------------------------------ auth
    async def require_key(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    ) -> None:
        if api_key is None:
            return
        given = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(given.encode(), api_key.encode()):
            raise ApiError(
                401, "unauthorized", "a valid 'Authorization: Bearer <key>' header is required",
                headers={"WWW-Authenticate": "Bearer"},
            )  # fmt: skip

    # ------------------------------------------------------------------ routes
    @app.get("/healthz", tags=["ops"], summary="Liveness: the process answers.")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz", tags=["ops"], summary="Readiness: the model is loaded and batching.",
        responses={503: {"model": ErrorResponse, "description": "Not ready"}},
    )  # fmt: skip
    async def readyz(request: Request) -> Any:
        batcher: MicroBatcher | None = request.app.state.batcher
        model: Elmo | None = request.app.state.elmo
        if batcher is None or model is None or not batcher.running:
            return error_response(503, "unavailable", "the model is not ready",
                                  headers={"Retry-After": str(settings.retry_after_s)})  # fmt: skip
        return {"status": "ready", "model": model.name, "dim": model.dim,
                "num_layers": model.num_layers, "queue_depth": batcher.depth}  # fmt: skip

    @app.get(
        "/metrics", tags=["ops"], summary="Prometheus metrics.", dependencies=[Depends(require_key)],
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}, 401: _ERROR_RESPONSES[401]},
    )  # fmt: skip
    async def prometheus_metrics() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    @app.post(
        "/v1/embed",
        tags=["embed"],
        summary="Embed sentences (raw texts or tokens).",
        dependencies=[Depends(require_key)],
        response_model=EmbedResponse,
        responses={
            200: {"content": {NPY_MEDIA_TYPE: {}}, "description": "JSON, or .npy if accepted"},
            **_ERROR_RESPONSES,
        },
        openapi_extra=_request_body_spec(),
    )
    async def embed(request: Request) -> Response:
        batcher: MicroBatcher | None = request.app.state.batcher
        model: Elmo | None = request.app.state.elmo
        if batcher is None or model is None:
            raise ApiError(503, "unavailable", "the model is not ready",
                           headers={"Retry-After": str(settings.retry_after_s)})  # fmt: skip
        with batcher.incoming():  # a forming batch may wait for this request
            req = await _parse(request)
            if req.weights is not None and len(req.weights) != model.num_layers:
                raise ApiError(422, "invalid_request",
                               f"'weights' needs {model.num_layers} values (one per layer), "
                               f"got {len(req.weights)}")  # fmt: skip
            sentences = await _sentences(req)
            npy = wants_npy(request)
            if not npy:
                _check_json_size(req.output, sentences, model)
        # No await between leaving `incoming` and the enqueue inside `submit`.
        try:
            layers = await batcher.submit(sentences, timeout=settings.request_timeout_s)
        except QueueFullError as exc:
            raise ApiError(
                503,
                "overloaded",
                f"server busy: {exc}; retry later",
                headers={"Retry-After": str(settings.retry_after_s)},
            ) from None
        except NotRunningError as exc:
            raise ApiError(
                503, "unavailable", str(exc), headers={"Retry-After": str(settings.retry_after_s)}
            ) from None
        except RequestTimeoutError as exc:
            raise ApiError(504, "timeout", str(exc)) from None  # fmt: skip
        arrays = [format_one(a, req.output, req.weights) for a in layers]
        num_tokens = sum(len(s) for s in sentences)
        if npy:
            headers = {"X-Elmo-Lengths": ",".join(str(len(s)) for s in sentences),
                       "X-Elmo-Model": str(model.name), "X-Elmo-Output": req.output}  # fmt: skip
            return npy_response(arrays, req.output, headers)
        payload = {"model": str(model.name), "dim": model.dim, "output": req.output,
                   "num_tokens": num_tokens, "tokens": sentences}  # fmt: skip
        floats = sum(a.size for a in arrays)
        if floats > _OFFLOOP_FLOATS:
            content = await asyncio.to_thread(json_body, payload, arrays)
        else:
            content = json_body(payload, arrays)
        return Response(content, media_type="application/json")

    async def _parse(request: Request) -> EmbedRequest:
        content_type = request.headers.get("content-type", "application/json").lower()
        media = content_type.split(";")[0].strip()
        if media != "application/json" and not media.endswith("+json"):
            raise ApiError(415, "unsupported_media_type", "the body must be application/json")
        raw = await request.body()
        if not raw.strip():
            raise ApiError(400, "bad_request", "the request body is empty")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ApiError(
                400, "invalid_encoding", f"the body is not valid UTF-8 (byte {exc.start})"
            ) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ApiError(400, "malformed_json",
                           f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
                           ) from None  # fmt: skip
        except RecursionError:
            raise ApiError(400, "malformed_json", "JSON nested too deeply") from None
        if not isinstance(data, dict):
            raise ApiError(422, "invalid_request", "the body must be a JSON object")
        try:
            return EmbedRequest.model_validate(data)
        except ValidationError as exc:
            raise ApiError(422, "invalid_request", "request validation failed",
                           _clean_errors(exc.errors())) from None  # fmt: skip

    def _check_json_size(output: str, sentences: list[list[str]], model: Elmo) -> None:
        tokens = sum(len(s) for s in sentences)
        floats = model.dim * (len(sentences) if output == "sentence" else tokens)
        floats *= model.num_layers if output == "all" else 1
        if floats > settings.max_json_floats:
            raise ApiError(422, "response_too_large",
                           f"the JSON answer would hold {floats} numbers (at most "
                           f"{settings.max_json_floats}); ask for 'Accept: {NPY_MEDIA_TYPE}', "
                           "a smaller output, or fewer tokens")  # fmt: skip

    async def _sentences(req: EmbedRequest) -> list[list[str]]:
        items: list[str] | list[list[str]] = req.texts if req.texts is not None else req.tokens
        if len(items) > settings.max_texts:
            raise ApiError(
                422,
                "too_many_texts",
                f"{len(items)} texts given; at most {settings.max_texts} per request",
            )
        if req.texts is not None:
            chars = sum(len(t) for t in req.texts)
            if chars > _OFFLOOP_CHARS:
                sentences = await asyncio.to_thread(
                    lambda: [split_text(t, req.tokenize) for t in req.texts])
            else:
                sentences = [split_text(t, req.tokenize) for t in req.texts]
        else:
            sentences = [list(s) for s in req.tokens]
        total = 0
        for i, sentence in enumerate(sentences):
            if not sentence:
                raise ApiError(422, "empty_text", f"text {i} has no tokens")
            if len(sentence) > settings.max_tokens_per_text:
                raise ApiError(422, "too_many_tokens",
                               f"text {i} has {len(sentence)} tokens; at most "
                               f"{settings.max_tokens_per_text} per text")  # fmt: skip
            total += len(sentence)
        if total > settings.max_tokens_per_request:
            raise ApiError(422, "too_many_tokens",
                           f"{total} tokens in the request; at most "
                           f"{settings.max_tokens_per_request} per request")  # fmt: skip
        return sentences

    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn (``--factory``; used by ``elmokit serve``, also with workers > 1)."""
    return create_app(ServerSettings.from_env())
