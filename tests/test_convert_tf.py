"""TF-Hub modules and bilm-tf checkpoints -> options.json + weights.hdf5 (interop/tf.py).

Without TensorFlow: the committed fixture (tests/fixtures/tf, written by TF with
``write_fixture.py``) is read by the pure-Python reader and must give the arrays bilm-tf's own
weight dump gives, and elmokit on the converted files must give TF's own outputs. Error cases
use checkpoints this file writes in TF's format (:func:`write_bundle`). With TensorFlow and
tf_keras installed (``pip install 'elmokit[tf]'``), more configurations are written by TF at
test time.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from elmokit import Elmo, InputError, WeightFileError
from elmokit.errors import ConfigError
from elmokit.interop.tf import (
    TFCheckpoint,
    _raw_crc_small,
    convert_bilm_tf,
    convert_tf,
    convert_tfhub,
    crc32c,
    find_checkpoint,
)

from .conftest import FIXTURES

TF_FIXTURE = FIXTURES / "tf"
SOURCES = {"bilm-tf": TF_FIXTURE / "bilm-tf", "tfhub": TF_FIXTURE / "tfhub"}
PREFIXES = {
    "bilm-tf": SOURCES["bilm-tf"] / "model.ckpt-3",
    "tfhub": SOURCES["tfhub"] / "variables" / "variables",
}
SENTENCES = [["The", "cell", "divides", "."], ["naïve", "cells", "grow", "!"]]


def _datasets(path: Path) -> dict[str, np.ndarray]:
    arrays = {}
    with h5py.File(path, "r") as handle:
        handle.visititems(
            lambda name, obj: (
                arrays.update({name: obj[...]}) if isinstance(obj, h5py.Dataset) else None
            )
        )
    return arrays


def _outputs(directory: Path, sentences=SENTENCES) -> list[np.ndarray]:
    elmo = Elmo.from_hdf5(directory / "options.json", directory / "weights.hdf5")
    return elmo.embed_batch(sentences)


def _compare_to_tf(got: list[np.ndarray], expected: list[np.ndarray]) -> None:
    """TF's outputs of the training graph hold layers 0 and L - 1 only (see write_fixture)."""
    for mine, theirs in zip(got, expected, strict=True):
        if theirs.shape[0] == 2 and mine.shape[0] != 2:
            mine = mine[[0, -1]]
        np.testing.assert_allclose(mine, theirs, atol=2e-6, rtol=0)


# ------------------------------------------------------------------ crc32c


def _crc32c_bitwise(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def test_crc32c_check_values():
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert crc32c(b"") == 0
    data = bytes(range(256)) * 3
    assert crc32c(data) == _crc32c_bitwise(data)


@pytest.mark.parametrize("size", [1 << 16, (1 << 20) + 3, 5 * (1 << 18) + 77])
def test_crc32c_numpy_lanes_equal_the_byte_loop(size):
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8)
    assert crc32c(data) == _raw_crc_small(data.tobytes(), 0xFFFFFFFF) ^ 0xFFFFFFFF


# ------------------------------------------------------------------ the committed fixture


@pytest.mark.parametrize("kind", ["bilm-tf", "tfhub"])
def test_fixture_converts_to_what_bilm_tf_dumps(tmp_path, kind):
    report = convert_tf(SOURCES[kind], tmp_path / "out")
    assert report.kind == kind
    assert report.files == [tmp_path / "out" / "options.json", tmp_path / "out" / "weights.hdf5"]
    got = _datasets(tmp_path / "out" / "weights.hdf5")
    expected = np.load(TF_FIXTURE / f"{kind}-expected.npz")  # TF's reader + bilm-tf's names
    assert sorted(got) == sorted(expected.files)
    for key in expected.files:
        assert got[key].dtype == np.float32
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    assert got["char_embed"].shape == (261, 4)  # a hub module's padding row 0 is left out
    options = json.loads((tmp_path / "out" / "options.json").read_text())
    assert options["char_cnn"]["filters"] == [[1, 4], [2, 6]]
    assert options["char_cnn"]["n_characters"] == 262
    assert options["lstm"] | {"cell_clip": 3, "proj_clip": 3} == {
        "cell_clip": 3, "dim": 8, "n_layers": 2, "proj_clip": 3, "projection_dim": 4,
        "use_skip_connections": True,
    }  # fmt: skip


@pytest.mark.parametrize("kind", ["bilm-tf", "tfhub"])
def test_converted_fixture_gives_tensorflows_outputs(tmp_path, kind):
    convert_tf(SOURCES[kind], tmp_path / "out", kind=kind)
    expected = np.load(TF_FIXTURE / f"{kind}-tf-outputs.npz")
    _compare_to_tf(_outputs(tmp_path / "out"), [expected[f] for f in expected.files])


def test_report_says_what_was_left_out(tmp_path):
    bilm_tf = str(convert_bilm_tf(SOURCES["bilm-tf"], tmp_path / "a"))
    assert f"wrote {tmp_path / 'a' / 'options.json'}" in bilm_tf
    assert "NOT carried over: the LM's softmax" in bilm_tf
    assert "the optimizer state (18 slot variables)" in bilm_tf
    assert f"{SOURCES['bilm-tf'] / 'options.json'}" in bilm_tf  # clips etc. came from it
    hub = convert_tfhub(SOURCES["tfhub"], tmp_path / "b")
    mix = next(line for line in hub.lost if "layer mix" in line)
    weights = json.loads(mix[mix.index("[") : mix.index("]") + 1])
    assert len(weights) == 3 and all(w > 0 for w in weights)
    assert any("AllenNLP's released ELMo" in note for note in hub.notes)


def test_converted_hub_layer_mix_is_scaling_times_softmax(tmp_path):
    ckpt = TFCheckpoint(PREFIXES["tfhub"])
    logits = ckpt.read("aggregation/weights").astype(np.float64)
    scaling = float(ckpt.read("aggregation/scaling"))
    expected = scaling * np.exp(logits) / np.exp(logits).sum()
    report = convert_tfhub(SOURCES["tfhub"], tmp_path)
    line = next(line for line in report.lost if "layer mix" in line)
    np.testing.assert_allclose(json.loads(line[line.index("[") : line.index("]") + 1]),
                               expected, atol=1e-6)  # fmt: skip


def test_reader_reads_shapes_dtypes_and_other_variables():
    ckpt = TFCheckpoint(PREFIXES["bilm-tf"])
    assert ckpt.num_shards == 1
    assert ckpt.shapes["lm/char_embed"] == (261, 4)
    assert ckpt.shapes["lm/RNN_1/rnn/multi_rnn_cell/cell_1/lstm_cell/kernel"] == (8, 32)
    step = ckpt.read("global_step")
    assert step.dtype == np.int64 and step.shape == () and int(step) == 0  # never trained


@pytest.mark.parametrize("kind", ["bilm-tf", "tfhub"])
def test_wrong_kind_is_refused_naming_the_right_one(tmp_path, kind):
    other = "tfhub" if kind == "bilm-tf" else "bilm-tf"
    with pytest.raises(InputError, match=f"not .*; use --from {kind}$"):
        convert_tf(SOURCES[kind], tmp_path, kind=other)
    assert not (tmp_path / "weights.hdf5").exists()


def test_source_can_be_a_prefix_an_index_or_a_folder(tmp_path):
    assert find_checkpoint(SOURCES["bilm-tf"]) == PREFIXES["bilm-tf"]  # via `checkpoint`
    assert find_checkpoint(PREFIXES["bilm-tf"]) == PREFIXES["bilm-tf"]
    index = Path(f"{PREFIXES['bilm-tf']}.index")
    assert find_checkpoint(index) == PREFIXES["bilm-tf"]
    assert find_checkpoint(SOURCES["tfhub"]) == PREFIXES["tfhub"]
    assert find_checkpoint(SOURCES["tfhub"] / "variables") == PREFIXES["tfhub"]
    # no `checkpoint` file: the one *.index; two: name one
    folder = tmp_path / "run"
    folder.mkdir()
    for name in ("model.ckpt-3.index", "model.ckpt-3.data-00000-of-00001"):
        shutil.copy(SOURCES["bilm-tf"] / name, folder / name)
    assert find_checkpoint(folder) == folder / "model.ckpt-3"
    shutil.copy(folder / "model.ckpt-3.index", folder / "model.ckpt-9.index")
    with pytest.raises(InputError, match=r"several checkpoints \(model.ckpt-3.index, model"):
        find_checkpoint(folder)
    with pytest.raises(InputError, match="no such checkpoint"):
        find_checkpoint(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no TF checkpoint here"):
        find_checkpoint(tmp_path / "empty")


def test_checkpoint_file_naming_a_missing_checkpoint(tmp_path):
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-7"\n')
    with pytest.raises(InputError, match=r"checkpoint: names model.ckpt-7, which has no .index"):
        find_checkpoint(tmp_path)


def test_options_beside_a_bilm_tf_checkpoint_must_agree_with_its_shapes(tmp_path):
    source = tmp_path / "save"
    shutil.copytree(SOURCES["bilm-tf"], source)
    options = json.loads((source / "options.json").read_text())
    options["lstm"]["dim"] = 16
    (source / "options.json").write_text(json.dumps(options))
    with pytest.raises(ConfigError, match=r"options.json: lstm.dim is 16, but the checkpoint's "
                       "variables give 8"):  # fmt: skip
        convert_tf(source, tmp_path / "out")


def test_options_file_sets_what_shapes_cannot_tell(tmp_path):
    given = tmp_path / "given.json"
    given.write_text(json.dumps({"lstm": {"cell_clip": 5, "proj_clip": None},
                                 "char_cnn": {"activation": "tanh"}}))  # fmt: skip
    report = convert_tfhub(SOURCES["tfhub"], tmp_path / "out", options_file=given)
    options = json.loads((tmp_path / "out" / "options.json").read_text())
    assert options["lstm"]["cell_clip"] == 5 and options["lstm"]["proj_clip"] is None
    assert options["char_cnn"]["activation"] == "tanh" and options["lstm"]["dim"] == 8
    assert any(str(given) in note for note in report.notes)


# ------------------------------------------------------------------ broken checkpoints


def _copy(kind: str, tmp_path: Path) -> Path:
    target = tmp_path / kind
    shutil.copytree(SOURCES[kind], target)
    return target


def test_corrupt_data_is_a_checksum_error(tmp_path):
    source = _copy("bilm-tf", tmp_path)
    entry = TFCheckpoint(source / "model.ckpt-3").entries["lm/CNN_proj/W_proj"]
    data = source / "model.ckpt-3.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[entry.offset + 5] ^= 0x40
    data.write_bytes(bytes(raw))
    with pytest.raises(WeightFileError, match="checksum mismatch for variable lm/CNN_proj/W_proj"):
        convert_tf(source, tmp_path / "out")
    assert not (tmp_path / "out" / "weights.hdf5").exists()
    assert not list((tmp_path / "out").glob("*.tmp"))  # the temp file went too


def test_truncated_data_and_corrupt_index(tmp_path):
    source = _copy("tfhub", tmp_path)
    data = source / "variables" / "variables.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:100])
    with pytest.raises(WeightFileError, match="truncated"):
        convert_tf(source, tmp_path / "out")
    index = source / "variables" / "variables.index"
    raw = bytearray(index.read_bytes())
    raw[40] ^= 0xFF
    index.write_bytes(bytes(raw))
    with pytest.raises(WeightFileError, match="variables.index: checksum mismatch in the block"):
        convert_tf(source, tmp_path / "out")
    index.write_bytes(b"not a table" * 10)
    with pytest.raises(WeightFileError, match="not a TF checkpoint index"):
        convert_tf(source, tmp_path / "out")


def _pb_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def _pb(number: int, value: int | bytes) -> bytes:
    if isinstance(value, bytes):
        return _pb_varint(number << 3 | 2) + _pb_varint(len(value)) + value
    return _pb_varint(number << 3) + _pb_varint(value)


def _masked(data: bytes) -> int:
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def _table_block(entries: list[tuple[bytes, bytes]]) -> bytes:
    body, restarts = bytearray(), []
    for key, value in entries:  # every entry a restart point: no shared key prefixes
        restarts.append(len(body))
        body += _pb_varint(0) + _pb_varint(len(key)) + _pb_varint(len(value)) + key + value
    body += b"".join(struct.pack("<I", r) for r in restarts or [0])
    body += struct.pack("<I", len(restarts or [0]))
    return bytes(body) + b"\0" + struct.pack("<I", _masked(bytes(body) + b"\0"))


def write_bundle(prefix: Path, arrays: dict[str, np.ndarray]) -> None:
    """A float32 TF checkpoint in TF's format (TF writes these with tf.train.Saver)."""
    data, entries = bytearray(), [(b"", _pb(1, 1) + _pb(3, _pb(1, 1)))]  # the header
    for name in sorted(arrays):
        raw = np.ascontiguousarray(arrays[name], dtype="<f4").tobytes()
        shape = b"".join(_pb(2, _pb(1, d)) for d in arrays[name].shape)
        entry = _pb(1, 1) + _pb(2, shape) + _pb(4, len(data)) + _pb(5, len(raw))
        entry += b"\x35" + struct.pack("<I", _masked(raw))  # field 6, fixed32
        entries.append((name.encode(), entry))
        data += raw
    Path(prefix).parent.mkdir(parents=True, exist_ok=True)
    blocks = _table_block(entries)
    handle = _pb_varint(0) + _pb_varint(len(blocks) - 5)
    meta = _table_block([])
    meta_handle = _pb_varint(len(blocks)) + _pb_varint(len(meta) - 5)
    index = _table_block([(entries[-1][0], handle)])
    index_handle = _pb_varint(len(blocks) + len(meta)) + _pb_varint(len(index) - 5)
    footer = (meta_handle + index_handle).ljust(40, b"\0") + struct.pack("<Q", 0xDB4775248B80FB57)
    Path(f"{prefix}.index").write_bytes(blocks + meta + index + footer)
    Path(f"{prefix}.data-00000-of-00001").write_bytes(bytes(data))


def _fixture_arrays(kind: str) -> dict[str, np.ndarray]:
    ckpt = TFCheckpoint(PREFIXES[kind])
    return {name: ckpt.read(name).astype(np.float32) for name in ckpt.entries}


def test_written_bundle_round_trips(tmp_path):
    arrays = _fixture_arrays("tfhub")
    write_bundle(tmp_path / "variables", arrays)
    ckpt = TFCheckpoint(tmp_path / "variables")
    assert sorted(ckpt.entries) == sorted(arrays)
    for name, array in arrays.items():
        np.testing.assert_array_equal(ckpt.read(name), array)
    convert_tf(tmp_path / "variables", tmp_path / "out")  # and converts like the original
    reference = tmp_path / "reference"
    convert_tf(SOURCES["tfhub"], reference)
    for key, array in _datasets(reference / "weights.hdf5").items():
        np.testing.assert_array_equal(_datasets(tmp_path / "out" / "weights.hdf5")[key], array)


@pytest.mark.parametrize(
    "change, error",
    [
        (lambda a: a.pop("bilm/CNN_high_0/b_carry"), "missing variable bilm/CNN_high_0/b_carry"),
        (
            lambda a: a.pop("bilm/RNN_1/RNN/MultiRNNCell/Cell1/rnn/lstm_cell/bias"),
            "missing variable bilm/RNN_1/RNN/MultiRNNCell/Cell1/rnn/lstm_cell/bias "
            r"\(for RNN_1/RNN/MultiRNNCell/Cell1/LSTMCell/B\)",
        ),
        (
            lambda a: a.update({"bilm/CNN/W_cnn_5": np.zeros((1, 3, 4, 2), np.float32)}),
            "unknown variable bilm/CNN/W_cnn_5",
        ),
        (
            lambda a: a.update(
                {"bilm/RNN_0/RNN/MultiRNNCell/Cell0/rnn/lstm_cell/w_f_diag": np.zeros(8)}
            ),
            "unknown variable bilm/RNN_0/RNN/MultiRNNCell/Cell0/rnn/lstm_cell/w_f_diag",
        ),
        (
            lambda a: a.update({"bilm/CNN_proj/W_proj": np.zeros((10, 5), np.float32)}),
            r"variable bilm/CNN_proj/W_proj has shape \(10, 5\), expected \(10, 4\)",
        ),
        (
            lambda a: a.update({"bilm/char_embed": np.zeros((300, 4), np.float32)}),
            "variable bilm/char_embed has 300 rows, expected 261",
        ),
        (lambda a: a.pop("bilm/CNN/W_cnn_0"), "missing variable CNN/W_cnn_0"),
    ],
)
def test_missing_unknown_and_misshapen_variables_are_named(tmp_path, change, error):
    arrays = _fixture_arrays("tfhub")
    change(arrays)
    write_bundle(tmp_path / "variables", arrays)
    with pytest.raises(WeightFileError, match=error):
        convert_tf(tmp_path / "variables", tmp_path / "out", kind="tfhub")
    assert not (tmp_path / "out" / "weights.hdf5").exists()


def _renamed(arrays: dict[str, np.ndarray], rename) -> dict[str, np.ndarray]:
    return {rename(name): array for name, array in arrays.items() if rename(name)}


def test_tf_1_1_cell_names_and_a_one_layer_training_checkpoint(tmp_path):
    arrays = _fixture_arrays("bilm-tf")
    reference = _datasets(convert_tf(SOURCES["bilm-tf"], tmp_path / "ref").files[1])

    def old(name: str) -> str:  # TF <= 1.1 named cells as the HDF5 file does
        name = re.sub(
            r"/rnn/multi_rnn_cell/cell_(\d)/lstm_cell/", r"/RNN/MultiRNNCell/Cell\1/LSTMCell/", name
        )
        for new_name, old_name in (
            ("projection/kernel", "W_P_0"),
            ("kernel", "W_0"),
            ("bias", "B"),
        ):
            name = re.sub(f"LSTMCell/{new_name}($|/)", f"LSTMCell/{old_name}\\1", name)
        return name

    write_bundle(tmp_path / "old" / "model.ckpt-1", _renamed(arrays, old))
    report = convert_bilm_tf(tmp_path / "old", tmp_path / "old-out")
    for key, array in _datasets(tmp_path / "old-out" / "weights.hdf5").items():
        np.testing.assert_array_equal(array, reference[key], err_msg=key)
    assert report.lost  # the softmax and the slots are still recognised

    def one_layer(name: str) -> str | None:  # no MultiRNNCell around a single layer
        if "/cell_1/" in name:
            return None
        return name.replace("/rnn/multi_rnn_cell/cell_0/lstm_cell/", "/rnn/lstm_cell/")

    write_bundle(tmp_path / "one" / "model.ckpt-1", _renamed(arrays, one_layer))
    convert_bilm_tf(tmp_path / "one", tmp_path / "one-out")
    options = json.loads((tmp_path / "one-out" / "options.json").read_text())
    assert options["lstm"]["n_layers"] == 1
    got = _datasets(tmp_path / "one-out" / "weights.hdf5")
    cell0 = "RNN_1/RNN/MultiRNNCell/Cell0/LSTMCell/W_0"
    np.testing.assert_array_equal(got[cell0], reference[cell0])
    assert not any("Cell1" in key for key in got)
    Elmo.from_hdf5(tmp_path / "one-out" / "options.json", tmp_path / "one-out" / "weights.hdf5")


def test_nan_weights_are_refused(tmp_path):
    arrays = _fixture_arrays("bilm-tf")
    arrays["lm/CNN/b_cnn_1"][2] = np.nan
    write_bundle(tmp_path / "model.ckpt-1", arrays)
    with pytest.raises(WeightFileError, match="variable lm/CNN/b_cnn_1 contains NaN"):
        convert_tf(tmp_path / "model.ckpt-1", tmp_path / "out")


def test_variables_outside_the_bilm_are_ignored_and_listed(tmp_path):
    arrays = _fixture_arrays("bilm-tf")
    arrays["classifier/dense/kernel"] = np.ones((4, 2), np.float32)
    write_bundle(tmp_path / "model.ckpt-1", arrays)
    report = convert_tf(tmp_path / "model.ckpt-1", tmp_path / "out")
    assert report.kind == "bilm-tf"
    assert any(n.startswith("ignored, not part of the biLM: classifier/dense/kernel")
               for n in report.notes)  # fmt: skip


def test_interop_convert_dispatches_here(tmp_path):
    from elmokit.interop import convert

    for kind in ("bilm-tf", "tfhub"):
        report = convert(SOURCES[kind], tmp_path / kind, kind=kind)
        assert report.kind == kind and (tmp_path / kind / "weights.hdf5").is_file()


def test_cli_convert_detects_and_reports(tmp_path):
    from click.testing import CliRunner

    from elmokit.cli import main

    runner = CliRunner()
    for kind in ("bilm-tf", "tfhub"):
        result = runner.invoke(main, ["convert", str(SOURCES[kind]), str(tmp_path / kind)])
        assert result.exit_code == 0, result.output
        assert result.output.startswith(f"converted {kind} model {SOURCES[kind]}")
        assert f"wrote {tmp_path / kind / 'weights.hdf5'}" in result.output
    index = f"{PREFIXES['bilm-tf']}.index"
    result = runner.invoke(main, ["convert", index, str(tmp_path / "c"), "--from", "bilm-tf"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        main, ["convert", str(SOURCES["tfhub"]), str(tmp_path / "d"), "--from", "bilm-tf"]
    )
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and result.output.count("\n") == 1
    assert "variables.index: this is a TF-Hub ELMo module (variables named like bilm/" in (
        result.output
    )
    assert result.output.rstrip().endswith("use --from tfhub")


def test_cli_convert_options_flag(tmp_path):
    from click.testing import CliRunner

    from elmokit.cli import main

    given = tmp_path / "given.json"
    given.write_text(json.dumps({"lstm": {"cell_clip": 7}}))
    args = ["convert", str(SOURCES["tfhub"]), str(tmp_path / "out"), "--options", str(given)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out" / "options.json").read_text())["lstm"]["cell_clip"] == 7


def test_cli_convert_end_to_end_then_embed(tmp_path):
    """As a user runs it: a real process converts, the converted folder loads by name."""
    out = tmp_path / "elmo-hub"
    done = subprocess.run(
        [sys.executable, "-m", "elmokit.cli", "convert", str(SOURCES["tfhub"]), str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "NOT carried over: the module's trained layer mix" in done.stdout
    expected = np.load(TF_FIXTURE / "tfhub-tf-outputs.npz")
    got = Elmo.load(out).embed_batch(SENTENCES)
    _compare_to_tf(got, [expected[f] for f in expected.files])


# ------------------------------------------------------------------ written by TensorFlow now


@pytest.fixture(scope="module")
def tf_writer():
    """tests/fixtures/tf/write_fixture.py, which needs TensorFlow with tf_keras."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before TensorFlow is imported
    pytest.importorskip("tf_keras")
    pytest.importorskip("tensorflow")
    spec = importlib.util.spec_from_file_location("write_fixture", TF_FIXTURE / "write_fixture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tf_options(**lstm) -> dict:
    return {
        "bidirectional": True,
        "char_cnn": {
            "activation": lstm.pop("activation", "relu"),
            "embedding": {"dim": lstm.pop("embedding_dim", 6)},
            "filters": [[1, 4], [2, 8], [3, 8]],
            "max_characters_per_token": 50,
            "n_characters": 261,
            "n_highway": lstm.pop("n_highway", 2),
        },
        "lstm": {"cell_clip": 3, "proj_clip": 3, "use_skip_connections": True, **lstm},
        "n_tokens_vocab": 20,
    }


TF_CONFIGS = {
    # every feature on; char_embed (261, 80) is over 64 KiB: crc32c in numpy lanes
    "full": _tf_options(dim=24, projection_dim=8, n_layers=3, embedding_dim=80),
    # TF's LSTMCell without num_proj (no projection, proj_clip unused), one layer, no skip,
    # no cell clip, tanh
    "plain": _tf_options(
        dim=6,
        projection_dim=6,
        n_layers=1,
        use_skip_connections=False,
        cell_clip=None,
        activation="tanh",
        n_highway=0,
    ),  # fmt: skip
}
TF_SENTENCES = [["Where", "are", "we", "?", "x"], ["ünïcödé", "tokens", ",", "too", "."]]


@pytest.mark.slow
@pytest.mark.parametrize("config", sorted(TF_CONFIGS))
@pytest.mark.parametrize("kind", ["bilm-tf", "tfhub"])
def test_checkpoints_written_by_tensorflow(tmp_path, tf_writer, kind, config):
    options = TF_CONFIGS[config]
    expected = tf_writer.write_checkpoint(tmp_path / "src", options, kind, TF_SENTENCES, seed=3)
    options_file = None
    if kind == "tfhub":  # a hub module has no options.json: give what shapes cannot tell
        options_file = tmp_path / "given.json"
        options_file.write_text(json.dumps(options))
    report = convert_tf(tmp_path / "src", tmp_path / "out", options_file=options_file)
    assert report.kind == kind
    got = _outputs(tmp_path / "out", TF_SENTENCES)
    _compare_to_tf(got, expected)
    # the same weights renamed by bilm-tf's own rules, written directly, give the same outputs
    prefix = find_checkpoint(tmp_path / "src")
    tf_writer.dump_weights(prefix, tmp_path / "dump.npz")
    direct = tmp_path / "direct"
    direct.mkdir()
    shutil.copy(tmp_path / "out" / "options.json", direct / "options.json")
    dumped = np.load(tmp_path / "dump.npz")
    with h5py.File(direct / "weights.hdf5", "w") as handle:
        for key in dumped.files:
            # bilm-tf dumps a one-layer model as RNN_d/RNN/LSTMCell/..., which AllenNLP
            # cannot load; the converter writes it as Cell0, the name of every other layer 0
            cell0 = re.sub(r"^(RNN_\d)/RNN/LSTMCell/", r"\1/RNN/MultiRNNCell/Cell0/LSTMCell/", key)
            handle.create_dataset(cell0, data=dumped[key])
        if options["lstm"]["projection_dim"] == options["lstm"]["dim"]:
            assert not any(key.endswith("W_P_0") for key in dumped.files)
            kernels = []
            handle.visit(lambda name: kernels.append(name) if name.endswith("/W_0") else None)
            for key in kernels:
                eye = np.eye(options["lstm"]["dim"], dtype=np.float32)
                handle.create_dataset(key.replace("/W_0", "/W_P_0"), data=eye)
    for mine, theirs in zip(got, _outputs(direct, TF_SENTENCES), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    converted = json.loads((tmp_path / "out" / "options.json").read_text())
    assert converted["lstm"]["n_layers"] == options["lstm"]["n_layers"]
    if config == "plain":
        assert converted["lstm"]["proj_clip"] is None
