"""Named feature sets and the classifier used by ``elmokit classify`` and ``evaluate``.

A feature spec is a string: ``elmo`` (layer average), ``elmo:0`` / ``elmo:1`` / ``elmo:2``
(one layer), ``elmo:top``, ``elmo:concat``, ``elmo:0.2,0.3,0.5`` (fixed scalar mix),
``glove`` (mean GloVe vectors), ``tfidf`` (word 1-2-gram TF-IDF). ``make_features(spec)``
gives a scikit-learn transformer; ``make_classifier(name)`` a logistic regression (or small
MLP) that standardises dense features first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from elmokit.errors import InputError

FEATURE_HELP = "elmo, elmo:LAYER (0|1|2|top|concat|w0,w1,w2), glove, tfidf"


def parse_layer(text: str) -> Any:
    """``"2"`` -> 2, ``"average"`` -> "average", ``"0.2,0.3,0.5"`` -> [0.2, 0.3, 0.5]."""
    if "," in text:
        try:
            return [float(x) for x in text.split(",")]
        except ValueError:
            raise InputError(f"layer weights {text!r} are not numbers") from None
    return int(text) if text.lstrip("-").isdigit() else text


def make_features(spec: str, model: Any = None, glove: Any = None,
                  max_tokens: int | None = 128, batch_size: int = 32) -> Any:
    """Feature spec (see module doc) -> an unfitted scikit-learn transformer."""
    name, _, arg = spec.partition(":")
    if name == "elmo":
        from elmokit.downstream.sklearn import ElmoVectorizer

        layer = parse_layer(arg) if arg else "average"
        return ElmoVectorizer(model, layer=layer, max_tokens=max_tokens, batch_size=batch_size)
    if name == "glove":
        from elmokit.downstream.sklearn import GloveVectorizer

        return GloveVectorizer(glove)
    if name == "tfidf":
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=50000)
    raise InputError(f"unknown feature set {spec!r} (use {FEATURE_HELP})")


def make_classifier(name: str = "logreg", sparse: bool = False, seed: int = 0) -> Any:
    """``logreg`` (L2 logistic regression, class-balanced: the spam test split is 50 % spam,
    its train split 15 %) or ``mlp`` (one hidden layer of 128), preceded by
    standardisation for dense features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if name == "logreg":
        clf = LogisticRegression(max_iter=3000, C=10.0 if sparse else 0.1,
                                 class_weight="balanced")
    elif name == "mlp":
        clf = MLPClassifier(hidden_layer_sizes=(128,), early_stopping=True, max_iter=300,
                            alpha=1e-3, random_state=seed)
    else:
        raise InputError(f"classifier {name!r} is not one of logreg, mlp")
    return clf if sparse else make_pipeline(StandardScaler(), clf)


@dataclass
class Score:
    """One row of a comparison table."""

    features: str
    accuracy: float
    macro_f1: float
    dim: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {"features": self.features, "accuracy": round(self.accuracy, 4),
                "macro_f1": round(self.macro_f1, 4), "dim": self.dim,
                "seconds": f"{self.seconds:.1f}"}


def fit_score(X_train: Any, y_train: Any, X_test: Any, y_test: Any, classifier: str = "logreg",
              seed: int = 0) -> tuple[float, float]:
    """Train ``classifier`` on features -> (accuracy, macro-F1) on the test features."""
    from scipy import sparse as sp
    from sklearn.metrics import accuracy_score, f1_score

    clf = make_classifier(classifier, sparse=sp.issparse(X_train), seed=seed)
    clf.fit(X_train, y_train)
    pred = clf.predict(X_test)
    return float(accuracy_score(y_test, pred)), float(f1_score(y_test, pred, average="macro"))


def compare_features(train: Any, test: Any, specs: list[str], classifier: str = "logreg",
                     log: Any = None, **feature_kwargs: Any) -> list[Score]:
    """For each feature spec: featurize ``train`` / ``test`` (:class:`~.data.Labeled`), train
    ``classifier`` and score it. Returns one :class:`Score` per spec (time includes
    featurizing)."""
    rows = []
    for spec in specs:
        start = time.perf_counter()
        vec = make_features(spec, **feature_kwargs)
        X_train = vec.fit_transform(train.texts)
        X_test = vec.transform(test.texts)
        acc, f1 = fit_score(X_train, train.labels, X_test, test.labels, classifier)
        rows.append(Score(spec, acc, f1, X_train.shape[1], time.perf_counter() - start))
        if log:
            log(f"{spec}: accuracy {acc:.4f}, macro-F1 {f1:.4f}")
    return rows


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
