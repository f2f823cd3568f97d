"""The Elmo API: shapes, statelessness, stateful rows, raw text, edge cases, ElmoLayer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from elmokit import Elmo, ElmoConfig, ElmoLayer, InputError
from elmokit.characters import batch_to_ids, token_to_ids
from elmokit.config import ORIGINAL_OPTIONS

SENTENCES = [
    ["The", "cell", "phone", "rang", "."],
    ["Blood", "cells", "carry", "oxygen"],
    ["A", "mouse"],
    ["He", "sat", "in", "a", "prison", "cell", "for", "ten", "long", "years", "."],
]


def test_shapes_and_input_order(tiny_elmo):
    out = tiny_elmo.embed_batch(SENTENCES)
    assert [o.shape for o in out] == [(3, len(s), 32) for s in SENTENCES]
    assert all(o.dtype == np.float32 for o in out)
    single = tiny_elmo.embed_sentence(SENTENCES[3])
    np.testing.assert_allclose(single, out[3], atol=1e-5)


def _check_stateless(elmo: Elmo, sentences, atol: float) -> None:
    alone = [elmo.embed_sentence(s) for s in sentences]
    together = elmo.embed_batch(sentences)
    reversed_ = elmo.embed_batch(sentences[::-1])[::-1]
    padded = elmo.embed_batch(sentences + [["extra"] * 30])[: len(sentences)]
    for a, b, c, d in zip(alone, together, reversed_, padded, strict=True):
        # float32 GEMMs round differently for different row counts: equal to ~1e-5
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=atol)
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=atol)
        np.testing.assert_allclose(a, d, rtol=1e-5, atol=atol)
    # and repeated calls give the same vectors: no hidden state
    np.testing.assert_array_equal(elmo.embed_batch(sentences)[0], together[0])


def test_stateless_invariance_tiny(tiny_elmo):
    _check_stateless(tiny_elmo, SENTENCES, atol=1e-5)


def test_stateless_invariance_random_small(small_config):
    _check_stateless(Elmo.random(small_config, seed=1), SENTENCES, atol=1e-5)


@pytest.mark.slow
def test_original_size_random_model_shapes_masks_invariance():
    """The real ORIGINAL sizes (2048 filters, 2 highway, 4096 cells, projection 512)."""
    config = ElmoConfig.from_options(ORIGINAL_OPTIONS)
    assert config.char_cnn.n_filters == 2048 and config.output_dim == 1024
    # fan-in-scaled weights: a well-conditioned LSTM like a trained one (with plain uniform
    # weights the 4096-cell LSTM amplifies float32 rounding to ~2e-5 at values of ~6)
    elmo = Elmo.random(config, seed=0, fan_in_scaled=True)
    n_params = sum(p.numel() for p in elmo.bilm.parameters())
    assert 93_000_000 < n_params < 94_000_000  # the released model: 93.6M
    sentences = [SENTENCES[0], SENTENCES[2], []]
    out = elmo.embed_batch(sentences)
    assert [o.shape for o in out] == [(3, 5, 1024), (3, 2, 1024), (3, 0, 1024)]
    sig = elmo.signatures(sentences[:2])
    assert sig["mask"].tolist() == [[True] * 5, [True, True, False, False, False]]
    assert sig["word_emb"].shape == (2, 5, 512) and sig["default"].shape == (2, 1024)
    assert np.all(sig["lstm_outputs2"][1, 2:] == 0)
    _check_stateless(elmo, sentences[:2], atol=1e-5)


def test_empty_sentence_and_empty_batch(tiny_elmo):
    assert tiny_elmo.embed_sentence([]).shape == (3, 0, 32)
    assert tiny_elmo.embed_batch([]) == []
    assert [o.shape[1] for o in tiny_elmo.embed_batch([[], ["a"], []])] == [0, 1, 0]


def test_raw_strings_are_tokenized(tiny_elmo):
    raw = tiny_elmo.embed_sentence("Don't panic, it's fine.", tokenize="elmokit")
    tokens = tiny_elmo.embed_sentence(["Do", "n't", "panic", ",", "it", "'s", "fine", "."])
    np.testing.assert_array_equal(raw, tokens)


def test_bad_sentence_types(tiny_elmo):
    with pytest.raises(InputError, match="sentence 1: expected a string or a list of token"):
        tiny_elmo.embed_batch([["ok"], 42])
    with pytest.raises(InputError, match="sentence 0"):
        tiny_elmo.embed_batch([["ok", 3]])
    with pytest.raises(InputError, match="batch_size"):
        list(tiny_elmo.embed_sentences([["a"]], batch_size=0))


def test_embed_sentences_is_lazy_and_ordered(tiny_elmo):
    consumed = []

    def source():
        for i in range(10):
            consumed.append(i)
            yield SENTENCES[i % 4]

    stream = tiny_elmo.embed_sentences(source(), batch_size=3)
    first = next(stream)
    assert consumed == [0, 1, 2]  # only the first batch was read
    rest = list(stream)
    assert [o.shape[1] for o in [first, *rest]] == [len(SENTENCES[i % 4]) for i in range(10)]


def test_long_tokens_are_cut_at_48_bytes(tiny_elmo):
    long_token = "x" * 47 + "é" + "tail" * 5  # é straddles the 48-byte cut
    assert len(long_token.encode()) > 50
    ids = token_to_ids(long_token)
    assert ids.shape == (50,) and ids[0] == 259 and ids[49] == 260  # BOW+1, EOW+1
    cut = long_token.encode()[:48]
    assert bytes((ids[1:49] - 1).astype(np.uint8)) == cut
    a = tiny_elmo.embed_sentence([long_token])
    b = tiny_elmo.embed_sentence([long_token + "more"])
    np.testing.assert_array_equal(a, b)


def test_char_ids_layout():
    ids, lengths = batch_to_ids([["a"], []])
    assert ids.shape == (2, 3, 50) and lengths.tolist() == [3, 2]
    assert ids[0, 0, :3].tolist() == [259, 257, 260] and ids[0, 2, :3].tolist() == [259, 258, 260]
    assert ids[0, 1, :3].tolist() == [259, ord("a") + 1, 260] and ids[0, 1, 3] == 261
    assert not ids[1, 2].any()  # padding token is all zeros


def test_stateful_rows_carry_state(small_config):
    elmo = Elmo.random(small_config, seed=2, stateful=True)
    stateless = Elmo(elmo.bilm)
    first = elmo.embed_batch(SENTENCES[:2])
    np.testing.assert_allclose(
        first[0], stateless.embed_sentence(SENTENCES[0]), rtol=1e-5, atol=1e-6
    )
    assert elmo.state.h.shape == (2, 2, 2, 12) and elmo.state.c.shape == (2, 2, 2, 32)
    second = elmo.embed_batch(SENTENCES[:2])
    assert not np.allclose(second[0][1:], first[0][1:], atol=1e-4)  # carried state matters
    np.testing.assert_array_equal(second[0][0], first[0][0])  # layer 0 has no state
    # a smaller batch updates row 0 only; row 1 keeps its state
    row1 = elmo.state.h[:, :, 1].clone()
    elmo.embed_batch([SENTENCES[2]])
    torch.testing.assert_close(elmo.state.h[:, :, 1], row1)
    elmo.reset_state()
    np.testing.assert_allclose(elmo.embed_batch(SENTENCES[:2])[1], first[1], rtol=1e-5, atol=1e-6)


def test_signatures_tf_hub_outputs(tiny_elmo):
    sig = tiny_elmo.signatures(["The cat sat .", ["A", "mouse"]])
    assert sig["sequence_len"].tolist() == [4, 2]
    assert sig["mask"].tolist() == [[True] * 4, [True, True, False, False]]
    layers = tiny_elmo.embed_sentence(["A", "mouse"])
    np.testing.assert_allclose(sig["lstm_outputs1"][1, :2], layers[1], atol=1e-5)
    np.testing.assert_allclose(sig["elmo"][1, :2], layers.mean(0), atol=1e-5)
    np.testing.assert_allclose(sig["default"][1], layers.mean(0).mean(0), atol=1e-5)
    np.testing.assert_allclose(sig["word_emb"][1, :2], layers[0][:, :16], atol=1e-5)
    assert np.all(sig["elmo"][1, 2:] == 0)


def test_elmo_layer_shapes_mask_and_training(tiny_elmo):
    layer = ElmoLayer(tiny_elmo, num_output_representations=2, dropout=0.0)
    out = layer([SENTENCES[2], SENTENCES[0]])
    reps, mask = out["elmo_representations"], out["mask"]
    assert len(reps) == 2 and reps[0].shape == (2, 5, 32)
    assert mask.tolist() == [[True, True, False, False, False], [True] * 5]
    # initial mix = equal weights, gamma 1 -> the average of the layers
    expected = tiny_elmo.embed_sentence(SENTENCES[0]).mean(0)
    np.testing.assert_allclose(reps[0][1].detach().numpy(), expected, atol=1e-5)
    # only the scalar mixes train when the biLM is frozen
    reps[0].sum().backward()
    assert layer.scalar_mixes[0].scalar_parameters.grad is not None
    assert all(p.grad is None for p in layer.bilm.parameters())


def test_elmo_layer_char_id_input_and_layer_norm(small_config):
    elmo = Elmo.random(small_config, seed=5)
    layer = ElmoLayer(elmo, do_layer_norm=True, dropout=0.0, requires_grad=True)
    ids, _ = batch_to_ids([SENTENCES[0], SENTENCES[2]], add_boundaries=False)
    from_ids = layer(torch.from_numpy(ids))
    from_tokens = layer([SENTENCES[0], SENTENCES[2]])
    torch.testing.assert_close(
        from_ids["elmo_representations"][0], from_tokens["elmo_representations"][0]
    )
    from_ids["elmo_representations"][0].sum().backward()
    assert layer.bilm.char_cnn.projection.weight.grad is not None


def test_warm_start_state_is_fixed_and_batch_independent(tiny_elmo):
    elmo = Elmo(tiny_elmo.bilm)
    cold = elmo.embed_batch(SENTENCES)
    elmo.set_warm_state(["A fixed burn-in text .", "It is read once ."])
    assert elmo.state is None and not elmo.stateful  # still stateless
    warm = elmo.embed_batch(SENTENCES)
    assert not np.allclose(warm[0][1:], cold[0][1:], atol=1e-3)
    np.testing.assert_array_equal(warm[0][0], cold[0][0])  # layer 0 has no state
    _check_stateless(elmo, SENTENCES, atol=1e-5)
    elmo.set_warm_state(None)
    np.testing.assert_allclose(elmo.embed_batch(SENTENCES)[2], cold[2], rtol=1e-5, atol=1e-6)


def test_load_warm_start_follows_model_default(tiny_elmo, tmp_path):
    import json

    from elmokit import ModelNotFoundError

    model_dir = tiny_elmo.save(tmp_path / "m")
    with pytest.raises(ModelNotFoundError, match="warm start needs a burn_in.txt"):
        Elmo.load(model_dir, warm_start=True)
    (model_dir / "burn_in.txt").write_text("Some burn-in text .\nAnd more of it .\n")
    cold = Elmo.load(model_dir).embed_sentence(SENTENCES[0])
    warm = Elmo.load(model_dir, warm_start=True).embed_sentence(SENTENCES[0])
    assert not np.allclose(cold[2], warm[2], atol=1e-3)
    (model_dir / "elmokit.json").write_text(json.dumps({"warm_start": True}))
    np.testing.assert_allclose(Elmo.load(model_dir).embed_sentence(SENTENCES[0]), warm, atol=1e-6)
    np.testing.assert_allclose(
        Elmo.load(model_dir, warm_start=False).embed_sentence(SENTENCES[0]), cold, atol=1e-6
    )
