"""Sentence vectors ("double averaging" and friends) and saving them for deployment.

    python examples/sentence_vectors.py [--model NAME] [--n 200] [--out out/embeddings]

Embeds fine-food reviews (data/eval/finefoods/test.csv, from scripts/fetch_eval_data.py;
a few built-in sentences if absent) with three layer choices, prints similarities of a few
sentences, and saves / reloads the vectors as .npz, .h5 and .parquet (no pickle).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from elmokit import Elmo
from elmokit.downstream.data import find_eval_file, read_labeled_csv
from elmokit.downstream.pooling import load_embeddings, save_embeddings

PAIRS = ["The coffee tastes great and arrived fresh .",
         "Delicious coffee , very fresh , I love it .",
         "The cookies were stale and the box was broken .",
         "The prisoner was locked in his cell ."]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--out", type=Path, default=Path("out/embeddings"))
    args = ap.parse_args()
    elmo = Elmo.load(args.model)
    print(f"model {elmo.name}: D={elmo.dim}, {elmo.num_layers} layers")

    for layer in ("average", 2, [0.2, 0.3, 0.5]):
        X = elmo.sentence_vectors(PAIRS, layer=layer)
        Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
        sims = Xn[0] @ Xn[1:].T
        print(f"layer={layer!s:16} shape {X.shape}; cos(s0, s1..s3) = "
              + ", ".join(f"{s:.3f}" for s in sims))

    path = find_eval_file("finefoods/test.csv")
    data = read_labeled_csv(path).subset(args.n) if path else None
    texts = data.texts if data else PAIRS
    labels = data.labels if data else ["?"] * len(PAIRS)
    start = time.perf_counter()
    X = elmo.sentence_vectors(texts, layer="average", max_tokens=64)
    secs = time.perf_counter() - start
    print(f"\n{len(texts)} reviews -> {X.shape} in {secs:.1f} s ({len(texts) / secs:.0f} texts/s)")
    meta = {"model": elmo.name, "layer": "average", "pooling": "mean", "max_tokens": 64}
    for suffix in (".npz", ".h5", ".parquet"):
        p = save_embeddings(args.out.with_suffix(suffix), X, texts, labels, meta)
        back = load_embeddings(p)
        same = np.array_equal(back["vectors"], X) and back["texts"] == list(texts)
        print(f"  {p}: {p.stat().st_size:,} bytes, round trip exact: {same}, "
              f"metadata {back['metadata']}")


if __name__ == "__main__":
    main()
