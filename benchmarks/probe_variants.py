"""Do the warm start state (issue: bundled model) or fast mode (issue: fast inference) change
the downstream probes? Runs ``elmokit evaluate``'s tasks on one model in several variants.

    python benchmarks/probe_variants.py --model en-small --json out/probe_variants.json

Variants: ``exact`` (zero start state), ``exact+warm`` (every sentence starts from the state
left after reading the model's ``burn_in.txt``, still stateless), ``fast`` (bf16 LSTM; int8 on
CPUs without bf16 units), ``int8`` (int8 LSTM products).
Needs ``data/eval`` (``make eval-data``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from elmokit import Elmo, hub
from elmokit.downstream.evaluate import evaluate, format_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="en-small")
    parser.add_argument("--data-dir", default="data/eval")
    parser.add_argument("--tasks", default="pos,classify,senses")
    parser.add_argument("--variants", default="exact,exact+warm,fast")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    burn_in_path = hub.resolve(args.model)[0].parent / "burn_in.txt"
    reports = {}
    for variant in args.variants.split(","):
        mode = variant.split("+")[0]
        elmo = Elmo.load(args.model, mode=mode, warm_start=False)
        if variant.endswith("+warm"):
            elmo.set_warm_state(burn_in_path.read_text(encoding="utf-8").splitlines())
        elmo.name = f"{args.model} [{variant}]"
        start = time.perf_counter()
        reports[variant] = evaluate(elmo, data_dir=args.data_dir, tasks=args.tasks.split(","))
        print(format_report(reports[variant]))
        print(f"({variant}: {time.perf_counter() - start:.0f} s)\n", flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(reports, indent=2, default=str))


if __name__ == "__main__":
    main()
