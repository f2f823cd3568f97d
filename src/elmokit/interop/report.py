"""What ``elmokit convert`` reports (its own module: every converter imports it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


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
