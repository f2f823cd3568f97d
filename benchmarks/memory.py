"""Peak memory of mixed batches vs the same work one request at a time (issue 14).

Every embed_batch runs in length-sorted passes of at most ``max_padded_tokens`` padded
positions (rows x (longest + 2)), so a long sentence no longer pads every short one of its
batch. This replays the two scenarios of the issue, each in a fresh process (peak RSS =
``ru_maxrss``), and prints a table:

- library: ``embed_batch`` of N short sentences (1-8 tokens) plus one long one (500 tokens)
  in one call, vs the short ones in one call and the long one in another;
- server: the micro-batcher's merged batch, one request of a 512-token sentence plus R
  requests of 64 one-token sentences, as one ``embed_batch`` call, vs one call per request.

Target: merged / one-at-a-time <= 1.5. ``--unbounded`` adds the merged runs without a budget
(what every batch did before: 7.4 GB for the library scenario with en-small).

    python benchmarks/memory.py                                    # en-small, the issue's sizes
    python benchmarks/memory.py --model allennlp-tiny --short 400 --long 100 --requests 8
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

WORDS = "the cell phone rang . blood cells carry oxygen a mouse ran to its hole".split()


def workload(scenario: str, args) -> list[list[list[str]]]:
    """-> the requests of a scenario, each a list of token lists."""
    import random

    rng = random.Random(0)
    if scenario == "library":
        shorts = [[rng.choice(WORDS) for _ in range(rng.randint(1, 8))] for _ in range(args.short)]
        return [shorts, [[rng.choice(WORDS) for _ in range(args.long)]]]
    long_request = [[rng.choice(WORDS) for _ in range(args.server_long)]]
    return [long_request] + [[[rng.choice(WORDS)] for _ in range(64)]
                             for _ in range(args.requests)]  # fmt: skip


def child(scenario: str, how: str, args) -> dict:
    """Runs in its own process: load, warm up, embed, report peak RSS."""
    from elmokit import Elmo

    elmo = Elmo.load(args.model, mode=args.mode)
    elmo.embed_batch([["warm", "up", "."]])
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    requests = workload(scenario, args)
    start = time.perf_counter()
    if how == "one at a time":
        results = [elmo.embed_batch(request) for request in requests]
    else:
        budget = 10**12 if how == "merged, unbounded" else args.budget
        merged = [sentence for request in requests for sentence in request]
        results = elmo.embed_batch(merged, max_padded_tokens=budget)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    del results
    return {"loaded_mb": loaded, "peak_mb": peak, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="en-small")
    parser.add_argument("--mode", default="exact")
    parser.add_argument("--short", type=int, default=4000, help="library: short sentences")
    parser.add_argument("--long", type=int, default=500, help="library: tokens of the long one")
    parser.add_argument("--server-long", type=int, default=512,
                        help="server: tokens of the long request's sentence")
    parser.add_argument("--requests", type=int, default=55,
                        help="server: requests of 64 one-token sentences")
    parser.add_argument("--budget", type=int, default=None,
                        help="max_padded_tokens (default: the library default)")
    parser.add_argument("--unbounded", action="store_true",
                        help="also run the merged batches without a budget (the old behaviour; "
                             "needs ~7.5 GB with en-small at the default sizes)")
    parser.add_argument("--child", nargs=2, metavar=("SCENARIO", "HOW"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.budget is None:
        from elmokit.inference import MAX_PADDED_TOKENS

        args.budget = MAX_PADDED_TOKENS
    if args.child:
        print(json.dumps(child(*args.child, args)))
        return

    hows = ["one at a time", "merged"] + (["merged, unbounded"] if args.unbounded else [])
    passthrough = [a for a in sys.argv[1:] if a != "--unbounded"]
    print(f"# {args.model} ({args.mode}), budget {args.budget:,} padded tokens, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')}")
    print(f"# library: {args.short:,} short sentences + one of {args.long} tokens; "
          f"server: one {args.server_long}-token request + {args.requests} x 64 one-token")
    print(f"{'scenario':<9} {'run':<19} {'after load MB':>13} {'peak MB':>9} "
          f"{'x one-at-a-time':>15} {'seconds':>8}")
    worst = 0.0
    for scenario in ("library", "server"):
        baseline = None
        for how in hows:
            command = [sys.executable, __file__, *passthrough, "--child", scenario, how]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"{scenario} / {how} failed:\n{done.stderr[-3000:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            baseline = baseline or result["peak_mb"]
            ratio = result["peak_mb"] / baseline
            if how == "merged":
                worst = max(worst, ratio)
            print(f"{scenario:<9} {how:<19} {result['loaded_mb']:>13.0f} "
                  f"{result['peak_mb']:>9.0f} {ratio:>15.2f} {result['seconds']:>8.2f}")
    print(f"# worst merged / one-at-a-time: {worst:.2f} (target <= 1.5): "
          + ("OK" if worst <= 1.5 else "OVER"))


if __name__ == "__main__":
    main()
