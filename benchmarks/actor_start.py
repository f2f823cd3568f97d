"""Where ``elmokit embed-corpus`` spends its fixed seconds on Ray: how long a worker actor
takes to be ready, what an idle Ray worker process costs, and whether preloading torch into
Ray's idle workers (Ray's ``preload_python_modules``) would shorten a local run.

    python benchmarks/actor_start.py                 # en-small, 2 CPUs, 2 rounds
    python benchmarks/actor_start.py --sentences 4096 --rounds 3

1. Actor ready: seconds from asking for two ``ShardEmbedWriter`` actors (1 CPU each, as
   ``embed_corpus`` does) to both answering, on a local Ray that has been up for a few seconds;
   then the same on a Ray started with ``preload_python_modules = [torch, elmokit.ray]``.
2. Idle cost: share of a core an idle actor process uses (Ray's own threads), over 20 s.
3. End to end: ``embed_corpus`` on ``--sentences`` lines starting its own local Ray (what the
   command does without ``--ray-address``), without and with the preload (alternating).

Run it on a quiet machine (training paused).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PRELOAD = {"preload_python_modules": ["torch", "elmokit.ray"]}
CORPUS = HERE.parent / "data" / "corpus" / "train" / "shard-000.txt"
FALLBACK = HERE / "data" / "sotu_sentences.txt"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def actor_ready(model: str, preload: bool, rounds: int) -> dict:
    """Seconds until two ShardEmbedWriter actors are ready (per round, new actors each time),
    and the idle core share of one actor process."""
    import ray

    from elmokit.ray import ShardEmbedWriter, model_identity

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             _system_config=PRELOAD if preload else None)
    try:
        time.sleep(8)  # Ray up for a while: its prestarted workers are idle (and preloaded)
        sha = model_identity(model)["model_sha256"]
        remote = ray.remote(num_cpus=1)(ShardEmbedWriter)
        seconds, idle = [], None
        with tempfile.TemporaryDirectory() as out:
            for _ in range(rounds):
                start = time.perf_counter()
                actors = [remote.remote(model, "top", "exact", 1, "text", 64, sha, out)
                          for _ in range(2)]
                ray.get([a.__ray_ready__.remote() for a in actors])
                seconds.append(time.perf_counter() - start)
                if idle is None:
                    pid = ray.get(actors[0].__ray_call__.remote(lambda self: self.pid))
                    before, t0 = _cpu_seconds(pid), time.perf_counter()
                    time.sleep(20)
                    idle = (_cpu_seconds(pid) - before) / (time.perf_counter() - t0)
                for actor in actors:
                    ray.kill(actor)
                time.sleep(3)
        return {"ready_s": seconds, "idle_core_share": idle}
    finally:
        ray.shutdown()


def _end_to_end_child(model: str, input_path: str, out: str, preload: bool) -> None:
    import ray

    from elmokit.ray import embed_corpus

    if preload:  # the local Ray embed_corpus starts, with the preload added
        original = ray.init

        def init(*args, **kwargs):
            kwargs.setdefault("_system_config", PRELOAD)
            return original(*args, **kwargs)

        ray.init = init
    start = time.perf_counter()
    embed_corpus([input_path], out, model=model, workers=2, output_format="top", progress=False)
    print(json.dumps({"seconds": time.perf_counter() - start}))


def end_to_end(model: str, sentences: int, preload: bool, tmp: Path, number: int) -> float:
    """``embed_corpus`` starting its own Ray, in a fresh process -> seconds (the run only)."""
    source = CORPUS if CORPUS.is_file() else FALLBACK
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    input_path = tmp / "input.txt"
    input_path.write_text("\n".join(lines[i % len(lines)] for i in range(sentences)) + "\n",
                          encoding="utf-8")
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); "
            "from actor_start import _end_to_end_child; "
            "_end_to_end_child(*sys.argv[1:4], sys.argv[4] == '1')")
    done = subprocess.run(
        [sys.executable, "-c", code, model, str(input_path), str(tmp / f"out{number}"),
         "1" if preload else "0"],
        check=True, capture_output=True, text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="en-small")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sentences", type=int, default=4096)
    args = parser.parse_args()

    import ray
    import torch

    sys.path.insert(0, str(HERE))
    from scale import cpu_name

    print(f"# {cpu_name()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, torch {torch.__version__}, ray {ray.__version__}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}", flush=True)
    print("| Ray started with | 2 actors ready (s, per round) | idle actor process, core share |")
    print("| --- | ---: | ---: |")
    for preload in (False, True):
        got = actor_ready(args.model, preload, args.rounds)
        name = "preload_python_modules torch, elmokit.ray" if preload else "defaults"
        print(f"| {name} | {' / '.join(f'{s:.2f}' for s in got['ready_s'])} "
              f"| {got['idle_core_share']:.2%} |", flush=True)
    print(f"\n| embed_corpus starting its own Ray, {args.sentences:,} sentences, 2 workers "
          "| seconds (per round) |")
    print("| --- | ---: |")
    times: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="elmokit-actor-start-") as tmp:
        for number in range(args.rounds):
            for preload in (False, True):
                times[preload].append(end_to_end(args.model, args.sentences, preload,
                                                 Path(tmp), 2 * number + preload))
    for preload in (False, True):
        name = "with preload_python_modules" if preload else "as shipped (no preload)"
        print(f"| {name} | {' / '.join(f'{s:.1f}' for s in times[preload])} |")


if __name__ == "__main__":
    main()
