"""Scaling of ``elmokit embed-corpus`` on Ray: 1 and 2 workers (1 thread each) vs the
single-process ``embed_file`` path (1 thread), same input, one run, one table.

    python benchmarks/scale.py                        # en-small, 20,480 sentences, workers 1,2
    python benchmarks/scale.py --sentences 2048 --workers 1,2,4 --output-format all

The input is ``benchmarks/data/sotu_sentences.txt`` (2,048 real English sentences) repeated to
``--sentences`` lines. Every path writes its output to a temp directory (HDF5, the same layout).
Ray runs locally with as many CPUs as the largest worker count; Ray's start is not timed, each
run's actor start is. ``--shard-lines`` defaults to what ``embed-corpus`` picks (64 shards
for an input under 6.4M lines: each worker writes whole shards). First, the shard writer's ceiling:
tokens/s the HDF5 shard writer alone sustains (the writing share of a worker's time; the bytes
a cluster's storage must take, see docs/scale.md). Then (``--pair``, default) two
independent ``embed_file`` processes on the two halves of the input at once, without Ray: what
any two-worker scheme can reach on this machine at best. Reported per run: wall seconds, tokens/s over the wall time, "steady"
tokens/s from the first chunk's arrival to the end (actor start and model load excluded;
chunks counted as equal in size, so approximate),
speed-up over the single process and efficiency per worker (speed-up / workers), and the
speed-up with the model load counted on both sides ("from cold": the lone process timed from
before its ``import torch`` — it runs in a fresh process — as each embed-corpus run is timed
from before its worker actors import torch and load the model). Run it on a
quiet machine: a busy one shows up as low efficiency, not as a slow embedder.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_SENTENCES = HERE / "data" / "sotu_sentences.txt"
# distinct sentences when `make corpus` has run: a repeated file would let the single process's
# word cache (kept across the whole file) hit on every word after the first pass, which a real
# corpus does not, while each Ray chunk starts from an empty cache (chunks are pure functions)
CORPUS_SENTENCES = HERE.parent / "data" / "corpus" / "train" / "shard-000.txt"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def make_input(path: Path, source: Path, sentences: int) -> int:
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    out = [lines[i % len(lines)] for i in range(sentences)]
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return sum(len(line.split()) for line in out)


def _timed_embed_file(model: str, input_path: Path | str, out: Path | str, output_format: str,
                      batch_size: int, ready: Any = None) -> tuple[float, float, float, float]:
    """``Elmo.embed_file`` with 1 torch thread -> wall-clock times (before ``import torch``,
    after the model load, at the end) and the CPU seconds this process used from the second
    to the third; ``ready()``, when given, is called between the load and the start. In a
    fresh process (spawned: torch not yet imported), the first time is "from cold"."""
    cold = time.time()
    import torch

    from elmokit import Elmo

    torch.set_num_threads(1)
    elmo = Elmo.load(model)
    if ready is not None:
        ready()
    start, cpu = time.time(), time.process_time()
    elmo.embed_file(input_path, out, output_format=output_format, batch_size=batch_size,
                    progress=False)
    return cold, start, time.time(), time.process_time() - cpu


def single_process(model: str, input_path: Path, out: Path, output_format: str,
                   batch_size: int) -> tuple[float, float, float]:
    """``Elmo.embed_file`` with 1 torch thread, in a fresh process like the others -> wall
    seconds (model load not timed), wall seconds from cold (``import torch`` and the model
    load timed too) and CPU seconds (model load not timed)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        cold, start, end, cpu = pool.apply(_timed_embed_file,
                                           (model, str(input_path), str(out), output_format,
                                            batch_size))
    return end - start, end - cold, cpu


def _pair_member(model: str, input_path: str, out: str, output_format: str, batch_size: int,
                 barrier: Any, times: Any) -> None:
    # both loaded before either starts: they embed at the same time
    times.put(_timed_embed_file(model, input_path, out, output_format, batch_size,
                                ready=barrier.wait))


def two_processes(model: str, input_path: Path, tmp: Path, output_format: str,
                  batch_size: int) -> tuple[float, float]:
    """Two independent ``embed_file`` processes (1 thread each) on the two halves of the
    input, at the same time, no Ray -> seconds from the first start to the last end, and
    their CPU seconds together. What any two-worker scheme on this machine can reach at
    best."""
    import multiprocessing

    lines = input_path.read_text(encoding="utf-8").splitlines(keepends=True)
    halves = [tmp / "half0.txt", tmp / "half1.txt"]
    halves[0].write_text("".join(lines[: len(lines) // 2]), encoding="utf-8")
    halves[1].write_text("".join(lines[len(lines) // 2:]), encoding="utf-8")
    context = multiprocessing.get_context("spawn")
    barrier, times = context.Barrier(2), context.Queue()
    procs = [context.Process(target=_pair_member, args=(model, str(half), str(tmp / f"pair{i}.hdf5"),
                                                        output_format, batch_size, barrier, times))
             for i, half in enumerate(halves)]
    for proc in procs:
        proc.start()
    spans = [times.get(timeout=3600)[1:] for _ in procs]
    for proc in procs:
        proc.join()
        if proc.exitcode:
            raise SystemExit(f"a pair process failed (exit {proc.exitcode})")
    return (max(end for _, end, _ in spans) - min(start for start, _, _ in spans),
            sum(cpu for _, _, cpu in spans))


TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat(pid: int | str) -> tuple[int, float] | None:
    """(parent pid, CPU seconds used so far) of one process (Linux /proc); None when gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def _proc_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds used so far) of every process (Linux /proc)."""
    stats = {int(name): _proc_stat(name) for name in os.listdir("/proc") if name.isdigit()}
    return {pid: stat for pid, stat in stats.items() if stat is not None}


def _process_name(pid: int) -> str:
    """A short name for a process: its program, or the Python script / module it runs."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        title = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return str(pid)
    words = [a.decode(errors="replace") for a in argv if a]
    if not words:
        return title
    if words[0].startswith("ray::") or "python" not in Path(words[0]).name:
        return Path(words[0]).name.split(" ")[0][:48]  # ray::ActorName or a binary
    script = next((w for w in words[1:] if not w.startswith("-")), "")
    return f"python {Path(script).name}"[:48]


class ProcessCpu:
    """CPU seconds of this process's descendants (Ray's daemons and workers) over a span:
    /proc sampled every 0.25 s, so a process's last quarter second before it exits is lost."""

    def __init__(self) -> None:
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.names: dict[int, str] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _descendants(self) -> dict[int, float]:
        table = _proc_table()
        tree, grew = {os.getpid()}, True
        while grew:
            grew = False
            for pid, (parent, _) in table.items():
                if parent in tree and pid not in tree:
                    tree.add(pid)
                    grew = True
        return {pid: table[pid][1] for pid in tree - {os.getpid()} if pid in table}

    def _sample(self) -> None:
        while not self.stop.wait(0.25):
            for pid, cpu in self._descendants().items():
                self.first.setdefault(pid, 0.0)  # born during the span: count from zero
                self.last[pid] = cpu
                if pid not in self.names:
                    self.names[pid] = _process_name(pid)

    def __enter__(self) -> ProcessCpu:
        self.first = self._descendants()
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()

    def seconds(self, pids: set[int] | None = None, exclude: set[int] = frozenset()) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last
                   if (pids is None or pid in pids) and pid not in exclude)

    def by_name(self, exclude: set[int] = frozenset()) -> dict[str, float]:
        """CPU seconds per process name (its command line, shortened), largest first."""
        names: dict[str, float] = {}
        for pid in self.last:
            if pid not in exclude:
                name = self.names.get(pid, str(pid))
                names[name] = names.get(name, 0.0) + self.last[pid] - self.first[pid]
        return dict(sorted(names.items(), key=lambda item: -item[1]))


def ray_run(model: str, input_path: Path, out_dir: Path, workers: int, output_format: str,
            batch_size: int, chunk_lines: int, shard_lines: int) -> dict[str, float]:
    """``embed_corpus`` with ``workers`` actors -> wall seconds, seconds after the first
    chunk, chunks, and CPU seconds of the driver, of the worker actors and of the rest of
    Ray (its daemons and helper actors)."""
    from elmokit.ray import embed_corpus

    arrivals: list[float] = []
    first_cpu: dict[int, float] = {}  # a worker's CPU seconds when its first chunk arrived

    def arrived(output: str, chunk: int, pid: int) -> None:
        arrivals.append(time.perf_counter())
        if pid not in first_cpu:
            first_cpu[pid] = (_proc_stat(pid) or (0, 0.0))[1]

    start = time.perf_counter()
    cpu_start = time.process_time()
    with ProcessCpu() as cpu:
        embed_corpus([input_path], out_dir, model=model, workers=workers, threads_per_worker=1,
                     output_format=output_format, batch_size=batch_size,
                     chunk_lines=chunk_lines, shard_lines=shard_lines, progress=False,
                     on_chunk=arrived)
        driver = time.process_time() - cpu_start
        wall = time.perf_counter() - start
    pids = set(first_cpu)
    chunks = len(arrivals)
    steady_cpu = sum(cpu.last[pid] - first_cpu[pid] for pid in pids if pid in cpu.last)
    return {"wall": wall, "steady": arrivals[-1] - arrivals[0], "chunks": chunks,
            "driver": driver, "workers": cpu.seconds(pids), "ray": cpu.seconds(exclude=pids),
            "others": cpu.by_name(exclude=pids),
            "steady_share": (chunks - len(pids)) / chunks, "steady_cpu": steady_cpu}


def writer_ceiling(out: Path, dim: int, output_format: str, sentences: int,
                   tokens_per_sentence: int) -> float:
    """Tokens/s the HDF5 shard writer + sha256 alone sustains (no embedding): each worker
    writes its own shards, so this is the writing share of a worker's time (see
    docs/scale.md)."""
    import numpy as np

    from elmokit.ray import CHUNK_LINES, _Hdf5Writer, file_sha256

    shape = (3, tokens_per_sentence, dim) if output_format == "all" else (tokens_per_sentence, dim)
    vectors = [np.random.default_rng(i).standard_normal(shape, dtype=np.float32)
               for i in range(CHUNK_LINES)]
    texts = [f"sentence {i}" for i in range(CHUNK_LINES)]
    start = time.perf_counter()
    writer = _Hdf5Writer(out, dim, first_line=0)
    for _ in range(max(1, sentences // CHUNK_LINES)):
        writer.add(texts, vectors)
    writer.finish()
    file_sha256(out)
    seconds = time.perf_counter() - start
    out.unlink()
    return max(1, sentences // CHUNK_LINES) * CHUNK_LINES * tokens_per_sentence / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="en-small")
    parser.add_argument("--sentences", type=int, default=20_480)
    parser.add_argument("--source", type=Path, default=None,
                        help="sentences, one per line (default: data/corpus/train/shard-000.txt "
                        "when present, else benchmarks/data/sotu_sentences.txt repeated)")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--output-format", default="top", choices=("all", "top", "average"))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--chunk-lines", type=int, default=256)
    parser.add_argument("--shard-lines", type=int, default=None,
                        help="lines per output shard (default: embed-corpus's own, 64 shards "
                        "for inputs under 6.4M lines)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat every run this many times, interleaved (single, pair, "
                        "Ray, single, ...), and add the medians: speed-ups on a shared VM "
                        "drift by more than the effects measured")
    parser.add_argument("--pair", action=argparse.BooleanOptionalAction, default=True,
                        help="also time two independent embed_file processes on the two "
                        "halves at once (no Ray): the ceiling of any 2-worker scheme here")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    if args.shard_lines is None:  # what embed-corpus itself picks for this input
        from elmokit.ray import auto_shard_lines

        args.shard_lines = auto_shard_lines(args.sentences, args.chunk_lines)

    import ray
    import torch

    with tempfile.TemporaryDirectory(prefix="elmokit-scale-") as tmp:
        tmp = Path(tmp)
        input_path = tmp / "input.txt"
        if args.source is None:
            args.source = CORPUS_SENTENCES if CORPUS_SENTENCES.is_file() else DEFAULT_SENTENCES
        tokens = make_input(input_path, args.source, args.sentences)
        print(f"# {args.sentences:,} sentences, {tokens:,} tokens, model {args.model}, "
              f"format {args.output_format}, batch {args.batch_size}, chunk {args.chunk_lines}, "
              f"shard {args.shard_lines:,}; "
              f"lines of {args.source.name}")
        print(f"# {cpu_name()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
              f"torch {torch.__version__}, ray {ray.__version__}, "
              f"{time.strftime('%Y-%m-%d %H:%M')}", flush=True)
        per_sentence = round(tokens / args.sentences)
        dim = _model_dim(args.model)
        ceiling = writer_ceiling(tmp / "ceiling.hdf5", dim, args.output_format, args.sentences,
                                 per_sentence)
        print(f"# shard writer alone ({args.output_format}, D={dim}, {per_sentence} tokens "
              f"per sentence): {ceiling:,.0f} tokens/s", flush=True)
        results = [one_round(args, counts, tokens, input_path, tmp, number)
                   for number in range(1, args.rounds + 1)]
    header = ("| run | workers | seconds | tokens/s | steady tokens/s (speed-up) | speed-up "
              "| speed-up from cold | per worker | tokens per CPU-second | driver CPU "
              "| workers' cores | Ray's other cores |")
    print(header)
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for number, rows in enumerate(results, 1):
        for row in rows:
            name = row["name"] + (f" (round {number})" if args.rounds > 1 else "")
            print(f"| {name} | {row['workers']} | {row['wall']:.1f} | {tokens / row['wall']:,.0f} "
                  f"| {row['steady']} | {row['speedup']:.2f}x | {row['cold']} "
                  f"| {row['per_worker']} "
                  f"| {row['per_cpu']:,.0f} | {row['driver']} | {row['cores']} "
                  f"| {row['ray']} |")
    if args.rounds > 1:
        print(f"\nmedians over {args.rounds} rounds (each speed-up against its own round's "
              "single process):\n")
        print("| run | speed-up | steady speed-up | speed-up from cold | tokens per CPU-second |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for index, row in enumerate(results[0]):
            same = [rows[index] for rows in results]
            steady = [r["steady_speedup"] for r in same if r["steady_speedup"] is not None]
            cold = [r["cold_speedup"] for r in same if r["cold_speedup"] is not None]
            print(f"| {row['name']} | {statistics.median(r['speedup'] for r in same):.2f}x "
                  f"| {f'{statistics.median(steady):.2f}x' if steady else '-'} "
                  f"| {f'{statistics.median(cold):.2f}x' if cold else '-'} "
                  f"| {statistics.median(r['per_cpu'] for r in same):,.0f} |")
    print("(speed-up: tokens/s over the wall time, vs embed_file; per worker: speed-up / "
          "workers; steady: from the first chunk's arrival, actor start excluded; from cold: "
          "the lone process timed from before its import of torch, i.e. with its model load, "
          "as embed-corpus is (its seconds in the embed_file row); tokens per "
          "CPU-second: over the embedding processes' own CPU time, model load excluded (the "
          "worker actors', every thread of them, from each one's first chunk on); driver CPU: the embed-corpus process's CPU "
          "time over the wall time; workers' cores: CPU seconds of the worker actors over the "
          "wall time (cores they got on average); Ray's other cores: the same for every other "
          "process Ray runs (raylet, GCS, agents, Ray Data's helper actors))")


def one_round(args: argparse.Namespace, counts: list[int], tokens: int, input_path: Path,
              tmp: Path, number: int) -> list[dict[str, Any]]:
    """One of each run, in order: embed_file, the no-Ray pair, embed-corpus with each worker
    count (a local Ray started for them, its start not timed) -> table rows."""
    import ray

    base, base_cold, base_cpu = single_process(args.model, input_path, tmp / "single.hdf5",
                                               args.output_format, args.batch_size)
    rows = [{"name": "embed_file (1 process)", "workers": "-", "wall": base, "steady": "-",
             "steady_speedup": None, "speedup": 1.0, "cold": f"{base_cold:.1f} s",
             "cold_speedup": None, "per_worker": "-",
             "per_cpu": tokens / base_cpu, "driver": "-", "cores": "-", "ray": "-"}]
    print(f"# round {number}: embed_file in {base:.1f}s ({base_cold:.1f}s from cold)",
          file=sys.stderr, flush=True)
    if args.pair:
        pair, pair_cpu = two_processes(args.model, input_path, tmp, args.output_format,
                                       args.batch_size)
        rows.append({"name": "2 x embed_file at once, no Ray (the 2-process ceiling)",
                     "workers": "2", "wall": pair, "steady": "-", "steady_speedup": None,
                     "cold": "-", "cold_speedup": None,
                     "speedup": base / pair, "per_worker": f"{base / pair / 2:.0%}",
                     "per_cpu": tokens / pair_cpu, "driver": "-",
                     "cores": f"{pair_cpu / pair:.2f}", "ray": "-"})
        print(f"# round {number}: 2 x embed_file in {pair:.1f}s", file=sys.stderr, flush=True)
    ray.init(num_cpus=max(counts), include_dashboard=False, log_to_driver=False,
             object_store_memory=max(200, 100 * max(counts)) * 1024**2)
    try:
        for workers in counts:
            out_dir = tmp / f"ray{workers}-{number}"
            run = ray_run(args.model, input_path, out_dir, workers, args.output_format,
                          args.batch_size, args.chunk_lines, args.shard_lines)
            shutil.rmtree(out_dir)
            wall, steady, chunks = run["wall"], run["steady"], run["chunks"]
            steady_rate = (tokens * (chunks - 1) / chunks) / steady if steady > 0 else 0.0
            speedup = base / wall
            rows.append({"name": f"embed-corpus, {workers} worker(s)", "workers": str(workers),
                         "wall": wall,
                         "steady": f"{steady_rate:,.0f} ({steady_rate / (tokens / base):.2f}x)",
                         "steady_speedup": steady_rate / (tokens / base), "speedup": speedup,
                         "cold": f"{base_cold / wall:.2f}x", "cold_speedup": base_cold / wall,
                         "per_worker": f"{speedup / workers:.0%}",
                         "per_cpu": tokens * run["steady_share"] / run["steady_cpu"],
                         "driver": f"{run['driver'] / wall:.0%}",
                         "cores": f"{run['workers'] / wall:.2f}",
                         "ray": f"{run['ray'] / wall:.2f}"})
            print(f"# round {number}: {workers} worker(s) in {wall:.1f}s", file=sys.stderr,
                  flush=True)
            top = ", ".join(f"{name} {seconds:.1f}" for name, seconds
                            in list(run["others"].items())[:6])
            print(f"# round {number}, {workers} worker(s): Ray's other processes, CPU "
                  f"seconds: {top}", flush=True)
    finally:
        ray.shutdown()
    return rows


def _model_dim(model: str) -> int:
    from elmokit import hub
    from elmokit.config import ElmoConfig

    return ElmoConfig.from_file(hub.resolve(model)[0]).output_dim


if __name__ == "__main__":
    main()
