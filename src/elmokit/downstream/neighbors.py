"""Nearest contextual neighbours: which other occurrences of a word are used in the same
sense? And character-based neighbours for out-of-vocabulary or misspelled words.

>>> index = ContextIndex.build(elmo, corpus_sentences, words={"cell"})
>>> index.query("I lost my cell phone on the bus", "cell", k=5)
[Neighbor(score=0.93, sentence=[...], position=3), ...]
>>> print(find_neighbors("cell", corpus=["news.txt"]))     # what ``elmokit neighbors`` prints

Vectors are L2-normalised; search is cosine over an hnswlib HNSW index (exact brute force
with numpy when hnswlib is missing or the index is small).
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from elmokit.downstream.pooling import LayerSpec, combine_layers
from elmokit.errors import InputError
from elmokit.tokenize import as_tokens


@dataclass
class Neighbor:
    """One hit: cosine ``score``, the ``sentence`` tokens and the word's ``position`` in it."""

    score: float
    sentence: list[str]
    position: int

    def highlighted(self, width: int = 12) -> str:
        """The sentence with the word in [brackets], cut to ``width`` tokens each side."""
        lo, hi = max(0, self.position - width), self.position + width + 1
        toks = list(self.sentence[lo:hi])
        toks[self.position - lo] = f"[{toks[self.position - lo]}]"
        return ("... " if lo else "") + " ".join(toks) + (" ..." if hi < len(self.sentence) else "")


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


class VectorIndex:
    """Cosine nearest-neighbour search over (N, D) vectors: hnswlib when available and N is
    large, else exact numpy."""

    def __init__(self, vectors: np.ndarray, exact_below: int = 5000) -> None:
        self.vectors = _normalise(np.asarray(vectors, dtype=np.float32))
        self._hnsw = None
        if len(self.vectors) >= exact_below:
            try:
                import hnswlib
            except ImportError:
                return
            n, dim = self.vectors.shape
            index = hnswlib.Index(space="cosine", dim=dim)
            index.init_index(max_elements=n, ef_construction=200, M=16, random_seed=0)
            index.add_items(self.vectors, np.arange(n))
            index.set_ef(100)
            self._hnsw = index

    def __len__(self) -> int:
        return len(self.vectors)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Query (D,) -> (ids (k,), cosine similarities (k,)), best first."""
        k = min(k, len(self.vectors))
        if k == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q = _normalise(np.asarray(query, dtype=np.float32)[None])[0]
        if self._hnsw is not None:
            ids, dist = self._hnsw.knn_query(q[None], k=k)
            return ids[0].astype(np.int64), (1.0 - dist[0]).astype(np.float32)
        sims = self.vectors @ q
        ids = np.argsort(-sims, kind="stable")[:k]
        return ids, sims[ids]


class ContextIndex:
    """Contextual vectors of word occurrences in a corpus, searchable by cosine similarity."""

    def __init__(self, elmo: Any, layer: LayerSpec = "top") -> None:
        self.elmo = elmo
        self.layer = layer
        self.sentences: list[list[str]] = []
        self.positions: list[tuple[int, int]] = []  # (sentence id, token position)
        self.index: VectorIndex | None = None

    @classmethod
    def build(
        cls,
        elmo: Any,
        sentences: Iterable[str | Sequence[str]],
        words: set[str] | None = None,
        layer: LayerSpec = "top",
        batch_size: int = 32,
        lowercase: bool = True,
        progress: bool | None = None,
    ) -> ContextIndex:
        """Embed ``sentences`` and index every token (or only tokens in ``words``, compared
        lowercased when ``lowercase``). Sentences without such a token are skipped.
        ``progress``: a bar of sentences read (None: on a terminal)."""
        from elmokit.progress import progress_bar

        self = cls(elmo, layer)
        wanted = None if words is None else {w.lower() if lowercase else w for w in words}
        vectors: list[np.ndarray] = []
        chunk: list[list[str]] = []

        def flush() -> None:
            for tokens, layers in zip(chunk, elmo.embed_batch(chunk), strict=True):
                sid = len(self.sentences)
                self.sentences.append(tokens)
                vecs = combine_layers(layers, layer)
                for pos, tok in enumerate(tokens):
                    key = tok.lower() if lowercase else tok
                    if wanted is None or key in wanted:
                        self.positions.append((sid, pos))
                        vectors.append(vecs[pos])
            chunk.clear()

        for sentence in progress_bar(sentences, progress=progress, desc="indexing",
                                     unit="sentence"):  # fmt: skip
            tokens = as_tokens(sentence)
            if not tokens:
                continue
            if wanted is not None and not any(
                (t.lower() if lowercase else t) in wanted for t in tokens
            ):
                continue
            chunk.append(tokens)
            if len(chunk) == batch_size:
                flush()
        if chunk:
            flush()
        dim = elmo.dim * (elmo.num_layers if layer == "concat" else 1)
        matrix = np.stack(vectors) if vectors else np.zeros((0, dim), dtype=np.float32)
        self.index = VectorIndex(matrix)
        return self

    def __len__(self) -> int:
        return len(self.positions)

    def vector(
        self, sentence: str | Sequence[str], word: str | int
    ) -> tuple[list[str], int, np.ndarray]:
        """The contextual vector of ``word`` (a token, matched case-insensitively, or a
        position) in ``sentence`` -> (tokens, position, (D,) vector)."""
        tokens = as_tokens(sentence)
        if isinstance(word, int):
            pos = word
            if not 0 <= pos < len(tokens):
                raise InputError(f"position {pos} is outside the sentence ({len(tokens)} tokens)")
        else:
            hits = [i for i, t in enumerate(tokens) if t.lower() == word.lower()]
            if not hits:
                raise InputError(f"{word!r} does not occur in the sentence {' '.join(tokens)!r}")
            pos = hits[0]
        layers = self.elmo.embed_batch([tokens])[0]
        return tokens, pos, combine_layers(layers, self.layer)[pos]

    def query(
        self, sentence: str | Sequence[str], word: str | int, k: int = 5, exclude_same: bool = True
    ) -> list[Neighbor]:
        """Nearest indexed occurrences to ``word`` in ``sentence``, best first. An indexed
        occurrence in an identical sentence is skipped when ``exclude_same``."""
        tokens, _, vec = self.vector(sentence, word)
        assert self.index is not None
        ids, sims = self.index.search(vec, k + 5 if exclude_same else k)
        out = []
        for i, s in zip(ids, sims, strict=True):
            sid, pos = self.positions[int(i)]
            if exclude_same and self.sentences[sid] == tokens:
                continue
            out.append(Neighbor(float(s), self.sentences[sid], pos))
        return out[:k]


def read_sentences(
    paths: Iterable[str | os.PathLike],
    max_sentences: int | None = None,
    contains: set[str] | None = None,
    max_tokens: int = 80,
) -> list[list[str]]:
    """Text files, one sentence per line (whitespace-tokenized) -> token lists.

    ``contains``: keep only lines with one of these words (lowercased). Lines longer than
    ``max_tokens`` are skipped (keeps ELMo fast; corpora are one sentence per line)."""
    from elmokit.vectors import read_corpus

    out: list[list[str]] = []
    wanted = {w.lower() for w in contains} if contains else None
    for tokens in read_corpus(list(paths)):
        if not tokens or len(tokens) > max_tokens:
            continue
        if wanted is not None and not any(t.lower() in wanted for t in tokens):
            continue
        out.append(tokens)
        if max_sentences is not None and len(out) >= max_sentences:
            break
    return out


def vocabulary(
    sentences: Iterable[Sequence[str]], size: int = 20000, min_count: int = 2
) -> list[str]:
    """The ``size`` most frequent tokens (alphabetic, count >= ``min_count``)."""
    counts = Counter(t for s in sentences for t in s if t.isalpha())
    return [w for w, c in counts.most_common(size) if c >= min_count]


class WordIndex:
    """Context-free neighbours from ELMo's character layer (layer 0): each vocabulary word is
    embedded on its own, so any string — "recieve", "embeddingz" — gets a vector from its
    characters and can be matched to known words."""

    def __init__(self, elmo: Any, vocab: Sequence[str], batch_size: int = 256) -> None:
        self.elmo = elmo
        self.vocab = list(vocab)
        vecs = [
            self._vectors(self.vocab[i : i + batch_size])
            for i in range(0, len(self.vocab), batch_size)
        ]
        matrix = np.concatenate(vecs) if vecs else np.zeros((0, elmo.dim), dtype=np.float32)
        self.index = VectorIndex(matrix)

    def _vectors(self, words: Sequence[str]) -> np.ndarray:
        layers = self.elmo.embed_batch([[w] for w in words])
        return np.stack([layer[0, 0] for layer in layers])

    def query(self, word: str, k: int = 5) -> list[tuple[str, float]]:
        """-> [(vocabulary word, cosine)], best first, ``word`` itself excluded."""
        ids, sims = self.index.search(self._vectors([word])[0], k + 1)
        return [
            (self.vocab[i], float(s))
            for i, s in zip(ids, sims, strict=True)
            if self.vocab[i] != word
        ][:k]


def _model_texts(elmo: Any) -> tuple[list[str], list[list[str]]]:
    """The model's own alphabetic vocabulary (``vocab.txt``, most frequent first) and its
    burn-in sentences (``burn_in.txt``), when its directory has them; else empty lists."""
    from elmokit import hub
    from elmokit.errors import ElmoError

    try:
        directory = Path(hub.resolve(elmo.name or "")[0]).parent
    except (ElmoError, OSError):
        return [], []
    vocab_file, burn_in = directory / "vocab.txt", directory / "burn_in.txt"
    vocab = (
        [w for w in vocab_file.read_text(encoding="utf-8").split() if w.isalpha()]
        if vocab_file.is_file()
        else []
    )
    lines = burn_in.read_text(encoding="utf-8").splitlines() if burn_in.is_file() else []
    return vocab, [line.split() for line in lines if line.strip()]


@dataclass
class NeighborsReport:
    """What :func:`find_neighbors` found; ``str(report)`` is the ``elmokit neighbors`` text.

    ``queries``: (sentence, nearest occurrences of ``word`` elsewhere, best first) per query
    sentence; ``spelling``: nearest words by the character layer among ``vocab_size`` words
    (None when skipped)."""

    word: str
    model: str
    layer: str
    source: str
    indexed: int
    queries: list[tuple[str, list[Neighbor]]]
    vocab_size: int = 0
    spelling: list[tuple[str, float]] | None = None
    # --words: per query sentence, the vocabulary words whose pooled vectors (same layer) are
    # nearest to that occurrence's vector; ``pooled`` says over what they were pooled
    words: list[list[tuple[str, float]]] | None = None
    pooled: str = ""

    def __str__(self) -> str:
        lines = [
            f"# {self.indexed} occurrences of {self.word!r} indexed ({self.source}; "
            f"model {self.model}, layer {self.layer})"
        ]
        for q, (sentence, hits) in enumerate(self.queries):
            lines += ["", sentence]
            if not self.indexed:
                lines.append("  (no occurrences to compare with)")
            lines += [f"  {hit.score:.3f}  {hit.highlighted()}" for hit in hits]
            if self.words is not None:
                found = ", ".join(f"{w} ({s:.3f})" for w, s in self.words[q]) or "(none)"
                lines.append(f"  nearest words ({self.pooled}): {found}")
        if self.spelling is not None:
            found = ", ".join(f"{w} ({s:.3f})" for w, s in self.spelling)
            lines += [
                "",
                f"character-layer neighbours of {self.word!r} among "
                f"{self.vocab_size} words: {found}",
            ]
        return "\n".join(lines)


def find_neighbors(
    word: str,
    sentences: Sequence[str] = (),
    corpus: Sequence[str | os.PathLike] = (),
    k: int = 5,
    layer: LayerSpec = "top",
    max_sentences: int = 2000,
    vocab_size: int = 5000,
    model: Any = None,
    words: bool = False,
    word_vectors: Any = None,
    progress: bool | None = None,
) -> NeighborsReport:
    """Nearest occurrences of ``word`` in other sentences (its senses), and its nearest
    vocabulary words by the character layer (``vocab_size=0`` skips those).

    ``words``: also rank vocabulary words by the cosine of their corpus-pooled vectors
    (:func:`elmokit.vectors.pooled_vectors`, same ``layer``) to each query occurrence's vector
    ("cell" in "a blood cell divides" -> biology, nucleus, ...). They are ``word_vectors`` (a
    :class:`~elmokit.vectors.WordVectors` or a file ``elmokit vectors`` wrote) or else pooled
    here over the searched sentences (up to 50,000 corpus lines).

    ``sentences``: query sentences containing ``word`` (default: one built-in example per sense
    of cell / mouse / bank / bucket, else ``word`` alone). ``corpus``: text files, one
    tokenized sentence per line, of which at most ``max_sentences`` containing ``word`` are
    indexed (default: the built-in sense sentences). ``layer``: a layer spec, or its text
    0|1|2|top|average|w0,w1,w2.
    ``model``: an :class:`~elmokit.Elmo`, a name or directory, or None (the bundled one)."""
    from elmokit.downstream.features import parse_layer
    from elmokit.downstream.models import load_model
    from elmokit.downstream.senses import SENSES, sense_sentences

    elmo = load_model(model)
    builtin = [s.split() for _, _, s in sense_sentences()]
    own_vocab, burn_in = _model_texts(elmo)
    if corpus:
        indexed = read_sentences(corpus, max_sentences, {word})
    else:
        builtin += burn_in
        indexed = [s for s in builtin if word.lower() in (t.lower() for t in s)]
        spelling = (
            f"the model's own {min(vocab_size, len(own_vocab))}-word vocabulary"
            if own_vocab
            else "the words of those sentences"
        )
        warnings.warn(
            f"no --corpus: searching {len(indexed)} built-in sentence(s) with "
            f"{word!r} (sense examples and the model's burn-in text) and, for spelling "
            f"neighbours, {spelling}; pass --corpus FILE (one sentence per line) to "
            "search your own text",
            stacklevel=2,
        )
    if not sentences:
        sentences = [senses[0] for senses in SENSES[word].values()] if word in SENSES else [word]
    spec = parse_layer(layer) if isinstance(layer, str) else layer
    index = ContextIndex.build(elmo, indexed, {word}, spec, progress=progress)
    queries = [(s, index.query(s, word, k) if len(index) else []) for s in sentences]
    report = NeighborsReport(
        word,
        elmo.name,
        str(layer),
        "corpus" if corpus else "built-in sense sentences",
        len(index),
        queries,
    )
    if vocab_size > 0:
        if corpus or not own_vocab:
            source = read_sentences(corpus, 50000) if corpus else builtin
            vocab = vocabulary(source, vocab_size, min_count=2 if corpus else 1)
        else:
            vocab = own_vocab[:vocab_size]
        words_index = WordIndex(elmo, vocab)
        report.vocab_size, report.spelling = len(words_index.vocab), words_index.query(word, k)
    if words:
        pool = read_sentences(corpus, 50000) if corpus else builtin
        vectors, report.pooled = _pooled_words(elmo, spec, word_vectors, pool)
        report.words = [vectors.most_similar(index.vector(s, word)[2], k,
                                             exclude={word, word.lower()})
                        for s, _ in queries]  # fmt: skip
    return report


def _pooled_words(elmo: Any, layer: LayerSpec, given: Any, sentences: list[list[str]]):
    """(WordVectors of alphabetic words, a description) for ``find_neighbors(words=True)``."""
    from elmokit.vectors import WordVectors, pooled_vectors

    if given is None:
        vectors = pooled_vectors(elmo, sentences, layer, lowercase=True)
        what = f"pooled over {vectors.meta['sentences']} sentences"
    else:
        vectors = given if isinstance(given, WordVectors) else WordVectors.load(given)
        made = vectors.meta.get("layer")
        if made is not None and made != layer:
            raise InputError(
                f"the word vectors were pooled at layer {made!r}, the query "
                f"uses layer {layer!r}: pass the same --layer"
            )
        what = f"{len(vectors)} given word vectors"
        if vectors.dim != elmo.dim * (elmo.num_layers if layer == "concat" else 1):
            raise InputError(
                f"the word vectors have {vectors.dim} dims, the query layer "
                f"{layer!r} gives {elmo.dim}: use corpus-pooled vectors"
            )
    keep = [i for i, w in enumerate(vectors.words) if w.isalpha()]
    vectors = WordVectors([vectors.words[i] for i in keep], vectors.vectors[keep],
                          meta=vectors.meta)  # fmt: skip
    return vectors, f"{what}, {len(vectors)} words"
