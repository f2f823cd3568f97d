"""Hostile and careless input (issue 14): one test per case, so that none comes back.

Bounded memory, one-pass reading of pipes, verified downloads against a local HTTP server that
truncates, lies about the length and serves corrupt files, disk full / read-only / signals
during ``elmokit embed``, and validation of options.json and of the library's inputs. The
server's cases live in the server tests.
"""

from __future__ import annotations

import errno
import hashlib
import http.server
import io
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from elmokit import Elmo, ElmoConfig, hub
from elmokit.cli import main
from elmokit.errors import ConfigError, InputError, ModelNotFoundError
from elmokit.inference import MAX_PADDED_TOKENS, chunk_by_padded_budget

from .conftest import TINY_OPTIONS, TINY_WEIGHTS, default_sigint

ELMOKIT = [sys.executable, "-m", "elmokit.cli"]
LINES = ["The cell phone rang .", "Blood cells carry oxygen", "A mouse", "The cell phone rang ."]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _one_error_line(text: str, *parts: str) -> None:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), text
    assert "Traceback" not in text
    for part in parts:
        assert part in lines[0], lines[0]


@pytest.fixture
def input_file(tmp_path):
    path = tmp_path / "input.txt"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------ 1. bounded memory
def test_chunk_by_padded_budget_bounds_every_pass_and_covers_every_row():
    rng = np.random.default_rng(0)
    lengths = np.concatenate([rng.integers(1, 12, 4000), [500]])
    chunks = chunk_by_padded_budget(lengths, 2048)
    rows = np.concatenate(chunks)
    assert sorted(rows.tolist()) == list(range(len(lengths)))
    for chunk in chunks:
        assert len(chunk) == 1 or len(chunk) * lengths[chunk].max() <= 2048
    (long_chunk,) = [c for c in chunks if 500 in lengths[c]]
    assert len(long_chunk) <= 2048 // 500  # the short ones are not padded to 500
    with pytest.raises(ValueError, match="positive integer"):
        chunk_by_padded_budget([1, 2], 0)


def test_embed_batch_runs_in_passes_bounded_by_padded_size(tiny_elmo, monkeypatch):
    """4,000 short sentences plus one 500-token sentence: no pass pads the short ones to 500
    (it was one (L, 4001 * 502, D) allocation), and the results equal one big pass."""
    rng = np.random.default_rng(1)
    words = ["the", "cell", "mouse", "ran", ".", "blood"]
    sentences = [list(rng.choice(words, rng.integers(1, 8))) for _ in range(4000)]
    sentences.insert(1234, ["long"] * 500)
    one_pass = tiny_elmo.embed_batch(sentences, max_padded_tokens=10**9)

    passes = []
    engine = tiny_elmo.engine
    real = engine.__call__

    def recording(batch, *args, **kwargs):  # the real engine; records each pass's shape
        passes.append((len(batch), max(len(s) for s in batch) + 2))
        return real(batch, *args, **kwargs)

    monkeypatch.setattr(tiny_elmo, "engine", type("Recorder", (), {"__call__": staticmethod(
        recording)})())  # fmt: skip
    chunked = tiny_elmo.embed_batch(sentences)  # the default budget
    assert len(passes) > 1
    for rows, width in passes:
        assert rows == 1 or rows * width <= MAX_PADDED_TOKENS
    assert (1, 502) in passes
    assert len(chunked) == len(sentences)
    for a, b, s in zip(one_pass, chunked, sentences, strict=True):
        assert b.shape == (3, len(s), 32)
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_embed_batch_budget_keeps_stateful_rows(tiny_elmo):
    sentences = [["a"] * n for n in (1, 9, 2, 30, 3)]
    whole = Elmo.from_hdf5(TINY_OPTIONS, TINY_WEIGHTS, stateful=True)
    parts = Elmo.from_hdf5(TINY_OPTIONS, TINY_WEIGHTS, stateful=True, max_padded_tokens=12)
    for _ in range(2):  # the second call starts from the carried state
        for a, b in zip(whole.embed_batch(sentences), parts.embed_batch(sentences), strict=True):
            np.testing.assert_allclose(a, b, atol=1e-5)
    with pytest.raises(InputError, match="max_padded_tokens must be a positive integer"):
        tiny_elmo.embed_batch(sentences, max_padded_tokens=0)


# ------------------------------------------------------------------ 2. non-seekable input
@pytest.mark.parametrize("source", ["-", "/dev/stdin"])
def test_piped_input_is_embedded_in_one_pass(input_file, tmp_path, tiny_elmo, source):
    out = tmp_path / "out.h5"
    with input_file.open("rb") as pipe_source:
        cat = subprocess.Popen(["cat"], stdin=pipe_source, stdout=subprocess.PIPE)
        done = subprocess.run(
            [*ELMOKIT, "embed", source, str(out), "-m", "allennlp-tiny"],
            stdin=cat.stdout,
            capture_output=True,
            text=True,
            env=_env(),
        )
        cat.stdout.close()
        cat.wait()
    assert done.returncode == 0, done.stderr
    assert "wrote 4 sentences (16 tokens)" in done.stdout
    with h5py.File(out, "r") as f:
        assert sorted(f.keys()) == ["0", "1", "2", "3", "sentence_to_index"]
        for key, line in enumerate(LINES):
            np.testing.assert_allclose(
                f[str(key)][...], tiny_elmo.embed_sentence(line.split()), atol=1e-5
            )


def test_piped_input_with_a_bad_line_leaves_no_output(tmp_path):
    out = tmp_path / "out.h5"
    done = subprocess.run(
        [*ELMOKIT, "embed", "-", str(out), "-m", "allennlp-tiny"],
        input="fine line\n\nmore\n",
        capture_output=True,
        text=True,
        env=_env(),
    )
    assert done.returncode == 1
    _one_error_line(done.stderr, "<stdin> line 2 is empty")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ 3. downloads
class HostileServer:
    """An HTTP server on 127.0.0.1 serving ``files``; ``plan[path]`` lists how the next GETs of
    ``path`` misbehave: "ok" (Range honoured), "truncate" (no Content-Length, half the body),
    "lie" (Content-Length of the whole file, half the body, then the connection closes),
    "corrupt" (the first 2 KB overwritten). ``requests`` records (path, Range header)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.plan: dict[str, list[str]] = {}
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path.lstrip("/")
                server.requests.append((path, self.headers.get("Range")))
                if path not in server.files:
                    self.send_error(404)
                    return
                body = server.files[path]
                steps = server.plan.get(path) or []
                how = steps.pop(0) if steps else "ok"
                if how == "corrupt":
                    body = b"\x00garbage" * 256 + body[2048:]
                start = 0
                wanted = self.headers.get("Range")
                if how == "ok" and wanted and wanted.startswith("bytes="):
                    start = int(wanted[6:].split("-")[0])
                    if start >= len(body):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                if how == "truncate":
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    return
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                self.wfile.write(body[start : len(body) // 2] if how == "lie" else body[start:])

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    served = HostileServer({"options.json": TINY_OPTIONS.read_bytes(),
                            "weights.hdf5": TINY_WEIGHTS.read_bytes()})  # fmt: skip
    yield served
    served.close()


def _register(server, name="remote", weights_sha256=None):
    hub.register_model(name, hub.RemoteModel(f"{server.url}/options.json",
                                             f"{server.url}/weights.hdf5",
                                             weights_sha256=weights_sha256))  # fmt: skip
    return name


def _same_as_tiny(elmo):
    reference = Elmo.from_hdf5(TINY_OPTIONS, TINY_WEIGHTS)
    np.testing.assert_array_equal(elmo.embed_sentence(["hi"]), reference.embed_sentence(["hi"]))


def test_truncated_download_without_length_is_never_cached(server, model_cache):
    name = _register(server)
    server.plan["weights.hdf5"] = ["truncate"]
    with pytest.raises(
        ModelNotFoundError, match=r"download of .*/weights.hdf5: not a readable HDF5 weight file"
    ):
        Elmo.load(name)
    assert sorted(p.name for p in (model_cache / name).iterdir()) == [
        "download.json",
        "options.json",
    ]
    _same_as_tiny(Elmo.load(name))  # the next load fetches it again, whole
    assert (model_cache / name / "weights.hdf5").read_bytes() == TINY_WEIGHTS.read_bytes()


def test_lying_length_is_resumed_with_range(server, model_cache):
    name = _register(server)
    server.plan["weights.hdf5"] = ["lie"]
    _same_as_tiny(Elmo.load(name))
    half = len(TINY_WEIGHTS.read_bytes()) // 2
    assert ("weights.hdf5", f"bytes={half}-") in server.requests
    assert (model_cache / name / "weights.hdf5").read_bytes() == TINY_WEIGHTS.read_bytes()


def test_lying_length_that_never_completes_is_an_error(server, model_cache):
    name = _register(server)
    server.plan["weights.hdf5"] = ["lie"] * hub.DOWNLOAD_TRIES
    server.files["weights.hdf5"] = server.files["weights.hdf5"]
    # "lie" ignores Range: every try restarts and stops half-way
    with pytest.raises(ModelNotFoundError, match=r"failed after 4 tries: (connection lost|inc)"):
        Elmo.load(name)
    assert not (model_cache / name / "weights.hdf5").exists()


def test_corrupt_download_is_rejected(server, model_cache):
    name = _register(server)
    server.plan["weights.hdf5"] = ["corrupt"]
    with pytest.raises(ModelNotFoundError, match="not a readable HDF5 weight file"):
        Elmo.load(name)
    assert not list((model_cache / name).glob("weights.hdf5*"))
    # with a published checksum, a change anywhere (here in the data) is caught
    data = bytearray(TINY_WEIGHTS.read_bytes())
    data[-100] ^= 0xFF
    server.files["weights.hdf5"] = bytes(data)
    published = hashlib.sha256(TINY_WEIGHTS.read_bytes()).hexdigest()
    name = _register(server, "published", weights_sha256=published)
    with pytest.raises(ModelNotFoundError, match="does not match the published"):
        Elmo.load(name)


def test_corrupted_or_partial_cache_entry_is_refetched(server, model_cache):
    name = _register(server)
    Elmo.load(name)
    record = json.loads((model_cache / name / "download.json").read_text())
    assert record["weights.hdf5"]["sha256"] == hashlib.sha256(TINY_WEIGHTS.read_bytes()).hexdigest()
    weights = model_cache / name / "weights.hdf5"
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF  # a bit flip in the data: still opens, the recorded sha256 catches it
    weights.write_bytes(bytes(data))
    before = len(server.requests)
    _same_as_tiny(Elmo.load(name))
    assert server.requests[before:] == [("weights.hdf5", None)]
    # a partial download (.part) from an interrupted run is resumed, not restarted
    weights.unlink()
    half = len(TINY_WEIGHTS.read_bytes()) // 2
    (model_cache / name / "weights.hdf5.part").write_bytes(TINY_WEIGHTS.read_bytes()[:half])
    before = len(server.requests)
    _same_as_tiny(Elmo.load(name))
    assert server.requests[before:] == [("weights.hdf5", f"bytes={half}-")]


def test_offline_error_names_urls_and_paths_and_leaves_no_folder(server, model_cache, monkeypatch):
    name = _register(server)
    monkeypatch.setenv("ELMOKIT_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError) as error:
        Elmo.load(name)
    message = str(error.value)
    assert "ELMOKIT_OFFLINE=1" in message and "\n" not in message
    for file_name in ("options.json", "weights.hdf5"):
        assert f"{server.url}/{file_name} as {model_cache / name / file_name}" in message
    assert not model_cache.exists()
    # no network: the same instructions, no empty folder
    monkeypatch.delenv("ELMOKIT_OFFLINE")
    server.close()
    with pytest.raises(ModelNotFoundError, match=r"cannot download .*options.json.*by hand"):
        Elmo.load(name)
    assert not (model_cache / name).exists()
    # files placed by hand as told: verified, recorded, used offline
    (model_cache / name).mkdir(parents=True)
    (model_cache / name / "options.json").write_bytes(TINY_OPTIONS.read_bytes())
    (model_cache / name / "weights.hdf5").write_bytes(TINY_WEIGHTS.read_bytes())
    monkeypatch.setenv("ELMOKIT_OFFLINE", "1")
    _same_as_tiny(Elmo.load(name))
    assert set(json.loads((model_cache / name / "download.json").read_text())) == {
        "options.json",
        "weights.hdf5",
    }


def test_load_empty_name_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "options.json").write_bytes(TINY_OPTIONS.read_bytes())
    (tmp_path / "weights.hdf5").write_bytes(TINY_WEIGHTS.read_bytes())
    for name in ("", "  "):
        with pytest.raises(ModelNotFoundError, match="model name is empty"):
            Elmo.load(name)


# ------------------------------------------------------------------ 4. write errors, signals
class _FullDisk(io.FileIO):
    """A real file on which writes past ``limit`` bytes fail with ENOSPC."""

    limit = 20_000

    def write(self, data):
        if self.tell() + memoryview(data).nbytes > self.limit:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(data)


def test_disk_full_is_one_line_and_keeps_the_old_output(input_file, tmp_path, monkeypatch):
    import elmokit.output

    big = tmp_path / "big.txt"
    big.write_text("\n".join(LINES * 50) + "\n")
    out = tmp_path / "out.h5"
    out.write_bytes(b"old output")
    monkeypatch.setattr(elmokit.output, "open", lambda path, mode, buffering: _FullDisk(path, mode),
                        raising=False)  # fmt: skip
    result = CliRunner().invoke(main, ["embed", str(big), str(out), "-m", "allennlp-tiny"])
    assert result.exit_code == 1
    _one_error_line(result.output, f"{out}: cannot write (No space left on device)")
    assert out.read_bytes() == b"old output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.txt", "input.txt", "out.h5"]


def test_file_size_limit_in_a_real_process_no_segfault(tmp_path):
    """A real failed write under HDF5 (RLIMIT_FSIZE, EFBIG): it segfaulted after 400 KB of
    h5py tracebacks."""
    big = tmp_path / "big.txt"
    big.write_text("\n".join(" ".join(LINES) for _ in range(400)) + "\n")
    out = tmp_path / "out.h5"
    out.write_bytes(b"old output")

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    done = subprocess.run(
        [*ELMOKIT, "embed", str(big), str(out), "-m", "allennlp-tiny"],
        preexec_fn=limit,
        capture_output=True,
        text=True,
        env=_env(),
    )
    assert done.returncode == 1, done.stderr[-2000:]
    _one_error_line(done.stderr, f"{out}: cannot write (File too large)")
    assert out.read_bytes() == b"old output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.txt", "out.h5"]


def test_unwritable_target_is_one_line(input_file, tmp_path):
    if os.geteuid() == 0:  # root writes anywhere it may; /sys refuses even root
        target = Path("/sys/elmokit-out.h5")
        if not Path("/sys").is_dir():
            pytest.skip("no /sys to test an unwritable folder as root")
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        target = locked / "out.h5"
    result = CliRunner().invoke(main, ["embed", str(input_file), str(target),
                                       "-m", "allennlp-tiny"])  # fmt: skip
    assert result.exit_code == 1
    _one_error_line(result.output, f"{target}: cannot write (")
    assert not target.exists()


def _start_embed(tmp_path, out, lines=60_000):
    big = tmp_path / "big.txt"
    big.write_text("\n".join(" ".join(LINES) for _ in range(lines)) + "\n")
    process = subprocess.Popen([*ELMOKIT, "embed", str(big), str(out), "-m", "allennlp-tiny",
                                "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=_env(), preexec_fn=default_sigint)  # fmt: skip
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob("out.h5.*.tmp")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no temp file appeared"
        time.sleep(0.05)
    time.sleep(0.3)  # well into the writing
    return process


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 128 + signal.SIGTERM),
                                       (signal.SIGINT, 130)])  # fmt: skip
def test_signal_during_embed_removes_the_temp_file(tmp_path, sig, code):
    out = tmp_path / "out.h5"
    out.write_bytes(b"old output")
    process = _start_embed(tmp_path, out)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr
    assert out.read_bytes() == b"old output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.txt", "out.h5"]


def test_temp_file_of_a_killed_run_is_removed_by_the_next(tmp_path, input_file):
    out = tmp_path / "out.h5"
    process = _start_embed(tmp_path, out)
    process.kill()
    process.communicate()
    (left,) = tmp_path.glob("out.h5.*.tmp")
    live = tmp_path / f"out.h5.abc.pid{os.getpid()}.tmp"  # a live writer's: kept, reported
    live.write_bytes(b"")
    result = CliRunner().invoke(main, ["embed", str(input_file), str(out), "-m", "allennlp-tiny"])
    assert result.exit_code == 0, result.output
    assert f"removed {left}, left by an interrupted run" in result.output
    assert f"warning: {live} is the temp file of another" in result.output
    assert not left.exists() and live.exists()


# ------------------------------------------------------------------ 5. validation
@pytest.mark.parametrize(
    "section, key, value, message",
    [
        ("lstm", "projection_dim", "x",
         "key 'projection_dim' must be an integer from 1 to 65,536, got \"x\""),
        ("lstm", "cell_clip", "x", """key 'cell_clip' must be a number >= 0 or null, got "x\""""),
        ("lstm", "dim", 1e9, "key 'dim' must be an integer from 1 to 65,536, got 1000000000.0"),
        ("lstm", "dim", 60000, "parameters"),
        ("char_cnn", "max_characters_per_token", 1.5,
         "key 'max_characters_per_token' must be an integer from 3 to 1,000, got 1.5"),
        ("lstm", "use_skip_connections", "yes", "must be true or false"),
    ],
)  # fmt: skip
def test_options_types_and_ranges(tmp_path, input_file, section, key, value, message):
    options = json.loads(TINY_OPTIONS.read_text())
    options[section][key] = value
    if value == 60000:
        options["lstm"]["projection_dim"] = 60000  # a 60k x 60k LSTM: 115 GB
    path = tmp_path / "options.json"
    path.write_text(json.dumps(options))
    with pytest.raises(ConfigError) as error:
        ElmoConfig.from_file(path)
    assert message in str(error.value) and str(path) in str(error.value)
    result = CliRunner().invoke(main, ["embed", str(input_file), str(tmp_path / "o.h5"),
                                       "--options-file", str(path), "--weight-file",
                                       str(TINY_WEIGHTS)])  # fmt: skip
    assert result.exit_code == 1
    _one_error_line(result.output, message)


def test_utf8_bom_is_dropped(tmp_path, tiny_elmo):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbfThe cell\nA mouse\n")
    out = tmp_path / "out.h5"
    tiny_elmo.embed_file(path, out)
    with h5py.File(out, "r") as f:
        assert json.loads(f["sentence_to_index"][0]) == {"The cell": "0", "A mouse": "1"}
        np.testing.assert_allclose(
            f["0"][...], tiny_elmo.embed_sentence(["The", "cell"]), atol=1e-6
        )


def test_input_equal_to_output_is_refused(input_file, tmp_path):
    before = input_file.read_bytes()
    for target in (input_file, tmp_path / "." / "input.txt"):
        result = CliRunner().invoke(main, ["embed", str(input_file), str(target),
                                           "-m", "allennlp-tiny"])  # fmt: skip
        assert result.exit_code == 1
        _one_error_line(result.output, "the output is the input file")
    assert input_file.read_bytes() == before


def test_embed_batch_of_a_string_points_to_embed_sentence(tiny_elmo):
    with pytest.raises(InputError, match=r"got one string: use embed_sentence\(text\)"):
        tiny_elmo.embed_batch("some text")


def test_unavailable_device_is_one_line(input_file, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    result = CliRunner().invoke(main, ["embed", str(input_file), str(tmp_path / "o.h5"),
                                       "-m", "allennlp-tiny", "--device", "cuda"])  # fmt: skip
    assert result.exit_code == 1
    _one_error_line(result.output, "device 'cuda' is not available")
