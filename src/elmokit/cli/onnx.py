"""``elmokit export-onnx`` (needs ``elmokit[onnx]``): the biLM as an ONNX graph."""

from __future__ import annotations

import click


@click.command()
@click.argument("output", type=click.Path(dir_okay=False))
@click.option("--model", default=None, help="ELMo model name or directory (default: bundled).")
@click.option("--opset", type=int, default=18, show_default=True)
@click.option(
    "--check/--no-check",
    default=True,
    show_default=True,
    help="Run the exported graph with onnxruntime and compare with elmokit.",
)
def export_onnx(output, model, opset, check):
    """Export the biLM to OUTPUT (.onnx): inputs char_ids (B, T, 50) int64 and lengths (B,)
    int64, output layers (L, B, T, D) float32, any B and T."""
    from elmokit.embedder import Elmo
    from elmokit.onnx_export import check_export, export_onnx

    elmo = Elmo.load(model)
    path = export_onnx(elmo, output, opset)
    click.echo(f"wrote {path} ({path.stat().st_size:,} bytes)")
    if check:
        click.echo(
            f"onnxruntime vs elmokit ({elmo.mode}): max abs difference "
            f"{check_export(elmo, path):.2e}"
        )
