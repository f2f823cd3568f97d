"""Atomic file writes: the one temp-file-then-rename helper every elmokit writer uses::

    with atomic_write(path) as tmp:     # tmp: an empty file next to path
        with h5py.File(tmp, "w") as out:  # write the complete file by that name
            ...
    # path is now the new file (fsync'd, mode 0o666 & ~umask); until here it was the old one

A reader sees either the old file or the complete new one, never a partial one. On any
exception (KeyboardInterrupt included) the temp file is removed and the old file is left as it
was; an ``OSError`` (disk full, permission denied) becomes a one-line
:class:`~elmokit.errors.OutputError` naming the target and the cause.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from elmokit.errors import OutputError

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask, e.g. ``0o022``; read without changing it where Linux allows."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    with _UMASK_LOCK:  # elsewhere: set and restore (briefly process-wide, hence the lock)
        mask = os.umask(0)
        os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The mode a plain ``open(path, "w")`` gives a new file: ``0o666 & ~umask``."""
    return 0o666 & ~current_umask()


def describe(exc: OSError) -> str:
    """One line for an OSError's cause, e.g. ``No space left on device``."""
    if exc.errno:
        return os.strerror(exc.errno)
    return " ".join(str(exc).split()) or type(exc).__name__


def _write_error(target: Path, exc: OSError) -> OutputError:
    return OutputError(f"{target}: cannot write ({describe(exc)})")


def _make_temp(target: Path, suffix: str) -> Path:
    """An empty temp file next to ``target`` (same filesystem, so the rename is atomic)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=target.name + ".", suffix=suffix, dir=target.parent)
    except OSError as exc:
        raise _write_error(target, exc) from None
    os.close(fd)
    return Path(name)


def _fsync(path: Path, flags: int = os.O_RDONLY) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: The signal a handler of :func:`stop_on_signals` has raised for, if any: Python swallows an
#: exception raised inside a ``__del__`` or weakref callback ("Exception ignored in ..."), so
#: a signal landing there would let the work run on; :func:`_commit` refuses to commit then.
_pending_signal: int | None = None


def raise_for_signal(signum: int) -> None:
    """Record ``signum`` and raise what it means: ``KeyboardInterrupt`` for SIGINT, else
    ``SystemExit(128 + signum)`` (a signal handler's body)."""
    global _pending_signal
    _pending_signal = signum
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def stop_on_signals(
    kinds: Iterable[int], before: Callable[[int], None] | None = None
) -> Iterator[None]:
    """While the block runs (main thread only), each signal in ``kinds`` calls ``before(signum)``
    and raises (:func:`raise_for_signal`); even if that exception is swallowed, no
    :func:`atomic_write` in the block commits afterwards: it raises again instead."""
    global _pending_signal
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if before is not None:
            before(signum)
        raise_for_signal(signum)

    def unraisable(info) -> None:  # the swallowed exception: raised again later, not printed
        if _pending_signal is None or not isinstance(
            info.exc_value, KeyboardInterrupt | SystemExit
        ):
            hook(info)

    previous = {kind: signal.signal(kind, handler) for kind in kinds}
    hook, sys.unraisablehook = sys.unraisablehook, unraisable
    try:
        yield
    finally:
        for kind, old in previous.items():
            signal.signal(kind, old)
        sys.unraisablehook = hook
        _pending_signal = None


def raise_pending_signal() -> None:
    """Raise again a signal whose exception was swallowed (see :func:`stop_on_signals`); for
    loops to call at safe points, so the work stops soon instead of running to the commit."""
    if _pending_signal is not None:
        raise_for_signal(_pending_signal)


def _commit(tmp: Path, target: Path, durable: bool = True) -> None:
    """Flush ``tmp`` to disk (``durable``), give it the normal new-file mode and rename it onto
    ``target``."""
    raise_pending_signal()  # its exception was swallowed on the way: raise it again
    if durable:
        _fsync(tmp)
    os.chmod(tmp, new_file_mode())  # mkstemp makes 0600
    os.replace(tmp, target)
    if durable:
        with contextlib.suppress(OSError):  # the rename; not every OS can fsync a directory
            _fsync(target.parent, getattr(os, "O_DIRECTORY", 0) | os.O_RDONLY)


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike, suffix: str = ".tmp", durable: bool = True
) -> Iterator[Path]:
    """Yield a temp path in ``path``'s directory; on success it replaces ``path``.

    Write the whole file to the yielded path (by name; the file exists and is empty). On a
    clean exit it is fsync'd, given mode ``0o666 & ~umask`` and ``os.replace``'d onto ``path``;
    on any exception it is removed and the exception re-raised, an ``OSError`` as
    :class:`OutputError` ("out.hdf5: cannot write (No space left on device)").

    ``durable=False`` skips the fsyncs (of the file and of the rename): a killed process still
    leaves the old file or the whole new one, but after a power loss or an OS crash the new
    file may be short or zeros. Only for files whose writer checks them afterwards (the
    ``embed-corpus`` shards: a resumed run re-hashes each against the manifest).
    """
    target = Path(path)
    tmp = _make_temp(target, suffix)
    try:
        yield tmp
        _commit(tmp, target, durable)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _write_error(target, exc) from None
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """``Path(path).write_text(text)`` through :func:`atomic_write` (UTF-8)."""
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
