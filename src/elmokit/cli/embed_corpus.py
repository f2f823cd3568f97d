"""``elmokit embed-corpus INPUT... OUT_DIR``: a corpus -> output shards, on Ray (resumable).

Thin edge over :func:`elmokit.ray.embed_corpus`; imports Ray only when the command runs."""

from __future__ import annotations

import logging
import warnings

import click

from elmokit.cli import LazyChoice
from elmokit.errors import ElmoWarning


@click.command("embed-corpus")
@click.argument(
    "inputs", metavar="INPUT...", nargs=-1, required=True, type=click.Path(dir_okay=False)
)
@click.argument("out_dir", metavar="OUT_DIR", type=click.Path(file_okay=False))
@click.option(
    "--ray-address",
    default=None,
    metavar="auto|ADDR",
    help="an existing Ray cluster ('auto': the one this node belongs to); "
    "default: a local Ray started for the run",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Ray actors embedding at once (default: every CPU / --threads-per-worker)",
)
@click.option(
    "--output-format",
    type=LazyChoice("elmokit.ray:CORPUS_FORMATS"),
    default="all",
    show_default=True,
    help="all / top / average: token vectors, HDF5 in the `elmokit embed` layout; "
    "sentence: one vector per line (layer average, mean over tokens), parquet",
)
@click.option(
    "--shard-lines",
    type=click.IntRange(min=1),
    default=None,
    help="input lines per output shard [default: 100,000, or fewer so that a smaller "
    "corpus still makes 64 shards (a multiple of --chunk-lines)]",
)
@click.option(
    "--model",
    "-m",
    default=None,
    help="bundled/known model name or a model directory (the same path on every node)",
)
@click.option(
    "--mode",
    type=LazyChoice("elmokit.inference:MODES"),
    default="exact",
    show_default=True,
    help="as for `elmokit embed`",
)
@click.option(
    "--text-column",
    default="text",
    show_default=True,
    help="the column of parquet inputs holding the sentences",
)
@click.option("--skip-empty", is_flag=True, help="write an empty entry for blank lines")
@click.option(
    "--threads-per-worker",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="CPUs (torch threads) per Ray actor",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option(
    "--chunk-lines",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="sentences per batching window and progress report (a Ray task writes a whole shard)",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="sentences/s, tokens/s and ETA on stderr (default: on a terminal)",
)
def embed_corpus(
    inputs,
    out_dir,
    ray_address,
    workers,
    output_format,
    shard_lines,
    model,
    mode,
    text_column,
    skip_empty,
    threads_per_worker,
    batch_size,
    chunk_lines,
    progress,
):
    """Embed text files (one whitespace-tokenized sentence per line) or parquet files into
    OUT_DIR: one output shard per --shard-lines input lines, plus manifest.json.

    Running the same command again skips the shards the manifest proves finished and redoes
    the rest (after a crash or kill the outputs are the same bytes); other settings with the
    same OUT_DIR are refused.
    """
    from elmokit.ray import embed_corpus as run

    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)  # "bars disabled"
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # "execution finished in ..."
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = run(
            inputs,
            out_dir,
            model=model,
            workers=workers,
            output_format=output_format,
            shard_lines=shard_lines,
            mode=mode,
            ray_address=ray_address,
            text_column=text_column,
            skip_empty=skip_empty,
            threads_per_worker=threads_per_worker,
            batch_size=batch_size,
            chunk_lines=chunk_lines,
            progress=progress,
        )
    for warning in caught:  # e.g. fewer shards than workers (one line each)
        if issubclass(warning.category, ElmoWarning):  # not Ray's own
            click.echo(f"warning: {warning.message}", err=True)
    click.echo(str(summary))
