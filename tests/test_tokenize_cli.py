"""The one tokenization rule (``tokenize="whitespace"|"elmokit"``, same default everywhere),
the raw-text tokenizer, and the command group."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from elmokit import tokenize
from elmokit.cli import main
from elmokit.errors import InputError
from elmokit.tokenize import DEFAULT_TOKENIZE, TOKENIZE_CHOICES, split_text

from .conftest import TINY_DIR

# (raw text, elmokit.tokenize.tokenize(text))
CASES = [
    ("Don't panic, it's 3.5 km!", ["Do", "n't", "panic", ",", "it", "'s", "3.5", "km", "!"]),
    ("The U.S. e-mail cost $3,000.50.", ["The", "U.S.", "e-mail", "cost", "$", "3,000.50", "."]),
    ("naïve café (Zürich)", ["naïve", "café", "(", "Zürich", ")"]),
    ("", []),
    ("   \t\n", []),
    # URLs and e-mail addresses stay whole; trailing punctuation is split off
    ("See https://example.com/a?b=1&c=d.", ["See", "https://example.com/a?b=1&c=d", "."]),
    ("(see http://x.org/a_b)", ["(", "see", "http://x.org/a_b", ")"]),
    ("visit www.example.org/path, then", ["visit", "www.example.org/path", ",", "then"]),
    ("Mail j.smith+elmo@mail.example.co.uk!", ["Mail", "j.smith+elmo@mail.example.co.uk", "!"]),
    ("it's at http://x.y/don't", ["it", "'s", "at", "http://x.y/don't"]),
    # numbers: decimals, thousands, exponents, times, fractions, ordinals
    ("1.2e3 and 2E+10 and 1e-5", ["1.2e3", "and", "2E+10", "and", "1e-5"]),
    ("1,000,000 people", ["1,000,000", "people"]),
    ("at 10:30, 1/2 of the 2nd", ["at", "10:30", ",", "1/2", "of", "the", "2nd"]),
    ("3.5% up", ["3.5", "%", "up"]),
    # abbreviations
    (
        "Dr. Smith met Mrs. Jones, e.g. at St. Mary's etc.",
        ["Dr.", "Smith", "met", "Mrs.", "Jones", ",", "e.g.", "at", "St.", "Mary", "'s", "etc."],
    ),
    ("i.e. the a.m. train", ["i.e.", "the", "a.m.", "train"]),
    ("He said No. Then May.", ["He", "said", "No", ".", "Then", "May", "."]),
    # clitics (Penn Treebank conventions)
    (
        "I can't; they're here, we'll see",
        ["I", "ca", "n't", ";", "they", "'re", "here", ",", "we", "'ll", "see"],
    ),
]


@pytest.mark.parametrize("text, tokens", CASES)
def test_tokenize(text, tokens):
    assert tokenize(text) == tokens
    assert split_text(text, "elmokit") == tokens
    assert split_text(text) == text.split()  # the default is whitespace


def test_the_one_default_and_bad_values():
    assert DEFAULT_TOKENIZE == "whitespace" and TOKENIZE_CHOICES == ("whitespace", "elmokit")
    with pytest.raises(InputError, match="tokenize 'spacy' is not one of whitespace, elmokit"):
        split_text("a b", "spacy")


RAW = ["Don't panic, it's 3.5 km!", "Mail me@example.com today."]


def test_every_entry_point_splits_strings_the_same_way(tiny_elmo, tmp_path):
    """embed_sentence / embed_batch / embed_sentences(open(f)) / embed_file / CLI embed /
    signatures / sentence_vectors: a string is split on whitespace unless tokenize="elmokit"."""
    path = tmp_path / "raw.txt"
    path.write_text("\n".join(RAW) + "\n")
    for how in TOKENIZE_CHOICES:
        want = [tiny_elmo.embed_sentence(split_text(t, how)) for t in RAW]  # token lists
        kw = {} if how == DEFAULT_TOKENIZE else {"tokenize": how}
        got = {
            "embed_sentence": [tiny_elmo.embed_sentence(t, **kw) for t in RAW],
            "embed_batch": tiny_elmo.embed_batch(RAW, **kw),
            "embed_sentences(open(f))": list(tiny_elmo.embed_sentences(path.open(), **kw)),
        }
        tiny_elmo.embed_file(path, tmp_path / f"{how}.hdf5", progress=False, **kw)
        args = ["embed", str(path), str(tmp_path / f"cli-{how}.hdf5"), "-m", str(TINY_DIR)]
        result = CliRunner().invoke(main, args + ([] if not kw else ["--tokenize", how]))
        assert result.exit_code == 0, result.output
        for name in (f"{how}.hdf5", f"cli-{how}.hdf5"):
            with h5py.File(tmp_path / name) as f:
                got[name] = [f[str(i)][()] for i in range(len(RAW))]
        for where, vectors in got.items():
            assert [v.shape for v in vectors] == [w.shape for w in want], (how, where)
            for v, w in zip(vectors, want, strict=True):
                # float noise only: batch composition changes GEMM paths in the last bits
                # (seen 1.4e-6 on values ~2.9 on an AMD EPYC); a wrong split is far off
                np.testing.assert_allclose(v, w, rtol=1e-5, atol=1e-5, err_msg=f"{how}: {where}")
        lengths = tiny_elmo.signatures(RAW, **kw)["sequence_len"]
        assert lengths.tolist() == [len(split_text(t, how)) for t in RAW]
        pooled = tiny_elmo.sentence_vectors(RAW, layer=2, **kw)
        np.testing.assert_allclose(pooled, [w[2].mean(0) for w in want], atol=1e-5)
    with pytest.raises(InputError, match="tokenize 'raw'"):
        tiny_elmo.embed_batch(RAW, tokenize="raw")
    bad = CliRunner().invoke(
        main, ["embed", str(path), str(tmp_path / "x.hdf5"), "--tokenize", "raw"]
    )
    assert bad.exit_code == 2 and "'raw' is not one of 'whitespace', 'elmokit'" in bad.output


def test_help_lists_embed_and_version():
    runner = CliRunner()
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0 and "embed" in result.output
    assert runner.invoke(main, ["--version"]).output.strip().endswith("0.1.0")
    assert runner.invoke(main, ["no-such-command"]).exit_code == 2
