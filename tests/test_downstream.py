"""Downstream tools with the tiny random model: sentence vectors, save/load, scikit-learn,
``elmokit classify`` (the numbers are meaningless; shapes, plumbing and errors are tested)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from elmokit import Elmo, ElmoConfig
from elmokit.cli import main
from elmokit.downstream import pooling
from elmokit.errors import InputError
from elmokit.tokenize import tokenize
from tests.conftest import TINY_DIR, TINY_OPTIONS, TINY_WEIGHTS

pytest.importorskip("sklearn")

POS = [
    "what a great tasty snack",
    "I love this tea so much",
    "great coffee , great price",
    "best cookies ever , love them",
    "wonderful flavour and great value",
]
NEG = [
    "this was stale and awful",
    "terrible taste , do not buy",
    "the box arrived broken",
    "awful smell , threw it away",
    "not good at all , bad value",
]
TEXTS, LABELS = POS + NEG, ["pos"] * 5 + ["neg"] * 5


def test_sentence_vectors_layers(tiny_elmo):
    layers = tiny_elmo.embed_batch(TEXTS[:2])
    avg = tiny_elmo.sentence_vectors(TEXTS[:2])
    assert avg.shape == (2, tiny_elmo.dim) and avg.dtype == np.float32
    np.testing.assert_allclose(avg[0], layers[0].mean(axis=0).mean(axis=0), rtol=1e-5, atol=1e-6)
    top = tiny_elmo.sentence_vectors(TEXTS[:2], layer="top")
    np.testing.assert_allclose(top[1], layers[1][-1].mean(axis=0), rtol=1e-5, atol=1e-6)
    mix = tiny_elmo.sentence_vectors(TEXTS[:2], layer=[0.5, 0.25, 0.25])
    want = np.tensordot([0.5, 0.25, 0.25], layers[0], axes=(0, 0)).mean(axis=0)
    np.testing.assert_allclose(mix[0], want, rtol=1e-5, atol=1e-6)
    assert tiny_elmo.sentence_vectors(TEXTS[:2], layer="concat").shape == (2, 3 * tiny_elmo.dim)
    assert not tiny_elmo.sentence_vectors([""]).any()  # empty sentence -> zeros
    # order-independent (sorted by length inside)
    np.testing.assert_allclose(
        tiny_elmo.sentence_vectors(TEXTS[::-1])[::-1], tiny_elmo.sentence_vectors(TEXTS), atol=1e-5
    )


def test_sentence_vectors_errors(tiny_elmo):
    with pytest.raises(InputError, match="out of range"):
        tiny_elmo.sentence_vectors(["a b"], layer=3)
    with pytest.raises(InputError, match="2 weights"):
        tiny_elmo.sentence_vectors(["a b"], layer=[0.5, 0.5])
    with pytest.raises(InputError, match="pooling"):
        tiny_elmo.sentence_vectors(["a b"], pooling="median")


def test_scalar_mix_weights():
    """A ScalarMix holds logits; scalar_mix_weights gives the plain weights it applies."""
    import torch

    from elmokit.modules.scalar_mix import ScalarMix

    w = pooling.scalar_mix_weights(ScalarMix(3))
    np.testing.assert_allclose(w, [1 / 3] * 3, rtol=1e-6)
    mix = ScalarMix(3, initial_weights=[0.0, 0.0, float(np.log(2))])
    with torch.no_grad():
        mix.gamma.fill_(2.0)
    w = pooling.scalar_mix_weights(mix)
    np.testing.assert_allclose(w, [0.5, 0.5, 1.0], rtol=1e-6)  # 2 * softmax([0, 0, log 2])
    layers = torch.randn(3, 2, 4, 5)  # (L, B, T, D)
    want = np.tensordot(w, layers.numpy(), axes=1)  # the same mix, as plain weights
    np.testing.assert_allclose(mix(layers).detach().numpy(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("suffix", [".npz", ".h5", ".parquet"])
def test_save_load_roundtrip(tmp_path, suffix):
    pytest.importorskip("pyarrow")
    vecs = np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32)
    path = pooling.save_embeddings(
        tmp_path / f"e{suffix}",
        vecs,
        ["a", "b", "ç", "d"],
        [1, 0, 1, 0],
        {"model": "tiny", "layer": "average"},
    )
    got = pooling.load_embeddings(path)
    np.testing.assert_array_equal(got["vectors"], vecs)
    assert got["texts"] == ["a", "b", "ç", "d"] and got["labels"] == ["1", "0", "1", "0"]
    assert got["metadata"] == {"model": "tiny", "layer": "average"}


def test_save_errors(tmp_path):
    with pytest.raises(InputError, match="unknown format"):
        pooling.save_embeddings(tmp_path / "e.pkl", np.zeros((1, 2)))
    with pytest.raises(InputError, match="3 texts for 1 vectors"):
        pooling.save_embeddings(tmp_path / "e.npz", np.zeros((1, 2)), ["a", "b", "c"])
    with pytest.raises(InputError, match="no such file"):
        pooling.load_embeddings(tmp_path / "missing.npz")


def test_vectorizer_pipeline_cross_val():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline

    from elmokit.downstream.sklearn import ElmoVectorizer

    vec = ElmoVectorizer(str(TINY_DIR), layer=1, max_tokens=8)
    X = vec.fit_transform(TEXTS)
    assert X.shape == (10, 32) and vec.n_features_out_ == 32
    assert vec.get_feature_names_out().shape == (32,)
    pipe = make_pipeline(ElmoVectorizer(str(TINY_DIR)), LogisticRegression(max_iter=200))
    scores = cross_val_score(pipe, np.array(TEXTS), LABELS, cv=2)
    # the pipeline (cloned per fold) scores exactly what the same features score directly
    features = ElmoVectorizer(str(TINY_DIR)).fit_transform(TEXTS)
    want = cross_val_score(LogisticRegression(max_iter=200), features, LABELS, cv=2)
    np.testing.assert_array_equal(scores, want)
    import pickle

    fitted = pipe.fit(TEXTS, LABELS)
    blob = pickle.dumps(fitted)
    assert len(blob) < TINY_WEIGHTS.stat().st_size / 4  # the model is not inside the pickle
    again = pickle.loads(blob)
    assert (again.predict(TEXTS) == fitted.predict(TEXTS)).all()


def test_vectorizer_clones_share_one_model(monkeypatch, tiny_elmo):
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline

    from elmokit.downstream import sklearn as sk

    loads = []
    monkeypatch.setattr(sk, "load_model", lambda m: loads.append(m) or Elmo.load(m))
    pipe = make_pipeline(sk.ElmoVectorizer(str(TINY_DIR)), LogisticRegression(max_iter=200))
    cross_val_score(pipe, TEXTS, LABELS, cv=3)  # 3 clones (and their clones) of the vectorizer
    assert loads == [str(TINY_DIR)]
    assert clone(sk.ElmoVectorizer(tiny_elmo)).model is tiny_elmo  # shared, not deep-copied


def test_glove_vectorizer(tmp_path):
    from elmokit.downstream.sklearn import GloveVectorizer

    glove = tmp_path / "glove.txt"
    glove.write_text("great 1 0\nawful 0 1\n, 0.5 0.5\n")
    X = GloveVectorizer(glove).fit_transform(["Great , great", "awful", "unknown"])
    np.testing.assert_allclose(X, [[5 / 6, 1 / 6], [0, 1], [0, 0]], rtol=1e-6)


def _write_csv(path, texts, labels, text_col="review", label_col="score"):
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow([text_col, label_col])
        w.writerows(zip(texts, labels, strict=True))
    return path


def test_classify_cli(tmp_path):
    train = _write_csv(tmp_path / "train.csv", TEXTS, LABELS)
    test = _write_csv(tmp_path / "test.csv", TEXTS[::2], LABELS[::2])
    glove = tmp_path / "glove.txt"
    glove.write_text("great 1 0\nawful 0 1\nlove 1 0.2\nbad 0.1 1\n")
    args = [
        "classify",
        str(train),
        str(test),
        "--text-col",
        "review",
        "--label-col",
        "score",
        "--model",
        str(TINY_DIR),
        "--glove",
        str(glove),
        "--features",
        "tfidf+glove+elmo:2",
    ]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("| ")]
    assert [ln.split("|")[1].strip() for ln in lines] == [
        "features",
        "majority",
        "tfidf",
        "glove",
        "elmo:2",
    ]
    # each logistic regression's C: chosen by 5-fold CV (5 texts per label) from the grid
    from elmokit.downstream.features import C_GRID_DENSE, C_GRID_SPARSE

    header = [c.strip() for c in lines[0].split("|")[1:-1]]
    rows = {ln.split("|")[1].strip(): [c.strip() for c in ln.split("|")[1:-1]] for ln in lines}
    col = header.index("C")
    assert rows["majority"][col] == ""
    assert float(rows["tfidf"][col]) in C_GRID_SPARSE
    assert float(rows["glove"][col]) in C_GRID_DENSE and float(rows["elmo:2"][col]) in C_GRID_DENSE
    fixed = CliRunner().invoke(main, args + ["--C", "0.5", "--json"])
    assert fixed.exit_code == 0, fixed.output
    report = json.loads(fixed.output[fixed.output.index("{") :])
    assert [r["C"] for r in report["rows"]] == ["", "0.5", "0.5", "0.5"]
    res = CliRunner().invoke(main, args[:3] + ["--text-col", "text"])
    assert res.exit_code == 1
    assert "train.csv: no column 'text'" in res.output and "columns: review, score" in res.output


def _counting(elmo: Elmo) -> list[tuple[str, ...]]:
    """Record every sentence ``elmo.embed_batch`` runs the biLM on."""
    embedded: list[tuple[str, ...]] = []
    embed_batch = elmo.embed_batch
    elmo.embed_batch = lambda batch: embedded.extend(map(tuple, batch)) or embed_batch(batch)
    return embedded


def test_sentence_vector_cache(tiny_elmo):
    elmo = Elmo.from_hdf5(TINY_OPTIONS, TINY_WEIGHTS)  # its own cache, empty
    embedded = _counting(elmo)
    for layer in ("average", 2, "concat", [0.1, 0.2, 0.7]):
        plain = tiny_elmo.sentence_vectors(TEXTS + [""], layer=layer)
        cached = pooling.sentence_vectors(elmo, TEXTS + [""], layer=layer, cache=True)
        np.testing.assert_allclose(cached, plain, rtol=1e-5, atol=1e-6)
    assert sorted(embedded) == sorted(tuple(tokenize(t)) for t in TEXTS + [""])  # each once
    elmo.clear_sentence_cache()
    elmo.sentence_vectors(TEXTS[:2], cache=True)
    assert len(embedded) == 13


def test_sentence_vector_cache_belongs_to_its_model(tiny_elmo):
    config = ElmoConfig.from_file(TINY_OPTIONS)
    for seed in (1, 2):  # a new model (maybe at a freed model's address) starts empty
        other = Elmo.random(config, seed=seed)
        other.sentence_vectors(TEXTS, cache=True)
        np.testing.assert_allclose(
            other.sentence_vectors(TEXTS, cache=True),
            other.sentence_vectors(TEXTS),
            rtol=1e-5,
            atol=1e-6,
        )
        del other
    elmo = Elmo.from_hdf5(TINY_OPTIONS, TINY_WEIGHTS)
    cold = elmo.sentence_vectors(TEXTS, cache=True)
    elmo.set_warm_state(["the cat sat on the mat ."])  # changes every vector: cache dropped
    warm = elmo.sentence_vectors(TEXTS, cache=True)
    assert not np.allclose(warm, cold)
    np.testing.assert_allclose(warm, elmo.sentence_vectors(TEXTS), rtol=1e-5, atol=1e-6)


def test_data_readers(tmp_path):
    from elmokit.downstream.data import coarse_tag, load_glove, read_brown, simplify_brown_tag

    d = tmp_path / "glove"
    d.mkdir()
    np.save(d / "g.npy", np.eye(3, dtype=np.float32))
    (d / "g.words.txt").write_text("the\n,\ncell\n")
    table = load_glove(d)
    assert list(table) == ["the", ",", "cell"] and table["cell"].tolist() == [0, 0, 1]
    assert list(load_glove(d, max_words=2)) == ["the", ","]
    tsv = tmp_path / "b.tsv"
    tsv.write_text("The\tat\ncell\tnn-tl\n\nRan\tvbd\n")
    assert list(read_brown(tsv)) == [[("The", "at"), ("cell", "nn-tl")], [("Ran", "vbd")]]
    raw = tmp_path / "brown"
    raw.mkdir()
    for i in range(10):
        (raw / f"ca{i + 1:02d}").write_text(f"\n\tWord{i}/nn ./.\n")
    assert [s[0][0] for s in read_brown(raw, "test")] == ["Word9"]
    assert len(list(read_brown(raw, "train"))) == 8
    assert simplify_brown_tag("fw-nn-tl") == "nn" and coarse_tag("vbd-hl") == "VERB"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"tokens": ["a"], "tags": []}\n')
    with pytest.raises(InputError, match="bad.jsonl line 1: 1 tokens but 0 tags"):
        list(read_brown(bad))


def test_elmo_vectorizer_follows_the_tokenization_rule(tiny_elmo):
    from elmokit.downstream.sklearn import ElmoVectorizer

    texts = ["Don't panic, it's 3.5 km!"]
    raw = ElmoVectorizer(tiny_elmo, tokenize="elmokit", cache=False).fit_transform(texts)
    split = ElmoVectorizer(tiny_elmo, cache=False).fit_transform(texts)  # whitespace default
    np.testing.assert_allclose(raw, tiny_elmo.sentence_vectors(texts, tokenize="elmokit"),
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(split, tiny_elmo.sentence_vectors(texts), rtol=1e-5, atol=1e-6)
    assert not np.allclose(raw, split)  # "Do n't panic , ..." vs "Don't panic, ..."
    assert ElmoVectorizer(tokenize="elmokit").get_params()["tokenize"] == "elmokit"


def _shrinkage_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two near-copies of one feature; the label is the sign of their difference. Strong L2
    shrinks the weights toward the features' common direction, which says nothing about the
    label, so a small C fails here and a large one does not."""
    x0 = rng.normal(size=n)
    noise = rng.normal(scale=0.1, size=n)
    return np.c_[x0, x0 + noise], np.where(noise > 0, "a", "b")


def test_classifier_c_is_chosen_by_cross_validation():
    from elmokit.downstream.features import C_GRID_DENSE, fit_score

    rng = np.random.default_rng(0)
    X_train, y_train = _shrinkage_data(200, rng)
    X_test, y_test = _shrinkage_data(200, rng)
    acc, f1, c = fit_score(X_train, y_train, X_test, y_test)  # C="auto"
    assert c in C_GRID_DENSE and c >= 1.0
    assert acc > 0.9 and f1 > 0.9
    small = fit_score(X_train, y_train, X_test, y_test, C=0.001)
    assert small[2] == 0.001 and small[0] < acc - 0.2  # the C given is the C used
    # with fewer than 2 texts of a label there are no folds: "auto" falls back to 0.1
    a, b = np.flatnonzero(y_train == "a"), np.flatnonzero(y_train == "b")
    few = np.r_[a[:5], b[:1]]
    assert fit_score(X_train[few], y_train[few], X_test, y_test)[2] == 0.1


@pytest.mark.parametrize("bad", ["abc", "0", "-1", "nan", "inf"])
def test_bad_c_is_a_clear_error(tmp_path, bad):
    from elmokit.downstream.features import parse_c

    with pytest.raises(InputError, match="C must be 'auto' or a positive number"):
        parse_c(bad)
    train = _write_csv(tmp_path / "train.csv", TEXTS, LABELS)
    res = CliRunner().invoke(
        main,
        ["classify", str(train), str(train), "--text-col", "review", "--label-col", "score",
         "--features", "tfidf", "--C", bad],
    )  # fmt: skip
    assert res.exit_code == 1
    assert res.output.strip().splitlines()[-1].startswith("error: C must be 'auto'")
