"""Scaling of ``elmokit embed-corpus`` on Ray: 1 and 2 workers (1 thread each) vs the
single-process ``embed_file`` path (1 thread), same input, one run, one table.

    python benchmarks/scale.py                        # en-small, 20,480 sentences, workers 1,2
    python benchmarks/scale.py --sentences 2048 --workers 1,2,4 --output-format all

The input is ``benchmarks/data/sotu_sentences.txt`` (2,048 real English sentences) repeated to
``--sentences`` lines. Every path writes its output to a temp directory (HDF5, the same layout).
Ray runs locally with as many CPUs as the largest worker count; Ray's start is not timed, each
run's actor start is. First, the driver's write ceiling: tokens/s the HDF5 shard writer alone
sustains (the cap on a cluster's throughput, see docs/scale.md). Reported per run: wall seconds, tokens/s over the wall time, "steady"
tokens/s from the first chunk's arrival to the end (actor start and model load excluded;
chunks counted as equal in size, so approximate),
speed-up over the single process and efficiency per worker (speed-up / workers). Run it on a
quiet machine: a busy one shows up as low efficiency, not as a slow embedder.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

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


def single_process(model: str, input_path: Path, out: Path, output_format: str,
                   batch_size: int) -> float:
    """``Elmo.embed_file`` with 1 torch thread -> seconds (model load not timed)."""
    import torch

    from elmokit import Elmo

    torch.set_num_threads(1)
    elmo = Elmo.load(model)
    start = time.perf_counter()
    elmo.embed_file(input_path, out, output_format=output_format, batch_size=batch_size,
                    progress=False)
    return time.perf_counter() - start


def ray_run(model: str, input_path: Path, out_dir: Path, workers: int, output_format: str,
            batch_size: int, chunk_lines: int, shard_lines: int) -> tuple[float, float, int, float]:
    """``embed_corpus`` with ``workers`` actors -> (wall seconds, seconds after the first
    chunk, chunks, the driver process's CPU seconds)."""
    from elmokit.ray import embed_corpus

    arrivals: list[float] = []
    start = time.perf_counter()
    cpu_start = time.process_time()
    embed_corpus([input_path], out_dir, model=model, workers=workers, threads_per_worker=1,
                 output_format=output_format, batch_size=batch_size, chunk_lines=chunk_lines,
                 shard_lines=shard_lines, progress=False,
                 on_chunk=lambda output, chunk, pid: arrivals.append(time.perf_counter()))
    wall = time.perf_counter() - start
    return wall, arrivals[-1] - arrivals[0], len(arrivals), time.process_time() - cpu_start


def writer_ceiling(out: Path, dim: int, output_format: str, sentences: int,
                   tokens_per_sentence: int) -> float:
    """Tokens/s the driver alone can write (HDF5 shard writer + sha256, no embedding): the cap
    on a cluster's throughput however many workers it has (see docs/scale.md)."""
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
    parser.add_argument("--shard-lines", type=int, default=100_000)
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]

    import ray
    import torch

    with tempfile.TemporaryDirectory(prefix="elmokit-scale-") as tmp:
        tmp = Path(tmp)
        input_path = tmp / "input.txt"
        if args.source is None:
            args.source = CORPUS_SENTENCES if CORPUS_SENTENCES.is_file() else DEFAULT_SENTENCES
        tokens = make_input(input_path, args.source, args.sentences)
        print(f"# {args.sentences:,} sentences, {tokens:,} tokens, model {args.model}, "
              f"format {args.output_format}, batch {args.batch_size}, chunk {args.chunk_lines}; "
              f"lines of {args.source.name}")
        print(f"# {cpu_name()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
              f"torch {torch.__version__}, ray {ray.__version__}, "
              f"{time.strftime('%Y-%m-%d %H:%M')}", flush=True)
        per_sentence = round(tokens / args.sentences)
        dim = _model_dim(args.model)
        ceiling = writer_ceiling(tmp / "ceiling.hdf5", dim, args.output_format, args.sentences,
                                 per_sentence)
        print(f"# driver writer ceiling ({args.output_format}, D={dim}, {per_sentence} tokens "
              f"per sentence): {ceiling:,.0f} tokens/s", flush=True)
        base = single_process(args.model, input_path, tmp / "single.hdf5", args.output_format,
                              args.batch_size)
        rows = [("embed_file (1 process)", "-", base, tokens / base, "-", 1.0, "-", "-")]
        ray.init(num_cpus=max(counts), include_dashboard=False, log_to_driver=False,
                 object_store_memory=max(200, 100 * max(counts)) * 1024**2)
        try:
            for workers in counts:
                wall, steady, chunks, driver_cpu = ray_run(
                    args.model, input_path, tmp / f"ray{workers}", workers, args.output_format,
                    args.batch_size, args.chunk_lines, args.shard_lines)
                steady_rate = (tokens * (chunks - 1) / chunks) / steady if steady > 0 else 0.0
                speedup = (tokens / wall) / (tokens / base)
                rows.append((f"embed-corpus, {workers} worker(s)", str(workers), wall,
                             tokens / wall, f"{steady_rate:,.0f}", speedup,
                             f"{speedup / workers:.0%}", f"{driver_cpu / wall:.0%}"))
                print(f"# done: {workers} worker(s) in {wall:.1f}s", file=sys.stderr, flush=True)
        finally:
            ray.shutdown()
    print("| run | workers | seconds | tokens/s | steady tokens/s | speed-up | per worker "
          "| driver CPU |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, workers, seconds, rate, steady, speedup, per_worker, driver in rows:
        print(f"| {name} | {workers} | {seconds:.1f} | {rate:,.0f} | {steady} | "
              f"{speedup:.2f}x | {per_worker} | {driver} |")
    print("(speed-up: tokens/s over the wall time, vs embed_file; per worker: speed-up / "
          "workers; steady: from the first chunk's arrival, actor start excluded; driver CPU: "
          "the embed-corpus process's CPU time over the wall time, Ray's own daemons not "
          "counted)")


def _model_dim(model: str) -> int:
    from elmokit import hub
    from elmokit.config import ElmoConfig

    return ElmoConfig.from_file(hub.resolve(model)[0]).output_dim


if __name__ == "__main__":
    main()
