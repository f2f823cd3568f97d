"""What ``POST /v1/embed`` answers: per-sentence arrays in the asked ``output``, as JSON or as
one ``.npy`` array. The layer logic is :mod:`elmokit.layers`; this only shapes answers."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
from fastapi import Request
from fastapi.responses import Response

from elmokit.layers import combine_layers, pool_tokens, select_output

NPY_MEDIA_TYPE = "application/x-npy"


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


def answer_floats(output: str, lengths: list[int], dim: int, num_layers: int) -> int:
    """How many numbers the answer holds: D per token (per sentence for "sentence"), times L
    for "all"."""
    floats = dim * (len(lengths) if output == "sentence" else sum(lengths))
    return floats * (num_layers if output == "all" else 1)


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
    return NPY_MEDIA_TYPE in request.headers.get("accept", "").lower()
