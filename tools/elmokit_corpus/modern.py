"""Modern English (after ~1990) from Debian / PyPI packages: user help, manuals, FAQs,
dictionaries of computing, game fiction and dialogue, a small chat corpus, Wikipedia articles.

One function per source; each takes the folder a package was unpacked into (``dpkg-deb -x``,
so paths are those under ``/`` after a real install) and yields paragraphs: one paragraph /
entry / dialogue per string, whitespace-normalised, fragments under 4 words, code blocks
(``<pre>``, verbatim POD, Vim examples, roff ``.EX``), navigation and code-like lines dropped,
exact repeats within a source dropped (help systems repeat shared text). Standard library
only. The packages, licences and word counts are listed in ``elmokit_corpus.build`` and the
model card; each text's licence was read from the package's ``copyright`` file.
"""

# ruff: noqa: E501, E702, E731, SIM115, B023

from __future__ import annotations

import glob
import gzip
import html
import os
import re
import xml.etree.ElementTree as ET

from elmokit_corpus import extract
from elmokit_corpus.extract import is_codey, norm
from elmokit_corpus.text import dedupe

_CODE_CHAR = re.compile(r"[_(){}*=;<>\\|\[\]$/]")  # extract's, plus shell/path "$" and "/"


def keep(t, min_words=4):
    return (len(t.split()) >= min_words and re.search(r"[a-z]{2}", t)
            and not is_codey(t, _CODE_CHAR))


# ---------------------------------------------------------------- HTML
class _Text(extract._Text):
    """extract's block-text collector with more page furniture skipped (DocBook / help
    navigation, program listings, headers, forms), by class or by id, plus ``extra_skip``."""

    BLOCK = extract._Text.BLOCK | {"article", "figcaption", "main"}
    SKIP = extract._Text.SKIP | {"header", "footer", "aside", "button", "select", "noscript",
                                 "textarea", "form"}
    SKIP_CLASS = extract._Text.SKIP_CLASS | {"navheader", "navfooter", "programlisting",
                                             "screen", "synopsis", "literallayout", "sidebar",
                                             "nav-wrapper", "menu", "menubar"}
    VOID = extract._Text.VOID | {"base"}

    def __init__(self, extra_skip=()):
        super().__init__()
        self.skip_class = self.SKIP_CLASS | set(extra_skip)

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            if tag == "br":
                self.buf.append(" ")
            return
        a = dict(attrs)
        cls = set((a.get("class") or "").split())
        skip = self._skipping() or tag in self.SKIP or bool(cls & self.skip_class) \
            or a.get("id") in self.skip_class
        if tag in self.BLOCK:
            self.flush()
        self.stack.append((tag, skip))


def html_paragraphs(path, extra_skip=()):
    p = _Text(extra_skip)
    with open(path, encoding="utf-8", errors="replace") as f:
        p.feed(f.read())
    p.close()
    p.flush()
    for t in p.out:
        t = norm(t.replace("\u00b6", "").replace("\u00a0", " "))
        if keep(t):
            yield t


def html_tree(root, include=r"\.html?$", exclude=None, extra_skip=()):
    paths = sorted(glob.glob(os.path.join(root, "**", "*.htm*"), recursive=True))
    for path in paths:
        rel = os.path.relpath(path, root)
        if not os.path.isfile(path) or not re.search(include, rel) or (exclude and re.search(exclude, rel)):
            continue
        yield from html_paragraphs(path, extra_skip)


SPHINX_EX = r"(^|/)(_sources|_static|_images|_downloads|genindex|py-modindex|modindex|search|searchindex)(/|-|\.html$)"


# ---------------------------------------------------------------- per-source functions (HTML)
def libreoffice(pkg):
    """libreoffice-help-en-us: usr/share/libreoffice/help/en-US/text/**.html (MPL-2.0)."""
    root = f"{pkg}/usr/share/libreoffice/help/en-US/text"
    skip = {"MAC", "bug", "debug", "relatedtopics", "howtoget", "bascode", "leftside", "rightside",
            "dropdowns", "contents-treeview", "index", "search", "iconcell"}
    yield from dedupe(html_tree(root, extra_skip=skip))


def gimp(pkg):
    """gimp-help-en: usr/share/gimp/2.0/help/en/*.html (DocBook HTML, GFDL-1.2+ no invariants)."""
    yield from dedupe(html_tree(f"{pkg}/usr/share/gimp/2.0/help/en", exclude=r"^(ix01|go01|bi01)"))


def postgresql(pkg):
    """postgresql-doc-15: usr/share/doc/postgresql-doc-15/html/*.html (PostgreSQL licence)."""
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/postgresql-doc-15/html", exclude=r"^(bookindex|release-)"))


def django(pkg):
    """python-django-doc: usr/share/doc/python-django-doc/html/**.html (Sphinx, BSD-3-Clause)."""
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/python-django-doc/html", exclude=SPHINX_EX))


def git(pkg):
    """git-doc: usr/share/doc/git-doc/*.html (asciidoc HTML, GPL-2)."""
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/git-doc", exclude=r"(^|/)(RelNotes|technical/)"
                               , extra_skip={"listingblock", "literalblock", "verseblock"}))


def debian_reference(pkg):
    yield from dedupe(html_tree(f"{pkg}/usr/share/debian-reference", include=r"\.en\.html$"))


def debian_faq(pkg):
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/debian/FAQ"))


def developers_reference(pkg):
    yield from dedupe(html_tree(f"{pkg}/usr/share/developers-reference"))


def maint_guide(pkg):
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/maint-guide/html", include=r"\.en\.html$"))


def debian_policy(pkg):
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/debian-policy", exclude=SPHINX_EX + r"|upgrading-checklist"))


def debian_history(pkg):
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/debian-history/docs", include=r"\.en\.html$"))


def installation_guide(pkg):
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/installation-guide-amd64/en", exclude=r"gpl\.html|ch0?5s"))


def debian_docs(pkg):
    """All the small Debian manuals unpacked under one PKG root (see FETCH in README)."""
    for f in (debian_reference, debian_faq, developers_reference, maint_guide, debian_policy,
              debian_history, installation_guide):
        yield from f(pkg)


def sqlite(pkg):
    """sqlite3-doc: usr/share/doc/sqlite3/**.html (public domain)."""
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/sqlite3", exclude=r"(^|/)(c3ref/|releaselog/|syntax/|session/|changes|chronology|news|keyword_index|doclist|sitemap)",
                               extra_skip={"fancy_toc", "nosearch", "codeblock", "menu", "submenu"}))


def apache(pkg):
    """apache2-doc: usr/share/doc/apache2-doc/manual/en/**.html (Apache-2.0)."""
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/apache2-doc/manual/en",
                               extra_skip={"example", "toplang", "bottomlang", "directive-section",
                                           "quickview", "page-header", "menu", "navfooter", "up"}))


def zsh(pkg):
    """zsh-doc: usr/share/doc/zsh-common/**.html (zsh licence, MIT-like)."""
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/zsh-common", exclude=r"index|_toc|_abt"))


def kicad(pkg):
    """kicad-doc-en: usr/share/doc/kicad/help/en/*.html (GPL-3+ / CC-BY-3.0)."""
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/kicad/help/en", extra_skip={"listingblock", "literalblock"}))


def octave(pkg):
    """octave-doc: usr/share/doc/octave/octave.html/*.html (GPL-3+)."""
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/octave", exclude=r"liboctave", extra_skip={"example", "smallexample", "nav-panel", "header"}))


def lilypond(pkg):
    """lilypond-doc-html: usr/share/doc/lilypond/html/Documentation/{learning,notation,usage,essay,
    extending,music-glossary,web,contributor}/*.html (GFDL-1.3+, no invariant sections)."""
    root = f"{pkg}/usr/share/doc/lilypond/html/Documentation"
    yield from dedupe(html_tree(root, include=r"^(learning|notation|usage|essay|extending|music-glossary|web|contributor)/[^/]+\.html$",
                               extra_skip={"example", "header", "nav-panel", "lilypond", "verbatim"}))


def rust(pkg):
    """rust-doc: the mdBook books under usr/share/doc/rust-doc/html (MIT or Apache-2.0); no API docs."""
    root = f"{pkg}/usr/share/doc/rust-doc/html"
    yield from dedupe(html_tree(root, include=r"^(book|edition-guide|embedded-book|nomicon|reference|rust-by-example|rustc|rustdoc|cargo)/",
                               exclude=r"print\.html$|/(searchindex|toc|404)",
                               extra_skip={"sidebar", "menu-bar", "nav-chapters", "mobile-nav-chapters", "menu-title"}))


def abs_guide(pkg):
    """abs-guide: usr/share/doc/abs-guide/html/*.html (public domain); code dropped."""
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/abs-guide/html"))


# ---------------------------------------------------------------- XML help (Mallard / DocBook)
INLINE_SKIP = {"media", "comment", "indexterm", "info", "footnote", "remark"}


_ENT_CACHE = {}
XML_ENTS = {"amp", "lt", "gt", "quot", "apos"}


def _resolve_entities(path):
    d = os.path.dirname(path)
    if d not in _ENT_CACHE:
        ge, pe = {}, {}
        for f in glob.glob(os.path.join(d, "*.dtd")) + glob.glob(os.path.join(d, "*.xml")):
            src = open(f, encoding="utf-8", errors="replace").read()
            src = re.sub(r"<!--.*?-->", "", src, flags=re.S)
            for m in re.finditer(r'<!ENTITY\s+(%\s+)?([\w.:-]+)\s+"([^"]*)"\s*>', src):
                (pe if m.group(1) else ge).setdefault(m.group(2), m.group(3))
        for k, v in list(ge.items()):
            for _ in range(4):
                v = re.sub(r"%([\w.:-]+);", lambda m: pe.get(m.group(1), ""), v)
            ge[k] = v
        _ENT_CACHE[d] = ge
    ge = _ENT_CACHE[d]
    text = open(path, encoding="utf-8", errors="replace").read()
    text = re.sub(r"<!DOCTYPE[^\[>]*(\[.*?\])?\s*>", "", text, count=1, flags=re.S)
    for _ in range(3):
        text = re.sub(r"&([\w.:-]+);", lambda m: _entity(m.group(0), m.group(1), ge), text)
    return text


def _entity(whole, name, defined):
    """One ``&name;``: XML's own kept, the DTD's replaced, HTML's decoded, others dropped."""
    if name in XML_ENTS:
        return whole
    if name in defined:
        return html.escape(defined[name], quote=False)
    plain = html.unescape(whole)
    return html.escape(plain, quote=False) if plain != whole else ""


def _xml_blocks(path, blocks, skip):
    try:
        tree = ET.parse(path)
    except ET.ParseError:
        try:                                       # external DTD entities (&app; ...): resolve by hand
            tree = ET.ElementTree(ET.fromstring(_resolve_entities(path)))
        except ET.ParseError:
            return

    def local(tag):
        return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""

    def text(el):
        parts = [el.text or ""]
        for ch in el:
            if local(ch.tag) not in INLINE_SKIP:
                parts.append(text(ch))
            parts.append(ch.tail or "")
        return "".join(parts)

    def walk(el):
        tag = local(el.tag)
        if tag in skip:
            return
        if tag in blocks and not any(local(c.tag) in blocks for c in el.iter() if c is not el):
            t = norm(text(el))
            if keep(t):
                yield t
            return
        for ch in el:
            yield from walk(ch)

    yield from walk(tree.getroot())


def gnome(pkg):
    """gnome-user-docs: usr/share/help/C/*/*.page (Mallard XML, CC-BY-SA-3.0). English = 'C'."""
    for path in sorted(glob.glob(f"{pkg}/usr/share/help/C/*/*.page")):
        yield from dedupe(_xml_blocks(path, {"p", "title", "item", "td"}, {"info", "code", "screen", "media", "comment", "credit", "license", "desc"}))


def mate(pkg):
    """mate-user-guide: usr/share/help/C/mate-user-guide/*.xml (DocBook, GFDL-1.1+ no invariants)."""
    out = []
    for path in sorted(glob.glob(f"{pkg}/usr/share/help/C/*/*.xml")):
        out.extend(_xml_blocks(path, {"para", "title", "simpara", "entry"}, {"screen", "programlisting", "indexterm", "info", "legalnotice", "articleinfo", "bookinfo"}))
    yield from dedupe(out)


def gnumeric(pkg):
    """gnumeric-doc: usr/share/help/C/gnumeric/*.xml (DocBook, GFDL no invariants)."""
    yield from mate(pkg)


# ---------------------------------------------------------------- dictd databases
def dictd(path, skip_headword=True):
    """A dictd .dict.dz (gzip-compatible). Entries begin at column 0 with a headword line;
    body lines are indented. One paragraph of an entry per line."""
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        text = f.read()
    entries = re.split(r"\n(?=\S)", text)
    for e in entries:
        lines = e.split("\n")
        body = lines[1:] if skip_headword else lines
        para = []
        for ln in body + [""]:
            if ln.strip():
                para.append(ln.strip())
            elif para:
                t = norm(" ".join(para))
                para = []
                t = re.sub(r"[{}]", "", t)
                if keep(t) and not t.startswith(("See also", "(", "[")):
                    yield t


def foldoc(pkg):
    """dict-foldoc: usr/share/dictd/foldoc.dict.dz (GFDL-1.1+, no invariant sections)."""
    yield from (t for t in dictd(f"{pkg}/usr/share/dictd/foldoc.dict.dz")
                if not re.match(r"^\(\d{4}-\d\d-\d\d\)$", t))


def jargon(pkg):
    """dict-jargon: usr/share/dictd/jargon.dict.dz (Jargon File 4.4.7, public domain)."""
    yield from dictd(f"{pkg}/usr/share/dictd/jargon.dict.dz")


# ---------------------------------------------------------------- POD (perl-doc)
POD_CODE = re.compile(r"[A-Z]<{2,}\s(.*?)\s>{2,}|[A-Z]<([^<>]*)>", re.S)


def _pod_inline(t):
    for _ in range(4):                     # nested codes
        t2 = re.sub(r"[LEXZ]<([^<>]*)>", lambda m: "" if m.group(0)[0] in "XZ" else
                    (m.group(1).split("|")[0] if m.group(0)[0] == "L" else
                     {"lt": "<", "gt": ">", "verbar": "|", "sol": "/"}.get(m.group(1), "")), t)
        t2 = POD_CODE.sub(lambda m: m.group(1) or m.group(2) or "", t2)
        if t2 == t:
            break
        t = t2
    return t


def pod_paragraphs(text):
    for para in re.split(r"\n\s*\n", text):
        if not para.strip() or para[0] in " \t" or para.startswith("="):
            continue                            # verbatim (code) or command paragraph
        t = norm(_pod_inline(para))
        if keep(t):
            yield t


def perl(pkg):
    """perl-doc: usr/share/perl/5.36/pod/*.pod + usr/share/doc/perl/*.pod.gz (GPL-1+ or Artistic)."""
    paths = sorted(glob.glob(f"{pkg}/usr/**/*.pod", recursive=True) + glob.glob(f"{pkg}/usr/**/*.pod.gz", recursive=True))
    out = []
    for p in paths:
        if re.search(r"perl5\d+delta|perldelta|perlhist|perlapi|perlintern|perluniprops|perltoc|perlmodlib", p):
            continue
        op = gzip.open if p.endswith(".gz") else open
        with op(p, "rt", encoding="utf-8", errors="replace") as f:
            out.extend(pod_paragraphs(f.read()))
    yield from dedupe(out)


# ---------------------------------------------------------------- Vim help
def vim(pkg):
    """vim-runtime: usr/share/vim/vim90/doc/*.txt (Vim licence, GPL-compatible). Only prose
    paragraphs: lines starting at column 0 with no tab-separated tables or *tags*."""
    out = []
    for p in sorted(glob.glob(f"{pkg}/usr/share/vim/vim*/doc/*.txt")):
        if re.search(r"(version\d|todo|tags|index|quickref|help)\.txt$", p):
            continue
        para = []
        with open(p, encoding="utf-8", errors="replace") as f:
            for ln in f.read().split("\n") + [""]:
                prose = ln.strip() and not ln[0].isspace() and "\t" not in ln and not re.search(r"\*\S+\*|^[=\-~]{5,}|^vim:|>$", ln)
                if prose:
                    para.append(ln)
                else:
                    if para:
                        t = norm(re.sub(r"[|`]", "", " ".join(para)))
                        if keep(t):
                            out.append(t)
                    para = []
    yield from dedupe(out)


# ---------------------------------------------------------------- games: fiction / flavour text
def _clean_game(t):
    t = re.sub(r"<[^<>]{0,80}>", "", t)                 # colour / markup tags
    t = re.sub(r"\\n|\\t", " ", t)
    return norm(t)


CDDA_KEYS = {"description", "text", "dynamic_line", "offer", "messages", "no", "yes", "desc",
             "success", "advice", "accepted", "info", "rejected", "msg", "failure", "success_lie",
             "detailed_definition", "inquire", "describe", "snippets", "sound", "message"}


def cataclysm(pkg):
    """cataclysm-dda-data: usr/share/games/cataclysm-dda/{json,mods}/**.json (CC-BY-SA-3.0).
    Item/monster descriptions, NPC dialogue, in-game notes and snippets."""
    import json
    root = f"{pkg}/usr/share/games/cataclysm-dda"
    out = []

    def walk(x, key=None):
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, k if k in CDDA_KEYS or key not in CDDA_KEYS else key)
        elif isinstance(x, list):
            for v in x:
                walk(v, key)
        elif isinstance(x, str) and key in CDDA_KEYS:
            t = _clean_game(x)
            if keep(t):
                out.append(t)

    for p in sorted(glob.glob(f"{root}/json/**/*.json", recursive=True) + glob.glob(f"{root}/mods/**/*.json", recursive=True)):
        try:
            walk(json.load(open(p, encoding="utf-8")))
        except ValueError:
            continue
    yield from dedupe(out)


def endless_sky(pkg):
    """endless-sky-data: usr/share/games/endless-sky/data/**.txt (GPL-3+). Mission conversations,
    planet/ship/outfit descriptions: every backtick- or double-quoted string of >= 4 words."""
    out = []
    for p in sorted(glob.glob(f"{pkg}/usr/share/games/endless-sky/data/**/*.txt", recursive=True)):
        with open(p, encoding="utf-8", errors="replace") as f:
            for ln in f:
                if ln.lstrip().startswith("#"):
                    continue
                for m in re.finditer(r"`([^`]*)`|\"([^\"]*)\"", ln):
                    t = _clean_game(m.group(1) if m.group(1) is not None else m.group(2))
                    t = re.sub(r"<[a-z ]+>", "", t)          # <first> <last> <planet> substitutions
                    if keep(t):
                        out.append(t)
    yield from dedupe(out)


def crawl(pkg):
    """crawl-common: usr/share/crawl/dat/descript/*.txt and dat/database/*.txt, English only
    (%%%%-separated entries: key line, blank, text). quotes.txt (literature quotations) skipped."""
    out = []
    root = f"{pkg}/usr/share/crawl/dat"
    for p in sorted(glob.glob(f"{root}/descript/*.txt") + glob.glob(f"{root}/database/*.txt")):
        if re.search(r"(quotes|randname|monname|godname|miscname|montitle|FAQ)\.txt$", p):
            continue
        with open(p, encoding="utf-8", errors="replace") as f:
            for entry in f.read().split("%%%%"):
                lines = [l for l in entry.strip().split("\n") if not l.startswith("#")]
                body = "\n".join(lines[1:])
                for para in re.split(r"\n\s*\n|\n[wW]:\d+\n|\n(?=[@A-Z_]+:)", body):
                    t = _clean_game(re.sub(r"@[a-z_A-Z]+@", "", para.replace("\n", " ")))
                    t = re.sub(r"^w:\d+\s+", "", t)
                    if keep(t) and not re.search(r"[{}\[\]|]|\$", t) and not re.match(r"^([a-z,.\"]|[A-Z_]+:)", t):
                        out.append(t)
    yield from dedupe(out)


def freeciv(pkg):
    """freeciv-data: usr/share/games/freeciv/**.ruleset + helpdata.txt (GPL-2+): help texts and
    the nations' legends; every translatable _(\"...\") string of >= 4 words."""
    out = []
    root = f"{pkg}/usr/share/games/freeciv"
    for p in sorted(glob.glob(f"{root}/**/*.ruleset", recursive=True) + glob.glob(f"{root}/**/helpdata.txt", recursive=True)):
        with open(p, encoding="utf-8", errors="replace") as f:
            s = f.read()
        for m in re.finditer(r'_\(\s*"((?:[^"\\]|\\.)*)"\s*\)', s, re.S):
            body = re.sub(r"\\\s*\n", " ", m.group(1))      # line continuations
            for para in re.split(r"\\n\s*\\n|\n\s*\n", body):
                t = _clean_game(para.replace('\\"', '"'))
                t = re.sub(r"\[/?[a-z]+[^\]]*\]", "", t)      # [link] markup
                if keep(t) and "%" not in t:
                    out.append(norm(t))
    yield from dedupe(out)


def wesnoth(pkg):
    """wesnoth-1.16-* : usr/share/games/wesnoth/1.16/data/**.cfg (GPL-2+): translatable strings
    _ \"...\" (campaign dialogue, story screens, unit descriptions, help)."""
    out = []
    for p in sorted(glob.glob(f"{pkg}/usr/share/games/wesnoth/**/*.cfg", recursive=True)):
        with open(p, encoding="utf-8", errors="replace") as f:
            s = f.read()
        for m in re.finditer(r'_\s*"((?:[^"]|"")*)"', s):
            for para in re.split(r"\n\s*\n", m.group(1)):
                t = _clean_game(para.replace('""', '"'))
                t = re.sub(r"\$[a-z_.|\[\]0-9]+", "", t)
                if keep(t):
                    out.append(norm(t))
    yield from dedupe(out)


def debian_edu(pkg):
    """debian-edu-doc-en: usr/share/doc/debian-edu-doc-en/debian-edu-bookworm-manual.html (GPL-2+)."""
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/debian-edu-doc-en", include=r"bookworm-manual\.html$"))



# ---------------------------------------------------------------- more manuals (batch 2)
def nodejs(pkg):
    """nodejs-doc: usr/share/doc/nodejs/api/*.html (Expat)."""
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/nodejs/api", exclude=r"^(all|index)\.html$",
                               extra_skip={"api_stability", "api_metadata", "toc", "column2"}))


def racket(pkg):
    """racket-doc: usr/share/doc/racket/**.html (Scribble HTML; Debian copyright: LGPL-2.1+)."""
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/racket", exclude=r"(^|/)(search|local-redirect|index\.html$)",
                               extra_skip={"tocset", "navsettop", "navsetbottom", "SCodeFlow", "RktBlk", "SVInsetFlow", "tocview", "tocsub", "versionbox"}))


def erlang(pkg):
    """erlang-doc: usr/share/doc/erlang-doc/doc/<guide>/*.html (Apache-2.0); user guides only."""
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/erlang-doc/doc",
                               include=r"^(design_principles|efficiency_guide|embedded|getting_started|installation_guide|oam|programming_examples|reference_manual|system_architecture_intro|system_principles|tutorial|general_info)/",
                               extra_skip={"example", "leftnav", "footer", "erlang-logo-wrapper", "panel-sections"}))


def sklearn(pkg):
    """python-sklearn-doc: usr/share/doc/python-sklearn-doc/html (Sphinx, BSD-3-Clause): user guide,
    tutorials, FAQ; not the generated API pages, examples, changelogs."""
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/python-sklearn-doc/html",
                               exclude=SPHINX_EX + r"|(^|/)(generated|auto_examples|whats_new|_downloads)/|whats_new|authors|min_dependency"))


def pandas(pkg):
    """python-pandas-doc: usr/share/doc/python-pandas-doc/html (Sphinx, BSD-3): user guide,
    getting started, development; not reference/, generated/, whatsnew/."""
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/python-pandas-doc/html",
                               exclude=SPHINX_EX + r"|(^|/)(generated|reference|whatsnew|_panels_static)/|^(api|whatsnew|release|genindex)"))


def gnome_devel(pkg):
    """gnome-devel-docs: usr/share/help/C/*/*.page (Mallard; CC-BY-SA-3.0 / GFDL-NIV-1.1+ / CC-BY-SA-4.0)."""
    yield from gnome(pkg)


def wireshark(pkg):
    """wireshark-doc: usr/share/doc/wireshark/{wsug,wsdg}_html_chunked/*.html (GPL-2+)."""
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/wireshark", include=r"_html_chunked/",
                               extra_skip={"listingblock", "literalblock"}))


def r_manuals(pkg):
    """r-doc-html: usr/share/doc/r-doc-html/manual/R-*.html (R's manuals: An Introduction to R,
    the FAQ, Data Import/Export, Installation and Administration, the Language Definition,
    Writing Extensions, Internals; GPL-2, the manuals' own notice permits modified copies)."""
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/r-doc-html/manual", include=r"^R-[\w-]+\.html$",
                               extra_skip={"example", "smallexample", "nav-panel", "header"}))


def exim(pkg):
    """exim4-doc-html: usr/share/doc/exim4-doc-html/spec_html/*.html (GPL-2+)."""
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/exim4-doc-html", extra_skip={"literallayout", "display"}))


def scons(pkg):
    """scons-doc: usr/share/doc/scons/HTML/*.html user guide (Expat)."""
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/scons/HTML"))


def bind9(pkg):
    """bind9-doc: usr/share/doc/bind9-doc/arm/*.html (MPL-2.0)."""
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/bind9-doc/arm", exclude=SPHINX_EX + r"|notes"))


def ghc(pkg):
    """ghc-doc: usr/share/doc/ghc-doc/html/users_guide/**.html (BSD-3-clause); not the library API."""
    yield from dedupe(html_tree(f"{pkg}/usr/share/doc/ghc-doc/html/users_guide", exclude=SPHINX_EX + r"|^\d+\.\d+|release"))


# ---------------------------------------------------------------- man pages (roff)
def _roff_inline(t):
    t = re.sub(r"\\f(\[[^\]]*\]|\(..|.)", "", t)
    t = re.sub(r"\\\*?\((em|en)", " - ", t)
    t = re.sub(r"\\\*?\(([a-zA-Z]{2})|\\\[([a-zA-Z]+)\]", lambda m: {"lq": '"', "rq": '"', "aq": "'", "dq": '"', "bu": "", "co": "(c)", "ti": "~", "ha": "^", "cq": "'", "oq": "'", "mu": "x", "rs": "\\", "bv": "|", "Tm": "(TM)"}.get(m.group(1) or m.group(2), ""), t)
    t = t.replace("\\-", "-").replace("\\e", "\\").replace("\\&", "").replace("\\ ", " ").replace("\\|", "").replace("\\^", "").replace("\\%", "").replace("\\:", "").replace("\\~", " ")
    return t


def manpages(pkg):
    """manpages + manpages-dev: usr/share/man/man[1-8]/*.gz (Linux man-pages; mostly the
    'Linux-man-pages-copyleft' verbatim+modified licence, some GPL/BSD/MIT). One paragraph per line;
    .EX/.nf blocks, SYNOPSIS, tables dropped."""
    out = []
    for p in sorted(glob.glob(f"{pkg}/usr/share/man/man[1-8]/*.gz")):
        with gzip.open(p, "rt", encoding="utf-8", errors="replace") as f:
            src = f.read()
        if src.lstrip().startswith(".so "):
            continue
        para, skip, section = [], False, ""

        def flush():
            t = norm(_roff_inline(" ".join(para)))
            para.clear()
            if keep(t) and section not in ("SYNOPSIS", "SEE ALSO", "COLOPHON", "AUTHORS", "COPYRIGHT"):
                out.append(t)

        for ln in src.split("\n"):
            if ln.startswith((".\\\"", "'\\\"", '.\\"')):
                continue
            m = re.match(r"^[.'](\S+)\s*(.*)", ln)
            if m:
                req, arg = m.group(1), m.group(2)
                if req in ("EX", "nf", "TS", "EQ", "in"):
                    flush(); skip = req != "in" or skip
                    if req != "in":
                        continue
                elif req in ("EE", "fi", "TE", "EN"):
                    skip = False; continue
                if req in ("SH", "SS"):
                    flush(); section = arg.strip('"').upper()
                elif req in ("PP", "P", "LP", "TP", "IP", "sp", "br", "HP", "RS", "RE", "TH", "TQ"):
                    flush()
                elif req in ("B", "I", "BR", "IR", "RB", "RI", "BI", "IB", "SM", "SB", "UR", "MT") and not skip:
                    words = re.findall(r'"[^"]*"|\S+', arg)
                    sep = "" if len(req) == 2 and req not in ("SM", "SB", "UR", "MT") else " "
                    para.append(sep.join(w.strip('"') for w in words))
                continue
            if not skip:
                para.append(ln)
        flush()
    yield from dedupe(out)



# ---------------------------------------------------------------- PyPI
def chatterbot(root):
    """chatterbot-corpus 1.3.3 (PyPI wheel, BSD-3-Clause): chatterbot_corpus/data/english/*.yml.
    root = the unzipped wheel. One dialogue per line (turns joined with spaces); no PyYAML needed."""
    out = []
    for p in sorted(glob.glob(f"{root}/chatterbot_corpus/data/english/*.yml")):
        conv = []
        for ln in open(p, encoding="utf-8", errors="replace").read().split("\n") + ["- - "]:
            m = re.match(r"^(- - |  - |    )(.*)$", ln)
            if not m:
                continue
            if m.group(1) == "- - " and conv:
                t = norm(" ".join(conv))
                if keep(t):
                    out.append(t)
                conv = []
            x = m.group(2).strip()
            if len(x) > 1 and x[0] == x[-1] and x[0] in "'\"":
                x = x[1:-1]
            x = x.lstrip("|>").strip()
            if x:
                conv.append(x)
    yield from dedupe(out)



def gnucash(pkg):
    """gnucash-docs: usr/share/help/C/{gnucash-guide,gnucash-help}/*.xml (DocBook; GFDL-NIV-1.1+ or
    GPL-2+). The Tutorial and Concepts Guide + the Help manual."""
    yield from mate(pkg)


# ---------------------------------------------------------------- Wikipedia (MediaWiki XML dump)
WIKI_END_SECTIONS = {"references", "external links", "see also", "further reading", "notes",
                     "bibliography", "sources", "footnotes", "citations", "works cited",
                     "notes and references", "references and notes", "gallery"}
_WIKI_TAGS_DROPPED = r"ref|math|gallery|timeline|syntaxhighlight|source|pre|code|imagemap|score|chem|hiero|nowiki"


def _wiki_template(m):
    """One innermost ``{{...}}``: a few inline templates keep their text, the rest go."""
    parts = [p.strip() for p in m.group(1).split("|")]
    name = parts[0].lower().replace("_", " ")
    args = [p for p in parts[1:] if "=" not in p]
    if name in ("convert", "cvt") and len(args) >= 2:
        return f"{args[0]} {args[1]}"
    if (name == "lang" or name.startswith("lang-")) and args:
        return args[-1]
    if name in ("nowrap", "nobr", "nowrap begin", "small", "smaller", "sic", "not a typo", "em",
                "visible anchor", "vanchor", "linktext", "mvar", "math", "ill", "interlanguage link"
                ) and args:
        return args[0]
    return ""


def _wiki_link(m):
    target, _, label = m.group(1).partition("|")
    if re.match(r"^\s*:?\s*([A-Za-z][A-Za-z -]*):", target):   # File:, Category:, de:, Wikt: ...
        return ""
    return (label.rsplit("|", 1)[-1] if label else target.split("#")[0]).strip()


def wiki_text(src):
    """MediaWiki markup -> paragraphs (plain prose and list items of >= 4 words); references,
    templates (infoboxes, citations), tables, files and categories dropped, links -> their text;
    the text stops at References / See also / External links / ..."""
    t = re.sub(r"<!--.*?(-->|$)", "", src, flags=re.S)
    t = re.sub(rf"<({_WIKI_TAGS_DROPPED})\b[^>]*/>", "", t, flags=re.I)
    t = re.sub(rf"<({_WIKI_TAGS_DROPPED})\b[^>]*>.*?</\1\s*>", "", t, flags=re.I | re.S)
    for _ in range(10):                                   # nested templates, innermost first
        t, n = re.subn(r"\{\{([^{}]*)\}\}", _wiki_template, t)
        if not n:
            break
    for _ in range(10):                                   # nested tables
        t, n = re.subn(r"\{\|(?:(?!\{\|).)*?\|\}", "", t, flags=re.S)
        if not n:
            break
    for _ in range(5):                                    # links in captions: innermost first
        t, n = re.subn(r"\[\[([^\[\]]*)\]\]", _wiki_link, t)
        if not n:
            break
    t = re.sub(r"\[(?:https?:)?//[^\s\]]+\s*([^\]]*)\]", r"\1", t)   # [http://x label] -> label
    t = re.sub(r"'{2,}", "", t)                          # bold / italics
    t = re.sub(r"</?[a-zA-Z][^<>]*>", "", t)             # <small>, <sup>, <br/>, <div ...>
    t = html.unescape(t).replace("\u00a0", " ")
    para, out = [], []

    def flush(min_words=4):
        if para:
            p = norm(" ".join(para))
            para.clear()
            p = re.sub(r"\(\s*[;,]?\s*\)", "", p)         # "( )", "(; " left by dropped templates
            p = re.sub(r"\(\s*[;,]\s*", "(", p)
            p = norm(re.sub(r"\s+([,.;:])", r"\1", p))
            if keep(p, min_words) and not re.search(r"[{}\[\]|]", p):
                out.append(p)

    for ln in t.split("\n"):
        s = ln.strip()
        h = re.match(r"^(=+)\s*(.*?)\s*\1$", s)
        if h:
            flush()
            if h.group(2).lower() in WIKI_END_SECTIONS:
                break
            continue
        if not s or s.startswith(("|", "!", "{", "}", "__")):
            flush()
            continue
        if s[0] in "*#:;":
            flush()
            para.append(s.lstrip("*#:; "))
            flush(6)                                      # list items: no bare names / titles
            continue
        para.append(s)
    flush()
    return out


def wikipedia_documents(root):
    """gensim's test data (PyPI ``gensim`` wheel, ``gensim/test/test_data/enwiki-*.bz2``: two
    shortened 2016 English Wikipedia dumps, 106 articles; CC-BY-SA-3.0): one
    ``Document(title, paragraphs)`` per article, repeats across articles dropped."""
    seen = set()
    for path in sorted(glob.glob(os.path.join(root, "enwiki-*.bz2"))):
        for title, paras in wikipedia(path):
            yield extract.Document(title, list(dedupe(paras, seen)))


def wikipedia(path):
    """A MediaWiki XML dump (``.xml.bz2``) -> ``(title, paragraphs)`` per article: namespace 0,
    redirects and disambiguation pages skipped."""
    import bz2
    op = bz2.open if str(path).endswith(".bz2") else open
    with op(path, "rb") as f:
        title = ns = None
        redirect = False
        for _, el in ET.iterparse(f):
            tag = el.tag.rsplit("}", 1)[-1]
            if tag == "title":
                title = el.text
            elif tag == "ns":
                ns = el.text
            elif tag == "redirect":
                redirect = True
            elif tag == "text" and ns == "0" and not redirect and el.text:
                if not el.text.lstrip().lower().startswith("#redirect") \
                        and not title.endswith("(disambiguation)"):
                    yield title, wiki_text(el.text)
            elif tag == "page":
                title, ns, redirect = None, None, False
                el.clear()


# ---------------------------------------------------------------- more game text (batch 3)
def _game_paragraphs(text, out, min_words=4):
    """Blank-line-separated paragraphs of a hard-wrapped game message -> ``out`` (cleaned)."""
    for para in re.split(r"\n\s*\n|\\n\s*\\n", text):
        t = _clean_game(para.replace("\\n", " "))
        t = re.sub(r"\$\w+|%\w+|\[/?[a-z]+[^\]]*\]", "", t)   # $you, %s, [b] [color=...]
        t = norm(re.sub(r"\s+([,.;:!?])", r"\1", t))
        t = re.sub(r"^[,;.]\s*", "", re.sub(r",(\s*,)+", ",", t))   # "Nice try, , but": a name dropped
        if keep(t, min_words) and not re.search(r"[{}\[\]|]", t) and not t.startswith("Created: ") \
                and sum(c.isalpha() for c in t) >= 0.6 * len(t):      # not ASCII art / tables
            out.append(t)


def crossfire(pkg):
    """crossfire-maps: usr/share/games/crossfire/maps (GPL-2+): the ``msg ... endmsg`` text of
    map objects (signs, books, NPC speech, map descriptions), the NPC dialogues (``*.msg``,
    JSON) and the quest journals (``*.quests``); the test/ and editor/ maps skipped."""
    import json
    root = f"{pkg}/usr/share/games/crossfire/maps"
    out = []
    for p in sorted(glob.glob(f"{root}/**/*", recursive=True)):
        rel = os.path.relpath(p, root)
        if not os.path.isfile(p) or re.match(r"(test|editor|python|styles)/", rel) \
                or re.search(r"\.(py|png|jpg|reg|txt)$|README", rel):
            continue
        with open(p, encoding="utf-8", errors="replace") as f:
            s = f.read()
        if p.endswith(".msg"):
            try:
                rules = json.loads(s).get("rules", [])
            except ValueError:
                continue
            for r in rules:
                for m in r.get("msg", []) + [x[1] for x in r.get("replies", []) if len(x) > 1]:
                    if isinstance(m, str):
                        _game_paragraphs(m, out)
        elif p.endswith(".quests"):
            for m in re.finditer(r"^description\n(.*?)^end_description$", s, re.S | re.M):
                _game_paragraphs(m.group(1), out)
        else:
            for m in re.finditer(r"^msg\n(.*?)^endmsg$", s, re.S | re.M):
                for block in re.split(r"^@.*$", m.group(1), flags=re.M):   # @match / @reply lines
                    _game_paragraphs(block, out)
    yield from dedupe(out)


_LUA_GETTEXT = re.compile(r'(?<![\w.:])(?:_|gettext|N_|pgettext\s*\(\s*"[^"]*"\s*,|ngettext)\s*\(?\s*'
                          r'(?:\[(=*)\[(.*?)\]\1\]|"((?:[^"\\\n]|\\.)*)"|\'((?:[^\'\\\n]|\\.)*)\')', re.S)


def lua_strings(src):
    """The translatable strings of Lua source: ``_("...")``, ``_([[...]])``, ``_"..."``,
    ``pgettext("ctx", "...")``, ``ngettext("one", ...)`` (escapes decoded, long strings as is)."""
    for m in _LUA_GETTEXT.finditer(src):
        if m.group(2) is not None:
            yield m.group(2)
        else:
            s = m.group(3) if m.group(3) is not None else m.group(4)
            yield re.sub(r"\\(.)", lambda e: {"n": "\n", "t": " "}.get(e.group(1), e.group(1)), s)


def _lua_game(paths, out, min_words=4):
    for p in paths:
        with open(p, encoding="utf-8", errors="replace") as f:
            for s in lua_strings(f.read()):
                _game_paragraphs(s, out, min_words)


def mo_messages(path):
    """``(msgid, msgstr)`` pairs of a compiled gettext catalogue (``.mo``); plural forms joined
    by NUL as in the file. Standard library only (gettext's reader needs the locale's name)."""
    import struct
    with open(path, "rb") as f:
        data = f.read()
    order = "<" if struct.unpack("<I", data[:4])[0] == 0x950412DE else ">"
    n, ids, strs = struct.unpack(order + "III", data[8:20])
    for i in range(n):
        ln, off = struct.unpack(order + "II", data[ids + 8 * i:ids + 8 * i + 8])
        ln2, off2 = struct.unpack(order + "II", data[strs + 8 * i:strs + 8 * i + 8])
        yield (data[off:off + ln].decode("utf-8", "replace"),
               data[off2:off2 + ln2].decode("utf-8", "replace"))


def naev(pkg):
    """naev-data: usr/share/naev/dat (GPL-3+): the translatable strings of the mission, event
    and AI Lua scripts (mission dialogue, briefings, news) and the ``<description>`` / ``<bar>``
    text of planets, ships, outfits and commodities (XML)."""
    root = f"{pkg}/usr/share/naev/dat"
    out = []
    _lua_game(sorted(glob.glob(f"{root}/**/*.lua", recursive=True)), out)
    for p in sorted(glob.glob(f"{root}/**/*.xml", recursive=True)):
        with open(p, encoding="utf-8", errors="replace") as f:
            s = f.read()
        for m in re.finditer(r"<(description|bar)>(.*?)</\1>", s, re.S):
            _game_paragraphs(html.unescape(m.group(2)).replace("\n", "\n\n"), out)
    yield from dedupe(out)


def widelands(pkg):
    """widelands-data: usr/share/games/widelands/data/**.lua (GPL-2+): campaign and tutorial
    dialogue, objectives, tribal encyclopedia and help texts (the Lua scripts' _(...) strings)."""
    out = []
    _lua_game(sorted(glob.glob(f"{pkg}/usr/share/games/widelands/data/**/*.lua", recursive=True)), out)
    yield from dedupe(out)


def freedroidrpg(pkg):
    """freedroidrpg-data: usr/share/freedroidrpg/**.lua (GPL-2+): NPC dialogues, quest logs,
    item and droid descriptions, the story's title screens (the _\"...\" strings)."""
    out = []
    _lua_game(sorted(glob.glob(f"{pkg}/usr/share/freedroidrpg/**/*.lua", recursive=True)), out)
    yield from dedupe(out)


def ufoai(pkg):
    """ufoai-misc: usr/share/games/ufoai/base/i18n/en/LC_MESSAGES/ufoai.mo (GPL-2+): the English
    catalogue's texts (UFOpaedia research reports, the campaign's story, mail, item
    descriptions); format strings and UI labels fall to the 4-word / code filters."""
    out = []
    for msgid, msgstr in mo_messages(f"{pkg}/usr/share/games/ufoai/base/i18n/en/LC_MESSAGES/ufoai.mo"):
        if msgid and "%" not in msgstr:
            _game_paragraphs(msgstr.split("\0")[0], out)
    yield from dedupe(out)


def freeorion(pkg):
    """freeorion-data: usr/share/games/freeorion/default/stringtables/en.txt (text CC-BY-SA-3.0):
    the Pedia (species, technologies, buildings, ship parts), tips and help; ``[[KEY]]``
    references to short strings resolved, longer ones and ``%1%`` placeholders dropped."""
    path = f"{pkg}/usr/share/games/freeorion/default/stringtables/en.txt"
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        lines = f.read().split("\n")
    table, key, i = {}, None, 1                          # line 0: the language's name
    while i < len(lines):
        ln = lines[i]
        i += 1
        if not ln.strip() or ln.startswith("#"):
            key = None
            continue
        if key is None:
            key = ln.strip()
            continue
        if ln.startswith("'''"):
            body = [ln[3:]]
            while not body[-1].rstrip().endswith("'''") and i < len(lines):
                body.append(lines[i])
                i += 1
            table[key] = "\n".join(body).rstrip()[:-3]
        else:
            table[key] = ln
        key = None

    def ref(m):
        v = table.get(m.group(1), "")
        return v if len(v.split()) <= 5 and "[[" not in v else ""

    out = []
    for v in table.values():
        v = re.sub(r"\[\[(?:\w+ )?(\w+)\]\]", ref, v)
        v = re.sub(r"%\w+%", "", v)
        _game_paragraphs(v.replace("\n", "\n\n"), out)
    yield from dedupe(out)


def freecol(pkg):
    """freecol: usr/share/games/freecol/strings/FreeColMessages.properties (GPL-2+): the
    Colopedia, founding fathers, units, buildings, events; plus the user manual
    usr/share/doc/freecol/FreeCol.html."""
    out = []
    path = f"{pkg}/usr/share/games/freecol/strings/FreeColMessages.properties"
    with open(path, encoding="utf-8", errors="replace") as f:
        for ln in f:
            key, eq, value = ln.partition("=")
            if not eq or key.lstrip().startswith(("#", "!")):
                continue
            value = re.sub(r"\{\{[^{}]*\}\}|%\w+%", "", value.strip())
            value = re.sub(r"</?p>|<br\s*/?>", r"\\n\\n", value)
            _game_paragraphs(html.unescape(value), out)
    out.extend(html_paragraphs(f"{pkg}/usr/share/doc/freecol/FreeCol.html"))
    yield from dedupe(out)


def kstars(pkg):
    """kstars-data: usr/share/doc/HTML/en/kstars/*.docbook (GFDL-1.2+, no invariant sections): the
    KStars handbook and its AstroInfo articles (astronomy explained)."""
    out = []
    for path in sorted(glob.glob(f"{pkg}/usr/share/doc/HTML/en/kstars/*.docbook")):
        out.extend(_xml_blocks(path, {"para", "title", "simpara", "entry"}, {"screen", "programlisting", "indexterm", "info", "legalnotice", "articleinfo", "bookinfo"}))
    yield from dedupe(out)


# ---------------------------------------------------------------- LyX documents
LYX_DOCS = ("Intro", "Tutorial", "UserGuide", "Additional", "EmbeddedObjects", "Math", "Customization")
_LYX_SKIP_LAYOUTS = {"LyX-Code", "Verbatim", "Verbatim*", "Bibliography", "Address", "Right Address",
                     "Left Header", "Right Header", "Left Footer", "Right Footer", "Scrap"}
_LYX_DROP = {"Formula", "ERT", "CommandInset", "Index", "Note", "Info", "Graphics", "VSpace",
             "Tabular", "listings", "External", "Preview", "Argument", "Phantom", "IPA", "script"}
_LYX_INLINE = {"Flex", "Quotes", "space", "Newline", "Text", "line"}
_LYX_CHARS = {"LyX": "LyX", "TeX": "TeX", "LaTeX": "LaTeX", "LaTeX2e": "LaTeX2e", "ldots": "...",
              "menuseparator": " > ", "breakableslash": "/", "nobreakdash": "-"}


def lyx_paragraphs(src):
    """The prose of one ``.lyx`` file (LyX 2.x format): one paragraph per layout (footnotes and
    captions apart), math, raw LaTeX, references, index entries, notes, tables and code layouts
    dropped; inline insets (quotes, spaces, character styles) kept in their sentence."""
    out = []
    stack = [{"buf": [], "drop": True, "inline": False, "params": False}]   # the header
    for ln in src.split("\n"):
        top = stack[-1]
        if ln == "\\begin_body":
            stack = [{"buf": [], "drop": False, "inline": False, "params": False}]
        elif ln.startswith("\\begin_layout "):
            name = ln[len("\\begin_layout "):]
            if top["inline"]:
                stack.append({**top, "params": False, "owner": False})
            else:
                stack.append({"buf": [], "drop": top["drop"] or name in _LYX_SKIP_LAYOUTS,
                              "inline": False, "params": False, "owner": True})
        elif ln == "\\end_layout" and len(stack) > 1:
            frame = stack.pop()
            if frame.get("owner") and not frame["drop"]:
                t = norm("".join(frame["buf"]))
                if keep(t):
                    out.append(t)
        elif ln.startswith("\\begin_inset "):
            kind = ln.split()[1]
            if kind == "Quotes":
                top["buf"].append('"')
            elif kind in ("space", "Newline", "line"):
                top["buf"].append(" ")
            stack.append({"buf": top["buf"], "drop": top["drop"] or kind in _LYX_DROP or kind in ("space", "Quotes", "Newline", "line"),
                          "inline": kind in _LYX_INLINE, "params": True, "owner": False})
        elif ln == "\\end_inset" and len(stack) > 1:
            stack.pop()
        elif top["params"]:
            if not ln.strip():
                top["params"] = False
        elif (not ln.startswith("\\") or ln.startswith("\\SpecialChar ")) and not top["drop"]:
            top["buf"].append(re.sub(r"\\SpecialChar (\S+)", lambda m: _LYX_CHARS.get(m.group(1), ""), ln))
    return out


def lyx(pkg):
    """lyx-common: usr/share/lyx/doc/{Intro,Tutorial,UserGuide,Additional,EmbeddedObjects,Math,
    Customization}.lyx (GPL-2+): LyX's English manuals."""
    out = []
    for name in LYX_DOCS:
        with open(f"{pkg}/usr/share/lyx/doc/{name}.lyx", encoding="utf-8", errors="replace") as f:
            out.extend(lyx_paragraphs(f.read()))
    yield from dedupe(out)


_GH_CODE = re.compile(r"(^|\s)([A-Za-z]+[=+#<>]|[A-Z][a-z]+[A-Z]\w*|else|if)(\s|$)|\s-?\d+(\s|$)")


def gearhead(pkg):
    """gearhead-data / gearhead2-data: usr/share/games/gearhead*/**.txt (LGPL-2+ / LGPL-2.1+): the
    ``Key <text>`` messages of the story plots, conversations, rumours, mecha and character
    descriptions (script bodies, which share the ``<...>`` syntax, are told apart: a message
    ends as a sentence and has no commands); ``\\PC``, ``\\SCENE EScene 2`` style substitutions removed."""
    out = []
    for path in sorted(glob.glob(f"{pkg}/usr/share/games/gearhead*/**/*.txt", recursive=True)):
        if not os.path.isfile(path):                       # gearhead2's dangling links
            continue
        with open(path, encoding="latin-1") as f:
            for ln in f:
                m = re.match(r"^\s*[A-Za-z_][A-Za-z_0-9]*\s*<([^<>]*)>\s*$", ln)
                if not m:
                    continue
                t = m.group(1).split("://", 1)[-1]                 # email: "\PERSONA E2 @ ... :// text"
                t = re.sub(r"\\[A-Z_]+(?:\s+[A-Za-z]+\s*-?\d+|\s+-?\d+)?", "", t)
                if re.search(r"[.!?]['\")]?\s*$", t) and not _GH_CODE.search(t) \
                        and "%" not in t and "$#" not in t:        # a sentence, not a script / template
                    _game_paragraphs(t, out)
    yield from dedupe(out)
