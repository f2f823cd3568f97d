"""Model configuration: frozen dataclasses that round-trip bilm-tf's ``options.json``.

The model is built from the config alone; weights are loaded afterwards (see
:mod:`elmokit.weights`). Keys of ``options.json`` that elmokit does not use (``n_epochs``,
``batch_size``, ...) are kept verbatim in ``extra`` so that ``to_options`` returns exactly
the dict ``from_options`` was given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elmokit.errors import ConfigError


def _get(section: dict, key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(section, dict) or key not in section:
        raise ConfigError(f"{where}: missing key {key!r}")
    value = section[key]
    if kind in (int, float) and isinstance(value, bool):
        raise ConfigError(f"{where}: key {key!r} must be a number, got {value!r}")
    if not isinstance(value, kind):
        raise ConfigError(f"{where}: key {key!r} has value {value!r} of the wrong type")
    return value


@dataclass(frozen=True)
class CharCNNConfig:
    """The character encoder: embedding, one conv per ``(width, num_filters)``, highway, proj."""

    filters: tuple[tuple[int, int], ...]
    n_highway: int
    embedding_dim: int
    n_characters: int = 262
    max_characters_per_token: int = 50
    activation: str = "relu"

    @property
    def n_filters(self) -> int:
        return sum(num for _, num in self.filters)


@dataclass(frozen=True)
class LSTMConfig:
    """The biLSTM: ``n_layers`` per direction, ``dim`` cells projected to ``projection_dim``."""

    dim: int
    projection_dim: int
    n_layers: int = 2
    cell_clip: float | None = 3.0
    proj_clip: float | None = 3.0
    use_skip_connections: bool = True


@dataclass(frozen=True)
class ElmoConfig:
    """The whole biLM. ``output_dim`` is ``2 * projection_dim``; there are ``n_layers + 1`` outputs."""

    char_cnn: CharCNNConfig
    lstm: LSTMConfig
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def output_dim(self) -> int:
        return 2 * self.lstm.projection_dim

    @property
    def num_output_layers(self) -> int:
        return self.lstm.n_layers + 1

    # ------------------------------------------------------------------ options.json
    @classmethod
    def from_options(cls, options: dict, where: str = "options.json") -> ElmoConfig:
        """Build from a parsed ``options.json`` dict; errors name ``where`` and the key."""
        if not isinstance(options, dict):
            raise ConfigError(f"{where}: expected a JSON object at the top level")
        cnn = _get(options, "char_cnn", where, dict)
        lstm = _get(options, "lstm", where, dict)
        cw = f"{where} char_cnn"
        filters = _get(cnn, "filters", cw, list)
        if not filters or not all(
            isinstance(f, (list, tuple))
            and len(f) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in f)
            for f in filters
        ):
            raise ConfigError(f"{cw}: key 'filters' must be a list of [width, num] positive ints")
        embedding = _get(cnn, "embedding", cw, dict)
        char_cnn = CharCNNConfig(
            filters=tuple((int(w), int(n)) for w, n in filters),
            n_highway=_get(cnn, "n_highway", cw, int),
            embedding_dim=_get(embedding, "dim", f"{cw} embedding", int),
            n_characters=cnn.get("n_characters", 262),
            max_characters_per_token=cnn.get("max_characters_per_token", 50),
            activation=cnn.get("activation", "relu"),
        )
        if char_cnn.activation not in ("relu", "tanh"):
            raise ConfigError(f"{cw}: key 'activation' must be 'relu' or 'tanh'")
        if char_cnn.max_characters_per_token < 3:
            raise ConfigError(f"{cw}: key 'max_characters_per_token' must be at least 3")
        lw = f"{where} lstm"
        dim = _get(lstm, "dim", lw, int)
        lstm_config = LSTMConfig(
            dim=dim,
            projection_dim=lstm.get("projection_dim", dim),
            n_layers=_get(lstm, "n_layers", lw, int),
            cell_clip=lstm.get("cell_clip"),
            proj_clip=lstm.get("proj_clip"),
            use_skip_connections=bool(lstm.get("use_skip_connections", False)),
        )
        if lstm_config.n_layers < 1 or dim < 1 or lstm_config.projection_dim < 1:
            raise ConfigError(f"{lw}: 'dim', 'projection_dim' and 'n_layers' must be positive")
        if options.get("bidirectional", True) is not True:
            raise ConfigError(f"{where}: only bidirectional models are supported")
        return cls(char_cnn=char_cnn, lstm=lstm_config, extra=json.loads(json.dumps(options)))

    def to_options(self) -> dict:
        """The ``options.json`` dict: the original keys, with the model's values written over them."""
        options = json.loads(json.dumps(self.extra)) if self.extra else {}
        cnn = options.setdefault("char_cnn", {})
        cnn.update(
            {
                "activation": self.char_cnn.activation,
                "filters": [[w, n] for w, n in self.char_cnn.filters],
                "n_highway": self.char_cnn.n_highway,
                "n_characters": self.char_cnn.n_characters,
                "max_characters_per_token": self.char_cnn.max_characters_per_token,
            }
        )
        cnn.setdefault("embedding", {})["dim"] = self.char_cnn.embedding_dim
        lstm = options.setdefault("lstm", {})
        lstm.update(
            {
                "dim": self.lstm.dim,
                "projection_dim": self.lstm.projection_dim,
                "n_layers": self.lstm.n_layers,
                "use_skip_connections": self.lstm.use_skip_connections,
            }
        )
        for key in ("cell_clip", "proj_clip"):
            value = getattr(self.lstm, key)
            if value is not None or key in lstm:
                lstm[key] = value
        return options

    @classmethod
    def from_file(cls, path: str | Path) -> ElmoConfig:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{path}: options file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read options file ({exc})") from None
        try:
            options = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
        return cls.from_options(options, where=str(path))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_options(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def create(
        cls,
        filters: list[tuple[int, int]],
        n_highway: int,
        embedding_dim: int,
        lstm_dim: int,
        projection_dim: int,
        n_layers: int = 2,
        cell_clip: float | None = 3.0,
        proj_clip: float | None = 3.0,
        use_skip_connections: bool = True,
        max_characters_per_token: int = 50,
    ) -> ElmoConfig:
        """A config from sizes, e.g. ``ElmoConfig.create([(1, 32), (2, 32)], 1, 16, 256, 64)``."""
        options = {
            "bidirectional": True,
            "char_cnn": {
                "activation": "relu",
                "embedding": {"dim": embedding_dim},
                "filters": [list(f) for f in filters],
                "max_characters_per_token": max_characters_per_token,
                "n_characters": 262,
                "n_highway": n_highway,
            },
            "lstm": {
                "cell_clip": cell_clip,
                "dim": lstm_dim,
                "n_layers": n_layers,
                "proj_clip": proj_clip,
                "projection_dim": projection_dim,
                "use_skip_connections": use_skip_connections,
            },
        }
        return cls.from_options(options, where="ElmoConfig.create")


# The released English models' sizes (AllenNLP / bilm-tf options files).
ORIGINAL_OPTIONS = {
    "lstm": {"use_skip_connections": True, "projection_dim": 512, "cell_clip": 3,
             "proj_clip": 3, "dim": 4096, "n_layers": 2},
    "char_cnn": {"activation": "relu",
                 "filters": [[1, 32], [2, 32], [3, 64], [4, 128], [5, 256], [6, 512], [7, 1024]],
                 "n_highway": 2, "embedding": {"dim": 16}, "n_characters": 262,
                 "max_characters_per_token": 50},
}  # fmt: skip
SMALL_OPTIONS = {
    "lstm": {"use_skip_connections": True, "projection_dim": 128, "cell_clip": 3,
             "proj_clip": 3, "dim": 1024, "n_layers": 2},
    "char_cnn": {"activation": "relu",
                 "filters": [[1, 32], [2, 32], [3, 64], [4, 128], [5, 256], [6, 512], [7, 1024]],
                 "n_highway": 1, "embedding": {"dim": 16}, "n_characters": 262,
                 "max_characters_per_token": 50},
}  # fmt: skip
MEDIUM_OPTIONS = {
    "lstm": {"use_skip_connections": True, "projection_dim": 256, "cell_clip": 3,
             "proj_clip": 3, "dim": 2048, "n_layers": 2},
    "char_cnn": {"activation": "relu",
                 "filters": [[1, 32], [2, 32], [3, 64], [4, 128], [5, 256], [6, 512], [7, 1024]],
                 "n_highway": 1, "embedding": {"dim": 16}, "n_characters": 262,
                 "max_characters_per_token": 50},
}  # fmt: skip
