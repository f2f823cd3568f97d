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
from dataclasses import dataclass, field
from pathlib import Path

from elmokit.errors import InputError

#: ``elmokit convert --from`` kinds -> "module:function" converting SOURCE into OUT
CONVERTERS: dict[str, str] = {
    "manylangs": "elmokit.interop.manylangs:convert",
    "tfhub": "elmokit.interop.tf:convert_tfhub",
    "bilm-tf": "elmokit.interop.tf:convert_bilm_tf",
}


@dataclass
class ConvertReport:
    """What a conversion wrote and what it could not carry over.

    ``files``: the written paths; ``lost``: one line per thing of the source model that the
    options.json + weights.hdf5 layout cannot hold (empty when the conversion is exact);
    ``notes``: how things were mapped (e.g. a gate order)."""

    source: Path
    out: Path
    kind: str
    files: list[Path] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"converted {self.kind} model {self.source} -> {self.out}"]
        lines += [f"  wrote {p}" for p in self.files]
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  NOT carried over: {item}" for item in self.lost]
        return "\n".join(lines)


def convert(source: str | os.PathLike, out: str | os.PathLike, kind: str = "auto",
            **options) -> ConvertReport:
    """Convert the model at ``source`` (``kind``: a key of :data:`CONVERTERS`, or "auto" to
    tell by the folder's files) into ``out``/options.json + weights.hdf5."""
    from elmokit.interop.folders import FORMATS, detect_format

    if kind == "auto":
        detected = detect_format(source)
        if detected is None or detected == "allennlp":
            what = "already options.json + weights.hdf5" if detected else "of no known format"
            raise InputError(f"{source}: the folder is {what}; give --from "
                             + "|".join(CONVERTERS))
        kind = detected
    if kind not in CONVERTERS:
        raise InputError(f"--from {kind!r} is not one of {', '.join(CONVERTERS)}")
    module_name, attr = CONVERTERS[kind].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise InputError(f"converting {FORMATS[kind]} is not available in this "
                             "elmokit version") from None
        raise
    return getattr(module, attr)(Path(source), Path(out), **options)
