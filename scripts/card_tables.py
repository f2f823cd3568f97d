"""Print the en-small model card's tables from a release run's outputs (``out/release/``,
written by ``scripts/release_eval.sh``), ready to paste into
``src/elmokit/models/en-small/MODEL.md``: the evaluation table, senses by word, perplexity,
the learning-curve rows, the fast-mode table and (with ``--run``) training perplexity by
tokens from the run's ``log.jsonl``.

    python scripts/card_tables.py [--release out/release] [--run RUN_DIR --offset 1832960]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

# evaluate's feature names -> the card's columns
ELMO = {"elmo layer 0 (chars)": "layer 0", "elmo layer 1": "layer 1", "elmo layer 2": "layer 2",
        "elmo average": "average"}
CLS = {"elmo:0": "layer 0", "elmo:1": "layer 1", "elmo:2": "layer 2", "elmo:average": "average",
       "glove": "GloVe 50d", "word2vec": "word2vec (same corpus)", "tfidf": "TF-IDF",
       "majority": "majority"}
COLUMNS = ["layer 0", "layer 1", "layer 2", "average", "GloVe 50d", "word2vec (same corpus)",
           "TF-IDF", "majority"]


def _static(name: str) -> str | None:
    if name.startswith("glove"):
        return "GloVe 50d"
    if name.startswith("word2vec"):
        return "word2vec (same corpus)"
    return ELMO.get(name)


def _row(title: str, cells: dict[str, float]) -> str:
    values = [v for v in cells.values() if v is not None]
    best = max(values) if values else None
    out = []
    for column in COLUMNS:
        value = cells.get(column)
        text = "" if value is None else f"{value:.3f}"
        out.append(f"**{text}**" if value is not None and value == best else text)
    return f"| {title} | " + " | ".join(out) + " |"


def evaluation_table(report: dict) -> str:
    lines = ["| task (metric) | " + " | ".join(COLUMNS) + " |",
             "| --- |" + " ---: |" * len(COLUMNS)]
    pos = {_static(r["features"]): r for r in report["pos"] if _static(r["features"])}
    lines.append(_row("Brown POS probe (accuracy)", {k: r["accuracy"] for k, r in pos.items()}))
    lines.append(_row("— on words unseen in probe training",
                      {k: r["unseen_accuracy"] for k, r in pos.items()}))
    for key, title in (("finefoods", "Fine-food reviews"), ("spam", "Spam")):
        rows = {CLS[r["features"]]: r for r in report.get(key, []) if r["features"] in CLS}
        for metric, name in (("accuracy", "accuracy"), ("macro_f1", "macro-F1")):
            lines.append(_row(f"{title} ({name})", {k: r[metric] for k, r in rows.items()}))
    senses = {_static(r["features"]): r["all"] for r in report["senses"] if _static(r["features"])}
    lines.append(_row("Word senses (fraction right; static vectors 0 by construction*)", senses))
    return "\n".join(lines)


def extras(report: dict) -> str:
    by_word = next(r for r in report["senses"] if r["features"] == "elmo average")
    words = ", ".join(f"{w} {by_word[w]:.2f}" for w in by_word if w not in ("features", "all"))
    concat = {key: next((r for r in report.get(key, []) if r["features"] == name), None)
              for key, name in (("pos", "elmo concat (learned mix)"),
                                ("senses", "elmo concat (learned mix)"),
                                ("finefoods", "elmo:concat"), ("spam", "elmo:concat"))}
    parts = [f"By word (average layer): {words}."]
    if all(concat.values()):
        parts.append(f'The "concat" rows: POS {concat["pos"]["accuracy"]:.3f} (unseen '
                     f'{concat["pos"]["unseen_accuracy"]:.3f}), senses '
                     f'{concat["senses"]["all"]:.3f}, reviews '
                     f'{concat["finefoods"]["accuracy"]:.3f}, spam {concat["spam"]["accuracy"]:.3f}.')
    return " ".join(parts)


def perplexity(release: Path) -> str:
    valid = json.loads((release / "perplexity_valid.json").read_text())
    test = json.loads((release / "perplexity_test.json").read_text())
    together = math.exp((valid["tokens"] * math.log(valid["mean"]) + test["tokens"]
                         * math.log(test["mean"])) / (valid["tokens"] + test["tokens"]))
    return (f"valid ({valid['tokens']:,} tokens): forward {valid['forward']:.1f}, backward "
            f"{valid['backward']:.1f}, mean **{valid['mean']:.1f}**; test ({test['tokens']:,}): "
            f"forward {test['forward']:.1f}, backward {test['backward']:.1f}, mean "
            f"**{test['mean']:.1f}**; together **{together:.0f}**")


def learning_curve(release: Path) -> str:
    rows = json.loads((release / "learning_curve.json").read_text())
    lines = []
    for row in sorted(rows, key=lambda r: r["tokens"] or 0):
        lines.append(f"| {row['tokens'] / 1e6:.1f}M | {Path(row['run']).name} | "
                     f"{row['valid_ppl']:.1f} | {row['pos_average']:.3f} | "
                     f"{row['pos_unseen']:.3f} |")
    return "\n".join(lines)


def fast_table(release: Path, exact: dict) -> str:
    fast = json.loads((release / "fast.json").read_text())["fast"]

    def pick(report: dict, key: str, name: str) -> dict:
        return next(r for r in report[key] if r["features"] == name)

    lines = ["| task (layer average) | exact | fast (int8) |", "| --- | ---: | ---: |"]
    cells = []
    for report in (exact, fast):
        pos = pick(report, "pos", "elmo average")
        cells.append((f"{pos['accuracy']:.3f} ({pos['unseen_accuracy']:.3f})",
                      *(f"{pick(report, k, 'elmo:average')['accuracy']:.3f} / "
                        f"{pick(report, k, 'elmo:average')['macro_f1']:.3f}"
                        for k in ("finefoods", "spam")),
                      f"{pick(report, 'senses', 'elmo average')['all']:.3f}"))
    for i, task in enumerate(("Brown POS probe (unseen words)",
                              "Fine-food reviews, accuracy / macro-F1",
                              "Spam, accuracy / macro-F1", "Word senses")):
        lines.append(f"| {task} | {cells[0][i]} | {cells[1][i]} |")
    return "\n".join(lines)


def training_perplexity(run: Path, offset: int, every: int = 10_000_000) -> str:
    """Geometric mean of the last 50 logged steps' training perplexity before each multiple
    of ``every`` total tokens."""
    steps = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()
             if line.startswith("{")]
    by_step = {s["step"]: s for s in steps if "ppl" in s and "tokens" in s}  # a resume re-logs
    steps = [by_step[k] for k in sorted(by_step)]
    heads, cells = [], []
    mark = (offset // every + 1) * every  # the first multiple the run itself reached
    while True:
        before = [s for s in steps if s["tokens"] + offset <= mark]
        if not before or before[-1]["tokens"] + offset < mark - every / 2:
            break
        last = [s for s in before if s["step"] > before[-1]["step"] - 50]
        heads.append(f"{(last[-1]['tokens'] + offset) / 1e6:.1f}M")
        cells.append(f"{math.exp(sum(math.log(s['ppl']) for s in last) / len(last)):.0f}")
        mark += every
    return ("| tokens seen | " + " | ".join(heads) + " |\n| --- |" + " ---: |" * len(heads)
            + "\n| training perplexity | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--release", type=Path, default=Path("out/release"))
    parser.add_argument("--run", type=Path, help="the training run (for log.jsonl)")
    parser.add_argument("--offset", type=int, default=0, help="tokens before the run")
    args = parser.parse_args()
    release = args.release
    report = json.loads((release / "downstream-tables" / "evaluate.json").read_text())
    print("## tokens\n" + (release / "tokens.json").read_text())
    print("## perplexity\n" + perplexity(release))
    print("\n## evaluation\n" + evaluation_table(report) + "\n\n" + extras(report))
    if (release / "learning_curve.json").is_file():
        print("\n## learning curve rows\n" + learning_curve(release))
    if (release / "fast.json").is_file():
        print("\n## fast\n" + fast_table(release, report))
    if args.run:
        print("\n## training perplexity\n" + training_perplexity(args.run, args.offset))


if __name__ == "__main__":
    main()
