"""ONNX export of the biLM: character ids in, every layer out, any batch size and length.

>>> from elmokit.onnx_export import export_onnx, OnnxElmo
>>> export_onnx("en-small", "elmo.onnx")           # needs elmokit[onnx] (onnx, onnxscript)
>>> runner = OnnxElmo("elmo.onnx")                 # onnxruntime
>>> runner.embed_batch([["The", "cell"], ["A", "mouse", "ran"]])[1].shape   # (L, n, D)
(3, 3, 256)

The graph (:class:`ExportableBiLM`): inputs ``char_ids`` int64 (B, T, 50) (``<S> tokens </S>``
as from :func:`elmokit.characters.batch_to_ids`) and ``lengths`` int64 (B,); output ``layers``
float32 (L, B, T, D), zeros at padding: the same as ``BiLM.forward`` from a zero state. B and
T are dynamic. The recurrence is one ONNX ``Scan`` per direction and layer (``torch.export``
with ``torch._higher_order_ops.scan``), over the full padded batch: the backward direction reads
each sentence reversed within its own length, so in both directions a sentence's real positions
come before its padding and never depend on it; padding positions are zeroed at the end. No
state goes in or out (stateless, elmokit's default). The char CNN runs over all 50 positions of
every token (no word cache, no length grouping): the graph is plain convolutions.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from elmokit.errors import InputError
from elmokit.modules.bilm import (
    BiLM,
    CharCNN,
    LstmCellWithProjection,
    activate_gates,
    next_cell,
)


class ExportableBiLM(nn.Module):
    """``BiLM.forward`` (zero start state) in ops that export with dynamic B and T."""

    def __init__(self, bilm: BiLM) -> None:
        super().__init__()
        if not isinstance(bilm.char_cnn, CharCNN):
            raise InputError(
                "ONNX export needs a model in the bilm-tf layout (char CNN token "
                f"layer), not {type(bilm.char_cnn).__name__}: convert it first "
                "(elmokit convert)"
            )
        self.bilm = bilm

    def tokens(self, char_ids: torch.Tensor) -> torch.Tensor:
        """(N, 50) char ids -> (N, P): the char CNN over all positions, as plain convs."""
        cnn = self.bilm.char_cnn
        x = cnn.char_embedding(char_ids).transpose(1, 2)  # (N, 50) -> (N, e, 50)
        # each conv: (N, e, 50) -> (N, num, 50 - w + 1) -> max over positions -> (N, num)
        h = torch.cat([cnn.activation(F.conv1d(x, conv.weight, conv.bias).amax(-1))
                       for conv in cnn.convs], dim=-1)  # fmt: skip
        return cnn.projection(cnn.highway(h))  # (N, F) -> (N, P)

    @staticmethod
    def run_cell(cell: LstmCellWithProjection, inputs: torch.Tensor) -> torch.Tensor:
        """(B, T, in) -> (B, T, P): one direction of one layer from a zero state, every row
        for all T steps (a Scan over time)."""
        from torch._higher_order_ops.scan import scan

        batch = inputs.size(0)
        # (B, T, in) -> (T, B, 4C): every step's input product in one GEMM
        gates_x = F.linear(inputs.transpose(0, 1), cell.input_linear.weight, cell.gate_bias())
        w_h, w_p = cell.state_linear.weight, cell.state_projection.weight
        cell_clip, proj_clip = cell.cell_clip, cell.proj_clip

        def step(carry: tuple[torch.Tensor, torch.Tensor], gx: torch.Tensor):
            h, c = carry  # (B, P), (B, C)
            i, j, f, o = activate_gates(gx + h @ w_h.t())  # (B, 4C) -> 4 x (B, C)
            c = next_cell(i, j, f, c, cell_clip)
            h = (o * torch.tanh(c)) @ w_p.t()  # (B, C) -> (B, P)
            if proj_clip:
                h = h.clamp(-proj_clip, proj_clip)
            return (h, c), h.clone()

        h0 = gates_x.new_zeros(batch, cell.projection_size)
        c0 = gates_x.new_zeros(batch, cell.cell_size)
        _, outputs = scan(step, (h0, c0), gates_x)  # (T, B, P)
        return outputs.transpose(0, 1)

    def forward(self, char_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        batch, timesteps, max_chars = char_ids.shape
        steps = torch.arange(timesteps, device=char_ids.device)
        mask = steps.unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
        tokens = self.tokens(char_ids.reshape(-1, max_chars)).reshape(batch, timesteps, -1)
        tokens = tokens * mask.unsqueeze(-1)  # (B, T, P), 0 at padding
        # position t of a reversed sentence reads position len - 1 - t; padding stays put
        reverse_index = torch.where(mask, lengths.unsqueeze(1) - 1 - steps, steps)  # (B, T)

        def reverse(x: torch.Tensor) -> torch.Tensor:
            return x.gather(1, reverse_index.unsqueeze(-1).expand(-1, -1, x.size(-1)))

        lstm = self.bilm.lstm
        fwd_in, bwd_in = tokens, reverse(tokens)
        layers = [torch.cat([tokens, tokens], dim=-1)]
        for k in range(lstm.config.n_layers):
            fwd = self.run_cell(lstm.forward_layers[k], fwd_in)
            bwd = self.run_cell(lstm.backward_layers[k], bwd_in)
            if k > 0 and lstm.config.use_skip_connections:
                fwd, bwd = fwd + fwd_in, bwd + bwd_in
            layers.append(torch.cat([fwd, reverse(bwd)], dim=-1))
            fwd_in, bwd_in = fwd, bwd
        # (L, B, T, 2P), 0 at padding
        return torch.stack(layers) * mask.unsqueeze(0).unsqueeze(-1)


def export_onnx(model: Any, path: str | os.PathLike, opset: int = 18) -> Path:
    """An :class:`~elmokit.Elmo`, a model name or a directory -> ``path`` (.onnx), written
    atomically. Inputs ``char_ids`` (B, T, 50) int64 and ``lengths`` (B,) int64, output
    ``layers`` (L, B, T, D) float32; B and T dynamic."""
    import warnings

    from elmokit.characters import batch_to_ids
    from elmokit.fileio import atomic_write

    if not hasattr(model, "bilm"):
        from elmokit.embedder import Elmo

        model = Elmo.load(model, mode="reference")
    module = ExportableBiLM(model.bilm).eval()
    example = [["An", "example", "sentence", "."], ["Two", "tokens"], ["x"]]
    ids, lengths = batch_to_ids(example, model.config.char_cnn.max_characters_per_token)
    batch, steps = torch.export.Dim("batch", min=1), torch.export.Dim("steps", min=1)
    path = Path(path)
    with atomic_write(path, suffix=".onnx") as tmp, warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # torch.export's deprecation chatter
        program = torch.onnx.export(
            module, (torch.from_numpy(ids), torch.from_numpy(lengths)), dynamo=True,
            input_names=["char_ids", "lengths"], output_names=["layers"], opset_version=opset,
            dynamic_shapes={"char_ids": {0: batch, 1: steps}, "lengths": {0: batch}},
            external_data=False, verbose=False,
        )  # fmt: skip
        program.save(str(tmp))
    return path


class OnnxElmo:
    """Run an exported model with onnxruntime: tokens in, (L, n, D) per sentence out, like
    ``Elmo.embed_batch`` (stateless)."""

    def __init__(self, path: str | os.PathLike, threads: int | None = None) -> None:
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: no such ONNX file")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options,
                                            providers=["CPUExecutionProvider"])  # fmt: skip
        self.max_chars = int(self.session.get_inputs()[0].shape[2])

    def run(self, char_ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """(B, T, 50) int64, (B,) int64 -> (L, B, T, D) float32, boundaries included."""
        return self.session.run(["layers"], {"char_ids": char_ids, "lengths": lengths})[0]

    def embed_batch(self, sentences: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Token lists -> list of float32 (L, n_i, D), ``<S>`` / ``</S>`` dropped."""
        from elmokit.characters import batch_to_ids

        batch = [list(s) for s in sentences]
        if not batch:
            return []
        ids, lengths = batch_to_ids(batch, self.max_chars)
        layers = self.run(ids, lengths)
        return [np.ascontiguousarray(layers[:, row, 1 : len(s) + 1])
                for row, s in enumerate(batch)]  # fmt: skip


CHECK_SENTENCES = [
    ["The", "cell", "divides", "."],
    ["A", "mouse"],
    ["Click", "the", "mouse", "to", "open", "the", "bank", "statement", "."],
]


def check_export(
    elmo: Any, path: str | os.PathLike, sentences: Sequence[Sequence[str]] = CHECK_SENTENCES
) -> float:
    """The max abs difference between ``path`` run by onnxruntime and ``elmo`` on
    ``sentences`` (one padded batch)."""
    runner = OnnxElmo(path)
    ours = elmo.embed_batch([list(s) for s in sentences])
    return max(
        float(np.abs(a - b).max())
        for a, b in zip(runner.embed_batch(sentences), ours, strict=True)
        if a.size
    )
