"""``embed_file``: a text file of sentences -> HDF5, exactly as ``allennlp elmo`` wrote it.

Layout: one float32 dataset per input line, named by its 0-based line index as a string,
shape (3, n, D) for ``all`` or (n, D) for ``top`` / ``average``; plus ``sentence_to_index``,
a 1-element string dataset holding a JSON object {sentence text: key} (a repeated sentence maps
to its last line, as in AllenNLP).

The input is checked completely (UTF-8, empty lines) before any work, and the output is
written to a temporary file next to the target and renamed only when complete. Memory stays
flat however long the file: sentences stream through in windows, and ``sentence_to_index`` is
spooled to an unnamed temporary file and assembled only at the end (see :class:`SentenceIndex`).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from elmokit.errors import InputError
from elmokit.layers import OUTPUT_FORMATS, select_output

if TYPE_CHECKING:
    from elmokit.embedder import Elmo


@dataclass
class EmbedFileSummary:
    output_path: Path
    sentences: int
    tokens: int
    seconds: float
    output_format: str
    dim: int

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else float("inf")

    def __str__(self) -> str:
        shape = "(3, n, D)" if self.output_format == "all" else "(n, D)"
        return (
            f"wrote {self.sentences} sentences ({self.tokens} tokens) to {self.output_path}: "
            f"one dataset {shape} per line, D={self.dim}, format {self.output_format!r}, "
            f"{self.seconds:.2f}s, {self.tokens_per_second:.0f} tokens/s"
        )


class SentenceIndex:
    """``sentence_to_index`` for a stream of any length, without a dict of every sentence.

    Each sentence's JSON-escaped text goes to an unnamed temporary file (one line each) and an
    8-byte hash of it to a numpy array (8 bytes per sentence in memory). :meth:`to_json` keeps,
    for every text, its last line (a dict assignment's result, AllenNLP's semantics): hashes
    that occur more than once are resolved by comparing the texts themselves, so a hash
    collision cannot merge two sentences.
    """

    def __init__(self, directory: Path, capacity: int = 1024) -> None:
        self._directory = directory
        self._file = tempfile.TemporaryFile(dir=directory)  # deleted when closed
        self._hashes = np.empty(max(1, capacity), dtype=np.uint64)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, text: str) -> None:
        """Record ``text`` as the sentence of the next key (0, 1, 2, ...)."""
        if self._count == len(self._hashes):
            self._hashes = np.resize(self._hashes, 2 * len(self._hashes))
        digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
        self._hashes[self._count] = int.from_bytes(digest, "little")
        self._count += 1
        self._file.write(json.dumps(text).encode("ascii") + b"\n")  # escapes newlines

    def to_json(self) -> bytes:
        """The JSON object {sentence: key}, in line order of each sentence's last occurrence."""
        n = self._count
        hashes = self._hashes[:n]
        unique, first_from_end, counts = np.unique(
            hashes[::-1], return_index=True, return_counts=True
        )
        keep = np.zeros(n, dtype=bool)
        keep[n - 1 - first_from_end] = True
        repeated = np.isin(hashes, unique[counts > 1])
        self._file.flush()
        if repeated.any():  # duplicates (or a collision): decide by the text itself
            last: dict[bytes, int] = {}
            self._file.seek(0)
            for index, line in enumerate(self._file):
                if repeated[index]:
                    last[line] = index
            keep[repeated] = False
            keep[list(last.values())] = True
        # assembled in a second spool file: in memory only once, at its final size
        self._file.seek(0)
        with tempfile.TemporaryFile(dir=self._directory) as out:
            out.write(b"{")
            separator = b""
            for index, line in enumerate(self._file):
                if keep[index]:
                    out.write(separator + line[:-1] + b': "' + str(index).encode("ascii") + b'"')
                    separator = b", "
            out.write(b"}")
            out.seek(0)
            return out.read()

    def close(self) -> None:
        self._file.close()


def scan_lines(path: Path, skip_empty: bool = False) -> tuple[int, int]:
    """Check a sentence file; -> (lines, tokens). Errors name the file and the 1-based line."""
    lines = tokens = 0
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise InputError(f"{path}: input file not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read input file ({exc.strerror})") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{path} line {number}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} "
                    f"at column {exc.start + 1})"
                ) from None
            words = text.split()
            if not words and not skip_empty:
                raise InputError(
                    f"{path} line {number} is empty (remove it, or pass --skip-empty to "
                    "write an empty entry)"
                )
            lines += 1
            tokens += len(words)
    return lines, tokens


def _read_sentences(path: Path) -> Iterator[tuple[str, list[str]]]:
    with path.open("r", encoding="utf-8", newline="\n") as handle:
        for line in handle:
            text = line.strip()
            yield text, text.split()


def write_embeddings_hdf5(
    elmo: Elmo,
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    output_format: str = "all",
    batch_size: int = 64,
    skip_empty: bool = False,
    progress: bool | None = None,
    bucket_batches: int = 8,
) -> EmbedFileSummary:
    import h5py
    from tqdm import tqdm

    if output_format not in OUTPUT_FORMATS:
        raise InputError(
            f"output format {output_format!r} is not one of {', '.join(OUTPUT_FORMATS)}"
        )
    input_path, output_path = Path(input_path), Path(output_path)
    n_lines, n_tokens = scan_lines(input_path, skip_empty)
    if output_path.is_dir():
        raise InputError(f"{output_path}: output path is a directory")
    output_path.parent.mkdir(parents=True, exist_ok=True)
    from elmokit.fileio import atomic_write  # temp file next to the target, renamed when done

    if progress is None:
        progress = sys.stderr.isatty()
    start = time.perf_counter()
    sentence_to_index = SentenceIndex(output_path.parent, capacity=n_lines)
    texts: deque[str] = deque()  # read but not yet written (streams: memory stays flat)

    def token_lists() -> Iterator[list[str]]:
        for text, tokens in _read_sentences(input_path):
            texts.append(text)
            yield tokens

    try:
        with (
            atomic_write(output_path) as tmp,
            # new-style groups (HDF5 >= 1.8): with one dataset per line, the default old-style
            # group kept growing in memory (+75 MB over 600k datasets; flat with these)
            h5py.File(tmp, "w", libver=("v108", "latest")) as out,
            tqdm(total=n_tokens, unit="tok", unit_scale=True, disable=not progress) as bar,
        ):
            # length bucketing over `bucket_batches` batches (stateless; output order unchanged):
            # 8 x 64 sentences ahead measured ~5% faster than 4 with the original model
            embedded = elmo.embed_sentences(token_lists(), batch_size=batch_size,
                                            bucket_batches=bucket_batches)
            for index, layers in enumerate(embedded):
                key = str(index)
                data = select_output(layers, output_format).astype(np.float32, copy=False)
                out.create_dataset(key, data=data)
                sentence_to_index.add(texts.popleft())
                bar.update(layers.shape[1])
            dataset = out.create_dataset("sentence_to_index", (1,), dtype=h5py.string_dtype())
            dataset[0] = sentence_to_index.to_json()
    finally:
        sentence_to_index.close()
    return EmbedFileSummary(
        output_path, n_lines, n_tokens, time.perf_counter() - start, output_format, elmo.dim
    )
