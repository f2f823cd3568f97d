"""Training throughput (tokens/s) next to the ceiling the machine's measured GEMM rate allows.

    python benchmarks/train_throughput.py                       # small + cpu-small, 2 threads
    python benchmarks/train_throughput.py --configs tiny --steps 5 --threads 1
    python benchmarks/train_throughput.py --configs cpu-small --bf16   # fp32 and bf16 rows

For each config: a full training step of ``elmokit train`` (char CNN on the batch's distinct
words, forward and backward LMs, sampled softmax, backward pass, Adagrad, clipping) at batch
64 x 20 on real English sentences (``data/corpus/valid.txt`` when present, else
``benchmarks/data/sotu_sentences.txt``), timed over ``--steps`` steps after 2 warm-up steps.
With ``--bf16`` every config also runs under bf16 autocast (as ``elmokit train --bf16``), and
its row shows the bf16 GEMM rate, the bf16 ceiling, and its speed relative to the fp32 row.
Right before each row the GEMM rate of its dtype is measured on the step's own GEMM shapes;
the ceiling is that rate divided by the step's FLOPs per token (multiply-adds x 2, backward =
2 x forward), so a busy machine shows up as a low GEMM rate rather than as a slow step.
Tokens are input positions of one direction (B x T per step), as ``elmokit train`` counts them.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from elmokit.runtime import tune_malloc
from elmokit.training.data import BatchStream
from elmokit.training.model import LanguageModel, resolve_config
from elmokit.training.vocab import build_vocabulary

HERE = Path(__file__).resolve().parent
CORPORA = [HERE.parent / "data" / "corpus" / "valid.txt", HERE / "data" / "sotu_sentences.txt"]


def step_macs(config, batch: int, unroll: int, n_negative: int, unique_words: int) -> dict:
    """Forward multiply-adds of one training step, by part."""
    cnn, lstm = config.char_cnn, config.lstm
    chars = cnn.max_characters_per_token
    F, P, C = cnn.n_filters, lstm.projection_dim, lstm.dim
    per_word = sum(num * width * cnn.embedding_dim * (chars - width + 1) for width, num in cnn.filters)
    per_word += cnn.n_highway * F * 2 * F + F * P
    tokens = batch * unroll  # per direction
    # every layer's input is P wide (the char CNN projects to P); 2 directions
    lstm_macs = lstm.n_layers * 2 * tokens * (4 * C * (P + P) + C * P)
    softmax = 2 * tokens * (n_negative + 1) * P
    return {"char_cnn": unique_words * per_word, "lstm": lstm_macs, "softmax": softmax}


def gemm_gflops(shapes: list[tuple[int, int, int]], seconds: float = 1.0,
                dtype: torch.dtype = torch.float32) -> float:  # fmt: skip
    """GFLOP/s over the given (m, k, n) shapes in ``dtype``, best of a few rounds."""
    mats = [(torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)) for m, k, n in shapes]
    flops = sum(2 * m * k * n for m, k, n in shapes)
    best = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        for a, b in mats:
            torch.mm(a, b)
        best = max(best, flops / (time.perf_counter() - start) / 1e9)
    return best


def run(config_name: str, corpus: Path, steps: int, batch: int, unroll: int, n_negative: int,
        bf16: bool = False):  # fmt: skip
    config = resolve_config(config_name)
    vocab, _ = build_vocabulary([str(corpus)], max_size=50000)
    torch.manual_seed(0)
    lm = LanguageModel(config, len(vocab), n_negative=n_negative)
    lm.init_weights()
    lm.train()
    optimizer = torch.optim.Adagrad(lm.parameters(), lr=0.2, initial_accumulator_value=1.0)
    stream = BatchStream([corpus], vocab, batch, unroll, seed=0)
    state = lm.zero_state(batch)
    P, C = config.lstm.projection_dim, config.lstm.dim
    dtype = torch.bfloat16 if bf16 else torch.float32
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
    gemm = gemm_gflops([(batch * unroll, P, 4 * C), (batch, P, 4 * C), (batch, C, P),
                        (2 * batch * unroll, P, n_negative // 2)], dtype=dtype)  # fmt: skip
    uniques, elapsed = [], 0.0
    for i in range(steps + 2):
        data = next(stream)
        start = time.perf_counter()
        with autocast:
            hidden, state = lm(data, state)
            loss, _, _ = lm.loss(hidden, data.targets, data.weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lm.parameters(), 10.0)
        optimizer.step()
        if i >= 2:
            elapsed += time.perf_counter() - start
            uniques.append(data.chars.shape[0])
    unique = sum(uniques) / len(uniques)
    macs = step_macs(config, batch, unroll, n_negative, round(unique))
    flops_per_token = 3 * 2 * sum(macs.values()) / (batch * unroll)
    tokens_per_s = steps * batch * unroll / elapsed
    ceiling = gemm * 1e9 / flops_per_token
    return {"config": config_name, "dtype": "bf16" if bf16 else "fp32", "vocab": len(vocab), "tok/s": tokens_per_s, "gemm": gemm,
            "mflop/tok": flops_per_token / 1e6, "ceiling": ceiling,
            "share": {k: v / sum(macs.values()) for k, v in macs.items()}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default="small,cpu-small")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--bf16", action="store_true", help="also run each config in bf16")
    parser.add_argument("--unroll", type=int, default=20)
    parser.add_argument("--n-negative", type=int, default=4096)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tune_malloc("train")  # as elmokit train does
    corpus = next(c for c in CORPORA if c.is_file())
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{args.threads} threads, batch {args.batch_size} x {args.unroll}, "
          f"{args.n_negative} negatives, corpus {corpus.name}")  # fmt: skip
    print(f"{'config':>10} {'dtype':>5} {'tok/s':>8} {'GEMM GFLOP/s':>13} {'MFLOP/tok':>10} "
          f"{'ceiling tok/s':>14} {'% ceiling':>10} {'vs fp32':>8}  MACs: cnn/lstm/softmax")  # fmt: skip
    for name in args.configs.split(","):
        fp32 = None
        for bf16 in (False, True) if args.bf16 else (False,):
            r = run(name, corpus, args.steps, args.batch_size, args.unroll, args.n_negative, bf16)
            fp32 = fp32 or r["tok/s"]
            share = "/".join(f"{100 * v:.0f}%" for v in r["share"].values())
            print(f"{name:>10} {r['dtype']:>5} {r['tok/s']:8.0f} {r['gemm']:13.1f} "
                  f"{r['mflop/tok']:10.1f} {r['ceiling']:14.0f} "
                  f"{100 * r['tok/s'] / r['ceiling']:9.0f}% {r['tok/s'] / fp32:7.2f}x  {share}",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
