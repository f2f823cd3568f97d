"""ONNX export (`elmokit export-onnx`): dynamic batch and length, onnxruntime parity with
exact mode on the tiny model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from elmokit.characters import batch_to_ids
from elmokit.cli import main
from elmokit.errors import InputError

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from elmokit.onnx_export import OnnxElmo, export_onnx  # noqa: E402

pytestmark = pytest.mark.slow  # one export takes ~20-40 s


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The tiny model exported by the CLI (which checks it against elmokit too)."""
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    result = CliRunner().invoke(main, ["export-onnx", str(path), "--model", "allennlp-tiny"])
    assert result.exit_code == 0, result.output
    assert "onnxruntime vs elmokit (exact): max abs difference" in result.output
    return path


@pytest.mark.parametrize("batch", [
    [["x"]],  # B = 1, T = 3: both smaller than the export example's
    [["The", "cell", "divides", "."], [], ["A", "mouse"]],
    [["Click", "the", "mouse", "to", "open", "the", "bank", "statement", "now", ",",
      "said", "the", "teller", "to", "the", "customer", "."]] * 2 + [["Hi"]] * 5,
])  # fmt: skip
def test_onnxruntime_matches_exact_mode(exported, tiny_elmo, batch):
    runner = OnnxElmo(exported)
    for ours, theirs in zip(runner.embed_batch(batch), tiny_elmo.embed_batch(batch), strict=True):
        assert ours.shape == theirs.shape
        if ours.size:
            assert np.abs(ours - theirs).max() <= 1e-4


def test_padding_and_boundaries_match_the_module(exported, tiny_elmo):
    batch = [["The", "cell", "divides", "."], ["A"]]
    ids, lengths = batch_to_ids(batch)
    layers = OnnxElmo(exported).run(ids, lengths)  # (L, B, T, D) with <S>, </S>, padding
    with torch.no_grad():
        reference = tiny_elmo.bilm(torch.from_numpy(ids), torch.from_numpy(lengths)).layers
    np.testing.assert_allclose(layers, reference.numpy(), atol=1e-5)
    assert not layers[:, 1, 3:].any()  # padding is zero


def test_manylangs_models_are_refused(tmp_path):
    from .test_interop import make_manylangs

    make_manylangs(tmp_path / "m")
    with pytest.raises(InputError, match="convert it first"):
        export_onnx(tmp_path / "m", tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
