"""elmokit.ray and `elmokit embed-corpus` on a real local Ray (2 CPUs, the tiny bundled model):
the Dataset API against single-process Elmo, the CLI end to end, resume, and runs whose worker
actor or driver is SIGKILLed midway, compared byte for byte with an uninterrupted run."""

from __future__ import annotations

import hashlib
import json
import os
import re
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

from elmokit.errors import ConfigError, ElmoError, InputError  # noqa: E402
from elmokit.ray import (  # noqa: E402
    Shard,
    _Hdf5Writer,
    _ParquetWriter,
    _record,
    auto_shard_lines,
    count_lines,
    embed_corpus,
    embed_dataset,
)

MODEL = "allennlp-tiny"
WORDS = (
    "the cell phone rang . blood cells carry oxygen a mouse ran away from cat "
    "dogs bark at night and we sleep well"
).split()
# the kill tests: 8 shards of 30 lines (8 Ray tasks), chunks of 10 lines
KILL_OPTIONS = {
    "model": MODEL,
    "workers": 2,
    "output_format": "all",
    "shard_lines": 30,
    "chunk_lines": 10,
    "batch_size": 4,
    "progress": False,
}


def sentences(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(1, 12))) for _ in range(n)]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(
        num_cpus=2, include_dashboard=False, object_store_memory=200 * 1024**2, log_to_driver=False
    )
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
    ds = embed_dataset(
        ds, model=MODEL, output_column="sentence", batch_size=4, concurrency=1, tokenize="elmokit"
    )
    ds = embed_dataset(
        ds,
        model=MODEL,
        output="tokens",
        layer="top",
        output_column="tokens",
        batch_size=3,
        concurrency=1,
        tokenize="elmokit",
    )
    rows = sorted(ds.take_all(), key=lambda row: row["id"])
    elmo = Elmo.load(MODEL)
    expected = elmo.sentence_vectors(texts, max_tokens=None, tokenize="elmokit")  # average, mean
    assert [row["text"] for row in rows] == texts
    np.testing.assert_allclose(np.stack([r["sentence"] for r in rows]), expected, atol=1e-5)
    for text, row in zip(texts, rows, strict=True):
        top = elmo.embed_sentence(text, tokenize="elmokit")[-1]  # (n, D)
        assert row["tokens"].shape == top.shape
        np.testing.assert_allclose(row["tokens"], top, atol=1e-5)


def test_batch_embedder_keeps_its_word_cache_and_stays_pure():
    """A warm actor (its word cache filled by earlier batches, words encoded in other
    groupings) gives the same bits as a fresh one: a word's char-CNN vector is checked to be
    one function of the word, so the cache is kept instead of cleared at every call."""
    from elmokit.ray import ElmoBatchEmbedder

    def embedder():
        return ElmoBatchEmbedder(MODEL, layer="all", output="tokens", torch_threads=1, batch_size=2)

    warm, cold = embedder(), embedder()
    assert warm.invariant_words and cold.invariant_words  # the check passes on this CPU
    warm.embed_layers(sentences(30, seed=6))  # every word now cached, from batches of ~20
    assert len(warm.elmo.engine.cache) > len(WORDS) // 2
    texts = [" ".join(WORDS[i : i + 2]) for i in range(0, len(WORDS), 3)]  # 2 words a batch row
    for ours, fresh in zip(warm.embed_layers(texts), cold.embed_layers(texts), strict=True):
        np.testing.assert_array_equal(ours, fresh)


def test_embed_corpus_cli_end_to_end(local_ray, tmp_path):
    lines = sentences(17, seed=2)
    text_input = tmp_path / "news.txt"
    text_input.write_text("\n".join(lines) + "\n", encoding="utf-8")
    parquet_input = tmp_path / "web.parquet"
    pq.write_table(pa.table({"id": list(range(9)), "text": lines[:9]}), parquet_input)
    out = tmp_path / "out"
    args = [
        "embed-corpus",
        str(text_input),
        str(parquet_input),
        str(out),
        "--model",
        MODEL,
        "--workers",
        "2",
        "--shard-lines",
        "7",
        "--output-format",
        "top",
        "--no-progress",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "wrote 5 of 5 shards" in result.output and "26 sentences" in result.output
    names = [
        "news-00000.hdf5",
        "news-00001.hdf5",
        "news-00002.hdf5",
        "web-00000.hdf5",
        "web-00001.hdf5",
    ]
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
    assert (
        again.exit_code == 0 and "all 5 shards" in again.output and "already done" in again.output
    )
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.hdf5")} == {
        name: before[name] for name in names
    }

    # other options with the same OUT_DIR: refused in one line, before any work
    refused = CliRunner().invoke(main, args[:-2] + ["all", "--no-progress"])
    assert refused.exit_code == 1
    assert refused.output.count("\n") == 1 and refused.output.startswith("error: ")
    assert (
        "output_format 'top' -> 'all'" in refused.output and "use another OUT_DIR" in refused.output
    )

    # sentence vectors: parquet, one row per line
    sent = tmp_path / "sent"
    args = [
        "embed-corpus",
        str(text_input),
        str(sent),
        "--model",
        MODEL,
        "--workers",
        "2",
        "--shard-lines",
        "10",
        "--output-format",
        "sentence",
        "--no-progress",
    ]
    assert CliRunner().invoke(main, args).exit_code == 0
    assert sorted(p.name for p in sent.glob("*.parquet")) == [
        "news-00000.parquet",
        "news-00001.parquet",
    ]
    table = pq.read_table(sent / "news-00001.parquet")
    assert table.column("line").to_pylist() == list(range(10, 17))
    assert table.column("text").to_pylist() == lines[10:]
    np.testing.assert_allclose(
        np.array(table.column("embedding").to_pylist()),
        elmo.sentence_vectors([line.split() for line in lines[10:]], max_tokens=None),
        atol=1e-5,
    )

    # fewer shards than workers: it works, and says how to use them all
    few = CliRunner().invoke(
        main, args[:2] + [str(tmp_path / "few")] + args[3:8] + ["100"] + args[9:]
    )
    assert few.exit_code == 0, few.output
    assert (
        "warning: 1 shard(s) to write for 2 workers: only 1 will work (a smaller "
        "--shard-lines cuts more shards)"
        in few.output
        and "wrote 1 of 1 shards" in few.output
    )


def test_a_shard_the_driver_cannot_see_is_an_error(tmp_path):
    """On a cluster without shared storage a worker's shard lands on its own disk: refused."""
    shard = Shard(input="in.txt", output="in-00000.hdf5", first_line=0, lines=3)
    row = {"lines": 3, "output_bytes": 100, "output_sha256": "0" * 64, "pid": 4242}
    with pytest.raises(
        ConfigError,
        match=r"in-00000.hdf5: a worker \(pid 4242\) wrote this "
        "shard but the driver does not see it: on a multi-node cluster OUT_DIR "
        "must be on a filesystem every node shares",
    ):
        _record(shard, row, tmp_path, tmp_path / "manifest.json", {}, {})
    (tmp_path / "in-00000.hdf5").write_bytes(b"x" * 100)
    records: dict = {}
    _record(shard, row, tmp_path, tmp_path / "manifest.json", {"model": "m"}, records)
    assert records["in-00000.hdf5"]["output_bytes"] == 100
    assert json.loads((tmp_path / "manifest.json").read_text())["shards"] == records


def test_progress_counts_every_sentence_once(local_ray, tmp_path, capsys):
    """Sentences/s, tokens/s and ETA over all workers, ending at the whole corpus."""
    lines = sentences(40, seed=3)
    corpus = tmp_path / "p.txt"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = embed_corpus(
        [corpus],
        tmp_path / "out",
        model=MODEL,
        workers=2,
        shard_lines=10,
        chunk_lines=5,
        output_format="top",
        progress=True,
    )
    assert (summary.shards_written, summary.sentences) == (4, 40)
    assert summary.tokens == sum(len(line.split()) for line in lines)
    reports = [
        line for line in capsys.readouterr().err.splitlines() if line.startswith("embed-corpus: ")
    ]
    assert reports, "no progress line"
    assert re.fullmatch(
        r"embed-corpus: 40/40 sentences, [\d,]+ sentences/s, [\d,]+ tokens/s, "
        r"ETA 0:00:00",
        reports[-1],
    ), reports[-1]
    assert str(summary).startswith(
        f"wrote 4 of 4 shards to {tmp_path / 'out'} (0 already done): 40 sentences, "
    )


def test_default_shard_lines_depend_on_the_corpus_only(tmp_path):
    """100,000 lines per shard, or fewer so that a small corpus still makes 64 shards."""
    text, tail, table = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "c.parquet"
    text.write_text("one\ntwo\n")
    tail.write_text("three\nfour")  # no newline after the last line: still a line
    pq.write_table(pa.table({"text": ["x", "y", "z"]}), table)
    assert count_lines([text, tail, table]) == 7
    assert auto_shard_lines(50_000) == 1024  # ceil(50,000 / 64) = 782 -> a multiple of 256
    assert auto_shard_lines(1_000_000) == 15_872 and auto_shard_lines(10**8) == 100_000
    assert auto_shard_lines(240, chunk_lines=10) == 10 and auto_shard_lines(7) == 256
    with pytest.raises(InputError, match="missing.txt: input file not found"):
        count_lines([text, tmp_path / "missing.txt"])


@pytest.mark.parametrize("writer", [_Hdf5Writer, _ParquetWriter])
def test_shard_writers_are_deterministic(tmp_path, writer):
    """A redone shard is the same bytes (no timestamps), written atomically."""
    rng = np.random.default_rng(0)
    vectors = [rng.standard_normal((3, n, 8)).astype(np.float32) for n in (2, 5, 1)]
    if writer is _ParquetWriter:
        vectors = [v.mean(axis=(0, 1)) for v in vectors]  # (D,) per sentence
    texts = ["a b", "c d e f g", "h"]
    written = []
    for name in ("one", "two"):
        shard = writer(tmp_path / name, 8, first_line=10)
        shard.add(texts[:2], vectors[:2])
        assert [p.name for p in tmp_path.glob(f"{name}.*.tmp")]  # only the temp file so far
        assert not (tmp_path / name).exists()
        shard.add(texts[2:], vectors[2:])
        shard.finish()
        written.append((tmp_path / name).read_bytes())
        time.sleep(1.1)  # a timestamp, if one were written, would differ
    assert written[0] == written[1] and not list(tmp_path.glob("*.tmp"))


def test_bad_input_is_one_line_before_ray(tmp_path):
    bad = tmp_path / "holes.txt"
    bad.write_text("one line\n\nlast\n")
    result = CliRunner().invoke(
        main, ["embed-corpus", str(bad), str(tmp_path / "o"), "--model", MODEL]
    )
    assert result.exit_code == 1
    assert (
        result.output == f"error: {bad} line 2 is empty (remove it, or pass --skip-empty "
        "to write an empty entry)\n"
    )


def test_killed_worker_actor_loses_nothing(reference, corpus, tmp_path):
    killed: list[int] = []

    def kill_first_worker(output: str, chunk: int, pid: int) -> None:
        if not killed:  # a worker that just sent a chunk: it is busy with the next one
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    summary = embed_corpus([corpus], tmp_path, on_chunk=kill_first_worker, **KILL_OPTIONS)
    assert killed and summary.shards_written == 8 and summary.sentences == 240
    # the killed worker's shard was redone from its start (by Ray's restarted actor or by the
    # other one, whichever was free first) or, when the kill came after it, nothing was lost
    assert summary.worker_processes >= 2
    same_bytes(reference, tmp_path)
    assert not list(tmp_path.glob("*.tmp"))  # the killed attempt's temp file is gone


# a driver (its own process, joining the test's Ray) that stops when a worker reports the second
# chunk of the third shard (that shard is half written), until the test SIGKILLs it
DRIVER = """
import json, pathlib, sys, time
from elmokit.ray import embed_corpus
corpus, out, address, marker, options = sys.argv[1:]

def stop_midway(output, chunk, pid):
    if output.endswith("-00002.hdf5") and chunk == 1:
        pathlib.Path(marker).write_text((pathlib.Path(out) / "manifest.json").read_text())
        time.sleep(600)

embed_corpus([corpus], out, ray_address=address, on_chunk=stop_midway, **json.loads(options))
"""


def test_killed_driver_resumes_to_the_same_bytes(local_ray, reference, corpus, tmp_path):
    out, marker = tmp_path / "out", tmp_path / "midway"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            DRIVER,
            str(corpus),
            str(out),
            local_ray,
            str(marker),
            json.dumps(KILL_OPTIONS),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 240
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # the marker's manifest copy is complete
    proc.send_signal(signal.SIGKILL)
    output = proc.communicate()[0].decode()
    assert marker.exists() and proc.returncode == -signal.SIGKILL, output
    recorded = sorted(json.loads((out / "manifest.json").read_text())["shards"])
    assert recorded == sorted(json.loads(marker.read_text())["shards"])  # nothing after the stop
    assert "corpus-00002.hdf5" not in recorded and len(recorded) < 8

    summary = embed_corpus([corpus], out, **KILL_OPTIONS)
    skipped = len(recorded)
    assert (summary.shards_skipped, summary.shards_written, summary.sentences) == (
        skipped,
        8 - skipped,
        30 * (8 - skipped),
    )
    assert not list(out.glob("*.tmp"))
    same_bytes(reference, out)


def test_a_worker_with_other_weights_is_refused_in_one_line(local_ray, corpus, tmp_path):
    from elmokit.ray import _run, _settings, model_identity, plan_shards

    shards = plan_shards([corpus], ".hdf5", 30, 10, False, "text")
    settings = _settings(model_identity(MODEL), "all", "exact", 30, 10, False, "text", 4)
    settings["model_sha256"] = "0" * 64  # what the driver saw: not what the workers load
    with pytest.raises(ConfigError, match="differs from the driver's") as caught:
        _run(shards, tmp_path, tmp_path / "manifest.json", settings, {}, workers=2, threads=1,
             ray_address=None, batch_size=4, text_column="text", progress=False, on_chunk=None)  # fmt: skip
    assert "\n" not in str(caught.value)
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_shard_that_keeps_killing_its_worker_stops_the_run_naming_it(local_ray, tmp_path):
    from elmokit.ray import SHARD_RETRIES

    path = tmp_path / "long.txt"  # one shard of 200 chunks: each kill lands inside it
    path.write_text("\n".join(sentences(2000, seed=3)) + "\n", encoding="utf-8")
    killed: list[int] = []

    def kill_its_writer(output: str, chunk: int, pid: int) -> None:
        if pid not in killed:
            killed.append(pid)
            os.kill(pid, signal.SIGKILL)

    options = {**KILL_OPTIONS, "workers": 1, "shard_lines": 2000}
    with pytest.raises(ElmoError, match=r"long-00000.hdf5: its worker died 4 times") as caught:
        embed_corpus([path], tmp_path / "out", on_chunk=kill_its_writer, **options)
    assert "lines 1-2000 of" in str(caught.value) and "\n" not in str(caught.value)
    assert len(killed) == SHARD_RETRIES + 1
    assert not list((tmp_path / "out").glob("*.hdf5"))  # nothing half-written left as output
