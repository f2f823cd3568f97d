"""The bidirectional language model: CharCNN token encoder + ElmoLstm, with explicit state."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from elmokit.config import ElmoConfig
from elmokit.modules.char_cnn import CharCNN
from elmokit.modules.lstm import ElmoLstm


@dataclass
class LstmState:
    """Per-row recurrent state carried between batches in stateful mode.

    ``h`` (n_layers, 2, rows, projection_dim) and ``c`` (n_layers, 2, rows, cell_dim); index 1
    of dim 1 is the backward direction.
    """

    h: torch.Tensor
    c: torch.Tensor

    @classmethod
    def zeros(cls, config: ElmoConfig, rows: int, device=None, dtype=torch.float32) -> LstmState:
        lstm = config.lstm
        return cls(
            torch.zeros(lstm.n_layers, 2, rows, lstm.projection_dim, device=device, dtype=dtype),
            torch.zeros(lstm.n_layers, 2, rows, lstm.dim, device=device, dtype=dtype),
        )

    @property
    def rows(self) -> int:
        return self.h.size(2)


@dataclass
class BiLMOutput:
    """``layers`` (n_layers + 1, B, T, 2P) with layer 0 = [x; x]; ``mask`` (B, T) bool;
    ``token_embedding`` (B, T, P); ``state`` the final per-row state (input row order)."""

    layers: torch.Tensor
    mask: torch.Tensor
    token_embedding: torch.Tensor
    state: LstmState | None  # None when not asked for (InferenceEngine, final_state=False)


class BiLM(nn.Module):
    """Character ids of ``<S> tokens </S>`` -> all ELMo layers.

    >>> bilm = BiLM(config)
    >>> out = bilm(char_ids, lengths)   # char_ids (B, T, 50) int64, lengths (B,)
    >>> out.layers.shape                # (3, B, T, 2 * projection_dim)
    """

    def __init__(self, config: ElmoConfig) -> None:
        super().__init__()
        self.config = config
        self.char_cnn = CharCNN(config.char_cnn, config.lstm.projection_dim)
        self.lstm = ElmoLstm(config.lstm, config.lstm.projection_dim)

    def forward(
        self, char_ids: torch.Tensor, lengths: torch.Tensor, state: LstmState | None = None
    ) -> BiLMOutput:
        batch, timesteps, _ = char_ids.shape
        device = char_ids.device
        lengths = lengths.to(device)
        steps = torch.arange(timesteps, device=device)
        mask = steps.unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
        # (B, T, 50) -> (B, T, P); padding positions zeroed so skip connections add nothing
        tokens = self.char_cnn(char_ids) * mask.unsqueeze(-1)
        if state is None:
            state = LstmState.zeros(self.config, batch, device, tokens.dtype)
        # Longest first, so the LSTM skips finished rows; undone below.
        order = torch.argsort(lengths, descending=True, stable=True)
        restore = torch.argsort(order)
        outputs, h_n, c_n = self.lstm(
            tokens[order], lengths[order], state.h[:, :, order], state.c[:, :, order]
        )
        layers = torch.stack([torch.cat([tokens, tokens], dim=-1)] + [o[restore] for o in outputs])
        return BiLMOutput(
            layers=layers,
            mask=mask,
            token_embedding=tokens,
            state=LstmState(h_n[:, :, restore], c_n[:, :, restore]),
        )
