"""Word vocabularies in bilm-tf's format: one token per line, ``<S>``, ``</S>``, ``<UNK>`` first,
then the words by descending count (ties: first seen). The sampled softmax's log-uniform
sampler relies on that order.
"""

from __future__ import annotations

import glob
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from elmokit.errors import InputError
from elmokit.fileio import write_text_atomic
from elmokit.tokenize import tokenize

BOS, EOS, UNK = "<S>", "</S>", "<UNK>"
SPECIALS = (BOS, EOS, UNK)
TOKENIZERS = ("whitespace", "elmokit")


def split_line(line: str, tokenizer: str = "whitespace") -> list[str]:
    """One line -> tokens: ``str.split`` for pre-tokenized text, or
    :func:`elmokit.tokenize.tokenize` for raw text (``tokenizer="elmokit"``)."""
    if tokenizer == "whitespace":
        return line.split()
    if tokenizer == "elmokit":
        return tokenize(line)
    raise InputError(f"unknown tokenizer {tokenizer!r}; use one of {', '.join(TOKENIZERS)}")


def expand_corpus(patterns: str | Iterable[str]) -> list[Path]:
    """Glob patterns / file names -> sorted list of existing files; a clear error when none."""
    if isinstance(patterns, (str, Path)):
        patterns = [str(patterns)]
    files: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(str(pattern), recursive=True))
        if not matches:
            raise InputError(f"corpus {pattern}: no such file (or the glob matches nothing)")
        for match in matches:
            path = Path(match)
            if path.is_dir():
                raise InputError(f"corpus {match}: is a directory; give a file glob like DIR/*.txt")
            files.append(path)
    return files


def iter_sentences(path: Path, tokenizer: str = "whitespace") -> Iterator[list[str]]:
    """Non-empty lines of ``path`` as token lists."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                tokens = split_line(line, tokenizer)
                if tokens:
                    yield tokens
    except OSError as exc:
        raise InputError(f"corpus {path}: cannot read ({exc})") from None


class Vocabulary:
    """Token <-> id, with ``<S>`` = 0, ``</S>`` = 1, ``<UNK>`` = 2.

    >>> vocab = Vocabulary(["<S>", "</S>", "<UNK>", "the", "cat"])
    >>> vocab.ids(["the", "dog"])
    [3, 2]
    """

    def __init__(self, tokens: list[str], where: str = "vocabulary") -> None:
        if list(tokens[:3]) != list(SPECIALS):
            missing = [s for s in SPECIALS if s not in tokens[:3]]
            raise InputError(
                f"{where}: the first three tokens must be <S>, </S>, <UNK> (bilm-tf layout); "
                + (f"missing {', '.join(missing)}" if missing else f"found {tokens[:3]}")
            )
        self.tokens = list(tokens)
        self.index = {}
        for i, token in enumerate(self.tokens):
            if token in self.index:
                raise InputError(f"{where}: line {i + 1}: duplicate token {token!r}")
            self.index[token] = i
        self.bos, self.eos, self.unk = 0, 1, 2

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.tokens == other.tokens

    def id(self, token: str) -> int:
        return self.index.get(token, self.unk)

    def ids(self, tokens: list[str]) -> list[int]:
        return [self.index.get(t, self.unk) for t in tokens]

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        """A vocabulary file: one token per line (a second column, e.g. a count, is ignored)."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: vocabulary file not found")
        tokens = []
        with open(path, encoding="utf-8") as handle:
            for n, line in enumerate(handle, 1):
                fields = line.split()
                if not fields:
                    raise InputError(f"{path}: line {n} is empty")
                tokens.append(fields[0])
        if not tokens:
            raise InputError(f"{path}: vocabulary file is empty")
        return cls(tokens, where=str(path))

    def save(self, path: str | Path) -> None:
        write_text_atomic(path, "".join(t + "\n" for t in self.tokens))


def count_words(files: list[Path], tokenizer: str = "whitespace") -> Counter:
    counts: Counter = Counter()
    for path in files:
        for tokens in iter_sentences(path, tokenizer):
            counts.update(tokens)
    return counts


def build_vocabulary(
    corpus: str | Iterable[str],
    min_count: int = 1,
    max_size: int | None = None,
    tokenizer: str = "whitespace",
) -> tuple[Vocabulary, Counter]:
    """Count words over the corpus files; keep those seen ``min_count`` times, at most
    ``max_size`` entries in all (the three specials included). Returns (vocab, counts)."""
    files = expand_corpus(corpus)
    counts = count_words(files, tokenizer)
    if not counts:
        raise InputError(f"corpus {', '.join(map(str, files))}: no tokens (empty corpus)")
    for special in SPECIALS:
        counts.pop(special, None)
    words = [w for w, c in counts.most_common() if c >= min_count]
    if max_size is not None:
        if max_size < 4:
            raise InputError(f"--max-size must be at least 4 (3 specials + 1 word), got {max_size}")
        words = words[: max_size - 3]
    return Vocabulary(list(SPECIALS) + words), counts
