"""Inference speed of elmokit's modes (and of AllenNLP / simple_elmo when installed), one table.

    python benchmarks/speed.py                          # small + original, modes exact and fast
    python benchmarks/speed.py --sizes original --peers-python .venv-peers/bin/python
    git worktree add /tmp/before <commit> && \
    python benchmarks/speed.py --sizes original --baseline-src /tmp/before   # before/after

For each size a random model is generated (seed 0; fan-in-scaled uniform weights, so the LSTM is
not chaotic and "within 1e-5 of the parity path" is a meaningful check) and written as
options.json + weights.hdf5, so every implementation runs the same weights on the same sentences
(``benchmarks/data/sotu_sentences.txt``: real English, State of the Union addresses). Each
implementation runs in its own process (so peak RSS is its own), one after the other, and the
machine's fp32 / bf16 GEMM rate is measured right before each run: "% ceiling" divides the
tokens/s by the fp32 arithmetic ceiling (multiply-adds per token at that GEMM rate), so a busy
machine shows up as a low GEMM rate rather than as a silently slow implementation.
Tokens are words (sentence boundaries not counted), as the peers count them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SENTENCES = HERE / "data" / "sotu_sentences.txt"
MODES = ("reference", "exact", "fast", "int8")


# ---------------------------------------------------------------------------- helpers
def well_conditioned_random(config, seed: int = 0):
    """A random model with fan-in-scaled weights (see ``Elmo.random``), reference mode."""
    from elmokit import Elmo

    return Elmo.random(config, seed=seed, fan_in_scaled=True, mode="reference")


def macs_per_token(config) -> tuple[float, float]:
    """(char-CNN side, LSTM side) multiply-adds per token."""
    cnn = config.char_cnn
    chars = cnn.max_characters_per_token
    conv = sum((chars - width + 1) * width * cnn.embedding_dim * num for width, num in cnn.filters)
    f = cnn.n_filters
    char_side = conv + cnn.n_highway * f * 2 * f + f * config.lstm.projection_dim
    lstm = config.lstm
    per_cell = lambda inp: inp * 4 * lstm.dim + lstm.projection_dim * 4 * lstm.dim + lstm.dim * lstm.projection_dim  # noqa: E731
    lstm_side = 2 * sum(
        per_cell(lstm.projection_dim) for _ in range(lstm.n_layers)
    )
    return float(char_side), float(lstm_side)


def gemm_rate(threads: int, dtype: str = "float32", seconds: float = 0.6) -> float:
    """GFLOP/s of a 1024 x 2048 x 4096 matmul (the size of the big ELMo GEMMs)."""
    import torch

    torch.set_num_threads(threads)
    dt = getattr(torch, dtype)
    a = torch.randn(1024, 2048).to(dt)
    b = torch.randn(2048, 4096).to(dt)
    for _ in range(2):
        a @ b
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        n += 1
    return 2 * 1024 * 2048 * 4096 * n / (time.perf_counter() - start) / 1e9


def peak_rss_mb() -> float:
    """Peak resident set (VmHWM) since the process started or :func:`reset_peak_rss`."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def reset_peak_rss() -> None:
    """Start VmHWM again from the current resident set (Linux: ``clear_refs`` 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass


def single_sentence_latency(embed, sentences: list[list[str]], reps: int) -> dict:
    """Batch-1 latency of ``embed([tokens])`` on ``reps`` distinct 20-token sentences (the
    first 20 tokens of the file's sentences that have that many), after 3 warm-up calls."""
    import numpy as np

    long = [s[:20] for s in sentences if len(s) >= 20]
    if not long:
        return {}
    for tokens in long[:3]:
        embed([tokens])
    times = []
    for i in range(reps):
        start = time.perf_counter()
        embed([long[(3 + i) % len(long)]])
        times.append(1000 * (time.perf_counter() - start))
    return {"latency_ms_p50": float(np.percentile(times, 50)),
            "latency_ms_p90": float(np.percentile(times, 90)), "latency_reps": reps}


# ---------------------------------------------------------------------------- worker
def worker(args) -> None:
    """One elmokit mode in this process; prints one JSON line."""
    import numpy as np
    import torch

    from elmokit import Elmo

    torch.set_num_threads(args.threads)
    sentences = [line.split() for line in open(args.sentence_file, encoding="utf-8")]
    mode, _, bucketed = args.worker.partition("+")  # "exact+bucketed": embed_sentences(...)
    rss_start = rss_mb()
    elmo = Elmo.from_hdf5(args.model_dir / "options.json", args.model_dir / "weights.hdf5",
                          mode=mode)
    weights = sum(p.numel() * p.element_size() for p in elmo.bilm.parameters()) / 2**20
    result: dict = {"rss_start_mb": rss_start, "weights_mb": weights,
                    "rss_loaded_mb": rss_mb()}
    if mode != "reference" and args.check:
        # agreement with the parity path (BiLM.forward) on the first sentences
        check = sentences[: args.check]
        reference = Elmo(elmo.bilm, mode="reference").embed_batch(check)
        ours = elmo.embed_batch(check)
        diffs, cosines = [], []
        for a, b in zip(ours, reference, strict=True):
            diffs.append(float(np.abs(a - b).max()))
            dot = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
            cosines.append(dot.mean(-1))  # (layers,)
        result["max_abs_diff"] = max(diffs)
        result["min_layer_cosine"] = float(np.mean(cosines, axis=0).min())
        elmo.engine.cache.clear()
    reset_peak_rss()  # the peak of the timed run only (not of the parity check above)
    tokens = 0
    start = time.perf_counter()
    cpu_start = time.process_time()
    if bucketed:  # length bucketing over --bucket-batches batches, results in input order
        for vectors in elmo.embed_sentences(sentences, args.batch_size,
                                            bucket_batches=args.bucket_batches):
            tokens += vectors.shape[1]
    else:  # batches of 64 in file order, like the peers
        for i in range(0, len(sentences), args.batch_size):
            batch = sentences[i : i + args.batch_size]
            elmo.embed_batch(batch)
            tokens += sum(len(s) for s in batch)
    result.update(tokens=tokens, seconds=time.perf_counter() - start,
                  cpu_seconds=time.process_time() - cpu_start, peak_rss_mb=peak_rss_mb())
    if elmo.engine is not None:
        result["cache_hit_rate"] = elmo.engine.cache.hit_rate
        result["kind"] = elmo.engine.kind  # what the LSTM ran in: fp32 / bf16 / int8
    if args.latency:  # after the timed run: the word cache is warm, as in a running server
        result.update(single_sentence_latency(elmo.embed_batch, sentences, args.latency))
    print(json.dumps(result))


def onnx_worker(args) -> None:
    """The model exported by ``elmokit export-onnx``, run by onnxruntime (batches in file
    order, like the plain modes); prints one JSON line. The export is not timed."""
    import numpy as np
    import torch

    from elmokit import Elmo
    from elmokit.characters import batch_to_ids
    from elmokit.onnx_export import OnnxElmo, export_onnx

    torch.set_num_threads(args.threads)
    sentences = [line.split() for line in open(args.sentence_file, encoding="utf-8")]
    elmo = Elmo.from_hdf5(args.model_dir / "options.json", args.model_dir / "weights.hdf5")
    path = export_onnx(elmo, args.model_dir / "model.onnx")
    rss_start = rss_mb()
    runner = OnnxElmo(path, threads=args.threads)
    result: dict = {"rss_start_mb": rss_start, "weights_mb": path.stat().st_size / 2**20,
                    "rss_loaded_mb": rss_mb(), "kind": "onnxruntime"}
    if args.check:  # against exact mode, the parity test's bar is 1e-4
        check = sentences[: args.check]
        result["max_abs_diff"] = max(float(np.abs(a - b).max()) for a, b in zip(
            runner.embed_batch(check), elmo.embed_batch(check), strict=True) if a.size)
    reset_peak_rss()
    tokens = 0
    start = time.perf_counter()
    cpu_start = time.process_time()
    for i in range(0, len(sentences), args.batch_size):
        batch = sentences[i : i + args.batch_size]
        runner.run(*batch_to_ids(batch))
        tokens += sum(len(s) for s in batch)
    result.update(tokens=tokens, seconds=time.perf_counter() - start,
                  cpu_seconds=time.process_time() - cpu_start, peak_rss_mb=peak_rss_mb())
    if args.latency:
        result.update(single_sentence_latency(runner.embed_batch, sentences, args.latency))
    print(json.dumps(result))


def stream_worker(args) -> None:
    """``embed_file`` over ``--stream`` sentences (the sentence file, cycled); RSS sampled."""
    import threading

    import torch

    from elmokit import Elmo

    torch.set_num_threads(args.threads)
    if args.model:
        elmo = Elmo.load(args.model, mode=args.worker)
    else:
        elmo = Elmo.from_hdf5(args.model_dir / "options.json", args.model_dir / "weights.hdf5",
                              mode=args.worker)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in.txt"
        written = 0
        with source.open("w", encoding="utf-8") as handle:
            while written < args.stream:  # the first --stream lines, cycling a short file
                with args.sentence_file.open(encoding="utf-8") as lines:
                    for line in lines:
                        if written == args.stream:
                            break
                        if line.strip():
                            handle.write(line)
                            written += 1
                if written == 0:
                    raise SystemExit(f"{args.sentence_file}: no sentences")
        samples: list[float] = []
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.5):
                samples.append(rss_mb())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        summary = elmo.embed_file(source, Path(tmp) / "out.hdf5", output_format="top",
                                  batch_size=args.batch_size, progress=False,
                                  bucket_batches=args.bucket_batches)
        done.set()
        sampler.join()
        output_gb = (Path(tmp) / "out.hdf5").stat().st_size / 2**30
        import h5py

        with h5py.File(Path(tmp) / "out.hdf5", "r") as out:
            distinct = len(json.loads(out["sentence_to_index"][0]))
    k = max(1, len(samples) // 10)
    print(json.dumps({"sentences": summary.sentences, "tokens": summary.tokens,
                      "distinct_sentences": distinct, "output_gb": round(output_gb, 2),
                      "seconds": summary.seconds, "rss_mb_first_10pct": max(samples[:k]),
                      "rss_mb_last_10pct": max(samples[-k:]), "peak_rss_mb": peak_rss_mb(),
                      "rss_mb_by_decile": [round(max(samples[i : i + k])) for i in
                                           range(0, len(samples), k)],
                      "cache_hit_rate": elmo.engine.cache.hit_rate if elmo.engine else None}))


def run_json(command: list[str], timeout: float, env: dict | None = None) -> dict:
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": " | ".join(tail)}
    return json.loads(lines[-1])


# ---------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="small,original")
    parser.add_argument("--modes", default="exact,fast,exact+bucketed,fast+bucketed",
                        help=f"of {', '.join(MODES)}; MODE+bucketed: embed_sentences with length "
                             "bucketing over --bucket-batches batches instead of file-order batches")
    parser.add_argument("--sentences", type=int, default=256, help="sentences per run")
    parser.add_argument("--onnx", action="store_true",
                        help="also time the model exported by `elmokit export-onnx`, run by "
                        "onnxruntime (needs elmokit[onnx])")
    parser.add_argument("--sentence-file", type=Path, default=DEFAULT_SENTENCES)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--bucket-batches", type=int, default=8,
                        help="+bucketed modes: batches read ahead (embed_file's default)")
    parser.add_argument("--check", type=int, default=16,
                        help="sentences compared with the parity path (0: skip)")
    parser.add_argument("--peers-python", default=os.environ.get("ELMOKIT_PEERS_PYTHON"),
                        help="python of a venv with allennlp installed")
    parser.add_argument("--simple-elmo-python",
                        default=os.environ.get("ELMOKIT_SIMPLE_ELMO_PYTHON"),
                        help="python of a venv with tensorflow-cpu, tf-keras, simple-elmo")
    parser.add_argument("--latency", type=int, default=0, metavar="N",
                        help="also time N single-sentence calls (batch 1, 20 tokens) per "
                        "elmokit mode / onnx, after the timed run (warm word cache)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--baseline-src", type=Path,
                        help="a checkout of another elmokit version (e.g. a git worktree): each "
                             "mode also runs with its src/ first on the path, right before the "
                             "current code's run, as 'baseline MODE'")
    parser.add_argument("--stream", type=int, default=0,
                        help="instead: embed_file over this many sentences with --modes[0] on "
                             "--sizes[0], reporting resident memory early and late")
    parser.add_argument("--model", help="with --stream: a bundled / known model name (e.g. "
                        "en-small) instead of a random model of --sizes[0]; --sentence-file's "
                        "first --stream lines are used (cycled if fewer)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        if args.worker == "onnx":
            return onnx_worker(args)
        return stream_worker(args) if args.stream else worker(args)

    import torch

    from elmokit.config import ORIGINAL_OPTIONS, SMALL_OPTIONS, ElmoConfig

    options = {"small": SMALL_OPTIONS, "original": ORIGINAL_OPTIONS}
    modes = [m for m in args.modes.split(",") if m]
    lines = args.sentence_file.read_text(encoding="utf-8").splitlines()[: args.sentences]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, {args.threads} threads; load average "
          f"{os.getloadavg()[0]:.1f} at start")
    print(f"{len(lines)} sentences, {sum(len(x.split()) for x in lines)} tokens, "
          f"batch {args.batch_size}, +bucketed: {args.bucket_batches} batches read ahead")
    if args.stream:
        with tempfile.TemporaryDirectory(prefix="elmokit-speed-") as tmp:
            size = args.model or args.sizes.split(",")[0]
            model_dir = Path(tmp) / size
            model = ["--model", args.model] if args.model else []
            if not args.model:
                well_conditioned_random(ElmoConfig.from_options(options[size])).save(model_dir)
            res = run_json([sys.executable, __file__, "--worker", modes[0], "--model-dir",
                            str(model_dir), "--sentence-file", str(args.sentence_file),
                            "--batch-size", str(args.batch_size), "--threads",
                            str(args.threads), "--stream", str(args.stream),
                            "--bucket-batches", str(args.bucket_batches), *model],
                           timeout=36000)
        print(f"embed_file, {size} model, mode {modes[0]}: {json.dumps(res)}")
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="elmokit-speed-") as tmp:
        sentence_file = Path(tmp) / "sentences.txt"
        sentence_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        for size in args.sizes.split(","):
            config = ElmoConfig.from_options(options[size])
            model_dir = Path(tmp) / size
            well_conditioned_random(config).save(model_dir)
            char_macs, lstm_macs = macs_per_token(config)
            variants = []
            for m in modes:
                if args.baseline_src:
                    variants.append((f"baseline {m}", m))
                variants.append((f"elmokit {m}", m))
            if args.onnx:
                variants.append(("elmokit onnx", "onnx"))
            if args.peers_python:
                variants.append(("allennlp 2.10.1", "allennlp"))
            if args.simple_elmo_python:
                variants.append(("simple_elmo (TF)", "simple_elmo"))
            for name, what in variants:
                fp32 = gemm_rate(args.threads)
                bf16 = gemm_rate(args.threads, "bfloat16")
                load = os.getloadavg()[0]
                if what in ("allennlp", "simple_elmo"):
                    python = args.peers_python if what == "allennlp" else args.simple_elmo_python
                    res = run_json([python, str(HERE / "peers" / f"{what}_run.py"),
                                    str(model_dir / "options.json"),
                                    str(model_dir / "weights.hdf5"), str(sentence_file),
                                    str(args.batch_size), str(args.threads)], timeout=3600)
                else:
                    env = None
                    if name.startswith("baseline"):
                        src = str(args.baseline_src.resolve() / "src")
                        env = {**os.environ, "PYTHONPATH": src}
                    res = run_json([sys.executable, __file__, "--worker", what, "--model-dir",
                                    str(model_dir), "--sentence-file", str(sentence_file),
                                    "--batch-size", str(args.batch_size), "--threads",
                                    str(args.threads), "--check", str(args.check),
                                    "--bucket-batches", str(args.bucket_batches),
                                    "--latency", str(args.latency)], timeout=3600,
                                   env=env)
                res.update(size=size, impl=name, gemm_fp32=fp32, gemm_bf16=bf16, load=load)
                if "tokens" in res:
                    res["tokens_per_s"] = res["tokens"] / res["seconds"]
                    ceiling = fp32 * 1e9 / (2 * (char_macs + lstm_macs))
                    res["ceiling_fp32"] = ceiling
                    res["ceiling_fp32_cached"] = fp32 * 1e9 / (2 * lstm_macs)
                    res["pct_ceiling"] = 100 * res["tokens_per_s"] / ceiling
                rows.append(res)
                print(json.dumps(res), file=sys.stderr, flush=True)
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


def print_table(rows: list[dict]) -> None:
    header = (f"{'size':<9}{'implementation':<31}{'tokens/s':>9}{'% fp32 ceil':>12}"
              f"{'vs peer':>8}{'peak RSS MB':>12}{'cache hit':>10}{'max |diff|':>11}"
              f"{'min cos':>9}{'GEMM fp32/bf16':>16}{'load':>6}")
    print(header)
    print("-" * len(header))
    for row in rows:
        if "error" in row:
            print(f"{row['size']:<9}{row['impl']:<31} failed: {row['error']}")
            continue
        peers = [r["tokens_per_s"] for r in rows
                 if r["size"] == row["size"] and "tokens_per_s" in r
                 and not r["impl"].startswith("elmokit")]
        ratio = f"{row['tokens_per_s'] / max(peers):.2f}x" if peers else "-"
        hit = f"{row['cache_hit_rate']:.0%}" if "cache_hit_rate" in row else "-"
        diff = f"{row['max_abs_diff']:.1e}" if "max_abs_diff" in row else "-"
        cos = f"{row['min_layer_cosine']:.5f}" if "min_layer_cosine" in row else "-"
        gemm = f"{row['gemm_fp32']:.0f}/{row['gemm_bf16']:.0f}"
        impl = row["impl"] + (f" ({row['kind']})" if row.get("kind") not in (None, "fp32") else "")
        print(f"{row['size']:<9}{impl:<31}{row['tokens_per_s']:>9.0f}"
              f"{row['pct_ceiling']:>11.0f}%{ratio:>8}{row['peak_rss_mb']:>12.0f}{hit:>10}"
              f"{diff:>11}{cos:>9}{gemm:>16}{row['load']:>6.1f}")
    if rows and "ceiling_fp32" in rows[-1]:
        print("% fp32 ceiling: tokens/s over (fp32 GEMM GFLOP/s measured just before the run) / "
              "(2 x multiply-adds per token, char CNN + LSTM).")
    memory = [r for r in rows if "rss_loaded_mb" in r]
    if memory:
        print("memory (MB): process before loading / + weights (parameter bytes) -> after "
              "loading / peak while embedding")
        for row in memory:
            print(f"  {row['size']:<9}{row['impl']:<31}{row['rss_start_mb']:>6.0f} + "
                  f"{row['weights_mb']:>5.0f} -> {row['rss_loaded_mb']:>6.0f} / "
                  f"{row['peak_rss_mb']:>6.0f}")
    latency = [r for r in rows if "latency_ms_p50" in r]
    if latency:
        print(f"single-sentence latency (batch 1, 20 tokens, {latency[0]['latency_reps']} distinct "
              "sentences after the timed run, warm word cache), ms p50 / p90:")
        for row in latency:
            print(f"  {row['size']:<9}{row['impl']:<31}{row['latency_ms_p50']:>7.1f} / "
                  f"{row['latency_ms_p90']:>7.1f}")


if __name__ == "__main__":
    main()
