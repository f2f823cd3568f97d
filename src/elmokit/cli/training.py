"""``elmokit vocab | train | perplexity | export | average-checkpoints`` — thin click wrappers
over the library."""

from __future__ import annotations

import faulthandler
import json
import os
import sys
from pathlib import Path

import click

from elmokit.training.vocab import TOKENIZERS

_tokenizer = click.option(
    "--tokenizer", type=click.Choice(TOKENIZERS), default="whitespace", show_default=True,
    help="whitespace: one pre-tokenized sentence per line; elmokit: raw text, "
    "elmokit.tokenize.tokenize",
)  # fmt: skip


@click.command()
@click.argument("corpus", nargs=-1, required=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="vocabulary file to write")  # fmt: skip
@click.option("--min-count", type=int, default=1, show_default=True)
@click.option("--max-size", type=int, default=None, help="at most N entries (specials included)")
@_tokenizer
def vocab(corpus, output, min_count, max_size, tokenizer):
    """Count words of CORPUS files (globs allowed) into a bilm-tf vocabulary file:
    <S>, </S>, <UNK>, then words by descending count."""
    from elmokit.training.vocab import build_vocabulary

    vocabulary, counts = build_vocabulary(corpus, min_count, max_size, tokenizer)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    vocabulary.save(output)
    total = sum(counts.values())
    covered = sum(counts[w] for w in vocabulary.tokens[3:])
    click.echo(f"{output}: {len(vocabulary):,} entries; {total:,} tokens, {len(counts):,} types; "
               f"coverage {covered / total:.2%}")  # fmt: skip


@click.command()
@click.option("--corpus", multiple=True,
              help="training files (glob), repeatable; required unless --resume")  # fmt: skip
@click.option("--vocab", "vocab_file", default=None, type=click.Path(),
              help="vocabulary file; required unless --resume")  # fmt: skip
@click.option("--config", default=None,
              help="tiny | cpu-small | cpu-medium | small | medium | original | FILE.json "
              "[default: tiny]")  # fmt: skip
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--init-from", default=None, help="checkpoint or model dir to fine-tune")
@click.option("--max-tokens", type=int, default=None)
@click.option("--epochs", type=int, default=None)
@click.option("--max-steps", type=int, default=None)
@click.option("--max-minutes", type=float, default=None, help="stop (and save) after N minutes")
@click.option("--batch-size", type=int, default=None, help="[default: 64]")
@click.option("--unroll", type=int, default=None, help="[default: 20]")
@click.option("--optimizer", type=click.Choice(["adagrad", "adam"]), default=None,
              help="[default: adagrad]")  # fmt: skip
@click.option("--lr", type=float, default=None,
              help="default 0.2 (adagrad) / 0.001 (adam); a schedule's peak")  # fmt: skip
@click.option("--lr-schedule", type=click.Choice(["constant", "linear", "cosine"]), default=None,
              help="linear / cosine: decay the lr to --min-lr by --decay-tokens "
              "[default: constant]")  # fmt: skip
@click.option("--warmup-tokens", type=int, default=None,
              help="raise the lr linearly from 0 over the run's first N tokens [default: 0]")  # fmt: skip
@click.option("--decay-tokens", type=int, default=None,
              help="linear / cosine: reach --min-lr after N tokens of the run "
              "[default: --max-tokens]")  # fmt: skip
@click.option("--min-lr", type=float, default=None,
              help="where linear / cosine end [default: 0]")  # fmt: skip
@click.option("--clip", type=float, default=None, help="[default: 10.0]")
@click.option("--dropout", type=float, default=None, help="[default: 0.1]")
@click.option("--n-negative", type=int, default=None, help="[default: 4096]")
@click.option("--seed", type=int, default=None, help="[default: 0]")
@click.option("--device", default="cpu", show_default=True)
@click.option("--bf16/--no-bf16", default=None, help="bf16 autocast [default: no]")
@click.option("--threads", type=int, default=None, help="torch threads per process")
@click.option("--checkpoint-minutes", type=float, default=10.0, show_default=True)
@click.option(
    "--snapshot-tokens",
    type=int,
    default=None,
    help="also keep the weights every N tokens in OUT/snapshots (learning curves)",
)
@click.option("--log-every", type=int, default=10, show_default=True)
@click.option("--resume", is_flag=True,
              help="continue from OUT/checkpoint.pt exactly, with the run's settings (corpus, "
              "vocab, config, batch size, ...) from the checkpoint; giving one that differs is an "
              "error")  # fmt: skip
@click.option("--no-progress", is_flag=True)
@click.option("--tokenizer", type=click.Choice(TOKENIZERS), default=None,
              help="whitespace: one pre-tokenized sentence per line; elmokit: raw text, "
              "elmokit.tokenize.tokenize [default: whitespace]")  # fmt: skip
def train(corpus, vocab_file, config, out, init_from, max_tokens, epochs, max_steps, max_minutes,
          batch_size, unroll, optimizer, lr, lr_schedule, warmup_tokens, decay_tokens, min_lr,
          clip, dropout, n_negative, seed, device, bf16,
          threads, checkpoint_minutes, snapshot_tokens, log_every, resume, no_progress, tokenizer):  # fmt: skip
    """Train a biLM (forward + backward LM, sampled softmax, truncated BPTT) into OUT."""
    from elmokit.training.train import TrainConfig, init_distributed, torchrun_world_size
    from elmokit.training.train import train as run

    cfg = TrainConfig(
        corpus=list(corpus) or None, vocab=vocab_file, out=out, config=config, init_from=init_from,
        max_tokens=max_tokens, epochs=epochs, max_steps=max_steps, max_minutes=max_minutes,
        batch_size=batch_size, unroll=unroll, tokenizer=tokenizer, seed=seed,
        optimizer=optimizer, lr=lr, lr_schedule=lr_schedule, warmup_tokens=warmup_tokens,
        decay_tokens=decay_tokens, min_lr=min_lr,
        clip=clip, dropout=dropout, n_negative=n_negative, device=device, bf16=bf16,
        threads=threads, checkpoint_minutes=checkpoint_minutes, snapshot_tokens=snapshot_tokens,
        log_every=log_every,
        resume=resume, progress=not no_progress,
    )  # fmt: skip
    torchrun_rank = torchrun_world_size() > 1
    if torchrun_rank:
        # a crash in C++ (gloo) prints every thread's Python stack
        faulthandler.enable()
        init_distributed(device)
    summary = run(cfg)
    click.echo(json.dumps(summary))
    if torchrun_rank:
        # Everything is written and closed (checkpoint, logs, summaries; every rank has passed
        # the final barrier). End the rank without tearing gloo down: its pairs and worker
        # threads, destroyed while the peer rank closes its sockets or during interpreter
        # finalization, occasionally aborted a rank ("terminate called without an active
        # exception") after its work was done. os._exit skips both.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


@click.command()
@click.argument("model")
@click.option("--corpus", multiple=True, required=True, help="files (glob), repeatable")
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--unroll", type=int, default=20, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@_tokenizer
@click.option("--quiet", "-q", is_flag=True, help="no progress bar")
def perplexity(model, corpus, batch_size, unroll, device, tokenizer, quiet):
    """Forward, backward and mean perplexity (full softmax) of MODEL (a checkpoint, a training
    directory, an exported model directory with vocab.txt + softmax.hdf5, or a bundled model's
    name such as en-small) on CORPUS."""
    from elmokit.training.checkpoint import load_pretrained
    from elmokit.training.evaluate import perplexity as run

    lm, vocab, _ = load_pretrained(model)
    if vocab is None:
        from elmokit.errors import InputError

        raise InputError(f"{model}: no vocab.txt; perplexity needs the model's vocabulary")
    result = run(
        lm,
        vocab,
        list(corpus),
        batch_size,
        unroll,
        tokenizer,
        device,
        progress=False if quiet else None,
    )
    click.echo(json.dumps({k: round(v, 3) if isinstance(v, float) else v
                           for k, v in result.items()}))  # fmt: skip


@click.command()
@click.argument("checkpoint")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--dtype", type=click.Choice(["float32", "float16"]), default="float32",
              show_default=True, help="float16: a compact gzip'd weights.hdf5 (bundling)")  # fmt: skip
def export(checkpoint, out_dir, dtype):
    """Write CHECKPOINT as OUT_DIR/options.json + weights.hdf5 (AllenNLP / bilm-tf layout),
    vocab.txt, softmax.hdf5 and a model card README.md."""
    from elmokit.training.checkpoint import (
        averaged_tokens,
        export_model,
        load_checkpoint,
        model_from_checkpoint,
    )

    ckpt = load_checkpoint(checkpoint)
    lm, vocabulary = model_from_checkpoint(ckpt)
    card = {"training steps": ckpt["step"], "training tokens": f"{ckpt['tokens']:,}"}
    if "averaged" in ckpt:
        card["weights"] = f"the mean of the checkpoints at {averaged_tokens(ckpt)} tokens"
    export_model(lm, vocabulary, out_dir, card=card, dtype=dtype)
    click.echo(f"{out_dir}: options.json, weights.hdf5, vocab.txt, softmax.hdf5, README.md")


@click.command("average-checkpoints")
@click.argument("checkpoints", nargs=-1, required=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="the averaged checkpoint to write (weights only)")  # fmt: skip
def average_checkpoints(checkpoints, output):
    """Average the weights of CHECKPOINTS (checkpoints or snapshots of one run, e.g. its last
    few RUN/snapshots/tokens-*.pt) into OUTPUT, a weights-only checkpoint that export,
    perplexity and --init-from read. Averaging the late snapshots of a constant-learning-rate
    run usually lowers held-out perplexity (see the en-small model card)."""
    from elmokit.training.checkpoint import atomic_save, averaged_tokens
    from elmokit.training.checkpoint import average_checkpoints as average

    averaged = average(list(checkpoints))
    atomic_save(averaged, output)
    click.echo(
        f"{output}: the mean of {len(checkpoints)} checkpoints (tokens {averaged_tokens(averaged)})"
    )
