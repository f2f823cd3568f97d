"""Named feature sets and the classifier used by ``elmokit classify`` and ``evaluate``.

A feature spec is a string: ``elmo`` (layer average), ``elmo:0`` / ``elmo:1`` / ``elmo:2``
(one layer), ``elmo:top``, ``elmo:concat``, ``elmo:0.2,0.3,0.5`` (fixed scalar mix),
``glove`` (mean GloVe vectors), ``word2vec`` (mean word2vec vectors: a given file, else
trained with gensim on the training texts), ``tfidf`` (word 1-2-gram TF-IDF). ``make_features(spec)``
gives a scikit-learn transformer; ``make_classifier(name)`` a logistic regression (or small
MLP) that standardises dense features first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from elmokit.errors import InputError
from elmokit.tokenize import DEFAULT_TOKENIZE, check_tokenize, pretokenize

FEATURE_HELP = "elmo, elmo:LAYER (0|1|2|top|concat|w0,w1,w2), glove, word2vec, tfidf"


def parse_layer(text: str) -> Any:
    """``"2"`` -> 2, ``"average"`` -> "average", ``"0.2,0.3,0.5"`` -> [0.2, 0.3, 0.5]."""
    if "," in text:
        try:
            return [float(x) for x in text.split(",")]
        except ValueError:
            raise InputError(f"layer weights {text!r} are not numbers") from None
    return int(text) if text.lstrip("-").isdigit() else text


def make_features(
    spec: str,
    model: Any = None,
    glove: Any = None,
    max_tokens: int | None = 128,
    batch_size: int = 32,
    word2vec: Any = None,
) -> Any:
    """Feature spec (see module doc) -> an unfitted scikit-learn transformer. ``word2vec``: a
    word2vec file for the ``word2vec`` feature set (None: trained on the texts it is fit on)."""
    name, _, arg = spec.partition(":")
    if name == "elmo":
        from elmokit.downstream.sklearn import ElmoVectorizer

        layer = parse_layer(arg) if arg else "average"
        return ElmoVectorizer(model, layer=layer, max_tokens=max_tokens, batch_size=batch_size)
    if name == "glove":
        from elmokit.downstream.sklearn import GloveVectorizer

        return GloveVectorizer(glove)
    if name == "word2vec":
        return Word2VecVectorizer(word2vec)
    if name == "tfidf":
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=50000)
    raise InputError(f"unknown feature set {spec!r} (use {FEATURE_HELP})")


# The regularisation grids C="auto" searches (inverse L2 strength): dense features are
# standardised first, so one grid serves GloVe's 50 dimensions and ELMo's 768 alike.
C_GRID_DENSE = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
C_GRID_SPARSE = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
CV_FOLDS = 5


def parse_c(value: str | float | None) -> float | str:
    """``"auto"`` / None -> ``"auto"``; a positive number (or its text) -> that float."""
    if value is None or value == "auto":
        return "auto"
    try:
        c = float(value)
    except (TypeError, ValueError):
        raise InputError(f"C must be 'auto' or a positive number, got {value!r}") from None
    if not 0 < c < float("inf"):
        raise InputError(f"C must be 'auto' or a positive number, got {value!r}")
    return c


def make_classifier(
    name: str = "logreg",
    sparse: bool = False,
    seed: int = 0,
    C: float | str = "auto",
    labels: Any = None,
) -> Any:
    """``logreg`` (L2 logistic regression, class-balanced: the spam test split is 50 % spam,
    its train split 15 %) or ``mlp`` (one hidden layer of 128), preceded by
    standardisation for dense features.

    ``C`` (logreg only): the inverse regularisation strength, or ``"auto"``: chosen per
    feature set by stratified 5-fold cross-validation on the training data (accuracy) from
    :data:`C_GRID_DENSE` / :data:`C_GRID_SPARSE`, as SentEval does — one fixed C favours
    the feature sets whose size it happens to suit. ``labels`` (the training labels) sets
    the folds: with fewer than 2 texts of some label there is nothing to cross-validate
    and ``"auto"`` means 0.1 (dense) / 10 (sparse)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    C = parse_c(C)
    if name == "logreg":
        folds = _cv_folds(labels)
        if C == "auto" and folds >= 2:
            clf = GridSearchCV(  # ties go to the smaller C (the grids ascend)
                LogisticRegression(max_iter=3000, class_weight="balanced"),
                {"C": list(C_GRID_SPARSE if sparse else C_GRID_DENSE)},
                cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
                scoring="accuracy",
            )
        else:
            c = (10.0 if sparse else 0.1) if C == "auto" else C
            clf = LogisticRegression(max_iter=3000, C=c, class_weight="balanced")
    elif name == "mlp":
        clf = MLPClassifier(
            hidden_layer_sizes=(128,),
            early_stopping=True,
            max_iter=300,
            alpha=1e-3,
            random_state=seed,
        )
    else:
        raise InputError(f"classifier {name!r} is not one of logreg, mlp")
    return clf if sparse else make_pipeline(StandardScaler(), clf)


def _cv_folds(labels: Any) -> int:
    """Folds for C="auto": 5, or fewer when a label has fewer texts (0: no labels given)."""
    if labels is None:
        return 0
    from collections import Counter

    counts = Counter(labels).values()
    return min(CV_FOLDS, min(counts)) if len(counts) >= 2 else 0


def chosen_c(clf: Any) -> float | None:
    """The C a fitted :func:`make_classifier` logistic regression uses (None: an MLP)."""
    final = clf.steps[-1][1] if hasattr(clf, "steps") else clf
    if hasattr(final, "best_params_"):
        return float(final.best_params_["C"])
    c = getattr(final, "C", None)
    return None if c is None else float(c)


@dataclass
class Score:
    """One row of a comparison table."""

    features: str
    accuracy: float
    macro_f1: float
    dim: int
    seconds: float
    C: float | None = None  # the logistic regression's C (chosen or given); None: none used

    def as_dict(self) -> dict[str, Any]:
        return {
            "features": self.features,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "dim": self.dim,
            "C": "" if self.C is None else f"{self.C:g}",
            "seconds": f"{self.seconds:.1f}",
        }


def fit_score(
    X_train: Any,
    y_train: Any,
    X_test: Any,
    y_test: Any,
    classifier: str = "logreg",
    seed: int = 0,
    C: float | str = "auto",
) -> tuple[float, float, float | None]:
    """Train ``classifier`` on features -> (accuracy, macro-F1) on the test features and the
    C it used (see :func:`make_classifier`; None for the MLP)."""
    from scipy import sparse as sp
    from sklearn.metrics import accuracy_score, f1_score

    clf = make_classifier(classifier, sparse=sp.issparse(X_train), seed=seed, C=C, labels=y_train)
    clf.fit(X_train, y_train)
    pred = clf.predict(X_test)
    acc, f1 = accuracy_score(y_test, pred), f1_score(y_test, pred, average="macro")
    return float(acc), float(f1), chosen_c(clf)


def cut_texts(
    texts: list[str], max_tokens: int | None, tokenize: str = DEFAULT_TOKENIZE
) -> list[str]:
    """Each text's first ``max_tokens`` tokens (split by ``tokenize``), joined by spaces; the
    texts as they are when ``max_tokens`` is None."""
    if max_tokens is None:
        return list(texts)
    if max_tokens < 1:
        raise InputError(f"max_tokens must be at least 1, got {max_tokens}")
    return [" ".join(pretokenize(t, tokenize).split()[:max_tokens]) for t in texts]


def describe_cut(max_tokens: int | None) -> str:
    """How much of each text the feature sets read, for report titles."""
    return "whole texts" if max_tokens is None else f"first {max_tokens} tokens of each text"


def compare_features(
    train: Any,
    test: Any,
    specs: list[str],
    classifier: str = "logreg",
    log: Any = None,
    progress: bool | None = None,
    tokenize: str = DEFAULT_TOKENIZE,
    max_tokens: int | None = None,
    C: float | str = "auto",
    **feature_kwargs: Any,
) -> list[Score]:
    """For each feature spec: featurize ``train`` / ``test`` (:class:`~.data.Labeled`), train
    ``classifier`` and score it. Returns one :class:`Score` per spec (time includes
    featurizing).

    Every feature set reads the same words: the whole texts, or with ``max_tokens`` each
    text's first ``max_tokens`` tokens (split by ``tokenize``) for all of them, not only for
    ELMo (a static baseline reading whole reviews against ELMo reading their first 64 tokens
    was an unfair comparison). ELMo features see the texts split by ``tokenize``
    (:mod:`elmokit.tokenize`; the other feature sets have their own word splits). When
    ``model`` is an ``Elmo``, the biLM runs once over all texts first, with a progress bar
    (``progress``: None = on a terminal), and every ``elmo`` feature set then reads its
    sentence cache. ``C``: the logistic regression's, or ``"auto"`` (cross-validated per
    feature set, :func:`make_classifier`)."""
    check_tokenize(tokenize)
    C = parse_c(C)
    plain = {
        "train": cut_texts(train.texts, max_tokens, tokenize),
        "test": cut_texts(test.texts, max_tokens, tokenize),
    }
    elmo_specs = [s for s in specs if s.partition(":")[0] == "elmo"]
    elmo_texts = plain
    feature_kwargs["max_tokens"] = None  # cut above, for every feature set alike
    if elmo_specs:
        if tokenize != "whitespace" and max_tokens is None:  # the vectorizer splits on spaces
            elmo_texts = {k: [pretokenize(t, tokenize) for t in v] for k, v in plain.items()}
        _fill_sentence_cache(
            feature_kwargs.get("model"), elmo_texts["train"] + elmo_texts["test"], None, progress
        )
    rows = []
    for spec in specs:
        start = time.perf_counter()
        vec = make_features(spec, **feature_kwargs)
        texts = elmo_texts if spec in elmo_specs else plain
        X_train = vec.fit_transform(texts["train"])
        X_test = vec.transform(texts["test"])
        acc, f1, c = fit_score(X_train, train.labels, X_test, test.labels, classifier, C=C)
        rows.append(Score(spec, acc, f1, X_train.shape[1], time.perf_counter() - start, c))
        if log:
            log(
                f"{spec}: accuracy {acc:.4f}, macro-F1 {f1:.4f}"
                + ("" if c is None else f", C {c:g}")
            )
    return rows


def _fill_sentence_cache(
    model: Any, texts: list[str], max_tokens: int | None, progress: bool | None
) -> None:
    """Run the biLM over ``texts`` into ``model``'s sentence cache (what every ``elmo``
    feature set's :class:`~.sklearn.ElmoVectorizer` reads), with a progress bar."""
    from elmokit.embedder import SENTENCE_CACHE_SIZE, Elmo
    from elmokit.progress import want_progress

    if isinstance(model, Elmo) and len(texts) <= SENTENCE_CACHE_SIZE // 2 and not model.stateful:
        model.sentence_vectors(
            texts, max_tokens=max_tokens, cache=True, progress=want_progress(progress)
        )


def majority_baseline(train: Any, test: Any) -> Score:
    """Always predict the most frequent training label."""
    from collections import Counter

    from sklearn.metrics import f1_score

    top = Counter(train.labels).most_common(1)[0][0]
    pred = [top] * len(test.labels)
    acc = float(np.mean([p == y for p, y in zip(pred, test.labels, strict=True)]))
    return Score("majority", acc, float(f1_score(test.labels, pred, average="macro")), 0, 0.0)


def format_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """A Markdown table (it also reads fine in a terminal)."""
    if not rows:
        return ""
    columns = columns or list(rows[0])

    def cell(v: Any) -> str:
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    body = [[cell(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(b[i]) for b in body)) for i, c in enumerate(columns)]

    def line(vals: list[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(vals, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(columns), sep, *(line(b) for b in body)])


class Word2VecVectorizer:
    """Texts -> mean of the word2vec vectors of their known words, float32 (N, d) (zeros for a
    text with none); words are :func:`~elmokit.downstream.sklearn.glove_tokens` (lowercased).

    ``path``: a word2vec file, text (``word v1 v2 ...`` per line, with or without the
    ``N d`` header line; GloVe's format too) or binary (``.bin``, needs gensim); None trains
    word2vec (gensim skip-gram, ``dim`` dimensions, ``epochs`` passes, one thread, ``seed``)
    on the texts given to :meth:`fit` — the static baseline that sees exactly the classifier's
    training data.
    """

    def __init__(
        self, path: Any = None, dim: int = 100, epochs: int = 20, min_count: int = 2, seed: int = 0
    ) -> None:
        self.path = path
        self.dim = dim
        self.epochs = epochs
        self.min_count = min_count
        self.seed = seed

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {
            "path": self.path,
            "dim": self.dim,
            "epochs": self.epochs,
            "min_count": self.min_count,
            "seed": self.seed,
        }

    def set_params(self, **params: Any) -> Word2VecVectorizer:
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def fit(self, X: Any, y: Any = None) -> Word2VecVectorizer:
        from elmokit.downstream.sklearn import glove_tokens

        if self.path is not None:
            self.vectors_ = load_word2vec(self.path)
        else:
            try:
                from gensim.models import Word2Vec
            except ModuleNotFoundError:
                raise InputError(
                    "feature set 'word2vec' without a word2vec file trains one "
                    "with gensim, which is not installed: pip install "
                    "'elmokit[downstream]' (or pass --word2vec FILE)"
                ) from None
            sentences = [glove_tokens(t) for t in X]
            model = Word2Vec(
                sentences=sentences,
                vector_size=self.dim,
                window=5,
                sg=1,
                min_count=self.min_count,
                workers=1,
                seed=self.seed,
                epochs=self.epochs,
            )
            self.vectors_ = {w: model.wv[w] for w in model.wv.index_to_key}
        if not self.vectors_:
            raise InputError("word2vec: no word vectors (an empty file, or texts too short)")
        self.n_features_out_ = len(next(iter(self.vectors_.values())))
        return self

    def transform(self, X: Any) -> np.ndarray:
        from elmokit.downstream.sklearn import glove_tokens

        out = np.zeros((len(X), self.n_features_out_), dtype=np.float32)
        for i, text in enumerate(X):
            vecs = [self.vectors_[t] for t in glove_tokens(text) if t in self.vectors_]
            if vecs:
                out[i] = np.mean(vecs, axis=0)
        return out

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        return self.fit(X, y).transform(X)


def load_word2vec(path: Any, max_words: int | None = None) -> dict[str, np.ndarray]:
    """A word2vec file -> {word: float32 (d,)}: text (``word v1 v2 ...``, optional ``N d``
    header) or binary (``.bin``, via gensim). Errors name the file and line."""
    import os

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such word2vec file")
    if path.endswith(".bin"):
        from gensim.models import KeyedVectors

        kv = KeyedVectors.load_word2vec_format(path, binary=True, limit=max_words)
        return {w: np.asarray(kv[w], dtype=np.float32) for w in kv.index_to_key}
    out: dict[str, np.ndarray] = {}
    dim = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            parts = line.rstrip().split(" ")
            if n == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # the "N d" header
            try:
                vec = np.asarray(parts[1:], dtype=np.float32)
            except ValueError:
                raise InputError(f"{path} line {n}: not 'word v1 v2 ...'") from None
            if dim is None:
                dim = len(vec)
            if len(vec) != dim or not dim:
                raise InputError(f"{path} line {n}: {len(vec)} numbers, expected {dim}")
            out[parts[0]] = vec
            if max_words is not None and len(out) >= max_words:
                break
    return out


def token_vectors_progress(
    elmo: Any,
    sentences: list,
    layer: Any = "average",
    progress: bool | None = None,
    desc: str = "embedding",
    step: int = 256,
) -> list[np.ndarray]:
    """:func:`elmokit.downstream.pooling.token_vectors` with a progress bar over the
    sentences (``progress``: None = on a terminal), ``step`` sentences at a time."""
    from elmokit.downstream.pooling import token_vectors
    from elmokit.progress import progress_bar

    out: list[np.ndarray] = []
    with progress_bar(total=len(sentences), progress=progress, desc=desc, unit="sentence") as bar:
        for start in range(0, len(sentences), step):
            out += token_vectors(elmo, sentences[start : start + step], layer)
            bar.update(len(sentences[start : start + step]))
    return out
