"""Which layers, mixed how: the one vocabulary for turning a biLM's L layers into vectors.

>>> import numpy as np
>>> from elmokit.layers import combine_layers, masked_mean, pool_tokens, select_output
>>> layers = np.ones((3, 4, 8), dtype=np.float32)        # (L, n, D): one sentence of 4 tokens
>>> combine_layers(layers, "top").shape                  # (L, n, D) -> (n, D)
(4, 8)
>>> combine_layers(layers, [0.2, 0.3, 0.5]).shape        # 0.2 * l0 + 0.3 * l1 + 0.5 * l2
(4, 8)
>>> pool_tokens(combine_layers(layers), "mean").shape    # (n, D) -> (D,)
(8,)
>>> select_output(layers, "all").shape                   # embed_file / server output formats
(3, 4, 8)

A layer choice (:data:`LayerSpec`), the same for ``Elmo.sentence_vectors``, ``ElmoVectorizer``,
``elmokit classify --features elmo:...`` and the server's ``output="mix"``:

- an index: 0 = the char-CNN token layer, 1.. = the biLSTM layers, negative from the top (also
  as a string, ``"2"``); ``"top"`` (the last layer); ``"token"`` / ``"bottom"`` (= 0);
- ``"average"``: the equal-weight mean of the layers;
- ``"concat"``: all layers side by side, (n, L * D);
- a sequence of L **mixing weights, applied as given**: ``[0.2, 0.3, 0.5]`` means exactly
  ``0.2 * layer0 + 0.3 * layer1 + 0.5 * layer2`` (no softmax, no normalisation; they need
  not sum to 1). Only the trainable :class:`~elmokit.modules.scalar_mix.ScalarMix` (inside
  ``ElmoLayer`` and the Keras layer) keeps softmax logits internally;
  :func:`scalar_mix_weights` turns a trained one into plain weights usable here.

Pure numpy; :func:`masked_mean` also takes torch tensors. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from elmokit.errors import InputError

#: A layer choice: an index, "average", "top", "token", "concat", or L plain mixing weights.
LayerSpec = int | str | Sequence[float]
#: Per-sentence array formats of ``embed_file`` (and of the server's ``output``): "all" keeps
#: the (L, n, D) layers; "top" and "average" are the layer specs of the same name, (n, D).
OUTPUT_FORMATS = ("all", "top", "average")
#: Token poolings to one sentence vector, (n, D) -> (D,).
POOLINGS = ("mean", "max", "first", "last")
#: TF-Hub ELMo's output names (``Elmo.signatures``, the Keras layer's ``output_mode``):
#: "default" the (B, D) masked token mean of "elmo", the (B, T, D) mixed token vectors.
HUB_OUTPUTS = ("default", "elmo")

_NAMED = {"top": -1, "token": 0, "bottom": 0}


def layer_index(layer: LayerSpec, num_layers: int) -> int | None:
    """A one-layer choice -> its index in 0..L-1; None for "average", "concat" and weights.

    >>> layer_index("top", 3), layer_index(-2, 3), layer_index("average", 3)
    (2, 1, None)
    """
    if isinstance(layer, str):
        if layer in ("average", "concat"):
            return None
        if layer in _NAMED:
            layer = _NAMED[layer]
        elif layer.lstrip("-").isdigit():
            layer = int(layer)
        else:
            raise InputError(
                f"layer {layer!r} is not an index, 'average', 'top', 'token', 'concat' "
                "or a list of weights"
            )
    if not isinstance(layer, (int, np.integer)) or isinstance(layer, bool):
        return None
    if not -num_layers <= int(layer) < num_layers:
        raise InputError(f"layer {layer} out of range: the model has {num_layers} layers")
    return int(layer) % num_layers


def layer_weights(layer: LayerSpec, num_layers: int) -> np.ndarray | None:
    """A layer choice -> its float32 (L,) mixing weights, applied as given; None for "concat".

    >>> layer_weights("average", 3).tolist()       # doctest: +ELLIPSIS
    [0.333..., 0.333..., 0.333...]
    >>> layer_weights(1, 3).tolist(), layer_weights([2, 0, -1], 3).tolist()
    ([0.0, 1.0, 0.0], [2.0, 0.0, -1.0])
    """
    if isinstance(layer, str) and layer == "concat":
        return None
    if isinstance(layer, str) and layer == "average":
        return np.full(num_layers, 1.0 / num_layers, dtype=np.float32)
    index = layer_index(layer, num_layers)
    if index is not None:
        weights = np.zeros(num_layers, dtype=np.float32)
        weights[index] = 1.0
        return weights
    weights = np.asarray(layer, dtype=np.float32)
    if weights.shape != (num_layers,):
        raise InputError(
            f"scalar mix has {weights.size} weights, the model has {num_layers} layers"
        )
    return weights


def mix(layers: np.ndarray, weights: Sequence[float] | np.ndarray) -> np.ndarray:
    """(L, ...) layers, L plain weights -> (...) ``sum_k weights[k] * layers[k]``, float32.

    >>> mix(np.ones((3, 4, 8), np.float32), [0.2, 0.3, 0.5]).shape    # (L, n, D) -> (n, D)
    (4, 8)
    """
    w = np.asarray(weights, dtype=np.float32)
    if w.shape != (layers.shape[0],):
        raise InputError(f"scalar mix has {w.size} weights, the model has {layers.shape[0]} layers")
    return np.tensordot(w, layers, axes=(0, 0)).astype(np.float32, copy=False)


def combine_layers(layers: np.ndarray, layer: LayerSpec = "average") -> np.ndarray:
    """One sentence's (L, n, D) layers -> (n, D) token vectors ("concat": (n, L * D)).

    "average" is the layer mean, one layer is a copy of it, weights go through :func:`mix`.

    >>> combine_layers(np.ones((3, 4, 8), np.float32), "concat").shape
    (4, 24)
    """
    if isinstance(layer, str) and layer == "average":
        return layers.mean(axis=0)
    index = layer_index(layer, layers.shape[0])
    if index is not None:
        return layers[index].copy()
    if isinstance(layer, str) and layer == "concat":
        n_layers, n, dim = layers.shape  # (L, n, D) -> (n, L * D), layer-major per token
        return np.ascontiguousarray(layers.transpose(1, 0, 2).reshape(n, n_layers * dim))
    return mix(layers, layer)


def select_output(layers: np.ndarray, output_format: str) -> np.ndarray:
    """(L, n, D) -> "all": (L, n, D) as is; "top": (n, D) the last layer; "average": (n, D)."""
    if output_format not in OUTPUT_FORMATS:
        raise InputError(
            f"output format {output_format!r} is not one of {', '.join(OUTPUT_FORMATS)}"
        )
    return layers if output_format == "all" else combine_layers(layers, output_format)


def check_pooling(pooling: str) -> str:
    """``pooling`` if it is one of :data:`POOLINGS`, else an :class:`InputError`."""
    if pooling not in POOLINGS:
        raise InputError(f"pooling {pooling!r} is not one of {', '.join(POOLINGS)}")
    return pooling


def pool_tokens(tokens: np.ndarray, pooling: str = "mean") -> np.ndarray:
    """Token vectors (n, D) -> one (D,) vector; an empty sentence (n = 0) gives zeros.

    >>> pool_tokens(np.arange(6, dtype=np.float32).reshape(3, 2), "max").tolist()
    [4.0, 5.0]
    """
    check_pooling(pooling)
    if tokens.shape[0] == 0:
        return np.zeros(tokens.shape[1], dtype=np.float32)
    if pooling == "mean":
        return tokens.mean(axis=0)
    if pooling == "max":
        return tokens.max(axis=0)
    return tokens[0] if pooling == "first" else tokens[-1]


def masked_mean(vectors: Any, mask: Any) -> Any:
    """Padded (B, T, D) vectors, (B, T) bool mask -> (B, D) mean over each row's real tokens
    (zeros for a row without any). numpy arrays or torch tensors (differentiable), same dtype.

    >>> masked_mean(np.ones((2, 3, 4), np.float32), np.array([[1, 1, 0], [0, 0, 0]], bool))
    array([[1., 1., 1., 1.],
           [0., 0., 0., 0.]], dtype=float32)
    """
    mask = mask[:, :, None]  # (B, T) -> (B, T, 1)
    count = mask.sum(1).clip(1)  # (B, 1) real tokens per row, at least 1
    if isinstance(vectors, np.ndarray):
        count = count.astype(vectors.dtype)
    return (vectors * mask).sum(1) / count  # (B, T, D) -> (B, D)


def scalar_mix_weights(scalar_mix: Any) -> np.ndarray:
    """A (trained) :class:`~elmokit.modules.scalar_mix.ScalarMix` -> its effective float32 (L,)
    plain weights ``gamma * softmax(logits)``, usable as a layer choice everywhere (ignores its
    layer norm).

    >>> from elmokit.modules.scalar_mix import ScalarMix
    >>> scalar_mix_weights(ScalarMix(3))                   # (L,)
    array([0.33333334, 0.33333334, 0.33333334], dtype=float32)
    """
    logits = scalar_mix.scalar_parameters.detach().cpu().double().numpy()  # (L,)
    gamma = float(scalar_mix.gamma.detach().cpu().double().numpy().reshape(-1)[0])
    weights = np.exp(logits - logits.max())
    return (gamma * weights / weights.sum()).astype(np.float32)
