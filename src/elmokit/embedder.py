"""``Elmo``: the user-facing embedder (tokens or raw text in, numpy vectors out).

>>> from elmokit import Elmo
>>> elmo = Elmo.load("en-small")
>>> elmo.embed_sentence(["The", "cell", "divides"]).shape     # (3, n, D)
(3, 3, 256)

Stateless by default: every sentence starts from a zero LSTM state, so its vectors do not
depend on its batch companions or their order. ``stateful=True`` carries each batch row's
final state into the next ``embed_batch`` call, as AllenNLP and bilm-tf do.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from elmokit import hub
from elmokit.characters import batch_to_ids
from elmokit.config import ElmoConfig
from elmokit.errors import InputError, ModelNotFoundError
from elmokit.layers import OUTPUT_FORMATS as OUTPUT_FORMATS  # re-exported: the old home
from elmokit.layers import (
    LayerSpec,
    check_pooling,
    combine_layers,
    layer_weights,
    masked_mean,
    pool_tokens,
)
from elmokit.layers import select_output as select_output  # re-exported: the old home
from elmokit.modules.bilm import BiLM, BiLMOutput, LstmState
from elmokit.tokenize import DEFAULT_TOKENIZE, as_tokens, check_tokenize
from elmokit.weights import load_weights, save_weights

Sentence = str | Sequence[str]
#: Sentences whose per-layer token means ``sentence_vectors(cache=True)`` keeps, per model.
SENTENCE_CACHE_SIZE = 20_000


def truncate(
    sentence: Sentence, max_tokens: int | None, tokenize: str = DEFAULT_TOKENIZE
) -> list[str]:
    """Tokenize (a string, by ``tokenize``: see :func:`as_tokens`) and keep the first
    ``max_tokens`` tokens (all when None).

    >>> truncate("The cell divides .", 2)
    ['The', 'cell']
    """
    tokens = as_tokens(sentence, tokenize=tokenize)
    return tokens if max_tokens is None else tokens[:max_tokens]


def check_device(device: str | torch.device) -> torch.device:
    """A torch device this process can use, or a one-line :class:`InputError`."""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise InputError(
            f"device {str(device)!r} is not a torch device (cpu, cuda, cuda:1, mps)"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            why = "no GPU is visible" if torch.version.cuda else "this torch is built without CUDA"
            raise InputError(f"device {str(device)!r} is not available ({why}); use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(
                f"device {str(device)!r} is not available ({torch.cuda.device_count()} GPU(s))"
            )
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise InputError(f"device {str(device)!r} is not available (no Apple MPS here)")
    return device


def check_budget(max_padded_tokens: int) -> int:
    """A valid padded-token budget (a positive int), or a one-line :class:`InputError`."""
    if (
        isinstance(max_padded_tokens, bool)
        or not isinstance(max_padded_tokens, int)
        or (max_padded_tokens < 1)
    ):
        raise InputError(f"max_padded_tokens must be a positive integer, got {max_padded_tokens!r}")
    return max_padded_tokens


class Elmo:
    """ELMo embedder around a :class:`~elmokit.modules.BiLM`.

    Outputs per sentence of n tokens: float32 array (num_layers, n, D), D = 2 * projection_dim;
    layer 0 is the character-based token vector ``[x; x]``, layers 1.. are the biLSTM layers.
    """

    def __init__(
        self,
        bilm: BiLM,
        *,
        stateful: bool = False,
        device: str | torch.device | None = None,
        name: str | None = None,
        mode: str = "exact",
        cache_size: int = 20_000,
        max_padded_tokens: int | None = None,
    ) -> None:
        from elmokit.inference import MAX_PADDED_TOKENS, MODES, InferenceEngine

        if mode not in MODES:
            raise InputError(f"mode {mode!r} is not one of {', '.join(MODES)}")
        self.device = check_device(device or "cpu")
        #: default padded-work budget of one forward pass (see :meth:`embed_batch`)
        self.max_padded_tokens = check_budget(
            MAX_PADDED_TOKENS if max_padded_tokens is None else max_padded_tokens
        )
        self.bilm = bilm.to(self.device).eval()
        self.stateful = stateful
        self.name = name
        # "exact" (fp32, = the parity path), "fast" (bf16 LSTM GEMMs, int8 on CPUs without
        # bf16 units) and "int8" run the CPU inference engine (word-type cache, packed
        # recurrence); "reference" runs BiLM.forward as is.
        self.mode = mode
        self.engine = (
            InferenceEngine(self.bilm, mode, cache_size)
            if mode != "reference" and self.device.type == "cpu"
            else None
        )
        self._state: LstmState | None = None
        self._warm_state: LstmState | None = None
        # tokens -> float32 (L, D) per-layer token means, oldest first (sentence_vectors cache)
        self._sentence_means: dict[tuple[str, ...], np.ndarray] = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def load(
        cls, name_or_dir: str | os.PathLike | None = None, warm_start: bool | None = None, **kwargs
    ) -> Elmo:
        """A bundled model name (``"en-small"``), a known download, or a directory with
        ``options.json`` + ``weights.hdf5``. ``None`` means the default bundled model.

        ``warm_start``: start every sentence from the state left after reading the model's
        ``burn_in.txt`` (see :meth:`set_warm_state`); ``None`` follows the model's own default
        (``"warm_start"`` in its ``elmokit.json``), off when it has none.
        """
        name = str(name_or_dir) if name_or_dir is not None else hub.default_model()
        hub.check_name(name)  # "" is an error, not the current directory
        from elmokit.interop.folders import read_other_format  # ELMoForManyLangs folders

        if (bilm := read_other_format(name)) is not None:
            kwargs.setdefault("name", name)
            return cls(bilm.eval(), **kwargs)
        options_file, weight_file = hub.resolve(name)
        kwargs.setdefault("name", name)
        elmo = cls.from_hdf5(options_file, weight_file, **kwargs)
        model_dir = Path(options_file).parent
        if warm_start is None:
            meta = model_dir / "elmokit.json"
            warm_start = meta.is_file() and bool(json.loads(meta.read_text()).get("warm_start"))
        if warm_start:
            burn_in = model_dir / "burn_in.txt"
            if not burn_in.is_file():
                raise ModelNotFoundError(f"{model_dir}: warm start needs a burn_in.txt")
            elmo.set_warm_state(burn_in.read_text(encoding="utf-8").splitlines())
        return elmo

    @classmethod
    def from_hdf5(
        cls,
        options_file: str | os.PathLike,
        weight_file: str | os.PathLike,
        stateful: bool = False,
        **kwargs,
    ) -> Elmo:
        """From an AllenNLP / bilm-tf ``options.json`` and HDF5 weight file."""
        config = ElmoConfig.from_file(options_file)
        bilm = BiLM(config)
        load_weights(bilm, weight_file)
        kwargs.setdefault("name", str(weight_file))
        return cls(bilm, stateful=stateful, **kwargs)

    @classmethod
    def random(
        cls, config: ElmoConfig, seed: int = 0, fan_in_scaled: bool = False, **kwargs
    ) -> Elmo:
        """A randomly initialised model (tests, benchmarks): every weight uniform(+-0.1).

        ``fan_in_scaled`` draws each weight matrix uniform(+-sqrt(3 / fan_in)) instead
        (unit-variance pre-activations, like a trained model): +-0.1 makes a 4096-cell LSTM
        chaotic, so 1e-7 input differences grow to 1e-2 even between two batchings.
        """
        torch.manual_seed(seed)
        bilm = BiLM(config)
        with torch.no_grad():
            for param in bilm.parameters():
                param.uniform_(-0.1, 0.1)
            bilm.char_cnn.char_embedding.weight[0].zero_()
            if fan_in_scaled:
                generator = torch.Generator().manual_seed(seed)
                for name, param in bilm.named_parameters():
                    if param.dim() == 2 and "char_embedding" not in name:
                        bound = math.sqrt(3.0 / param.size(1))
                        rand = torch.rand(param.shape, generator=generator)
                        param.copy_(rand * 2 * bound - bound)
        return cls(bilm, **kwargs)

    def save(self, directory: str | os.PathLike, dtype: str = "float32") -> Path:
        """Write ``options.json`` + ``weights.hdf5`` (loadable by AllenNLP and bilm-tf)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.config.save(directory / hub.OPTIONS_NAME)
        save_weights(self.bilm, directory / hub.WEIGHTS_NAME, dtype=dtype)
        return directory

    @property
    def config(self) -> ElmoConfig:
        return self.bilm.config

    @property
    def dim(self) -> int:
        """D, the size of every output vector (2 * projection_dim)."""
        return self.config.output_dim

    @property
    def num_layers(self) -> int:
        return self.config.num_output_layers

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> LstmState | None:
        """The carried per-row LSTM state (stateful mode), or None."""
        return self._state

    def reset_state(self) -> None:
        """Forget the carried LSTM state; the next batch starts from zeros."""
        self._state = None

    # ------------------------------------------------------------------ core
    @torch.inference_mode()
    def _forward(self, batch: list[list[str]]):
        """Token lists -> BiLMOutput over ``<S> tokens </S>`` (boundaries still in)."""
        state = self._batch_state(len(batch)) if self.stateful else self._start_state(len(batch))
        out = self._run(batch, state, final_state=self.stateful)
        if self.stateful:
            self._keep_state(out.state)
        return out

    def _run(self, batch: list[list[str]], state: LstmState | None, final_state: bool):
        """One forward pass from ``state``, touching no carried state."""
        if self.engine is not None:
            # stateless: skip the steps whose outputs and state are dropped
            return self.engine(batch, state, final_state=final_state)
        ids, lengths = batch_to_ids(batch, self.config.char_cnn.max_characters_per_token)
        char_ids = torch.from_numpy(ids).to(self.device)
        lengths_t = torch.from_numpy(lengths).to(self.device)
        return self.bilm(char_ids, lengths_t, state)

    @torch.inference_mode()
    def _forward_chunks(
        self, batch: list[list[str]], budget: int
    ) -> Iterator[tuple[np.ndarray, BiLMOutput]]:
        """Like :meth:`_forward`, in length-sorted passes of at most ``budget`` padded
        positions (:func:`~elmokit.inference.chunk_by_padded_budget`); yields (row indices
        into ``batch``, that pass's output). Stateful mode carries each row's state exactly
        as one pass would."""
        from elmokit.inference import chunk_by_padded_budget

        chunks = chunk_by_padded_budget([len(tokens) + 2 for tokens in batch], budget)
        if len(chunks) == 1:  # one pass in input order, as before
            yield np.arange(len(batch)), self._forward(batch)
            return
        if not self.stateful:
            for rows in chunks:
                yield rows, self._forward([batch[r] for r in rows])
            return
        start = self._batch_state(len(batch))  # (layers, 2, B, ...) per row
        final = LstmState(start.h.clone(), start.c.clone())
        for rows in chunks:
            index = torch.from_numpy(rows).to(start.h.device)
            state = LstmState(start.h[:, :, index], start.c[:, :, index])
            out = self._run([batch[r] for r in rows], state, final_state=True)
            final.h[:, :, index] = out.state.h
            final.c[:, :, index] = out.state.c
            yield rows, out
            del out  # before the next pass allocates its own
        self._keep_state(final)

    def _start_state(self, rows: int) -> LstmState | None:
        """Stateless mode's start: zeros (None), or the fixed warm state for every row."""
        warm = self._warm_state
        if warm is None:
            return None
        return LstmState(warm.h.expand(-1, -1, rows, -1), warm.c.expand(-1, -1, rows, -1))

    def set_warm_state(self, burn_in: Sequence[Sentence] | None) -> None:
        """Start every sentence from the state left after reading ``burn_in`` (stateless mode).

        The biLM was trained on a continuous stream, never from a zero state; a fixed warm
        start keeps results deterministic and batch-independent. ``None`` restores zeros.
        """
        self._warm_state = None
        self.clear_sentence_cache()  # cached vectors were computed from the old start state
        if burn_in is None:
            return
        saved_stateful, saved_state = self.stateful, self._state
        self.stateful, self._state = True, None
        try:
            for i, sentence in enumerate(burn_in):
                self._forward([as_tokens(sentence, f"burn-in sentence {i}")])
            warm = self._state
        finally:
            self.stateful, self._state = saved_stateful, saved_state
        self._warm_state = warm

    def _batch_state(self, rows: int) -> LstmState:
        zeros = LstmState.zeros(self.config, rows, self.device)
        if self._state is not None:
            keep = min(rows, self._state.rows)
            zeros.h[:, :, :keep] = self._state.h[:, :, :keep]
            zeros.c[:, :, :keep] = self._state.c[:, :, :keep]
        return zeros

    def _keep_state(self, new: LstmState) -> None:
        # Rows beyond this batch keep their older state (AllenNLP's semantics).
        if self._state is not None and self._state.rows > new.rows:
            self._state.h[:, :, : new.rows] = new.h
            self._state.c[:, :, : new.rows] = new.c
        else:
            self._state = LstmState(new.h.clone(), new.c.clone())

    # ------------------------------------------------------------------ public API
    def embed_sentence(self, tokens: Sentence, tokenize: str = DEFAULT_TOKENIZE) -> np.ndarray:
        """One sentence -> float32 (num_layers, n, D). A string is split by ``tokenize``:
        ``"whitespace"`` (default) or ``"elmokit"`` (raw text; see :mod:`elmokit.tokenize`)."""
        return self.embed_batch([tokens], tokenize=tokenize)[0]

    def embed_batch(
        self,
        sentences: Sequence[Sentence],
        max_padded_tokens: int | None = None,
        tokenize: str = DEFAULT_TOKENIZE,
    ) -> list[np.ndarray]:
        """Sentences -> list of float32 (num_layers, n_i, D), in input order.

        >>> [a.shape for a in elmo.embed_batch([["A", "cat"], "Hi ."])]
        [(3, 2, 256), (3, 2, 256)]

        An empty sentence gives an empty (num_layers, 0, D) array. Memory is bounded by
        padded work, not by the number of tokens: the sentences run in length-sorted passes of
        at most ``max_padded_tokens`` padded positions each (rows x (longest + 2), boundary
        tokens included; default :attr:`max_padded_tokens`, 16,384 unless set, see
        :data:`elmokit.inference.MAX_PADDED_TOKENS`); a longer sentence runs alone. So one
        500-token sentence among 4,000 short ones no longer pads all of them to 500. Results
        do not depend on the passes (stateless vectors do not depend on batch companions;
        stateful mode carries each row's state as one pass would).
        """
        if isinstance(sentences, (str, bytes)):
            raise InputError(
                "embed_batch takes a list of sentences, got one string: use "
                "embed_sentence(text) for a single sentence, or embed_batch([text])"
            )
        budget = self.max_padded_tokens if max_padded_tokens is None else max_padded_tokens
        budget = check_budget(budget)
        check_tokenize(tokenize)  # strings: see embed_sentence
        batch = [as_tokens(s, f"sentence {i}", tokenize) for i, s in enumerate(sentences)]
        results: list[np.ndarray] = [None] * len(batch)  # type: ignore[list-item]
        if not batch:
            return results
        for rows, out in self._forward_chunks(batch, budget):
            layers = out.layers.float().cpu().numpy()  # (L, rows, T, D)
            for i, row in enumerate(rows.tolist()):
                results[row] = np.ascontiguousarray(layers[:, i, 1 : len(batch[row]) + 1])
            del out, layers  # this pass's padded outputs go before the next pass
        return results

    def embed_sentences(
        self,
        sentences: Iterable[Sentence],
        batch_size: int = 64,
        bucket_batches: int = 1,
        tokenize: str = DEFAULT_TOKENIZE,
    ) -> Iterator[np.ndarray]:
        """Lazily embed any number of sentences, ``batch_size`` at a time, in input order.
        Strings (e.g. the lines of ``open(f)``) are split by ``tokenize`` (see
        :meth:`embed_sentence`): by default exactly as :meth:`embed_file` splits a file's lines.

        ``bucket_batches`` > 1 (stateless only): read that many batches ahead and batch them by
        length, yielding in input order (a stateless sentence's vectors do not depend on its
        batch); similar lengths keep every time step's matrix products full (faster)."""
        if batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size}")
        check_tokenize(tokenize)
        window = batch_size * (1 if self.stateful else max(1, bucket_batches))
        chunk: list[Sentence] = []
        for sentence in sentences:
            chunk.append(sentence)
            if len(chunk) == window:
                yield from self._embed_window(chunk, batch_size, tokenize)
                chunk = []
        if chunk:
            yield from self._embed_window(chunk, batch_size, tokenize)

    def _embed_window(
        self, chunk: list[Sentence], batch_size: int, tokenize: str = DEFAULT_TOKENIZE
    ) -> Iterator[np.ndarray]:
        if len(chunk) <= batch_size:
            yield from self.embed_batch(chunk, tokenize=tokenize)
            return
        tokens = [as_tokens(s, f"sentence {i}", tokenize) for i, s in enumerate(chunk)]
        order = sorted(range(len(tokens)), key=lambda i: len(tokens[i]))
        results: list[np.ndarray | None] = [None] * len(tokens)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            for row, vectors in zip(rows, self.embed_batch([tokens[r] for r in rows]), strict=True):
                results[row] = vectors
        yield from results

    def embed_file(
        self,
        input_path: str | os.PathLike,
        output_path: str | os.PathLike,
        output_format: str = "all",
        batch_size: int = 64,
        skip_empty: bool = False,
        progress: bool | None = None,
        bucket_batches: int = 8,
        tokenize: str = DEFAULT_TOKENIZE,
    ):
        """Embed a file of one sentence per line into HDF5, like ``allennlp elmo``. Each line is
        split by ``tokenize``: ``"whitespace"`` (default: pre-tokenized lines, as ``allennlp
        elmo``) or ``"elmokit"`` (raw text; see :mod:`elmokit.tokenize`). Dataset ``str(line_index)`` of shape (3, n, D) ("all") or (n, D)
        ("top", "average"), and ``sentence_to_index`` (JSON: sentence -> key). Sentences are
        read ``bucket_batches`` batches ahead and batched by length (faster; 1 = file order);
        the output is the same either way. Returns an :class:`~elmokit.output.EmbedFileSummary`."""
        from elmokit.output import write_embeddings_hdf5

        return write_embeddings_hdf5(
            self,
            input_path,
            output_path,
            output_format,
            batch_size,
            skip_empty,
            progress,
            bucket_batches,
            check_tokenize(tokenize),
        )

    def signatures(
        self, sentences: Sequence[Sentence], tokenize: str = DEFAULT_TOKENIZE
    ) -> dict[str, np.ndarray]:
        """The TF-Hub ELMo module's outputs, for users coming from its tutorials.

        For B sentences padded to T tokens: ``word_emb`` (B, T, P) char-CNN token vectors,
        ``lstm_outputs1`` and ``lstm_outputs2`` (B, T, D), ``elmo`` (B, T, D) the equal-weight
        mix of the layers, ``default`` (B, D) the mean of ``elmo`` over each sentence's tokens,
        ``mask`` (B, T) bool and ``sequence_len`` (B,). Padding positions are 0. Strings are
        split by ``tokenize`` (see :meth:`embed_sentence`).
        """
        check_tokenize(tokenize)
        batch = [as_tokens(s, f"sentence {i}", tokenize) for i, s in enumerate(sentences)]
        lengths = np.array([len(s) for s in batch], dtype=np.int64)
        if not batch:
            raise InputError("signatures: no sentences given")
        out = self._forward(batch)
        width = int(lengths.max())
        layers = out.layers[:, :, 1 : width + 1].float().cpu().numpy()  # (L, B, T, D), no <S>
        mask = np.arange(width)[None, :] < lengths[:, None]  # (B, T)
        layers = layers * mask[None, :, :, None]
        elmo = combine_layers(layers, "average")  # (L, B, T, D) -> (B, T, D)
        outputs = {
            "word_emb": out.token_embedding[:, 1 : width + 1].float().cpu().numpy()
            * mask[:, :, None],
            "elmo": elmo,
            "default": masked_mean(elmo, mask),  # (B, T, D) -> (B, D)
            "mask": mask,
            "sequence_len": lengths,
        }
        for k in range(1, layers.shape[0]):
            outputs[f"lstm_outputs{k}"] = layers[k]
        return outputs

    def sentence_vectors(
        self,
        sentences: Iterable[Sentence],
        layer: LayerSpec = "average",
        pooling: str = "mean",
        batch_size: int = 32,
        max_tokens: int | None = 128,
        progress: bool = False,
        cache: bool = False,
        tokenize: str = DEFAULT_TOKENIZE,
    ) -> np.ndarray:
        """Sentences (raw strings or token lists) -> float32 (N, D) ((N, L * D) for "concat").

        >>> elmo.sentence_vectors(["The cell divides .", "A mouse ran ."]).shape
        (2, 256)
        >>> elmo.sentence_vectors(texts, layer=[0.2, 0.3, 0.5]).shape   # (N, D)

        Per token, combine the layers (``layer``: an index, ``"average"`` (default: the
        tutorials' "double averaging", TF-Hub's ``default``), ``"top"``, ``"concat"``, or L
        plain mixing weights applied as given, see :mod:`elmokit.layers`), then ``pooling`` over
        the tokens (mean | max | first | last); an empty sentence gives zeros. Sentences longer
        than ``max_tokens`` tokens are cut; they are batched by length, output is in input order.

        ``cache=True`` (mean pooling, stateless only) keeps each sentence's per-layer token
        means (L, D) on this model (up to ``SENTENCE_CACHE_SIZE`` sentences), so trying other
        ``layer`` choices on the same texts does not run the biLM again.
        """
        check_tokenize(tokenize)  # strings: see embed_sentence; progress: a tqdm bar on stderr
        batch = [truncate(s, max_tokens, tokenize) for s in sentences]
        weights = layer_weights(layer, self.num_layers)  # validate before the expensive part
        check_pooling(pooling)
        width = self.dim * (self.num_layers if weights is None else 1)  # "concat": L * D
        out = np.zeros((len(batch), width), dtype=np.float32)  # (N, D)
        if (
            cache
            and pooling == "mean"
            and not self.stateful
            and len(batch) <= (SENTENCE_CACHE_SIZE // 2)
        ):
            for i, means in enumerate(self._layer_means(batch, batch_size, progress)):
                out[i] = combine_layers(means[:, None], layer)[0]  # (L, 1, D) -> (D,)
            return out
        order = sorted(range(len(batch)), key=lambda i: len(batch[i]))
        chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        if progress:
            from tqdm import tqdm

            chunks = tqdm(chunks, desc="embedding", unit="batch")
        for chunk in chunks:
            for i, layers in zip(chunk, self.embed_batch([batch[i] for i in chunk]), strict=True):
                out[i] = pool_tokens(combine_layers(layers, layer), pooling)
        return out

    def _layer_means(
        self, batch: list[list[str]], batch_size: int, progress: bool = False
    ) -> list[np.ndarray]:
        """Token lists -> their float32 (L, D) per-layer token means, through the cache."""
        cached = self._sentence_means
        keys = [tuple(tokens) for tokens in batch]
        for key in keys:  # mark as recently used, so evictions below spare them
            if key in cached:
                cached[key] = cached.pop(key)
        todo = sorted(dict.fromkeys(k for k in keys if k not in cached), key=len)
        starts: Iterable[int] = range(0, len(todo), batch_size)
        if progress:  # over the batches the biLM runs (none for cached sentences)
            from tqdm import tqdm

            starts = tqdm(starts, desc="embedding", unit="batch")
        for start in starts:
            chunk = todo[start : start + batch_size]
            embedded = self.embed_batch([list(k) for k in chunk])
            for key, layers in zip(chunk, embedded, strict=True):
                while len(cached) >= SENTENCE_CACHE_SIZE:  # oldest first; this call's are newer
                    cached.pop(next(iter(cached)))
                # (L, n, D) -> (L, D); an empty sentence -> zeros
                cached[key] = layers.mean(axis=1) if layers.shape[1] else layers.sum(axis=1)
        return [cached[key] for key in keys]

    def clear_sentence_cache(self) -> None:
        """Forget the per-layer means kept by :meth:`sentence_vectors` (``cache=True``)."""
        self._sentence_means.clear()

    def word_vectors(self, words=None, sentences=None, layer: LayerSpec = "average", **kwargs):
        """Static word vectors (:mod:`elmokit.vectors`) -> a ``WordVectors``.

        >>> elmo.word_vectors(["cell", "celll"]).vectors.shape     # context-free: char CNN
        (2, P)
        >>> elmo.word_vectors(sentences=texts, layer="top").vectors.shape   # corpus-pooled
        (V, D)
        """
        from elmokit.vectors import word_vectors

        return word_vectors(self, words, sentences, layer, **kwargs)
