"""The training loop: data, model, optimizer, loop, checkpoint — in one place (nanoGPT style).

>>> train(TrainConfig(corpus=["data/corpus/train/*.txt"], vocab="vocab.txt", config="tiny",
...                   out="runs/tiny", max_steps=200))

Resuming (``resume=True``) restores the model, the optimizer, every RNG, the LSTM state and the
data position from ``out/checkpoint.pt``, so an interrupted-and-resumed run computes the same
numbers as an uninterrupted one. Under ``torchrun`` every process trains on its own share of
the sentences and gradients are averaged across processes (gloo on CPU, nccl on CUDA).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from elmokit.errors import ConfigError, InputError
from elmokit.modules.bilm import LstmState
from elmokit.runtime import tune_malloc
from elmokit.training.checkpoint import (
    CHECKPOINT_NAME,
    FORMAT,
    atomic_save,
    load_checkpoint,
    load_pretrained,
    model_from_checkpoint,
)
from elmokit.training.data import BatchStream
from elmokit.training.model import LanguageModel, resolve_config
from elmokit.training.vocab import TOKENIZERS, Vocabulary, expand_corpus


@dataclass
class TrainConfig:
    corpus: list[str]
    vocab: str
    out: str
    config: str = "tiny"
    init_from: str | None = None
    # when to stop (any that is set); none set means one epoch
    max_tokens: int | None = None
    epochs: int | None = None
    max_steps: int | None = None
    max_minutes: float | None = None  # wall clock of this invocation
    # data
    batch_size: int = 64
    unroll: int = 20
    tokenizer: str = "whitespace"
    seed: int = 0
    # optimisation (bilm-tf: Adagrad lr 0.2, clip 10, dropout 0.1, 8192 negatives)
    optimizer: str = "adagrad"
    lr: float = 0.2
    clip: float = 10.0
    dropout: float = 0.1
    n_negative: int = 4096
    # run
    device: str = "cpu"
    bf16: bool = False
    threads: int | None = None
    checkpoint_minutes: float = 10.0
    snapshot_tokens: int | None = None  # also keep the weights every N tokens (learning curves)
    log_every: int = 10
    resume: bool = False
    progress: bool = True
    extra: dict = field(default_factory=dict)

    def check(self) -> None:
        if self.optimizer not in ("adagrad", "adam"):
            raise ConfigError(f"optimizer {self.optimizer!r} must be 'adagrad' or 'adam'")
        if self.tokenizer not in TOKENIZERS:
            raise ConfigError(f"tokenizer {self.tokenizer!r} must be one of {TOKENIZERS}")
        for name in ("batch_size", "unroll", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")


# settings a resumed run takes from the checkpoint (the rest, e.g. when to stop, from the call)
_FROZEN = ("corpus", "vocab", "config", "init_from", "batch_size", "unroll", "tokenizer", "seed",
           "optimizer", "lr", "clip", "dropout", "n_negative", "bf16")  # fmt: skip


def _distributed(device: str) -> tuple[int, int]:
    """(rank, world_size); initialises torch.distributed when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return dist.get_rank(), world


def _make_optimizer(cfg: TrainConfig, params) -> torch.optim.Optimizer:
    if cfg.optimizer == "adagrad":  # bilm-tf: AdagradOptimizer(0.2, initial_accumulator 1.0)
        return torch.optim.Adagrad(params, lr=cfg.lr, initial_accumulator_value=1.0)
    return torch.optim.Adam(params, lr=cfg.lr)


def _plot(log_path: Path, png_path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # the plot is a convenience; the JSONL log has the numbers
        return
    rows = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([r["tokens"] for r in rows], [r["loss"] for r in rows], lw=1)
    ax.set_xlabel("training tokens")
    ax.set_ylabel("loss (mean NLL of forward and backward LM)")
    ax.set_title(f"{log_path.parent.name}: perplexity {rows[-1]['ppl']:.1f}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)


def train(cfg: TrainConfig) -> dict:
    """Train (or resume, or fine-tune) a biLM; returns a summary dict (also in out/summary.json)."""
    cfg.check()
    out = Path(cfg.out)
    ckpt_file = out / CHECKPOINT_NAME
    ckpt = None
    if cfg.resume:
        if not ckpt_file.is_file():
            raise InputError(f"{ckpt_file}: nothing to resume (no checkpoint)")
        ckpt = load_checkpoint(ckpt_file)
        saved = ckpt["train_config"]
        for key in _FROZEN:
            setattr(cfg, key, saved[key])
    rank, world = _distributed(cfg.device)
    if world > 1:
        import torch.distributed as dist
    tune_malloc("train")
    threads_before = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch.device(cfg.device)

    # ---------------------------------------------------------------- data
    files = expand_corpus(cfg.corpus)
    if ckpt is not None:
        vocab = Vocabulary(ckpt["vocab"], where=f"{ckpt_file} vocabulary")
    else:
        vocab = Vocabulary.load(cfg.vocab)
    stream = BatchStream(files, vocab, cfg.batch_size, cfg.unroll, seed=cfg.seed,
                         epochs=cfg.epochs if cfg.epochs else (None if (cfg.max_tokens or
                         cfg.max_steps or cfg.max_minutes) else 1),
                         rank=rank, world_size=world, tokenizer=cfg.tokenizer)  # fmt: skip

    # ---------------------------------------------------------------- model + optimizer
    torch.manual_seed(cfg.seed)
    model_kwargs = {"dropout": cfg.dropout, "n_negative": cfg.n_negative}
    note = ""
    if ckpt is not None:
        lm, _ = model_from_checkpoint(ckpt, **model_kwargs)
    elif cfg.init_from:
        lm, _, note = load_pretrained(cfg.init_from, vocab, **model_kwargs)
    else:
        lm = LanguageModel(resolve_config(cfg.config), len(vocab), **model_kwargs)
        lm.init_weights()
    lm.to(device).train()
    optimizer = _make_optimizer(cfg, lm.parameters())
    state = lm.zero_state(cfg.batch_size, device)
    sampler = torch.Generator(device=device).manual_seed(cfg.seed * 1000 + rank)
    step, tokens_seen, elapsed = 0, 0, 0.0
    if ckpt is not None:
        optimizer.load_state_dict(ckpt["optimizer"])
        if len(ckpt["ranks"]) != world:
            raise InputError(f"{ckpt_file} was written by {len(ckpt['ranks'])} process(es); "
                             f"resume with the same number, not {world}")  # fmt: skip
        mine = ckpt["ranks"][rank]
        stream.load_state_dict(mine["data"])
        state = LstmState(mine["h"].to(device), mine["c"].to(device))
        torch.set_rng_state(mine["torch_rng"])
        sampler.set_state(mine["sampler_rng"])
        step, tokens_seen, elapsed = ckpt["step"], ckpt["tokens"], ckpt["elapsed"]
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        if ckpt is None:
            vocab.save(out / "vocab.txt")
            lm.config.save(out / "options.json")
            (out / "log.jsonl").write_text("")
        if note:
            print(f"init-from {cfg.init_from}: {note}")

    def save_checkpoint() -> None:
        mine = {"data": stream.state_dict(), "h": state.h.cpu(), "c": state.c.cpu(),
                "torch_rng": torch.get_rng_state(), "sampler_rng": sampler.get_state()}  # fmt: skip
        ranks = [mine]
        if world > 1:
            ranks = [None] * world
            dist.all_gather_object(ranks, mine)
        if rank == 0:
            atomic_save({
                "format": FORMAT, "options": lm.config.to_options(), "vocab": vocab.tokens,
                "model": {k: v.cpu() for k, v in lm.state_dict().items()},
                "optimizer": optimizer.state_dict(), "train_config": asdict(cfg),
                "step": step, "tokens": tokens_seen, "elapsed": elapsed + time.time() - start,
                "ranks": ranks,
            }, ckpt_file)  # fmt: skip
            _plot(out / "log.jsonl", out / "loss.png")

    def save_snapshot() -> None:  # weights only: all ranks hold the same, rank 0 writes
        atomic_save({
            "format": FORMAT, "options": lm.config.to_options(), "vocab": vocab.tokens,
            "model": {k: v.cpu() for k, v in lm.state_dict().items()}, "step": step,
            "tokens": tokens_seen, "elapsed": elapsed + time.time() - start,
        }, out / "snapshots" / f"tokens-{tokens_seen:012d}.pt")  # fmt: skip

    # ---------------------------------------------------------------- signals
    stop_reason: list[str] = []

    def on_signal(signum, frame):  # save first, then stop (a second Ctrl-C interrupts)
        stop_reason.append(signal.Signals(signum).name)
        signal.signal(signum, previous[signum])

    previous = {}
    if threading.current_thread() is threading.main_thread():  # signals work only there
        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}

    # ---------------------------------------------------------------- the loop
    autocast = (torch.autocast(device.type, dtype=torch.bfloat16) if cfg.bf16
                else contextlib.nullcontext())  # fmt: skip
    total = cfg.max_tokens
    if total is None and cfg.max_steps is not None:
        total = cfg.max_steps * cfg.batch_size * cfg.unroll * world
    bar = None
    if cfg.progress and rank == 0:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=min(tokens_seen, total or tokens_seen), unit="tok",
                   unit_scale=True, dynamic_ncols=True, smoothing=0.05)  # fmt: skip
    start = last_ckpt = time.time()
    window_loss, window_n, window_dir, window_start = 0.0, 0, torch.zeros(2), time.time()
    log = open(out / "log.jsonl", "a") if rank == 0 else None  # noqa: SIM115
    reason = None
    try:
        while True:
            # when to stop: checked before each step so that every rank agrees
            now = time.time()
            if cfg.max_steps is not None and step >= cfg.max_steps:
                reason = "max_steps"
            elif cfg.max_tokens is not None and tokens_seen >= cfg.max_tokens:
                reason = "max_tokens"
            elif cfg.max_minutes is not None and now - start >= 60 * cfg.max_minutes:
                reason = "max_minutes"
            elif stop_reason:
                reason = stop_reason[0]
            checkpoint_due = now - last_ckpt >= 60 * cfg.checkpoint_minutes
            if world > 1:  # every rank must take the same decisions (collectives follow)
                flags = torch.tensor([reason is not None, checkpoint_due], dtype=torch.int32)
                dist.all_reduce(flags, op=dist.ReduceOp.MAX)
                reason = reason or ("peer" if flags[0].item() else None)
                checkpoint_due = bool(flags[1].item())
            if reason:
                break
            if checkpoint_due and step > 0:
                save_checkpoint()
                last_ckpt = time.time()
            try:
                batch = next(stream).to(device)
            except StopIteration:
                reason = "end_of_data"
                break
            with autocast:
                hidden, state = lm(batch, state)
                loss, nll, count = lm.loss(hidden, batch.targets, batch.weights,
                                           generator=sampler)  # fmt: skip
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if world > 1:  # average gradients over processes (one flat all-reduce)
                grads = [p.grad if p.grad is not None else torch.zeros_like(p)
                         for p in lm.parameters()]  # fmt: skip
                flat = torch.cat([g.reshape(-1) for g in grads]) / world
                dist.all_reduce(flat)
                for g, new in zip(grads, torch._utils._unflatten_dense_tensors(flat, grads),
                                  strict=True):  # fmt: skip
                    g.copy_(new)
            grad_norm = torch.nn.utils.clip_grad_norm_(lm.parameters(), cfg.clip)
            optimizer.step()
            step += 1
            n = batch.n_tokens * world
            tokens_seen += n
            every = cfg.snapshot_tokens
            if every and rank == 0 and tokens_seen // every > (tokens_seen - n) // every:
                save_snapshot()
            window_loss += loss.item()
            window_n += 1
            window_dir += (nll / count.clamp(min=1)).cpu()
            if bar is not None:
                bar.update(n)
            if step % cfg.log_every == 0 and rank == 0:
                mean = window_loss / window_n
                fwd, bwd = (window_dir / window_n).tolist()
                spent = elapsed + time.time() - start
                row = {"step": step, "tokens": tokens_seen, "loss": round(mean, 5),
                       "ppl": round(math.exp(min(mean, 50)), 3),
                       "fwd_ppl": round(math.exp(min(fwd, 50)), 3),
                       "bwd_ppl": round(math.exp(min(bwd, 50)), 3),
                       "grad_norm": round(float(grad_norm), 4), "elapsed_s": round(spent, 1),
                       "tokens_per_s": round(window_n * n / (time.time() - window_start), 1)}  # fmt: skip
                log.write(json.dumps(row) + "\n")
                log.flush()
                if bar is not None:
                    bar.set_postfix(loss=f"{mean:.3f}", ppl=f"{row['ppl']:.1f}")
                window_loss, window_n, window_dir = 0.0, 0, torch.zeros(2)
                window_start = time.time()
    finally:
        torch.set_num_threads(threads_before)
        for s, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(s, handler)
        if bar is not None:
            bar.close()
        if log is not None:
            log.close()
    save_checkpoint()
    summary = {"step": step, "tokens": tokens_seen, "stopped": reason,
               "elapsed_s": round(elapsed + time.time() - start, 1),
               "checkpoint": str(ckpt_file)}  # fmt: skip
    if world > 1:  # every process must end with the same weights
        checksum = sum(float(p.detach().double().sum()) for p in lm.parameters())
        sums: list = [None] * world
        dist.all_gather_object(sums, checksum)
        summary.update(world_size=world, param_checksums=sums,
                       ranks_agree=all(s == sums[0] for s in sums))  # fmt: skip
        (out / f"summary.rank{rank}.json").write_text(json.dumps(summary) + "\n")
        # every rank done with every collective before any tears its gloo pairs down (a rank
        # aborted once, 1 run in ~30, with "terminate called without an active exception")
        dist.barrier()
        dist.destroy_process_group()
    if rank == 0:
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        if ckpt is None and cfg.init_from is None and not (out / "train_config.json").exists():
            (out / "train_config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")
    return summary
