"""Model configuration: frozen dataclasses that round-trip bilm-tf's ``options.json``.

The model is built from the config alone; weights are loaded afterwards (see
:mod:`elmokit.weights`). Keys of ``options.json`` that elmokit does not use (``n_epochs``,
``batch_size``, ...) are kept verbatim in ``extra`` so that ``to_options`` returns exactly
the dict ``from_options`` was given.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elmokit.errors import ConfigError

#: Largest size any one options.json key may give (dims, filters): 16x the original model's.
MAX_SIZE = 65_536
#: Largest model elmokit builds from an options.json: 1e9 parameters (4 GB in fp32; the
#: original ELMo has 94 M). Beyond it a typo (``"dim": 1000000``) would allocate hundreds of GB.
MAX_PARAMETERS = 1_000_000_000


def _show(value: Any) -> str:
    """A value as JSON, short: ``"x"``, ``1.5``, ``null``."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _get(section: dict, key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(section, dict) or key not in section:
        raise ConfigError(f"{where}: missing key {key!r}")
    value = section[key]
    if kind in (int, float) and isinstance(value, bool):
        raise ConfigError(f"{where}: key {key!r} must be a number, got {_show(value)}")
    if not isinstance(value, kind):
        raise ConfigError(f"{where}: key {key!r} has value {_show(value)} of the wrong type")
    return value


def _int(section: dict, key: str, where: str, low: int, high: int, default: Any = ...) -> int:
    """``section[key]`` (or ``default`` when absent) as an int in [low, high], else a one-line
    :class:`ConfigError` naming the key and the value."""
    if key not in section and default is not ...:
        value = default
    else:
        value = _get(section, key, where, object)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(
            f"{where}: key {key!r} must be an integer from {low} to {high:,}, got {_show(value)}"
        )
    return value


def _clip(section: dict, key: str, where: str) -> float | None:
    """An optional clip value: null / absent (no clipping) or a finite number >= 0."""
    value = section.get(key)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (math.isfinite(value) and value >= 0)
    ):
        raise ConfigError(f"{where}: key {key!r} must be a number >= 0 or null, got {_show(value)}")
    return value


def parameter_count(char_cnn: CharCNNConfig, lstm: LSTMConfig) -> int:
    """The number of weights a model of these sizes has (checked before anything is built)."""
    F, P, C = char_cnn.n_filters, lstm.projection_dim, lstm.dim
    e = char_cnn.embedding_dim
    cnn = (
        char_cnn.n_characters * e
        + sum(width * e * num + num for width, num in char_cnn.filters)
        + char_cnn.n_highway * (2 * F * F + 2 * F)
        + F * P
        + P
    )
    cell = 4 * C * (P + P) + 4 * C + C * P  # input and state products, bias, projection
    return cnn + 2 * lstm.n_layers * cell


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
        max_chars = _int(cnn, "max_characters_per_token", cw, 3, 1000, default=50)
        filters = _get(cnn, "filters", cw, list)
        if not filters or not all(
            isinstance(f, (list, tuple))
            and len(f) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in f)
            and f[0] <= max_chars
            and f[1] <= MAX_SIZE
            for f in filters
        ):
            raise ConfigError(
                f"{cw}: key 'filters' must be a list of [width, num] positive ints (width <= "
                f"max_characters_per_token {max_chars}, num <= {MAX_SIZE:,}), got {_show(filters)}"
            )
        embedding = _get(cnn, "embedding", cw, dict)
        char_cnn = CharCNNConfig(
            filters=tuple((int(w), int(n)) for w, n in filters),
            n_highway=_int(cnn, "n_highway", cw, 0, 16),
            embedding_dim=_int(embedding, "dim", f"{cw} embedding", 1, 4096),
            n_characters=_int(cnn, "n_characters", cw, 1, 1_000_000, default=262),
            max_characters_per_token=max_chars,
            activation=cnn.get("activation", "relu"),
        )
        if char_cnn.activation not in ("relu", "tanh"):
            raise ConfigError(
                f'{cw}: key \'activation\' must be "relu" or "tanh", got '
                f"{_show(char_cnn.activation)}"
            )
        lw = f"{where} lstm"
        dim = _int(lstm, "dim", lw, 1, MAX_SIZE)
        skip = lstm.get("use_skip_connections", False)
        if skip not in (True, False):  # also 0 / 1
            raise ConfigError(
                f"{lw}: key 'use_skip_connections' must be true or false, got {_show(skip)}"
            )
        lstm_config = LSTMConfig(
            dim=dim,
            projection_dim=_int(lstm, "projection_dim", lw, 1, MAX_SIZE, default=dim),
            n_layers=_int(lstm, "n_layers", lw, 1, 16),
            cell_clip=_clip(lstm, "cell_clip", lw),
            proj_clip=_clip(lstm, "proj_clip", lw),
            use_skip_connections=bool(skip),
        )
        size = parameter_count(char_cnn, lstm_config)
        if size > MAX_PARAMETERS:
            raise ConfigError(
                f"{where}: the model would have {size:,} parameters (lstm dim {dim}, "
                f"projection_dim {lstm_config.projection_dim}, n_filters {char_cnn.n_filters}); "
                f"elmokit builds at most {MAX_PARAMETERS:,}"
            )
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
        from elmokit.fileio import write_text_atomic

        write_text_atomic(path, json.dumps(self.to_options(), indent=2) + "\n")

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
