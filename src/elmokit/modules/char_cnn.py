"""The context-independent token encoder: char embedding -> CNN -> highway -> projection."""

from __future__ import annotations

import torch
from torch import nn

from elmokit.config import CharCNNConfig

# 261 characters (256 bytes + 5 specials), shifted by one so that id 0 is padding.
N_CHAR_IDS = 262


class Highway(nn.Module):
    """Highway layers in bilm-tf's convention.

    ``g = sigmoid(x @ W_carry + b_carry)``; ``y = g * relu(x @ W_transform + b_transform) + (1 - g) * x``.
    Each layer is one ``Linear(d, 2d)`` whose output halves are (transform, carry).
    """

    def __init__(self, dim: int, n_layers: int) -> None:
        super().__init__()
        self.dim = dim
        self.layers = nn.ModuleList(nn.Linear(dim, 2 * dim) for _ in range(n_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (..., d) -> (..., d)
        for layer in self.layers:
            transform, carry = layer(x).chunk(2, dim=-1)
            gate = torch.sigmoid(carry)
            x = gate * torch.relu(transform) + (1.0 - gate) * x
        return x


class CharCNN(nn.Module):
    """Character ids (B, T, 50) -> token vectors (B, T, projection_dim).

    Char id 0 is padding and embeds to zeros (the weight file holds rows 1..261).
    """

    def __init__(self, config: CharCNNConfig, projection_dim: int) -> None:
        super().__init__()
        self.config = config
        self.char_embedding = nn.Embedding(N_CHAR_IDS, config.embedding_dim, padding_idx=0)
        self.convs = nn.ModuleList(
            nn.Conv1d(config.embedding_dim, num, kernel_size=width) for width, num in config.filters
        )
        self.highway = Highway(config.n_filters, config.n_highway)
        self.projection = nn.Linear(config.n_filters, projection_dim)
        self.activation = torch.relu if config.activation == "relu" else torch.tanh

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        batch, timesteps, max_chars = char_ids.shape
        flat = char_ids.reshape(-1, max_chars)  # (B*T, 50)
        return self.encode_words(flat).reshape(batch, timesteps, -1)

    def encode_words(self, char_ids: torch.Tensor) -> torch.Tensor:
        """(N, 50) char ids of N words -> (N, projection_dim)."""
        # (N, 50) -> (N, 50, e) -> (N, e, 50) for conv1d over positions
        chars = self.char_embedding(char_ids).transpose(1, 2)
        pooled = []
        for conv in self.convs:
            # (N, e, 50) -> (N, num, 50 - width + 1) -> max over positions -> (N, num)
            pooled.append(self.activation(conv(chars).amax(dim=-1)))
        token = torch.cat(pooled, dim=-1)  # (N, n_filters)
        token = self.highway(token)
        return self.projection(token)  # (N, projection_dim)
