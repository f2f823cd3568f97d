"""Model names -> weight files: bundled models, a download cache, or a directory.

``Elmo.load(name_or_dir)`` resolves, in order:

1. a directory holding ``options.json`` and ``weights.hdf5``;
2. a model bundled inside the package (``elmokit/models/<name>/``), e.g. ``en-small``;
3. a known download (AllenNLP's released English models, or any registered with
   :func:`register_model`), fetched once into the cache ``$ELMOKIT_CACHE`` (default
   ``~/.cache/elmokit``), written to a temp name and renamed only when complete and
   checked. ``ELMOKIT_OFFLINE=1`` forbids downloads.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from elmokit.errors import ModelNotFoundError
from elmokit.fileio import atomic_write

BUNDLED_DIR = Path(__file__).parent / "models"
OPTIONS_NAME = "options.json"
WEIGHTS_NAME = "weights.hdf5"
DEFAULT_MODEL_ORDER = ("en-small", "allennlp-tiny")

_S3 = "https://allennlp.s3.amazonaws.com/models/elmo"


@dataclass(frozen=True)
class RemoteModel:
    options_url: str
    weights_url: str
    options_sha256: str | None = None
    weights_sha256: str | None = None


KNOWN_MODELS: dict[str, RemoteModel] = {
    f"allennlp-{size}": RemoteModel(
        f"{_S3}/{stem}/elmo_{stem}_options.json", f"{_S3}/{stem}/elmo_{stem}_weights.hdf5"
    )
    for size, stem in {
        "small": "2x1024_128_2048cnn_1xhighway",
        "medium": "2x2048_256_2048cnn_1xhighway",
        "original": "2x4096_512_2048cnn_2xhighway",
        "original-5.5b": "2x4096_512_2048cnn_2xhighway_5.5B",
    }.items()
}


def register_model(name: str, model: RemoteModel) -> None:
    """Make ``name`` downloadable (e.g. a model on your own server)."""
    KNOWN_MODELS[name] = model


def bundled_models() -> list[str]:
    if not BUNDLED_DIR.is_dir():
        return []
    return sorted(p.name for p in BUNDLED_DIR.iterdir() if (p / OPTIONS_NAME).is_file())


def default_model() -> str:
    """The bundled model ``make run`` and ``elmokit embed`` use when none is named."""
    available = bundled_models()
    for name in DEFAULT_MODEL_ORDER:
        if name in available:
            return name
    raise ModelNotFoundError("no bundled model found in " + str(BUNDLED_DIR))


def cache_dir() -> Path:
    return Path(os.environ.get("ELMOKIT_CACHE", Path.home() / ".cache" / "elmokit"))


def resolve(name_or_dir: str | os.PathLike) -> tuple[Path, Path]:
    """-> (options.json path, weights.hdf5 path), downloading a known model if needed."""
    path = Path(name_or_dir)
    if path.is_dir():
        return _files_in(path)
    name = str(name_or_dir)
    if (BUNDLED_DIR / name / OPTIONS_NAME).is_file():
        return _files_in(BUNDLED_DIR / name)
    if name in KNOWN_MODELS:
        return download(name)
    known = ", ".join(bundled_models() + sorted(KNOWN_MODELS))
    raise ModelNotFoundError(
        f"model {name!r} is not a directory with {OPTIONS_NAME} + {WEIGHTS_NAME}, "
        f"a bundled or a known model (known: {known})"
    )


def _files_in(directory: Path) -> tuple[Path, Path]:
    # options.json + weights.hdf5, AllenNLP's released names, or an error listing the folder
    from elmokit.interop.folders import find_model_files

    return find_model_files(directory)


def download(name: str, timeout: float = 60.0) -> tuple[Path, Path]:
    """Fetch a known model into the cache (once); returns its (options, weights) paths."""
    model = KNOWN_MODELS[name]
    target = cache_dir() / name
    files = [
        (model.options_url, target / OPTIONS_NAME, model.options_sha256),
        (model.weights_url, target / WEIGHTS_NAME, model.weights_sha256),
    ]
    for url, dest, sha256 in files:
        if dest.is_file():
            continue
        if os.environ.get("ELMOKIT_OFFLINE") == "1":
            raise ModelNotFoundError(f"model {name!r} is not cached and ELMOKIT_OFFLINE=1")
        fetch(url, dest, sha256, timeout)
    return target / OPTIONS_NAME, target / WEIGHTS_NAME


def fetch(url: str, dest: Path, sha256: str | None = None, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` via a temp file; checks length and (optionally) sha256."""
    with atomic_write(dest, suffix=".part") as tmp, tmp.open("wb") as out:
        expected, size, digest = _copy_response(url, out, timeout)
        if expected is not None and int(expected) != size:
            raise ModelNotFoundError(f"download of {url} incomplete: {size} of {expected} bytes")
        if sha256 is not None and digest != sha256:
            raise ModelNotFoundError(f"download of {url}: sha256 {digest} does not match {sha256}")
    return dest


def _copy_response(url: str, out: BinaryIO, timeout: float) -> tuple[str | None, int, str]:
    """Stream ``url`` into ``out``; returns (Content-Length or None, bytes, sha256 hex).

    Network errors are :class:`ModelNotFoundError`; errors writing ``out`` stay ``OSError``.
    """
    digest = hashlib.sha256()
    size = 0
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except (urllib.error.URLError, OSError) as exc:
        raise ModelNotFoundError(f"cannot download {url}: {exc}") from None
    with response:
        expected = response.headers.get("Content-Length")
        while True:
            try:
                chunk = response.read(1 << 20)
            except OSError as exc:
                raise ModelNotFoundError(f"download of {url} failed: {exc}") from None
            if not chunk:
                return expected, size, digest.hexdigest()
            out.write(chunk)
            digest.update(chunk)
            size += len(chunk)
