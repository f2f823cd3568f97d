"""``elmokit plot`` and ``elmokit neighbors`` with the tiny random model (files produced and
non-trivial; neighbour plumbing; errors)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from elmokit.cli import main
from elmokit.downstream.neighbors import ContextIndex, VectorIndex, WordIndex, read_sentences
from elmokit.errors import InputError
from tests.conftest import TINY_DIR

pytest.importorskip("matplotlib")


def test_plot_sentences_cli(tmp_path):
    pytest.importorskip("openTSNE")
    pytest.importorskip("plotly")
    csv = tmp_path / "d.csv"
    rows = [f"sentence number {i} about {'tea' if i % 2 else 'coffee'}" for i in range(30)]
    csv.write_text(
        "text,label\n"
        + "\n".join(f"{r},{'a' if i % 2 else 'b'}" for i, r in enumerate(rows))
        + "\n"
    )
    out = tmp_path / "img" / "s"
    res = CliRunner().invoke(
        main, ["plot", str(csv), "--out", str(out), "--model", str(TINY_DIR), "--method", "tsne"]
    )
    assert res.exit_code == 0, res.output
    png, html = out.with_suffix(".png"), out.with_suffix(".html")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    text = html.read_text()
    assert "sentence number 7 about tea" in text and "plotly" in text.lower()


def test_plot_words_cli(tmp_path):
    brown = tmp_path / "b.jsonl"
    sents = [
        {
            "tokens": ["The", "cat", "sat", "on", "the", "mat", "."],
            "tags": ["at", "nn", "vbd", "in", "at", "nn", "."],
        },
        {
            "tokens": ["John", "quickly", "ate", "two", "big", "apples"],
            "tags": ["np", "rb", "vbd", "cd", "jj", "nns"],
        },
    ] * 3
    brown.write_text("\n".join(json.dumps(s) for s in sents))
    out = tmp_path / "w"
    res = CliRunner().invoke(
        main,
        [
            "plot",
            str(brown),
            "--out",
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
    assert "NOUN" in html and "[apples]" in html and out.with_suffix(".png").stat().st_size > 5000


def test_plot_errors():
    from elmokit.downstream.plots import project

    with pytest.raises(InputError, match="at least 3"):
        project(np.zeros((2, 4)))
    with pytest.raises(InputError, match="not one of"):
        project(np.random.default_rng(0).normal(size=(5, 4)), "lda")


def test_vector_index_exact_and_hnsw():
    pytest.importorskip("hnswlib")
    x = np.random.default_rng(0).normal(size=(300, 16)).astype(np.float32)
    exact, approx = VectorIndex(x), VectorIndex(x, exact_below=10)
    ids_e, sims_e = exact.search(x[5], 3)
    ids_a, sims_a = approx.search(x[5], 3)
    assert ids_e[0] == ids_a[0] == 5 and sims_e[0] == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(sims_a, sims_e, atol=1e-4)


def test_context_index(tiny_elmo, tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text(
        "the prison cell was cold\nmy cell phone rang\nno match here\nblood cell counts rose\n"
    )
    sents = read_sentences([corpus], contains={"cell"})
    assert len(sents) == 3
    index = ContextIndex.build(tiny_elmo, sents, {"cell"})
    assert len(index) == 3
    hits = index.query("my cell phone rang", "cell", k=5)
    assert len(hits) == 2  # the identical sentence is excluded
    assert all(h.sentence[h.position] == "cell" for h in hits)
    assert hits[0].score >= hits[1].score and "[cell]" in hits[0].highlighted()
    with pytest.raises(InputError, match="does not occur"):
        index.query("no such word", "cell")
    vocab = ["receive", "embedding", "cell", "recieve"]
    got = WordIndex(tiny_elmo, vocab).query("recieve", k=2)
    # brute force: cosine of each word's char-layer vector, embedded alone; itself excluded
    char_layer = {w: tiny_elmo.embed_sentence([w])[0, 0].astype(np.float64) for w in vocab}
    unit = {w: v / np.linalg.norm(v) for w, v in char_layer.items()}
    sims = sorted(((float(unit["recieve"] @ unit[w]), w) for w in vocab[:3]), reverse=True)
    assert [w for w, _ in got] == [w for _, w in sims[:2]]
    np.testing.assert_allclose([s for _, s in got], [s for s, _ in sims[:2]], atol=1e-5)


def test_neighbors_cli(tmp_path):
    res = CliRunner().invoke(
        main, ["neighbors", "cell", "--model", str(TINY_DIR), "-k", "2", "--vocab-size", "50"]
    )
    assert res.exit_code == 0, res.output
    assert res.output.count("[cell]") == 6 and "character-layer neighbours" in res.output
    res = CliRunner().invoke(
        main,
        ["neighbors", "cell", "--corpus", str(tmp_path / "none.txt"), "--model", str(TINY_DIR)],
    )
    assert res.exit_code == 1 and "no such corpus file" in res.output


def test_neighbors_shows_a_progress_bar_unless_quiet(tiny_elmo, capsys):
    from elmokit.downstream.neighbors import ContextIndex

    sentences = [["the", "cell", "divides"], ["a", "prison", "cell"]] * 3
    ContextIndex.build(tiny_elmo, sentences, {"cell"}, progress=True)
    assert "indexing" in capsys.readouterr().err  # tqdm on stderr
    ContextIndex.build(tiny_elmo, sentences, {"cell"}, progress=False)
    assert capsys.readouterr().err == ""
    result = CliRunner().invoke(main, ["neighbors", "cell", "--model", "allennlp-tiny",
                                       "--quiet", "-s", "the cell divides"])  # fmt: skip
    assert result.exit_code == 0, result.output
