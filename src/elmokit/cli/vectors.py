"""``elmokit vectors``: static word vectors (:mod:`elmokit.vectors`) written for gensim,
an embedding layer, or numpy."""

from __future__ import annotations

import click


@click.command()
@click.argument("output", type=click.Path(dir_okay=False))
@click.option(
    "--vocab",
    "vocab_file",
    type=click.Path(dir_okay=False),
    help="Words to embed, one a line (first field). Context-free: required unless "
    "--words; pooled: restricts the vocabulary.",
)
@click.option("--words", default=None, help="Words to embed, comma-separated.")
@click.option(
    "--corpus",
    "-c",
    "corpus",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Text file(s), one tokenized sentence per line: pool each word's contextual "
    "vectors over its occurrences (repeatable). Without it: context-free vectors.",
)
@click.option(
    "--layer", default="average", show_default=True, help="Pooled: 0|1|2|top|average|w0,w1,w2."
)
@click.option(
    "--min-count",
    type=int,
    default=1,
    show_default=True,
    help="Pooled: drop words seen fewer times.",
)
@click.option("--lowercase", is_flag=True, help="Pooled: pool 'Cell' with 'cell'.")
@click.option("--max-sentences", type=int, default=None, help="Pooled: read at most this many.")
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option(
    "--format",
    "fmt",
    default=None,
    type=click.Choice(["word2vec", "word2vec-binary", "npy"]),
    help="Default by OUTPUT's suffix: .bin binary word2vec, .npy numpy + "
    ".vocab.txt, else word2vec text.",
)
@click.option("--model", default=None, help="ELMo model name or directory (default: bundled).")
def vectors(
    output,
    vocab_file,
    words,
    corpus,
    layer,
    min_count,
    lowercase,
    max_sentences,
    batch_size,
    fmt,
    model,
):
    """Write static word vectors to OUTPUT: context-free (the character layer's vector of
    every word: any word, misspellings included) or, with --corpus, each word's contextual
    vectors averaged over the corpus."""
    from elmokit.downstream.features import parse_layer
    from elmokit.embedder import Elmo
    from elmokit.errors import InputError
    from elmokit.vectors import context_free_vectors, pooled_vectors, read_corpus, read_words

    vocab = read_words(vocab_file) if vocab_file else None
    if words:
        vocab = (vocab or []) + [w for w in words.split(",") if w]
    elmo = Elmo.load(model)
    if corpus:
        result = pooled_vectors(elmo, read_corpus(corpus), parse_layer(layer), vocab, min_count,
                                lowercase, batch_size, max_sentences=max_sentences,
                                progress=True)  # fmt: skip
    elif vocab is None:
        raise InputError("give --vocab or --words (context-free), or --corpus (pooled)")
    else:
        result = context_free_vectors(elmo, vocab, batch_size=max(batch_size, 256))
    paths = result.save(output, fmt)
    kind = "pooled" if corpus else "context-free"
    click.echo(
        f"wrote {len(result)} {kind} word vectors of {result.dim} dims: "
        + ", ".join(str(p) for p in paths)
    )
