"""What every route needs before it can work: the running model, the API key, a parsed and
limit-checked request, and a way to notice a client that hung up.

State lives on ``app.state`` (set by :func:`elmokit.server.app.create_app`): ``settings``,
``api_key`` (None: no auth), ``metrics`` and ``runtime`` (None until the lifespan has loaded
the model and started the batcher).
"""

from __future__ import annotations

import asyncio
import hmac
import json
from dataclasses import dataclass
from pathlib import PurePath
from typing import Annotated, Any

import numpy as np
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from elmokit.server.batching import MicroBatcher
from elmokit.server.errors import ApiError, ClientGone, clean_errors
from elmokit.server.formats import NPY_MEDIA_TYPE, answer_floats
from elmokit.server.schemas import EmbedRequest
from elmokit.server.settings import ServerSettings
from elmokit.tokenize import split_text

#: Above this many characters, tokenizing moves off the event loop.
_OFFLOOP_CHARS = 20_000
#: Longest integer literal a body may hold. Python refuses to convert ints of over 4,300
#: digits (a ValueError that used to surface as a 500); nothing in a request needs more.
MAX_INT_DIGITS = 100
_FLOAT32_MAX = float(np.finfo(np.float32).max)
#: Module level: FastAPI resolves the (string) annotations of dependencies in module globals.
BEARER = HTTPBearer(auto_error=False, description="Needed only when the server has a key.")


@dataclass(frozen=True)
class Runtime:
    """What the lifespan started: the model (anything with ``embed_batch``, ``dim``,
    ``num_layers``), its public name, and the batcher in front of it."""

    model: Any
    name: str
    batcher: MicroBatcher


def public_name(name: str | None) -> str:
    """The model's name as the service shows it: a hub name as is, a path by its last folder
    (``/srv/models/en-small`` and ``/srv/models/en-small/weights.hdf5`` -> ``en-small``), so
    answers never reveal the server's file system.

    >>> public_name("/srv/models/en-small/weights.hdf5"), public_name("allennlp-tiny")
    ('en-small', 'allennlp-tiny')
    """
    if not name:
        return "unnamed"
    path = PurePath(name)
    if path.suffix.lower() in (".hdf5", ".h5", ".json"):
        path = path.parent
    return path.name or "unnamed"


# ---------------------------------------------------------------------- auth and readiness
def has_valid_key(request: Request, credentials: HTTPAuthorizationCredentials | None) -> bool:
    """True when the server has no key, or the request carries it (constant-time compare)."""
    api_key: str | None = request.app.state.api_key
    if api_key is None:
        return True
    given = credentials.credentials if credentials is not None else ""
    return hmac.compare_digest(given.encode(), api_key.encode())


async def require_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> None:
    """Dependency: 401 unless :func:`has_valid_key`."""
    if not has_valid_key(request, credentials):
        raise ApiError(
            401, "unauthorized", "a valid 'Authorization: Bearer <key>' header is required",
            headers={"WWW-Authenticate": "Bearer"},
        )  # fmt: skip


def not_ready(settings: ServerSettings) -> ApiError:
    return ApiError(503, "unavailable", "the model is not ready",
                    headers={"Retry-After": str(settings.retry_after_s)})  # fmt: skip


async def ready_runtime(request: Request) -> Runtime:
    """Dependency: the running model and batcher, or 503 + Retry-After before start-up."""
    runtime: Runtime | None = request.app.state.runtime
    if runtime is None:
        raise not_ready(request.app.state.settings)
    return runtime


# ---------------------------------------------------------------------- request parsing
def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise ApiError(400, "malformed_json", f"a JSON number has {digits} digits; at most "
                       f"{MAX_INT_DIGITS} are accepted")  # fmt: skip
    return int(text)


async def read_embed_request(request: Request) -> EmbedRequest:
    """The body as a validated :class:`EmbedRequest`: 415 not JSON, 400 empty / not UTF-8 /
    malformed (numbers of over :data:`MAX_INT_DIGITS` digits too), 422 wrong shape or types
    (strict: ``"1"`` is not a number, ``1`` not a string)."""
    content_type = request.headers.get("content-type", "application/json").lower()
    media = content_type.split(";")[0].strip()
    if media != "application/json" and not media.endswith("+json"):
        raise ApiError(415, "unsupported_media_type", "the body must be application/json")
    try:
        raw = await request.body()
    except ClientDisconnect:
        raise ClientGone("body") from None
    if not raw.strip():
        raise ApiError(400, "bad_request", "the request body is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            400, "invalid_encoding", f"the body is not valid UTF-8 (byte {exc.start})"
        ) from None
    try:
        data = json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise ApiError(400, "malformed_json",
                       f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
                       ) from None  # fmt: skip
    except RecursionError:
        raise ApiError(400, "malformed_json", "JSON nested too deeply") from None
    except ValueError as exc:  # any other number Python cannot represent
        raise ApiError(400, "malformed_json", f"malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_request", "the body must be a JSON object")
    try:
        return EmbedRequest.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", "request validation failed",
                       clean_errors(exc.errors())) from None  # fmt: skip


# ---------------------------------------------------------------------- limits
async def checked_sentences(
    req: EmbedRequest, runtime: Runtime, settings: ServerSettings, npy: bool
) -> list[list[str]]:
    """The request's sentences as token lists, within every limit (422 otherwise): texts per
    request, tokens per text and per request, one weight per layer, JSON answer size."""
    model = runtime.model
    if req.weights is not None and len(req.weights) != model.num_layers:
        raise ApiError(422, "invalid_request",
                       f"'weights' needs {model.num_layers} values (one per layer), "
                       f"got {len(req.weights)}")  # fmt: skip
    if req.weights is not None and any(abs(w) > _FLOAT32_MAX for w in req.weights):
        raise ApiError(422, "invalid_request",
                       f"'weights' must lie within +-{_FLOAT32_MAX:.4g} (float32)")  # fmt: skip
    items: list[str] | list[list[str]] = req.texts if req.texts is not None else req.tokens
    if len(items) > settings.max_texts:
        raise ApiError(
            422,
            "too_many_texts",
            f"{len(items)} texts given; at most {settings.max_texts} per request",
        )
    if req.texts is not None:
        texts, rule = req.texts, req.tokenize
        if sum(len(t) for t in texts) > _OFFLOOP_CHARS:
            sentences = await asyncio.to_thread(lambda: [split_text(t, rule) for t in texts])
        else:
            sentences = [split_text(t, rule) for t in texts]
    else:
        sentences = [list(s) for s in req.tokens]
    for i, sentence in enumerate(sentences):
        if not sentence:
            raise ApiError(422, "empty_text", f"text {i} has no tokens")
        if len(sentence) > settings.max_tokens_per_text:
            raise ApiError(422, "too_many_tokens",
                           f"text {i} has {len(sentence)} tokens; at most "
                           f"{settings.max_tokens_per_text} per text")  # fmt: skip
    total = sum(len(s) for s in sentences)
    if total > settings.max_tokens_per_request:
        raise ApiError(422, "too_many_tokens",
                       f"{total} tokens in the request; at most "
                       f"{settings.max_tokens_per_request} per request")  # fmt: skip
    if not npy:
        floats = answer_floats(req.output, [len(s) for s in sentences], model.dim,
                               model.num_layers)  # fmt: skip
        if floats > settings.max_json_floats:
            raise ApiError(422, "response_too_large",
                           f"the JSON answer would hold {floats} numbers (at most "
                           f"{settings.max_json_floats}); ask for 'Accept: {NPY_MEDIA_TYPE}', "
                           "a smaller output, or fewer tokens")  # fmt: skip
    return sentences


# ---------------------------------------------------------------------- hang-ups
async def client_gone(request: Request) -> None:
    """Returns once the client has hung up (call after the body has been read)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
