"""The ELMo biLM, top to bottom in one file (bilm-tf / AllenNLP ``_ElmoBiLm`` numerics).

Forward pass of :class:`BiLM`, with shapes (B sentences, T tokens incl. ``<S>``/``</S>``):

1. char ids (B, T, 50) -> :class:`CharCNN`: char embedding (.., 50, 16) -> one convolution per
   (width, num) filter, max over positions, relu -> (B, T, n_filters) -> :class:`Highway`
   (B, T, n_filters) -> projection (B, T, P). Layer 0 of the output is [x; x] (B, T, 2P).
2. :class:`ElmoLstm`: per direction (the backward one reads each sentence reversed) and layer,
   :class:`LstmCellWithProjection` steps through time: gates ``[x; h] @ W + B`` in TF order
   (i, j, f, o) with +1 forget bias (:func:`activate_gates`), cell update with clipping
   (:func:`next_cell`), ``h = clip((o * tanh(c)) @ W_P)`` (B, T, P); :func:`run_stack` stacks
   the layers with skip connections. Layer k of the output is [forward_k; backward_k] (B, T, 2P).
3. :class:`BiLMOutput`: all layers (L + 1, B, T, 2P), the mask (B, T), and the final state.

The fast inference engine (``elmokit.inference``) and the trainer (``elmokit.training.model``)
run these same parameters on other schedules, calling the same cell math and stack runner.

LSTM numerics follow bilm-tf (and AllenNLP's ``LstmCellWithProjection``):
gates from ``[x; h] @ W_0 + B`` in TF order (i, j, f, o) with +1.0 forget bias at run time,
``c = sigmoid(i) * tanh(j) + sigmoid(f + 1) * c_prev`` clipped to +-cell_clip,
``h = (sigmoid(o) * tanh(c)) @ W_P`` clipped to +-proj_clip; ``h`` is the recurrent state.

Sequences arrive sorted by length (longest first), so at time step t only the first
``batch_sizes[t]`` rows are still running: no work is spent on padding, and each row's
final state is the state after its own last token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from elmokit.config import CharCNNConfig, ElmoConfig, LSTMConfig

# ------------------------------------------------------------ 1. characters -> token vectors

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

    def encode_words(self, char_ids: torch.Tensor, min_rows: int = 1) -> torch.Tensor:
        """(N, 50) char ids of N words -> (N, projection_dim). Words are convolved in groups of
        similar length; ``min_rows`` pads each group to at least that many words (repeating
        its last), so that no GEMM has fewer than ``min_rows`` rows: CPU kernels take another
        path for a few rows (on AVX2 AMD EPYC: fewer than 12, not a multiple of 4), which
        changes a word's vector in its last bits (the engine's word invariance needs this)."""
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
                group = char_ids[rows, :length]
                if len(rows) < min_rows:
                    group = torch.cat([group, group[-1:].expand(min_rows - len(rows), -1)])
                pieces.append(self._filters(group)[: len(rows)])  # (n, n_filters)
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


# ------------------------------------------------------------ 2. the biLSTM


def activate_gates(gates: torch.Tensor, inplace: bool = False) -> tuple[torch.Tensor, ...]:
    """Gate pre-activations (n, 4C) in TF order (i, j, f, o), forget bias already added ->
    (sigmoid(i), tanh(j), sigmoid(f), sigmoid(o)), each (n, C). ``inplace`` overwrites
    ``gates`` with them and returns views (no autograd through it: inference and the trainer's
    hand-written backward)."""
    C = gates.size(-1) // 4
    i, j, f, o = (gates[..., k * C : (k + 1) * C] for k in range(4))
    if inplace:
        return i.sigmoid_(), j.tanh_(), f.sigmoid_(), o.sigmoid_()
    return torch.sigmoid(i), torch.tanh(j), torch.sigmoid(f), torch.sigmoid(o)


def next_cell(
    i: torch.Tensor, j: torch.Tensor, f: torch.Tensor, c: torch.Tensor,
    cell_clip: float | None, inplace: bool = False,
) -> torch.Tensor:  # fmt: skip
    """``c' = clip(i * j + f * c)`` (n, C); ``inplace`` updates ``c`` itself."""
    if inplace:
        c = c.mul_(f).addcmul_(i, j)
        return c.clamp_(-cell_clip, cell_clip) if cell_clip else c
    c = i * j + f * c
    return c.clamp(-cell_clip, cell_clip) if cell_clip else c


def run_stack(
    x: torch.Tensor,
    n_layers: int,
    run_layer: Callable[[int, torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    skip: bool,
    inplace: bool = False,
) -> list[torch.Tensor]:
    """The layer stacking of every biLM implementation (reference, inference engine, trainer).

    Layer k reads layer k - 1's output; ``run_layer(k, x) -> (output, input it actually read)``
    (the trainer's input is x after dropout). With skip connections, layers k >= 1 add that input
    to their output. -> every layer's output, bottom first.
    """
    outputs = []
    for k in range(n_layers):
        y, layer_input = run_layer(k, x)
        if k > 0 and skip:
            y = y.add_(layer_input) if inplace else y + layer_input
        outputs.append(y)
        x = y
    return outputs


class LstmCellWithProjection(nn.Module):
    """One direction of one layer. The input projection of all time steps is a single GEMM."""

    def __init__(
        self,
        input_size: int,
        cell_size: int,
        projection_size: int,
        cell_clip: float | None = None,
        proj_clip: float | None = None,
        forget_bias: float = 1.0,
    ) -> None:
        super().__init__()
        self.input_size, self.cell_size, self.projection_size = (
            input_size,
            cell_size,
            projection_size,
        )
        self.cell_clip, self.proj_clip, self.forget_bias = cell_clip, proj_clip, forget_bias
        self.input_linear = nn.Linear(input_size, 4 * cell_size, bias=True)  # W_0[:in], B
        self.state_linear = nn.Linear(projection_size, 4 * cell_size, bias=False)  # W_0[in:]
        self.state_projection = nn.Linear(cell_size, projection_size, bias=False)  # W_P_0
        offset = torch.zeros(4 * cell_size)
        offset[2 * cell_size : 3 * cell_size] = forget_bias
        self.register_buffer("_bias_offset", offset, persistent=False)

    def gate_bias(self) -> torch.Tensor:
        """(4C,) the bias of the gate pre-activations: ``B`` plus the forget bias on f."""
        return self.input_linear.bias + self._bias_offset

    def forward(
        self,
        inputs: torch.Tensor,
        batch_sizes: list[int],
        initial: tuple[torch.Tensor, torch.Tensor],
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """inputs (B, T, in) sorted longest first; ``batch_sizes[t]`` rows run at step t;
        initial (h (B, P), c (B, C)) -> outputs (B, T, P) (zeros at padding), final (h, c)."""
        batch, timesteps, _ = inputs.shape
        # (B, T, in) -> (T, B, 4C): every time step's input projection in one GEMM
        gates_x = F.linear(inputs.transpose(0, 1), self.input_linear.weight, self.gate_bias())
        h, c = initial
        outputs = inputs.new_zeros(timesteps, batch, self.projection_size)
        for t in range(timesteps):
            n = batch_sizes[t]
            h_t, c_t = h[:n], c[:n]
            gates = torch.addmm(gates_x[t, :n], h_t, self.state_linear.weight.t())  # (n, 4C)
            i, j, f, o = activate_gates(gates)
            c_new = next_cell(i, j, f, c_t, self.cell_clip)
            h_new = self.state_projection(o * torch.tanh(c_new))  # (n, C) -> (n, P)
            if self.proj_clip:
                h_new = h_new.clamp(-self.proj_clip, self.proj_clip)
            outputs[t, :n] = h_new
            if n < batch:  # finished rows keep their final state
                h = torch.cat([h_new, h[n:]], dim=0)
                c = torch.cat([c_new, c[n:]], dim=0)
            else:
                h, c = h_new, c_new
        return outputs.transpose(0, 1), (h, c)


class ElmoLstm(nn.Module):
    """Forward and backward stacks of :class:`LstmCellWithProjection`.

    ``forward`` takes token vectors (B, T, P) sorted longest first and returns one (B, T, 2P)
    tensor per layer, ``[forward; backward]``, plus the final states.
    """

    def __init__(self, config: LSTMConfig, input_size: int) -> None:
        super().__init__()
        self.config = config

        def cell(layer: int) -> LstmCellWithProjection:
            return LstmCellWithProjection(
                input_size if layer == 0 else config.projection_dim,
                config.dim,
                config.projection_dim,
                config.cell_clip,
                config.proj_clip,
            )

        self.forward_layers = nn.ModuleList(cell(k) for k in range(config.n_layers))
        self.backward_layers = nn.ModuleList(cell(k) for k in range(config.n_layers))

    def forward(
        self,
        inputs: torch.Tensor,
        lengths: torch.Tensor,
        h0: torch.Tensor,
        c0: torch.Tensor,
    ) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """inputs (B, T, P) sorted longest first, lengths (B,), h0 (L, 2, B, P), c0 (L, 2, B, C)
        -> [per layer (B, T, 2P)], h_n (L, 2, B, P), c_n (L, 2, B, C)."""
        batch, timesteps, _ = inputs.shape
        steps = torch.arange(timesteps, device=inputs.device)
        batch_sizes = (lengths.unsqueeze(0) > steps.unsqueeze(1)).sum(1).tolist()
        # Reverse every sentence within its own length; padding stays in place.
        reverse_index = torch.where(
            steps.unsqueeze(0) < lengths.unsqueeze(1), lengths.unsqueeze(1) - 1 - steps, steps
        )  # (B, T)

        def reverse(x: torch.Tensor) -> torch.Tensor:
            return x.gather(1, reverse_index.unsqueeze(-1).expand(-1, -1, x.size(-1)))

        final: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}

        def stack(direction: int, cells: nn.ModuleList, x: torch.Tensor) -> list[torch.Tensor]:
            def run_layer(k: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                # (B, T, in) -> (B, T, P); final (h, c) of each row kept for the state
                y, final[k, direction] = cells[k](
                    x, batch_sizes, (h0[k, direction], c0[k, direction])
                )
                return y, x

            return run_stack(x, self.config.n_layers, run_layer, self.config.use_skip_connections)

        forward = stack(0, self.forward_layers, inputs)
        backward = stack(1, self.backward_layers, reverse(inputs))  # on reversed sentences
        # per layer [forward; backward], the backward outputs put back in reading order
        outputs = [
            torch.cat([f, reverse(b)], dim=-1) for f, b in zip(forward, backward, strict=True)
        ]
        layers = range(self.config.n_layers)
        h_n = [torch.stack([final[k, 0][0], final[k, 1][0]]) for k in layers]
        c_n = [torch.stack([final[k, 0][1], final[k, 1][1]]) for k in layers]
        return outputs, torch.stack(h_n), torch.stack(c_n)


# ------------------------------------------------------------ 3. the whole biLM


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
