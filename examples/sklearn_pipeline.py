"""ELMo features in scikit-learn: a Pipeline, cross_val_score, and a grid search over layers.

    python examples/sklearn_pipeline.py [--model NAME] [--n 400]

Data: data/eval/finefoods/train.csv (great / other), a random subset of --n reviews.
For the held-out comparison with GloVe and TF-IDF use ``elmokit classify`` (see
docs/downstream.md).
"""

from __future__ import annotations

import argparse
import time

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from elmokit.downstream.data import find_eval_file, read_labeled_csv
from elmokit.downstream.sklearn import ElmoVectorizer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--n", type=int, default=400)
    args = ap.parse_args()
    path = find_eval_file("finefoods/train.csv")
    if path is None:
        raise SystemExit("no data/eval/finefoods/train.csv: run scripts/fetch_eval_data.py")
    data = read_labeled_csv(path).subset(args.n)
    pipe = Pipeline([
        ("elmo", ElmoVectorizer(args.model, layer="average", max_tokens=64)),
        ("scale", StandardScaler()),
        ("clf", LogisticRegression(C=0.1, max_iter=2000, class_weight="balanced")),
    ])
    start = time.perf_counter()
    scores = cross_val_score(pipe, data.texts, data.labels, cv=5, scoring="f1_macro")
    print(f"{len(data)} reviews, 5-fold macro-F1: {scores.mean():.4f} +- {scores.std():.4f} "
          f"({time.perf_counter() - start:.0f} s)")
    grid = GridSearchCV(pipe, {"elmo__layer": [0, 1, 2, "average", "concat"]}, cv=3,
                        scoring="f1_macro")
    start = time.perf_counter()
    grid.fit(data.texts, data.labels)  # the biLM runs once per text: per-layer means are cached
    print(f"grid search over layers ({time.perf_counter() - start:.0f} s):")
    for layer, score in zip(grid.cv_results_["param_elmo__layer"],
                            grid.cv_results_["mean_test_score"], strict=True):
        print(f"  layer {layer!s:8} macro-F1 {score:.4f}")
    print(f"best: {grid.best_params_}")


if __name__ == "__main__":
    main()
