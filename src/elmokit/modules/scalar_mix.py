"""Scalar mix: ``gamma * sum_k softmax(w)_k * layer_k`` (Peters et al., eq. 1)."""

from __future__ import annotations

import torch
from torch import nn


class ScalarMix(nn.Module):
    """Trainable weighted sum of K same-shaped layers, optionally layer-normalising each first.

    ``mix(layers (K, B, T, D), mask (B, T)) -> (B, T, D)``. Layer norm (AllenNLP's) uses the
    mean and variance of each layer over all unmasked positions of the batch.

    Unlike the ``weights`` / layer lists of the rest of elmokit (plain mixing weights, applied
    as given: :mod:`elmokit.layers`), ``scalar_parameters`` and ``initial_weights`` are
    softmax **logits** (AllenNLP's parametrisation, so training keeps the mix a convex
    combination): ``initial_weights=[0, 0, 0]`` is the equal mix. Its effective plain weights
    are :func:`elmokit.layers.scalar_mix_weights` (``gamma * softmax(scalar_parameters)``).
    """

    def __init__(
        self,
        num_layers: int,
        do_layer_norm: bool = False,
        initial_weights: list[float] | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__()
        initial = initial_weights if initial_weights is not None else [0.0] * num_layers
        if len(initial) != num_layers:
            raise ValueError(f"initial_weights has {len(initial)} values, expected {num_layers}")
        self.num_layers, self.do_layer_norm = num_layers, do_layer_norm
        self.scalar_parameters = nn.Parameter(torch.tensor(initial), requires_grad=trainable)
        self.gamma = nn.Parameter(torch.tensor([1.0]), requires_grad=trainable)

    def forward(self, layers: torch.Tensor | list[torch.Tensor], mask: torch.Tensor | None = None):
        if isinstance(layers, (list, tuple)):
            layers = torch.stack(list(layers))
        if layers.size(0) != self.num_layers:
            raise ValueError(f"got {layers.size(0)} layers, expected {self.num_layers}")
        weights = torch.softmax(self.scalar_parameters, dim=0).to(layers.dtype)
        if self.do_layer_norm:
            if mask is None:
                mask = torch.ones(layers.shape[1:3], dtype=torch.bool, device=layers.device)
            m = mask.to(layers.dtype).unsqueeze(-1)  # (B, T, 1)
            count = m.sum() * layers.size(-1)
            mean = (layers * m).sum(dim=(1, 2, 3), keepdim=True) / count
            var = (((layers - mean) * m) ** 2).sum(dim=(1, 2, 3), keepdim=True) / count
            layers = (layers - mean) / torch.sqrt(var + 1e-12)
        mixed = (weights.view(-1, 1, 1, 1) * layers).sum(dim=0)
        return self.gamma * mixed
