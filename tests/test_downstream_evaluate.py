"""``elmokit evaluate`` on a tiny synthetic data folder with the tiny random model."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from elmokit.cli import main
from tests.conftest import TINY_DIR

pytest.importorskip("sklearn")


def _data_dir(tmp_path):
    d = tmp_path / "eval"
    (d / "brown").mkdir(parents=True)
    sents = [
        (["The", "cat", "sat", "."], ["at", "nn", "vbd", "."]),
        (["A", "dog", "ran", "home"], ["at", "nn", "vbd", "nr"]),
        (["John", "saw", "the", "bird"], ["np", "vbd", "at", "nn"]),
    ]
    for split in ("train", "test"):
        (d / "brown" / f"{split}.jsonl").write_text(
            "\n".join(json.dumps({"tokens": t, "tags": g}) for t, g in sents * 3) + "\n"
        )
    (d / "finefoods").mkdir()
    rows = "\n".join(
        f"review {i} {'great tasty' if i % 2 else 'bad stale'},{'great' if i % 2 else 'other'}"
        for i in range(12)
    )
    for split in ("train", "test"):
        (d / "finefoods" / f"{split}.csv").write_text("text,label\n" + rows + "\n")
    glove = tmp_path / "glove.txt"
    glove.write_text("the 1 0\ncat 0 1\ngreat 1 1\nbad -1 0\ncell 0.5 0.5\nbank 1 2\n")
    return d, glove


def test_evaluate_cli(tmp_path):
    data, glove = _data_dir(tmp_path)
    out = tmp_path / "r.json"
    res = CliRunner().invoke(
        main,
        [
            "evaluate",
            "--model",
            str(TINY_DIR),
            "--data-dir",
            str(data),
            "--glove",
            str(glove),
            "--json",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "Brown POS probe" in res.output and "Word senses" in res.output
    report = json.loads(out.read_text())
    # The probe is tested on its own training sentences (no tag is ambiguous there): a linear
    # probe memorises them from any ELMo layer; 2-d GloVe, knowing 2 of the words, cannot.
    pos = {r["features"]: r for r in report["pos"]}
    assert list(pos)[-1] == "glove (2d)" and len(pos) == 6
    assert all(r["unseen_tokens"] == 0 for r in pos.values())
    assert all(pos[name]["accuracy"] >= 0.9 for name in pos if name.startswith("elmo"))
    assert pos["glove (2d)"]["accuracy"] < 0.9
    rows = {r["features"]: r for r in report["finefoods"]}  # train = test here too
    assert list(rows)[0] == "majority" and "spam" not in report
    assert rows["majority"]["accuracy"] == 0.5
    assert all(rows[name]["accuracy"] > 0.5 for name in rows if name.startswith("elmo"))
    # C: cross-validated by default (6 texts per label: 5 folds), reported per row and in the title
    assert report["finefoods_sizes"]["C"] == "auto"
    assert "logistic regression (C by 5-fold cross-validation)" in res.output
    assert rows["majority"]["C"] == "" and all(rows[n]["C"] for n in rows if n != "majority")
    senses = {r["features"]: r for r in report["senses"]}
    assert set(senses["elmo layer 1"]) >= {"cell", "mouse", "bank", "bucket"}
    # one vector per word type (GloVe, the context-free char layer): ties, so all wrong
    assert senses["glove (2d)"]["all"] == 0.0 and senses["elmo layer 0 (chars)"]["all"] == 0.0
    assert senses["elmo layer 1"]["all"] > 0.0  # contextual vectors tell occurrences apart


def test_evaluate_missing_data(tmp_path):
    res = CliRunner().invoke(
        main, ["evaluate", "--model", str(TINY_DIR), "--data-dir", str(tmp_path), "--tasks", "pos"]
    )
    assert res.exit_code == 1 and "no train.jsonl" in res.output


def test_evaluate_fixed_c(tmp_path):
    data, glove = _data_dir(tmp_path)
    args = ["evaluate", "--model", str(TINY_DIR), "--data-dir", str(data), "--glove", str(glove)]
    res = CliRunner().invoke(main, [*args, "--tasks", "classify", "--C", "0.25"])
    assert res.exit_code == 0, res.output
    assert "logistic regression (C 0.25)" in res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("| elmo") or "| glove" in ln]
    assert lines and all("| 0.25 " in ln for ln in lines)
    res = CliRunner().invoke(main, [*args, "--tasks", "classify", "--C", "-1"])
    assert res.exit_code == 1 and "C must be 'auto' or a positive number" in res.output
