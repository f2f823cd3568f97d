"""t-SNE maps of ELMo vectors: reviews coloured by label, Brown words coloured by POS.

    python examples/plot_embeddings.py [--model NAME] [--out docs/img] [--html out]

Writes PNGs (for the docs) and interactive HTML pages with hover text. The same plots come
from the command line: ``elmokit plot data/eval/finefoods/test.csv -o out/reviews`` and
``elmokit plot data/eval/brown/test.jsonl -o out/pos``.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
from pathlib import Path

from elmokit import Elmo
from elmokit.downstream.data import find_eval_file, read_brown, read_labeled_csv
from elmokit.downstream.plots import plot_sentences, plot_words


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--out", type=Path, default=Path("docs/img"))
    ap.add_argument("--html", type=Path, default=Path("out"))
    ap.add_argument("--reviews", type=int, default=600)
    ap.add_argument("--tokens", type=int, default=2000)
    args = ap.parse_args()
    elmo = Elmo.load(args.model)
    tag = elmo.name.replace("/", "_")
    jobs = []
    reviews = find_eval_file("finefoods/test.csv")
    if reviews:
        data = read_labeled_csv(reviews).subset(args.reviews)
        jobs.append(("reviews", lambda out: plot_sentences(
            elmo, data.texts, data.labels, out, title=f"{len(data)} fine-food reviews: mean "
            f"ELMo vector ({elmo.name}, layer average), t-SNE")))
    brown = find_eval_file("brown/test.jsonl")
    if brown:
        sents = list(itertools.islice(read_brown(brown), args.tokens // 10))
        for layer in (0, 2):
            jobs.append((f"pos_layer{layer}", lambda out, layer=layer: plot_words(
                elmo, sents, out, layer=layer, max_points=args.tokens,
                title=f"Brown test tokens by POS: ELMo layer {layer} ({elmo.name}), t-SNE")))
    for name, job in jobs:
        files = job(args.html / f"{name}_{tag}")
        for f in files:
            if f.suffix == ".png":
                args.out.mkdir(parents=True, exist_ok=True)
                dest = args.out / f.name
                shutil.copyfile(f, dest)
                print(f"wrote {dest}")
            else:
                print(f"wrote {f} ({f.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
