"""Pure-Python text processing for corpus building: clean, sentence-split, tokenize, dedupe,
shuffle into shards. No I/O except :func:`write_lines`; everything is deterministic.

>>> split_sentences("Mr. Darcy bowed. She smiled! Did he see? Yes.")
['Mr. Darcy bowed.', 'She smiled!', 'Did he see?', 'Yes.']
>>> sentence_lines("Don't panic. It is 3.5 km away.", min_tokens=3)
["Do n't panic .", 'It is 3.5 km away .']
"""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from elmokit.fileio import atomic_write

Tokenizer = Callable[[str], list[str]]

# ---------------------------------------------------------------------------------- tokenizer
_SIMPLE_TOKEN = re.compile(
    r"""(?:[A-Za-z]\.){2,}          # abbreviations: U.S. e.g.
      | \d+(?:[.,:/]\d+)*          # numbers: 3,000.50  10:30
      | n't\b | '(?:s|re|ve|ll|d|m)\b
      | [^\W\d_](?:\w|[-'](?=\w))*  # words with inner hyphens / apostrophes
      | \w+
      | \S""",
    re.VERBOSE | re.IGNORECASE,
)
_SIMPLE_NEG = re.compile(r"(?i)\b(\w+)(n't)\b")
_SIMPLE_CLITIC = re.compile(r"(?i)\b(\w+)('(?:s|re|ve|ll|d|m))\b")


def simple_tokenize(text: str) -> list[str]:
    """Fallback regex tokenizer, used only when ``elmokit.tokenize`` is not available: words,
    numbers, clitics split off (``don't`` -> ``do n't``), other characters one token each."""
    text = _SIMPLE_NEG.sub(r"\1 \2", text)
    text = _SIMPLE_CLITIC.sub(r"\1 \2", text)
    return _SIMPLE_TOKEN.findall(text)


def default_tokenizer() -> tuple[Tokenizer, str]:
    """The package tokenizer ``elmokit.tokenize.tokenize`` if present, else
    :func:`simple_tokenize`; returns ``(function, its dotted name)``."""
    try:
        from elmokit.tokenize import tokenize
    except ImportError:
        return simple_tokenize, "elmokit_corpus.text.simple_tokenize"
    return tokenize, "elmokit.tokenize.tokenize"


# ---------------------------------------------------------------------------------- cleaning
_DROP = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff\ufffd"), None)
_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi",
                            "\ufb04": "ffl"})
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_INNER_APOSTROPHE = re.compile(r"(?<=\w)[\u2019\u02bc](?=\w)")
_WS = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Normalise one paragraph: Unicode NFC, ligatures expanded, soft hyphens / zero-width /
    replacement characters and control characters removed, a typographic apostrophe inside a
    word made ASCII (``don’t`` -> ``don't``), whitespace collapsed.

    >>> clean_text("  e\u0301t\u00e9  \ufb01ne\u00a0don\u2019t\u200b  ")
    "\u00e9t\u00e9 fine don't"
    """
    text = unicodedata.normalize("NFC", text)
    text = text.translate(_DROP).translate(_LIGATURES)
    text = _CONTROL.sub(" ", text)
    text = _INNER_APOSTROPHE.sub("'", text)
    return _WS.sub(" ", text).strip()


# ---------------------------------------------------------------------------------- sentences
ABBREVIATIONS = frozenset("""
    mr mrs ms messrs dr prof rev revd hon st sr jr gen col capt lt sgt maj cmdr adm gov sen rep
    pres supt insp fr br sr mt ft vs viz cf al fig figs eq eqs ch sec secs vol vols no nos pp
    ed eds approx dept est inc ltd co corp bros jan feb mar apr jun jul aug sep sept oct nov
    dec mon tue wed thu fri sat sun
""".split())

# end punctuation, optional closing quotes/brackets, whitespace, then what may open a sentence
_BOUNDARY = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*\s+(?=[\"'\u201c\u2018(\[]*[A-Z0-9])")
_LAST_WORD = re.compile(r"(\S+)$")
_DOTTED = re.compile(r"(?:[a-z]\.)+[a-z]")  # e.g  i.e  u.s


def _is_abbreviation(segment: str) -> bool:
    """Does ``segment`` (text up to, not including, a final '.') end in an abbreviation?"""
    m = _LAST_WORD.search(segment)
    if not m:
        return False
    word = m.group(1).lstrip("\"'\u201c\u2018([").lower()
    if word in ABBREVIATIONS or _DOTTED.fullmatch(word):
        return True
    if len(word) == 1 and word.isalpha():  # an initial: "J. R. Smith"
        return True
    return word.isdigit() and segment.strip() == m.group(1)  # list numbering: "1. Install"


def split_sentences(text: str) -> list[str]:
    """Split a paragraph into sentences with a regex: a boundary is ``.``, ``!`` or ``?``
    (plus closing quotes/brackets) followed by whitespace and an upper-case letter, digit or
    opening quote, except after a known abbreviation, an initial or a dotted abbreviation.
    """
    out: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        punct = m.group(0)
        if punct[0] == "." and punct.rstrip().rstrip("\"'\u201d\u2019)]") == "." \
                and _is_abbreviation(text[start:m.start()]):
            continue
        sent = text[start:m.end()].strip()
        if sent:
            out.append(sent)
        start = m.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def chunk(tokens: list[str], max_tokens: int) -> list[list[str]]:
    """Cut a token list into pieces of at most ``max_tokens`` (the last may be shorter)."""
    if max_tokens <= 0:
        raise ValueError(f"max_tokens must be positive, got {max_tokens}")
    return [tokens[i:i + max_tokens] for i in range(0, len(tokens), max_tokens)] or [[]]


def sentence_lines(paragraph: str, tokenizer: Tokenizer = simple_tokenize, *,
                   min_tokens: int = 3, max_tokens: int = 200) -> list[str]:
    """A raw paragraph -> its sentences as whitespace-joined token lines: cleaned, split,
    tokenized; sentences longer than ``max_tokens`` are cut into pieces, and pieces with
    fewer than ``min_tokens`` tokens or no letter at all are dropped."""
    lines = []
    for sent in split_sentences(clean_text(paragraph)):
        for piece in chunk(tokenizer(sent), max_tokens):
            if len(piece) >= min_tokens and any(ch.isalpha() for tok in piece for ch in tok):
                lines.append(" ".join(piece))
    return lines


# ---------------------------------------------------------------------------------- dedupe
def line_key(line: str) -> int:
    """A stable 64-bit key of a line (blake2b), the same in every process and run."""
    return int.from_bytes(hashlib.blake2b(line.encode("utf-8"), digest_size=8).digest(), "big")


def dedupe(lines: Iterable[str], seen: set[int] | None = None) -> Iterator[str]:
    """Yield each line the first time it is seen (exact match). Pass a shared ``seen`` set to
    dedupe across calls (e.g. drop from the training text what the held-out text contains);
    it is updated in place.

    >>> list(dedupe(["a b", "c", "a b"]))
    ['a b', 'c']
    """
    seen = set() if seen is None else seen
    for line in lines:
        key = line_key(line)
        if key not in seen:
            seen.add(key)
            yield line


# ---------------------------------------------------------------------------------- shards
def shuffled_shards(lines: Iterable[str], shard_lines: int, seed: int) -> list[list[str]]:
    """Shuffle ``lines`` with ``random.Random(seed)`` and cut them into shards of
    ``shard_lines`` lines (the last may be shorter). The same input and seed always give the
    same shards."""
    if shard_lines <= 0:
        raise ValueError(f"shard_lines must be positive, got {shard_lines}")
    order = list(lines)
    random.Random(seed).shuffle(order)
    return [order[i:i + shard_lines] for i in range(0, len(order), shard_lines)]


def shard_name(index: int) -> str:
    """``0`` -> ``shard-000.txt``."""
    return f"shard-{index:03d}.txt"


def write_lines(path: Path, lines: Iterable[str]) -> int:
    """Write one line per item (UTF-8, ``\\n``) atomically (temp file + rename); return the
    number of lines written."""
    n = 0
    with atomic_write(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            if "\n" in line:
                raise ValueError(f"{path}: line {n + 1} contains a newline")
            f.write(line + "\n")
            n += 1
    return n
