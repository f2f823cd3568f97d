"""options.json round trip, weight-file reading/writing, and their error messages."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch

from elmokit import ConfigError, Elmo, ElmoConfig, WeightFileError
from elmokit.config import ORIGINAL_OPTIONS
from elmokit.modules import BiLM
from elmokit.weights import expected_shapes, load_weights, save_weights

from .conftest import TINY_OPTIONS, TINY_WEIGHTS


def test_options_round_trip_exactly():
    options = json.loads(TINY_OPTIONS.read_text())
    config = ElmoConfig.from_options(options)
    assert config.to_options() == options
    assert config.output_dim == 32 and config.num_output_layers == 3
    assert config.char_cnn.n_filters == 124


def test_bilm_tf_training_options_keep_extra_keys():
    options = {**ORIGINAL_OPTIONS, "n_epochs": 10, "unroll_steps": 20, "dropout": 0.1}
    assert ElmoConfig.from_options(options).to_options() == options


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda o: o.pop("lstm"), "missing key 'lstm'"),
        (lambda o: o["char_cnn"].pop("filters"), "char_cnn: missing key 'filters'"),
        (lambda o: o["lstm"].update(dim="big"), "key 'dim'"),
        (lambda o: o["char_cnn"].update(filters=[[1]]), "filters"),
        (lambda o: o["char_cnn"].update(activation="gelu"), "activation"),
    ],
)
def test_config_errors_name_the_key(mutate, message):
    options = json.loads(TINY_OPTIONS.read_text())
    mutate(options)
    with pytest.raises(ConfigError, match=message):
        ElmoConfig.from_options(options, where="opts.json")


def test_options_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        ElmoConfig.from_file(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{\n  'lstm': 1\n}")
    with pytest.raises(ConfigError, match=r"bad.json: not valid JSON \(line 2"):
        ElmoConfig.from_file(bad)


def test_weights_round_trip_is_bit_exact(tmp_path):
    elmo = Elmo.from_hdf5(TINY_OPTIONS, TINY_WEIGHTS)
    out = tmp_path / "weights.hdf5"
    save_weights(elmo.bilm, out)
    with h5py.File(TINY_WEIGHTS, "r") as original, h5py.File(out, "r") as written:
        keys = expected_shapes(elmo.bilm)
        datasets = []
        original.visititems(
            lambda k, v: datasets.append(k) if isinstance(v, h5py.Dataset) else None
        )
        assert sorted(keys) == sorted(datasets) and len(keys) == 33
        for key, shape in keys.items():
            assert written[key].shape == shape == original[key].shape
            assert np.array_equal(written[key][...], original[key][...]), key


def test_save_and_load_model_directory(tmp_path, small_config):
    elmo = Elmo.random(small_config, seed=3)
    elmo.save(tmp_path / "model")
    again = Elmo.load(tmp_path / "model")
    sentence = ["a", "round", "trip"]
    np.testing.assert_array_equal(elmo.embed_sentence(sentence), again.embed_sentence(sentence))


def test_compact_float16_weights(tmp_path, small_config):
    elmo = Elmo.random(small_config, seed=4)
    save_weights(elmo.bilm, tmp_path / "w16.hdf5", dtype="float16")
    bilm = BiLM(small_config)
    load_weights(bilm, tmp_path / "w16.hdf5")
    for a, b in zip(elmo.bilm.parameters(), bilm.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-3)


def _copy_weights(tmp_path, edit):
    path = tmp_path / "edited.hdf5"
    with h5py.File(TINY_WEIGHTS, "r") as src, h5py.File(path, "w") as dst:
        for key in src:
            src.copy(src[key], dst, name=key)
        edit(dst)
    return path


def test_missing_key_is_named(tmp_path):
    path = _copy_weights(tmp_path, lambda f: f.__delitem__("CNN_high_1/W_carry"))
    with pytest.raises(WeightFileError, match=r"edited.hdf5: missing key CNN_high_1/W_carry"):
        Elmo.from_hdf5(TINY_OPTIONS, path)


def test_wrong_shape_is_named(tmp_path):
    def shrink(f):
        del f["CNN_proj/W_proj"]
        f["CNN_proj/W_proj"] = np.zeros((124, 8), np.float32)

    path = _copy_weights(tmp_path, shrink)
    with pytest.raises(
        WeightFileError, match=r"key CNN_proj/W_proj has shape \(124, 8\), expected \(124, 16\)"
    ):
        Elmo.from_hdf5(TINY_OPTIONS, path)


def test_non_finite_weights_rejected(tmp_path):
    def poison(f):
        f["CNN/b_cnn_0"][0] = np.nan

    with pytest.raises(WeightFileError, match="CNN/b_cnn_0 contains NaN"):
        Elmo.from_hdf5(TINY_OPTIONS, _copy_weights(tmp_path, poison))


def test_mismatched_options_and_weights(tmp_path, small_config):
    small_config.save(tmp_path / "options.json")
    with pytest.raises(WeightFileError, match=r"key char_embed has shape \(261, 4\), expected"):
        Elmo.from_hdf5(tmp_path / "options.json", TINY_WEIGHTS)


def test_missing_and_corrupt_weight_files(tmp_path):
    with pytest.raises(WeightFileError, match="weight file not found"):
        Elmo.from_hdf5(TINY_OPTIONS, tmp_path / "absent.hdf5")
    corrupt = tmp_path / "corrupt.hdf5"
    corrupt.write_bytes(b"\x89HDF\r\n" + b"garbage" * 100)
    with pytest.raises(WeightFileError, match="corrupt.hdf5: not a readable HDF5 file"):
        Elmo.from_hdf5(TINY_OPTIONS, corrupt)
