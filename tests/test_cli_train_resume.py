"""``elmokit train --out DIR --resume``: the run's settings come from the checkpoint; a command
line that contradicts them is one line and exit status 1."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from elmokit.cli import main
from elmokit.training.checkpoint import load_checkpoint


def _corpus(tmp_path: Path) -> tuple[Path, Path]:
    words = [f"w{i:02d}" for i in range(40)]
    lines = [" ".join(words[(i * 7 + k) % 40] for k in range(6)) for i in range(200)]
    corpus = tmp_path / "train.txt"
    corpus.write_text("\n".join(lines) + "\n")
    vocab = tmp_path / "vocab.txt"
    assert CliRunner().invoke(main, ["vocab", str(corpus), "-o", str(vocab)]).exit_code == 0
    return corpus, vocab


def test_resume_needs_only_out_and_refuses_a_contradiction(tmp_path):
    corpus, vocab = _corpus(tmp_path)
    out = str(tmp_path / "run")
    runner = CliRunner()
    common = ["--no-progress", "--threads", "1", "--log-every", "1"]
    first = runner.invoke(
        main,
        [
            "train",
            "--corpus",
            str(corpus),
            "--vocab",
            str(vocab),
            "--out",
            out,
            "--batch-size",
            "8",
            "--unroll",
            "6",
            "--n-negative",
            "16",
            "--max-steps",
            "2",
            *common,
        ],
    )
    assert first.exit_code == 0, first.output
    resumed = runner.invoke(main, ["train", "--out", out, "--resume", "--max-steps", "3", *common])
    assert resumed.exit_code == 0, resumed.output
    saved = load_checkpoint(out)
    assert saved["step"] == 3
    assert saved["train_config"]["batch_size"] == 8 and saved["train_config"]["n_negative"] == 16
    for flags, message in [
        (["--batch-size", "64"], "--batch-size 8; --batch-size 64 contradicts it"),
        (["--config", "cpu-small"], "--config tiny; --config cpu-small contradicts it"),
        (["--tokenizer", "elmokit"], "--tokenizer whitespace; --tokenizer elmokit contradicts it"),
        (["--corpus", "other.txt"], f"--corpus {corpus}; --corpus other.txt contradicts it"),
    ]:
        result = runner.invoke(
            main, ["train", "--out", out, "--resume", "--max-steps", "4", *flags, *common]
        )
        assert result.exit_code == 1
        lines = result.output.strip().splitlines()
        assert lines == [
            f"error: {Path(out) / 'checkpoint.pt'} was trained with {message} (drop it to resume)"
        ]
    assert load_checkpoint(out)["step"] == 3  # nothing ran
    # a new run still needs --corpus and --vocab: one line, not a traceback
    new = runner.invoke(main, ["train", "--out", str(tmp_path / "new"), *common])
    assert new.exit_code == 1 and "corpus and vocab: required for a new run" in new.output
