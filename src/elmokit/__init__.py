"""elmokit: ELMo contextual word embeddings on current PyTorch.

>>> from elmokit import Elmo
>>> elmo = Elmo.load()                      # the default bundled model
>>> elmo.embed_sentence("The mouse ran.").shape
(3, 4, D)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from elmokit.config import ElmoConfig
from elmokit.errors import (
    ConfigError,
    ElmoError,
    InputError,
    ModelNotFoundError,
    WeightFileError,
)
from elmokit.tokenize import tokenize

if TYPE_CHECKING:
    from elmokit.embedder import Elmo
    from elmokit.layer import ElmoLayer

__version__ = "0.1.0"

# Names whose modules import torch: imported on first access, so that ``import elmokit`` (and
# ``elmokit --help``) stays light.
_LAZY = {"Elmo": "elmokit.embedder", "ElmoLayer": "elmokit.layer"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'elmokit' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def load(name_or_dir=None, **kwargs) -> Elmo:
    """Shorthand for :meth:`Elmo.load`."""
    from elmokit.embedder import Elmo

    return Elmo.load(name_or_dir, **kwargs)


__all__ = [
    "ConfigError",
    "Elmo",
    "ElmoConfig",
    "ElmoError",
    "ElmoLayer",
    "InputError",
    "ModelNotFoundError",
    "WeightFileError",
    "__version__",
    "load",
    "tokenize",
]
