"""Word senses with contextual vectors: "cell" (biology / prison / phone) and friends, plus
spelling neighbours for misspelled or invented words from ELMo's character layer.

    python examples/word_senses.py [--model NAME] [--corpus data/corpus/train/shard-000.txt]

1. For each built-in sense sentence, its nearest other occurrences of the word: does the top
   hit share the sense? (precision@1 per layer)
2. Nearest occurrences of "cell" in a real corpus (one tokenized sentence per line), for three
   query sentences.
3. Character-layer neighbours of "recieve", "embeddingz", "definately", "mouses" among the
   corpus vocabulary.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from elmokit import Elmo
from elmokit.downstream.neighbors import ContextIndex, WordIndex, read_sentences, vocabulary
from elmokit.downstream.senses import SENSES, sense_sentences

QUERIES = ["I lost my cell phone on the bus .", "The prisoner sat alone in his cell .",
           "Each cell has a nucleus and a membrane ."]
MISSPELLED = ["recieve", "embeddingz", "definately", "mouses"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--corpus", type=Path, default=Path("data/corpus/train/shard-000.txt"))
    ap.add_argument("--max-sentences", type=int, default=1000)
    args = ap.parse_args()
    elmo = Elmo.load(args.model)
    print(f"model {elmo.name}\n\n## 1. precision@1 of the sense of the nearest other occurrence")
    print("| layer | " + " | ".join(SENSES) + " |\n|---|" + "---|" * len(SENSES))
    for layer in (0, 1, 2, "average"):
        cells = []
        for word in SENSES:
            items = list(sense_sentences(word))
            index = ContextIndex.build(elmo, [s for _, _, s in items], {word}, layer=layer)
            sense_of = {tuple(s.split()): sense for _, sense, s in items}
            right = sum(sense_of[tuple(index.query(s, word, 1)[0].sentence)] == sense
                        for _, sense, s in items)
            cells.append(f"{right}/{len(items)}")
        print(f"| {layer} | " + " | ".join(cells) + " |")

    corpus = [args.corpus] if args.corpus.is_file() else []
    sents = read_sentences(corpus, args.max_sentences, {"cell"}) if corpus else []
    sents += [s.split() for _, _, s in sense_sentences("cell")]
    index = ContextIndex.build(elmo, sents, {"cell"}, layer="top")
    print(f"\n## 2. nearest occurrences of 'cell' ({len(index)} indexed: "
          f"{args.corpus if corpus else 'no corpus'} + the built-in sentences; top layer)")
    for q in QUERIES:
        print(f"\n{q}")
        for hit in index.query(q, "cell", 4):
            print(f"  {hit.score:.3f}  {hit.highlighted(8)}")

    vocab_src = read_sentences(corpus, 20000) if corpus else [s.split() for _, _, s in
                                                             sense_sentences()]
    words = WordIndex(elmo, vocabulary(vocab_src, 8000))
    print(f"\n## 3. character-layer neighbours among {len(words.vocab)} words")
    for w in MISSPELLED:
        print(f"  {w}: " + ", ".join(f"{n} ({s:.3f})" for n, s in words.query(w, 5)))


if __name__ == "__main__":
    main()
