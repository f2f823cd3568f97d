"""embed_file / `elmokit embed`: HDF5 layout like `allennlp elmo`, bad input, atomic output."""

from __future__ import annotations

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from elmokit import InputError
from elmokit.cli import main

from .conftest import TINY_OPTIONS, TINY_WEIGHTS

LINES = ["The cell phone rang .", "Blood cells carry oxygen", "A mouse", "The cell phone rang ."]


@pytest.fixture
def input_file(tmp_path):
    path = tmp_path / "input.txt"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt, ndim", [("all", 3), ("top", 2), ("average", 2)])
def test_embed_file_layout(tiny_elmo, input_file, tmp_path, fmt, ndim):
    out = tmp_path / "out.hdf5"
    summary = tiny_elmo.embed_file(input_file, out, output_format=fmt, batch_size=3)
    assert summary.sentences == 4 and summary.tokens == 16
    with h5py.File(out, "r") as f:
        assert sorted(f.keys()) == ["0", "1", "2", "3", "sentence_to_index"]
        index = json.loads(f["sentence_to_index"][0])
        assert index == {"The cell phone rang .": "3", "Blood cells carry oxygen": "1",
                         "A mouse": "2"}  # fmt: skip
        for key, line in enumerate(LINES):
            data = f[str(key)][...]
            layers = tiny_elmo.embed_sentence(line.split())
            expected = {"all": layers, "top": layers[2], "average": layers.mean(0)}[fmt]
            assert data.ndim == ndim and data.dtype == np.float32
            np.testing.assert_allclose(data, expected, rtol=1e-5, atol=1e-5)


def test_empty_line_error_names_line(tiny_elmo, tmp_path):
    path = tmp_path / "holes.txt"
    path.write_text("one line\n\n  \nlast\n")
    out = tmp_path / "out.hdf5"
    with pytest.raises(InputError, match=r"holes.txt line 2 is empty"):
        tiny_elmo.embed_file(path, out)
    assert not out.exists() and list(tmp_path.iterdir()) == [path]
    tiny_elmo.embed_file(path, out, skip_empty=True)
    with h5py.File(out, "r") as f:
        assert f["1"].shape == (3, 0, 32) and f["2"].shape == (3, 0, 32) and f["3"].shape[1] == 1


def test_non_utf8_error_names_line_and_column(tiny_elmo, tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("fine\ncaf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(
        InputError, match=r"latin1.txt line 2: not valid UTF-8 \(byte 0xe9 at column 4"
    ):
        tiny_elmo.embed_file(path, tmp_path / "out.hdf5")


def test_failure_midway_leaves_no_output(tiny_elmo, input_file, tmp_path, monkeypatch):
    out = tmp_path / "out.hdf5"
    out.write_bytes(b"previous result")

    def boom(sentences, batch_size=64, **kwargs):
        yield tiny_elmo.embed_sentence(next(iter(sentences)))
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(tiny_elmo, "embed_sentences", boom)
    with pytest.raises(RuntimeError):
        tiny_elmo.embed_file(input_file, out)
    assert out.read_bytes() == b"previous result"  # untouched, no temp files left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.txt", "out.hdf5"]


def test_cli_embed_with_options_and_weight_files(input_file, tmp_path):
    out = tmp_path / "o.hdf5"
    result = CliRunner().invoke(main, ["embed", str(input_file), str(out), "--options-file",
                                       str(TINY_OPTIONS), "--weight-file", str(TINY_WEIGHTS),
                                       "--output-format", "top", "--batch-size", "2"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "wrote 4 sentences (16 tokens)" in result.output
    with h5py.File(out, "r") as f:
        assert f["0"].shape == (5, 32)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "no-such-model"], "model 'no-such-model' is not"),
        (["--options-file", "{opts}", "--weight-file", "{missing}"], "weight file not found"),
    ],
)
def test_cli_errors_are_one_line(input_file, tmp_path, args, message):
    args = [a.format(opts=TINY_OPTIONS, missing=tmp_path / "w.hdf5") for a in args]
    result = CliRunner().invoke(main, ["embed", str(input_file), str(tmp_path / "o.h5"), *args])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_cli_end_to_end_subprocess(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("hello world\n\nbye\n")
    cmd = [sys.executable, "-m", "elmokit.cli", "embed", str(path), str(tmp_path / "o.hdf5"),
           "--model", "allennlp-tiny"]  # fmt: skip
    failed = subprocess.run(cmd, capture_output=True, text=True)
    assert failed.returncode == 1
    assert failed.stderr.strip() == (
        f"error: {path} line 2 is empty (remove it, or pass --skip-empty to write an empty entry)"
    )
    assert not (tmp_path / "o.hdf5").exists()
    ok = subprocess.run(cmd + ["--skip-empty"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "wrote 3 sentences (3 tokens)" in ok.stdout


def test_sentence_index_matches_a_dict_and_survives_hash_collisions(tmp_path):
    from elmokit.output import SentenceIndex

    texts = ["a b", 'say "hi"', "naïve café", "a b", "tab\there", "x", "naïve café", "a b", ""]
    expected: dict[str, str] = {}
    for key, text in enumerate(texts):
        expected[text] = str(key)  # what a dict assignment (AllenNLP) gives: the last line wins
    index = SentenceIndex(tmp_path, capacity=2)  # grows past its first capacity
    for text in texts:
        index.add(text)
    assert len(index) == len(texts)
    assert json.loads(index.to_json()) == expected
    # every hash equal (a worst-case collision): texts still decide, nothing merges
    index._hashes[: len(texts)] = 7
    assert json.loads(index.to_json()) == expected
    index.close()
    assert list(tmp_path.iterdir()) == []  # the spool file had no name


def test_embed_file_index_keeps_duplicates_last(tiny_elmo, tmp_path):
    lines = ["a b", "c", "a b", "d e f", "c"] * 30
    path = tmp_path / "dups.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tiny_elmo.embed_file(path, tmp_path / "out.hdf5", output_format="top", batch_size=7)
    with h5py.File(tmp_path / "out.hdf5", "r") as f:
        assert len(f.keys()) == len(lines) + 1
        assert json.loads(f["sentence_to_index"][0]) == {"a b": "147", "c": "149", "d e f": "148"}


def test_cli_bucket_batches_changes_speed_not_output(tmp_path):
    """Length bucketing reorders the work, never the output: file order (--bucket-batches 1)
    and the default read-ahead write the same datasets under the same keys."""
    lines = [" ".join(f"w{j}" for j in range(1 + (i * 7) % 13)) for i in range(40)]
    path = tmp_path / "varied.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    outputs = {}
    for bucket in ("1", "8"):
        out = tmp_path / f"b{bucket}.hdf5"
        result = CliRunner().invoke(main, ["embed", str(path), str(out), "--options-file",
                                           str(TINY_OPTIONS), "--weight-file", str(TINY_WEIGHTS),
                                           "--batch-size", "3", "--bucket-batches", bucket])  # fmt: skip
        assert result.exit_code == 0, result.output
        with h5py.File(out, "r") as f:
            outputs[bucket] = {key: f[key][()] for key in f if key != "sentence_to_index"}
    assert sorted(outputs["1"], key=int) == [str(i) for i in range(40)]
    for key, value in outputs["1"].items():
        assert value.shape == (3, len(lines[int(key)].split()), 32)
        np.testing.assert_allclose(outputs["8"][key], value, atol=1e-6, rtol=1e-5)
