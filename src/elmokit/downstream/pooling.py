"""Sentence and token vectors of many texts, and safe save / load of computed embeddings.

>>> from elmokit import Elmo
>>> from elmokit.downstream.pooling import sentence_vectors, token_vectors
>>> elmo = Elmo.load()
>>> sentence_vectors(elmo, ["The cell divides.", "A mouse ran."]).shape   # (N, D) float32
(2, 256)
>>> X = sentence_vectors(elmo, texts, layer=2)                    # (N, D) top biLSTM layer
>>> X = sentence_vectors(elmo, texts, layer=[0.2, 0.3, 0.5])      # (N, D) plain mixing weights
>>> [v.shape for v in token_vectors(elmo, ["The cell divides ."])]   # [(n, D)] per text
[(4, 256)]

Layer choices (an index, "average", "top", "concat", or L mixing weights applied as given) and
poolings are those of :mod:`elmokit.layers` (``LayerSpec``, ``combine_layers``, ... are
re-exported here, their old home). The default, ``layer="average"``, is the seed tutorials'
"double averaging": average the layers at each token, then average over the tokens (TF-Hub
ELMo's ``default`` output).

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
from elmokit.layers import (
    POOLINGS,
    LayerSpec,
    combine_layers,
    layer_weights,
    pool_tokens,
    scalar_mix_weights,
)

if TYPE_CHECKING:  # pragma: no cover
    from elmokit.embedder import Elmo, Sentence

__all__ = [
    "FORMATS", "POOLINGS", "LayerSpec", "combine_layers", "layer_weights", "load_embeddings",
    "pool_tokens", "save_embeddings", "scalar_mix_weights", "sentence_vectors", "token_vectors",
    "truncate",
]  # fmt: skip


def truncate(sentence: Sentence, max_tokens: int | None) -> list[str]:
    """:func:`elmokit.embedder.truncate`: tokens, at most ``max_tokens`` (all when None)."""
    from elmokit.embedder import truncate as truncate_tokens

    return truncate_tokens(sentence, max_tokens)


def sentence_vectors(elmo: Elmo, sentences: Iterable[Sentence], *args, **kwargs) -> np.ndarray:
    """Sentences -> float32 (N, D): :meth:`Elmo.sentence_vectors` (same arguments), kept for
    callers of the function form."""
    return elmo.sentence_vectors(sentences, *args, **kwargs)


def token_vectors(
    elmo: Elmo,
    sentences: Iterable[Sentence],
    layer: LayerSpec = "average",
    batch_size: int = 32,
) -> list[np.ndarray]:
    """Sentences -> list of float32 (n_i, D) contextual token vectors (for probes, plots,
    nearest neighbours); ``"concat"``: (n_i, L * D)."""
    batch = [truncate(s, None) for s in sentences]
    layer_weights(layer, elmo.num_layers)  # validate before the expensive part
    order = sorted(range(len(batch)), key=lambda i: len(batch[i]))
    out: list[np.ndarray] = [np.empty(0)] * len(batch)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        for i, layers in zip(chunk, elmo.embed_batch([batch[i] for i in chunk]), strict=True):
            out[i] = combine_layers(layers, layer)  # (L, n, D) -> (n, D)
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

        columns = {
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), vectors.shape[1])
        }
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
                    out[key] = [
                        s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in f[key][()]
                    ]
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
