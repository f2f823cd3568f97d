"""ELMo as a Keras 3 layer (torch backend): the old "ELMo embedding layer in Keras" tutorial,
on current software.

>>> import os; os.environ["KERAS_BACKEND"] = "torch"        # before importing keras
>>> import keras
>>> from elmokit.downstream.keras import ElmoEmbedding, texts_to_char_ids
>>> ids = texts_to_char_ids(["the cat sat", "a dog"], max_tokens=20)   # int32 (2, 20, 50)
>>> inp = keras.Input(shape=(20, 50), dtype="int32")
>>> x = ElmoEmbedding(output_mode="default")(inp)                     # (B, D) mean of tokens
>>> model = keras.Model(inp, keras.layers.Dense(1, activation="sigmoid")(x))

Keras tensors cannot hold strings (the TF-Hub tutorial fed ``tf.string``), so texts become
character ids first (:func:`texts_to_char_ids`, padding = 0). The layer wraps
:class:`elmokit.ElmoLayer`: the biLM is frozen and the scalar mix (3 softmax logits + gamma,
see :class:`~elmokit.modules.scalar_mix.ScalarMix`; :meth:`ElmoEmbedding.mix_weights` gives
the plain weights) is trained with the rest of the model. ``output_mode`` takes TF-Hub's
names (:data:`elmokit.layers.HUB_OUTPUTS`): ``"elmo"`` gives (B, T, D) token vectors.
Its Keras variables are named after the torch parameters (``scalar_mixes_0_gamma``, ...).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from elmokit.errors import ElmoError
from elmokit.layers import HUB_OUTPUTS, masked_mean, scalar_mix_weights
from elmokit.tokenize import DEFAULT_TOKENIZE

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402

if keras.backend.backend() != "torch":  # pragma: no cover - depends on the user's setup
    raise ElmoError(
        f"elmokit.downstream.keras needs the Keras torch backend, not {keras.backend.backend()!r}:"
        " set KERAS_BACKEND=torch before importing keras"
    )


def texts_to_char_ids(
    texts: Sequence[str | Sequence[str]], max_tokens: int = 64, tokenize: str = DEFAULT_TOKENIZE
) -> np.ndarray:
    """Texts (strings, split by ``tokenize`` as everywhere: :mod:`elmokit.tokenize`; or token
    lists) -> int32 (N, max_tokens, 50) character ids, cut or zero-padded to ``max_tokens``
    tokens (no <S> / </S>; the layer adds them)."""
    from elmokit.characters import batch_to_ids
    from elmokit.tokenize import as_tokens

    batch = [as_tokens(t, f"text {i}", tokenize)[:max_tokens] or ["."] for i, t in enumerate(texts)]
    ids, _ = batch_to_ids(batch, add_boundaries=False)
    out = np.zeros((len(batch), max_tokens, ids.shape[-1]), dtype=np.int32)
    out[:, : ids.shape[1]] = ids
    return out


class NamedTorchModule(keras.layers.TorchModuleWrapper):
    """``keras.layers.TorchModuleWrapper`` whose variables carry the torch parameter names,
    ``.`` -> ``_`` (``scalar_mixes_0_scalar_parameters``), instead of ``variable_31``. Saved
    weights are the module's ``state_dict`` either way, so saved files are unchanged."""

    def _track_module_parameters(self) -> None:
        for name, param in self.module.named_parameters():
            variable = keras.Variable(
                initializer=param, trainable=param.requires_grad, name=name.replace(".", "_")
            )
            self._track_variable(variable)
        self.built = True


@keras.saving.register_keras_serializable(package="elmokit")
class ElmoEmbedding(keras.layers.Layer):
    """Char ids int (B, T, 50) -> ``"default"``: (B, D) masked mean of the scalar-mixed ELMo
    vectors; ``"elmo"``: (B, T, D) token vectors (0 at padding).

    ``model``: an ELMo name / directory (None = the default bundled model). ``layer_norm``,
    ``dropout``: as :class:`elmokit.ElmoLayer`. ``trainable=False`` freezes the mix too.
    """

    def __init__(
        self,
        model: str | None = None,
        output_mode: str = "default",
        dropout: float = 0.0,
        layer_norm: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if output_mode not in HUB_OUTPUTS:
            raise ElmoError(f"output_mode {output_mode!r} is not 'default' or 'elmo'")
        from elmokit.layer import ElmoLayer

        self.model_name = None if model is None else str(model)
        self.output_mode = output_mode
        self.dropout = dropout
        self.layer_norm = layer_norm
        module = ElmoLayer(
            self.model_name, num_output_representations=1, do_layer_norm=layer_norm, dropout=dropout
        )
        self.dim = module.output_dim
        self.elmo = NamedTorchModule(module, name="elmo_layer")

    def call(self, inputs: Any) -> Any:
        import torch

        ids = inputs if isinstance(inputs, torch.Tensor) else torch.as_tensor(inputs)
        ids = ids.long()
        width = ids.shape[1]
        out = self.elmo(ids)
        rep, mask = out["elmo_representations"][0], out["mask"]
        if rep.shape[1] < width:  # the layer trims to the longest sentence; pad back to T
            rep = torch.nn.functional.pad(rep, (0, 0, 0, width - rep.shape[1]))
            mask = torch.nn.functional.pad(mask, (0, width - mask.shape[1]))
        if self.output_mode == "elmo":
            return rep  # (B, T, D)
        return masked_mean(rep, mask)  # (B, T, D) -> (B, D)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        if self.output_mode == "elmo":
            return (input_shape[0], input_shape[1], self.dim)
        return (input_shape[0], self.dim)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "model": self.model_name,
            "output_mode": self.output_mode,
            "dropout": self.dropout,
            "layer_norm": self.layer_norm,
        }

    def mix_weights(self) -> np.ndarray:
        """The current effective plain layer weights ``gamma * softmax(logits)``, (L,)."""
        return scalar_mix_weights(self.elmo.module.scalar_mixes[0])
