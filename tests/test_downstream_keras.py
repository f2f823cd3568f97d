"""The Keras 3 (torch backend) ELMo layer with the tiny model."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # pragma: no cover
    pytest.skip("Keras is not on the torch backend", allow_module_level=True)

from elmokit.downstream.keras import ElmoEmbedding, texts_to_char_ids  # noqa: E402
from tests.conftest import TINY_DIR  # noqa: E402

TEXTS = ["the cat sat on the mat", "a dog barked", "great tea", "awful stale bread"] * 3
Y = np.array([1, 0, 1, 0] * 3, dtype="float32")


def test_char_ids_shape():
    ids = texts_to_char_ids(TEXTS[:2] + [""], max_tokens=4)
    assert ids.shape == (3, 4, 50) and ids.dtype == np.int32
    assert (ids[1, 3] == 0).all() and (ids[0, 3] > 0).any()  # "a dog barked" has 3 tokens


def test_keras_model_trains_mix_and_saves(tmp_path, tiny_elmo):
    ids = texts_to_char_ids(TEXTS, max_tokens=8)
    inp = keras.Input(shape=(8, 50), dtype="int32")
    emb = ElmoEmbedding(str(TINY_DIR))
    model = keras.Model(inp, keras.layers.Dense(1, activation="sigmoid")(emb(inp)))
    model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy")
    assert sorted(tuple(w.shape) for w in model.trainable_weights) == [(1,), (1,), (3,), (32, 1)]
    names = {w.name for w in emb.trainable_weights}  # named after the torch parameters
    assert names == {"scalar_mixes_0_scalar_parameters", "scalar_mixes_0_gamma"}
    before = emb.mix_weights()
    np.testing.assert_allclose(before, [1 / 3] * 3, rtol=1e-6)
    model.fit(ids, Y, epochs=2, batch_size=4, verbose=0)
    assert not np.allclose(emb.mix_weights(), before)  # the scalar mix learned
    pred = model.predict(ids, verbose=0)
    assert pred.shape == (12, 1)
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.models.load_model(path)
    np.testing.assert_allclose(again.predict(ids, verbose=0), pred, atol=1e-5)


def test_keras_default_output_matches_library(tiny_elmo):
    ids = texts_to_char_ids(TEXTS[:3], max_tokens=8)
    seq = keras.Sequential(
        [keras.Input(shape=(8, 50), dtype="int32"), ElmoEmbedding(str(TINY_DIR))]
    )
    got = seq.predict(ids, verbose=0)
    want = tiny_elmo.sentence_vectors(TEXTS[:3])  # the equal-weight average, mean-pooled
    np.testing.assert_allclose(got, want, atol=1e-4)
    tokens = keras.Sequential(
        [
            keras.Input(shape=(8, 50), dtype="int32"),
            ElmoEmbedding(str(TINY_DIR), output_mode="elmo"),
        ]
    )
    assert tokens.predict(ids, verbose=0).shape == (3, 8, 32)
