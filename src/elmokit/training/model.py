"""The training-time biLM: the inference :class:`~elmokit.modules.BiLM`'s parameters, run by a
fast full-window LSTM, plus the softmax over the vocabulary.

The parameters live in a plain :class:`BiLM`, so export is ``save_weights(lm.bilm, ...)`` and the
exported model computes exactly what was trained: same TF gate order (i, j, f, o), +1 forget
bias, cell and projection clipping, skip connections. Only the schedule differs: in a BPTT
window every row runs all ``unroll`` steps, so both directions run side by side as one batched
matmul per step, and :class:`ProjectedLstm` does the backward pass by hand (one GEMM per step
plus the weight gradients of all steps in one GEMM), which avoids autograd's per-op overhead.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from elmokit.config import MEDIUM_OPTIONS, ORIGINAL_OPTIONS, SMALL_OPTIONS, ElmoConfig
from elmokit.errors import ConfigError
from elmokit.modules.bilm import BiLM, LstmState, activate_gates, next_cell, run_stack
from elmokit.training.data import Batch


def _options(filters, n_highway, lstm_dim, projection_dim, n_layers=2) -> dict:
    return ElmoConfig.create(
        filters, n_highway, 16, lstm_dim, projection_dim, n_layers
    ).to_options()


PRESETS: dict[str, dict] = {
    # tests: trains a repetitive corpus in seconds
    "tiny": _options([(1, 16), (2, 16), (3, 32)], 1, 64, 32),
    # the bundled English model: fits ~2 hours on 2 CPU cores (docs/training.md)
    "cpu-small": _options([(1, 32), (2, 32), (3, 64), (4, 128), (5, 256)], 1, 512, 128),
    # the pilot's bigger candidate (D = 512): 4x cpu-small's LSTM work per token
    "cpu-medium": _options([(1, 32), (2, 32), (3, 64), (4, 128), (5, 256), (6, 512)], 1, 1024, 256),
    "small": SMALL_OPTIONS,
    "medium": MEDIUM_OPTIONS,
    "original": ORIGINAL_OPTIONS,
}

_TOP_KEYS = {"bidirectional", "char_cnn", "lstm", "dropout", "n_negative_samples_batch",
             "all_clip_norm_val", "n_epochs", "batch_size", "unroll_steps", "n_tokens_vocab",
             "n_train_tokens"}  # fmt: skip
_CNN_KEYS = {"activation", "embedding", "filters", "max_characters_per_token", "n_characters",
             "n_highway"}  # fmt: skip
_LSTM_KEYS = {"cell_clip", "dim", "n_layers", "proj_clip", "projection_dim",
              "use_skip_connections"}  # fmt: skip


def _check_keys(section: dict, allowed: set[str], where: str) -> None:
    import difflib

    for key in section:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}: unknown key {key!r}{hint}")


def resolve_config(name_or_path: str) -> ElmoConfig:
    """A preset name (``tiny``, ``cpu-small``, ``small``, ``medium``, ``original``) or a JSON
    file in the ``options.json`` layout. Unknown keys (typos) are errors naming the key."""
    if name_or_path in PRESETS:
        return ElmoConfig.from_options(PRESETS[name_or_path], where=f"preset {name_or_path}")
    path = Path(name_or_path)
    if path.suffix != ".json" and not path.exists():
        raise ConfigError(
            f"config {name_or_path!r} is neither a preset ({', '.join(PRESETS)}) nor a JSON file"
        )
    config = ElmoConfig.from_file(path)
    options = json.loads(path.read_text(encoding="utf-8"))
    _check_keys(options, _TOP_KEYS, str(path))
    _check_keys(options["char_cnn"], _CNN_KEYS, f"{path} char_cnn")
    _check_keys(options["lstm"], _LSTM_KEYS, f"{path} lstm")
    return config


def bmm(a: torch.Tensor, b: torch.Tensor, add: torch.Tensor | None = None,
        out: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
    """``add + a @ b`` over a small leading batch dim, one ``mm`` per entry. On CPU, torch.bmm
    with a batch of 2 is up to 100x slower than two ``mm`` calls (measured, torch 2.13)."""
    if out is None:
        out = a.new_empty(a.shape[0], a.shape[1], b.shape[2])
    for d in range(a.shape[0]):
        if add is None:
            torch.mm(a[d], b[d], out=out[d])
        else:
            torch.addmm(add[d], a[d], b[d], out=out[d])
    return out


class ProjectedLstm(torch.autograd.Function):
    """D independent projected LSTMs (one per direction) over a full window, hand-written backward.

    gx (D, T, B, 4C) input gates incl. bias; h0 (D, B, P); c0 (D, B, C); w_h (D, 4C, P) the
    recurrent weights; w_p (D, P, C) the projection -> h (D, T, B, P), h_T, c_T.
    """

    @staticmethod
    def forward(ctx, gx, h0, c0, w_h, w_p, cell_clip, proj_clip):
        with torch.autocast(gx.device.type, enabled=False):  # runs in gx's dtype
            return ProjectedLstm._forward(ctx, gx, h0, c0, w_h, w_p, cell_clip, proj_clip)

    @staticmethod
    def _forward(ctx, gx, h0, c0, w_h, w_p, cell_clip, proj_clip):
        D, T, B, G = gx.shape
        C = G // 4
        w_hT, w_pT = w_h.transpose(1, 2), w_p.transpose(1, 2)
        acts = gx.new_empty(D, T, B, G)  # sigmoid(i), tanh(j), sigmoid(f), sigmoid(o)
        c_raw = gx.new_empty(D, T, B, C)  # cell before clipping
        tanh_c = gx.new_empty(D, T, B, C)
        m = gx.new_empty(D, T, B, C)  # o * tanh(c), the projection's input
        h_raw = gx.new_empty(D, T, B, h0.size(-1))  # projection before clipping
        out = gx.new_empty(D, T, B, h0.size(-1))
        h, c = h0, c0
        for t in range(T):
            a = bmm(h, w_hT, add=gx[:, t], out=acts[:, t])  # (D, B, 4C)
            i, j, f, o = activate_gates(a, inplace=True)
            cr = c_raw[:, t]
            cr.copy_(c)
            c = next_cell(i, j, f, cr, None, inplace=True)  # unclipped: backward needs it
            c = cr.clamp(-cell_clip, cell_clip) if cell_clip else cr
            tc = torch.tanh(c, out=tanh_c[:, t])
            mt = torch.mul(o, tc, out=m[:, t])
            hr = bmm(mt, w_pT, out=h_raw[:, t])  # (D, B, C) -> (D, B, P)
            h = torch.clamp(hr, -proj_clip, proj_clip, out=out[:, t]) if proj_clip else hr
            if not proj_clip:
                out[:, t] = hr
        ctx.save_for_backward(h0, c0, w_h, w_p, acts, c_raw, tanh_c, m, h_raw, out)
        ctx.clips = (cell_clip, proj_clip)
        return out, out[:, -1].clone(), c.clone()

    @staticmethod
    def backward(ctx, d_out, d_hT, d_cT):
        with torch.autocast(d_out.device.type, enabled=False):
            return ProjectedLstm._backward(ctx, d_out, d_hT, d_cT)

    @staticmethod
    def _backward(ctx, d_out, d_hT, d_cT):
        h0, c0, w_h, w_p, acts, c_raw, tanh_c, m, h_raw, out = ctx.saved_tensors
        dtype = acts.dtype
        d_out = d_out.to(dtype) if d_out is not None else None
        d_hT = d_hT.to(dtype) if d_hT is not None else None
        d_cT = d_cT.to(dtype) if d_cT is not None else None
        cell_clip, proj_clip = ctx.clips
        D, T, B, G = acts.shape
        C = G // 4
        d_out = d_out.clone() if d_out is not None else torch.zeros_like(out)
        if d_hT is not None:
            d_out[:, -1] += d_hT
        dc_next = d_cT.clone() if d_cT is not None else c0.new_zeros(D, B, C)
        d_gates = acts.new_empty(D, T, B, G)
        d_hraw = d_out  # overwritten in place, step by step
        dh_next = None
        for t in range(T - 1, -1, -1):
            dh = d_out[:, t] if dh_next is None else d_out[:, t] + dh_next
            if proj_clip:
                dh = dh * (h_raw[:, t].abs() <= proj_clip)
            d_hraw[:, t] = dh
            dm = bmm(dh, w_p)  # (D, B, P) -> (D, B, C)
            i, j, f, o = acts[:, t].chunk(4, dim=-1)
            tc = tanh_c[:, t]
            do = dm * tc
            dc = torch.addcmul(dc_next, dm * o, 1 - tc * tc)
            if cell_clip:
                dc = dc * (c_raw[:, t].abs() <= cell_clip)
            if t > 0:
                c_prev = (
                    c_raw[:, t - 1].clamp(-cell_clip, cell_clip) if cell_clip else c_raw[:, t - 1]
                )
            else:
                c_prev = c0
            dg = d_gates[:, t]
            dg_i, dg_j, dg_f, dg_o = dg.chunk(4, dim=-1)
            torch.mul(dc * j, i * (1 - i), out=dg_i)
            torch.mul(dc * i, 1 - j * j, out=dg_j)
            torch.mul(dc * c_prev, f * (1 - f), out=dg_f)
            torch.mul(do, o * (1 - o), out=dg_o)
            dc_next = dc * f
            dh_next = bmm(dg, w_h)  # (D, B, 4C) -> (D, B, P)
        # weight gradients of all steps at once
        h_prev = torch.cat([h0.unsqueeze(1), out[:, :-1]], dim=1).reshape(D, T * B, -1)
        flat_g = d_gates.reshape(D, T * B, G)
        d_wh = bmm(flat_g.transpose(1, 2), h_prev)  # (D, 4C, P)
        d_wp = bmm(d_hraw.reshape(D, T * B, -1).transpose(1, 2), m.reshape(D, T * B, C))
        return d_gates, dh_next, dc_next, d_wh, d_wp, None, None


def _log_uniform_log_q(ids: torch.Tensor, n_samples: int, vocab_size: int) -> torch.Tensor:
    """log of the expected count of each id among ``n_samples`` log-uniform (Zipfian) draws."""
    ids = ids.double()
    q = torch.log1p(1.0 / (ids + 1)) / math.log(vocab_size + 1)
    return math.log(n_samples) + torch.log(q)


def sampled_softmax_nll(
    h: torch.Tensor, y: torch.Tensor, w_out: torch.Tensor, b_out: torch.Tensor, n_negative: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:  # fmt: skip
    """Per-row ``-log p(y | h)`` with a sampled softmax (bilm-tf's estimator, deduplicated).

    ``n_negative`` log-uniform draws are shared by all rows. The normaliser is
    ``Z = exp(true logit) + sum_k exp(logit_k) / (K q_k)`` over the draws, with each row's own
    target removed from them (accidental hits). Duplicate draws are merged into one column with
    ``+ log(count)`` in its bias, which is the same sum with about half the columns
    (2,000 distinct of 4,096 draws from 50k words). h (N, P), y (N,) -> (N,).
    """
    V = w_out.size(0)
    u = torch.rand(n_negative, generator=generator, device=h.device)
    draws = ((u * math.log(V + 1)).exp() - 1).long().clamp_(0, V - 1)  # (K,) log-uniform
    ids, counts = torch.unique(draws, return_counts=True)  # (U,)
    bias = b_out[ids] - (_log_uniform_log_q(ids, n_negative, V) - counts.double().log()).to(
        b_out.dtype
    )
    column = torch.full((V,), -1, dtype=torch.long, device=h.device)
    column[ids] = torch.arange(ids.numel(), device=h.device)
    hit = column[y]  # (N,) the column of each row's own target among the draws, or -1
    hit_rows = (hit >= 0).nonzero().squeeze(1)
    dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else h.dtype
    return _SampledSoftmaxNLL.apply(h, w_out[y], b_out[y], w_out[ids], bias, hit_rows,
                                    hit[hit_rows], dtype)  # fmt: skip


class _SampledSoftmaxNLL(torch.autograd.Function):
    """``log(exp(t) + sum_u exp(S_u)) - t`` with t = h.w_y + b_y, S = h @ w_neg.T + b_neg, hits
    masked; one (N, U) buffer holds the logits, then their exponentials, then their gradient.
    GEMMs run in ``dtype`` (bf16 under autocast), everything else in fp32."""

    @staticmethod
    def forward(ctx, h, w_true, b_true, w_neg, b_neg, hit_rows, hit_cols, dtype):
        with torch.autocast(h.device.type, enabled=False):
            acc = torch.promote_types(h.dtype, torch.float32)  # fp32, or fp64 in tests
            h, w_true, w_neg = h.to(acc), w_true.to(acc), w_neg.to(acc)
            true = (h * w_true).sum(-1) + b_true  # (N,)
            low = acc if dtype in (torch.float32, acc) else dtype
            logits = torch.mm(h.to(low), w_neg.to(low).t()).to(acc).add_(b_neg)  # (N, U)
            logits[hit_rows, hit_cols] = -math.inf
            top = torch.maximum(logits.amax(1), true)  # (N,)
            exp = logits.sub_(top[:, None]).exp_()  # exp(S - top), in place
            exp_true = (true - top).exp()
            z = exp.sum(1) + exp_true  # Z / exp(top)
            ctx.save_for_backward(h, w_true, w_neg, exp, z, exp_true)
            ctx.low = low
            return top + z.log() - true

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        h, w_true, w_neg, exp, z, exp_true = ctx.saved_tensors
        with torch.autocast(h.device.type, enabled=False):
            d_logits = exp.mul_((g / z)[:, None])  # g * softmax over the sampled columns
            d_true = g * (exp_true / z - 1)  # (N,)
            low, acc = ctx.low, h.dtype
            d_low = d_logits.to(low)
            dh = torch.mm(d_low, w_neg.to(low)).to(acc).addcmul_(d_true[:, None], w_true)
            d_w_neg = torch.mm(d_low.t(), h.to(low)).to(acc)  # (U, P)
            return (dh, d_true[:, None] * h, d_true, d_w_neg, d_logits.sum(0),
                    None, None, None)  # fmt: skip


class LanguageModel(nn.Module):
    """Forward + backward LMs on the char-CNN input, with one softmax shared by both (bilm-tf).

    >>> lm = LanguageModel(config, vocab_size=50000)
    >>> hidden, state = lm(batch, state)      # hidden (2, T, B, P), direction 0 = forward
    >>> loss, per_direction = lm.loss(hidden, batch.targets, batch.weights)
    """

    def __init__(self, config: ElmoConfig, vocab_size: int, dropout: float = 0.1,
                 n_negative: int = 4096) -> None:  # fmt: skip
        super().__init__()
        self.config = config
        self.bilm = BiLM(config)
        P = config.lstm.projection_dim
        self.softmax_w = nn.Parameter(torch.zeros(vocab_size, P))
        self.softmax_b = nn.Parameter(torch.zeros(vocab_size))
        self.dropout = dropout
        self.n_negative = n_negative

    @property
    def vocab_size(self) -> int:
        return self.softmax_w.size(0)

    def init_weights(self) -> None:
        """bilm-tf's initialisation (uses the global torch RNG)."""
        cnn, n_filters = self.bilm.char_cnn, self.config.char_cnn.n_filters
        with torch.no_grad():
            cnn.char_embedding.weight.uniform_(-1.0, 1.0)
            cnn.char_embedding.weight[0].zero_()
            for conv in cnn.convs:
                width, e = conv.kernel_size[0], conv.in_channels
                conv.weight.normal_(0.0, math.sqrt(1.0 / (width * e)))
                conv.bias.zero_()
            for layer in cnn.highway.layers:
                layer.weight.normal_(0.0, math.sqrt(1.0 / n_filters))
                layer.bias.zero_()
                layer.bias[n_filters:] = -2.0  # carry gate starts mostly closed
            cnn.projection.weight.normal_(0.0, math.sqrt(1.0 / n_filters))
            cnn.projection.bias.zero_()
            for cell in [*self.bilm.lstm.forward_layers, *self.bilm.lstm.backward_layers]:
                fan_in = cell.input_size + cell.projection_size
                bound = math.sqrt(6.0 / (fan_in + 4 * cell.cell_size))
                cell.input_linear.weight.uniform_(-bound, bound)
                cell.state_linear.weight.uniform_(-bound, bound)
                cell.input_linear.bias.zero_()
                bound = math.sqrt(6.0 / (cell.cell_size + cell.projection_size))
                cell.state_projection.weight.uniform_(-bound, bound)
            self.reset_softmax()

    def reset_softmax(self, vocab_size: int | None = None) -> None:
        P = self.config.lstm.projection_dim
        vocab_size = vocab_size or self.vocab_size
        with torch.no_grad():
            self.softmax_w.data = torch.randn(vocab_size, P) / math.sqrt(P)
            self.softmax_b.data = torch.zeros(vocab_size)

    def zero_state(self, rows: int, device=None) -> LstmState:
        return LstmState.zeros(self.config, rows, device)

    def forward(self, batch: Batch, state: LstmState) -> tuple[torch.Tensor, LstmState]:
        """-> top-layer outputs (2, T, B, P) (0 forward, 1 backward) and the carried state."""
        lstm = self.config.lstm
        words = self.bilm.char_cnn.encode_words(batch.chars)  # (U, 50) -> (U, P)
        x = F.embedding(batch.tokens, words)  # (2, T, B) -> (2, T, B, P)
        D, T, B, _ = x.shape
        cells = list(
            zip(self.bilm.lstm.forward_layers, self.bilm.lstm.backward_layers, strict=True)
        )
        h_n, c_n = [], []

        def run_layer(layer: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            """Both directions of one layer side by side: (2, T, B, in) -> (2, T, B, P)."""
            fwd, bwd = cells[layer]
            x_in = F.dropout(x, self.dropout, self.training)
            w_in = torch.stack([fwd.input_linear.weight, bwd.input_linear.weight])  # (2, 4C, in)
            b_in = torch.stack([fwd.gate_bias(), bwd.gate_bias()])  # (2, 4C)
            # (2, T*B, in) @ (2, in, 4C) -> (2, T, B, 4C): every step's input gates in one GEMM
            gx = torch.stack([torch.addmm(b_in[d], x_in[d].reshape(T * B, -1), w_in[d].t())
                              for d in range(D)])  # fmt: skip
            w_h = torch.stack([fwd.state_linear.weight, bwd.state_linear.weight])  # (2, 4C, P)
            w_p = torch.stack([fwd.state_projection.weight, bwd.state_projection.weight])
            dtype = gx.dtype  # bfloat16 under autocast
            h, hT, cT = ProjectedLstm.apply(
                gx.view(D, T, B, -1), state.h[layer].to(dtype), state.c[layer].to(dtype),
                w_h.to(dtype), w_p.to(dtype), lstm.cell_clip, lstm.proj_clip,
            )  # fmt: skip
            h_n.append(hT)
            c_n.append(cT)
            return h, x_in

        x = run_stack(x, len(cells), run_layer, lstm.use_skip_connections)[-1]
        new_state = LstmState(torch.stack(h_n).detach().float(), torch.stack(c_n).detach().float())
        return F.dropout(x, self.dropout, self.training), new_state

    def loss(
        self, hidden: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor,
        full: bool | None = None, generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
        """Mean negative log-likelihood over weighted targets, both directions averaged.

        hidden (2, T, B, P), targets / weights (2, T, B). Sampled softmax with ``n_negative``
        log-uniform samples (shared by all rows, logQ-corrected, accidental hits removed) when
        training; full softmax when ``full`` (default: in eval mode or small vocabularies).
        Returns (loss, summed NLL per direction (2,), counted targets per direction (2,)).
        """
        if full is None:
            full = not self.training or self.vocab_size <= 2 * self.n_negative
        h = hidden.reshape(-1, hidden.size(-1)).float()  # (2*T*B, P)
        y = targets.reshape(-1)
        w_out, b_out = self.softmax_w, self.softmax_b
        if full:
            logits = torch.addmm(b_out, h, w_out.t())  # (N, V)
            nll = F.cross_entropy(logits, y, reduction="none")
        else:
            nll = sampled_softmax_nll(h, y, w_out, b_out, self.n_negative, generator)
        nll = nll.view(2, -1) * weights.view(2, -1)
        count = weights.view(2, -1).sum(1)
        per_direction = nll.sum(1)
        loss = (per_direction / count.clamp(min=1)).mean()
        return loss, per_direction.detach(), count
