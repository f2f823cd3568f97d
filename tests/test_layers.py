"""``elmokit.layers``: the one layer vocabulary (choices, plain mixing weights, pooling)."""

from __future__ import annotations

import numpy as np
import pytest

from elmokit.errors import InputError
from elmokit.layers import (
    combine_layers,
    layer_index,
    layer_weights,
    masked_mean,
    mix,
    pool_tokens,
    select_output,
)

LAYERS = np.random.default_rng(0).normal(size=(3, 4, 5)).astype(np.float32)  # (L, n, D)


def test_weights_are_applied_as_given() -> None:
    got = combine_layers(LAYERS, [0.2, 0.3, 0.5])
    np.testing.assert_allclose(
        got, 0.2 * LAYERS[0] + 0.3 * LAYERS[1] + 0.5 * LAYERS[2], rtol=1e-5, atol=1e-6
    )
    # no softmax, no normalisation: [2, 0, 0] doubles layer 0, [0, 0, 0] is zeros
    np.testing.assert_allclose(combine_layers(LAYERS, [2, 0, 0]), 2 * LAYERS[0], rtol=1e-6)
    assert not combine_layers(LAYERS, [0, 0, 0]).any()
    np.testing.assert_allclose(
        mix(LAYERS[:, 0], [1, -1, 0]), LAYERS[0, 0] - LAYERS[1, 0], rtol=1e-5, atol=1e-6
    )  # (L, D) -> (D,)
    assert combine_layers(LAYERS, np.array([0.2, 0.3, 0.5])).dtype == np.float32


def test_named_layers() -> None:
    np.testing.assert_array_equal(combine_layers(LAYERS), LAYERS.mean(axis=0))
    np.testing.assert_array_equal(combine_layers(LAYERS, "average"), LAYERS.mean(axis=0))
    for spec, index in (("top", 2), (-1, 2), ("token", 0), ("bottom", 0), (1, 1), ("1", 1)):
        np.testing.assert_array_equal(combine_layers(LAYERS, spec), LAYERS[index])
        assert layer_index(spec, 3) == index
        np.testing.assert_array_equal(layer_weights(spec, 3), np.eye(3)[index])
    concat = combine_layers(LAYERS, "concat")
    assert concat.shape == (4, 15) and layer_weights("concat", 3) is None
    np.testing.assert_array_equal(concat[1], LAYERS[:, 1].reshape(-1))  # layer-major per token
    np.testing.assert_allclose(layer_weights("average", 3), [1 / 3] * 3)


@pytest.mark.parametrize(("spec", "message"), [
    (3, "out of range"), (-4, "out of range"), ("middle", "not an index"),
    ([0.5, 0.5], "2 weights"), ([[1, 0, 0]], "weights"),
])  # fmt: skip
def test_bad_layer_choices(spec, message) -> None:
    with pytest.raises(InputError, match=message):
        combine_layers(LAYERS, spec)


def test_output_formats() -> None:
    assert select_output(LAYERS, "all") is LAYERS
    np.testing.assert_array_equal(select_output(LAYERS, "top"), LAYERS[-1])
    np.testing.assert_array_equal(select_output(LAYERS, "average"), LAYERS.mean(axis=0))
    with pytest.raises(InputError, match="output format 'mix' is not one of all, top, average"):
        select_output(LAYERS, "mix")


def test_pooling() -> None:
    tokens = LAYERS[0]  # (n, D)
    for pooling, want in (("mean", tokens.mean(0)), ("max", tokens.max(0)),
                          ("first", tokens[0]), ("last", tokens[-1])):  # fmt: skip
        np.testing.assert_array_equal(pool_tokens(tokens, pooling), want)
    assert not pool_tokens(np.zeros((0, 5), np.float32), "max").any()  # empty -> zeros
    with pytest.raises(InputError, match="pooling 'median' is not one of"):
        pool_tokens(tokens, "median")


def test_masked_mean_numpy_and_torch() -> None:
    torch = pytest.importorskip("torch")
    vectors = np.random.default_rng(1).normal(size=(3, 4, 5)).astype(np.float32)  # (B, T, D)
    mask = np.array([[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=bool)
    want = np.stack([vectors[0, :3].mean(0), vectors[1, 0], np.zeros(5, np.float32)])
    got = masked_mean(vectors, mask)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    t = torch.from_numpy(vectors).requires_grad_()
    got_t = masked_mean(t, torch.from_numpy(mask))
    assert got_t.dtype == torch.float32
    np.testing.assert_allclose(got_t.detach().numpy(), want, rtol=1e-6, atol=1e-7)
    got_t.sum().backward()  # differentiable; padding gets no gradient
    assert (t.grad[0, 3] == 0).all() and (t.grad[0, 0] == 1 / 3).all()
