"""The documented tokenizer for raw (untokenized) text.

A dependency-free, Penn-Treebank-like regex tokenizer: words (letters, digits, inner
hyphens/apostrophes/periods as in "U.S." or "e-mail"), numbers with separators ("3,000.50"),
clitics split off ("don't" -> "do n't", "John's" -> "John 's"), and every other
non-space character as its own token. ``tokenize("Don't panic, it's 3.5 km!")`` ->
``["Do", "n't", "panic", ",", "it", "'s", "3.5", "km", "!"]``.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(
    r"""
    (?:[A-Za-z]\.){2,}                 # abbreviations: U.S. e.g.
    | \d+(?:[.,:/]\d+)*               # numbers: 3,000.50  10:30  1/2
    | n't\b | N'T\b                   # negation clitic (after split below)
    | '(?:s|re|ve|ll|d|m|S|RE|VE|LL|D|M)\b   # clitics
    | [^\W\d_](?:[\w]|[-'’](?=\w))*    # words, with inner hyphens / apostrophes
    | \w+
    | \S                              # any other single character
    """,
    re.VERBOSE,
)
_NEG = re.compile(r"(?i)\b(\w+)(n't)\b")
_CLITIC = re.compile(r"(?i)\b(\w+)('(?:s|re|ve|ll|d|m))\b")


def tokenize(text: str) -> list[str]:
    """Split raw text into tokens (see the module docstring for the rules)."""
    text = _NEG.sub(r"\1 \2", text)
    text = _CLITIC.sub(r"\1 \2", text)
    return _TOKEN.findall(text)
