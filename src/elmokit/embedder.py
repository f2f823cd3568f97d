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
from elmokit.modules.bilm import BiLM, LstmState
from elmokit.tokenize import tokenize
from elmokit.weights import load_weights, save_weights

OUTPUT_FORMATS = ("all", "top", "average")

Sentence = str | Sequence[str]


def as_tokens(sentence: Sentence, where: str = "sentence") -> list[str]:
    """A raw string (tokenized with :func:`elmokit.tokenize.tokenize`) or a token list -> tokens."""
    if isinstance(sentence, str):
        return tokenize(sentence)
    if isinstance(sentence, (list, tuple)) and all(isinstance(t, str) for t in sentence):
        return list(sentence)
    if isinstance(sentence, np.ndarray) and sentence.dtype.kind in "UO":
        return [str(t) for t in sentence.tolist()]
    raise InputError(
        f"{where}: expected a string or a list of token strings, got {type(sentence).__name__}"
    )


def select_output(layers: np.ndarray, output_format: str) -> np.ndarray:
    """(3, n, D) -> "all": (3, n, D); "top": (n, D) the last layer; "average": (n, D) mean."""
    if output_format == "all":
        return layers
    if output_format == "top":
        return layers[-1]
    if output_format == "average":
        return layers.mean(axis=0)
    raise InputError(f"output format {output_format!r} is not one of {', '.join(OUTPUT_FORMATS)}")


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
    ) -> None:
        from elmokit.inference import MODES, InferenceEngine

        if mode not in MODES:
            raise InputError(f"mode {mode!r} is not one of {', '.join(MODES)}")
        self.device = torch.device(device or "cpu")
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
        if self.engine is not None:
            # stateless: skip the steps whose outputs and state are dropped
            out = self.engine(batch, state, final_state=self.stateful)
        else:
            ids, lengths = batch_to_ids(batch, self.config.char_cnn.max_characters_per_token)
            char_ids = torch.from_numpy(ids).to(self.device)
            lengths_t = torch.from_numpy(lengths).to(self.device)
            out = self.bilm(char_ids, lengths_t, state)
        if self.stateful:
            self._keep_state(out.state)
        return out

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
    def embed_sentence(self, tokens: Sentence) -> np.ndarray:
        """One sentence -> float32 (num_layers, n, D). A raw string is tokenized first."""
        return self.embed_batch([tokens])[0]

    def embed_batch(self, sentences: Sequence[Sentence]) -> list[np.ndarray]:
        """Sentences -> list of float32 (num_layers, n_i, D), in input order.

        An empty sentence gives an empty (num_layers, 0, D) array.
        """
        batch = [as_tokens(s, f"sentence {i}") for i, s in enumerate(sentences)]
        if not batch:
            return []
        layers = self._forward(batch).layers.float().cpu().numpy()  # (L, B, T, D)
        return [
            np.ascontiguousarray(layers[:, row, 1 : len(tokens) + 1])
            for row, tokens in enumerate(batch)
        ]

    def embed_sentences(
        self, sentences: Iterable[Sentence], batch_size: int = 64, bucket_batches: int = 1
    ) -> Iterator[np.ndarray]:
        """Lazily embed any number of sentences, ``batch_size`` at a time, in input order.

        ``bucket_batches`` > 1 (stateless only): read that many batches ahead and batch them by
        length, yielding in input order (a stateless sentence's vectors do not depend on its
        batch); similar lengths keep every time step's matrix products full (faster)."""
        if batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size}")
        window = batch_size * (1 if self.stateful else max(1, bucket_batches))
        chunk: list[Sentence] = []
        for sentence in sentences:
            chunk.append(sentence)
            if len(chunk) == window:
                yield from self._embed_window(chunk, batch_size)
                chunk = []
        if chunk:
            yield from self._embed_window(chunk, batch_size)

    def _embed_window(self, chunk: list[Sentence], batch_size: int) -> Iterator[np.ndarray]:
        if len(chunk) <= batch_size:
            yield from self.embed_batch(chunk)
            return
        tokens = [as_tokens(s, f"sentence {i}") for i, s in enumerate(chunk)]
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
    ):
        """Embed a file of one whitespace-tokenized sentence per line into HDF5, like
        ``allennlp elmo``: dataset ``str(line_index)`` of shape (3, n, D) ("all") or (n, D)
        ("top", "average"), and ``sentence_to_index`` (JSON: sentence -> key). Sentences are
        read ``bucket_batches`` batches ahead and batched by length (faster; 1 = file order);
        the output is the same either way. Returns an :class:`~elmokit.output.EmbedFileSummary`."""
        from elmokit.output import write_embeddings_hdf5

        return write_embeddings_hdf5(
            self, input_path, output_path, output_format, batch_size, skip_empty, progress,
            bucket_batches,
        )

    def signatures(self, sentences: Sequence[Sentence]) -> dict[str, np.ndarray]:
        """The TF-Hub ELMo module's outputs, for users coming from its tutorials.

        For B sentences padded to T tokens: ``word_emb`` (B, T, P) char-CNN token vectors,
        ``lstm_outputs1`` and ``lstm_outputs2`` (B, T, D), ``elmo`` (B, T, D) the equal-weight
        mix of the layers, ``default`` (B, D) the mean of ``elmo`` over each sentence's tokens,
        ``mask`` (B, T) bool and ``sequence_len`` (B,). Padding positions are 0.
        """
        batch = [as_tokens(s, f"sentence {i}") for i, s in enumerate(sentences)]
        lengths = np.array([len(s) for s in batch], dtype=np.int64)
        if not batch:
            raise InputError("signatures: no sentences given")
        out = self._forward(batch)
        width = int(lengths.max())
        layers = out.layers[:, :, 1 : width + 1].float().cpu().numpy()  # drop <S>
        mask = np.arange(width)[None, :] < lengths[:, None]
        layers = layers * mask[None, :, :, None]
        elmo = layers.mean(axis=0)
        counts = np.maximum(lengths, 1)[:, None].astype(np.float32)
        outputs = {
            "word_emb": out.token_embedding[:, 1 : width + 1].float().cpu().numpy()
            * mask[:, :, None],
            "elmo": elmo,
            "default": elmo.sum(axis=1) / counts,
            "mask": mask,
            "sequence_len": lengths,
        }
        for k in range(1, layers.shape[0]):
            outputs[f"lstm_outputs{k}"] = layers[k]
        return outputs

    def sentence_vectors(
        self,
        sentences: Iterable[Sentence],
        layer: int | str | Sequence[float] = "average",
        pooling: str = "mean",
        batch_size: int = 32,
        max_tokens: int | None = 128,
    ) -> np.ndarray:
        """Sentences -> float32 (N, D): per token, combine the layers (``layer``: an index,
        ``"average"`` (default: the "double averaging" of the tutorials), ``"top"``, or a list
        of L scalar-mix weights), then ``pooling`` over the tokens (mean | max | first | last).
        See :func:`elmokit.downstream.pooling.sentence_vectors`."""
        from elmokit.downstream.pooling import sentence_vectors

        return sentence_vectors(self, sentences, layer, pooling, batch_size, max_tokens)
