"""The one small exception hierarchy of elmokit.

Every error names the thing that is wrong and where (file, line, key); the CLI prints
``str(error)`` as a single line on stderr and exits non-zero.
"""

from __future__ import annotations


class ElmoError(Exception):
    """Base class of every error elmokit raises on purpose."""


class ConfigError(ElmoError):
    """An options.json / training config is missing a key or has a wrong value."""


class WeightFileError(ElmoError):
    """A weight file is missing, unreadable, or has a missing key or a wrong shape."""


class InputError(ElmoError):
    """User input (a text file, a request body, a token list) is not usable."""


class ModelNotFoundError(ElmoError):
    """A model name is neither bundled, cached, known, nor a directory with weights."""


class OutputError(ElmoError):
    """An output file (embeddings, weights, a checkpoint, a download) cannot be written."""


class ElmoWarning(UserWarning):
    """A warning elmokit gives on purpose (the CLI prints these, one line each)."""
