"""Static word vectors from ELMo vs GloVe-50d vs a same-corpus word2vec: SimLex-999, WordSim-353
(Spearman rho) and the Google analogy set (3CosAdd accuracy), one table.

    make eval-data                                    # data/eval/wordsim, data/eval/glove
    python benchmarks/word_vectors.py                 # en-small, 20,000 corpus sentences
    python benchmarks/word_vectors.py --model allennlp-tiny --max-sentences 300 --max-analogies 500

Rows: ELMo context-free (the char-CNN vector of each word alone: every word is covered),
ELMo corpus-pooled at each ``--layers`` choice (mean contextual vector over the corpus
sentences), GloVe 6B 50d (``data/eval/glove``), and word2vec (skip-gram, 100d, window 5, as
``scripts/train_word2vec.py``) trained here by gensim on the same sentences the pooling read, or
read from ``--word2vec`` (a file that script wrote). Everything is lowercased (GloVe is). Pairs
and questions with a word a method lacks are skipped for that method; coverage is shown. The
analogy search runs over the words of the analogy set the method covers (the same candidate set
for every method), excluding the three question words.
"""

from __future__ import annotations

import argparse
import glob
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def read_pairs(path: Path) -> list[tuple[str, str, float]]:
    """SimLex / WordSim file: '#' comments, then 'word1<TAB>word2<TAB>score' lines."""
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        a, b, score = line.split("\t")[:3]
        pairs.append((a.lower(), b.lower(), float(score)))
    return pairs


def read_analogies(path: Path, limit: int | None) -> list[tuple[str, str, str, str]]:
    """questions-words.txt: ': section' headers, then 'a b c d' (a : b :: c : d)."""
    questions = [tuple(line.lower().split()) for line in path.read_text().splitlines()
                 if line and not line.startswith(":")]  # fmt: skip
    if limit and len(questions) > limit:  # an even spread over the sections
        questions = [questions[i] for i in np.linspace(0, len(questions) - 1, limit).astype(int)]
    return questions


class Table:
    """word -> unit vector lookups for one method."""

    def __init__(self, words: list[str], vectors: np.ndarray) -> None:
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.unit = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
        self.index = {}
        for i, w in enumerate(words):
            self.index.setdefault(w.lower(), i)

    def has(self, *words: str) -> bool:
        return all(w in self.index for w in words)

    def vec(self, word: str) -> np.ndarray:
        return self.unit[self.index[word]]


def similarity(table: Table, pairs) -> tuple[float, float]:
    """(Spearman rho, coverage) over the pairs the table covers."""
    from scipy.stats import spearmanr

    kept = [(a, b, s) for a, b, s in pairs if table.has(a, b)]
    if len(kept) < 3:
        return float("nan"), len(kept) / len(pairs)
    cos = [float(table.vec(a) @ table.vec(b)) for a, b, _ in kept]
    return float(spearmanr(cos, [s for *_, s in kept]).statistic), len(kept) / len(pairs)


def analogy(table: Table, questions) -> tuple[float, float]:
    """(3CosAdd accuracy, coverage); candidates: the analogy-set words the table covers."""
    vocab = sorted({w for q in questions for w in q if table.has(w)})
    if not vocab:
        return float("nan"), 0.0
    position = {w: i for i, w in enumerate(vocab)}
    matrix = np.stack([table.vec(w) for w in vocab])  # (V, D)
    kept = [q for q in questions if table.has(*q)]
    correct = 0
    for a, b, c, d in kept:
        scores = matrix @ (table.vec(b) - table.vec(a) + table.vec(c))
        scores[[position[a], position[b], position[c]]] = -np.inf
        correct += vocab[int(np.argmax(scores))] == d
    return (correct / len(kept) if kept else float("nan")), len(kept) / len(questions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="en-small")
    parser.add_argument("--corpus", nargs="*", default=None,
                        help="default: data/corpus/train/*.txt (make corpus)")
    parser.add_argument("--max-sentences", type=int, default=20000)
    parser.add_argument("--layers", default="0,1,2,average",
                        help="pooled rows: layer choices separated by ';' or ','")
    parser.add_argument("--eval-dir", type=Path, default=ROOT / "data/eval/wordsim")
    parser.add_argument("--glove-dir", type=Path, default=ROOT / "data/eval/glove")
    parser.add_argument("--word2vec", type=Path, default=None,
                        help="word2vec text file (scripts/train_word2vec.py); default: train one "
                        "here with gensim on the same sentences")
    parser.add_argument("--max-analogies", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    from elmokit import Elmo
    from elmokit.vectors import context_free_vectors, pooled_vectors

    torch.set_num_threads(args.threads)
    simlex = read_pairs(args.eval_dir / "simlex999.txt")
    wordsim = read_pairs(args.eval_dir / "wordsim353.tsv")
    questions = read_analogies(args.eval_dir / "questions-words.txt", args.max_analogies)
    eval_words = sorted({w for a, b, _ in simlex + wordsim for w in (a, b)}
                        | {w for q in questions for w in q})  # fmt: skip
    paths = args.corpus or sorted(glob.glob(str(ROOT / "data/corpus/train/*.txt")))
    if not paths:
        sys.exit("no corpus: pass --corpus FILE or run `make corpus`")
    sentences = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip() and len(line.split()) <= 80:
                    sentences.append(line.lower().split())
                if len(sentences) >= args.max_sentences:
                    break
        if len(sentences) >= args.max_sentences:
            break
    tokens = sum(len(s) for s in sentences)
    print(f"# model {args.model}; corpus: {len(sentences):,} sentences, {tokens:,} tokens "
          f"(lowercased) from {len(paths)} file(s); {len(questions):,} analogy questions",
          flush=True)  # fmt: skip

    elmo = Elmo.load(args.model)
    rows: list[tuple[str, Table, float]] = []
    start = time.perf_counter()
    cf = context_free_vectors(elmo, eval_words)
    rows.append(("ELMo context-free (char CNN)", Table(cf.words, cf.vectors),
                 time.perf_counter() - start))  # fmt: skip
    for spec in [s for s in args.layers.replace(";", ",").split(",") if s]:
        layer = int(spec) if spec.lstrip("-").isdigit() else spec
        start = time.perf_counter()
        pooled = pooled_vectors(elmo, sentences, layer, vocab=eval_words)
        rows.append((f"ELMo pooled, layer {spec}", Table(pooled.words, pooled.vectors),
                     time.perf_counter() - start))  # fmt: skip
    glove_words = (args.glove_dir / "glove.6B.50d.words.txt").read_text().split("\n")
    glove = np.load(args.glove_dir / "glove.6B.50d.npy", mmap_mode="r")
    keep = [i for i, w in enumerate(glove_words[: len(glove)]) if w in set(eval_words)]
    rows.append(("GloVe 6B 50d", Table([glove_words[i] for i in keep], np.asarray(glove[keep])),
                 0.0))  # fmt: skip
    start = time.perf_counter()
    if args.word2vec:
        w2v_words, w2v_vectors = [], []
        for line in args.word2vec.read_text(encoding="utf-8").splitlines():
            fields = line.split(" ")
            if len(fields) > 2:
                w2v_words.append(fields[0])
                w2v_vectors.append(np.asarray(fields[1:], dtype=np.float32))
        w2v = Table(w2v_words, np.stack(w2v_vectors))
        name = f"word2vec ({args.word2vec.name})"
    else:
        from gensim.models import Word2Vec

        model = Word2Vec(sentences, vector_size=100, window=5, min_count=3, sg=1,
                         workers=args.threads, epochs=3, seed=1)  # fmt: skip
        w2v = Table(list(model.wv.index_to_key), model.wv.vectors)
        name = "word2vec, same sentences (skip-gram 100d)"
    rows.append((name, w2v, time.perf_counter() - start))

    print("\n| vectors | SimLex-999 rho (cov.) | WordSim-353 rho (cov.) | analogy acc. (cov.) "
          "| s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, table, seconds in rows:
        cells = []
        for result in (similarity(table, simlex), similarity(table, wordsim),
                       analogy(table, questions)):  # fmt: skip
            cells.append(f"{result[0]:.3f} ({result[1]:.0%})")
        print(f"| {label} | {' | '.join(cells)} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
