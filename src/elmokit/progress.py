"""Progress bars for long work: tqdm on stderr, shown only when stderr is a terminal (unless
asked for), never on stdout, so piped output and logs stay clean.

>>> for batch in progress_bar(batches, desc="embedding", unit="batch"):   # None: on a tty
...     ...
>>> progress_bar(batches, progress=False)       # --quiet: no bar

Every long command (``classify``, ``evaluate``, ``plot``, ``neighbors``, ``perplexity``, ``embed``)
takes ``--quiet``; library calls take ``progress=None | True | False``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any


def want_progress(progress: bool | None) -> bool:
    """``progress`` as given, or (None) whether stderr is a terminal."""
    return sys.stderr.isatty() if progress is None else bool(progress)


def progress_bar(
    iterable: Iterable[Any] | None = None, *, progress: bool | None = None, **tqdm_kwargs: Any
) -> Any:
    """``tqdm(iterable, **tqdm_kwargs)`` on stderr, disabled unless :func:`want_progress`."""
    from tqdm import tqdm

    tqdm_kwargs.setdefault("file", sys.stderr)
    tqdm_kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, disable=not want_progress(progress), **tqdm_kwargs)
