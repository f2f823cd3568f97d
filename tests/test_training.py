"""Training: vocabulary, data stream, LSTM numerics, learning, resume, export, fine-tune, errors."""

from __future__ import annotations

import copy
import json
import math
import os
import shutil
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from elmokit import Elmo
from elmokit.characters import batch_to_ids
from elmokit.cli import main
from elmokit.errors import ConfigError, InputError
from elmokit.modules.bilm import LstmState
from elmokit.training.checkpoint import (
    export_model,
    load_checkpoint,
    load_pretrained,
    model_from_checkpoint,
)
from elmokit.training.data import Batch, BatchStream
from elmokit.training.evaluate import perplexity
from elmokit.training.model import LanguageModel, ProjectedLstm, resolve_config
from elmokit.training.train import TrainConfig, learning_rate, train
from elmokit.training.vocab import Vocabulary, build_vocabulary

from .conftest import FIXTURES, TINY_DIR, default_sigint

WORDS = [f"w{i:02d}" for i in range(40)]


def cyclic_corpus(path: Path, n: int = 300) -> Path:
    """Sentences are 6 consecutive words of a fixed 40-word cycle: each word predicts the next."""
    lines = []
    for i in range(n):
        start = (i * 7) % len(WORDS)
        lines.append(" ".join(WORDS[(start + k) % len(WORDS)] for k in range(6)))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def corpus(tmp_path) -> Path:
    return cyclic_corpus(tmp_path / "train.txt")


@pytest.fixture
def vocab_file(tmp_path, corpus) -> Path:
    vocab, _ = build_vocabulary([str(corpus)])
    vocab.save(tmp_path / "vocab.txt")
    return tmp_path / "vocab.txt"


def small_run(tmp_path, corpus, vocab_file, out="run", **kwargs) -> TrainConfig:
    settings = dict(corpus=[str(corpus)], vocab=str(vocab_file), out=str(tmp_path / out),
                    config="tiny", batch_size=8, unroll=6, n_negative=16, progress=False,
                    log_every=1, threads=1)  # fmt: skip
    settings.update(kwargs)
    return TrainConfig(**settings)


# ---------------------------------------------------------------------- vocabulary
def test_vocab_cli_counts_and_orders(tmp_path):
    text = tmp_path / "a.txt"
    text.write_text("b a b\n\nc b a\n")
    out = tmp_path / "vocab.txt"
    result = CliRunner().invoke(main, ["vocab", str(text), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().split("\n")[:6] == ["<S>", "</S>", "<UNK>", "b", "a", "c"]
    CliRunner().invoke(main, ["vocab", str(text), "-o", str(out), "--min-count", "2"])
    assert out.read_text().split() == ["<S>", "</S>", "<UNK>", "b", "a"]
    CliRunner().invoke(main, ["vocab", str(text), "-o", str(out), "--max-size", "4"])
    assert out.read_text().split() == ["<S>", "</S>", "<UNK>", "b"]


def test_vocab_raw_text_tokenizer(tmp_path):
    text = tmp_path / "raw.txt"
    text.write_text("Don't panic, it's fine.\n")
    vocab, _ = build_vocabulary([str(text)], tokenizer="elmokit")
    assert "n't" in vocab.index and "," in vocab.index and "panic," not in vocab.index


def test_vocabulary_without_specials_is_an_error(tmp_path):
    bad = tmp_path / "vocab.txt"
    bad.write_text("the\ncat\n")
    with pytest.raises(InputError, match="<S>, </S>, <UNK>"):
        Vocabulary.load(bad)


# ---------------------------------------------------------------------- data
def test_stream_is_deterministic_and_covers_every_sentence_once(tmp_path, corpus, vocab_file):
    vocab = Vocabulary.load(vocab_file)

    def windows(seed):
        stream = BatchStream([corpus], vocab, 4, 5, seed=seed, epochs=1)
        return [b.targets for b in stream]

    assert all(torch.equal(a, b) for a, b in zip(windows(1), windows(1), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(windows(1), windows(2), strict=False))
    # evaluation order: every word and every </S> is a counted target once per direction
    stream = BatchStream([corpus], vocab, 3, 7, shuffle=False, epochs=1, pad_last=True)
    counted = sum(b.weights.sum(dim=(1, 2)) for b in stream)
    assert counted.tolist() == [300 * 7, 300 * 7]


def test_stream_ranks_split_the_sentences(tmp_path, corpus, vocab_file):
    vocab = Vocabulary.load(vocab_file)
    seen = []
    for rank in range(2):
        stream = BatchStream([corpus], vocab, 1, 1000, epochs=1, pad_last=True, rank=rank,
                             world_size=2)  # fmt: skip
        seen.append(sum(float(b.weights[0].sum()) for b in stream))
    assert seen == [150 * 7, 150 * 7]


def test_stream_resumes_at_the_same_token(tmp_path, corpus, vocab_file):
    vocab = Vocabulary.load(vocab_file)
    a = BatchStream([corpus], vocab, 4, 5, seed=3)
    for _ in range(7):
        next(a)
    b = BatchStream([corpus], vocab, 4, 5, seed=3)
    b.load_state_dict(a.state_dict())
    for _ in range(60):  # crosses the end of an epoch
        x, y = next(a), next(b)
        assert torch.equal(x.chars, y.chars) and torch.equal(x.targets, y.targets)


# ---------------------------------------------------------------------- numerics
@pytest.mark.parametrize("clips", [(3.0, 3.0), (0.4, 0.2), (None, None)])
def test_projected_lstm_matches_inference_cell_and_autograd(clips):
    torch.manual_seed(0)
    lm = LanguageModel(resolve_config("tiny"), 10)
    lm.init_weights()
    cell = lm.bilm.lstm.forward_layers[0].double()
    cell.cell_clip, cell.proj_clip = clips
    B, T = 3, 7
    x = (torch.randn(B, T, 32, dtype=torch.double) * 2).requires_grad_()
    h0 = torch.randn(B, 32, dtype=torch.double, requires_grad=True)
    c0 = torch.randn(B, 64, dtype=torch.double, requires_grad=True)
    weights = [torch.randn(B, T, 32, dtype=torch.double), torch.randn(B, 32, dtype=torch.double),
               torch.randn(B, 64, dtype=torch.double)]  # fmt: skip
    params = [*cell.parameters(), x, h0, c0]

    def grads(outputs):
        loss = sum((o * w).sum() for o, w in zip(outputs, weights, strict=True))
        return torch.autograd.grad(loss, params)

    ref, (h_ref, c_ref) = cell(x, [B] * T, (h0, c0))
    ref_grads = grads([ref, h_ref, c_ref])
    gx = torch.nn.functional.linear(x.transpose(0, 1), cell.input_linear.weight,
                                    cell.input_linear.bias + cell._bias_offset)[None]  # fmt: skip
    out, hT, cT = ProjectedLstm.apply(gx, h0[None], c0[None], cell.state_linear.weight[None],
                                      cell.state_projection.weight[None], *clips)  # fmt: skip
    ours = [out[0].transpose(0, 1), hT[0], cT[0]]
    for a, b in zip(ours, [ref, h_ref, c_ref], strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    for a, b in zip(grads(ours), ref_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


def test_training_forward_equals_the_inference_bilm():
    """The LM trains exactly what BiLM (and so Elmo.load of the export) computes."""
    torch.manual_seed(1)
    lm = LanguageModel(resolve_config("tiny"), 10)
    lm.init_weights()
    lm.eval()
    sentence = ["the", "cats", "sat", "quietly"]
    stream_f = ["<S>", *sentence, "</S>"]
    stream_b = stream_f[::-1]
    types = sorted(set(stream_f))
    chars = torch.from_numpy(batch_to_ids([types], add_boundaries=False)[0][0])
    tokens = torch.tensor([[types.index(t) for t in s] for s in (stream_f, stream_b)])[:, :, None]
    batch = Batch(chars, tokens, torch.zeros_like(tokens), torch.ones(tokens.shape))
    hidden, _ = lm(batch, lm.zero_state(1))  # (2, T, 1, P)
    ids, lengths = batch_to_ids([sentence])
    with torch.no_grad():
        top = lm.bilm(torch.from_numpy(ids), torch.from_numpy(lengths)).layers[-1, 0]  # (T, 2P)
    P = lm.config.lstm.projection_dim
    torch.testing.assert_close(hidden[0, :, 0], top[:, :P], rtol=0, atol=1e-5)
    torch.testing.assert_close(hidden[1, :, 0].flip(0), top[:, P:], rtol=0, atol=1e-5)


# ---------------------------------------------------------------------- learning
@pytest.mark.slow
def test_tiny_config_learns_a_repetitive_corpus(tmp_path, corpus, vocab_file):
    vocab = Vocabulary.load(vocab_file)
    summary = train(small_run(tmp_path, corpus, vocab_file, max_steps=200, dropout=0.0,
                              batch_size=16, unroll=10, log_every=40, optimizer="adam",
                              lr=0.01))  # fmt: skip
    assert summary["stopped"] == "max_steps"
    lm, _ = model_from_checkpoint(load_checkpoint(tmp_path / "run"))
    result = perplexity(lm, vocab, [str(corpus)])
    uniform = len(vocab)  # 43
    # within a sentence each word is followed by the next of the cycle; only the first word
    # of a sentence is uncertain (40 choices, 1 target in 7), so the floor is about 1.7
    assert result["forward"] < 3.0 and result["backward"] < 3.0, result
    assert result["mean"] < uniform / 10
    assert (tmp_path / "run" / "loss.png").stat().st_size > 1000
    rows = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert len(rows) == 5 and rows[-1]["step"] == 200 and rows[-1]["loss"] < rows[0]["loss"]


def test_resume_matches_an_uninterrupted_run(tmp_path, corpus, vocab_file):
    train(small_run(tmp_path, corpus, vocab_file, out="whole", max_steps=8))
    train(small_run(tmp_path, corpus, vocab_file, out="parts", max_steps=3))
    summary = train(small_run(tmp_path, corpus, vocab_file, out="parts", max_steps=8,
                              resume=True))  # fmt: skip
    assert summary["step"] == 8
    a, b = load_checkpoint(tmp_path / "whole"), load_checkpoint(tmp_path / "parts")
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    for key, value in a["optimizer"]["state"].items():
        assert torch.equal(value["sum"], b["optimizer"]["state"][key]["sum"])
    assert torch.equal(a["ranks"][0]["h"], b["ranks"][0]["h"])
    assert a["ranks"][0]["data"] == b["ranks"][0]["data"]
    log_a = [json.loads(x) for x in (tmp_path / "whole" / "log.jsonl").read_text().splitlines()]
    log_b = [json.loads(x) for x in (tmp_path / "parts" / "log.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in log_a] == [r["loss"] for r in log_b]


def test_learning_rate_schedules():
    """Warm-up from 0, then constant / linear / half-cosine down to min_lr, flat after."""
    cfg = TrainConfig(out="x", lr=1e-3, warmup_tokens=99, decay_tokens=1099, min_lr=1e-4)
    assert learning_rate(cfg, 0) == pytest.approx(1e-5)
    assert learning_rate(cfg, 49) == pytest.approx(5e-4)
    assert learning_rate(replace(cfg, lr_schedule="constant"), 5000) == 1e-3
    linear, cosine = replace(cfg, lr_schedule="linear"), replace(cfg, lr_schedule="cosine")
    for schedule in (linear, cosine):
        assert learning_rate(schedule, 99) == pytest.approx(1e-3)
        assert learning_rate(schedule, 599) == pytest.approx(5.5e-4)  # half way, both
        assert learning_rate(schedule, 1099) == pytest.approx(1e-4)
        assert learning_rate(schedule, 10**9) == pytest.approx(1e-4)
    assert learning_rate(linear, 349) == pytest.approx(7.75e-4)
    assert learning_rate(cosine, 349) == pytest.approx(
        1e-4 + 9e-4 * (1 + math.cos(math.pi / 4)) / 2
    )


def test_cosine_schedule_run_logs_its_lr_and_resumes_exactly(tmp_path, corpus, vocab_file):
    """The lr of every step follows the schedule (decay over max_tokens by default), and an
    interrupted run resumes to the same losses and weights: the schedule is part of the run."""
    schedule = dict(optimizer="adam", lr=2e-3, lr_schedule="cosine", warmup_tokens=96,
                    min_lr=1e-4, max_tokens=8 * 48)  # fmt: skip
    train(small_run(tmp_path, corpus, vocab_file, out="whole", **schedule))
    # the first part is asked for 144 tokens; its schedule is still the whole run's
    train(small_run(tmp_path, corpus, vocab_file, out="parts",
                    **{**schedule, "max_tokens": 144, "decay_tokens": 8 * 48}))  # fmt: skip
    with pytest.raises(ConfigError, match="--lr-schedule cosine; --lr-schedule linear"):
        train(small_run(tmp_path, corpus, vocab_file, out="parts", resume=True,
                        lr_schedule="linear"))  # fmt: skip
    train(TrainConfig(out=str(tmp_path / "parts"), resume=True, max_tokens=8 * 48,
                      progress=False, log_every=1, threads=1))  # fmt: skip
    rows = [json.loads(x) for x in (tmp_path / "whole" / "log.jsonl").read_text().splitlines()]
    cfg = TrainConfig(out="x", **{**schedule, "decay_tokens": 8 * 48})
    before = [0] + [r["tokens"] for r in rows[:-1]]  # the tokens seen when each step began
    assert [r["lr"] for r in rows] == pytest.approx([learning_rate(cfg, t) for t in before])
    assert rows[0]["lr"] < rows[2]["lr"] > rows[-1]["lr"] > 1e-4
    parts = [json.loads(x) for x in (tmp_path / "parts" / "log.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in parts] == [r["loss"] for r in rows]
    a, b = load_checkpoint(tmp_path / "whole"), load_checkpoint(tmp_path / "parts")
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert a["train_config"]["decay_tokens"] == 8 * 48  # by default, over max_tokens


def test_bad_schedule_settings_are_clear_errors(tmp_path, corpus, vocab_file):
    with pytest.raises(ConfigError, match="give decay_tokens"):
        train(small_run(tmp_path, corpus, vocab_file, lr_schedule="linear", max_steps=2))
    with pytest.raises(ConfigError, match="must be more than warmup_tokens"):
        train(small_run(tmp_path, corpus, vocab_file, lr_schedule="cosine", warmup_tokens=500,
                        decay_tokens=400))  # fmt: skip
    with pytest.raises(ConfigError, match="lr_schedule 'step' must be one of"):
        train(small_run(tmp_path, corpus, vocab_file, lr_schedule="step"))
    result = CliRunner().invoke(main, ["train", "--corpus", str(corpus), "--vocab",
                                       str(vocab_file), "--out", str(tmp_path / "y"),
                                       "--lr-schedule", "cosine", "--min-lr", "1"])  # fmt: skip
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("error: lr_schedule 'cosine'")


def _checksum(tensors) -> float:
    return sum(float(t.double().sum()) for t in tensors)


def test_checkpoint_v1_resumes_exactly(tmp_path, monkeypatch):
    """A checkpoint written by the train() of f11489e (fixtures/checkpoint-v1, made by its
    make_fixture.py) resumes to the numbers that code computed when resuming it: the same losses,
    weights, optimizer state, LSTM state, data position and snapshots, bit for bit. Resumed with
    `out` + `resume=True` + when to stop only: corpus, vocabulary and config come from the
    checkpoint (relative paths there, so from a copy of the fixture as working directory).
    The fixture's numbers were computed on an Intel CPU; another CPU's float kernels (AMD's
    AVX2, say) round differently in the last bits, so floats are compared to 1e-6 relative and
    the logged losses to their last digit; the same machine resumes bit for bit
    (test_resume_matches_an_uninterrupted_run)."""
    expected = json.loads((FIXTURES / "checkpoint-v1" / "expected.json").read_text())
    run = shutil.copytree(FIXTURES / "checkpoint-v1", tmp_path / "v1")
    monkeypatch.chdir(run)
    snapshot = load_checkpoint(run / "snapshots" / expected["snapshot"]["name"])
    assert snapshot["tokens"] == expected["snapshot"]["tokens"]
    assert _checksum(snapshot["model"].values()) == expected["snapshot"]["model_checksum"]  # saved
    when = {k: expected["resume"][k]
            for k in ("max_steps", "log_every", "threads", "progress", "snapshot_tokens")}  # fmt: skip
    summary = train(TrainConfig(out=str(run), resume=True, **when))
    want = expected["after_resume"]
    assert {k: summary[k] for k in want["summary"]} == want["summary"]
    rows = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == want["steps"]
    assert [r["loss"] for r in rows] == pytest.approx(want["losses"], abs=2e-5)
    ckpt = load_checkpoint(run)
    close = partial(pytest.approx, rel=1e-6)
    assert _checksum(ckpt["model"].values()) == close(want["model_checksum"])
    assert _checksum(s["sum"] for s in ckpt["optimizer"]["state"].values()) == close(
        want["optimizer_checksum"])  # fmt: skip
    assert _checksum([ckpt["ranks"][0]["h"], ckpt["ranks"][0]["c"]]) == close(
        want["state_checksum"])  # fmt: skip
    assert ckpt["ranks"][0]["data"] == want["data"]
    assert sorted(p.name for p in (run / "snapshots").glob("*.pt")) == want["snapshots"]
    # the run's settings are still the checkpoint's (so the next resume works the same way)
    saved = ckpt["train_config"]
    assert (saved["corpus"], saved["vocab"], saved["config"]) == (["train.txt"], "vocab.txt",
                                                                  "config.json")  # fmt: skip


def test_resume_takes_the_settings_from_the_checkpoint(tmp_path, corpus, vocab_file):
    """Resuming needs only `out`; a setting that contradicts the checkpoint is a one-line
    ConfigError; train() never changes the TrainConfig it is given."""
    fresh = small_run(tmp_path, corpus, vocab_file, max_steps=2)
    before = copy.deepcopy(fresh)
    train(fresh)
    assert fresh == before and fresh.lr is None and fresh.tokenizer is None
    out = str(tmp_path / "run")
    cfg = TrainConfig(out=out, resume=True, max_steps=3, progress=False, threads=1)
    before = copy.deepcopy(cfg)
    assert train(cfg)["step"] == 3
    assert cfg == before and cfg.corpus is None and cfg.batch_size is None
    saved = load_checkpoint(out)["train_config"]
    assert (saved["corpus"], saved["vocab"]) == ([str(corpus)], str(vocab_file))
    assert (saved["batch_size"], saved["n_negative"], saved["lr"]) == (8, 16, 0.2)
    ckpt_file = Path(out) / "checkpoint.pt"
    for given, message in [
        ({"config": "cpu-small"}, "--config tiny; --config cpu-small contradicts it"),
        ({"batch_size": 64}, "--batch-size 8; --batch-size 64 contradicts it"),
        ({"corpus": ["other.txt"]}, f"--corpus {corpus}; --corpus other.txt contradicts it"),
        ({"bf16": True}, "no --bf16; --bf16 contradicts it"),
    ]:
        with pytest.raises(ConfigError) as error:
            train(TrainConfig(out=out, resume=True, max_steps=4, **given))
        assert str(error.value) == f"{ckpt_file} was trained with {message} (drop it to resume)"
    assert load_checkpoint(out)["step"] == 3  # nothing ran
    # the same settings are no contradiction, however the paths are spelt
    same = small_run(tmp_path, os.path.relpath(corpus), vocab_file, max_steps=4, resume=True)
    assert train(same)["step"] == 4
    with pytest.raises(ConfigError, match="corpus and vocab: required for a new run"):
        train(TrainConfig(out=str(tmp_path / "new")))


def test_snapshots_keep_the_weights_every_n_tokens(tmp_path, corpus, vocab_file):
    summary = train(small_run(tmp_path, corpus, vocab_file, max_steps=5, snapshot_tokens=100))
    per_step = 8 * 6  # batch x unroll
    names = sorted(p.name for p in (tmp_path / "run" / "snapshots").glob("*.pt"))
    crossings = [t for t in range(per_step, 5 * per_step + 1, per_step)
                 if t // 100 > (t - per_step) // 100]  # fmt: skip
    assert names == [f"tokens-{t:012d}.pt" for t in crossings] and len(names) == 2
    snap = load_checkpoint(tmp_path / "run" / "snapshots" / names[-1])
    lm, _ = model_from_checkpoint(snap)
    assert snap["tokens"] == crossings[-1] and summary["tokens"] == 5 * per_step


def test_average_checkpoints_is_the_mean_of_the_snapshots(tmp_path, corpus, vocab_file):
    train(small_run(tmp_path, corpus, vocab_file, max_steps=5, snapshot_tokens=100))
    snaps = sorted((tmp_path / "run" / "snapshots").glob("*.pt"))
    paths = [*snaps, tmp_path / "run"]  # snapshots and the full checkpoint, in any order
    out = tmp_path / "avg.pt"
    result = CliRunner().invoke(main, ["average-checkpoints", *map(str, paths[::-1]),
                                       "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    avg, inputs = load_checkpoint(out), [load_checkpoint(p) for p in paths]
    for key, value in avg["model"].items():
        expected = sum(c["model"][key].double() for c in inputs) / len(inputs)
        torch.testing.assert_close(value.double(), expected, rtol=1e-6, atol=1e-7)
    assert not torch.equal(avg["model"]["softmax_w"], inputs[-1]["model"]["softmax_w"])
    assert avg["tokens"] == inputs[-1]["tokens"] == 5 * 8 * 6
    assert [a["tokens"] for a in avg["averaged"]] == [c["tokens"] for c in inputs]
    assert "optimizer" not in avg  # weights only, like a snapshot
    # export and perplexity read it like any checkpoint; the card says what was averaged
    result = CliRunner().invoke(main, ["export", str(out), str(tmp_path / "model")])
    assert result.exit_code == 0, result.output
    assert "the mean of the checkpoints at 144, 240, 240 tokens" in (
        tmp_path / "model" / "README.md").read_text()  # fmt: skip
    result = CliRunner().invoke(main, ["perplexity", str(out), "--corpus", str(corpus)])
    assert result.exit_code == 0 and json.loads(result.output)["tokens"] == 300 * 7
    # and training starts from it (--init-from; learning rate 0: the weights stay the mean)
    tuned = small_run(tmp_path, corpus, vocab_file, out="tuned", max_steps=1, init_from=str(out),
                      optimizer="adam", lr=0.0)  # fmt: skip
    assert train(tuned)["step"] == 1
    for key, value in load_checkpoint(tmp_path / "tuned")["model"].items():
        torch.testing.assert_close(value, avg["model"][key], rtol=0, atol=0)
    # checkpoints of different runs are refused, naming the file
    other = tmp_path / "other"
    train(small_run(other, corpus, vocab_file, max_steps=1))
    bad = load_checkpoint(other / "run")
    bad["vocab"] = bad["vocab"][:-1] + ["different"]
    torch.save(bad, other / "bad.pt")
    result = CliRunner().invoke(main, ["average-checkpoints", str(snaps[0]),
                                       str(other / "bad.pt"), "-o", str(tmp_path / "x.pt")])  # fmt: skip
    assert result.exit_code != 0 and "bad.pt: its vocabulary differs" in result.output
    assert not (tmp_path / "x.pt").exists()


# ---------------------------------------------------------------------- export / fine-tune
def test_export_round_trip_and_perplexity_cli(tmp_path, corpus, vocab_file):
    train(small_run(tmp_path, corpus, vocab_file, max_steps=3))
    out = tmp_path / "model"
    result = CliRunner().invoke(main, ["export", str(tmp_path / "run"), str(out)])
    assert result.exit_code == 0, result.output
    assert {"options.json", "weights.hdf5", "vocab.txt", "softmax.hdf5", "README.md"} <= {
        p.name for p in out.iterdir()
    }
    lm, _ = model_from_checkpoint(load_checkpoint(tmp_path / "run"))
    sentence = ["w01", "w02", "unseen-word", "w03"]
    expected = Elmo(lm.bilm).embed_sentence(sentence)
    np.testing.assert_array_equal(Elmo.load(out).embed_sentence(sentence), expected)
    ppl = []
    for model in (tmp_path / "run", out):
        result = CliRunner().invoke(main, ["perplexity", str(model), "--corpus", str(corpus)])
        assert result.exit_code == 0, result.output
        ppl.append(json.loads(result.output))
    assert ppl[0] == ppl[1] and ppl[0]["tokens"] == 300 * 7
    assert math.isclose(ppl[0]["mean"], math.sqrt(ppl[0]["forward"] * ppl[0]["backward"]),
                        rel_tol=1e-3)  # fmt: skip


def test_fine_tune_from_an_exported_model(tmp_path, corpus, vocab_file):
    train(small_run(tmp_path, corpus, vocab_file, max_steps=3))
    lm, vocab = model_from_checkpoint(load_checkpoint(tmp_path / "run"))
    export_model(lm, vocab, tmp_path / "model")
    # same vocabulary: everything, softmax included, is carried over
    same, _, note = load_pretrained(tmp_path / "model", vocab)
    assert note == "softmax kept"
    for key, value in lm.state_dict().items():
        assert torch.equal(same.state_dict()[key], value), key
    # another vocabulary: the biLM is kept, the softmax re-initialised with the new size
    other = tmp_path / "other.txt"
    other.write_text("<S>\n</S>\n<UNK>\nw01\nw02\n")
    summary = train(small_run(tmp_path, corpus, other, out="tuned", max_steps=4,
                              init_from=str(tmp_path / "model")))  # fmt: skip
    assert summary["step"] == 4
    tuned, tuned_vocab = model_from_checkpoint(load_checkpoint(tmp_path / "tuned"))
    assert tuned.vocab_size == 5 and tuned_vocab.tokens[3:] == ["w01", "w02"]
    before = lm.bilm.lstm.forward_layers[0].state_linear.weight
    after = tuned.bilm.lstm.forward_layers[0].state_linear.weight
    assert not torch.equal(before, after) and (before - after).abs().max() < 0.5


def test_fine_tune_from_an_allennlp_model(tmp_path, corpus, vocab_file):
    summary = train(small_run(tmp_path, corpus, vocab_file, out="ft", max_steps=2,
                              init_from=str(TINY_DIR)))  # fmt: skip
    assert summary["step"] == 2
    assert load_checkpoint(tmp_path / "ft")["options"]["lstm"]["dim"] == json.loads(
        (TINY_DIR / "options.json").read_text())["lstm"]["dim"]  # fmt: skip


# ---------------------------------------------------------------------- bad input
def test_bad_input_gives_clear_errors(tmp_path, corpus, vocab_file):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(InputError, match="no such file"):
        train(small_run(tmp_path, tmp_path / "missing*.txt", vocab_file, max_steps=1))
    with pytest.raises(InputError, match="no sentences"):
        train(small_run(tmp_path, empty, vocab_file, max_steps=1))
    bad_vocab = tmp_path / "bad.txt"
    bad_vocab.write_text("w01\nw02\n")
    with pytest.raises(InputError, match="<UNK>"):
        train(small_run(tmp_path, corpus, bad_vocab, max_steps=1))
    typo = tmp_path / "typo.json"
    options = resolve_config("tiny").to_options()
    options["lstm"]["projection_dimm"] = options["lstm"].pop("projection_dim")
    typo.write_text(json.dumps(options))
    with pytest.raises(ConfigError, match="projection_dimm.*projection_dim"):
        resolve_config(str(typo))
    with pytest.raises(ConfigError, match="neither a preset"):
        resolve_config("smal")
    with pytest.raises(InputError, match="nothing to resume"):
        train(small_run(tmp_path, corpus, vocab_file, out="fresh", resume=True))
    result = CliRunner().invoke(main, ["train", "--corpus", str(empty), "--vocab",
                                       str(vocab_file), "--out", str(tmp_path / "x")])  # fmt: skip
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("error: corpus")
    result = CliRunner().invoke(main, ["vocab", str(empty), "-o", str(tmp_path / "v.txt")])
    assert result.exit_code == 1 and "empty corpus" in result.output


def test_sampled_softmax_loss_is_close_to_full_softmax():
    torch.manual_seed(0)
    lm = LanguageModel(resolve_config("tiny"), 2000, n_negative=512)
    lm.init_weights()
    hidden = torch.randn(2, 5, 4, 32)
    targets = torch.randint(0, 2000, (2, 5, 4))
    weights = torch.ones(2, 5, 4)
    full = lm.loss(hidden, targets, weights, full=True)[0]
    sampled = torch.stack([lm.loss(hidden, targets, weights, full=False)[0] for _ in range(20)])
    # importance-sampled partition function: close to the full loss (slightly low, Jensen)
    assert abs(sampled.mean().item() - full.item()) < 0.02 * full.item()
    assert sampled.std().item() < 0.1


def _sampled_nll_reference(h, y, w_out, b_out, n_negative, generator):
    """The estimator written plainly (every draw its own column, hits masked), for autograd."""
    V = w_out.size(0)
    u = torch.rand(n_negative, generator=generator)
    draws = ((u * math.log(V + 1)).exp() - 1).long().clamp_(0, V - 1)
    q = torch.log1p(1.0 / (draws.double() + 1)) / math.log(V + 1)
    log_kq = (math.log(n_negative) + torch.log(q)).to(h.dtype)
    true = (h * w_out[y]).sum(-1) + b_out[y]
    sampled = h @ w_out[draws].t() + b_out[draws] - log_kq
    sampled = sampled.masked_fill(y[:, None] == draws[None, :], -math.inf)
    return torch.logsumexp(torch.cat([true[:, None], sampled], 1), 1) - true


def test_sampled_softmax_merges_duplicate_draws_exactly():
    from elmokit.training.model import sampled_softmax_nll

    torch.manual_seed(0)
    V, P, N, K = 300, 8, 40, 256  # few words: many duplicate draws and accidental hits
    w = torch.randn(V, P, dtype=torch.float64, requires_grad=True)
    b = torch.randn(V, dtype=torch.float64, requires_grad=True)
    h = torch.randn(N, P, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 20, (N,))  # frequent words: most rows hit their own target
    g = torch.randn(N, dtype=torch.float64)
    grads = []
    for fn in (sampled_softmax_nll, _sampled_nll_reference):
        nll = fn(h, y, w, b, K, torch.Generator().manual_seed(3))
        grads.append((nll.detach(), *torch.autograd.grad((nll * g).sum(), (h, w, b))))
    for ours, ref in zip(*grads, strict=True):
        torch.testing.assert_close(ours, ref, rtol=1e-9, atol=1e-12)


def test_lstm_state_shape_is_the_inference_state():
    lm = LanguageModel(resolve_config("tiny"), 10)
    state = lm.zero_state(3)
    assert isinstance(state, LstmState) and state.h.shape == (2, 2, 3, 32)


# ---------------------------------------------------------------------- devices, processes
def test_bf16_and_fp32_training_reach_the_same_loss(tmp_path, corpus, vocab_file):
    """bf16 autocast (bf16 GEMMs, fp32 master weights, cell state and loss) follows the fp32
    run: after 120 steps of the same data both have learnt the cycle to within 5% of each
    other's loss, from ~3.8 nats at the start (uniform over 43 words)."""
    losses = {}
    for bf16 in (False, True):
        out = f"bf16-{bf16}"
        summary = train(small_run(tmp_path, corpus, vocab_file, out=out, max_steps=120, bf16=bf16, batch_size=16, unroll=10,
                                  dropout=0.0, optimizer="adam", lr=0.01, log_every=40))  # fmt: skip
        assert summary["step"] == 120
        rows = [json.loads(x) for x in (tmp_path / out / "log.jsonl").read_text().splitlines()]
        assert all(math.isfinite(r["loss"]) for r in rows)
        losses[bf16] = rows[-1]["loss"]
        ckpt = load_checkpoint(tmp_path / out)
        assert ckpt["ranks"][0]["h"].dtype == torch.float32
        assert all(v.dtype == torch.float32 for v in ckpt["model"].values())
    assert losses[False] < 2.0  # learnt something (uniform: ln 43 = 3.76)
    assert abs(losses[True] - losses[False]) < 0.05 * losses[False], losses


def torchrun_tiny(corpus: Path, vocab_file: Path, out: Path, *options: str) -> list[str]:
    """The command line of ``torchrun`` training the tiny config in 2 CPU processes."""
    import sys

    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
            "2", "-m", "elmokit.cli", "train", "--corpus", str(corpus), "--vocab",
            str(vocab_file), "--config", "tiny", "--out", str(out), "--batch-size", "4",
            "--unroll", "5", "--threads", "1", "--no-progress", *options]  # fmt: skip


@pytest.mark.slow
def test_torchrun_two_processes_agree(tmp_path, corpus, vocab_file):
    import subprocess

    out = tmp_path / "ddp"
    # a checkpoint at almost every step: the ranks must agree on when (collectives)
    command = torchrun_tiny(
        corpus, vocab_file, out, "--max-steps", "4", "--checkpoint-minutes", "0.0001"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    crash = done.stderr.find("Fatal Python error")  # a rank's stacks (faulthandler), if any
    assert done.returncode == 0, (
        done.stderr[crash : crash + 6000] if crash >= 0 else done.stderr[-3000:]
    )
    # each rank ended itself after the final barrier (no gloo teardown): nothing was left unsaid
    assert done.stdout.count('"ranks_agree": true') == 2, done.stdout
    ranks = [json.loads((out / f"summary.rank{r}.json").read_text()) for r in range(2)]
    assert ranks[0]["param_checksums"] == ranks[1]["param_checksums"]
    assert ranks[0]["ranks_agree"] and ranks[0]["world_size"] == 2
    assert ranks[0]["tokens"] == 4 * 2 * 4 * 5  # steps x processes x rows x unroll
    # the two processes read different sentences: both shares are in the checkpoint
    ckpt = load_checkpoint(out)
    assert len(ckpt["ranks"]) == 2 and ckpt["ranks"][0]["data"] != ckpt["ranks"][1]["data"]
    before = LanguageModel(resolve_config("tiny"), 43)
    assert ckpt["model"]["softmax_w"].shape == before.softmax_w.shape


def test_stop_signals_second_interrupt_only_when_asked():
    """A single process: the second Ctrl-C interrupts (the save is taking too long). Under
    torchrun every SIGINT only asks to stop: one Ctrl-C reaches a rank twice there."""
    import signal

    from elmokit.training.train import _StopSignals

    # Python's own Ctrl-C handler, whatever this process inherited (a shell without job
    # control starts background jobs with SIGINT ignored)
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with _StopSignals(second_interrupts=False) as signals:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
            assert signals.received == "SIGINT"
        with pytest.raises(KeyboardInterrupt), _StopSignals() as signals:
            os.kill(os.getpid(), signal.SIGINT)
            assert signals.received == "SIGINT"
            os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, inherited)


def test_torchrun_ctrl_c_saves_on_every_rank(tmp_path, corpus, vocab_file):
    """Ctrl-C in a terminal reaches every process of the group, and torchrun's agent forwards
    it to each rank once more: a rank gets SIGINT twice. Both must still save and stop."""
    import signal
    import subprocess
    import time

    out = tmp_path / "ddp"
    command = torchrun_tiny(corpus, vocab_file, out, "--max-steps", "100000", "--log-every", "5")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # its own process group (the "terminal"), SIGINT at its default
    child = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=default_sigint,
    )
    try:
        deadline = time.time() + 240
        log = out / "log.jsonl"
        while not (log.is_file() and len(log.read_text().splitlines()) >= 2):
            assert child.poll() is None and time.time() < deadline, child.communicate()[1][-3000:]
            time.sleep(0.2)
        os.killpg(child.pid, signal.SIGINT)
        stdout, stderr = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    ranks = [json.loads((out / f"summary.rank{r}.json").read_text()) for r in range(2)]
    # each rank stops on its own signal, or one step earlier on its peer's (the collective flag)
    stopped = [r["stopped"] for r in ranks]
    assert "SIGINT" in stopped and set(stopped) <= {"SIGINT", "peer"}, (stopped, stderr[-3000:])
    assert ranks[0]["ranks_agree"] and ranks[0]["step"] == ranks[1]["step"] > 0
    assert load_checkpoint(out)["step"] == ranks[0]["step"]
    assert "interrupted" not in stderr


def test_perplexity_of_a_bundled_model_by_name(tmp_path):
    """`elmokit perplexity en-small`: the bundled model (with its vocab + softmax) by name; a
    bundled model without a vocabulary, or an unknown name, is a one-line error."""
    text = tmp_path / "text.txt"
    text.write_text("The president spoke to the nation .\nThe cat sat on the mat .\n")
    result = CliRunner().invoke(main, ["perplexity", "en-small", "--corpus", str(text)])
    assert result.exit_code == 0, result.output
    ppl = json.loads(result.output)
    assert ppl["tokens"] == 14 + 2  # words + each sentence's boundary target
    assert 1 < ppl["forward"] < 5000 and 1 < ppl["backward"] < 5000
    result = CliRunner().invoke(main, ["perplexity", "allennlp-tiny", "--corpus", str(text)])
    assert result.exit_code == 1 and "allennlp-tiny: no vocab.txt" in result.output
    result = CliRunner().invoke(main, ["perplexity", "no-such-model", "--corpus", str(text)])
    assert result.exit_code == 1 and "'no-such-model'" in result.output
