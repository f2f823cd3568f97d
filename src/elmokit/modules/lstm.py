"""The ELMo biLSTM: projected LSTM cells with clipping, stacked with skip connections.

Numerics follow bilm-tf (and AllenNLP's ``LstmCellWithProjection``):
gates from ``[x; h] @ W_0 + B`` in TF order (i, j, f, o) with +1.0 forget bias at run time,
``c = sigmoid(i) * tanh(j) + sigmoid(f + 1) * c_prev`` clipped to +-cell_clip,
``h = (sigmoid(o) * tanh(c)) @ W_P`` clipped to +-proj_clip; ``h`` is the recurrent state.

Sequences arrive sorted by length (longest first), so at time step t only the first
``batch_sizes[t]`` rows are still running: no work is spent on padding, and each row's
final state is the state after its own last token.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from elmokit.config import LSTMConfig


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
        self.input_size, self.cell_size, self.projection_size = input_size, cell_size, projection_size
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
        outputs = [torch.cat([f, reverse(b)], dim=-1) for f, b in zip(forward, backward, strict=True)]
        layers = range(self.config.n_layers)
        h_n = [torch.stack([final[k, 0][0], final[k, 1][0]]) for k in layers]
        c_n = [torch.stack([final[k, 0][1], final[k, 1][1]]) for k in layers]
        return outputs, torch.stack(h_n), torch.stack(c_n)
