"""The ``elmokit`` command.

Thin edge: every command parses its arguments, calls the library, and formats the result.
Subcommands live next to the code they drive and are imported only when used, so
``elmokit --help`` stays fast. An :class:`~elmokit.errors.ElmoError` becomes one line on
stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from elmokit.errors import ElmoError

# command name -> "module:attribute" of a click.Command. Add new commands here.
LAZY_COMMANDS: dict[str, str] = {
    "embed": "elmokit.commands.embed:embed",
    "vocab": "elmokit.training.cli:vocab",
    "train": "elmokit.training.cli:train",
    "perplexity": "elmokit.training.cli:perplexity",
    "export": "elmokit.training.cli:export",
    "evaluate": "elmokit.downstream.cli:evaluate",
    "classify": "elmokit.downstream.cli:classify",
    "plot": "elmokit.downstream.cli:plot",
    "neighbors": "elmokit.downstream.cli:neighbors",
    "serve": "elmokit.server.cli:serve",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        available = []
        for name, target in LAZY_COMMANDS.items():
            module = target.split(":")[0]
            if importlib.util.find_spec(module.rsplit(".", 1)[0]) is not None:
                available.append(name)
        return sorted(set(available) | set(super().list_commands(ctx)))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands:
            return self.commands[name]
        target = LAZY_COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("elmokit"):
                return None
            raise click.ClickException(
                f"command {name!r} needs the package {exc.name!r}: pip install 'elmokit[all]'"
            ) from None
        return getattr(module, attr)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ElmoError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="elmokit")
def main() -> None:
    """ELMo contextual word embeddings: embed, train, evaluate, serve."""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
