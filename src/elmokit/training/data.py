"""Streaming LM batches for truncated BPTT, as in bilm-tf.

Every batch row is an endless stream of sentences ``<S> w1 .. wn </S> <S> ...``; a batch is the
next ``unroll + 1`` tokens of every row (inputs are the first ``unroll``, targets the last), and
the next batch starts where this one's inputs stopped, so the LSTM state carries over. The
backward LM reads the same sentences, each one reversed (``</S> wn .. w1 <S>``), as bilm-tf's
reverse dataset does. Sentences come from the corpus files one shard (file) at a time: shards in
a seeded random order per epoch, sentences of a shard in a seeded random order, so corpora
bigger than memory stream through and a run is reproducible from its seed. With several
processes, rank ``r`` of ``w`` takes sentences ``r, r + w, ...`` of every shard.

The stream's whole position is :meth:`BatchStream.state_dict` (plain ints and token lists), so a
resumed run continues at exactly the same token.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from elmokit.characters import token_to_ids
from elmokit.errors import InputError
from elmokit.training.vocab import BOS, EOS, Vocabulary, iter_sentences


@dataclass
class Batch:
    """One BPTT window for both directions (index 0 forward, 1 backward).

    ``chars`` (U, max_chars) char ids of the U distinct input tokens; ``tokens`` (2, T, B) index
    into ``chars``; ``targets`` (2, T, B) vocabulary ids; ``weights`` (2, T, B) 1.0 where the
    target counts (0 for padding and for the trivial ``</S> -> <S>`` step between sentences).
    """

    chars: torch.Tensor
    tokens: torch.Tensor
    targets: torch.Tensor
    weights: torch.Tensor

    @property
    def n_tokens(self) -> int:
        """Input tokens per direction (B * T), what tokens/s counts."""
        return self.tokens.shape[1] * self.tokens.shape[2]

    def to(self, device) -> Batch:
        return Batch(*(t.to(device, non_blocking=True) for t in
                       (self.chars, self.tokens, self.targets, self.weights)))  # fmt: skip


class BatchStream:
    """Corpus files -> :class:`Batch` windows of ``batch_size`` rows x ``unroll`` steps.

    ``shuffle=False, epochs=1, pad_last=True`` reads every sentence once in file order and pads
    the final window (evaluation); training shuffles and runs ``epochs`` passes (None: forever).
    """

    def __init__(
        self,
        files: list[Path],
        vocab: Vocabulary,
        batch_size: int,
        unroll: int,
        seed: int = 0,
        shuffle: bool = True,
        epochs: int | None = None,
        pad_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
        tokenizer: str = "whitespace",
        max_chars: int = 50,
    ) -> None:
        if batch_size < 1 or unroll < 1:
            raise InputError(f"batch size and unroll must be positive, got {batch_size}, {unroll}")
        self.files, self.vocab = list(files), vocab
        self.batch_size, self.unroll, self.seed = batch_size, unroll, seed
        self.shuffle, self.epochs, self.pad_last = shuffle, epochs, pad_last
        self.rank, self.world_size = rank, world_size
        self.tokenizer, self.max_chars = tokenizer, max_chars
        # position: epoch, index into this epoch's shard order, next sentence in that shard
        self.epoch, self.shard, self.line = 0, 0, 0
        self.fwd: list[list[str]] = [[] for _ in range(batch_size)]
        self.bwd: list[list[str]] = [[] for _ in range(batch_size)]
        self._sentences: list[list[str]] | None = None  # the current shard, in reading order
        self._epoch_sentences = 0
        self.finished = False

    # ------------------------------------------------------------------ position
    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "shard": self.shard, "line": self.line,
                "fwd": [list(r) for r in self.fwd], "bwd": [list(r) for r in self.bwd],
                "epoch_sentences": self._epoch_sentences, "finished": self.finished}  # fmt: skip

    def load_state_dict(self, state: dict) -> None:
        if len(state["fwd"]) != self.batch_size:
            raise InputError(
                f"checkpoint has {len(state['fwd'])} batch rows, this run {self.batch_size}"
            )
        self.epoch, self.shard, self.line = state["epoch"], state["shard"], state["line"]
        self.fwd = [list(r) for r in state["fwd"]]
        self.bwd = [list(r) for r in state["bwd"]]
        self._epoch_sentences = state["epoch_sentences"]
        self.finished = state["finished"]
        self._sentences = None  # reloaded (and re-shuffled identically) on demand

    # ------------------------------------------------------------------ sentences
    def _shard_order(self) -> list[int]:
        if not self.shuffle:
            return list(range(len(self.files)))
        rng = np.random.default_rng([self.seed, self.epoch])
        return rng.permutation(len(self.files)).tolist()

    def _load_shard(self) -> list[list[str]]:
        index = self._shard_order()[self.shard]
        sentences = list(iter_sentences(self.files[index], self.tokenizer))
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch, index]).permutation(
                len(sentences)
            )
            sentences = [sentences[i] for i in order]
        return sentences[self.rank :: self.world_size]

    def _next_sentence(self) -> list[str] | None:
        while True:
            if self.epochs is not None and self.epoch >= self.epochs:
                return None
            if self.shard >= len(self.files):  # end of an epoch
                if self._epoch_sentences == 0:
                    names = ", ".join(str(f) for f in self.files)
                    raise InputError(f"corpus {names}: no sentences (every line is empty)")
                self.epoch, self.shard, self.line, self._epoch_sentences = self.epoch + 1, 0, 0, 0
                self._sentences = None
                continue
            if self._sentences is None:
                self._sentences = self._load_shard()
            if self.line < len(self._sentences):
                sentence = self._sentences[self.line]
                self.line += 1
                self._epoch_sentences += 1
                return sentence
            self.shard, self.line, self._sentences = self.shard + 1, 0, None

    # ------------------------------------------------------------------ batches
    def __iter__(self):
        return self

    def __next__(self) -> Batch:
        need = self.unroll + 1
        rows_f, rows_b = [], []
        for row in range(self.batch_size):
            fwd, bwd = self.fwd[row], self.bwd[row]
            while len(fwd) < need:
                sentence = None if self.finished else self._next_sentence()
                if sentence is None:
                    self.finished = True
                    break
                fwd.extend([BOS, *sentence, EOS])
                bwd.extend([EOS, *sentence[::-1], BOS])
            rows_f.append(fwd[:need])
            rows_b.append(bwd[:need])
            self.fwd[row], self.bwd[row] = fwd[self.unroll :], bwd[self.unroll :]
        if self.finished and not all(len(r) == need for r in rows_f):
            if not self.pad_last or all(len(r) <= 1 for r in rows_f):
                raise StopIteration
        return self._make(rows_f, rows_b)

    def _make(self, rows_f: list[list[str]], rows_b: list[list[str]]) -> Batch:
        T, B = self.unroll, self.batch_size
        types: dict[str, int] = {}
        tokens = np.zeros((2, T, B), dtype=np.int64)
        targets = np.zeros((2, T, B), dtype=np.int64)
        weights = np.zeros((2, T, B), dtype=np.float32)
        index = self.vocab.index
        for d, (rows, end) in enumerate(((rows_f, EOS), (rows_b, BOS))):
            for b, row in enumerate(rows):
                for t in range(min(T, len(row) - 1)):
                    token = row[t]
                    tokens[d, t, b] = types.setdefault(token, len(types))
                    targets[d, t, b] = index.get(row[t + 1], 2)
                    weights[d, t, b] = 0.0 if token == end else 1.0
        if not types:
            types[BOS] = 0
        chars = np.stack([token_to_ids(t, self.max_chars) for t in types])
        return Batch(
            torch.from_numpy(chars),
            torch.from_numpy(tokens),
            torch.from_numpy(targets),
            torch.from_numpy(weights),
        )
