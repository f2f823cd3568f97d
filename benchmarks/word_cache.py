"""What the word cache and the batching window are worth to a chunked embedder (embed-corpus's
worker loop, in one process, no Ray): tokens per CPU-second with the cache cleared at every
shard (the pre-2cd56a6 worker), kept across shards (now, with batch-invariant words), and
with 256- vs 512-line batching windows.

    python benchmarks/word_cache.py                                  # 7,680 lines, 768-line shards
    python benchmarks/word_cache.py --sentences 20480 --shard-lines 2560 --rounds 5

Input: distinct lines of the training corpus (``data/corpus/train/shard-001.txt``, from
``make corpus``), else ``benchmarks/data/sotu_sentences.txt`` repeated (a repeated file
flatters a kept cache). 1 torch thread; the variants alternate within each round (this VM
drifts by up to ±15% within minutes) and the table gives medians. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent / "data" / "corpus" / "train" / "shard-001.txt"
FALLBACK = HERE / "data" / "sotu_sentences.txt"


def read_lines(count: int) -> tuple[list[list[str]], str]:
    source = CORPUS if CORPUS.exists() else FALLBACK
    lines = [line.split() for line in source.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line]
    return [lines[i % len(lines)] for i in range(count)], source.name


def run(elmo, lines: list[list[str]], shard: int, window: int, clear: str, batch: int) -> float:
    """Embed ``lines`` shard by shard in ``window``-line chunks -> tokens per CPU-second.
    ``clear``: "shard" (cache cleared at each shard's start) or "never" (kept; cleared once
    before the run, so no variant starts warm)."""
    engine = elmo.engine
    engine.cache.clear()
    cpu = time.process_time()
    for start in range(0, len(lines), shard):
        if clear == "shard":
            engine.cache.clear()
        part = lines[start : start + shard]
        for c in range(0, len(part), window):
            chunk = part[c : c + window]
            list(elmo.embed_sentences(chunk, batch, bucket_batches=math.ceil(len(chunk) / batch)))
    return sum(map(len, lines)) / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="en-small")
    parser.add_argument("--sentences", type=int, default=7680)
    parser.add_argument("--shard-lines", type=int, default=768)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import torch

    from elmokit import Elmo

    torch.set_num_threads(1)
    elmo = Elmo.load(args.model, stateful=False)
    invariant = elmo.engine.enable_word_invariance()
    lines, source = read_lines(args.sentences)
    print(f"# {len(lines):,} lines of {source}, {sum(map(len, lines)):,} tokens, "
          f"shards of {args.shard_lines}, batch {args.batch_size}, model {args.model}, "
          f"batch-invariant words: {invariant}, torch {torch.__version__}")  # fmt: skip
    variants = [("cleared per shard", 256, "shard"), ("cleared per shard", 512, "shard"),
                ("kept across shards", 256, "never"), ("kept across shards", 512, "never")]  # fmt: skip
    results: dict[tuple, list[float]] = {v: [] for v in variants}
    for number in range(args.rounds):
        for variant in variants:
            rate = run(elmo, lines, args.shard_lines, variant[1], variant[2], args.batch_size)
            results[variant].append(rate)
            print(f"# round {number + 1}: cache {variant[0]}, window {variant[1]}: "
                  f"{rate:,.0f} tokens per CPU-second", flush=True)  # fmt: skip
    base = statistics.median(results[variants[0]])
    print("\n| word cache | window | tokens per CPU-second (median) | vs cleared, 256 |")
    print("| --- | ---: | ---: | ---: |")
    for variant in variants:
        median = statistics.median(results[variant])
        print(f"| {variant[0]} | {variant[1]} | {median:,.0f} | {median / base:.2f}x |")


if __name__ == "__main__":
    main()
