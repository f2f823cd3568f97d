"""Sentence vectors from ELMo layers, and safe save / load of computed embeddings.

>>> from elmokit import Elmo
>>> elmo = Elmo.load()
>>> X = elmo.sentence_vectors(["The cell divides.", "A mouse ran."])   # (2, D) float32
>>> X = elmo.sentence_vectors(texts, layer=2)                          # top biLSTM layer
>>> X = elmo.sentence_vectors(texts, layer=[0.2, 0.3, 0.5])            # fixed scalar mix

The default, ``layer="average"``, is the seed tutorials' "double averaging": average the 3
layers at each token, then average over the tokens (TF-Hub ELMo's ``default`` output).

Embeddings are saved as ``.npz`` (numpy, ``allow_pickle=False`` on load), ``.h5`` / ``.hdf5``
or ``.parquet`` — never pickle — with the texts, labels and a JSON metadata dict alongside.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from elmokit.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from elmokit.embedder import Elmo, Sentence

#: A layer choice: an index (0 = char-CNN token layer, 1.. = biLSTM layers, negative from the
#: top), "average" (equal-weight mean of all layers), "top", "token" (= 0), "concat" (all
#: layers side by side, L * D wide), or a sequence of L mixing weights (a scalar mix; use
#: :func:`scalar_mix_weights` to get them from a trained ``ScalarMix``).
LayerSpec = int | str | Sequence[float]
POOLINGS = ("mean", "max", "first", "last")


def layer_weights(layer: LayerSpec, num_layers: int) -> np.ndarray | None:
    """LayerSpec -> float32 (L,) weights, or None for ``"concat"``."""
    if isinstance(layer, str):
        if layer == "average":
            return np.full(num_layers, 1.0 / num_layers, dtype=np.float32)
        if layer == "top":
            layer = num_layers - 1
        elif layer in ("token", "bottom"):
            layer = 0
        elif layer == "concat":
            return None
        elif layer.lstrip("-").isdigit():
            layer = int(layer)
        else:
            raise InputError(
                f"layer {layer!r} is not an index, 'average', 'top', 'token', 'concat' "
                "or a list of weights"
            )
    if isinstance(layer, (int, np.integer)):
        if not -num_layers <= int(layer) < num_layers:
            raise InputError(f"layer {layer} out of range: the model has {num_layers} layers")
        w = np.zeros(num_layers, dtype=np.float32)
        w[int(layer)] = 1.0
        return w
    w = np.asarray(layer, dtype=np.float32)
    if w.shape != (num_layers,):
        raise InputError(f"scalar mix has {w.size} weights, the model has {num_layers} layers")
    return w


def scalar_mix_weights(mix: Any) -> np.ndarray:
    """A (trained) :class:`~elmokit.modules.scalar_mix.ScalarMix` -> its effective (L,) weights
    ``gamma * softmax(w)``, usable as ``layer=`` everywhere here (ignores layer norm)."""
    import torch

    with torch.no_grad():
        w = torch.softmax(mix.scalar_parameters.detach().float(), 0) * mix.gamma.detach().float()
    return w.cpu().numpy().astype(np.float32)


def combine_layers(layers: np.ndarray, layer: LayerSpec = "average") -> np.ndarray:
    """One sentence's float32 (L, n, D) -> token vectors (n, D) (or (n, L*D) for "concat")."""
    weights = layer_weights(layer, layers.shape[0])
    if weights is None:
        n_layers, n, dim = layers.shape
        return np.ascontiguousarray(layers.transpose(1, 0, 2).reshape(n, n_layers * dim))
    return np.tensordot(weights, layers, axes=(0, 0)).astype(np.float32, copy=False)


def pool_tokens(tokens: np.ndarray, pooling: str = "mean") -> np.ndarray:
    """Token vectors (n, D) -> one (D,) vector; an empty sentence gives zeros."""
    if tokens.shape[0] == 0:
        return np.zeros(tokens.shape[1], dtype=np.float32)
    if pooling == "mean":
        return tokens.mean(axis=0)
    if pooling == "max":
        return tokens.max(axis=0)
    if pooling == "first":
        return tokens[0]
    if pooling == "last":
        return tokens[-1]
    raise InputError(f"pooling {pooling!r} is not one of {', '.join(POOLINGS)}")


def truncate(sentence: Sentence, max_tokens: int | None) -> list[str]:
    """Tokenize (if a string) and keep the first ``max_tokens`` tokens (all when None)."""
    from elmokit.embedder import as_tokens

    tokens = as_tokens(sentence)
    return tokens if max_tokens is None else tokens[:max_tokens]


#: (id(model), tokens) -> float32 (L, D) per-layer token means; see ``cache=`` below.
_MEANS: dict[tuple[int, tuple[str, ...]], np.ndarray] = {}
CACHE_SIZE = 20_000


def clear_cache() -> None:
    """Forget the cached per-layer means of :func:`sentence_vectors` (``cache=True``)."""
    _MEANS.clear()


def sentence_vectors(
    elmo: Elmo,
    sentences: Iterable[Sentence],
    layer: LayerSpec = "average",
    pooling: str = "mean",
    batch_size: int = 32,
    max_tokens: int | None = 128,
    progress: bool = False,
    cache: bool = False,
) -> np.ndarray:
    """Sentences (raw strings or token lists) -> float32 (N, D) (``"concat"``: (N, L*D)).

    Each sentence: combine the layers per token (``layer``), then pool over its tokens
    (``pooling``: mean | max | first | last). Sentences longer than ``max_tokens`` tokens are
    cut (ELMo's cost grows with length; reviews and e-mails can be thousands of tokens).
    Sentences are sorted by length before batching (less padding), output is in input order.

    ``cache=True`` (mean pooling only) keeps each sentence's per-layer token means (L, D) in
    memory (up to ``CACHE_SIZE`` sentences), so trying other ``layer`` choices on the same
    texts (cross-validation, layer comparisons) does not run the biLM again.
    """
    batch = [truncate(s, max_tokens) for s in sentences]
    width = elmo.dim * (elmo.num_layers if layer == "concat" else 1)
    weights = layer_weights(layer, elmo.num_layers)  # validate before the expensive part
    out = np.zeros((len(batch), width), dtype=np.float32)
    if cache and pooling == "mean" and len(batch) <= CACHE_SIZE // 2:
        keys = [(id(elmo), tuple(tokens)) for tokens in batch]
        for key in keys:  # mark as recently used, so evictions below spare them
            if key in _MEANS:
                _MEANS[key] = _MEANS.pop(key)
        todo = sorted({k for k in keys if k not in _MEANS}, key=lambda k: len(k[1]))
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            for key, layers in zip(chunk, elmo.embed_batch([list(k[1]) for k in chunk]),
                                   strict=True):
                while len(_MEANS) >= CACHE_SIZE:  # oldest first; this call's keys are newer
                    _MEANS.pop(next(iter(_MEANS)))
                _MEANS[key] = (layers.mean(axis=1) if layers.shape[1] else
                               np.zeros(layers.shape[::2], dtype=np.float32))
        for i, key in enumerate(keys):
            means = _MEANS[key]
            out[i] = means.reshape(-1) if weights is None else weights @ means
        return out
    order = sorted(range(len(batch)), key=lambda i: len(batch[i]))
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if progress:
        from tqdm import tqdm

        chunks = tqdm(chunks, desc="embedding", unit="batch")
    for chunk in chunks:
        for i, layers in zip(chunk, elmo.embed_batch([batch[i] for i in chunk]), strict=True):
            out[i] = pool_tokens(combine_layers(layers, layer), pooling)
    return out


def token_vectors(
    elmo: Elmo,
    sentences: Iterable[Sentence],
    layer: LayerSpec = "average",
    batch_size: int = 32,
) -> list[np.ndarray]:
    """Sentences -> list of float32 (n_i, D) contextual token vectors (for probes, plots,
    nearest neighbours)."""
    batch = [truncate(s, None) for s in sentences]
    order = sorted(range(len(batch)), key=lambda i: len(batch[i]))
    out: list[np.ndarray] = [np.empty(0)] * len(batch)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        for i, layers in zip(chunk, elmo.embed_batch([batch[i] for i in chunk]), strict=True):
            out[i] = combine_layers(layers, layer)
    return out


# ---------------------------------------------------------------------- save / load
FORMATS = (".npz", ".h5", ".hdf5", ".parquet")


def save_embeddings(
    path: str | os.PathLike,
    vectors: np.ndarray,
    texts: Sequence[str] | None = None,
    labels: Sequence[Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Save (N, D) vectors (+ optional texts, labels, JSON-able metadata) without pickle.

    The format follows the suffix: ``.npz`` (compressed numpy; string arrays are unicode, not
    objects), ``.h5``/``.hdf5`` (datasets ``vectors``, ``texts``, ``labels``; metadata as a
    JSON attribute) or ``.parquet`` (one row per vector, a fixed-size-list column ``vector``;
    metadata in the schema). Read back with :func:`load_embeddings`.
    """
    path = Path(path)
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise InputError(f"{path}: vectors must be (N, D), got shape {vectors.shape}")
    n = vectors.shape[0]
    for name, col in (("texts", texts), ("labels", labels)):
        if col is not None and len(col) != n:
            raise InputError(f"{path}: {len(col)} {name} for {n} vectors")
    meta = json.dumps(metadata or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        arrays: dict[str, np.ndarray] = {"vectors": vectors, "metadata": np.array(meta)}
        if texts is not None:
            arrays["texts"] = np.array([str(t) for t in texts], dtype=str)
        if labels is not None:
            arrays["labels"] = np.array([str(t) for t in labels], dtype=str)
        np.savez_compressed(path, **arrays)
    elif suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "w") as f:
            f.create_dataset("vectors", data=vectors, compression="gzip")
            string = h5py.string_dtype("utf-8")
            if texts is not None:
                f.create_dataset("texts", data=[str(t) for t in texts], dtype=string)
            if labels is not None:
                f.create_dataset("labels", data=[str(t) for t in labels], dtype=string)
            f.attrs["metadata"] = meta
    elif suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        columns = {"vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()),
                                                                vectors.shape[1])}
        if texts is not None:
            columns["text"] = pa.array([str(t) for t in texts])
        if labels is not None:
            columns["label"] = pa.array([str(t) for t in labels])
        table = pa.table(columns).replace_schema_metadata({"elmokit": meta})
        pq.write_table(table, path)
    else:
        raise InputError(f"{path}: unknown format {suffix!r} (use {', '.join(FORMATS)})")
    return path


def load_embeddings(path: str | os.PathLike) -> dict[str, Any]:
    """-> ``{"vectors": float32 (N, D), "texts": list[str] | None, "labels": list[str] | None,
    "metadata": dict}`` from a file written by :func:`save_embeddings`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    out: dict[str, Any] = {"texts": None, "labels": None, "metadata": {}}
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            if "vectors" not in z:
                raise InputError(f"{path}: no 'vectors' array")
            out["vectors"] = z["vectors"]
            for key in ("texts", "labels"):
                if key in z:
                    out[key] = z[key].tolist()
            if "metadata" in z:
                out["metadata"] = json.loads(str(z["metadata"]))
    elif suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "r") as f:
            if "vectors" not in f:
                raise InputError(f"{path}: no 'vectors' dataset")
            out["vectors"] = f["vectors"][()]
            for key in ("texts", "labels"):
                if key in f:
                    out[key] = [s.decode("utf-8") if isinstance(s, bytes) else str(s)
                                for s in f[key][()]]
            out["metadata"] = json.loads(f.attrs.get("metadata", "{}"))
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        if "vector" not in table.column_names:
            raise InputError(f"{path}: no 'vector' column")
        col = table.column("vector").combine_chunks()
        dim = col.type.list_size
        out["vectors"] = col.flatten().to_numpy().astype(np.float32).reshape(-1, dim)
        for key, name in (("texts", "text"), ("labels", "label")):
            if name in table.column_names:
                out[key] = table.column(name).to_pylist()
        meta = (table.schema.metadata or {}).get(b"elmokit", b"{}")
        out["metadata"] = json.loads(meta)
    else:
        raise InputError(f"{path}: unknown format {suffix!r} (use {', '.join(FORMATS)})")
    return out
