"""Learning curve of training runs: tokens seen vs validation perplexity vs the Brown POS probe.

    python benchmarks/learning_curve.py /work/runs/pilot-small /work/runs/pilot-medium
    python benchmarks/learning_curve.py RUN_DIR --snapshots      # every RUN_DIR/snapshots/*.pt
    python benchmarks/learning_curve.py src/elmokit/models/en-small --json curve.json

Each argument is a training run folder (its ``checkpoint.pt``), a checkpoint file, or an exported
model folder (``options.json`` + ``weights.hdf5`` + ``softmax.hdf5`` + ``vocab.txt``). For each:
the mean of forward and backward perplexity on the held-out documents (``--valid``, default
``data/corpus/valid.txt``; full softmax), and the Brown POS linear probe on the layer average
(``elmokit evaluate``'s probe and sample: ``--pos-train`` / ``--pos-test`` sentences of
``data/eval/brown``), with the share right on words unseen in the probe's training sentences.
Needs ``make corpus`` and ``make eval-data``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from elmokit import Elmo
from elmokit.downstream.data import read_brown
from elmokit.downstream.evaluate import pos_probe
from elmokit.training.checkpoint import (
    export_model,
    load_checkpoint,
    load_pretrained,
    model_from_checkpoint,
)
from elmokit.training.evaluate import perplexity
from elmokit.training.vocab import Vocabulary


def load(path: Path):
    """-> (LanguageModel, Vocabulary, tokens seen or None, training seconds or None)."""
    if (path / "options.json").is_file() and not (path / "checkpoint.pt").is_file():
        vocab = Vocabulary.load(path / "vocab.txt")
        lm, _, _ = load_pretrained(str(path), vocab)
        return lm, vocab, None, None
    ckpt = load_checkpoint(path)
    lm, vocab = model_from_checkpoint(ckpt)
    return lm, vocab, ckpt["tokens"], ckpt["elapsed"]


def pos_sample(data_dir: Path, n_train: int, n_test: int):
    """The same sample as ``elmokit evaluate`` (seeded, sentences of at most 60 tokens)."""
    rng = np.random.default_rng(0)

    def sample(file: Path, n: int):
        sents = [s for s in read_brown(file) if len(s) <= 60]
        return [sents[i] for i in sorted(rng.permutation(len(sents))[:n])]

    return sample(data_dir / "train.jsonl", n_train), sample(data_dir / "test.jsonl", n_test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--snapshots", action="store_true",
                        help="evaluate every RUN/snapshots/*.pt of each run folder too")
    parser.add_argument("--valid", default="data/corpus/valid.txt")
    parser.add_argument("--brown", type=Path, default=Path("data/eval/brown"))
    parser.add_argument("--pos-train", type=int, default=1000)
    parser.add_argument("--pos-test", type=int, default=400)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--offset-tokens", type=int, default=0,
                        help="add to the tokens of these runs (a run initialised from another "
                             "run's checkpoint: the tokens that one had seen)")
    parser.add_argument("--merge", type=Path, nargs="*", default=[],
                        help="rows of earlier runs of this script (--json files) to put in the "
                             "plot with these")
    parser.add_argument("--history", type=Path,
                        help="a --json file of earlier rows kept in the repository (e.g. "
                             "benchmarks/results/en-small-learning-curve.json): plotted with "
                             "these, and these rows are appended to it")
    parser.add_argument("--plot", type=Path, help="write a PNG: tokens vs perplexity and POS")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    paths = []
    for p in args.paths:
        if args.snapshots and (p / "snapshots").is_dir():
            paths += sorted((p / "snapshots").glob("*.pt"), key=lambda f: f.stat().st_mtime)
        paths.append(p)
    train_sents, test_sents = pos_sample(args.brown, args.pos_train, args.pos_test)
    print(f"# valid {args.valid}; Brown POS probe {len(train_sents)} / {len(test_sents)} "
          f"sentences, layer average; torch {torch.__version__}, {args.threads} threads")
    print(f"{'run':<40} {'tokens':>12} {'hours':>6} {'valid ppl':>10} {'fwd':>8} {'bwd':>8} "
          f"{'POS avg':>8} {'unseen':>7}")
    rows = []
    for path in paths:
        start = time.perf_counter()
        lm, vocab, tokens, elapsed = load(path)
        lm.eval()
        with torch.no_grad():
            ppl = perplexity(lm, vocab, [args.valid])
        with tempfile.TemporaryDirectory() as tmp:
            export_model(lm, vocab, tmp)
            elmo = Elmo.load(tmp)
            pos = pos_probe(elmo, train_sents, test_sents, {})
        avg = next(r for r in pos if r["features"] == "elmo average")
        if tokens is not None:
            tokens += args.offset_tokens
        row = {"run": str(path), "tokens": tokens, "hours": elapsed and elapsed / 3600,
               "valid_ppl": ppl["mean"], "fwd_ppl": ppl["forward"], "bwd_ppl": ppl["backward"],
               "pos_average": avg["accuracy"], "pos_unseen": avg["unseen_accuracy"],
               "pos_by_layer": {r["features"]: r["accuracy"] for r in pos}}
        rows.append(row)
        hours = f"{row['hours']:.2f}" if row["hours"] is not None else "-"
        tok = f"{tokens:,}" if tokens is not None else "-"
        print(f"{str(path)[-40:]:<40} {tok:>12} {hours:>6} {row['valid_ppl']:10.1f} "
              f"{row['fwd_ppl']:8.1f} {row['bwd_ppl']:8.1f} {row['pos_average']:8.4f} "
              f"{row['pos_unseen']:7.4f}   ({time.perf_counter() - start:.0f} s)", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    if args.history:
        earlier = json.loads(args.history.read_text()) if args.history.is_file() else []
        args.history.write_text(json.dumps(earlier + rows, indent=1) + "\n")
        rows = earlier + rows
    if args.plot:
        for extra in args.merge:
            rows += json.loads(extra.read_text())
        plot(rows, args.plot)


def plot(rows: list[dict], png: Path) -> None:
    """Tokens seen (x) vs validation perplexity (left) and POS probe accuracy (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted((r for r in rows if r["tokens"]), key=lambda r: r["tokens"])
    x = [r["tokens"] / 1e6 for r in rows]
    fig, left = plt.subplots(figsize=(7, 4))
    left.plot(x, [r["valid_ppl"] for r in rows], "o-", color="tab:blue")
    left.set_xlabel("training tokens seen (millions)")
    left.set_ylabel("validation perplexity (mean fwd/bwd)", color="tab:blue")
    right = left.twinx()
    right.plot(x, [r["pos_average"] for r in rows], "s--", color="tab:orange")
    right.set_ylabel("Brown POS probe accuracy (layer average)", color="tab:orange")
    left.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
