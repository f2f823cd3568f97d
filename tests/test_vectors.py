"""Static word vectors (elmokit.vectors, Elmo.word_vectors, `elmokit vectors`) and
`elmokit neighbors --words`, on the bundled tiny model and files the tests write."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from elmokit.cli import main
from elmokit.errors import InputError
from elmokit.vectors import WordVectors, pooled_vectors

CORPUS = [
    "a blood cell divides into two cells .",
    "the cell nucleus holds the dna .",
    "my cell phone rang in the bank .",
    "The prison cell was cold .",
    "blood cells carry oxygen .",
]


def test_context_free_is_the_char_layer_of_any_word(tiny_elmo):
    wv = tiny_elmo.word_vectors(["cell", "celll", "xqzt", "cell"])
    assert wv.words == ["cell", "celll", "xqzt"] and wv.counts is None
    P = tiny_elmo.config.lstm.projection_dim
    assert wv.vectors.shape == (3, P)
    for word in wv.words:  # layer 0 of the word alone is [x; x]
        layer0 = tiny_elmo.embed_sentence([word])[0, 0]
        np.testing.assert_allclose(wv[word], layer0[:P], atol=1e-6)
        np.testing.assert_allclose(wv[word], layer0[P:], atol=1e-6)
    assert wv.meta["kind"] == "context-free"


@pytest.mark.parametrize("layer", ["top", 1, [0.2, 0.3, 0.5]])
def test_pooled_is_the_mean_over_occurrences(tiny_elmo, layer):
    sentences = [s.split() for s in CORPUS]
    wv = pooled_vectors(tiny_elmo, iter(sentences), layer, lowercase=True, batch_size=2)
    weights = {"top": [0, 0, 1], 1: [0, 1, 0]}.get(layer if not isinstance(layer, list) else "",
                                                   layer)  # fmt: skip
    expected: dict[str, list[np.ndarray]] = {}
    for tokens, layers in zip(sentences, tiny_elmo.embed_batch(sentences), strict=True):
        mixed = np.tensordot(np.asarray(weights, np.float32), layers, axes=(0, 0))  # (n, D)
        for token, vector in zip(tokens, mixed, strict=True):
            expected.setdefault(token.lower(), []).append(vector)
    assert sorted(wv.words) == sorted(expected)
    for word, vectors in expected.items():
        np.testing.assert_allclose(wv[word], np.mean(vectors, axis=0), atol=1e-5)
        assert wv.counts[wv.words.index(word)] == len(vectors)
    assert wv.words[:3] == [".", "cell", "the"]  # by count (5, 4, 4: "The" lowercased), ties a-z


def test_pooled_vocab_and_min_count(tiny_elmo):
    wv = tiny_elmo.word_vectors(["cell", "blood", "absent"], sentences=CORPUS, layer="average",
                                min_count=2)  # fmt: skip
    assert wv.words == ["cell", "blood"]  # "absent" never seen
    assert wv.counts.tolist() == [4, 2] and wv.meta["sentences"] == 5
    bank = tiny_elmo.word_vectors(["bank"], sentences=CORPUS)
    assert bank.words == ["bank"] and bank.meta["sentences"] == 1  # the others not embedded
    with pytest.raises(InputError, match="layer 7 out of range"):
        tiny_elmo.word_vectors(sentences=CORPUS, layer=7)


@pytest.mark.parametrize("name", ["v.txt", "v.bin", "v.npy"])
def test_files_round_trip_and_load_in_gensim(tiny_elmo, tmp_path, name):
    wv = tiny_elmo.word_vectors(sentences=CORPUS, layer="top", lowercase=True)
    written = wv.save(tmp_path / name)
    assert all(p.is_file() for p in written)
    back = WordVectors.load(tmp_path / name)
    assert back.words == wv.words and back.meta["layer"] == "top"
    np.testing.assert_array_equal(back.vectors, wv.vectors)
    if name != "v.npy":
        gensim = pytest.importorskip("gensim")
        kv = gensim.models.KeyedVectors.load_word2vec_format(
            tmp_path / name, binary=name.endswith(".bin")
        )
        assert list(kv.index_to_key) == wv.words
        np.testing.assert_array_equal(kv.vectors, wv.vectors)
    else:
        assert (tmp_path / "v.vocab.txt").read_text().split("\n")[:2] == wv.words[:2]


def test_words_with_spaces_are_refused(tmp_path):
    wv = WordVectors(["new york"], np.zeros((1, 2), np.float32))
    with pytest.raises(InputError, match="'new york' cannot be written"):
        wv.save(tmp_path / "v.txt")
    assert not (tmp_path / "v.txt").exists()


def test_vectors_cli(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(CORPUS) + "\n")
    runner = CliRunner()
    result = runner.invoke(main, ["vectors", str(tmp_path / "cf.txt"), "--words", "cell,celll",
                                  "--model", "allennlp-tiny"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "wrote 2 context-free word vectors of 16 dims" in result.output
    assert WordVectors.load(tmp_path / "cf.txt").words == ["cell", "celll"]
    result = runner.invoke(main, ["vectors", str(tmp_path / "pooled.npy"), "--corpus",
                                  str(corpus), "--layer", "2", "--lowercase", "--model",
                                  "allennlp-tiny"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert WordVectors.load(tmp_path / "pooled.npy").meta["layer"] == 2
    result = runner.invoke(main, ["vectors", str(tmp_path / "x.txt"), "--model",
                                  "allennlp-tiny"])  # fmt: skip
    assert result.exit_code == 1 and "error: give --vocab or --words" in result.output


def test_neighbors_words_ranks_pooled_vectors(tiny_elmo, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(CORPUS) + "\n")
    args = [
        "neighbors",
        "cell",
        "--context",
        "a blood cell divides",
        "--words",
        "--corpus",
        str(corpus),
        "--model",
        "allennlp-tiny",
        "--vocab-size",
        "0",
        "-k",
        "3",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    # the same ranking computed directly: the occurrence's top-layer vector vs pooled vectors
    pooled = pooled_vectors(tiny_elmo, [s.split() for s in CORPUS], "top", lowercase=True)
    query = tiny_elmo.embed_sentence("a blood cell divides".split())[2, 2]
    alpha = [w for w in pooled.words if w.isalpha() and w != "cell"]
    sims = {w: float(pooled[w] @ query / np.linalg.norm(pooled[w]) / np.linalg.norm(query))
            for w in alpha}  # fmt: skip
    best = sorted(alpha, key=lambda w: -sims[w])[:3]
    line = next(line for line in result.output.splitlines() if "nearest words" in line)
    assert line.split(": ", 1)[1] == ", ".join(f"{w} ({sims[w]:.3f})" for w in best)
    assert "[cell]" in result.output  # the nearest occurrences are still there

    # precomputed vectors must come from the same layer
    pooled.save(tmp_path / "top.txt")
    ok = CliRunner().invoke(main, [*args, "--word-vectors", str(tmp_path / "top.txt")])
    assert ok.exit_code == 0, ok.output
    given = next(line for line in ok.output.splitlines() if "nearest words" in line)
    assert "given word vectors" in given and given.split(": ", 1)[1] == line.split(": ", 1)[1]
    bad = CliRunner().invoke(main, [*args, "--word-vectors", str(tmp_path / "top.txt"),
                                    "--layer", "1"])  # fmt: skip
    assert bad.exit_code == 1 and "pooled at layer 'top', the query uses layer 1" in bad.output
