"""Read and write the bilm-tf / AllenNLP HDF5 weight layout, key by key with shape checks.

Layout (F = total char filters, P = projection_dim, C = LSTM cells, e = char embedding dim)::

    char_embed                                   (261, e)      rows of char ids 1..261
    CNN/W_cnn_{i}, CNN/b_cnn_{i}                 (1, width, e, num), (num,)
    CNN_high_{k}/W_transform, b_transform        (F, F), (F,)
    CNN_high_{k}/W_carry, b_carry                (F, F), (F,)
    CNN_proj/W_proj, b_proj                      (F, P), (P,)
    RNN_{d}/RNN/MultiRNNCell/Cell{l}/LSTMCell/W_0    (in + P, 4C)   gates i, j, f, o
    RNN_{d}/RNN/MultiRNNCell/Cell{l}/LSTMCell/B      (4C,)
    RNN_{d}/RNN/MultiRNNCell/Cell{l}/LSTMCell/W_P_0  (C, P)

``d`` is 0 for the forward and 1 for the backward direction. TF stores ``x @ W``; torch's
``Linear`` holds ``W.T``. Writing what was read gives back the same arrays bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from elmokit.errors import WeightFileError
from elmokit.fileio import atomic_write
from elmokit.modules.bilm import BiLM

# kinds: how a torch tensor maps to the file array
#   "copy": same layout; "T": transposed; "conv": (num, e, w) <-> (1, w, e, num)


def _entries(model: BiLM) -> Iterator[tuple[str, list[torch.Tensor], str]]:
    cnn = model.char_cnn
    yield "char_embed", [cnn.char_embedding.weight.data[1:]], "copy"
    for i, conv in enumerate(cnn.convs):
        yield f"CNN/W_cnn_{i}", [conv.weight.data], "conv"
        yield f"CNN/b_cnn_{i}", [conv.bias.data], "copy"
    n = cnn.config.n_filters
    for k, layer in enumerate(cnn.highway.layers):
        yield f"CNN_high_{k}/W_transform", [layer.weight.data[:n]], "T"
        yield f"CNN_high_{k}/b_transform", [layer.bias.data[:n]], "copy"
        yield f"CNN_high_{k}/W_carry", [layer.weight.data[n:]], "T"
        yield f"CNN_high_{k}/b_carry", [layer.bias.data[n:]], "copy"
    yield "CNN_proj/W_proj", [cnn.projection.weight.data], "T"
    yield "CNN_proj/b_proj", [cnn.projection.bias.data], "copy"
    for d, layers in enumerate((model.lstm.forward_layers, model.lstm.backward_layers)):
        for l, cell in enumerate(layers):
            prefix = f"RNN_{d}/RNN/MultiRNNCell/Cell{l}/LSTMCell"
            W = [cell.input_linear.weight.data, cell.state_linear.weight.data]
            yield f"{prefix}/W_0", W, "T"
            yield f"{prefix}/B", [cell.input_linear.bias.data], "copy"
            yield f"{prefix}/W_P_0", [cell.state_projection.weight.data], "T"


def _to_file(tensor: torch.Tensor, kind: str) -> np.ndarray:
    array = tensor.detach().cpu().float().numpy()
    if kind == "T":
        return array.T
    if kind == "conv":
        return array.transpose(2, 1, 0)[None]
    return array


def _file_shape(targets: list[torch.Tensor], kind: str) -> tuple[int, ...]:
    shapes = [_to_file(torch.empty(t.shape), kind).shape for t in targets]
    return (sum(s[0] for s in shapes),) + shapes[0][1:]


def expected_shapes(model: BiLM) -> dict[str, tuple[int, ...]]:
    """Every key of the weight file this model needs, with its shape."""
    return {key: _file_shape(targets, kind) for key, targets, kind in _entries(model)}


def load_weights(model: BiLM, weight_file: str | Path) -> None:
    """Copy every tensor of ``weight_file`` into ``model``; errors name the file and the key."""
    import h5py

    path = Path(weight_file)
    if not path.is_file():
        raise WeightFileError(f"{path}: weight file not found")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise WeightFileError(f"{path}: not a readable HDF5 file ({exc})") from None
    with handle, torch.no_grad():
        for key, targets, kind in _entries(model):
            expected = _file_shape(targets, kind)
            if key not in handle or not isinstance(handle[key], h5py.Dataset):
                raise WeightFileError(f"{path}: missing key {key} (expected shape {expected})")
            try:
                array = np.asarray(handle[key][...], dtype=np.float32)
            except (OSError, ValueError, TypeError) as exc:
                raise WeightFileError(f"{path}: key {key} cannot be read ({exc})") from None
            if array.shape != expected:
                raise WeightFileError(
                    f"{path}: key {key} has shape {array.shape}, expected {expected}"
                )
            if not np.isfinite(array).all():
                raise WeightFileError(f"{path}: key {key} contains NaN or infinite values")
            offset = 0
            for target in targets:
                rows = _to_file(target, kind).shape[0]
                part = array[offset : offset + rows]
                offset += rows
                if kind == "T":
                    part = part.T
                elif kind == "conv":
                    part = part[0].transpose(2, 1, 0)
                target.copy_(torch.from_numpy(np.ascontiguousarray(part)))


def save_weights(model: BiLM, weight_file: str | Path, dtype: str = "float32") -> None:
    """Write ``model`` in the bilm-tf layout, atomically (:func:`elmokit.fileio.atomic_write`).

    ``dtype="float16"`` with gzip stores a compact copy (used for bundled models).
    """
    import h5py

    compact = dtype != "float32"
    with atomic_write(weight_file) as tmp, h5py.File(tmp, "w") as out:
        for key, targets, kind in _entries(model):
            array = np.concatenate([_to_file(t, kind) for t in targets], axis=0)
            options = {"compression": "gzip", "compression_opts": 9} if compact else {}
            out.create_dataset(key, data=array.astype(dtype), **options)
