"""Model names -> weight files: bundled models, a download cache, or a directory.

``Elmo.load(name_or_dir)`` resolves, in order:

1. a directory holding ``options.json`` and ``weights.hdf5``;
2. a model bundled inside the package (``elmokit/models/<name>/``), e.g. ``en-small``;
3. a known download (AllenNLP's released English models, or any registered with
   :func:`register_model`), fetched once into the cache ``$ELMOKIT_CACHE`` (default
   ``~/.cache/elmokit``), see :func:`download`. ``ELMOKIT_OFFLINE=1`` forbids downloads.

Downloads stream to ``<file>.part`` (a progress bar on a terminal), resume with an HTTP
``Range`` request after a dropped connection (also in a later run), and are checked before
the rename: the length when the server gives one, the published sha256 when one is known,
``options.json`` parses as a model config, and ``weights.hdf5`` opens as HDF5 with every
weight key at the shape the options give, every array readable. The sha256 of each verified
file is recorded in ``<cache>/<name>/download.json`` and checked on every later load; a
partial, corrupt or changed cache entry is removed and fetched again. Offline, the error names
the URLs and the exact paths to save them at by hand.

Why not ``pooch`` (+ ``platformdirs``), as issue 14 suggested: pooch's HTTP downloader
(``requests.get(stream=True)``) never sends ``Range``, so a dropped 357 MB download restarts
from zero; its only check is a known hash (``known_hash=None``, all AllenNLP models, means a
truncated file is cached and used forever, the bug being fixed); it has no hook to check the
file before it is moved into the cache (its processors run afterwards) and records no hash of
a first download. Wrapping it would leave all of this hand-written and add ``requests`` +
``pooch`` to the core dependencies. The cache location stays ``$ELMOKIT_CACHE`` /
``~/.cache/elmokit`` (what platformdirs gives on Linux), so existing caches stay valid.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from elmokit.errors import ElmoError, ModelNotFoundError, OutputError
from elmokit.fileio import atomic_write, describe, new_file_mode

BUNDLED_DIR = Path(__file__).parent / "models"
OPTIONS_NAME = "options.json"
WEIGHTS_NAME = "weights.hdf5"
#: per cached model: {file name: {"url", "sha256", "bytes"}} of its verified downloads
RECORD_NAME = "download.json"
#: tries per file (the later ones resume with Range); seconds waited before try k: k * 0.5
DOWNLOAD_TRIES = 4
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


def check_name(name_or_dir: str | os.PathLike) -> None:
    """An empty model name is an error (``Path("")`` would be the current directory)."""
    if not str(name_or_dir).strip():
        raise ModelNotFoundError(
            "model name is empty: give a bundled or known model name or a model directory "
            "(use '.' for the current directory)"
        )


def resolve(name_or_dir: str | os.PathLike) -> tuple[Path, Path]:
    """-> (options.json path, weights.hdf5 path), downloading a known model if needed."""
    check_name(name_or_dir)
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


def download(name: str, timeout: float = 60.0, progress: bool | None = None) -> tuple[Path, Path]:
    """A known model's (options, weights) paths in the cache, fetched and verified if needed.

    A cached file is used when its sha256 matches the one recorded when it was first
    verified (and the published one, when known); a file placed by hand, without a record,
    is verified like a download and then recorded. A partial, corrupt or changed file is
    removed and fetched again; ``ELMOKIT_OFFLINE=1`` (or no network) is an error naming the
    URLs and the paths to save them at. ``progress``: a bar on stderr (default: on a terminal).
    """
    model = KNOWN_MODELS[name]
    target = cache_dir() / name
    options_path, weights_path = target / OPTIONS_NAME, target / WEIGHTS_NAME
    files = [
        (OPTIONS_NAME, model.options_url, model.options_sha256, _check_options),
        (WEIGHTS_NAME, model.weights_url, model.weights_sha256,
         lambda path: _check_weights(path, options_path)),
    ]  # fmt: skip
    record = _read_record(target)
    missing = [(f, url, sha, check) for f, url, sha, check in files
               if not _cached_ok(target, f, url, sha, check, record)]  # fmt: skip
    if not missing:
        return options_path, weights_path
    if os.environ.get("ELMOKIT_OFFLINE") == "1":
        raise ModelNotFoundError(
            f"model {name!r} is not cached and ELMOKIT_OFFLINE=1 forbids downloads; "
            + _by_hand(target, missing)
        )
    created = not target.exists()
    try:
        for file_name, url, sha256, check in missing:
            digest = fetch(url, target / file_name, sha256, timeout, check, progress)
            record[file_name] = {
                "url": url,
                "sha256": digest,
                "bytes": (target / file_name).stat().st_size,
            }
            _write_record(target, record)
    except ModelNotFoundError as exc:
        _remove_if_empty(target, created)
        raise ModelNotFoundError(f"{exc}; {_by_hand(target, missing)}") from None
    except ElmoError:
        _remove_if_empty(target, created)
        raise
    return options_path, weights_path


def fetch(
    url: str,
    dest: Path,
    sha256: str | None = None,
    timeout: float = 60.0,
    check: Callable[[Path], None] | None = None,
    progress: bool | None = None,
) -> str:
    """Download ``url`` to ``dest``; returns the file's sha256 (hex).

    Streams to ``dest`` + ``.part`` (resumed with ``Range`` when one is there, and after a
    dropped connection, up to :data:`DOWNLOAD_TRIES` tries), then checks the length (when
    the server gave one), ``sha256`` (when given) and ``check(path)`` (raises
    :class:`ModelNotFoundError`) before renaming it to ``dest``. A file that fails a check is
    removed, so the next call starts over; errors name the URL.
    """
    part = dest.with_name(dest.name + ".part")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"{dest.parent}: cannot create the cache folder ({describe(exc)})"
        ) from None
    _download_part(url, part, timeout, progress)
    try:
        digest = _sha256(part)
        if sha256 is not None and digest != sha256:
            raise ModelNotFoundError(
                f"download of {url}: sha256 {digest} does not match the published {sha256}"
            )
        if check is not None:
            try:
                check(part)
            except ModelNotFoundError as exc:
                raise ModelNotFoundError(f"download of {url}: {exc}") from None
        os.chmod(part, new_file_mode())
        os.replace(part, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            part.unlink()
        raise
    return digest


def _download_part(url: str, part: Path, timeout: float, progress: bool | None) -> None:
    """Fill ``part`` with the whole body of ``url``, resuming from its current size."""
    from tqdm import tqdm

    if progress is None:
        progress = sys.stderr.isatty()
    problem = ""
    for attempt in range(DOWNLOAD_TRIES):
        if attempt:
            time.sleep(0.5 * attempt)
        offset = part.stat().st_size if part.exists() else 0
        try:
            response = _open(url, offset, timeout)
        except _RangeRefused:  # the part is as long as the file, or longer: start over
            part.unlink()
            problem = "the server refused to resume"
            continue
        except ModelNotFoundError as exc:  # offline at once; a later try may be a blip
            if attempt in (0, DOWNLOAD_TRIES - 1):
                raise
            problem = str(exc)
            continue
        with response:
            total, append = _body_extent(response, offset)
            if total is not None and offset and not append:
                offset = 0
            with (
                _open_part(part, append) as out,
                tqdm(
                    total=total,
                    initial=offset,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=part.name[: -len(".part")],
                    disable=not progress,
                    leave=False,
                ) as bar,
            ):
                try:
                    while chunk := response.read(1 << 20):
                        out.write(chunk)
                        bar.update(len(chunk))
                except (http.client.HTTPException, OSError) as exc:  # dropped: resume
                    problem = f"connection lost ({_reason(exc)})"
                    continue
        size = part.stat().st_size
        if total is None or size == total:
            return
        if size > total:
            part.unlink()
            raise ModelNotFoundError(
                f"download of {url}: got {size} bytes, more than the {total} announced"
            )
        problem = f"incomplete ({size} of {total} bytes)"
    if part.exists() and part.stat().st_size == 0:
        part.unlink()
    raise ModelNotFoundError(f"download of {url} failed after {DOWNLOAD_TRIES} tries: {problem}")


class _RangeRefused(Exception):
    pass


def _open(url: str, offset: int, timeout: float):
    request = urllib.request.Request(url, headers={"User-Agent": "elmokit"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            raise _RangeRefused from None
        raise ModelNotFoundError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise ModelNotFoundError(f"cannot download {url}: {_reason(exc)}") from None


def _body_extent(response, offset: int) -> tuple[int | None, bool]:
    """-> (the whole file's length or None, whether the body continues at ``offset``)."""
    length = response.headers.get("Content-Length")
    length = int(length) if length and length.isdigit() else None
    if offset and response.status == 206:
        match = re.fullmatch(
            r"bytes (\d+)-(\d+)/(\d+|\*)", response.headers.get("Content-Range", "").strip()
        )
        if match and int(match.group(1)) == offset:
            total = match.group(3)
            return (int(total) if total != "*" else None), True
    return length, False  # a full body (the server ignored Range): start over


def _open_part(part: Path, append: bool):
    try:
        return part.open("ab" if append else "wb")
    except OSError as exc:
        raise OutputError(f"{part}: cannot write ({describe(exc)})") from None


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, OSError):
        return describe(reason)
    return " ".join(str(reason).split()) or type(reason).__name__


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------- checks and the record
def _check_options(path: Path) -> None:
    from elmokit.config import ElmoConfig
    from elmokit.errors import ConfigError

    try:
        ElmoConfig.from_file(path)
    except ConfigError as exc:
        raise ModelNotFoundError(f"not a usable options file ({exc})") from None


def _check_weights(path: Path, options_path: Path) -> None:
    """``path`` opens as HDF5 and holds every weight key the options need, at its shape,
    each readable (a truncated or corrupt file fails here)."""
    import h5py
    import torch

    from elmokit.config import ElmoConfig
    from elmokit.modules.bilm import BiLM
    from elmokit.weights import expected_shapes

    config = ElmoConfig.from_file(options_path)
    with torch.device("meta"):  # shapes only: no memory for the weights
        bilm = BiLM(config)
    shapes = expected_shapes(bilm)
    try:
        with h5py.File(path, "r") as handle:
            for key, shape in shapes.items():
                if key not in handle or not isinstance(handle[key], h5py.Dataset):
                    raise ModelNotFoundError(f"missing weight key {key}")
                if handle[key].shape != shape:
                    raise ModelNotFoundError(
                        f"weight key {key} has shape {handle[key].shape}, expected {shape}"
                    )
                handle[key][...]  # every byte readable
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        raise ModelNotFoundError(f"not a readable HDF5 weight file ({_reason(exc)})") from None


def _cached_ok(
    target: Path, file_name: str, url: str, published: str | None, check, record: dict
) -> bool:
    """Whether ``target/file_name`` is a good copy; a bad one is removed (fetched again)."""
    path = target / file_name
    if not path.is_file():
        return False
    entry = record.get(file_name) or {}
    digest = _sha256(path)
    if published is not None and digest != published:
        good = False
    elif entry.get("sha256"):
        good = digest == entry["sha256"]
    else:  # placed by hand or cached by an older elmokit: verify once, then record
        try:
            check(path)
            good = True
        except ElmoError:
            good = False
        if good:
            record[file_name] = {"url": url, "sha256": digest, "bytes": path.stat().st_size}
            with contextlib.suppress(ElmoError):
                _write_record(target, record)
    if not good:
        with contextlib.suppress(OSError):
            path.unlink()
        record.pop(file_name, None)
    return good


def _read_record(target: Path) -> dict:
    try:
        record = json.loads((target / RECORD_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _write_record(target: Path, record: dict) -> None:
    with atomic_write(target / RECORD_NAME) as tmp:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _by_hand(target: Path, missing: list) -> str:
    files = " and ".join(f"{url} as {target / file_name}" for file_name, url, *_ in missing)
    return f"to install it by hand, save {files}"


def _remove_if_empty(target: Path, created: bool) -> None:
    """Leave no empty cache folder behind (a ``.part`` to resume from is kept)."""
    if created:
        with contextlib.suppress(OSError):
            target.rmdir()  # only when empty
