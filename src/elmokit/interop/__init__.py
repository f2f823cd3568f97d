"""Models from elsewhere, into elmokit's options.json + weights.hdf5 layout.

- :mod:`.folders`: which files in a folder make a model (AllenNLP's released names too), and
  what kind of folder it is (:func:`~.folders.detect_format`).
- :mod:`.manylangs`: ELMoForManyLangs folders, loaded natively (``Elmo.load(dir)``) and
  converted where the architecture allows.
- :mod:`.tf`: TF-Hub ELMo modules and bilm-tf checkpoints (``elmokit convert --from tfhub``).

``elmokit convert --from KIND SOURCE OUT`` calls ``CONVERTERS[KIND]``: a ``"module:function"``
with the signature ``convert(source, out, **options) -> ConvertReport``, imported on use.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from elmokit.errors import InputError
from elmokit.interop.report import ConvertReport

__all__ = ["CONVERTERS", "ConvertReport", "convert"]

#: ``elmokit convert --from`` kinds -> "module:function" converting SOURCE into OUT
CONVERTERS: dict[str, str] = {
    "manylangs": "elmokit.interop.manylangs:convert",
    "tfhub": "elmokit.interop.tf:convert_tfhub",
    "bilm-tf": "elmokit.interop.tf:convert_bilm_tf",
}


def convert(
    source: str | os.PathLike, out: str | os.PathLike, kind: str = "auto", **options
) -> ConvertReport:
    """Convert the model at ``source`` (``kind``: a key of :data:`CONVERTERS`, or "auto" to
    tell by the folder's files) into ``out``/options.json + weights.hdf5."""
    from elmokit.interop.folders import FORMATS, detect_format

    if kind == "auto":
        detected = detect_format(source)
        if detected is None or detected == "allennlp":
            what = "already options.json + weights.hdf5" if detected else "of no known format"
            raise InputError(f"{source}: the folder is {what}; give --from " + "|".join(CONVERTERS))
        kind = detected
    if kind not in CONVERTERS:
        raise InputError(f"--from {kind!r} is not one of {', '.join(CONVERTERS)}")
    module_name, attr = CONVERTERS[kind].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise InputError(
                f"converting {FORMATS[kind]} is not available in this elmokit version"
            ) from None
        raise
    return getattr(module, attr)(Path(source), Path(out), **options)
