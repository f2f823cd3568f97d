"""``elmokit embed INPUT OUTPUT``: a file of sentences -> HDF5 (like ``allennlp elmo``).

Imports torch only when the command runs (see :mod:`elmokit.cli`)."""

from __future__ import annotations

import signal

import click

from elmokit.cli import LazyChoice


def terminate_cleanly():
    """While the block runs, SIGTERM (and SIGHUP) raise ``SystemExit(128 + signal)`` in the
    main thread and Ctrl-C raises KeyboardInterrupt, so the output's temp file is removed on
    the way out (:func:`elmokit.fileio.atomic_write`) instead of being left behind; should
    Python swallow that exception (a signal landing in a ``__del__`` or weakref callback), the
    output is still not committed (:func:`elmokit.fileio.stop_on_signals`)."""
    from elmokit.fileio import stop_on_signals

    def say(signum: int) -> None:
        if signum != signal.SIGINT:
            click.echo(f"terminated ({signal.Signals(signum).name}); output not written", err=True)

    kinds = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    return stop_on_signals(kinds, before=say)


def load_model(model: str | None, options_file: str | None, weight_file: str | None, **kwargs):
    """The model named by ``--model`` or by ``--options-file`` + ``--weight-file``."""
    from elmokit.embedder import Elmo

    if (options_file is None) != (weight_file is None):
        raise click.UsageError("--options-file and --weight-file go together")
    if options_file is not None:
        if model is not None:
            raise click.UsageError("give --model or --options-file/--weight-file, not both")
        return Elmo.from_hdf5(options_file, weight_file, **kwargs)
    return Elmo.load(model, **kwargs)


def model_options(command):
    """The shared ``--model | --options-file F --weight-file F`` options."""
    command = click.option(
        "--weight-file", type=click.Path(), help="bilm-tf/AllenNLP HDF5 weights"
    )(command)
    command = click.option(
        "--options-file", type=click.Path(), help="bilm-tf/AllenNLP options.json"
    )(command)
    return click.option(
        "--model", "-m", default=None, help="bundled/known model name or a model directory"
    )(command)


@click.command()
@click.argument("input_file", metavar="INPUT", type=click.Path(dir_okay=False))
@click.argument("output_file", metavar="OUTPUT", type=click.Path(dir_okay=False))
@model_options
@click.option(
    "--output-format",
    type=LazyChoice("elmokit.embedder:OUTPUT_FORMATS"),
    default="all",
    show_default=True,
    help="all: (3, n, D) per sentence; top: last layer (n, D); average: layer mean (n, D)",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--skip-empty", is_flag=True, help="write an empty (3, 0, D) entry for blank lines")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1, ...")
@click.option(
    "--mode",
    type=LazyChoice("elmokit.inference:MODES"),
    default="exact",
    show_default=True,
    help="exact: fp32, equal to the reference path; fast: bf16 LSTM matmuls where "
    "the CPU has bf16 units, else int8 (mean cosine >= 0.9999 to exact as "
    "measured in docs/speed.md); int8: int8 LSTM matmuls; reference: the plain "
    "BiLM.forward",
)
@click.option(
    "--bucket-batches",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="read this many batches ahead and batch them by length (faster; 1 = file "
    "order); the output is the same",
)
@click.option(
    "--progress/--no-progress", default=None, help="progress bar (default: on a terminal)"
)
@click.option(
    "--tokenize",
    type=LazyChoice("elmokit.tokenize:TOKENIZE_CHOICES"),
    default="whitespace",
    show_default=True,
    help="how a line becomes tokens: whitespace (pre-tokenized lines, as allennlp "
    "elmo) or elmokit (raw text, elmokit.tokenize)",
)
def embed(
    input_file,
    output_file,
    model,
    options_file,
    weight_file,
    output_format,
    batch_size,
    skip_empty,
    device,
    mode,
    bucket_batches,
    progress,
    tokenize,
):
    """Embed INPUT (one sentence per line; whitespace-tokenized unless --tokenize elmokit)
    into the HDF5 file OUTPUT. INPUT "-" is standard input (read once, as it streams).

    One dataset per line keyed by its 0-based line index, plus `sentence_to_index` (JSON).
    """  # noqa: D301
    from elmokit.output import clean_stale_temp_files

    removed, kept = clean_stale_temp_files(output_file)
    for tmp in removed:
        click.echo(f"removed {tmp}, left by an interrupted run", err=True)
    for tmp in kept:
        click.echo(
            f"warning: {tmp} is the temp file of another or an older run; delete it if "
            "no other elmokit is writing this output",
            err=True,
        )
    with terminate_cleanly():
        elmo = load_model(model, options_file, weight_file, device=device, mode=mode)
        summary = elmo.embed_file(
            input_file,
            output_file,
            output_format=output_format,
            batch_size=batch_size,
            skip_empty=skip_empty,
            progress=progress,
            bucket_batches=bucket_batches,
            tokenize=tokenize,
        )
    click.echo(f"model {elmo.name}")
    click.echo(str(summary))
