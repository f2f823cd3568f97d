"""How a string becomes tokens: one rule for every entry point.

A token list is used as given. A string is split by ``tokenize``, which every text entry point
takes (``Elmo.embed_sentence / embed_batch / embed_sentences / embed_file / sentence_vectors``,
``elmokit embed --tokenize``, the server's ``"tokenize"`` field), with the same default:

- ``"whitespace"`` (default): the string is one pre-tokenized sentence, split on whitespace
  (``str.split``), as ``allennlp elmo`` reads its input files;
- ``"elmokit"``: the string is raw text, split by :func:`tokenize`.

>>> split_text("Don't panic.")
["Don't", 'panic.']
>>> split_text("Don't panic.", "elmokit")
['Do', "n't", 'panic', '.']

:func:`tokenize` is a dependency-free, Penn-Treebank-like regex tokenizer (the one the
bundled ``en-small`` training corpus was tokenized with): clitics split off ("don't" ->
"do n't", "John's" -> "John 's"); kept whole: URLs, e-mail addresses, numbers with
separators, decimals or exponents ("3,000.50", "1.2e3", "10:30"), dotted abbreviations
("U.S.", "e.g.") and common abbreviated titles ("Dr.", "Mr.", "etc."); words with inner
hyphens or apostrophes ("e-mail", "o'clock"); every other non-space character is its own
token.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from elmokit.errors import InputError

#: The values of every ``tokenize`` argument / ``--tokenize`` option (and of ``elmokit train
#: --tokenizer``), and their one default.
TOKENIZE_CHOICES = ("whitespace", "elmokit")
DEFAULT_TOKENIZE = "whitespace"

#: Abbreviations kept whole with their period (case-sensitive; "No." and "May." are left out:
#: they are as often a word at the end of a sentence).
ABBREVIATIONS = (
    "Mr Mrs Ms Dr Prof Sr Jr St Mt Rev Gen Col Lt Sgt Capt Gov Sen Rep Hon "
    "Inc Ltd Corp Co Bros vs etc al approx cf Fig Eq Vol Jan Feb Mar Apr Jun Jul Aug Sep Sept "
    "Oct Nov Dec"
).split()

_TOKEN = re.compile(
    r"""
    (?:https?|ftp)://[^\s<>"]*[^\s<>".,;:!?)\]'’]   # URLs, without trailing punctuation
    | www\.[^\s<>"]*[^\s<>".,;:!?)\]'’]
    | [\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}   # e-mail addresses
    | (?:"""
    + "|".join(ABBREVIATIONS)
    + r""")\.(?!\w)                     # abbreviated titles: Dr. etc.
    | (?:[A-Za-z]\.){2,}                 # dotted abbreviations: U.S. e.g.
    | \d+(?:st|nd|rd|th)\b               # ordinals: 2nd
    | \d+(?:[.,:/]\d+)*(?:[eE][-+]?\d+)?  # numbers: 3,000.50 10:30 1/2 1.2e3
    | n't\b | N'T\b                     # negation clitic (after the split below)
    | '(?:s|re|ve|ll|d|m|S|RE|VE|LL|D|M)\b   # clitics
    | [^\W\d_](?:[\w]|[-'’](?=\w))*      # words, with inner hyphens / apostrophes
    | \w+
    | \S                                # any other single character
    """,
    re.VERBOSE,
)
_NEG = re.compile(r"(?i)\b(\w+)(n't)\b")
_CLITIC = re.compile(r"(?i)\b(\w+)('(?:s|re|ve|ll|d|m))\b")
# URLs and e-mail addresses are protected from the clitic splits above
_PROTECTED = re.compile(r"(?:https?|ftp)://\S+|www\.\S+|[\w.%+-]+@\S+")


def tokenize(text: str) -> list[str]:
    """Split raw text into tokens (see the module docstring for the rules).

    >>> tokenize("Dr. Smith's e-mail is j.smith@example.com; see https://example.com/a?b=1.")
    ['Dr.', 'Smith', "'s", 'e-mail', 'is', 'j.smith@example.com', ';', 'see', \
'https://example.com/a?b=1', '.']
    """
    tokens: list[str] = []
    start = 0
    for match in _PROTECTED.finditer(text):  # clitic splits only outside URLs / addresses
        tokens += _tokenize_plain(text[start : match.start()])
        tokens += _TOKEN.findall(match.group())
        start = match.end()
    return tokens + _tokenize_plain(text[start:])


def _tokenize_plain(text: str) -> list[str]:
    text = _NEG.sub(r"\1 \2", text)
    text = _CLITIC.sub(r"\1 \2", text)
    return _TOKEN.findall(text)


_SPLITTERS = {"whitespace": str.split, "elmokit": tokenize}


def check_tokenize(tokenize: str) -> str:
    """``tokenize`` if it is one of :data:`TOKENIZE_CHOICES`, else a one-line InputError."""
    if tokenize not in TOKENIZE_CHOICES:
        raise InputError(
            f"tokenize {tokenize!r} is not one of {', '.join(TOKENIZE_CHOICES)} "
            "(whitespace: pre-tokenized text; elmokit: raw text)"
        )
    return tokenize


def split_text(text: str, tokenize: str = DEFAULT_TOKENIZE) -> list[str]:
    """One string -> its tokens: ``str.split`` (``"whitespace"``) or :func:`tokenize`
    (``"elmokit"``)."""
    return _SPLITTERS[check_tokenize(tokenize)](text)


def pretokenize(text: str, tokenize: str = DEFAULT_TOKENIZE) -> str:
    """``text`` as a whitespace-tokenized string: ``split_text(text, tokenize)`` joined by
    spaces (tokens never contain whitespace, so splitting it on whitespace gives them back)."""
    return " ".join(split_text(text, tokenize))


def as_tokens(
    sentence: str | Sequence[str], where: str = "sentence", tokenize: str = DEFAULT_TOKENIZE
) -> list[str]:
    """A token list -> its tokens; a string -> split by ``tokenize``: ``"whitespace"`` (the
    default: one pre-tokenized sentence) or ``"elmokit"`` (raw text,
    :func:`elmokit.tokenize.tokenize`). The one rule of every entry point:
    :mod:`elmokit.tokenize`."""
    if isinstance(sentence, str):
        return split_text(sentence, tokenize)
    if isinstance(sentence, (list, tuple)) and all(isinstance(t, str) for t in sentence):
        return list(sentence)
    if getattr(getattr(sentence, "dtype", None), "kind", None) in ("U", "O"):  # numpy strings
        return [str(t) for t in sentence.tolist()]
    raise InputError(
        f"{where}: expected a string or a list of token strings, got {type(sentence).__name__}"
    )
