"""``elmokit.fileio.atomic_write``: rename on success, mode per umask, cleanup and one-line
errors on failure; and the writers that use it (weights, checkpoints, ``elmokit embed``)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from elmokit import Elmo
from elmokit.cli import main
from elmokit.errors import OutputError
from elmokit.fileio import atomic_write, current_umask, new_file_mode
from elmokit.training.checkpoint import atomic_save
from elmokit.weights import save_weights

ENOSPC_TEXT = os.strerror(errno.ENOSPC)  # "No space left on device"


@pytest.fixture
def umask():
    """Set the process umask for one test: ``umask(0o077)``; restored afterwards."""
    saved = os.umask(0o022)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(saved)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# ---------------------------------------------------------------------------- the helper itself
def test_umask_is_read_without_changing_it(umask) -> None:
    umask(0o027)
    assert current_umask() == 0o027
    assert new_file_mode() == 0o640
    assert os.umask(0o027) == 0o027  # still what the test set


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o077, 0o600)])
def test_success_replaces_target_with_umask_mode(tmp_path, umask, mask, expected) -> None:
    umask(mask)
    target = tmp_path / "sub" / "out.bin"  # missing directories are created
    with atomic_write(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.startswith("out.bin.")
        assert tmp.name.endswith(".tmp") and tmp.is_file()
        tmp.write_bytes(b"new")
        assert not target.exists()  # nothing visible before the block ends
    assert target.read_bytes() == b"new"
    assert mode_of(target) == expected
    assert names(target.parent) == ["out.bin"]


def test_suffix_is_used(tmp_path) -> None:
    with atomic_write(tmp_path / "w.hdf5", suffix=".part") as tmp:
        assert tmp.name.endswith(".part")
        tmp.write_bytes(b"x")


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_failure_keeps_old_file_and_removes_temp(tmp_path, exc) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(type(exc)):
        with atomic_write(target) as tmp:
            tmp.write_bytes(b"half")
            raise exc
    assert target.read_bytes() == b"old"
    assert names(tmp_path) == ["out.bin"]


def test_injected_enospc_is_one_line_error(tmp_path) -> None:
    target = tmp_path / "out.hdf5"
    target.write_bytes(b"old")
    with pytest.raises(OutputError) as info:
        with atomic_write(target) as tmp:
            tmp.write_bytes(b"half")
            raise OSError(errno.ENOSPC, "No space left on device (a long\nmultiline detail)")
    assert str(info.value) == f"{target}: cannot write ({ENOSPC_TEXT})"
    assert target.read_bytes() == b"old"
    assert names(tmp_path) == ["out.hdf5"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_real_enospc_from_the_kernel(tmp_path) -> None:
    target = tmp_path / "out.bin"
    with pytest.raises(OutputError, match=r"out.bin: cannot write \(No space left on device\)"):
        with atomic_write(target), open("/dev/full", "wb") as full:
            full.write(b"x")
            full.flush()
    assert names(tmp_path) == []


def test_failing_fsync_keeps_old_file(tmp_path, monkeypatch) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, ENOSPC_TEXT)

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OutputError, match=r"cannot write \(No space left on device\)"):
        with atomic_write(target) as tmp:
            tmp.write_bytes(b"new")
    assert target.read_bytes() == b"old"
    assert names(tmp_path) == ["out.bin"]


def test_durable_false_renames_without_fsync(tmp_path, monkeypatch, umask) -> None:
    umask(0o022)
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    with atomic_write(target, durable=False) as tmp:
        tmp.write_bytes(b"new")
        assert target.read_bytes() == b"old"
    assert target.read_bytes() == b"new" and mode_of(target) == 0o644
    assert synced == [] and names(tmp_path) == ["out.bin"]
    with atomic_write(target) as tmp:  # the default: the file and the rename are fsync'd
        tmp.write_bytes(b"newer")
    assert len(synced) == 2


def test_unusable_directory_is_one_line_error(tmp_path) -> None:
    (tmp_path / "file").write_text("not a directory")
    target = tmp_path / "file" / "out.bin"
    with pytest.raises(OutputError, match=r"file/out.bin: cannot write \(.+\)$"):
        with atomic_write(target):
            pass


# ---------------------------------------------------------------------------- the writers
def test_elmo_save_and_save_weights_are_0644(tiny_elmo, tmp_path, umask) -> None:
    umask(0o022)
    directory = tiny_elmo.save(tmp_path / "model")
    assert mode_of(directory / "weights.hdf5") == 0o644
    assert Elmo.load(directory).dim == tiny_elmo.dim
    save_weights(tiny_elmo.bilm, tmp_path / "w16.hdf5", dtype="float16")
    assert mode_of(tmp_path / "w16.hdf5") == 0o644
    assert names(tmp_path) == ["model", "w16.hdf5"]


def test_checkpoint_is_0644_and_loadable(tmp_path, umask) -> None:
    umask(0o022)
    path = tmp_path / "checkpoint.pt"
    atomic_save({"format": "x", "w": torch.arange(3.0)}, path)
    assert mode_of(path) == 0o644
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    assert torch.equal(loaded["w"], torch.arange(3.0))
    assert names(tmp_path) == ["checkpoint.pt"]


def test_cli_embed_output_is_0644(tmp_path, umask) -> None:
    umask(0o022)
    text = tmp_path / "in.txt"
    text.write_text("hello world\nbye\n")
    out = tmp_path / "out.hdf5"
    result = CliRunner().invoke(main, ["embed", str(text), str(out), "--model", "allennlp-tiny"])
    assert result.exit_code == 0, result.output
    assert mode_of(out) == 0o644
    assert names(tmp_path) == ["in.txt", "out.hdf5"]


def test_cli_embed_disk_full_is_one_line(tmp_path, monkeypatch) -> None:
    text = tmp_path / "in.txt"
    text.write_text("hello world\n")
    out = tmp_path / "out.hdf5"
    out.write_bytes(b"previous result")

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, ENOSPC_TEXT)

    monkeypatch.setattr(os, "fsync", no_space)
    result = CliRunner().invoke(main, ["embed", str(text), str(out), "--model", "allennlp-tiny"])
    assert result.exit_code == 1
    assert result.output.strip() == f"error: {out}: cannot write ({ENOSPC_TEXT})"
    assert out.read_bytes() == b"previous result"
    assert names(tmp_path) == ["in.txt", "out.hdf5"]


def test_a_signal_whose_exception_is_swallowed_still_stops_the_commit(tmp_path, capfd) -> None:
    """A signal handled inside ``__del__`` raises there, and Python only prints "Exception
    ignored in ...": the work runs on, but the output must still not be committed."""
    import signal

    from elmokit.fileio import stop_on_signals

    class SignalsWhenCollected:
        def __del__(self) -> None:
            os.kill(os.getpid(), signal.SIGTERM)
            sum(range(1000))  # Python code after the kill: the handler runs in here

    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    seen: list[int] = []
    with pytest.raises(SystemExit) as stopped:
        with stop_on_signals([signal.SIGTERM], before=seen.append):
            with atomic_write(target) as tmp:
                tmp.write_bytes(b"new")
                SignalsWhenCollected()  # collected at once: the SystemExit is swallowed
                assert seen == [signal.SIGTERM]  # the handler ran, the block goes on
                tmp.write_bytes(b"newer")
    assert stopped.value.code == 128 + signal.SIGTERM
    assert "Exception ignored" not in capfd.readouterr().err  # not printed: raised again
    assert target.read_bytes() == b"old" and names(tmp_path) == ["out.bin"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is restored
