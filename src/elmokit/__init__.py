"""elmokit: ELMo contextual word embeddings on current PyTorch.

>>> from elmokit import Elmo
>>> elmo = Elmo.load()                      # the default bundled model
>>> elmo.embed_sentence("The mouse ran.").shape
(3, 4, D)
"""

from elmokit.config import ElmoConfig
from elmokit.embedder import Elmo
from elmokit.errors import (
    ConfigError,
    ElmoError,
    InputError,
    ModelNotFoundError,
    WeightFileError,
)
from elmokit.layer import ElmoLayer
from elmokit.tokenize import tokenize

__version__ = "0.1.0"


def load(name_or_dir=None, **kwargs) -> Elmo:
    """Shorthand for :meth:`Elmo.load`."""
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
