"""Distributed embedding on Ray: a Ray Data Dataset of sentences -> vectors, and whole
corpora -> resumable output shards (Ray actors). Needs the ``ray`` extra
(``pip install 'elmokit[ray]'``).

>>> import ray
>>> from elmokit.ray import embed_dataset
>>> ds = ray.data.from_items([{"text": "The cell divides ."}, {"text": "A mouse ran ."}])
>>> rows = embed_dataset(ds, model="en-small", concurrency=2).take_all()
>>> rows[0]["embedding"].shape                       # output="sentence": (D,) per row
(256,)
>>> embed_dataset(ds, output="tokens", layer="top").take(1)[0]["embedding"].shape   # (n, D)
(4, 256)

:class:`ElmoBatchEmbedder` is the callable class behind it (one model per actor, loaded once
in ``__init__``; always stateless, so a sentence's vectors never depend on which actor saw it;
across different batchings they agree to float32 rounding, ~1e-6).

:func:`embed_corpus` (``elmokit embed-corpus``) embeds text / parquet files into one output
shard per input shard (HDF5 in the ``elmokit embed`` layout for token vectors, parquet for
sentence vectors) plus ``manifest.json``. Each shard is one Ray task: a worker actor embeds it
in fixed chunks of ``chunk_lines`` sentences and writes it itself, atomically, into OUT_DIR
(on a cluster: a filesystem every node shares); the driver only plans, reports progress and
records finished shards in the manifest, so it never carries vectors. A shard's bytes are a
pure function of its lines (fixed batching; a word's char-CNN vector the same bits in every
batch, or else the word cache cleared at the shard's start), so a run that is killed and
resumed writes the same bytes as one that is not.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from elmokit.errors import ConfigError, ElmoError, ElmoWarning, InputError
from elmokit.layers import (
    OUTPUT_FORMATS,
    LayerSpec,
    check_pooling,
    combine_layers,
    layer_weights,
    pool_tokens,
    select_output,
)
from elmokit.tokenize import DEFAULT_TOKENIZE, check_tokenize

if TYPE_CHECKING:
    import ray.data

#: ``embed_dataset(output=...)``: one (D,) vector per sentence, or its (n, D) token vectors.
OUTPUTS = ("sentence", "tokens")
#: ``embed_corpus`` output formats: the ``elmokit embed`` HDF5 ones, or "sentence" (parquet).
CORPUS_FORMATS = (*OUTPUT_FORMATS, "sentence")
MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
LOCK_NAME = ".embed-corpus.lock"
#: Sentences per batching window in ``embed_corpus`` (fixed: it decides the batching, hence
#: the bits; also the unit of progress reports).
CHUNK_LINES = 256
#: Lines per output shard in ``embed_corpus`` (at most; see :func:`auto_shard_lines`).
SHARD_LINES = 100_000
#: A corpus smaller than this many full shards is cut into this many smaller ones, so that
#: every worker has several to write (each Ray task writes a whole shard).
MIN_SHARDS = 64
PARQUET_SUFFIXES = (".parquet", ".pq")
#: How often ``embed_corpus`` retries a shard whose worker died (Ray restarts the actor); a
#: shard that kills its worker more often stops the run, naming it.
SHARD_RETRIES = 3
#: Seconds between the driver's reads of the workers' chunk reports (progress, ``on_chunk``):
#: each read is a Ray actor call, ~4 ms of CPU on a small machine.
BOARD_POLL_S = 1.0


def _assigned_cpus() -> int:
    """The CPUs Ray gave this actor (1 outside Ray or when fractional)."""
    import ray

    if not ray.is_initialized():
        return 1
    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    return max(1, int(cpus))


def _assigned_device() -> str:
    """ "cuda" when Ray gave this actor a GPU, else "cpu"."""
    import ray

    return "cuda" if ray.is_initialized() and ray.get_gpu_ids() else "cpu"


class ElmoBatchEmbedder:
    """A callable class for ``Dataset.map_batches``: a batch of texts -> their vectors.

    >>> ds.map_batches(ElmoBatchEmbedder, fn_constructor_kwargs={"model": "en-small"},
    ...                batch_size=256, compute=ray.data.ActorPoolStrategy(size=4))

    The model is loaded once per actor (``Elmo.load(model, mode=mode)``, stateless) and torch
    uses ``torch_threads`` threads (default: the CPUs Ray assigned to the actor). Each call
    reads ``batch[text_column]`` (strings, split by ``tokenize``: ``"whitespace"`` (default,
    like ``elmokit embed``) or ``"elmokit"`` (raw text, :func:`elmokit.tokenize.tokenize`); or
    token lists) and adds ``output_column``: ``output="sentence"``: (B, D) float32, ``pool`` over each
    sentence's tokens of the ``layer`` choice (see :mod:`elmokit.layers`; "concat": L * D);
    ``output="tokens"``: one (n_i, D) array per row, or (L, n_i, D) with ``layer="all"``.
    """

    def __init__(
        self,
        model: str | os.PathLike | None = "en-small",
        layer: LayerSpec = "average",
        pooling: str = "mean",
        mode: str = "exact",
        torch_threads: int | None = None,
        *,
        output: str = "sentence",
        text_column: str = "text",
        output_column: str = "embedding",
        tokenize: str = DEFAULT_TOKENIZE,
        batch_size: int = 64,
        device: str | None = None,
    ) -> None:
        import torch

        from elmokit.embedder import Elmo

        if output not in OUTPUTS:
            raise InputError(f"output {output!r} is not one of {', '.join(OUTPUTS)}")
        if layer == "all" and output != "tokens":
            raise InputError("layer 'all' keeps every layer: it needs output='tokens'")
        torch.set_num_threads(max(1, int(torch_threads or _assigned_cpus())))
        self.elmo = Elmo.load(model, mode=mode, device=device or _assigned_device(), stateful=False)
        engine = getattr(self.elmo, "engine", None)
        #: whether a word's char-CNN vector is the same bits in every batch (checked once per
        #: actor, :meth:`InferenceEngine.enable_word_invariance`): then the word cache is kept
        #: across calls, else cleared at each one
        self.invariant_words = engine is not None and engine.enable_word_invariance()
        if layer != "all":
            layer_weights(layer, self.elmo.num_layers)  # a bad choice fails here, once
        self.layer, self.pooling = layer, check_pooling(pooling)
        self.output, self.text_column, self.output_column = output, text_column, output_column
        self.tokenize, self.batch_size = check_tokenize(tokenize), batch_size

    def embed_layers(self, texts: Sequence[Any], clear_cache: bool = True) -> list[np.ndarray]:
        """Texts (or token lists) -> one float32 (L, n_i, D) per text, in input order.

        A pure function of ``texts``: the batching is decided by ``texts`` alone
        (length-bucketed over all of them), and a word's char-CNN vector by the word alone
        (:attr:`invariant_words`; where the check failed, the word cache is cleared first).
        ``clear_cache=False`` keeps the cache even then: the result is a pure function of all
        texts since the last clearing."""
        from elmokit.tokenize import as_tokens

        engine = getattr(self.elmo, "engine", None)
        if engine is not None and clear_cache and not self.invariant_words:
            engine.cache.clear()  # else a word's char-CNN vector depends on earlier batches
        tokens = [
            as_tokens(
                str(t) if isinstance(t, np.str_) else t,
                f"{self.text_column} row {i}",
                self.tokenize,
            )
            for i, t in enumerate(texts)
        ]
        window = max(1, math.ceil(len(tokens) / self.batch_size))
        return list(self.elmo.embed_sentences(tokens, self.batch_size, bucket_batches=window))

    def vectors(self, layers: np.ndarray) -> np.ndarray:
        """One sentence's (L, n, D) layers -> this embedder's output for it."""
        if self.output == "sentence":
            return pool_tokens(combine_layers(layers, self.layer), self.pooling)  # (D,)
        if self.layer == "all":
            return select_output(layers, "all")  # (L, n, D)
        return combine_layers(layers, self.layer)  # (n, D)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.text_column not in batch:
            raise InputError(
                f"no column {self.text_column!r} (columns: {', '.join(batch) or 'none'})"
            )
        out = [self.vectors(layers) for layers in self.embed_layers(list(batch[self.text_column]))]
        if self.output == "sentence":
            column = np.stack(out) if out else np.zeros((0, self.elmo.dim), np.float32)
        else:
            column = np.empty(len(out), dtype=object)  # ragged: (n_i, D) per row
            column[:] = out
        return {**batch, self.output_column: column}


def embed_dataset(
    ds: ray.data.Dataset,
    model: str | os.PathLike | None = "en-small",
    text_column: str = "text",
    output_column: str = "embedding",
    output: str = "sentence",
    layer: LayerSpec = "average",
    batch_size: int = 256,
    concurrency: int | tuple[int, int] | None = None,
    num_cpus: float = 1,
    num_gpus: float = 0,
    *,
    pooling: str = "mean",
    mode: str = "exact",
    torch_threads: int | None = None,
    tokenize: str = DEFAULT_TOKENIZE,
) -> ray.data.Dataset:
    """A Ray Dataset with a ``text_column`` -> the same rows plus ``output_column`` (lazy).

    ``output="sentence"``: a (D,) vector per row (``layer`` then ``pooling`` mean over the
    tokens); ``"tokens"``: (n, D) per row ((L, n, D) with ``layer="all"``). ``concurrency``
    actors (an int, or (min, max) to autoscale; default: as many as the CPUs allow), each with
    ``num_cpus`` CPUs (torch threads, unless ``torch_threads``) and ``num_gpus`` GPUs, embed
    ``batch_size`` rows per call. Strings are split by ``tokenize`` ("whitespace" or "elmokit").
    """
    import ray.data

    if output not in OUTPUTS:
        raise InputError(f"output {output!r} is not one of {', '.join(OUTPUTS)}")
    if isinstance(concurrency, int):
        compute = ray.data.ActorPoolStrategy(size=concurrency)
    elif concurrency is not None:
        compute = ray.data.ActorPoolStrategy(min_size=concurrency[0], max_size=concurrency[1])
    else:
        compute = ray.data.ActorPoolStrategy(min_size=1)
    return ds.map_batches(
        ElmoBatchEmbedder,
        fn_constructor_kwargs={
            "model": None if model is None else str(model),
            "layer": layer,
            "pooling": pooling,
            "mode": mode,
            "torch_threads": torch_threads,
            "output": output,
            "text_column": text_column,
            "output_column": output_column,
            "tokenize": tokenize,
        },
        batch_size=batch_size,
        batch_format="numpy",
        compute=compute,
        num_cpus=num_cpus,
        num_gpus=num_gpus,
    )


# ---------------------------------------------------------------------------- corpus: plan


@dataclass
class Shard:
    """One input shard (``lines`` lines of ``input`` from ``first_line``) -> ``output``.

    ``chunks``: (start, stop, lines) per batching window: byte offsets of a text file, rows of
    a parquet file."""

    input: str
    output: str
    first_line: int
    lines: int = 0
    tokens: int = 0
    sha256: str = ""
    chunks: list[list[int]] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "first_line": self.first_line,
            "lines": self.lines,
            "tokens": self.tokens,
            "input_sha256": self.sha256,
        }


def _decode(raw: bytes, path: Path, number: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path} line {number}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column "
            f"{exc.start + 1})"
        ) from None


def _empty_line(path: Path, number: int, what: str = "line") -> InputError:
    return InputError(
        f"{path} {what} {number} is empty (remove it, or pass --skip-empty to write an empty entry)"
    )


class _ShardCutter:
    """Cuts a stream of lines into shards and chunks, hashing each shard's bytes."""

    def __init__(self, path: Path, stem: str, suffix: str, shard_lines: int, chunk_lines: int):
        self.path, self.stem, self.suffix = path, stem, suffix
        self.shard_lines, self.chunk_lines = shard_lines, chunk_lines
        self.shards: list[Shard] = []
        self._hash = hashlib.sha256()

    def add(self, number: int, start: int, stop: int, data: bytes, tokens: int) -> None:
        """Line ``number`` (0-based) spanning [start, stop) (bytes or rows), its bytes."""
        if number % self.shard_lines == 0:
            self._close()
            self.shards.append(
                Shard(
                    str(self.path),
                    f"{self.stem}-{len(self.shards):05d}{self.suffix}",
                    first_line=number,
                )
            )
        shard = self.shards[-1]
        if shard.lines % self.chunk_lines == 0:
            shard.chunks.append([start, start, 0])
        chunk = shard.chunks[-1]
        chunk[1], chunk[2] = stop, chunk[2] + 1
        shard.lines += 1
        shard.tokens += tokens
        self._hash.update(data)

    def _close(self) -> None:
        if self.shards:
            self.shards[-1].sha256 = self._hash.hexdigest()
            self._hash = hashlib.sha256()

    def finish(self) -> list[Shard]:
        self._close()
        return self.shards


def _scan_text(path: Path, cutter: _ShardCutter, skip_empty: bool) -> None:
    offset = 0
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read input file ({exc.strerror})") from None
    with handle:
        for number, raw in enumerate(handle):
            words = _decode(raw, path, number + 1).split()
            if not words and not skip_empty:
                raise _empty_line(path, number + 1)
            cutter.add(number, offset, offset + len(raw), raw, len(words))
            offset += len(raw)


def _parquet_file(path: Path, text_column: str):
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError subclasses
        raise InputError(f"{path}: not a readable parquet file ({exc})") from None
    names = parquet.schema_arrow.names
    if text_column not in names:
        raise InputError(
            f"{path}: no column {text_column!r} (columns: {', '.join(names)}); pass --text-column"
        )
    return parquet


def _scan_parquet(path: Path, cutter: _ShardCutter, skip_empty: bool, text_column: str) -> None:
    parquet = _parquet_file(path, text_column)
    number = 0
    for batch in parquet.iter_batches(columns=[text_column], batch_size=65_536):
        for value in batch.column(0).to_pylist():
            if not isinstance(value, str):
                kind = "null" if value is None else type(value).__name__
                raise InputError(
                    f"{path} row {number}: column {text_column!r} is {kind}, expected text"
                )
            words = value.split()
            if not words and not skip_empty:
                raise _empty_line(path, number, "row")
            data = value.encode("utf-8")
            cutter.add(
                number, number, number + 1, len(data).to_bytes(8, "little") + data, len(words)
            )
            number += 1


def _input_file(given: str | os.PathLike) -> Path:
    path = Path(given)
    if not path.is_file():
        raise InputError(f"{given}: input file not found")
    return path


def plan_shards(
    inputs: Sequence[str | os.PathLike],
    output_suffix: str,
    shard_lines: int = SHARD_LINES,
    chunk_lines: int = CHUNK_LINES,
    skip_empty: bool = False,
    text_column: str = "text",
) -> list[Shard]:
    """Read and check every input once: -> its shards (``<stem>-00000<suffix>``, ...)."""
    shards: list[Shard] = []
    stems: dict[str, Path] = {}
    for given in inputs:
        path = _input_file(given).resolve()
        stem = path.stem
        if stem in stems:
            raise InputError(
                f"{given} and {stems[stem]} would both write shards named "
                f"{stem}-*{output_suffix}: rename one"
            )
        stems[stem] = Path(given)
        cutter = _ShardCutter(path, stem, output_suffix, shard_lines, chunk_lines)
        if path.suffix.lower() in PARQUET_SUFFIXES:
            _scan_parquet(path, cutter, skip_empty, text_column)
        else:
            _scan_text(path, cutter, skip_empty)
        shards.extend(cutter.finish())
    return shards


def count_lines(inputs: Sequence[str | os.PathLike], text_column: str = "text") -> int:
    """Lines of the text inputs plus rows of the parquet ones (newlines counted, not decoded)."""
    total = 0
    for given in inputs:
        path = _input_file(given)
        if path.suffix.lower() in PARQUET_SUFFIXES:
            total += _parquet_file(path, text_column).metadata.num_rows
            continue
        last = b"\n"
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                total += block.count(b"\n")
                last = block[-1:]
        total += last != b"\n"  # a last line without its newline
    return total


def auto_shard_lines(lines: int, chunk_lines: int = CHUNK_LINES) -> int:
    """The default ``shard_lines`` for a corpus of ``lines`` lines: ``SHARD_LINES``, or fewer
    so that the corpus makes ``MIN_SHARDS`` shards; a multiple of ``chunk_lines``. It depends
    on the inputs alone (never on the worker count), so a resumed run cuts the same shards."""
    per_shard = math.ceil(math.ceil(max(lines, 1) / MIN_SHARDS) / chunk_lines) * chunk_lines
    return min(SHARD_LINES, per_shard)


def read_chunk(path: str, start: int, stop: int, text_column: str = "text") -> list[str]:
    """The sentences of one chunk: bytes [start, stop) of a text file, rows of a parquet one."""
    if Path(path).suffix.lower() in PARQUET_SUFFIXES:
        parquet = _parquet_file(Path(path), text_column)
        texts: list[str] = []
        first = 0  # first row of the current row group
        for group in range(parquet.metadata.num_row_groups):
            rows = parquet.metadata.row_group(group).num_rows
            if first < stop and first + rows > start:
                values = parquet.read_row_group(group, columns=[text_column]).column(0)
                lo, hi = max(start, first) - first, min(stop, first + rows) - first
                texts.extend(values.slice(lo, hi - lo).to_pylist())
            first += rows
        return [text.strip() for text in texts]
    with open(path, "rb") as handle:
        handle.seek(start)
        data = handle.read(stop - start)
    return [
        raw.decode("utf-8").strip()
        for raw in data.split(b"\n")[: data.count(b"\n") + (not data.endswith(b"\n"))]
    ]


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_identity(model: str | os.PathLike | None) -> dict[str, str]:
    """{"model": name, "weights_sha256": ..., "model_sha256": ...} (all files that decide the
    vectors: options.json, weights.hdf5, and burn_in.txt / elmokit.json when present)."""
    from elmokit import hub

    name = str(model) if model is not None else hub.default_model()
    options_file, weight_file = hub.resolve(name)
    digest = hashlib.sha256()
    for path in (
        options_file,
        weight_file,
        Path(options_file).parent / "burn_in.txt",
        Path(options_file).parent / "elmokit.json",
    ):
        if Path(path).is_file():
            digest.update(Path(path).name.encode() + b"\0" + file_sha256(path).encode())
    return {
        "model": name,
        "weights_sha256": file_sha256(weight_file),
        "model_sha256": digest.hexdigest(),
    }


# ---------------------------------------------------------------------------- corpus: workers


class ShardEmbedWriter:
    """The worker actor of :func:`embed_corpus`: shard descriptors -> shards on disk.

    :meth:`write_shard` names a whole output shard (its input path, chunks and output name);
    the actor embeds it chunk by chunk and writes the shard itself, atomically, into
    ``out_dir`` (which every node must see: on a cluster, a shared filesystem), then returns
    only a small record (sentences, the output's size and SHA-256, the worker's pid). A word's
    char-CNN vector is a function of the word alone (checked per actor; where the check fails,
    the word cache is cleared at each shard's start) and the batching is fixed by
    ``chunk_lines``, so a shard's bytes are a pure function of its lines, whichever actor
    writes it and however often.
    After each chunk it tells ``board`` (a :class:`_Board` actor; progress and ``on_chunk``),
    given with each shard: an actor handle among the constructor's arguments would make Ray
    warn that a restart may fail (ray-project/ray#53727).
    """

    def __init__(
        self,
        model: str,
        output_format: str,
        mode: str,
        torch_threads: int,
        text_column: str,
        batch_size: int,
        model_sha256: str,
        out_dir: str,
    ) -> None:
        self.pid, self.error = os.getpid(), None
        if model_identity(model)["model_sha256"] != model_sha256:
            # raised by write_shard: Ray hands a task's exception to the driver whole, a
            # constructor's only as text
            self.error = ConfigError(
                f"model {model!r} on this node differs from the driver's "
                "(different weights): install the same model on every node"
            )
            return
        sentence = output_format == "sentence"
        self.embedder = ElmoBatchEmbedder(
            model,
            layer="average" if sentence else output_format,
            pooling="mean",
            mode=mode,
            torch_threads=torch_threads,
            output="sentence" if sentence else "tokens",
            tokenize="whitespace",
            batch_size=batch_size,
        )
        self.writer = _ParquetWriter if sentence else _Hdf5Writer
        self.text_column, self.out_dir = text_column, Path(out_dir)

    def write_shard(
        self, path: str, output: str, first_line: int, chunks: list[list[int]], board: Any = None
    ) -> dict[str, Any]:
        """Embed and write one shard -> {"lines", "output_bytes", "output_sha256", "pid"}."""
        if self.error is not None:
            raise self.error
        target = self.out_dir / output
        writer = self.writer(target, self.embedder.elmo.dim, first_line)
        try:
            for number, (start, stop, _) in enumerate(chunks):
                texts = read_chunk(path, start, stop, self.text_column)
                layers = self.embedder.embed_layers(texts, clear_cache=number == 0)
                writer.add(texts, [self.embedder.vectors(one) for one in layers])
                if board is not None:  # fire and forget: the driver polls the board
                    words = sum(len(text.split()) for text in texts)
                    board.chunk.remote(output, number, self.pid, len(texts), words)
            writer.finish()
        except BaseException:
            writer.abort()
            raise
        return {
            "lines": writer.count,
            "output_bytes": target.stat().st_size,
            "output_sha256": file_sha256(target),
            "pid": self.pid,
        }


class _Board:
    """A Ray actor the workers tell after each chunk and the driver drains (progress)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, int, int, int]] = []

    def chunk(self, output: str, chunk: int, pid: int, sentences: int, tokens: int) -> None:
        self.events.append((output, chunk, pid, sentences, tokens))

    def drain(self) -> list[tuple[str, int, int, int, int]]:
        events, self.events = self.events, []
        return events


# ---------------------------------------------------------------------------- corpus: writers


class _ShardWriter:
    """Writes one output shard atomically: open on the first chunk, commit on ``finish``."""

    def __init__(self, path: Path, dim: int, first_line: int) -> None:
        from elmokit.fileio import atomic_write

        self.path, self.dim, self.first_line = path, dim, first_line
        self._stack = contextlib.ExitStack()
        # no fsync: the manifest records the shard's SHA-256 and a resumed run re-hashes it,
        # so a shard lost to a power cut is redone (an fsync per shard is a disk wait in
        # every worker, most felt with the small shards of a small corpus)
        self._tmp = self._stack.enter_context(atomic_write(path, durable=False))
        self.count = 0
        try:
            self._open()
        except BaseException:
            self.abort()
            raise

    def _open(self) -> None:
        raise NotImplementedError

    def add(self, texts: list[str], vectors: list[np.ndarray]) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        self._close()
        self._stack.close()  # fsync + rename

    def abort(self) -> None:
        """Close and remove the temp file (an exception is passing through)."""
        exc = sys.exc_info()[1] or RuntimeError("aborted")
        self._stack.__exit__(type(exc), exc, exc.__traceback__)


class _Hdf5Writer(_ShardWriter):
    """The ``elmokit embed`` / ``allennlp elmo`` layout (see :mod:`elmokit.output`): dataset
    ``str(i)`` per line of the shard, plus ``sentence_to_index``; deterministic bytes."""

    def _open(self) -> None:
        import h5py

        from elmokit.output import SentenceIndex

        # fixed format bounds and no timestamps: a redone shard is the same bytes
        self._file = self._stack.enter_context(h5py.File(self._tmp, "w", libver=("v108", "latest")))
        self._index = SentenceIndex(self.path.parent)
        self._stack.callback(self._index.close)

    def add(self, texts: list[str], vectors: list[np.ndarray]) -> None:
        for text, data in zip(texts, vectors, strict=True):
            self._file.create_dataset(str(self.count), data=data, track_times=False)
            self._index.add(text)
            self.count += 1

    def _close(self) -> None:
        import h5py

        dataset = self._file.create_dataset(
            "sentence_to_index", (1,), dtype=h5py.string_dtype(), track_times=False
        )
        dataset[0] = self._index.to_json()


class _ParquetWriter(_ShardWriter):
    """Sentence vectors: columns ``line`` (0-based line/row of the input), ``text`` and
    ``embedding`` (D float32); one row group per chunk."""

    def _open(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._schema = pa.schema(
            [
                ("line", pa.int64()),
                ("text", pa.string()),
                ("embedding", pa.list_(pa.float32(), self.dim)),
            ]
        )
        self._writer = self._stack.enter_context(pq.ParquetWriter(self._tmp, self._schema))

    def add(self, texts: list[str], vectors: list[np.ndarray]) -> None:
        import pyarrow as pa

        flat = pa.array(np.concatenate(vectors) if vectors else np.zeros(0, np.float32))
        lines = np.arange(self.count, self.count + len(texts)) + self.first_line
        self._writer.write_table(
            pa.Table.from_arrays(
                [
                    pa.array(lines, pa.int64()),
                    pa.array(texts, pa.string()),
                    pa.FixedSizeListArray.from_arrays(flat, self.dim),
                ],
                schema=self._schema,
            )
        )
        self.count += len(texts)

    def _close(self) -> None:
        pass  # the ParquetWriter closes with the stack


# ---------------------------------------------------------------------------- corpus: driver


@dataclass
class CorpusSummary:
    out_dir: Path
    shards: int
    shards_written: int
    shards_skipped: int
    sentences: int
    tokens: int
    seconds: float
    workers: int
    worker_processes: int = 0  # distinct worker pids that sent chunks (restarts add some)

    def __str__(self) -> str:
        if not self.shards_written:
            return f"all {self.shards} shards in {self.out_dir} are already done"
        rate = self.tokens / self.seconds if self.seconds > 0 else 0.0
        return (
            f"wrote {self.shards_written} of {self.shards} shards to {self.out_dir} "
            f"({self.shards_skipped} already done): {self.sentences:,} sentences, "
            f"{self.tokens:,} tokens in {self.seconds:.1f}s with {self.workers} workers "
            f"({self.sentences / max(self.seconds, 1e-9):,.0f} sentences/s, {rate:,.0f} tokens/s)"
        )


class _Progress:
    """Sentences/s, tokens/s and ETA over all workers, one line every ``every`` seconds.

    Rates count from the first chunk's arrival (actor start and model load excluded), so the
    ETA does not carry the start-up time forward."""

    def __init__(self, sentences: int, tokens: int, enabled: bool, every: float = 2.0):
        self.total_sentences, self.total_tokens = sentences, tokens
        self.sentences = self.tokens = 0
        self.enabled, self.every = enabled, every
        self._last = time.perf_counter()
        self._first: tuple[float, int, int] | None = None  # (time, sentences, tokens) then

    def update(self, sentences: int, tokens: int) -> None:
        now = time.perf_counter()
        if self._first is None:
            self._first = (now, sentences, tokens)
        self.sentences += sentences
        self.tokens += tokens
        if self.enabled and (now - self._last >= self.every or self.tokens == self.total_tokens):
            self._last = now
            print(self.line(now), file=sys.stderr, flush=True)

    def line(self, now: float) -> str:
        since, first_sentences, first_tokens = self._first or (now, 0, 0)
        seconds = now - since
        sentences_s = (self.sentences - first_sentences) / seconds if seconds > 0 else 0.0
        tokens_s = (self.tokens - first_tokens) / seconds if seconds > 0 else 0.0
        eta = "?"
        if tokens_s > 0:
            minutes, secs = divmod(int((self.total_tokens - self.tokens) / tokens_s), 60)
            eta = f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"
        return (
            f"embed-corpus: {self.sentences:,}/{self.total_sentences:,} sentences, "
            f"{sentences_s:,.0f} sentences/s, {tokens_s:,.0f} tokens/s, ETA {eta}"
        )


def _settings(
    identity: dict[str, str],
    output_format: str,
    mode: str,
    shard_lines: int,
    chunk_lines: int,
    skip_empty: bool,
    text_column: str,
    batch_size: int,
) -> dict:
    """Everything that decides the output bytes (recorded in, and checked against, the
    manifest); the worker count and threads do not."""
    return {
        **identity,
        "output_format": output_format,
        "mode": mode,
        "shard_lines": shard_lines,
        "chunk_lines": chunk_lines,
        "skip_empty": skip_empty,
        "text_column": text_column,
        "batch_size": batch_size,
        "tokenizer": "whitespace",
        "word_cache": "batch-invariant words (else cleared per shard)",
        "sentence_vector": "layer average, mean over tokens"
        if output_format == "sentence"
        else None,
    }


def _read_manifest(path: Path, settings: dict) -> dict[str, dict]:
    """The shards ``path`` records (empty when absent); refuses a manifest whose settings
    differ from this run's."""
    if not path.is_file():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        old, shards = manifest["settings"], manifest["shards"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path}: not an embed-corpus manifest ({exc}); use another OUT_DIR"
        ) from None
    changed = [
        f"{key} {old.get(key)!r} -> {settings[key]!r}"
        for key in settings
        if old.get(key) != settings[key]
    ]
    if changed:
        raise ConfigError(
            f"{path.parent} holds output made with other settings ("
            f"{'; '.join(changed)}): use another OUT_DIR, or the same settings "
            "to resume"
        )
    return shards


def _write_manifest(path: Path, settings: dict, shards: dict[str, dict]) -> None:
    from elmokit.fileio import atomic_write

    text = json.dumps(
        {"version": MANIFEST_VERSION, "settings": settings, "shards": dict(sorted(shards.items()))},
        indent=1,
    )
    with atomic_write(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")


def _is_done(shard: Shard, record: dict | None, out_dir: Path) -> bool:
    """The manifest proves ``shard`` finished: same input bytes, output present, same hash."""
    if not record or record.get("input_sha256") != shard.sha256:
        return False
    if record.get("lines") != shard.lines:
        return False
    output = out_dir / shard.output
    return (
        output.is_file()
        and output.stat().st_size == record.get("output_bytes")
        and file_sha256(output) == record.get("output_sha256")
    )


@contextlib.contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
    """One run per OUT_DIR (released by the OS when the process dies, even by SIGKILL)."""
    handle = open(out_dir / LOCK_NAME, "a+")  # noqa: SIM115 (held for the whole run)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"{out_dir}: another embed-corpus run is writing here") from None
        yield
    finally:
        handle.close()


def _remove_stale_temps(out_dir: Path, names: set[str]) -> None:
    """Temp files (``<name>.<random>.tmp``) left by a run that was killed while writing."""
    for path in out_dir.glob("*.tmp"):
        if any(path.name.startswith(name + ".") for name in names):
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def _ray_session(address: str | None, num_cpus: int | None) -> Iterator[None]:
    """Ray as given (already initialised, or a cluster ``address``), else a local Ray for the
    run (shut down after it)."""
    import ray

    if ray.is_initialized():
        yield
        return
    if address:
        ray.init(address=address, logging_level=logging.WARNING)
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING)
    try:
        yield
    finally:
        ray.shutdown()


def _elmo_error_in(exc: BaseException) -> ElmoError | None:
    """The ElmoError a Ray task raised (Ray wraps it), if that is what ``exc`` is."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "cause", None) or exc.__cause__
        if isinstance(exc, ElmoError) and not isinstance(inner, ElmoError):
            return exc  # (a RayTaskError(ElmoError) is one too: its cause reads better)
        exc = inner
    return None


def embed_corpus(
    inputs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    model: str | os.PathLike | None = None,
    workers: int | None = None,
    output_format: str = "all",
    shard_lines: int | None = None,
    mode: str = "exact",
    ray_address: str | None = None,
    text_column: str = "text",
    skip_empty: bool = False,
    threads_per_worker: int = 1,
    batch_size: int = 64,
    chunk_lines: int = CHUNK_LINES,
    progress: bool | None = None,
    on_chunk: Callable[[str, int, int], None] | None = None,
) -> CorpusSummary:
    """Embed text files (one sentence per line, whitespace-tokenized) or parquet files (a
    ``text_column``) into ``out_dir``: one output shard per ``shard_lines`` input lines
    (default: :func:`auto_shard_lines`, 100,000 or fewer for a small corpus) and
    ``manifest.json``. Token formats ("all", "top", "average") write HDF5 in the
    ``elmokit embed`` layout, "sentence" writes parquet (layer average, mean over tokens).

    ``workers`` Ray actors (``threads_per_worker`` CPUs and torch threads each; default: all
    CPUs) each embed and write whole shards (in chunks of ``chunk_lines`` lines) into
    ``out_dir``, which on a multi-node cluster must be a filesystem every node shares; on a
    local Ray started for the run, or on the cluster at ``ray_address`` ("auto" or
    "host:port"), or the Ray this process already joined. Shards the manifest proves finished
    are skipped, others (re)done; a run killed at any point and run again writes the same
    bytes. ``on_chunk(output_name, chunk, worker_pid)`` is called in this thread soon after a
    worker has added a chunk to its shard's temp file.
    """
    from elmokit.inference import MODES

    if output_format not in CORPUS_FORMATS:
        raise InputError(
            f"output format {output_format!r} is not one of {', '.join(CORPUS_FORMATS)}"
        )
    if mode not in MODES:
        raise InputError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    for name, value in (
        ("shard_lines", shard_lines),
        ("chunk_lines", chunk_lines),
        ("threads_per_worker", threads_per_worker),
        ("batch_size", batch_size),
    ):
        if value is not None and value < 1:
            raise InputError(f"{name} must be at least 1, got {value}")
    if workers is not None and workers < 1:
        raise InputError(f"workers must be at least 1, got {workers}")
    if not inputs:
        raise InputError("no input files given")
    start = time.perf_counter()
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: OUT_DIR is a file")
    if shard_lines is None:
        shard_lines = auto_shard_lines(count_lines(inputs, text_column), chunk_lines)
    identity = model_identity(model)
    settings = _settings(
        identity, output_format, mode, shard_lines, chunk_lines, skip_empty, text_column, batch_size
    )
    suffix = ".parquet" if output_format == "sentence" else ".hdf5"
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / MANIFEST_NAME
    with _locked(out_dir):
        records = _read_manifest(manifest_path, settings)
        shards = plan_shards(inputs, suffix, shard_lines, chunk_lines, skip_empty, text_column)
        _remove_stale_temps(out_dir, {s.output for s in shards} | {MANIFEST_NAME})
        todo = [s for s in shards if not _is_done(s, records.get(s.output), out_dir)]
        for shard in todo:
            records.pop(shard.output, None)
        _write_manifest(manifest_path, settings, records)  # settings recorded before any work
        summary = CorpusSummary(
            out_dir,
            len(shards),
            len(todo),
            len(shards) - len(todo),
            sum(s.lines for s in todo),
            sum(s.tokens for s in todo),
            0.0,
            workers or 0,
        )
        if todo:
            summary.workers, summary.worker_processes = _run(
                todo,
                out_dir,
                manifest_path,
                settings,
                records,
                workers=workers,
                threads=threads_per_worker,
                ray_address=ray_address,
                batch_size=batch_size,
                text_column=text_column,
                progress=sys.stderr.isatty() if progress is None else progress,
                on_chunk=on_chunk,
            )
    summary.seconds = time.perf_counter() - start
    return summary


def _run(
    todo: list[Shard],
    out_dir: Path,
    manifest_path: Path,
    settings: dict,
    records: dict[str, dict],
    *,
    workers: int | None,
    threads: int,
    ray_address: str | None,
    batch_size: int,
    text_column: str,
    progress: bool,
    on_chunk: Callable[[str, int, int], None] | None,
) -> tuple[int, int]:
    """Have ``workers`` Ray actors embed and write the ``todo`` shards, one shard in flight
    each (Ray restarts a killed actor and retries its shard); record each finished one in the
    manifest. -> (workers, worker processes seen).

    Plain Ray actors and ``ray.wait``, not Ray Data: each task is a whole shard written by
    its worker, so Ray Data's streaming executor and helper actors add nothing here but their
    CPU (on 2 cores they took 0.15 core and the driver 10%: docs/scale.md)."""
    import ray

    local_cpus = None if workers is None else workers * threads
    with _ray_session(ray_address, local_cpus):
        if workers is None:
            workers = max(1, int(ray.cluster_resources().get("CPU", 1)) // threads)
        if len(todo) < workers:
            warnings.warn(
                f"{len(todo)} shard(s) to write for {workers} workers: only "
                f"{len(todo)} will work (a smaller --shard-lines cuts more shards)",
                ElmoWarning,
                stacklevel=3,
            )
        remote = ray.remote(num_cpus=threads, max_restarts=-1, max_task_retries=SHARD_RETRIES)
        actors = [
            remote(ShardEmbedWriter).remote(
                model=settings["model"],
                output_format=settings["output_format"],
                mode=settings["mode"],
                torch_threads=threads,
                text_column=text_column,
                batch_size=batch_size,
                model_sha256=settings["model_sha256"],
                out_dir=str(out_dir.resolve()),
            )
            for _ in range(min(workers, len(todo)))
        ]
        # after the workers: they take the worker processes Ray has started ahead (as many
        # as CPUs), the board waits for a new one (it is first needed a chunk later)
        board = ray.remote(num_cpus=0)(_Board).remote()
        meter = _Progress(sum(s.lines for s in todo), sum(s.tokens for s in todo), progress)
        chunks, reported = sum(len(s.chunks) for s in todo), 0
        newest: dict[str, int] = {}  # output shard -> its newest chunk reported
        pids: set[int] = set()
        waiting = list(reversed(todo))
        running: dict[Any, tuple[Any, Shard]] = {}  # result ref -> (actor, shard)

        def submit(actor: Any) -> None:
            if waiting:
                shard = waiting.pop()
                ref = actor.write_shard.remote(
                    shard.input, shard.output, shard.first_line, shard.chunks, board
                )
                running[ref] = (actor, shard)

        def poll_board() -> None:
            nonlocal reported
            for output, chunk, pid, sentences, tokens in ray.get(board.drain.remote()):
                pids.add(pid)
                if chunk > newest.get(output, -1):  # not a retried shard's chunk again
                    newest[output] = chunk
                    reported += 1
                    meter.update(sentences, tokens)
                if on_chunk is not None:
                    on_chunk(output, chunk, pid)

        try:
            for actor in actors:
                submit(actor)
            next_poll = time.monotonic() + BOARD_POLL_S
            while running:
                wait = max(0.0, next_poll - time.monotonic())
                ready, _ = ray.wait(list(running), num_returns=1, timeout=wait)
                if ready or time.monotonic() >= next_poll:  # a shard's chunks before it
                    poll_board()
                    next_poll = time.monotonic() + BOARD_POLL_S
                for ref in ready:
                    actor, shard = running.pop(ref)
                    try:
                        done = ray.get(ref)
                    except ray.exceptions.RayActorError as exc:  # not a task's own error
                        raise ElmoError(
                            f"{shard.output}: its worker died {SHARD_RETRIES + 1} times "
                            f"writing it (lines {shard.first_line + 1}-"
                            f"{shard.first_line + shard.lines} of {shard.input}); the last "
                            f"time: {str(exc).splitlines()[0]}"
                        ) from None
                    submit(actor)  # its next shard first: the actor need not wait for the manifest
                    _record(shard, done, out_dir, manifest_path, settings, records)
                    pids.add(int(done["pid"]))
            deadline = time.monotonic() + 5.0  # the last chunks' reports may be on their way
            while reported < chunks and time.monotonic() < deadline:
                time.sleep(0.05)
                poll_board()
        except BaseException as exc:
            cause = _elmo_error_in(exc)
            if cause is not None and cause is not exc:
                raise cause from None
            raise
        finally:
            for actor in actors:
                ray.kill(actor)
    # temp files of shards whose worker was killed mid-write (the retry wrote the shard)
    _remove_stale_temps(out_dir, {s.output for s in todo})
    return workers, len(pids)


def _record(
    shard: Shard,
    row: dict[str, Any],
    out_dir: Path,
    manifest_path: Path,
    settings: dict,
    records: dict[str, dict],
) -> None:
    """A worker wrote ``shard``: check the driver sees it, record it in the manifest."""
    output = out_dir / shard.output
    if int(row["lines"]) != shard.lines:
        raise ElmoError(
            f"{shard.output}: a worker wrote {row['lines']} sentences, expected {shard.lines}"
        )
    if not output.is_file() or output.stat().st_size != int(row["output_bytes"]):
        raise ConfigError(
            f"{output}: a worker (pid {row['pid']}) wrote this shard but the "
            "driver does not see it: on a multi-node cluster OUT_DIR must be on "
            "a filesystem every node shares"
        )
    records[shard.output] = {
        **shard.record(),
        "output": shard.output,
        "output_bytes": int(row["output_bytes"]),
        "output_sha256": str(row["output_sha256"]),
    }
    _write_manifest(manifest_path, settings, records)
