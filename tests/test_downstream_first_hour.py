"""A newcomer's first hour with the downstream tools (tiny random model): plots of your own
text, classify's word2vec feature set and its title line, neighbours without a corpus, and
progress bars that --quiet turns off."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from elmokit.cli import main
from elmokit.errors import InputError
from tests.conftest import TINY_DIR

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytest.importorskip("plotly")

NOTES = [
    "The cell divides into two cells.",
    "She lost her cell phone on the bus, e.g. the 42 bus.",
    "We sat on the river bank.",
    "The bank raised its rates.",
    "A mouse ran under the table.",
    "Click the left Mouse button!",
    "Nothing to see in this line.",
]


def test_plot_words_in_your_own_text(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("\n".join(NOTES) + "\n\n")
    out = tmp_path / "senses"
    res = CliRunner().invoke(
        main,
        [
            "plot",
            str(notes),
            "--words",
            "cell,bank,mouse,zebra",
            "--tokenize",
            "elmokit",
            "-o",
            str(out),
            "--method",
            "pca",
            "--model",
            str(TINY_DIR),
            "--cdn",
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    png, html = out.with_suffix(".png"), out.with_suffix(".html").read_text()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    # every occurrence, coloured by word (one trace per word), hover = the word in context
    for context in (
        "She lost her [cell] phone on the bus , e.g. the 42 ...",
        "The [cell] divides into two cells .",
        "We sat on the river [bank] .",
        "The [bank] raised its rates .",
        "Click the left [Mouse] button !",
    ):
        assert context in html
    assert html.count('"name":"cell (2)"') == 1 and '"name":"mouse (2)"' in html
    assert "6 occurrences of bank, cell, mouse" in html and "not found: zebra" in html
    # whitespace splitting (the default) keeps "bank." as it is: one hit of two
    res = CliRunner().invoke(
        main,
        [
            "plot",
            str(notes),
            "--words",
            "bank",
            "-o",
            str(tmp_path / "ws"),
            "--method",
            "pca",
            "--model",
            str(TINY_DIR),
            "--cdn",
        ],
    )
    assert res.exit_code == 1 and "found 1 occurrence(s) of bank; need at least 3" in res.output


def test_plot_unlabelled_text_and_csv(tmp_path):
    lines = [f"line {i} about {'tea' if i % 2 else 'coffee'} ." for i in range(12)]
    txt, table = tmp_path / "t.txt", tmp_path / "t.csv"
    txt.write_text("\n".join(lines) + "\n")
    table.write_text("text\n" + "\n".join(lines) + "\n")  # no label column
    for path in (txt, table):
        out = tmp_path / path.suffix[1:]
        res = CliRunner().invoke(
            main,
            [
                "plot",
                str(path),
                "-o",
                str(out),
                "--method",
                "pca",
                "--model",
                str(TINY_DIR),
                "--cdn",
            ],
        )
        assert res.exit_code == 0, res.output
        html = out.with_suffix(".html").read_text()
        assert "line 7 about tea ." in html and '"name":"text (12)"' in html
    res = CliRunner().invoke(
        main, ["plot", str(table), "--text-col", "review", "--model", str(TINY_DIR)]
    )
    assert res.exit_code == 1 and "no column 'review'" in res.output


def _write_csv(path, rows):
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


POS = [
    "what a great tasty snack!",
    "I love this tea so much.",
    "great coffee, great price",
    "best cookies ever, love them",
    "wonderful flavour and great value",
]
NEG = [
    "this was stale and awful",
    "terrible taste, do not buy",
    "the box arrived broken",
    "awful smell, threw it away",
    "not good at all, bad value",
]


def test_classify_word2vec_and_title_line(tmp_path):
    pytest.importorskip("gensim")
    rows = [(t, "pos") for t in POS] + [(t, "neg") for t in NEG]
    train = _write_csv(tmp_path / "train.csv", rows * 3)
    test = _write_csv(tmp_path / "test.csv", rows)
    w2v = tmp_path / "w2v.txt"
    w2v.write_text("4 2\ngreat 1 0\nawful 0 1\nlove 1 0.2\nbad 0.1 1\n")  # with the header
    base = [
        "classify",
        str(train),
        str(test),
        "--model",
        str(TINY_DIR),
        "--tokenize",
        "elmokit",
        "--quiet",
    ]
    res = CliRunner().invoke(main, [*base, "--features", "word2vec+elmo"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == (
        f"# classify: model {TINY_DIR} (D=32); 30 train / 10 test texts; "
        "labels neg, pos; tokenize elmokit; whole texts"
    )
    table = [ln.split("|")[1].strip() for ln in lines if ln.startswith("| ")]
    assert table == ["features", "majority", "word2vec", "elmo"]
    assert "| 100 " in res.output  # trained with gensim: 100 dimensions
    res = CliRunner().invoke(
        main, [*base, "--features", "word2vec", "--word2vec", str(w2v), "--json"]
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["model"] is None and (report["train"], report["test"]) == (30, 10)
    assert [r["features"] for r in report["rows"]] == ["majority", "word2vec"]
    assert report["rows"][1]["dim"] == 2 and report["rows"][1]["accuracy"] == 1.0


def test_word2vec_file_errors(tmp_path):
    from elmokit.downstream.features import load_word2vec

    bad = tmp_path / "bad.txt"
    bad.write_text("great 1 0\nawful 0\n")
    with pytest.raises(InputError, match="bad.txt line 2: 1 numbers, expected 2"):
        load_word2vec(bad)
    with pytest.raises(InputError, match="no such word2vec file"):
        load_word2vec(tmp_path / "none.txt")


def test_neighbors_warns_without_a_corpus(tmp_path):
    args = ["neighbors", "cell", "--model", str(TINY_DIR), "--vocab-size", "50", "-k", "2"]
    res = (
        CliRunner(mix_stderr=False).invoke(main, args)
        if _has_mix_stderr()
        else CliRunner().invoke(main, args)
    )
    assert res.exit_code == 0, res.output
    err = res.stderr if _has_mix_stderr() else res.output
    assert "warning: no --corpus: searching " in err and "pass --corpus FILE" in err
    corpus = tmp_path / "c.txt"
    corpus.write_text("my cell phone .\nthe cell divides .\na prison cell .\n")
    res = CliRunner().invoke(main, [*args, "--corpus", str(corpus)])
    assert res.exit_code == 0 and "warning" not in res.output
    assert "3 occurrences of 'cell' indexed (corpus" in res.output


def _has_mix_stderr() -> bool:
    import inspect

    return "mix_stderr" in inspect.signature(CliRunner.__init__).parameters


def test_progress_with_cache_and_quiet(tiny_elmo, capsys):
    from elmokit import Elmo
    from tests.conftest import TINY_OPTIONS, TINY_WEIGHTS

    elmo = Elmo.from_hdf5(TINY_OPTIONS, TINY_WEIGHTS)  # an empty sentence cache
    X = elmo.sentence_vectors(POS + NEG, cache=True, progress=True, batch_size=4)
    err = capsys.readouterr().err
    assert "embedding" in err and "3/3" in err  # 10 sentences in batches of 4
    np.testing.assert_allclose(X, tiny_elmo.sentence_vectors(POS + NEG), atol=1e-5)
    elmo.sentence_vectors(POS + NEG, cache=True, progress=False)
    assert capsys.readouterr().err == ""


def test_max_tokens_cuts_every_feature_set_alike(tmp_path):
    """--max-tokens cuts the texts every feature set reads, not only ELMo's: with the label's
    only clue after the cut, TF-IDF (which reads whole texts otherwise) falls to chance."""
    from elmokit.downstream.features import cut_texts

    assert cut_texts(["Don't stop now, please.", "a b"], 3, "elmokit") == ["Do n't stop", "a b"]
    assert cut_texts(["x  y z"], None) == ["x  y z"]
    with pytest.raises(InputError, match="max_tokens must be at least 1"):
        cut_texts(["x"], 0)
    rows = [
        (f"the item number {i} was {word}", label)
        for i in range(12)
        for word, label in (("great", "pos"), ("awful", "neg"))
    ]
    train = _write_csv(tmp_path / "train.csv", rows)
    test = _write_csv(tmp_path / "test.csv", rows[:8])
    base = ["classify", str(train), str(test), "--features", "tfidf", "--json", "--quiet"]
    whole = json.loads(CliRunner().invoke(main, base).output)
    cut = json.loads(CliRunner().invoke(main, [*base, "--max-tokens", "4"]).output)
    assert whole["max_tokens"] is None and cut["max_tokens"] == 4
    assert whole["rows"][1]["accuracy"] == 1.0
    assert cut["rows"][1]["accuracy"] <= 0.625  # "the item number i": no clue left
    res = CliRunner().invoke(main, [*base, "--max-tokens", "0"])
    assert res.exit_code == 2 and "--max-tokens" in res.output
