"""The training loop: data, model, optimizer, loop, checkpoint — in one place (nanoGPT style).

>>> train(TrainConfig(corpus=["data/corpus/train/*.txt"], vocab="vocab.txt", config="tiny",
...                   out="runs/tiny", max_steps=200))
>>> train(TrainConfig(out="runs/tiny", resume=True, max_steps=400))  # 200 more steps

Resuming (``resume=True``) restores the model, the optimizer, every RNG, the LSTM state and the
data position from ``out/checkpoint.pt``, so an interrupted-and-resumed run computes the same
numbers as an uninterrupted one. The settings that define the run (``_FROZEN``: corpus,
vocabulary, config, batch, …) come from the checkpoint; giving one that differs is an error.
``train`` never changes the ``TrainConfig`` it is given. Under ``torchrun`` every process
trains on its own share of the sentences and gradients are averaged across processes (gloo on
CPU, nccl on CUDA).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field, replace
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
from elmokit.training.data import Batch, BatchStream
from elmokit.training.model import LanguageModel, resolve_config
from elmokit.training.vocab import TOKENIZERS, Vocabulary, expand_corpus


@dataclass
class TrainConfig:
    """What to train and how. The settings that define a run (``_FROZEN``) default to None:
    a resumed run takes them from its checkpoint, a new run uses the default noted here."""

    corpus: list[str] | str | None = None  # file globs; required for a new run
    vocab: str | None = None  # vocabulary file; required for a new run
    out: str | None = None  # the run directory (required)
    config: str | None = None  # preset or options.json file; default "tiny"
    init_from: str | None = None  # a checkpoint or model dir to fine-tune
    # when to stop (any that is set); none set means one epoch
    max_tokens: int | None = None
    epochs: int | None = None
    max_steps: int | None = None
    max_minutes: float | None = None  # wall clock of this invocation
    # data
    batch_size: int | None = None  # default 64
    unroll: int | None = None  # default 20
    tokenizer: str | None = None  # default "whitespace"
    seed: int | None = None  # default 0
    # optimisation (bilm-tf: Adagrad lr 0.2, clip 10, dropout 0.1, 8192 negatives)
    optimizer: str | None = None  # default "adagrad"
    lr: float | None = None  # default 0.2 with adagrad, 0.001 with adam (the peak of a schedule)
    lr_schedule: str | None = None  # default "constant"; "linear" / "cosine" decay to min_lr
    warmup_tokens: int | None = None  # default 0: the lr rises linearly from 0 over these tokens
    decay_tokens: int | None = None  # linear/cosine: reach min_lr here (default: max_tokens)
    min_lr: float | None = None  # default 0.0: where linear/cosine end (and stay)
    clip: float | None = None  # default 10.0
    dropout: float | None = None  # default 0.1
    n_negative: int | None = None  # default 4096
    # run
    device: str = "cpu"
    bf16: bool | None = None  # default False
    threads: int | None = None
    checkpoint_minutes: float = 10.0
    snapshot_tokens: int | None = None  # also keep the weights every N tokens (learning curves)
    log_every: int = 10
    resume: bool = False
    progress: bool = True
    extra: dict = field(default_factory=dict)

    def check(self) -> None:
        """A ConfigError for a setting out of range (settings left at None are not checked)."""
        if not self.out:
            raise ConfigError("out: the run directory is required")
        if self.optimizer is not None and self.optimizer not in _DEFAULT_LR:
            raise ConfigError(f"optimizer {self.optimizer!r} must be 'adagrad' or 'adam'")
        if self.tokenizer is not None and self.tokenizer not in TOKENIZERS:
            raise ConfigError(f"tokenizer {self.tokenizer!r} must be one of {TOKENIZERS}")
        for name in ("batch_size", "unroll", "log_every"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.lr_schedule is not None and self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"lr_schedule {self.lr_schedule!r} must be one of {LR_SCHEDULES}")
        for name in ("warmup_tokens", "decay_tokens", "min_lr"):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.lr_schedule in ("linear", "cosine"):
            decay = self.decay_tokens if self.decay_tokens is not None else self.max_tokens
            if decay is None and not self.resume:  # a resumed run has it in its checkpoint
                raise ConfigError(f"lr_schedule {self.lr_schedule!r}: give decay_tokens (or "
                                  "max_tokens) — the tokens over which the lr decays")  # fmt: skip
            if decay is not None and decay <= (self.warmup_tokens or 0):
                raise ConfigError(f"decay_tokens ({decay}) must be more than "
                                  f"warmup_tokens ({self.warmup_tokens or 0})")  # fmt: skip
        if None not in (self.min_lr, self.lr) and self.min_lr > self.lr:
            raise ConfigError(f"min_lr ({self.min_lr}) must not exceed lr ({self.lr})")


# settings a resumed run takes from the checkpoint (the rest, e.g. when to stop, from the call)
_FROZEN = ("corpus", "vocab", "config", "init_from", "batch_size", "unroll", "tokenizer", "seed",
           "optimizer", "lr", "clip", "dropout", "n_negative", "bf16", "lr_schedule",
           "warmup_tokens", "decay_tokens", "min_lr")  # fmt: skip
# their defaults for a new run (corpus and vocab have none; init_from None is "no fine-tuning")
_DEFAULTS = {"config": "tiny", "batch_size": 64, "unroll": 20, "tokenizer": "whitespace",
             "seed": 0, "optimizer": "adagrad", "clip": 10.0, "dropout": 0.1,
             "n_negative": 4096, "bf16": False, "lr_schedule": "constant", "warmup_tokens": 0,
             "min_lr": 0.0}  # fmt: skip
# frozen settings added after checkpoints were first written: an older checkpoint lacks them
# and ran as their defaults do (decay_tokens: None)
_ADDED = {key: _DEFAULTS.get(key) for key in ("lr_schedule", "warmup_tokens", "decay_tokens",
                                              "min_lr")}  # fmt: skip
_DEFAULT_LR = {"adagrad": 0.2, "adam": 1e-3}
LR_SCHEDULES = ("constant", "linear", "cosine")
_PATHS = ("corpus", "vocab", "config", "init_from")  # compared as absolute paths


def learning_rate(cfg: TrainConfig, tokens: int) -> float:
    """The learning rate of the step that starts after ``tokens`` tokens of this run: a linear
    warm-up from 0 over ``warmup_tokens``, then ``lr`` (constant) or a linear / half-cosine
    decay from ``lr`` to ``min_lr`` at ``decay_tokens``, ``min_lr`` after that."""
    warmup = cfg.warmup_tokens or 0
    if tokens < warmup:
        return cfg.lr * (tokens + 1) / (warmup + 1)
    if cfg.lr_schedule in (None, "constant"):
        return cfg.lr
    low = cfg.min_lr or 0.0
    done = min(1.0, (tokens - warmup) / (cfg.decay_tokens - warmup))
    if cfg.lr_schedule == "linear":
        return cfg.lr + (low - cfg.lr) * done
    return low + (cfg.lr - low) * 0.5 * (1.0 + math.cos(math.pi * done))


# ---------------------------------------------------------------------- settings
def _as_paths(value) -> list[str]:
    values = [value] if isinstance(value, (str, os.PathLike)) else value
    return [os.path.abspath(os.path.expanduser(str(v))) for v in values]


def _same_setting(key: str, given, saved) -> bool:
    if given is None or saved is None:
        return given is saved
    if key in _PATHS:  # the same files however they are spelt
        return _as_paths(given) == _as_paths(saved)
    return given == saved


def _as_flag(key: str, value) -> str:
    flag = "--" + key.replace("_", "-")
    if value is None or value is False:
        return f"no {flag}"
    if value is True:
        return flag
    if isinstance(value, (list, tuple)):
        value = " ".join(map(str, value))
    return f"{flag} {value}"


def _effective_config(cfg: TrainConfig, ckpt_file: Path, ckpt: dict | None) -> TrainConfig:
    """The settings this run uses, as a new TrainConfig (``cfg`` itself is left as it is):
    the frozen settings come from the checkpoint when resuming (one given that differs is a
    ConfigError), else from ``cfg`` or their defaults."""
    if isinstance(cfg.corpus, (list, tuple)) and not cfg.corpus:
        cfg = replace(cfg, corpus=None)  # an empty list (a command line without --corpus): unset
    if ckpt is None:
        missing = [key for key in ("corpus", "vocab") if getattr(cfg, key) is None]
        if missing:
            raise ConfigError(f"{' and '.join(missing)}: required for a new run (only a resumed "
                              "run takes them from its checkpoint)")  # fmt: skip
        frozen = {key: value for key, value in _DEFAULTS.items() if getattr(cfg, key) is None}
    else:
        saved = {**_ADDED, **ckpt["train_config"]}
        for key in _FROZEN:
            given = getattr(cfg, key)
            if given is not None and not _same_setting(key, given, saved[key]):
                raise ConfigError(f"{ckpt_file} was trained with {_as_flag(key, saved[key])}; "
                                  f"{_as_flag(key, given)} contradicts it (drop it to resume)")  # fmt: skip
        frozen = {key: saved[key] for key in _FROZEN}
    if ckpt is None and frozen.get("lr_schedule", cfg.lr_schedule) != "constant":
        if cfg.decay_tokens is None:  # a new run decays over the tokens it is asked to train
            frozen["decay_tokens"] = cfg.max_tokens
    effective = replace(cfg, **frozen)
    if effective.lr is None:
        effective.lr = _DEFAULT_LR[effective.optimizer]
    # plain strings: a checkpoint holding a Path would not load with weights_only=True
    for key in ("vocab", "out", "config", "init_from"):
        if isinstance(getattr(effective, key), os.PathLike):
            setattr(effective, key, str(getattr(effective, key)))
    if isinstance(effective.corpus, os.PathLike):
        effective.corpus = str(effective.corpus)
    elif not isinstance(effective.corpus, str):
        effective.corpus = [str(p) for p in effective.corpus]
    effective.check()
    return effective


# ---------------------------------------------------------------------- the run
@dataclass
class Run:
    """A run in progress: what the steps of the loop read and update."""

    cfg: TrainConfig  # this run's settings (the caller's completed, never the caller's object)
    out: Path
    rank: int
    world: int
    device: torch.device
    vocab: Vocabulary
    stream: BatchStream
    lm: LanguageModel
    optimizer: torch.optim.Optimizer
    state: LstmState  # carried from step to step (truncated BPTT)
    sampler: torch.Generator  # the sampled softmax's negatives
    resumed: bool
    step: int = 0
    tokens: int = 0  # over all processes
    elapsed: float = 0.0  # seconds spent by earlier invocations
    start: float = field(default_factory=time.time)  # when this invocation's loop started
    last_checkpoint: float = field(default_factory=time.time)
    owns_group: bool = False  # train() created the process group: it tears it down at the end

    @property
    def checkpoint_file(self) -> Path:
        return self.out / CHECKPOINT_NAME

    def seconds(self) -> float:
        """Training time so far, earlier invocations included."""
        return self.elapsed + time.time() - self.start


@dataclass
class _Window:
    """What the next log row averages: the steps since the last one."""

    loss: float = 0.0
    n: int = 0
    directions: torch.Tensor = field(default_factory=lambda: torch.zeros(2))  # fwd, bwd NLL
    start: float = field(default_factory=time.time)


class _StopSignals:
    """SIGINT / SIGTERM ask the loop to stop (and save); the first restores the previous
    handler, so a second Ctrl-C interrupts. Signals can be caught only in the main thread.

    ``second_interrupts=False`` (under torchrun): every signal only asks to stop. One Ctrl-C
    reaches a rank twice there (from the terminal, to the whole process group, and forwarded
    by torchrun's agent); the second used to interrupt the save the first had asked for."""

    def __init__(self, second_interrupts: bool = True) -> None:
        self.received: str | None = None
        self.previous: dict = {}
        self.second_interrupts = second_interrupts

    def __enter__(self) -> _StopSignals:
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self.previous[s] = signal.signal(s, self._on_signal)
        return self

    def _on_signal(self, signum, frame) -> None:
        self.received = self.received or signal.Signals(signum).name
        if self.second_interrupts:
            signal.signal(signum, self.previous[signum])

    def __exit__(self, *exc) -> None:
        for s, handler in self.previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(s, handler)


def torchrun_world_size() -> int:
    """The number of processes torchrun launched this one among (``WORLD_SIZE``; 1 outside
    torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_distributed(device: str) -> bool:
    """Initialise torch.distributed for a process launched by torchrun (``WORLD_SIZE`` > 1):
    gloo on CPU, nccl on CUDA. True when this call created the process group."""
    if torchrun_world_size() == 1:
        return False
    import torch.distributed as dist

    if dist.is_initialized():
        return False
    dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return True


def _distributed(device: str) -> tuple[int, int, bool]:
    """(rank, world_size, whether the process group is this run's to tear down)."""
    created = init_distributed(device)
    world = torchrun_world_size()
    if world == 1:
        return 0, 1, False
    import torch.distributed as dist

    return dist.get_rank(), world, created


def _make_optimizer(cfg: TrainConfig, params) -> torch.optim.Optimizer:
    if cfg.optimizer == "adagrad":  # bilm-tf: AdagradOptimizer(0.2, initial_accumulator 1.0)
        return torch.optim.Adagrad(params, lr=cfg.lr, initial_accumulator_value=1.0)
    return torch.optim.Adam(params, lr=cfg.lr)


def _make_model(cfg: TrainConfig, ckpt: dict | None,
                vocab: Vocabulary) -> tuple[LanguageModel, str]:  # fmt: skip
    """The model to train (a checkpoint's, a pretrained one, or a new one) and a note."""
    model_kwargs = {"dropout": cfg.dropout, "n_negative": cfg.n_negative}
    if ckpt is not None:
        return model_from_checkpoint(ckpt, **model_kwargs)[0], ""
    if cfg.init_from:
        lm, _, note = load_pretrained(cfg.init_from, vocab, **model_kwargs)
        return lm, note
    lm = LanguageModel(resolve_config(cfg.config), len(vocab), **model_kwargs)
    lm.init_weights()
    return lm, ""


def _setup(cfg: TrainConfig) -> Run:
    """Settings, processes, data, model, optimizer and (resuming) every saved state."""
    cfg.check()
    ckpt_file = Path(cfg.out) / CHECKPOINT_NAME
    ckpt = None
    if cfg.resume:
        if not ckpt_file.is_file():
            raise InputError(f"{ckpt_file}: nothing to resume (no checkpoint)")
        ckpt = load_checkpoint(ckpt_file)
    cfg = _effective_config(cfg, ckpt_file, ckpt)
    rank, world, owns_group = _distributed(cfg.device)
    tune_malloc("train")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch.device(cfg.device)

    # data
    files = expand_corpus(cfg.corpus)
    if ckpt is not None:
        vocab = Vocabulary(ckpt["vocab"], where=f"{ckpt_file} vocabulary")
    else:
        vocab = Vocabulary.load(cfg.vocab)
    stream = BatchStream(files, vocab, cfg.batch_size, cfg.unroll, seed=cfg.seed,
                         epochs=cfg.epochs if cfg.epochs else (None if (cfg.max_tokens or
                         cfg.max_steps or cfg.max_minutes) else 1),
                         rank=rank, world_size=world, tokenizer=cfg.tokenizer)  # fmt: skip

    # model + optimizer
    torch.manual_seed(cfg.seed)
    lm, note = _make_model(cfg, ckpt, vocab)
    lm.to(device).train()
    run = Run(cfg=cfg, out=Path(cfg.out), rank=rank, world=world, device=device, vocab=vocab,
              stream=stream, lm=lm, optimizer=_make_optimizer(cfg, lm.parameters()),
              state=lm.zero_state(cfg.batch_size, device),
              sampler=torch.Generator(device=device).manual_seed(cfg.seed * 1000 + rank),
              resumed=ckpt is not None, owns_group=owns_group)  # fmt: skip

    # resume: every state exactly where the checkpoint left it
    if ckpt is not None:
        run.optimizer.load_state_dict(ckpt["optimizer"])
        if len(ckpt["ranks"]) != world:
            raise InputError(f"{ckpt_file} was written by {len(ckpt['ranks'])} process(es); "
                             f"resume with the same number, not {world}")  # fmt: skip
        mine = ckpt["ranks"][rank]
        run.stream.load_state_dict(mine["data"])
        run.state = LstmState(mine["h"].to(device), mine["c"].to(device))
        torch.set_rng_state(mine["torch_rng"])
        run.sampler.set_state(mine["sampler_rng"])
        run.step, run.tokens, run.elapsed = ckpt["step"], ckpt["tokens"], ckpt["elapsed"]
    if rank == 0:
        run.out.mkdir(parents=True, exist_ok=True)
        if ckpt is None:
            vocab.save(run.out / "vocab.txt")
            lm.config.save(run.out / "options.json")
            (run.out / "log.jsonl").write_text("")
        if note:
            print(f"init-from {cfg.init_from}: {note}")
    return run


# ---------------------------------------------------------------------- the steps of the loop
def _should_stop(run: Run, signalled: str | None) -> tuple[str | None, bool]:
    """(why to stop, or None; whether a checkpoint is due), decided before each step. Under
    torchrun every rank takes the same decisions: collectives follow both."""
    cfg, now = run.cfg, time.time()
    reason = None
    if cfg.max_steps is not None and run.step >= cfg.max_steps:
        reason = "max_steps"
    elif cfg.max_tokens is not None and run.tokens >= cfg.max_tokens:
        reason = "max_tokens"
    elif cfg.max_minutes is not None and now - run.start >= 60 * cfg.max_minutes:
        reason = "max_minutes"
    elif signalled:
        reason = signalled
    checkpoint_due = now - run.last_checkpoint >= 60 * cfg.checkpoint_minutes
    if run.world > 1:
        import torch.distributed as dist

        flags = torch.tensor([reason is not None, checkpoint_due], dtype=torch.int32)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        reason = reason or ("peer" if flags[0].item() else None)
        checkpoint_due = bool(flags[1].item())
    return reason, checkpoint_due


def _average_gradients(lm: LanguageModel, world: int) -> None:
    """Average gradients over processes (one flat all-reduce)."""
    import torch.distributed as dist

    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in lm.parameters()]
    flat = torch.cat([g.reshape(-1) for g in grads]) / world
    dist.all_reduce(flat)
    for g, new in zip(grads, torch._utils._unflatten_dense_tensors(flat, grads), strict=True):
        g.copy_(new)


def _train_step(run: Run, batch: Batch) -> tuple[torch.Tensor, ...]:
    """Forward, loss, backward, (average), clip, update -> (loss, nll, count, grad_norm)."""
    autocast = (torch.autocast(run.device.type, dtype=torch.bfloat16) if run.cfg.bf16
                else contextlib.nullcontext())  # fmt: skip
    with autocast:
        hidden, run.state = run.lm(batch, run.state)
        loss, nll, count = run.lm.loss(hidden, batch.targets, batch.weights,
                                       generator=run.sampler)  # fmt: skip
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    lr = learning_rate(run.cfg, run.tokens)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    if run.world > 1:
        _average_gradients(run.lm, run.world)
    grad_norm = torch.nn.utils.clip_grad_norm_(run.lm.parameters(), run.cfg.clip)
    run.optimizer.step()
    return loss, nll, count, grad_norm


def _log_window(run: Run, window: _Window, grad_norm: torch.Tensor, n: int, log, bar) -> None:
    """One row of log.jsonl: the mean over the window (``n``: tokens of the last step)."""
    mean = window.loss / window.n
    fwd, bwd = (window.directions / window.n).tolist()
    row = {"step": run.step, "tokens": run.tokens, "loss": round(mean, 5),
           "ppl": round(math.exp(min(mean, 50)), 3),
           "fwd_ppl": round(math.exp(min(fwd, 50)), 3),
           "bwd_ppl": round(math.exp(min(bwd, 50)), 3),
           "grad_norm": round(float(grad_norm), 4), "lr": run.optimizer.param_groups[0]["lr"],
           "elapsed_s": round(run.seconds(), 1),
           "tokens_per_s": round(window.n * n / (time.time() - window.start), 1)}  # fmt: skip
    log.write(json.dumps(row) + "\n")
    log.flush()
    if bar is not None:
        bar.set_postfix(loss=f"{mean:.3f}", ppl=f"{row['ppl']:.1f}")


def _weights(run: Run) -> dict:
    return {"format": FORMAT, "options": run.lm.config.to_options(), "vocab": run.vocab.tokens,
            "model": {k: v.cpu() for k, v in run.lm.state_dict().items()}}  # fmt: skip


def _save_checkpoint(run: Run) -> None:
    """out/checkpoint.pt (format elmokit-train-1) with every rank's data position, LSTM state
    and RNGs; a collective under torchrun (every rank calls it), rank 0 writes."""
    mine = {"data": run.stream.state_dict(), "h": run.state.h.cpu(), "c": run.state.c.cpu(),
            "torch_rng": torch.get_rng_state(), "sampler_rng": run.sampler.get_state()}  # fmt: skip
    ranks = [mine]
    if run.world > 1:
        import torch.distributed as dist

        ranks = [None] * run.world
        dist.all_gather_object(ranks, mine)
    if run.rank == 0:
        atomic_save({
            **_weights(run), "optimizer": run.optimizer.state_dict(),
            "train_config": asdict(run.cfg), "step": run.step, "tokens": run.tokens,
            "elapsed": run.seconds(), "ranks": ranks,
        }, run.checkpoint_file)  # fmt: skip
        _plot(run.out / "log.jsonl", run.out / "loss.png")
    run.last_checkpoint = time.time()


def _save_snapshot(run: Run) -> None:
    """The weights alone, in out/snapshots (all ranks hold the same; rank 0 calls this)."""
    atomic_save({**_weights(run), "step": run.step, "tokens": run.tokens,
                 "elapsed": run.seconds()},
                run.out / "snapshots" / f"tokens-{run.tokens:012d}.pt")  # fmt: skip


def _snapshot_due(run: Run, n: int) -> bool:
    """Whether the last step (``n`` tokens) crossed a multiple of ``snapshot_tokens``."""
    every = run.cfg.snapshot_tokens
    return bool(every) and run.rank == 0 and run.tokens // every > (run.tokens - n) // every


def _progress_bar(run: Run):
    if not run.cfg.progress or run.rank != 0:
        return None
    from tqdm import tqdm

    cfg = run.cfg
    total = cfg.max_tokens
    if total is None and cfg.max_steps is not None:
        total = cfg.max_steps * cfg.batch_size * cfg.unroll * run.world
    return tqdm(total=total, initial=min(run.tokens, total or run.tokens), unit="tok",
                unit_scale=True, dynamic_ncols=True, smoothing=0.05)  # fmt: skip


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


def _finish(run: Run, reason: str | None) -> dict:
    """summary.json (and under torchrun each rank's summary with a parameter checksum), the
    new run's train_config.json; tears the process group down."""
    summary = {"step": run.step, "tokens": run.tokens, "stopped": reason,
               "elapsed_s": round(run.seconds(), 1), "checkpoint": str(run.checkpoint_file)}  # fmt: skip
    if run.world > 1:  # every process must end with the same weights
        import torch.distributed as dist

        checksum = sum(float(p.detach().double().sum()) for p in run.lm.parameters())
        sums: list = [None] * run.world
        dist.all_gather_object(sums, checksum)
        summary.update(world_size=run.world, param_checksums=sums,
                       ranks_agree=all(s == sums[0] for s in sums))  # fmt: skip
        (run.out / f"summary.rank{run.rank}.json").write_text(json.dumps(summary) + "\n")
        # every rank done with every collective before any tears its gloo pairs down
        dist.barrier()
        if run.owns_group:  # a caller's group (the CLI's) is the caller's to end
            dist.destroy_process_group()
    if run.rank == 0:
        (run.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        config_file = run.out / "train_config.json"
        if not run.resumed and run.cfg.init_from is None and not config_file.exists():
            config_file.write_text(json.dumps(asdict(run.cfg), indent=2) + "\n")
    return summary


# ---------------------------------------------------------------------- the loop
def train(cfg: TrainConfig) -> dict:
    """Train (or resume, or fine-tune) a biLM; returns a summary dict (also in out/summary.json).
    ``cfg`` is not changed (a resumed run completes a copy of it from the checkpoint)."""
    threads_before = torch.get_num_threads()
    run = _setup(cfg)
    window, reason = _Window(), None
    bar = _progress_bar(run)
    log = open(run.out / "log.jsonl", "a") if run.rank == 0 else None  # noqa: SIM115
    run.start = run.last_checkpoint = time.time()
    try:
        with _StopSignals(second_interrupts=run.world == 1) as signals:  # save, then stop
            while True:
                reason, checkpoint_due = _should_stop(run, signals.received)
                if reason:
                    break
                if checkpoint_due and run.step > 0:
                    _save_checkpoint(run)
                try:
                    batch = next(run.stream).to(run.device)
                except StopIteration:
                    reason = "end_of_data"
                    break
                loss, nll, count, grad_norm = _train_step(run, batch)
                n = batch.n_tokens * run.world
                run.step += 1
                run.tokens += n
                if _snapshot_due(run, n):
                    _save_snapshot(run)
                window.loss += loss.item()
                window.n += 1
                window.directions += (nll / count.clamp(min=1)).cpu()
                if bar is not None:
                    bar.update(n)
                if run.step % run.cfg.log_every == 0 and run.rank == 0:
                    _log_window(run, window, grad_norm, n, log, bar)
                    window = _Window()
    finally:
        torch.set_num_threads(threads_before)
        if bar is not None:
            bar.close()
        if log is not None:
            log.close()
    _save_checkpoint(run)
    return _finish(run, reason)
