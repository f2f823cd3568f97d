"""The documented raw-text tokenizer and the command group."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from elmokit import tokenize
from elmokit.cli import main


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("Don't panic, it's 3.5 km!", ["Do", "n't", "panic", ",", "it", "'s", "3.5", "km", "!"]),
        ("The U.S. e-mail cost $3,000.50.", ["The", "U.S.", "e-mail", "cost", "$", "3,000.50", "."]),
        ("naïve café (Zürich)", ["naïve", "café", "(", "Zürich", ")"]),
        ("", []),
        ("   \t\n", []),
    ],
)
def test_tokenize(text, tokens):
    assert tokenize(text) == tokens


def test_help_lists_embed_and_version():
    runner = CliRunner()
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0 and "embed" in result.output
    assert runner.invoke(main, ["--version"]).output.strip().endswith("0.1.0")
    assert runner.invoke(main, ["no-such-command"]).exit_code == 2
