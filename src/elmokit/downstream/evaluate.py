"""``elmokit evaluate``: the model by layer and scalar mix against GloVe (and word2vec, when a
``.txt`` / gensim KeyedVectors file is given) on

* a Brown POS probe: a linear softmax classifier on frozen token vectors; accuracy overall and
  on test words never seen in the probe's training sentences;
* sentence classification (fine-food sentiment, spam): logistic regression on mean-pooled
  vectors (plus TF-IDF); accuracy and macro-F1;
* a word-sense check: for "cell", "mouse", "bank", "bucket" (:mod:`.senses`), the fraction of
  (anchor, same-sense, other-sense) triples where the same-sense occurrence is closer.

Subset sizes are modest so the whole run takes minutes on 2 CPU cores.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from elmokit.downstream.features import (
    compare_features,
    majority_baseline,
    token_vectors_progress,
)
from elmokit.downstream.pooling import LayerSpec, token_vectors

#: Layer choices compared everywhere: the char-CNN layer, each biLSTM layer, the equal-weight
#: average, and "concat" (a linear model on all layers side by side can learn any mix).
LAYERS: tuple[tuple[str, LayerSpec], ...] = (
    ("elmo layer 0 (chars)", 0),
    ("elmo layer 1", 1),
    ("elmo layer 2", 2),
    ("elmo average", "average"),
    ("elmo concat (learned mix)", "concat"),
)

Log = Callable[[str], None] | None


# ---------------------------------------------------------------------- POS probe
def train_linear_probe(
    X: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    epochs: int = 60,
    lr: float = 0.05,
    weight_decay: float = 1e-5,
    seed: int = 0,
) -> Any:
    """A softmax linear classifier on standardised features (full-batch Adam, torch) ->
    ``predict(X) -> labels``. Much faster than scikit-learn for ~100 classes."""
    import torch

    torch.manual_seed(seed)
    threads = torch.get_num_threads()
    if X.size < 1_000_000:  # small problems: thread hand-offs cost more than they gain
        torch.set_num_threads(1)
    try:
        return _train_probe(X, y, num_classes, epochs, lr, weight_decay)
    finally:
        torch.set_num_threads(threads)


def _train_probe(
    X: np.ndarray, y: np.ndarray, num_classes: int, epochs: int, lr: float, weight_decay: float
) -> Any:
    import torch

    mean, std = X.mean(0), X.std(0) + 1e-6
    Xt = torch.from_numpy((X - mean) / std).float()
    yt = torch.from_numpy(y).long()
    layer = torch.nn.Linear(X.shape[1], num_classes)
    opt = torch.optim.Adam(layer.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(epochs * 5):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(layer(Xt), yt)
        loss.backward()
        opt.step()

    def predict(Xq: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return layer(torch.from_numpy((Xq - mean) / std).float()).argmax(-1).numpy()

    return predict


def static_token_vectors(
    table: dict[str, np.ndarray], sentences: Sequence[Sequence[str]]
) -> list[np.ndarray]:
    """Static (GloVe / word2vec) lookup of lowercased tokens; unknown words get zeros plus a
    1 in an extra "unknown" dimension. -> list of (n_i, d + 1)."""
    dim = len(next(iter(table.values())))
    out = []
    for s in sentences:
        m = np.zeros((len(s), dim + 1), dtype=np.float32)
        for i, w in enumerate(s):
            v = table.get(w.lower())
            if v is None:
                m[i, dim] = 1.0
            else:
                m[i, :dim] = v
        out.append(m)
    return out


def pos_probe(
    elmo: Any,
    train_sents: list,
    test_sents: list,
    static: dict[str, Any],
    log: Log = None,
    progress: bool | None = None,
) -> list[dict[str, Any]]:
    """Brown POS probe rows: features | accuracy | unseen_accuracy | unseen_tokens | dim."""
    from elmokit.downstream.data import simplify_brown_tag

    def tags(sents):
        return [simplify_brown_tag(t) for s in sents for _, t in s]

    tr_words = [[w for w, _ in s] for s in train_sents]
    te_words = [[w for w, _ in s] for s in test_sents]
    tr_tags, te_tags = tags(train_sents), tags(test_sents)
    classes = sorted(set(tr_tags))
    index = {t: i for i, t in enumerate(classes)}
    y_tr = np.array([index[t] for t in tr_tags])
    y_te = np.array([index.get(t, -1) for t in te_tags])  # unseen tag: always wrong
    seen = {w.lower() for s in tr_words for w in s}
    unseen = np.array([w.lower() not in seen for s in te_words for w in s])
    # run the biLM once per sentence set; every layer choice is a view of all layers
    all_layers = {
        id(tr_words): token_vectors_progress(elmo, tr_words, "concat", progress, "POS train"),
        id(te_words): token_vectors_progress(elmo, te_words, "concat", progress, "POS test"),
    }

    def elmo_layer(sents: list, layer: LayerSpec) -> list[np.ndarray]:
        from elmokit.downstream.pooling import combine_layers

        L, D = elmo.num_layers, elmo.dim
        return [
            combine_layers(v.reshape(-1, L, D).transpose(1, 0, 2), layer)
            for v in all_layers[id(sents)]
        ]

    feats: list[tuple[str, Callable[[list], list[np.ndarray]]]] = [
        (name, lambda sents, layer=layer: elmo_layer(sents, layer)) for name, layer in LAYERS
    ]
    feats += [
        (name, lambda sents, t=table: static_token_vectors(t, sents))
        for name, table in static.items()
    ]
    rows = []
    for name, featurize in feats:
        start = time.perf_counter()
        X_tr = np.concatenate(featurize(tr_words))
        X_te = np.concatenate(featurize(te_words))
        pred = train_linear_probe(X_tr, y_tr, len(classes))(X_te)
        right = pred == y_te
        rows.append(
            {
                "features": name,
                "accuracy": float(right.mean()),
                "unseen_accuracy": float(right[unseen].mean()) if unseen.any() else float("nan"),
                "unseen_tokens": int(unseen.sum()),
                "dim": X_tr.shape[1],
                "seconds": f"{time.perf_counter() - start:.1f}",
            }
        )
        if log:
            log(
                f"POS {name}: {rows[-1]['accuracy']:.4f} (unseen {rows[-1]['unseen_accuracy']:.4f})"
            )
    return rows


# ---------------------------------------------------------------------- word senses
def sense_check(elmo: Any, static: dict[str, Any], log: Log = None) -> list[dict[str, Any]]:
    """Fraction of (anchor, same-sense, other-sense) triples ranked right, per word and
    feature set (cosine similarity of the word's vectors). Static vectors give every
    occurrence the same vector: ties count as wrong, so they score 0."""
    from elmokit.downstream.senses import SENSES, sense_sentences, sense_triples

    rows = []
    for name, layer in [*LAYERS, *((n, None) for n in static)]:
        row: dict[str, Any] = {"features": name}
        total_right = total = 0
        for word in SENSES:
            items = list(sense_sentences(word))
            toks = [s.split() for _, _, s in items]
            if layer is None:
                vec = static[name].get(word)
                vecs = [vec if vec is not None else np.zeros(1) for _ in toks]
            else:
                per_sent = token_vectors(elmo, toks, layer)
                vecs = [
                    v[[t.lower() for t in s].index(word)]
                    for v, s in zip(per_sent, toks, strict=True)
                ]
            V = np.stack(vecs).astype(np.float64)
            V /= np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)
            sim = V @ V.T
            triples = list(sense_triples(word))
            right = sum(sim[a, b] > sim[a, c] + 1e-9 for a, b, c in triples)
            row[word] = right / len(triples)
            total_right += right
            total += len(triples)
        row["all"] = total_right / total
        rows.append(row)
        if log:
            log(f"senses {name}: {row['all']:.4f}")
    return rows


# ---------------------------------------------------------------------- driver
def load_static(
    glove: str | os.PathLike | None, word2vec: str | os.PathLike | None, max_words: int = 100_000
) -> dict[str, dict[str, np.ndarray]]:
    """{"glove 6B 50d": table, "word2vec": table} for those available."""
    from elmokit.downstream.data import find_glove, load_glove

    out = {}
    glove = glove or find_glove()
    if glove:
        table = load_glove(glove, max_words)
        out[f"glove ({len(next(iter(table.values())))}d)"] = table
    if word2vec:
        out["word2vec"] = load_glove(word2vec, max_words)  # same text format
    return out


def evaluate(
    model: Any = None,
    data_dir: str | os.PathLike = "data/eval",
    glove: str | os.PathLike | None = None,
    word2vec: str | os.PathLike | None = None,
    pos_train: int = 1000,
    pos_test: int = 400,
    cls_train: int = 1000,
    cls_test: int = 500,
    max_tokens: int | None = None,
    tasks: Sequence[str] = ("pos", "classify", "senses"),
    log: Log = None,
    progress: bool | None = None,
    C: float | str = "auto",
) -> dict[str, Any]:
    """Run the tasks -> ``{"model": name, "pos": rows, "finefoods": rows, "spam": rows,
    "senses": rows}`` (rows: dicts, see :func:`format_report`). ``progress``: bars while the
    biLM runs (None: on a terminal). The review and spam texts are raw text: ELMo reads them
    split by ``elmokit.tokenize`` (``tokenize="elmokit"``); Brown is already tokenized.
    ``C``: the classifiers' logistic-regression C, or ``"auto"`` (chosen per feature set by
    5-fold cross-validation on the training texts; each row says which)."""
    from pathlib import Path

    from elmokit.downstream.data import read_brown, read_labeled_csv
    from elmokit.downstream.features import parse_c
    from elmokit.downstream.sklearn import shared_model
    from elmokit.errors import InputError

    C = parse_c(C)
    data_dir = Path(data_dir)
    elmo = shared_model(model)
    static = load_static(glove, word2vec)
    report: dict[str, Any] = {"model": elmo.name, "dim": elmo.dim, "static": sorted(static)}
    if "pos" in tasks:
        brown = data_dir / "brown"
        tr_path, te_path = brown / "train.jsonl", brown / "test.jsonl"
        if not tr_path.is_file() or not te_path.is_file():
            raise InputError(
                f"{brown}: no train.jsonl / test.jsonl (run scripts/fetch_eval_data.py)"
            )
        rng = np.random.default_rng(0)

        def sample(path, n):
            sents = [s for s in read_brown(path) if len(s) <= 60]
            return [sents[i] for i in sorted(rng.permutation(len(sents))[:n])]

        train, test = sample(tr_path, pos_train), sample(te_path, pos_test)
        report["pos_sizes"] = {
            "train_sentences": len(train),
            "test_sentences": len(test),
            "train_tokens": sum(map(len, train)),
            "test_tokens": sum(map(len, test)),
        }
        report["pos"] = pos_probe(elmo, train, test, static, log, progress)
    if "classify" in tasks:
        specs = [f"elmo:{layer}" for _, layer in LAYERS]
        specs += ["glove"] if any(k.startswith("glove") for k in static) else []
        specs += ["word2vec"] if word2vec else []  # the same vectors as the POS probe's
        specs += ["tfidf"]
        for name in ("finefoods", "spam"):
            tr_path, te_path = data_dir / name / "train.csv", data_dir / name / "test.csv"
            if not tr_path.is_file():
                if log:
                    log(f"skipping {name}: no {tr_path}")
                continue
            tr = read_labeled_csv(tr_path).subset(cls_train)
            te = read_labeled_csv(te_path).subset(cls_test)
            rows = [majority_baseline(tr, te)] + compare_features(
                tr,
                te,
                specs,
                log=log,
                model=elmo,
                glove=glove,
                word2vec=word2vec,
                max_tokens=max_tokens,
                tokenize="elmokit",
                progress=progress,
                C=C,
            )
            report[name] = [r.as_dict() for r in rows]
            report[f"{name}_sizes"] = {
                "train": len(tr),
                "test": len(te),
                "max_tokens": max_tokens,
                "C": C,
            }
    if "senses" in tasks:
        report["senses"] = sense_check(elmo, static, log)
    return report


def format_report(report: dict[str, Any]) -> str:
    """Markdown tables of an :func:`evaluate` report."""
    from elmokit.downstream.features import CV_FOLDS, describe_cut, format_table

    parts = [f"# elmokit evaluate: model {report['model']} (D={report['dim']})"]
    if "pos" in report:
        s = report["pos_sizes"]
        parts.append(
            f"\n## Brown POS probe (linear, frozen vectors; {s['train_sentences']} "
            f"train / {s['test_sentences']} test sentences, {s['test_tokens']} test "
            "tokens)\n"
        )
        parts.append(format_table(report["pos"]))
    for name, title in (
        ("finefoods", "Fine-food reviews (great / other)"),
        ("spam", "SpamAssassin (ham / spam)"),
    ):
        if name in report:
            s = report[f"{name}_sizes"]
            c = s.get("C", 0.1)  # reports written before C was recorded used 0.1
            how = f"C by {CV_FOLDS}-fold cross-validation" if c == "auto" else f"C {c:g}"
            parts.append(
                f"\n## {title}: logistic regression ({how}) on mean-pooled vectors "
                f"({s['train']} train / {s['test']} test; "
                f"{describe_cut(s.get('max_tokens'))}, for every feature set)\n"
            )
            parts.append(format_table(report[name]))
    if "senses" in report:
        parts.append(
            "\n## Word senses: fraction of (anchor, same-sense, other-sense) triples "
            "with the same sense closer\n"
        )
        parts.append(format_table(report["senses"]))
    return "\n".join(parts) + "\n"


__all__ = ["LAYERS", "evaluate", "format_report", "pos_probe", "sense_check", "train_linear_probe"]
