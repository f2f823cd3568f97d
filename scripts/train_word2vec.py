"""Train the word2vec baseline of `elmokit evaluate` on the same corpus as en-small.

    pip install gensim
    python scripts/train_word2vec.py data/corpus/train/*.txt -o data/word2vec.txt

Skip-gram, 100 dimensions, window 5, min count 3, lowercased tokens (GloVe is lowercased too),
written in the text format ``word v1 v2 ...`` that ``elmokit evaluate --word2vec`` reads.
"""

from __future__ import annotations

import argparse
from pathlib import Path


class Sentences:
    def __init__(self, paths: list[str]) -> None:
        self.paths = paths

    def __iter__(self):
        for path in self.paths:
            with open(path, encoding="utf-8") as handle:
                for line in handle:
                    yield line.lower().split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="+")
    parser.add_argument("-o", "--out", default="data/word2vec.txt")
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from gensim.models import Word2Vec

    model = Word2Vec(Sentences(args.corpus), vector_size=args.dim, window=5, min_count=3, sg=1,
                     workers=args.workers, epochs=args.epochs, seed=1)  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    model.wv.save_word2vec_format(args.out, binary=False, write_header=False)
    print(f"wrote {len(model.wv)} vectors of {args.dim} dims to {args.out}")


if __name__ == "__main__":
    main()
