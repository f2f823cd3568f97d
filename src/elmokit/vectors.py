"""Static word vectors from an ELMo model: "a matrix like GloVe" for an embedding layer.

>>> from elmokit import Elmo
>>> elmo = Elmo.load("en-small")
>>> wv = elmo.word_vectors(["cell", "celll", "mitochondria"])   # context-free, any string
>>> wv.vectors.shape                                             # (V, P): the char-CNN vector
(3, 128)
>>> wv = elmo.word_vectors(sentences=open("corpus.txt"), layer="average", min_count=2)
>>> wv.most_similar("cell", k=3)                                 # corpus-pooled, (V, D)
[('cells', 0.91), ...]
>>> wv.save("vectors.txt")                   # word2vec text; "vectors.bin" binary; "x.npy" + vocab

Two kinds:

- **context-free** (:func:`context_free_vectors`): each word's layer-0 vector, the character
  CNN's output ``x`` for the word alone (layer 0 of ``embed_sentence`` is ``[x; x]``, so the
  same cosines in half the size). Any string gets one: out-of-vocabulary words and misspellings
  included.
- **corpus-pooled** (:func:`pooled_vectors`): the mean of each word's contextual vectors (a
  layer choice of :mod:`elmokit.layers`: an index, "top", "average", plain weights) over all its
  occurrences in a corpus, read as a stream (memory: one (V, D) sum).

Files: word2vec text (``V D`` header, then ``word v1 ... vD`` per line) and binary (the header,
then ``word`` + space + D little-endian float32 + newline per word), both loadable by gensim's
``KeyedVectors.load_word2vec_format``; or ``.npy`` (V, D) + ``.vocab.txt`` (one word a line).
A ``<file>.meta.json`` beside each records how the vectors were made (model, kind, layer).
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from elmokit.errors import InputError
from elmokit.fileio import atomic_write
from elmokit.layers import LayerSpec, combine_layers, layer_weights

FORMATS = ("word2vec", "word2vec-binary", "npy")


def format_for(path: str | os.PathLike) -> str:
    """The file format a path asks for: ``.bin`` binary word2vec, ``.npy`` npy, else text."""
    suffix = Path(path).suffix.lower()
    return "word2vec-binary" if suffix == ".bin" else "npy" if suffix == ".npy" else "word2vec"


@dataclass
class WordVectors:
    """``words`` (V,) and their float32 ``vectors`` (V, D); ``counts`` (V,) the occurrences a
    pooled vector averages (None when context-free); ``meta`` how they were made."""

    words: list[str]
    vectors: np.ndarray
    counts: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.vectors = np.asarray(self.vectors, dtype=np.float32)
        if self.vectors.ndim != 2 or len(self.words) != self.vectors.shape[0]:
            raise InputError(f"{len(self.words)} words but vectors of shape "
                             f"{self.vectors.shape}")  # fmt: skip
        self._index = {w: i for i, w in enumerate(self.words)}
        self._unit: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self._index

    def __getitem__(self, word: str) -> np.ndarray:
        if word not in self._index:
            raise InputError(f"{word!r} is not among the {len(self)} words")
        return self.vectors[self._index[word]]

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def most_similar(
        self, query: str | np.ndarray, k: int = 10, exclude: Iterable[str] = ()
    ) -> list[tuple[str, float]]:
        """A word or a (D,) vector -> the ``k`` nearest words by cosine, best first (a query
        word itself and ``exclude`` left out)."""
        skip = set(exclude)
        if isinstance(query, str):
            skip.add(query)
            query = self[query]
        query = np.asarray(query, dtype=np.float32)
        if query.shape != (self.dim,):
            raise InputError(f"query vector has shape {query.shape}, the vectors ({self.dim},)")
        if self._unit is None:
            norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
            self._unit = self.vectors / np.maximum(norms, 1e-12)
        sims = self._unit @ (query / max(float(np.linalg.norm(query)), 1e-12))  # (V,)
        out = []
        for i in np.argsort(-sims, kind="stable"):
            if self.words[i] not in skip:
                out.append((self.words[i], float(sims[i])))
                if len(out) == k:
                    break
        return out

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike, format: str | None = None) -> list[Path]:
        """Write ``path`` in ``format`` (default: by its suffix, see :func:`format_for`) and
        ``<path>.meta.json``; every file atomically. -> the paths written."""
        path = Path(path)
        format = format or format_for(path)
        if format not in FORMATS:
            raise InputError(f"format {format!r} is not one of {', '.join(FORMATS)}")
        written = []
        if format == "npy":
            path = path if path.suffix == ".npy" else path.with_name(path.name + ".npy")
            vocab = vocab_path(path)
            self._check_words(vocab, newline_only=True)
            with atomic_write(path) as tmp, tmp.open("wb") as out:
                np.save(out, self.vectors)
            with atomic_write(vocab) as tmp:
                tmp.write_text("".join(w + "\n" for w in self.words), encoding="utf-8")
            written += [path, vocab]
        else:
            self._check_words(path)
            with atomic_write(path) as tmp, tmp.open("wb") as out:
                out.write(f"{len(self)} {self.dim}\n".encode())
                for word, vector in zip(self.words, self.vectors, strict=True):
                    if format == "word2vec":
                        values = " ".join(f"{v:.9g}" for v in vector.tolist())  # exact float32
                        out.write(f"{word} {values}\n".encode())
                    else:
                        out.write(word.encode("utf-8") + b" " + vector.astype("<f4").tobytes()
                                  + b"\n")  # fmt: skip
            written.append(path)
        meta = {**self.meta, "format": format, "words": len(self), "dim": self.dim}
        meta_file = path.with_name(path.name + ".meta.json")
        with atomic_write(meta_file) as tmp:
            tmp.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        return [*written, meta_file]

    def _check_words(self, path: Path, newline_only: bool = False) -> None:
        for word in self.words:
            bad = (
                ("\n" in word or "\r" in word)
                if newline_only
                else (not word or any(c.isspace() for c in word))
            )
            if bad:
                raise InputError(
                    f"{path}: the word {word!r} cannot be written in this format "
                    "(empty or with whitespace)"
                )

    @classmethod
    def load(cls, path: str | os.PathLike, format: str | None = None) -> WordVectors:
        """Read what :meth:`save` wrote (and any word2vec text / binary file)."""
        path = Path(path)
        format = format or format_for(path)
        if not path.is_file():
            raise InputError(f"{path}: no such word-vector file")
        meta_file = path.with_name(path.name + ".meta.json")
        meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
        if format == "npy":
            vectors = np.load(path, allow_pickle=False)
            words = vocab_path(path).read_text(encoding="utf-8").split("\n")[: len(vectors)]
            return cls(words, vectors, meta=meta)
        with path.open("rb") as f:
            header = f.readline().split()
            try:
                count, dim = int(header[0]), int(header[1])
            except (IndexError, ValueError):
                raise InputError(f"{path} line 1: expected the header 'count dim'") from None
            words, vectors = [], np.zeros((count, dim), dtype=np.float32)
            for i in range(count):
                if format == "word2vec":
                    fields = f.readline().decode("utf-8").rstrip("\n").split(" ")
                    if len(fields) != dim + 1:
                        raise InputError(
                            f"{path} line {i + 2}: expected a word and {dim} "
                            f"numbers, got {len(fields)} fields"
                        )
                    words.append(fields[0])
                    vectors[i] = np.asarray(fields[1:], dtype=np.float32)
                else:
                    word = bytearray()
                    while (byte := f.read(1)) != b" ":
                        if not byte:
                            raise InputError(f"{path}: ends inside word {i + 1} of {count}")
                        word += byte
                    words.append(word.decode("utf-8").lstrip("\n"))
                    data = f.read(4 * dim)
                    if len(data) != 4 * dim:
                        raise InputError(f"{path}: ends inside vector {i + 1} of {count}")
                    vectors[i] = np.frombuffer(data, dtype="<f4")
        return cls(words, vectors, meta=meta)


def vocab_path(npy_path: Path) -> Path:
    """``vectors.npy`` -> ``vectors.vocab.txt``."""
    return npy_path.with_name(npy_path.name.removesuffix(".npy") + ".vocab.txt")


# ---------------------------------------------------------------------------- context-free
def context_free_vectors(elmo: Any, words: Iterable[str], batch_size: int = 512) -> WordVectors:
    """Each distinct word (in first-seen order) -> its char-CNN vector x, (V, P)."""
    import torch

    from elmokit.characters import batch_to_ids

    vocab = list(dict.fromkeys(words))
    if any(not isinstance(w, str) for w in vocab):
        raise InputError("words must be strings")
    max_chars = elmo.config.char_cnn.max_characters_per_token
    pieces = []
    with torch.inference_mode():
        for start in range(0, len(vocab), batch_size):
            chunk = [[w] for w in vocab[start : start + batch_size]]
            ids, _ = batch_to_ids(chunk, max_chars, add_boundaries=False)  # (N, 1, 50)
            ids_t = torch.from_numpy(ids[:, 0]).to(elmo.device)  # (N, 50)
            pieces.append(elmo.bilm.char_cnn.encode_words(ids_t).float().cpu().numpy())
    dim = elmo.config.lstm.projection_dim
    vectors = np.concatenate(pieces) if pieces else np.zeros((0, dim), np.float32)
    return WordVectors(vocab, vectors, None, {"kind": "context-free", "model": elmo.name,
                                              "layer": 0})  # fmt: skip


# ---------------------------------------------------------------------------- corpus-pooled
def pooled_vectors(
    elmo: Any,
    sentences: Iterable[str | Sequence[str]],
    layer: LayerSpec = "average",
    vocab: Iterable[str] | None = None,
    min_count: int = 1,
    lowercase: bool = False,
    batch_size: int = 64,
    max_tokens: int | None = 128,
    max_sentences: int | None = None,
    progress: bool = False,
) -> WordVectors:
    """The mean contextual vector of every word over its occurrences in ``sentences`` (token
    lists, or strings split as ``Elmo.embed_batch`` splits them), read as a stream.

    ``layer``: a layer choice (see :mod:`elmokit.layers`); ``vocab``: only these words (others
    still give context); ``lowercase``: pool "Cell" with "cell"; words seen fewer than
    ``min_count`` times are dropped. Sentences are cut to ``max_tokens``. Words come out most
    frequent first; ``counts`` holds the occurrences.
    """
    from elmokit.tokenize import as_tokens

    layer_weights(layer, elmo.num_layers)  # a bad layer fails before any work
    wanted = None if vocab is None else {w.lower() if lowercase else w for w in vocab}
    width = elmo.dim * (elmo.num_layers if layer == "concat" else 1)
    index: dict[str, int] = {}
    sums = np.zeros((1024, width), dtype=np.float64)
    counts = np.zeros(1024, dtype=np.int64)
    pending: deque[list[str]] = deque()

    def keys(tokens: list[str]) -> list[str]:
        return [t.lower() for t in tokens] if lowercase else tokens

    def stream() -> Iterator[list[str]]:
        for n, sentence in enumerate(sentences):
            if max_sentences is not None and n >= max_sentences:
                return
            tokens = as_tokens(sentence, f"sentence {n}")[:max_tokens]
            if not tokens or (wanted is not None and wanted.isdisjoint(keys(tokens))):
                continue
            pending.append(tokens)
            yield tokens

    embedded = elmo.embed_sentences(stream(), batch_size=batch_size, bucket_batches=8)
    if progress:
        from tqdm import tqdm

        embedded = tqdm(embedded, desc="pooling", unit=" sentences")
    sentences_read = 0
    for layers in embedded:  # (L, n, D), in input order
        tokens = pending.popleft()
        sentences_read += 1
        vectors = combine_layers(layers, layer)  # (n, D)
        for token, vector in zip(keys(tokens), vectors, strict=True):
            if wanted is not None and token not in wanted:
                continue
            row = index.setdefault(token, len(index))
            if row == len(counts):  # grow by doubling
                sums = np.concatenate([sums, np.zeros_like(sums)])
                counts = np.concatenate([counts, np.zeros_like(counts)])
            sums[row] += vector
            counts[row] += 1
    words = list(index)
    keep = [i for i in sorted(range(len(words)), key=lambda i: (-counts[i], words[i]))
            if counts[i] >= min_count]  # fmt: skip
    vectors = (
        (sums[keep] / counts[keep, None]).astype(np.float32)
        if keep
        else np.zeros((0, width), np.float32)
    )
    meta = {"kind": "pooled", "model": elmo.name, "layer": layer if isinstance(layer, (int, str))
            else [float(w) for w in layer], "lowercase": lowercase, "sentences": sentences_read,
            "min_count": min_count}  # fmt: skip
    return WordVectors([words[i] for i in keep], vectors, counts[keep], meta)


def word_vectors(
    elmo: Any,
    words: Iterable[str] | None = None,
    sentences: Iterable[str | Sequence[str]] | None = None,
    layer: LayerSpec = "average",
    **kwargs: Any,
) -> WordVectors:
    """What ``Elmo.word_vectors`` does: ``sentences`` given -> :func:`pooled_vectors` (with
    ``words`` as its vocabulary), else :func:`context_free_vectors` of ``words``."""
    if sentences is not None:
        return pooled_vectors(elmo, sentences, layer, vocab=words, **kwargs)
    if words is None:
        raise InputError("word_vectors: give words (context-free) or sentences (pooled)")
    return context_free_vectors(elmo, words, **kwargs)


def read_words(path: str | os.PathLike) -> list[str]:
    """A vocabulary file: one word a line (the first whitespace-separated field; so
    ``elmokit vocab`` output and ``word count`` lists both work); blank lines skipped."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such vocabulary file")
    with path.open(encoding="utf-8", errors="replace") as f:
        return [line.split()[0] for line in f if line.strip()]


def read_corpus(paths: Sequence[str | os.PathLike]) -> Iterator[list[str]]:
    """Text files, one whitespace-tokenized sentence per line -> token lists, streamed."""
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: no such corpus file")
        with path.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                yield line.split()
