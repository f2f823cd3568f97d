"""elmokit.ray and `elmokit embed-corpus` on a real local Ray (2 CPUs, the tiny bundled model):
the Dataset API against single-process Elmo, the CLI end to end, resume, and runs whose worker
actor or driver is SIGKILLed midway, compared byte for byte with an uninterrupted run."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from elmokit import Elmo
from elmokit.cli import main

ray = pytest.importorskip("ray")
pq = pytest.importorskip("pyarrow.parquet")
pa = pytest.importorskip("pyarrow")

from elmokit.ray import embed_corpus, embed_dataset  # noqa: E402

MODEL = "allennlp-tiny"
WORDS = ("the cell phone rang . blood cells carry oxygen a mouse ran away from cat "
         "dogs bark at night and we sleep well").split()
# the kill tests: 8 shards of 30 lines, chunks of 5 lines -> 48 Ray tasks
KILL_OPTIONS = {"model": MODEL, "workers": 2, "output_format": "all", "shard_lines": 30,
                "chunk_lines": 5, "batch_size": 4, "progress": False}


def sentences(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(1, 12))) for _ in range(n)]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 1024**2,
             log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n".join(sentences(240, seed=1)) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def reference(local_ray, corpus, tmp_path_factory) -> Path:
    """The uninterrupted run the killed runs are compared with."""
    out = tmp_path_factory.mktemp("reference")
    summary = embed_corpus([corpus], out, **KILL_OPTIONS)
    assert summary.shards == summary.shards_written == 8 and summary.sentences == 240
    return out


def same_bytes(a: Path, b: Path) -> None:
    names = sorted(p.name for p in a.iterdir() if not p.name.startswith("."))
    assert names == sorted(p.name for p in b.iterdir() if not p.name.startswith("."))
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_embed_dataset_equals_single_process_elmo(local_ray):
    texts = sentences(10, seed=0) + ["Raw text, tokenized: don't panic!"]
    ds = ray.data.from_items([{"text": t, "id": i} for i, t in enumerate(texts)])
    ds = embed_dataset(ds, model=MODEL, output_column="sentence", batch_size=4, concurrency=1)
    ds = embed_dataset(ds, model=MODEL, output="tokens", layer="top", output_column="tokens",
                       batch_size=3, concurrency=1)
    rows = sorted(ds.take_all(), key=lambda row: row["id"])
    elmo = Elmo.load(MODEL)
    expected = elmo.sentence_vectors(texts, max_tokens=None)  # layer average, mean pooling
    assert [row["text"] for row in rows] == texts
    np.testing.assert_allclose(np.stack([r["sentence"] for r in rows]), expected, atol=1e-5)
    for text, row in zip(texts, rows, strict=True):
        top = elmo.embed_sentence(text)[-1]  # (n, D); raw strings go through the tokenizer
        assert row["tokens"].shape == top.shape
        np.testing.assert_allclose(row["tokens"], top, atol=1e-5)


def test_embed_corpus_cli_end_to_end(local_ray, tmp_path):
    lines = sentences(17, seed=2)
    text_input = tmp_path / "news.txt"
    text_input.write_text("\n".join(lines) + "\n", encoding="utf-8")
    parquet_input = tmp_path / "web.parquet"
    pq.write_table(pa.table({"id": list(range(9)), "text": lines[:9]}), parquet_input)
    out = tmp_path / "out"
    args = ["embed-corpus", str(text_input), str(parquet_input), str(out), "--model", MODEL,
            "--workers", "2", "--shard-lines", "7", "--output-format", "top", "--no-progress"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "wrote 5 of 5 shards" in result.output and "26 sentences" in result.output
    names = ["news-00000.hdf5", "news-00001.hdf5", "news-00002.hdf5", "web-00000.hdf5",
             "web-00001.hdf5"]
    assert sorted(p.name for p in out.glob("*.hdf5")) == names
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["model"] == MODEL and manifest["settings"]["output_format"] == "top"
    assert len(manifest["settings"]["weights_sha256"]) == 64
    news2 = manifest["shards"]["news-00002.hdf5"]
    assert (news2["first_line"], news2["lines"], news2["input"]) == (14, 3, str(text_input))

    # each shard is `elmokit embed` of its lines (same layout, same sentence_to_index)
    elmo = Elmo.load(MODEL)
    for name, shard_lines in [("news-00001.hdf5", lines[7:14]), ("web-00001.hdf5", lines[7:9])]:
        shard_input = tmp_path / f"{name}.txt"
        shard_input.write_text("\n".join(shard_lines) + "\n", encoding="utf-8")
        elmo.embed_file(shard_input, tmp_path / "expected.hdf5", output_format="top")
        with h5py.File(out / name) as got, h5py.File(tmp_path / "expected.hdf5") as want:
            assert sorted(got.keys()) == sorted(want.keys())
            assert got["sentence_to_index"][0] == want["sentence_to_index"][0]
            for key in range(len(shard_lines)):
                np.testing.assert_allclose(got[str(key)][...], want[str(key)][...], atol=1e-5)
        digest = hashlib.sha256((out / name).read_bytes()).hexdigest()
        assert manifest["shards"][name]["output_sha256"] == digest

    # the same command again: nothing to do, nothing rewritten
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and "all 5 shards" in again.output and "already done" in again.output
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.hdf5")} == {
        name: before[name] for name in names}

    # other options with the same OUT_DIR: refused in one line, before any work
    refused = CliRunner().invoke(main, args[:-2] + ["all", "--no-progress"])
    assert refused.exit_code == 1
    assert refused.output.count("\n") == 1 and refused.output.startswith("error: ")
    assert "output_format 'top' -> 'all'" in refused.output and "use another OUT_DIR" in refused.output

    # sentence vectors: parquet; a lost shard is redone and comes back the same bytes
    sent = tmp_path / "sent"
    args = ["embed-corpus", str(text_input), str(sent), "--model", MODEL, "--workers", "2",
            "--shard-lines", "10", "--output-format", "sentence", "--no-progress"]
    assert CliRunner().invoke(main, args).exit_code == 0
    table = pq.read_table(sent / "news-00001.parquet")
    assert table.column("line").to_pylist() == list(range(10, 17))
    assert table.column("text").to_pylist() == lines[10:]
    np.testing.assert_allclose(np.array(table.column("embedding").to_pylist()),
                               elmo.sentence_vectors([line.split() for line in lines[10:]],
                                                     max_tokens=None), atol=1e-5)
    first = (sent / "news-00000.parquet").read_bytes()
    (sent / "news-00000.parquet").unlink()
    redo = CliRunner().invoke(main, args)
    assert redo.exit_code == 0 and "wrote 1 of 2 shards" in redo.output
    assert (sent / "news-00000.parquet").read_bytes() == first


def test_bad_input_is_one_line_before_ray(tmp_path):
    bad = tmp_path / "holes.txt"
    bad.write_text("one line\n\nlast\n")
    result = CliRunner().invoke(main, ["embed-corpus", str(bad), str(tmp_path / "o"),
                                       "--model", MODEL])
    assert result.exit_code == 1
    assert result.output == f"error: {bad} line 2 is empty (remove it, or pass --skip-empty " \
                            "to write an empty entry)\n"


def test_killed_worker_actor_loses_nothing(reference, corpus, tmp_path):
    killed: list[int] = []

    def kill_first_worker(output: str, chunk: int, pid: int) -> None:
        if not killed:  # a worker that just sent a chunk: it is busy with the next one
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    summary = embed_corpus([corpus], tmp_path, on_chunk=kill_first_worker, **KILL_OPTIONS)
    assert killed and summary.shards_written == 8 and summary.sentences == 240
    assert summary.worker_processes > 2  # Ray restarted the killed actor, which did more work
    same_bytes(reference, tmp_path)


def test_killed_driver_resumes_to_the_same_bytes(local_ray, reference, corpus, tmp_path):
    cmd = [sys.executable, "-m", "elmokit.cli", "embed-corpus", str(corpus), str(tmp_path),
           "--ray-address", local_ray, "--model", MODEL, "--workers", "2",
           "--output-format", "all", "--shard-lines", "30", "--chunk-lines", "5",
           "--batch-size", "4", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    manifest = tmp_path / "manifest.json"
    deadline = time.monotonic() + 180
    done: dict = {}
    while not done and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
        if manifest.is_file():
            done = json.loads(manifest.read_text())["shards"]
    proc.send_signal(signal.SIGKILL)
    output = proc.communicate()[0].decode()
    assert proc.returncode == -signal.SIGKILL, output
    assert 1 <= len(done) < 8, output  # killed midway: some shards finished, not all

    summary = embed_corpus([corpus], tmp_path, **KILL_OPTIONS)
    assert summary.shards_skipped >= len(done) and summary.shards_written <= 8 - len(done)
    assert not list(tmp_path.glob("*.tmp"))
    same_bytes(reference, tmp_path)
