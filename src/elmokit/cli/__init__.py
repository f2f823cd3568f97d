"""The ``elmokit`` command.

Thin edge: every command parses its arguments, calls the library, and formats the result.
One module per area (:mod:`.embed`, :mod:`.training`, :mod:`.downstream`, :mod:`.serve`);
a module is imported only when its command is used, and none imports torch or an optional
dependency at import time, so ``elmokit --help`` stays fast. An
:class:`~elmokit.errors.ElmoError` becomes one line on stderr and exit status 1, never a
traceback; so does a missing optional dependency, with the extra that provides it.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from elmokit.errors import ElmoError

# command name -> ("module:attribute" of a click.Command, the pip extra it needs beyond the
# core dependencies or None). Add new commands here.
LAZY_COMMANDS: dict[str, tuple[str, str | None]] = {
    "embed": ("elmokit.cli.embed:embed", None),
    "vocab": ("elmokit.cli.training:vocab", None),
    "train": ("elmokit.cli.training:train", None),
    "perplexity": ("elmokit.cli.training:perplexity", None),
    "export": ("elmokit.cli.training:export", None),
    "average-checkpoints": ("elmokit.cli.training:average_checkpoints", None),
    "evaluate": ("elmokit.cli.downstream:evaluate", "downstream"),
    "classify": ("elmokit.cli.downstream:classify", "downstream"),
    "plot": ("elmokit.cli.downstream:plot", "downstream"),
    "neighbors": ("elmokit.cli.downstream:neighbors", "downstream"),
    "serve": ("elmokit.cli.serve:serve", "serve"),
    "convert": ("elmokit.cli.convert:convert", None),
    "vectors": ("elmokit.cli.vectors:vectors", None),
    "export-onnx": ("elmokit.cli.onnx:export_onnx", "onnx"),
    "embed-corpus": ("elmokit.cli.embed_corpus:embed_corpus", "ray"),
}


def missing_dependency_hint(command: str | None, module: str) -> str:
    """The one-line message for ``command`` failing to import ``module``: names the pip
    extra that ``command`` needs (see :data:`LAZY_COMMANDS`)."""
    top = module.split(".")[0]
    extra = LAZY_COMMANDS.get(command or "", ("", None))[1]
    fix = f"pip install 'elmokit[{extra}]'" if extra else "reinstall elmokit (pip install elmokit)"
    what = f"command {command!r}" if command else "this command"
    return f"{what} needs the Python package {top!r}, which is not installed: {fix}"


class LazyChoice(click.Choice):
    """A :class:`click.Choice` over the sequence at ``"module:attribute"``, imported on first
    use, so that a command module can offer a library's choices without importing it."""

    def __init__(self, target: str, case_sensitive: bool = True) -> None:
        # no super().__init__: it would store the choices now
        self.target = target
        self.case_sensitive = case_sensitive

    @property
    def choices(self) -> tuple[Any, ...]:  # type: ignore[override]
        module, attr = self.target.split(":")
        return tuple(getattr(importlib.import_module(module), attr))


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(LAZY_COMMANDS) | set(super().list_commands(ctx)))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands:
            return self.commands[name]
        if name not in LAZY_COMMANDS:
            return None
        module_name, attr = LAZY_COMMANDS[name][0].split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if not exc.name or exc.name.split(".")[0] == "elmokit":
                raise
            raise click.ClickException(missing_dependency_hint(name, exc.name)) from None
        return getattr(module, attr)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ElmoError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)
        except ModuleNotFoundError as exc:
            if not exc.name or exc.name.split(".")[0] == "elmokit":
                raise
            click.echo(
                f"error: {missing_dependency_hint(ctx.invoked_subcommand, exc.name)}", err=True
            )
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="elmokit")
def main() -> None:
    """ELMo contextual word embeddings: embed, train, evaluate, serve."""
