"""``elmokit convert``: a model from elsewhere -> options.json + weights.hdf5.

Dispatch: ``--from`` picks an entry of :data:`elmokit.interop.CONVERTERS` (``auto``: by the
folder's files, :func:`elmokit.interop.folders.detect_format`); each converter returns a
:class:`~elmokit.interop.ConvertReport`, printed here.
"""

from __future__ import annotations

import click


@click.command()
@click.argument("source", type=click.Path(exists=True))
@click.argument("out", type=click.Path(file_okay=False))
@click.option(
    "--from",
    "kind",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "manylangs", "tfhub", "bilm-tf"]),
    help="The source's format (auto: tell by its files).",
)
@click.option(
    "--lossy",
    is_flag=True,
    help="Write the model even when something cannot be carried over (listed).",
)
@click.option(
    "--options",
    "options_file",
    type=click.Path(exists=True, dir_okay=False),
    help="tfhub / bilm-tf: an options.json for what variable shapes cannot tell "
    "(clips, skip connections, activation).",
)
def convert(source, out, kind, lossy, options_file):
    """Convert the model at SOURCE (an ELMoForManyLangs folder, a TF-Hub ELMo module, a
    bilm-tf checkpoint) into OUT/options.json + OUT/weights.hdf5, and say what could not be
    carried over."""
    from elmokit.interop import convert as run

    options = {"lossy": True} if lossy else {}
    if options_file:
        options["options_file"] = options_file
    click.echo(str(run(source, out, kind, **options)))
