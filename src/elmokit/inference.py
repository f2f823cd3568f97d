"""Fast inference for :class:`~elmokit.modules.BiLM` (no autograd; used by :class:`~elmokit.Elmo`).

Same model, same numbers as ``BiLM.forward`` (the parity path), less work:

- **word-type cache**: the char CNN runs once per distinct token string of a batch, and an LRU
  cache (size-bounded, hit rate in :attr:`WordCache.hit_rate`) keeps the vectors across batches;
  padding positions are never encoded.
- **packed recurrence**: sentences are sorted longest first and packed time step by time step
  (like ``PackedSequence``), so every GEMM touches real tokens only; each direction's input
  projection is one GEMM per block of time steps; the per-step gate math is done in place in
  buffers reused across calls.
- **GEMM-friendly weights**: the LSTM weights are stored column-major (same tensors, same
  memory), so every product reads a contiguous (in, out) matrix.
- **no wasted steps**: from a zero state the first step's recurrent product is skipped, and a
  stateless caller (``final_state=False``) skips each stack's last step, whose output lands on
  a boundary token that is dropped anyway.
- ``mode="exact"``: fp32 throughout (within ~1e-6 of the parity path).
  ``mode="fast"``: the LSTM runs in bfloat16 (GEMMs on AMX / AVX512-BF16 on recent x86 CPUs, gates
  and outputs rounded to bf16) with an fp32 cell state; the char CNN stays fp32. On a CPU
  without bf16 matrix units (where bf16 is emulated, slower than fp32) it runs as "int8".
  ``mode="int8"``: the LSTM's three products use int8 weights (per output channel) and
  dynamically quantized activations (fbgemm / oneDNN), fp32 everywhere else.

>>> engine = InferenceEngine(bilm, mode="exact")
>>> out = engine([["The", "cat"], ["Hi"]])      # BiLMOutput, as bilm(char_ids, lengths)
>>> out.layers.shape                            # (3, 2, 4, 2 * projection_dim)
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch

from elmokit.characters import BOS_TOKEN, EOS_TOKEN, _token_ids
from elmokit.modules.bilm import (
    BiLM,
    BiLMOutput,
    LstmCellWithProjection,
    LstmState,
    activate_gates,
    next_cell,
    run_stack,
)
from elmokit.runtime import tune_malloc

MODES = ("exact", "fast", "int8", "reference")


def native_bf16() -> bool:
    """Whether this CPU has bfloat16 matrix units (AMX). AVX512-BF16 alone is not enough: its
    bf16 GEMMs ran at 0.5-0.6x the fp32 rate here (149 vs 253-293 GFLOP/s at 1024x2048x4096,
    2 threads, 2026-11-29), so "fast" would be slower than "exact"; with AMX they run 4-6x."""
    try:
        if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return False
    except (AttributeError, RuntimeError):
        return False
    try:
        return bool(torch._C._cpu._init_amx())  # asks the OS for the AMX tile state
    except (AttributeError, RuntimeError):
        return _cpu_flag("amx_bf16")


@functools.cache
def _cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (read once; empty where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            return frozenset(
                flag for line in cpuinfo if line.startswith("flags") for flag in line.split()
            )
    except OSError:
        return frozenset()


def _cpu_flag(flag: str) -> bool:
    return flag in _cpu_flags()


def fast_kind() -> str:
    """What ``mode="fast"`` runs the LSTM in here: "bf16" where the CPU has bf16 matrix units,
    else "int8" (dynamically quantized products, fbgemm/oneDNN on AVX2/AVX-512/VNNI)."""
    return "bf16" if native_bf16() else "int8"


def _int8_needs_reduced_range() -> bool:
    """Whether the int8 products must quantize activations to 7 bits. Without VNNI, fbgemm
    multiplies uint8 activations by int8 weights with AVX2's ``vpmaddubsw``, which adds pairs
    of products into int16 and saturates (255 * 127 * 2 > 32,767): on an AMD EPYC (Zen 3) the
    full 8-bit range cost the LSTM layers' outputs up to 6% cosine. With VNNI (AVX512-VNNI or
    AVX-VNNI) the sums are int32 and the full range is kept."""
    return not (_cpu_flag("avx512_vnni") or _cpu_flag("avx_vnni"))


def _prepack_int8(weight: torch.Tensor, bias: torch.Tensor | None = None):
    """(out, in) fp32 weight -> a packed int8 weight for ``quantized.linear_dynamic``:
    symmetric per-output-channel scales; activations are quantized per call (per tensor)."""
    import warnings

    w = weight.detach().float().contiguous()
    scales = (w.abs().amax(1).clamp_min(1e-12) / 127).double()
    zero = torch.zeros(w.size(0), dtype=torch.long)
    with warnings.catch_warnings():  # torch >= 2.10 flags quantized tensors as deprecated
        warnings.simplefilter("ignore", UserWarning)
        qweight = torch.quantize_per_channel(w, scales, zero, 0, torch.qint8)
    return torch.ops.quantized.linear_prepack(
        qweight, None if bias is None else bias.detach().float().contiguous()
    )


#: Default padded-work budget of one engine call, in padded token positions: a batch of B
#: sentences whose longest has n tokens costs B * (n + 2) positions (``<S>`` and ``</S>``
#: included), because the outputs are allocated padded, (L, B, n + 2, D) floats. 16,384
#: positions are (n_layers + 1) * D * 4 bytes each: ~50 MB of outputs for en-small (D = 256),
#: ~200 MB for the original model (D = 1024); ordinary batches (64 sentences of up to 254
#: tokens) fit in one call.
MAX_PADDED_TOKENS = 16_384


def chunk_by_padded_budget(lengths: Sequence[int], budget: int) -> list[np.ndarray]:
    """Split rows into batches of at most ``budget`` padded positions (rows x their longest).

    Rows are sorted by length (stable, shortest first) and taken greedily; a row longer than
    the budget runs alone. Returns arrays of row indices into ``lengths``; together they hold
    every row once. Callers put each batch's results back at these indices (input order).

    >>> chunk_by_padded_budget([3, 1, 50, 2], budget=8)    # padded sizes 4, 3, 50
    [array([1, 3]), array([0]), array([2])]
    """
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise ValueError(f"padded-token budget must be a positive integer, got {budget!r}")
    lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
    order = np.argsort(lengths, kind="stable")
    chunks: list[np.ndarray] = []
    start = 0
    for stop in range(1, len(order) + 1):
        # rows order[start:stop] are sorted, so the last one is the longest
        if stop - start > 1 and (stop - start) * max(1, int(lengths[order[stop - 1]])) > budget:
            chunks.append(order[start : stop - 1])
            start = stop - 1
    if len(order):
        chunks.append(order[start:])
    return chunks


# rows of packed time steps per input-projection GEMM (bounds the (rows, 4C) gates buffer)
_BLOCK_ROWS = 512
# words per char-CNN call (bounds the conv activations)
_CNN_CHUNK = 256
# with word invariance on, a char-CNN call of fewer words is padded to this many: below ~16
# rows the CPU kernels take another path and a word's vector changes in its last bits
_INVARIANT_MIN_WORDS = 32
# words the invariance check encodes in several groupings: every length, odd characters
_PROBE_WORDS = tuple(
    [
        "a",
        "I",
        "the",
        "The",
        "cell",
        "bank",
        "mouse",
        "don't",
        "U.S.",
        "1990s",
        "--",
        "...",
        "naïve",
        "Zürich",
        "日本",
        "emoji😀",
        "x" * 49,
        "y" * 50,
        "z" * 60,
    ]
    + ["".join(chr(97 + (i * 7 + k * 3) % 26) for k in range(1 + i % 23)) for i in range(45)]
)


class WordCache:
    """LRU cache of char-CNN token vectors, keyed by token string, at most ``max_size`` words.

    Vectors live in one growing (slots, P) tensor; :attr:`hits` / :attr:`misses` count lookups.
    """

    def __init__(self, max_size: int = 20_000) -> None:
        self.max_size = max(0, int(max_size))
        self._slots: OrderedDict[str, int] = OrderedDict()
        self._table: torch.Tensor | None = None
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._slots)

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def clear(self) -> None:
        self._slots.clear()
        self._table = None
        self.hits = self.misses = 0

    def lookup(
        self, words: list[str], encode, dim: int, dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        """``words`` (distinct strings) -> (len(words), dim), encoding misses with ``encode``."""
        out = torch.empty(len(words), dim, dtype=dtype)
        hit_rows, hit_slots, miss_rows = [], [], []
        for row, word in enumerate(words):
            slot = self._slots.get(word)
            if slot is None:
                miss_rows.append(row)
            else:
                self._slots.move_to_end(word)
                hit_rows.append(row)
                hit_slots.append(slot)
        self.hits += len(hit_rows)
        self.misses += len(miss_rows)
        if hit_rows:
            out[hit_rows] = self._table[hit_slots]
        if miss_rows:
            vectors = encode([words[r] for r in miss_rows])
            out[miss_rows] = vectors
            self._store([words[r] for r in miss_rows], vectors)
        return out

    def _store(self, words: list[str], vectors: torch.Tensor) -> None:
        if self.max_size == 0:
            return
        if len(words) > self.max_size:
            words, vectors = words[-self.max_size :], vectors[-self.max_size :]
        if self._table is None:
            self._table = vectors.new_empty(
                min(self.max_size, max(1024, 2 * len(words))), vectors.size(1)
            )
        slots = []
        for word in words:
            if len(self._slots) < self.max_size:
                slot = len(self._slots)
            else:  # evict the least recently used word, reuse its slot
                _, slot = self._slots.popitem(last=False)
            self._slots[word] = slot
            slots.append(slot)
        need = max(slots) + 1
        if need > self._table.size(0):
            grown = self._table.new_empty(
                min(self.max_size, max(need, 2 * self._table.size(0))), self._table.size(1)
            )
            grown[: self._table.size(0)] = self._table
            self._table = grown
        self._table[slots] = vectors


class _Workspace:
    """Reusable buffers of one LSTM stack (one thread): a fresh 32 MB gates block per call costs
    page faults and a slower GEMM (measured: ~15% on the input projection)."""

    def __init__(self) -> None:
        self._buffers: dict[str, torch.Tensor] = {}

    def get(self, name: str, rows: int, cols: int, dtype: torch.dtype) -> torch.Tensor:
        buf = self._buffers.get(name)
        if buf is None or buf.size(0) < rows or buf.size(1) != cols or buf.dtype != dtype:
            buf = torch.empty(rows, cols, dtype=dtype)
            self._buffers[name] = buf
        return buf[:rows]


def _column_major(param: torch.nn.Parameter) -> None:
    """Store an (out, in) weight column-major, so that ``weight.t()`` is a contiguous (in, out)
    matrix: MKL's small-row GEMMs run ~15-25% faster on it than on the transposed view (measured
    on the original model's 16384 x 512 and 512 x 4096 weights). Same values, same memory; the
    module (and the parity path's ``F.linear``) sees the same tensor."""
    if param.dim() == 2 and not param.t().is_contiguous():
        param.data = param.data.t().contiguous().t()


class _Cell:
    """One direction of one layer, as inference-only tensors: ``kind`` "fp32" (views of the
    module's weights), "bf16" (bfloat16 copies of the three GEMM weights) or "int8" (packed
    int8 copies, products by ``quantized.linear_dynamic``)."""

    def __init__(self, cell: LstmCellWithProjection, kind: str = "fp32") -> None:
        self.cell_size, self.projection_size = cell.cell_size, cell.projection_size
        self.cell_clip, self.proj_clip = cell.cell_clip, cell.proj_clip
        weights = (cell.input_linear.weight, cell.state_linear.weight, cell.state_projection.weight)
        bias = cell.gate_bias().detach()
        self.kind = kind
        self.dtype = torch.bfloat16 if kind == "bf16" else torch.float32
        if kind == "int8":
            self.q_in = _prepack_int8(weights[0], bias)  # bias added by the product
            self.q_h, self.q_p = _prepack_int8(weights[1]), _prepack_int8(weights[2])
            self.reduce_range = _int8_needs_reduced_range()
            return
        if kind == "fp32":
            for weight in weights:
                _column_major(weight)
            # (out, in) -> (in, out): contiguous views, no copy
            self.w_in, self.w_h, self.w_p = (w.detach().t() for w in weights)
        else:
            self.w_in, self.w_h, self.w_p = (
                w.detach().t().contiguous().to(self.dtype) for w in weights
            )
        self.bias = bias.to(self.dtype)

    # the three products of a step, into preallocated outputs
    def _input_product(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        if self.kind == "int8":
            return out.copy_(torch.ops.quantized.linear_dynamic(x, self.q_in, self.reduce_range))
        return torch.addmm(self.bias, x, self.w_in, out=out)

    def _add_recurrent(self, h: torch.Tensor, gates: torch.Tensor) -> None:
        if self.kind == "int8":
            gates.add_(torch.ops.quantized.linear_dynamic(h, self.q_h, self.reduce_range))
        else:
            gates.addmm_(h, self.w_h)

    def _project(self, hidden: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        if self.kind == "int8":
            product = torch.ops.quantized.linear_dynamic(hidden, self.q_p, self.reduce_range)
            return out.copy_(product)
        return torch.mm(hidden, self.w_p, out=out)

    def run(
        self,
        x: torch.Tensor,
        batch_sizes: list[int],
        h: torch.Tensor,
        c: torch.Tensor,
        work: _Workspace,
        zero_start: bool = False,
    ) -> torch.Tensor:
        """x (N, in) packed by time step (rows of step t = the first batch_sizes[t] sequences);
        h (B, P) and c (B, C) are updated in place to each row's final state -> (N, P) packed.
        ``zero_start``: the caller promises h == 0, so the first step's recurrent GEMM (a
        product with zeros) is skipped.

        GEMMs, gates and outputs run in ``self.dtype`` (int8: the products are quantized, all
        else fp32); the cell state ``c`` stays fp32.
        """
        C, dtype = self.cell_size, self.dtype
        out = torch.empty(x.size(0), self.projection_size, dtype=dtype)
        if not batch_sizes:
            return out.float()
        hidden = work.get("hidden", batch_sizes[0], C, dtype)
        block = work.get("gates", max(_BLOCK_ROWS, batch_sizes[0]), 4 * C, dtype)
        h_run, x = h.to(dtype), x.to(dtype)  # no copies in fp32
        start, t = 0, 0
        while t < len(batch_sizes):
            # one GEMM for the input projection of a block of time steps
            stop_t, rows = t, 0
            while stop_t < len(batch_sizes) and (
                rows == 0 or rows + batch_sizes[stop_t] <= _BLOCK_ROWS
            ):
                rows += batch_sizes[stop_t]
                stop_t += 1
            gates_x = self._input_product(x[start : start + rows], block[:rows])
            offset = 0
            for step in range(t, stop_t):
                n = batch_sizes[step]
                # (n, 4C), TF order i, j, f, o
                gates = gates_x[offset : offset + n]
                if step or not zero_start:
                    self._add_recurrent(h_run[:n], gates)
                i, j, f, o = activate_gates(gates, inplace=True)
                c_t = next_cell(
                    i, j, f, c[:n], self.cell_clip, inplace=True
                )  # rows past n keep theirs
                hid = torch.tanh(c_t, out=hidden[:n]).mul_(o)  # (n, C)
                # (n, C) -> (n, P)
                h_t = self._project(hid, out[start + offset : start + offset + n])
                if self.proj_clip:
                    h_t.clamp_(-self.proj_clip, self.proj_clip)
                h_run[:n] = h_t
                offset += n
            start += rows
            t = stop_t
        if h_run is not h:
            h.copy_(h_run)
        return out.float()


class InferenceEngine:
    """Token lists -> :class:`~elmokit.modules.bilm.BiLMOutput`, like
    ``bilm(*batch_to_ids(batch), state)`` but faster (see the module docstring)."""

    def __init__(
        self, bilm: BiLM, mode: str = "exact", cache_size: int = 20_000, parallel: bool = True
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not one of {', '.join(MODES)}")
        self.bilm = bilm
        self.mode = mode
        self.kind: str | None = None  # "fp32", "bf16" or "int8" once prepared
        self.parallel = parallel
        tune_malloc("stream")
        self.cache = WordCache(cache_size)
        #: a word's char-CNN vector is the same bits in every batch (see
        #: :meth:`enable_word_invariance`); then the cache never needs clearing for purity
        self.invariant_words = False
        self._workspaces = (_Workspace(), _Workspace())  # forward stack, backward stack
        self._lock = threading.Lock()  # one call at a time: the cache and buffers are shared
        self._cells: list[tuple[_Cell, _Cell]] | None = None
        self._versions: tuple[int, ...] | None = None

    # ------------------------------------------------------------------ weights
    def _weight_versions(self) -> tuple[int, ...]:
        return tuple(p._version for p in self.bilm.parameters()) + tuple(
            p.data_ptr() for p in self.bilm.parameters()
        )

    def _prepare(self) -> None:
        """(Re)build the per-cell tensors and drop the cache when the weights changed."""
        versions = self._weight_versions()
        if versions == self._versions:
            return
        kind = fast_kind() if self.mode == "fast" else "int8" if self.mode == "int8" else "fp32"
        self.kind = kind
        lstm = self.bilm.lstm
        self._cells = [
            (_Cell(lstm.forward_layers[k], kind), _Cell(lstm.backward_layers[k], kind))
            for k in range(lstm.config.n_layers)
        ]
        self.cache.clear()
        self._versions = self._weight_versions()  # after _Cell: it may re-lay weights out

    # ------------------------------------------------------------------ char side
    def enable_word_invariance(self) -> bool:
        """Make a word's char-CNN vector one function of the word, the same bits whichever
        batch, position or cache state it meets, if this machine's kernels allow it -> whether
        it is on.

        A batch's vector of a word normally depends on the batch in its last bits (~1e-6):
        CPU GEMM kernels take another path for a few rows. With invariance on, every char-CNN
        call of fewer than 32 words is padded to 32, and so is each group of similar-length
        words inside it (a little more work for tiny batches), and this is *checked* here on
        probe words of every length: encoded all at once, one at a time and in shuffled groups
        of 2, 5 and 7, they must agree bit for bit, else invariance stays off. Callers that need outputs to be a pure function of their input (``embed-corpus``
        shards) then keep the word cache instead of clearing it."""
        with self._lock, torch.inference_mode():
            self._prepare()
            self.invariant_words = True
            words = list(_PROBE_WORDS)
            together = self._encode(words)
            alone = torch.cat([self._encode([w]) for w in words[::3]])
            same = torch.equal(alone, together[::3])
            rng = np.random.default_rng(0)
            for size in (2, 5, 7) if same else ():
                order = rng.permutation(len(words)).tolist()
                grouped = torch.empty_like(together)
                for i in range(0, len(order), size):
                    rows = order[i : i + size]
                    grouped[rows] = self._encode([words[r] for r in rows])
                same = same and torch.equal(grouped, together)
            self.invariant_words = bool(same)
            return self.invariant_words

    def _encode(self, words: list[str]) -> torch.Tensor:
        """Distinct token strings -> (n, P) char-CNN vectors (fp32)."""
        max_chars = self.bilm.config.char_cnn.max_characters_per_token
        pieces = []
        for i in range(0, len(words), _CNN_CHUNK):
            chunk = words[i : i + _CNN_CHUNK]
            n = len(chunk)
            if self.invariant_words and n < _INVARIANT_MIN_WORDS:
                chunk = chunk + [chunk[-1]] * (_INVARIANT_MIN_WORDS - n)
            ids = np.frombuffer(b"".join(_token_ids(w, max_chars) for w in chunk), dtype=np.int64)
            ids = torch.from_numpy(ids.reshape(len(chunk), max_chars).copy())
            pieces.append(self._encode_ids(ids)[:n])
        return torch.cat(pieces)

    def _encode_ids(self, char_ids: torch.Tensor) -> torch.Tensor:
        """(N, 50) char ids -> (N, P) fp32, by :meth:`CharCNN.encode_words`."""
        min_rows = _INVARIANT_MIN_WORDS if self.invariant_words else 1
        return self.bilm.char_cnn.encode_words(char_ids, min_rows=min_rows).float()

    # ------------------------------------------------------------------ forward
    def __call__(
        self, batch: list[list[str]], state: LstmState | None = None, final_state: bool = True
    ) -> BiLMOutput:
        """``final_state=False`` is for callers that drop the boundary positions and the state
        (stateless embedding): the forward stack then stops before each sentence's ``</S>``
        and the backward stack before its ``<S>``, whose outputs are discarded anyway (one
        step of ~len + 2 fewer per sentence); those outputs are left at 0 and ``state`` is
        None. Every other position is unchanged."""
        with self._lock:
            return self._forward(batch, state, final_state)

    @torch.inference_mode()
    def _forward(
        self, batch: list[list[str]], state: LstmState | None, final_state: bool
    ) -> BiLMOutput:
        self._prepare()
        config = self.bilm.config
        P = config.lstm.projection_dim
        B = len(batch)
        lengths = np.array([len(s) + 2 for s in batch], dtype=np.int64)
        T = int(lengths.max())

        # word index of every (row, step); -1 at padding
        vocab: dict[str, int] = {}
        word_index = np.full((B, T), -1, dtype=np.int64)
        for row, sentence in enumerate(batch):
            for t, token in enumerate((BOS_TOKEN, *sentence, EOS_TOKEN)):
                word_index[row, t] = vocab.setdefault(token, len(vocab))
        words = list(vocab)
        vectors = self.cache.lookup(words, self._encode, P)  # (V, P)
        table = torch.cat([vectors, vectors.new_zeros(1, P)])  # row V = padding
        tokens = table[torch.from_numpy(word_index).view(-1)]  # (B*T, P), 0 at padding

        # pack by time step, longest sentence first
        order = np.argsort(-lengths, kind="stable")
        # steps each stack runs: all positions, or all but the last one (see __call__)
        sorted_steps = lengths[order] - (0 if final_state else 1)
        steps = np.arange(T)
        active = steps[:, None] < sorted_steps[None, :]  # (T, B) in sorted row order
        batch_sizes = active.sum(1).tolist()
        step_of, rank_of = np.nonzero(active)  # packed row -> (t, sorted rank)
        row_of = order[rank_of]
        fwd_index = torch.from_numpy(row_of * T + step_of)
        bwd_index = torch.from_numpy(row_of * T + (lengths[row_of] - 1 - step_of))

        # state in sorted row order (copies: updated in place)
        order_t = torch.from_numpy(order)
        if state is None:
            h0 = torch.zeros(config.lstm.n_layers, 2, B, P)
            c0 = torch.zeros(config.lstm.n_layers, 2, B, config.lstm.dim)
        else:
            h0 = state.h[:, :, order_t].float().clone()
            c0 = state.c[:, :, order_t].float().clone()

        layers = tokens.new_zeros(config.lstm.n_layers + 1, B * T, 2 * P)
        layers[0, :, :P] = tokens
        layers[0, :, P:] = tokens
        skip = config.lstm.use_skip_connections

        def run_direction(
            direction: int, x: torch.Tensor, index: torch.Tensor, threads: int
        ) -> None:
            # The forward and backward stacks never meet: each can run on its own thread.
            try:
                if threads:
                    torch.set_num_threads(threads)
                columns = slice(0, P) if direction == 0 else slice(P, 2 * P)
                work = self._workspaces[direction]
                with torch.inference_mode():  # thread-local: set again on the worker

                    def run_layer(k: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                        # (N, in) packed -> (N, P) packed; h0/c0 updated to the final state
                        y = self._cells[k][direction].run(
                            x, batch_sizes, h0[k, direction], c0[k, direction], work,
                            zero_start=state is None,
                        )  # fmt: skip
                        return y, x

                    outputs = run_stack(x, len(self._cells), run_layer, skip, inplace=True)
                    for k, y in enumerate(outputs):
                        layers[k + 1, :, columns].index_copy_(0, index, y)
            except BaseException as exc:  # re-raised on the calling thread
                errors.append(exc)

        errors: list[BaseException] = []
        x_fwd, x_bwd = tokens[fwd_index], tokens[bwd_index]
        threads = torch.get_num_threads()
        if self.parallel and threads >= 2:
            # one stack per thread, each with half the intra-op threads (fewer OpenMP barriers
            # per small per-step op; robust when the machine is shared)
            worker = threading.Thread(
                target=run_direction, args=(1, x_bwd, bwd_index, threads // 2)
            )
            worker.start()
            try:
                torch.set_num_threads(threads - threads // 2)
                run_direction(0, x_fwd, fwd_index, 0)
            finally:
                worker.join()
                torch.set_num_threads(threads)
        else:
            run_direction(0, x_fwd, fwd_index, 0)
            run_direction(1, x_bwd, bwd_index, 0)
        if errors:
            raise errors[0]

        restore = torch.from_numpy(np.argsort(order))
        mask = torch.from_numpy(steps[None, :] < lengths[:, None])
        return BiLMOutput(
            layers=layers.view(-1, B, T, 2 * P),
            mask=mask,
            token_embedding=tokens.view(B, T, P),
            state=LstmState(h0[:, :, restore], c0[:, :, restore]) if final_state else None,
        )
