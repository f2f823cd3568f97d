"""The endpoints: ``POST /v1/embed``, the ops endpoints (``/healthz``, ``/readyz``,
``/metrics``) and the docs (``/openapi.json``, ``/docs``, ``/redoc``, assets served locally).

Each route is a thin edge: :mod:`~elmokit.server.deps` parses and checks, the
:class:`~elmokit.server.batching.MicroBatcher` embeds, :mod:`~elmokit.server.formats` shapes
the answer.
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials

from elmokit.server.batching import (
    ClientGoneError,
    NotRunningError,
    QueueFullError,
    RequestTimeoutError,
)
from elmokit.server.deps import (
    BEARER,
    Runtime,
    checked_sentences,
    client_gone,
    has_valid_key,
    not_ready,
    read_embed_request,
    ready_runtime,
    require_key,
)
from elmokit.server.errors import ApiError, ClientGone
from elmokit.server.formats import (
    NPY_MEDIA_TYPE,
    format_one,
    json_body,
    npy_response,
    wants_npy,
)
from elmokit.server.schemas import EmbedRequest, EmbedResponse, ErrorResponse

#: Above this many numbers, JSON formatting moves off the event loop.
_OFFLOOP_FLOATS = 200_000

_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": desc}
    for code, desc in {
        400: "Malformed JSON (or a number too long), non-UTF-8 or empty body",
        401: "Missing or wrong bearer API key",
        408: "The body did not arrive within the read timeout",
        413: "Body larger than the limit",
        415: "Body is not application/json",
        422: "Wrong types, empty input, control characters, or over a texts/tokens limit",
        503: "Queue full (Retry-After) or model not ready",
        504: "Not answered within the request timeout",
    }.items()
}


def _request_body_spec() -> dict[str, Any]:
    schema = EmbedRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


router = APIRouter()


# ---------------------------------------------------------------------- ops
@router.get("/healthz", tags=["ops"], summary="Liveness: the process answers.")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz", tags=["ops"],
    summary="Readiness: the model is loaded and batching (details need the key, if one is set).",
    responses={503: {"model": ErrorResponse, "description": "Not ready"}},
)  # fmt: skip
async def readyz(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> Any:
    runtime: Runtime | None = request.app.state.runtime
    if runtime is None or not runtime.batcher.running:
        raise not_ready(request.app.state.settings)
    if not has_valid_key(request, credentials):  # probes need no key; the details do
        return {"status": "ready"}
    model = runtime.model
    return {"status": "ready", "model": runtime.name, "dim": model.dim,
            "num_layers": model.num_layers, "queue_depth": runtime.batcher.depth}  # fmt: skip


@router.get(
    "/metrics", tags=["ops"], summary="Prometheus metrics.", dependencies=[Depends(require_key)],
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, 401: _ERROR_RESPONSES[401]},
)  # fmt: skip
async def prometheus_metrics(request: Request) -> Response:
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)


# ---------------------------------------------------------------------- embedding
@router.post(
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
async def embed(request: Request, runtime: Annotated[Runtime, Depends(ready_runtime)]) -> Response:
    settings = request.app.state.settings
    npy = wants_npy(request)
    with runtime.batcher.incoming():  # a forming batch may wait for this request
        req = await read_embed_request(request)
        sentences = await checked_sentences(req, runtime, settings, npy)
    # No await between leaving `incoming` and the enqueue at the start of `submit`.
    layers = await _run_in_batch(request, runtime, sentences)
    with np.errstate(over="ignore", invalid="ignore"):  # huge weights: checked just below
        arrays = [format_one(a, req.output, req.weights) for a in layers]
    if req.weights is not None and not all(np.isfinite(a).all() for a in arrays):
        raise ApiError(422, "invalid_request", "'weights' are too large: the mixed vectors "
                       "overflow float32")  # fmt: skip
    if npy:
        headers = {"X-Elmo-Lengths": ",".join(str(len(s)) for s in sentences),
                   "X-Elmo-Model": runtime.name, "X-Elmo-Output": req.output}  # fmt: skip
        return npy_response(arrays, req.output, headers)
    payload = {"model": runtime.name, "dim": runtime.model.dim, "output": req.output,
               "num_tokens": sum(len(s) for s in sentences), "tokens": sentences}  # fmt: skip
    if sum(a.size for a in arrays) > _OFFLOOP_FLOATS:
        content = await asyncio.to_thread(json_body, payload, arrays)
    else:
        content = json_body(payload, arrays)
    return Response(content, media_type="application/json")


async def _run_in_batch(
    request: Request, runtime: Runtime, sentences: list[list[str]]
) -> list[np.ndarray]:
    """The batcher's answer for ``sentences``, its refusals as API errors; a client that hangs
    up meanwhile is :class:`ClientGone` (and its request dropped)."""
    settings = request.app.state.settings
    retry = {"Retry-After": str(settings.retry_after_s)}
    try:
        return await runtime.batcher.submit(
            sentences, timeout=settings.request_timeout_s, hang_up=lambda: client_gone(request)
        )
    except QueueFullError as exc:
        raise ApiError(503, "overloaded", f"server busy: {exc}; retry later",
                       headers=retry) from None  # fmt: skip
    except NotRunningError as exc:
        raise ApiError(503, "unavailable", str(exc), headers=retry) from None
    except RequestTimeoutError as exc:
        raise ApiError(504, "timeout", str(exc)) from None
    except ClientGoneError:
        raise ClientGone("waiting") from None


# ---------------------------------------------------------------------- docs
@functools.cache
def docs_assets() -> Path | None:
    """The folder with Swagger UI and ReDoc (the ``fastapi-offline`` package), or None."""
    try:
        from importlib.resources import files

        folder = Path(str(files("fastapi_offline") / "static"))
    except ImportError:
        return None
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


#: The only files served from :func:`docs_assets`.
_ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")

#: ``/openapi.json``; like the docs pages, it needs the key when one is set.
spec_router = APIRouter(include_in_schema=False, dependencies=[Depends(require_key)])
#: ``/docs``, ``/redoc`` and their assets; included only when :func:`docs_assets` finds them.
docs_router = APIRouter(include_in_schema=False, dependencies=[Depends(require_key)])


@spec_router.get("/openapi.json")
async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@docs_router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=f"{root}/openapi.json",
        title="elmokit - Swagger UI",
        swagger_js_url=f"{root}/docs/assets/swagger-ui-bundle.js",
        swagger_css_url=f"{root}/docs/assets/swagger-ui.css",
        swagger_favicon_url=f"{root}/docs/assets/favicon.png",
    )


@docs_router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_redoc_html(
        openapi_url=f"{root}/openapi.json",
        title="elmokit - ReDoc",
        redoc_js_url=f"{root}/docs/assets/redoc.standalone.js",
        redoc_favicon_url=f"{root}/docs/assets/favicon.png",
        with_google_fonts=False,
    )


@docs_router.get("/docs/assets/{name}")
async def docs_asset(name: str) -> FileResponse:
    folder = docs_assets()
    if folder is None or name not in _ASSETS:
        raise ApiError(404, "not_found", "Not Found")
    return FileResponse(folder / name)
