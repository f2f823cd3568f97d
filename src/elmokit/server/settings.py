"""Server settings: limits, batching knobs, auth. One frozen dataclass, no FastAPI import."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from elmokit.errors import ConfigError

#: Environment variable through which ``elmokit serve`` hands settings to uvicorn workers.
SETTINGS_ENV = "ELMOKIT_SERVE_SETTINGS"


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class ServerSettings:
    """Everything the service needs besides the model weights.

    Limits answer 413 (body) or 422 (texts / tokens); a full queue answers 503 with
    ``Retry-After``; a request that is not answered within ``request_timeout_s`` answers 504.
    ``max_batch_requests=1`` turns micro-batching off (one request per forward pass). ``mode``
    is passed to :class:`elmokit.Elmo` ("exact", "fast", "int8", "reference"; None: its default).

    Memory: requests merge into one batch up to ``max_batch_tokens`` real tokens; the engine
    runs a batch in length-sorted passes of at most ``max_padded_tokens`` padded positions each
    (rows x (longest + 2)), so a long sentence never pads many short ones
    (:meth:`elmokit.Elmo.embed_batch`). Connections: a request head must arrive within
    ``read_timeout_s`` of connecting (or of the previous answer), its body within
    ``read_timeout_s`` of the head (else 408); idle keep-alive connections close after
    ``keep_alive_timeout_s``; a client that stops reading its answer is dropped after
    ``write_timeout_s``; above ``max_connections`` open connections requests get 503.
    """

    model: str | None = None
    mode: str | None = None
    max_texts: int = 64
    max_tokens_per_text: int = 512
    max_tokens_per_request: int = 4096
    max_body_bytes: int = 1 << 20
    max_json_floats: int = 2_000_000
    request_timeout_s: float = 30.0
    max_batch_tokens: int = 4096
    #: half the library's default (elmokit.inference.MAX_PADDED_TOKENS): merged small requests
    #: then peak within ~1.3x of the same requests run one at a time (docs/serving.md)
    max_padded_tokens: int = 8192
    max_batch_requests: int = 64
    max_wait_ms: float = 2.0
    max_queue: int = 256
    retry_after_s: int = 1
    api_key_file: str | None = None
    api_key: str | None = field(default=None, repr=False)
    torch_threads: int | None = None
    max_connections: int = 256
    keep_alive_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    write_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        positive = (
            "max_texts", "max_tokens_per_text", "max_tokens_per_request", "max_body_bytes",
            "max_json_floats",
            "max_batch_tokens", "max_padded_tokens", "max_batch_requests", "max_queue",
            "retry_after_s", "max_connections",
        )  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"server setting {name} must be an integer of at least 1, "
                                  f"got {value!r}")  # fmt: skip
        seconds = ("request_timeout_s", "keep_alive_timeout_s", "read_timeout_s",
                   "write_timeout_s")  # fmt: skip
        for name in seconds:
            value = getattr(self, name)
            if not _is_number(value) or not 0 < value < math.inf:
                raise ConfigError(f"server setting {name} must be a positive number of "
                                  f"seconds, got {value!r}")  # fmt: skip
        if not _is_number(self.max_wait_ms) or not 0 <= self.max_wait_ms < math.inf:
            raise ConfigError("server setting max_wait_ms must be a number of at least 0, "
                              f"got {self.max_wait_ms!r}")  # fmt: skip
        if self.torch_threads is not None and self.torch_threads < 1:
            raise ConfigError("server setting torch_threads must be at least 1")

    def resolved_api_key(self) -> str | None:
        """The bearer key: ``api_key`` if given, else the stripped contents of ``api_key_file``."""
        if self.api_key:
            return self.api_key
        if not self.api_key_file:
            return None
        path = Path(self.api_key_file)
        try:
            key = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read the API key file ({exc})") from None
        if not key:
            raise ConfigError(f"{path}: the API key file is empty")
        return key

    def to_env(self) -> str:
        """JSON for :data:`SETTINGS_ENV` (never carries ``api_key`` itself, only the file)."""
        data = dataclasses.asdict(self)
        data.pop("api_key")
        return json.dumps(data)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ServerSettings:
        """Settings from :data:`SETTINGS_ENV`, or the defaults when it is unset."""
        raw = (environ if environ is not None else os.environ).get(SETTINGS_ENV)
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
            return cls(**data)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{SETTINGS_ENV}: invalid server settings ({exc})") from None
