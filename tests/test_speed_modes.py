"""The inference engine's modes: "exact" equals the parity path (BiLM.forward), "fast" stays
within its cosine bound, the word cache is bounded and invisible in the results."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from elmokit import Elmo, ElmoConfig
from elmokit.inference import InferenceEngine, WordCache

SENTENCES = [
    "The cell divides , and the daughter cells divide again .".split(),
    ["Hi"],
    [],
    "Congress shall make no law respecting an establishment of religion".split(),
    "A naïve café owner said \u201cno\u201d to the 2,000 visitors from Zürich .".split(),
    "the the the , , .".split(),
    ("word " * 30).split(),
]


def moderate_config() -> ElmoConfig:
    """Every feature on, big enough for real GEMM blocking, small enough for milliseconds."""
    return ElmoConfig.create(
        filters=[(1, 16), (2, 16), (3, 32), (4, 64)], n_highway=2, embedding_dim=16,
        lstm_dim=256, projection_dim=64,
    )  # fmt: skip


@pytest.fixture(scope="module")
def reference() -> Elmo:
    return Elmo.random(moderate_config(), seed=3, fan_in_scaled=True, mode="reference")


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(L, n, D) x2 -> (L,) mean cosine over tokens."""
    dot = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return dot.mean(-1)


def test_exact_mode_equals_parity_path(reference):
    exact = Elmo(reference.bilm, mode="exact")
    assert exact.engine is not None and reference.engine is None
    for ours, theirs in zip(exact.embed_batch(SENTENCES), reference.embed_batch(SENTENCES),
                            strict=True):  # fmt: skip
        assert ours.shape == theirs.shape and ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, atol=1e-5, rtol=0)


def test_exact_mode_stateful_equals_parity_path(reference):
    exact = Elmo(reference.bilm, mode="exact", stateful=True)
    parity = Elmo(reference.bilm, mode="reference", stateful=True)
    for batch in (SENTENCES, SENTENCES[:3], SENTENCES[2:], SENTENCES[::-1]):
        for ours, theirs in zip(exact.embed_batch(batch), parity.embed_batch(batch), strict=True):
            np.testing.assert_allclose(ours, theirs, atol=1e-5, rtol=0)
    torch.testing.assert_close(exact.state.h, parity.state.h, atol=1e-5, rtol=0)
    torch.testing.assert_close(exact.state.c, parity.state.c, atol=1e-5, rtol=0)


def test_exact_mode_signatures_and_bilm_output(reference):
    exact = Elmo(reference.bilm, mode="exact")
    ours, theirs = exact.signatures(SENTENCES[:4]), reference.signatures(SENTENCES[:4])
    for key in ("word_emb", "lstm_outputs1", "lstm_outputs2", "elmo", "default"):
        np.testing.assert_allclose(ours[key], theirs[key], atol=1e-5, rtol=0)
    np.testing.assert_array_equal(ours["mask"], theirs["mask"])


def _layer_cosines(elmo: Elmo, reference: Elmo) -> list[float]:
    """Per layer, the mean cosine of ``elmo``'s token vectors to ``reference``'s."""
    layers = [[], [], []]
    for ours, theirs in zip(elmo.embed_batch(SENTENCES), reference.embed_batch(SENTENCES),
                            strict=True):  # fmt: skip
        if ours.shape[1]:
            for k, c in enumerate(cosine(ours, theirs)):
                layers[k].append(c)
    return [float(np.mean(c)) for c in layers]


def test_fast_mode_cosine_bound(reference):
    means = _layer_cosines(Elmo(reference.bilm, mode="fast"), reference)
    assert min(means) >= 0.99, means


def test_int8_mode_cosine_bound(reference):
    int8 = Elmo(reference.bilm, mode="int8")
    means = _layer_cosines(int8, reference)
    assert int8.engine.kind == "int8"
    assert min(means) >= 0.99, means
    assert min(means) < 1.0  # really quantized: not the fp32 path under another name


def test_fast_mode_without_bf16_units_runs_int8(reference, monkeypatch):
    import elmokit.inference as inference

    monkeypatch.setattr(inference, "native_bf16", lambda: False)
    fast = Elmo(reference.bilm, mode="fast")
    means = _layer_cosines(fast, reference)
    assert fast.engine.kind == "int8" and min(means) >= 0.99, means
    monkeypatch.setattr(inference, "native_bf16", lambda: True)
    fast = Elmo(reference.bilm, mode="fast")
    fast.embed_batch(SENTENCES[:1])
    assert fast.engine.kind == "bf16"


def test_int8_mode_stateful_runs(reference):
    int8 = Elmo(reference.bilm, mode="int8", stateful=True)
    parity = Elmo(reference.bilm, mode="reference", stateful=True)
    for batch in (SENTENCES[:3], SENTENCES[:3]):
        for ours, theirs in zip(int8.embed_batch(batch), parity.embed_batch(batch), strict=True):
            if ours.shape[1]:
                assert cosine(ours, theirs).min() >= 0.98


def test_results_do_not_depend_on_the_cache(reference):
    plain = Elmo(reference.bilm, mode="exact", cache_size=0)
    tiny = Elmo(reference.bilm, mode="exact", cache_size=3)  # constant eviction
    expected = plain.embed_batch(SENTENCES)
    for _ in range(2):
        for ours, theirs in zip(tiny.embed_batch(SENTENCES), expected, strict=True):
            np.testing.assert_array_equal(ours, theirs)
    assert len(tiny.engine.cache) <= 3 and len(plain.engine.cache) == 0


@pytest.mark.parametrize("mode", ["exact", "int8"])
def test_word_invariance_gives_every_word_the_same_bits_in_every_batch(mode):
    """en-small's real shapes: once the engine says its kernels allow it, real words encoded
    all at once, one at a time and in shuffled groups of several sizes agree bit for bit."""
    from pathlib import Path

    engine = Elmo.load("en-small", mode=mode, stateful=False).engine
    assert not engine.invariant_words
    if not engine.enable_word_invariance():
        pytest.skip("this CPU's GEMM kernels are not row-invariant (the check says so)")
    text = (Path(__file__).parents[1] / "benchmarks" / "data" / "sotu_sentences.txt").read_text()
    words = sorted(set(text.split()))[:600]
    with torch.inference_mode():
        together = engine._encode(words)
        np.testing.assert_array_equal(
            torch.cat([engine._encode([w]) for w in words[:60]]), together[:60]
        )
        rng = np.random.default_rng(1)
        for size in (2, 7, 15, 33, 100):
            order = rng.permutation(len(words)).tolist()
            grouped = torch.empty_like(together)
            for i in range(0, len(order), size):
                rows = order[i : i + size]
                grouped[rows] = engine._encode([words[r] for r in rows])
            assert torch.equal(grouped, together), size


def test_word_cache_lru_and_hit_rate():
    cache = WordCache(max_size=2)
    calls = []

    def encode(words):
        calls.append(list(words))
        return torch.tensor([[float(len(w))] for w in words])

    assert cache.lookup(["a", "bb"], encode, 1).tolist() == [[1.0], [2.0]]
    assert cache.lookup(["a"], encode, 1).tolist() == [[1.0]]  # hit; "bb" is now oldest
    assert cache.lookup(["ccc"], encode, 1).tolist() == [[3.0]]  # evicts "bb"
    assert cache.lookup(["bb", "a"], encode, 1).tolist() == [[2.0], [1.0]]
    assert calls == [["a", "bb"], ["ccc"], ["bb"]]
    assert len(cache) == 2 and cache.hits == 2 and cache.misses == 4
    assert cache.hit_rate == pytest.approx(2 / 6)


def test_engine_follows_weight_changes(reference):
    elmo = Elmo.random(moderate_config(), seed=4)
    before = elmo.embed_sentence(SENTENCES[0])
    with torch.no_grad():
        for param in elmo.bilm.parameters():
            param.mul_(0.5)
    after = elmo.embed_sentence(SENTENCES[0])
    expected = Elmo(elmo.bilm, mode="reference").embed_sentence(SENTENCES[0])
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, expected, atol=1e-5, rtol=0)


def test_engine_single_thread_path(reference):
    engine = InferenceEngine(reference.bilm, parallel=False)
    ours = engine([SENTENCES[0], SENTENCES[1]]).layers
    theirs = InferenceEngine(reference.bilm, parallel=True)([SENTENCES[0], SENTENCES[1]]).layers
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=0)


def test_final_state_false_skips_only_the_dropped_steps(reference):
    """Stateless embedding skips each stack's last step (</S> forward, <S> backward): every
    position a caller keeps is unchanged, the dropped ones are 0, and no state is returned."""
    engine = InferenceEngine(reference.bilm)
    batch = [SENTENCES[0], SENTENCES[1], SENTENCES[2], SENTENCES[6]]
    full, short = engine(batch), engine(batch, final_state=False)
    assert full.state is not None and short.state is None
    P = reference.config.lstm.projection_dim
    for row, sentence in enumerate(batch):
        n = len(sentence)
        # words and the boundaries' other direction: unchanged (up to float32 rounding: the
        # per-step GEMMs have other row counts)
        torch.testing.assert_close(short.layers[:, row, 1 : n + 1], full.layers[:, row, 1 : n + 1],
                                   atol=1e-6, rtol=0)  # fmt: skip
        torch.testing.assert_close(short.layers[1:, row, 0, :P], full.layers[1:, row, 0, :P],
                                   atol=1e-6, rtol=0)  # fmt: skip
        torch.testing.assert_close(short.layers[1:, row, n + 1, P:], full.layers[1:, row, n + 1, P:],
                                   atol=1e-6, rtol=0)  # fmt: skip
        # the skipped steps: forward at </S>, backward at <S>
        assert not short.layers[1:, row, n + 1, :P].any() and not short.layers[1:, row, 0, P:].any()
        assert full.layers[1:, row, n + 1, :P].any()


def test_engine_keeps_weight_values_and_saved_bytes(reference, tmp_path):
    """The exact engine stores LSTM weights column-major (faster small-row GEMMs): the values,
    the parity path and the saved HDF5 stay the same."""
    import h5py

    elmo = Elmo.random(moderate_config(), seed=5, mode="reference")
    before = {k: v.clone() for k, v in elmo.bilm.state_dict().items()}
    elmo.save(tmp_path / "before")
    expected = elmo.embed_batch(SENTENCES)
    exact = Elmo(elmo.bilm, mode="exact")
    exact.embed_batch(SENTENCES)
    weight = elmo.bilm.lstm.forward_layers[0].state_linear.weight
    assert weight.t().is_contiguous()  # re-laid out in place, not copied
    for key, value in elmo.bilm.state_dict().items():
        torch.testing.assert_close(value, before[key], atol=0, rtol=0)
    for ours, theirs in zip(elmo.embed_batch(SENTENCES), expected, strict=True):
        np.testing.assert_allclose(ours, theirs, atol=1e-6, rtol=0)
    elmo.save(tmp_path / "after")
    with h5py.File(tmp_path / "before" / "weights.hdf5") as a, \
            h5py.File(tmp_path / "after" / "weights.hdf5") as b:  # fmt: skip
        keys = []
        a.visititems(lambda name, obj: keys.append(name) if isinstance(obj, h5py.Dataset) else None)
        assert keys
        for key in keys:
            np.testing.assert_array_equal(a[key][()], b[key][()])


def test_bad_mode_is_an_error(reference):
    with pytest.raises(Exception, match="mode"):
        Elmo(reference.bilm, mode="turbo")


@pytest.mark.parametrize("mode", ["fast", "int8"])
def test_cli_embed_mode_fast(tmp_path, reference, mode):
    import h5py

    from elmokit.cli import main

    model_dir = reference.save(tmp_path / "model")
    text = tmp_path / "in.txt"
    text.write_text("The cell divides .\nHi there\n", encoding="utf-8")
    result = CliRunner().invoke(main, [
        "embed", str(text), str(tmp_path / "out.hdf5"), "--mode", mode,
        "--options-file", str(model_dir / "options.json"),
        "--weight-file", str(model_dir / "weights.hdf5"),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    with h5py.File(tmp_path / "out.hdf5") as out:
        got = out["0"][...]
    expected = reference.embed_sentence("The cell divides .".split())
    assert got.shape == expected.shape
    assert cosine(got, expected).min() >= 0.99
