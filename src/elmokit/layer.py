"""``ElmoLayer``: ELMo as a ``torch.nn.Module`` inside your own model (AllenNLP's ``Elmo``).

>>> layer = ElmoLayer("en-small", num_output_representations=2, dropout=0.5)
>>> out = layer([["The", "cell", "divides"], ["A", "mouse"]])
>>> [r.shape for r in out["elmo_representations"]]   # k tensors (B, T, D)
[torch.Size([2, 3, 256]), torch.Size([2, 3, 256])]
>>> out["mask"].shape                                  # (B, T) bool
torch.Size([2, 3])

Each representation is its own trainable :class:`ScalarMix` of the biLM's layers (so a task
can learn which layers it wants), followed by dropout. The biLM is frozen unless
``requires_grad=True``; it is always stateless here. ``scalar_mix_parameters`` fixes (and
freezes) the mixes at these softmax **logits**, AllenNLP's meaning (``[0, 0, 0]`` = the equal
mix), not the plain mixing weights that :mod:`elmokit.layers` takes elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from elmokit.characters import batch_to_ids
from elmokit.embedder import Elmo
from elmokit.modules.bilm import BiLM
from elmokit.modules.scalar_mix import ScalarMix
from elmokit.tokenize import as_tokens


class ElmoLayer(nn.Module):
    def __init__(
        self,
        model: str | Elmo | BiLM | None = None,
        num_output_representations: int = 1,
        do_layer_norm: bool = False,
        dropout: float = 0.5,
        requires_grad: bool = False,
        scalar_mix_parameters: list[float] | None = None,
        keep_sentence_boundaries: bool = False,
    ) -> None:
        super().__init__()
        if isinstance(model, BiLM):
            bilm = model
        elif isinstance(model, Elmo):
            bilm = model.bilm
        else:
            bilm = Elmo.load(model).bilm
        self.bilm = bilm
        self.requires_grad = requires_grad
        for param in self.bilm.parameters():
            param.requires_grad_(requires_grad)
        self.keep_sentence_boundaries = keep_sentence_boundaries
        self.dropout = nn.Dropout(dropout)
        num_layers = bilm.config.num_output_layers
        self.scalar_mixes = nn.ModuleList(
            ScalarMix(
                num_layers,
                do_layer_norm=do_layer_norm,
                initial_weights=scalar_mix_parameters,
                trainable=scalar_mix_parameters is None,
            )
            for _ in range(num_output_representations)
        )

    @property
    def output_dim(self) -> int:
        return self.bilm.config.output_dim

    def forward(
        self, inputs: Sequence[Sequence[str] | str] | torch.Tensor
    ) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        """``inputs``: B sentences (token lists or raw strings), or char ids (B, T, 50) from
        :func:`elmokit.characters.batch_to_ids` with ``add_boundaries=False`` (0 = padding).

        -> ``{"elmo_representations": [k x (B, T, D)], "mask": (B, T) bool}``.
        """
        device = next(self.bilm.parameters()).device
        if isinstance(inputs, torch.Tensor):
            char_ids = self._add_boundaries(inputs.to(device))
            lengths = (char_ids > 0).any(-1).sum(-1)
        else:
            batch = [as_tokens(s, f"sentence {i}") for i, s in enumerate(inputs)]
            ids, lengths_np = batch_to_ids(
                batch, self.bilm.config.char_cnn.max_characters_per_token
            )
            char_ids = torch.from_numpy(ids).to(device)
            lengths = torch.from_numpy(lengths_np).to(device)
        with torch.set_grad_enabled(self.requires_grad and torch.is_grad_enabled()):
            out = self.bilm(char_ids, lengths)
        layers, mask = out.layers, out.mask
        if not self.keep_sentence_boundaries:
            layers, mask = self._remove_boundaries(layers, mask, lengths)
        representations = [self.dropout(mix(layers, mask)) for mix in self.scalar_mixes]
        return {"elmo_representations": representations, "mask": mask}

    @staticmethod
    def _add_boundaries(char_ids: torch.Tensor) -> torch.Tensor:
        from elmokit.characters import BOS_TOKEN, EOS_TOKEN, token_to_ids

        batch, timesteps, width = char_ids.shape
        lengths = (char_ids > 0).any(-1).sum(-1)
        out = char_ids.new_zeros(batch, timesteps + 2, width)
        out[:, 1 : timesteps + 1] = char_ids
        bos = torch.from_numpy(token_to_ids(BOS_TOKEN, width)).to(char_ids)
        eos = torch.from_numpy(token_to_ids(EOS_TOKEN, width)).to(char_ids)
        out[:, 0] = bos
        out[torch.arange(batch), lengths + 1] = eos
        return out

    @staticmethod
    def _remove_boundaries(layers: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor):
        # (L, B, T + 2, D) -> (L, B, T, D): drop <S> and every row's </S>
        inner = lengths - 2
        width = max(int(inner.max()), 0) if inner.numel() else 0
        layers = layers[:, :, 1 : width + 1]
        new_mask = torch.arange(width, device=mask.device).unsqueeze(0) < inner.unsqueeze(1)
        return layers * new_mask.unsqueeze(0).unsqueeze(-1).to(layers.dtype), new_mask
