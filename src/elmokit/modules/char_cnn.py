"""The context-independent token encoder: char embedding -> CNN -> highway -> projection."""

from __future__ import annotations

import torch
from torch import nn

from elmokit.config import CharCNNConfig

# 261 characters (256 bytes + 5 specials), shifted by one so that id 0 is padding.
N_CHAR_IDS = 262
PAD_ID = 261  # the PAD character (260) after the +1 shift


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

    Each convolution runs as one GEMM over unfolded windows, and only over the positions that
    can change its max: a word of ``n`` ids (BOW, bytes, EOW) followed by PAD ids has the same
    all-PAD window at every position past ``n``, so cutting the 50 positions to ``n + widest
    filter`` keeps every distinct window and gives the same maximum. Words are grouped by that
    length (short words are most of any text), which makes the char CNN 2-3x cheaper with
    identical outputs.
    """

    # cut lengths of the word groups (positions); the last group keeps what it needs, up to 50
    GROUPS = (16, 24)

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
        self.max_width = max(width for width, _ in config.filters)

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        batch, timesteps, max_chars = char_ids.shape
        flat = char_ids.reshape(-1, max_chars)  # (B*T, 50)
        return self.encode_words(flat).reshape(batch, timesteps, -1)

    def encode_words(self, char_ids: torch.Tensor) -> torch.Tensor:
        """(N, 50) char ids of N words -> (N, projection_dim)."""
        n_words, max_chars = char_ids.shape
        # positions a word needs: its non-PAD ids plus one all-PAD window of the widest filter
        used = ((char_ids != 0) & (char_ids != PAD_ID)).sum(1)  # (N,)
        need = (used + self.max_width).clamp(max=max_chars)
        bounds = [b for b in self.GROUPS if b < max_chars] + [max_chars]
        lower, pieces, index = 0, [], []
        for bound in bounds:
            rows = ((need > lower) & (need <= bound)).nonzero().squeeze(1)
            lower = bound
            if rows.numel():
                length = int(need[rows].max())
                pieces.append(self._filters(char_ids[rows, :length]))  # (n, n_filters)
                index.append(rows)
        if len(pieces) == 1:
            token = pieces[0]
        else:  # back to input order
            token = torch.cat(pieces)[torch.argsort(torch.cat(index))]
        token = self.highway(token)  # (N, n_filters)
        return self.projection(token)  # (N, projection_dim)

    def _filters(self, char_ids: torch.Tensor) -> torch.Tensor:
        """(N, L) char ids -> (N, n_filters): every filter's max over positions, activated."""
        chars = self.char_embedding(char_ids)  # (N, L) -> (N, L, e)
        n_words, length, _ = chars.shape
        pooled = []
        for conv in self.convs:
            width, num = conv.kernel_size[0], conv.out_channels
            windows = chars.unfold(1, width, 1)  # (N, L - width + 1, e, width)
            positions = windows.size(1)
            # (N * positions, e * width) @ (e * width, num): the conv weight (num, e, width)
            # flattened alike -> (N, positions, num) -> max over positions -> (N, num)
            y = torch.addmm(conv.bias, windows.reshape(n_words * positions, -1),
                            conv.weight.view(num, -1).t())  # fmt: skip
            pooled.append(self.activation(y.view(n_words, positions, num).amax(1)))
        return torch.cat(pooled, dim=-1)
