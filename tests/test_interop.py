"""Model folders from elsewhere: AllenNLP's download names, ELMoForManyLangs folders (loaded
natively and converted), `elmokit convert`.

The ELMoForManyLangs folders are written here in their layout (config.json + the model config
it names, char.dic / word.dic as their trainer prints them, state dicts with their key names)
from random weights, and elmokit's outputs are checked against `their_sents2elmo` below: a
small, independent re-implementation of their forward pass (frontend.create_one_batch,
ConvTokenEmbedder, Highway, LstmCellWithProjection, ElmobiLm), one sentence at a time.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from elmokit import Elmo
from elmokit.cli import main
from elmokit.errors import ConfigError, ModelNotFoundError, WeightFileError
from elmokit.interop.manylangs import read_manylangs, sents2elmo

from .conftest import TINY_OPTIONS, TINY_WEIGHTS

SPECIAL_CHARS = ["<bos>", "<eos>", "<oov>", "<pad>", "<bow>", "<eow>"]
SENTENCES = [
    ["The", "cell", "divides", "."],
    ["a"],
    ["Zebras", "graze", "unbelievably", "slowly", "today", "!"],  # "unbelievably" > 8 chars
    ["café", "天氣很好", "x\u3000y", "qq"],  # non-ASCII; \u3000 has its own id; q unseen
    ["天天天天天天天天天天天"],  # 11 characters, 33 bytes: cut to 8 characters
]


# ---------------------------------------------------------------------------- their layout
def make_manylangs(
    root: Path,
    word_dim: int = 5,
    text: str = "The cell divides a café 天氣好",
    seed: int = 0,
    legacy: bool = True,
    extra: str = "\u3000",
) -> dict:
    """Write a random ELMoForManyLangs model folder; returns what their_sents2elmo needs."""
    g = torch.Generator().manual_seed(seed)

    def rand(*shape: int) -> torch.Tensor:
        return (torch.rand(*shape, generator=g) - 0.5) * 1.2

    model = {
        "encoder": {"name": "elmo", "projection_dim": 6, "cell_clip": 3, "proj_clip": 3,
                    "dim": 10, "n_layers": 2},
        "token_embedder": {"name": "cnn", "activation": "relu",
                           "filters": [[1, 4], [2, 4], [3, 8]], "n_highway": 2,
                           "word_dim": word_dim, "char_dim": 4, "max_characters_per_token": 10},
        "classifier": {"name": "sampled_softmax", "n_samples": 10},
        "dropout": 0.1,
    }  # fmt: skip
    root.mkdir(parents=True)
    (root / "cnn_test.json").write_text(json.dumps(model))
    # their trainer's vars(opt): config_path as it was on the training machine
    (root / "config.json").write_text(
        json.dumps({"config_path": "configs/cnn_test.json", "model": "out", "batch_size": 32})
    )
    chars: dict[str, int] = {}
    for ch in "".join(text.split()) + extra:  # their trainer: the characters of words
        chars.setdefault(ch, len(chars))
    for special in SPECIAL_CHARS:
        chars[special] = len(chars)
    # their writer: print('{0}\t{1}'.format(ch, i))
    (root / "char.dic").write_text("".join(f"{c}\t{i}\n" for c, i in chars.items()),
                                   encoding="utf-8")  # fmt: skip
    words = {"<oov>": 0, "<bos>": 1, "<eos>": 2, "<pad>": 3}
    for w in text.split():
        words.setdefault(w, len(words))
    (root / "word.dic").write_text("".join(f"{w}\t{i}\n" for w, i in words.items()),
                                   encoding="utf-8")  # fmt: skip
    P, C, F = 6, 10, 16
    token = {"char_emb_layer.embedding.weight": rand(len(chars), 4)}
    if word_dim:
        token["word_emb_layer.embedding.weight"] = rand(len(words), word_dim)
    for i, (width, num) in enumerate(model["token_embedder"]["filters"]):
        token[f"convolutions.{i}.weight"] = rand(num, 4, width)
        token[f"convolutions.{i}.bias"] = rand(num)
    for k in range(2):
        token[f"highways._layers.{k}.weight"] = rand(2 * F, F)
        token[f"highways._layers.{k}.bias"] = rand(2 * F)
    token["projection.weight"] = rand(P, F + word_dim)
    token["projection.bias"] = rand(P)
    encoder = {}
    for k in range(2):
        for d in ("forward", "backward"):
            encoder[f"{d}_layer_{k}.input_linearity.weight"] = rand(4 * C, P)
            encoder[f"{d}_layer_{k}.state_linearity.weight"] = rand(4 * C, P)
            encoder[f"{d}_layer_{k}.state_linearity.bias"] = rand(4 * C)
            encoder[f"{d}_layer_{k}.state_projection.weight"] = rand(P, C)
    # their files are from torch 0.4-1.x: the legacy (non-zip) format
    torch.save(token, root / "token_embedder.pkl", _use_new_zipfile_serialization=not legacy)
    torch.save(encoder, root / "encoder.pkl")
    return {"model": model, "chars": chars, "words": words, "token": token, "encoder": encoder}


def their_sents2elmo(m: dict, sents: list[list[str]], output_layer: int = -1) -> list:
    """Their Embedder.sents2elmo on a fresh model (zero state), one sentence at a time."""
    cfg, chars, words, tok, enc = m["model"], m["chars"], m["words"], m["token"], m["encoder"]
    te, en = cfg["token_embedder"], cfg["encoder"]
    max_chars, C = te["max_characters_per_token"], en["dim"]
    out = []
    for sent in sents:
        seq = ["<bos>"] + [t if len(t) + 2 <= max_chars else t[: max_chars - 2]
                           for t in sent] + ["<eos>"]  # fmt: skip
        vectors = []
        for t in seq:
            ids = [chars["<pad>"]] * max_chars
            ids[0] = chars["<eow>"]  # their create_one_batch: bow_id = char2id['<eow>']
            inner = [chars[t]] if t in ("<bos>", "<eos>") else [chars.get(c, chars["<oov>"])
                                                                for c in t]  # fmt: skip
            ids[1 : len(inner) + 1] = inner
            ids[len(inner) + 1] = chars["<bow>"]
            x = tok["char_emb_layer.embedding.weight"][ids].t()  # (e, max_chars)
            pooled = []
            for i, (width, _) in enumerate(te["filters"]):
                w, b = tok[f"convolutions.{i}.weight"], tok[f"convolutions.{i}.bias"]
                conv = torch.stack([(w * x[:, p : p + width]).sum((1, 2)) + b
                                    for p in range(max_chars - width + 1)])  # fmt: skip
                pooled.append(torch.relu(conv.max(0).values))
            h = torch.cat(pooled)
            for k in range(te["n_highway"]):
                proj = tok[f"highways._layers.{k}.weight"] @ h + tok[f"highways._layers.{k}.bias"]
                gate = torch.sigmoid(proj[h.numel() :])
                h = gate * h + (1 - gate) * torch.relu(proj[: h.numel()])
            if te["word_dim"]:
                word = tok["word_emb_layer.embedding.weight"][words.get(t, words["<oov>"])]
                h = torch.cat([word, h])
            vectors.append(tok["projection.weight"] @ h + tok["projection.bias"])
        x = torch.stack(vectors)  # (n + 2, P)
        layers = [torch.cat([x, x], -1)]
        fwd_in = bwd_in = x
        for k in range(en["n_layers"]):
            results = []
            for d, seq_in in (("forward", fwd_in), ("backward", bwd_in)):
                p = f"{d}_layer_{k}"
                h, c = torch.zeros(en["projection_dim"]), torch.zeros(C)
                ys = [None] * len(seq_in)
                order = range(len(seq_in)) if d == "forward" else reversed(range(len(seq_in)))
                for t in order:
                    g = (
                        enc[f"{p}.input_linearity.weight"] @ seq_in[t]
                        + enc[f"{p}.state_linearity.weight"] @ h
                        + enc[f"{p}.state_linearity.bias"]
                    )
                    i, f, mem, o = (
                        g[:C].sigmoid(),
                        g[C : 2 * C].sigmoid(),
                        g[2 * C : 3 * C].tanh(),
                        g[3 * C :].sigmoid(),
                    )  # noqa: E501
                    c = (i * mem + f * c).clamp(-en["cell_clip"], en["cell_clip"])
                    h = (enc[f"{p}.state_projection.weight"] @ (o * c.tanh())).clamp(
                        -en["proj_clip"], en["proj_clip"]
                    )
                    ys[t] = h
                y = torch.stack(ys)
                results.append(y + seq_in if k > 0 else y)
            fwd_in, bwd_in = results
            layers.append(torch.cat(results, -1))
        data = torch.stack(layers)[:, 1:-1].numpy()  # (3, n, 2P)
        out.append(data.mean(0) if output_layer == -1 else data if output_layer == -2
                   else data[output_layer])  # fmt: skip
    return out


# ---------------------------------------------------------------------------- AllenNLP names
def test_allennlp_download_names_load(tmp_path, tiny_elmo):
    folder = tmp_path / "elmo_original"
    folder.mkdir()
    shutil.copy(TINY_OPTIONS, folder / "elmo_2x4096_512_2048cnn_2xhighway_options.json")
    shutil.copy(TINY_WEIGHTS, folder / "elmo_2x4096_512_2048cnn_2xhighway_weights.hdf5")
    (folder / "README.txt").write_text("downloaded from the AllenNLP site")
    elmo = Elmo.load(folder)
    tokens = ["The", "cell", "divides"]
    np.testing.assert_allclose(
        elmo.embed_sentence(tokens), tiny_elmo.embed_sentence(tokens), atol=1e-5
    )


def test_ambiguous_folder_lists_what_it_found(tmp_path):
    for stem in ("elmo_2x1024_128_2048cnn_1xhighway", "elmo_2x4096_512_2048cnn_2xhighway"):
        shutil.copy(TINY_OPTIONS, tmp_path / f"{stem}_options.json")
        shutil.copy(TINY_WEIGHTS, tmp_path / f"{stem}_weights.hdf5")
    with pytest.raises(ModelNotFoundError) as info:
        Elmo.load(tmp_path)
    message = str(info.value)
    assert "2 candidates for the options.json" in message and "2 candidates for the weights" in (
        message
    )
    assert "elmo_2x1024_128_2048cnn_1xhighway_options.json" in message
    assert "\n" not in message


def test_foreign_folders_say_how_to_get_in(tmp_path):
    (tmp_path / "saved_model.pb").write_bytes(b"")
    with pytest.raises(ModelNotFoundError, match="TF-Hub.*elmokit convert --from tfhub"):
        Elmo.load(tmp_path)


# ---------------------------------------------------------------------------- ELMoForManyLangs
@pytest.fixture(scope="module")
def manylangs(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("manylangs") / "zz.model"
    return root, make_manylangs(root)


@pytest.mark.parametrize("mode", ["exact", "reference"])
@pytest.mark.parametrize("output_layer", [-1, 0, 1, 2, -2])
def test_manylangs_reproduces_sents2elmo(manylangs, mode, output_layer):
    root, m = manylangs
    elmo = Elmo.load(root, mode=mode)
    ours = sents2elmo(elmo, SENTENCES, output_layer)
    theirs = their_sents2elmo(m, SENTENCES, output_layer)
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=2e-5, rtol=0)


def test_manylangs_char_dic_quirks(manylangs):
    root, m = manylangs
    encoder = read_manylangs(root).char_cnn
    assert encoder.char2id["\u3000"] == m["chars"]["\u3000"]  # stripped away, restored
    words, chars = encoder.ids(["<bos>", "qz"])
    c = m["chars"]
    assert chars[0, :3].tolist() == [c["<eow>"], c["<bos>"], c["<bow>"]]  # their id swap
    assert chars[1, :4].tolist() == [c["<eow>"], c["<oov>"], c["<oov>"], c["<bow>"]]
    assert words.tolist() == [m["words"]["<bos>"], m["words"]["<oov>"]]


def test_manylangs_never_unpickles_objects(tmp_path):
    root = tmp_path / "evil.model"
    make_manylangs(root)
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    state = torch.load(root / "encoder.pkl", weights_only=True)
    state["extra"] = Payload()
    torch.save(state, root / "encoder.pkl")
    with pytest.raises(WeightFileError, match="encoder.pkl: not a loadable tensors-only"):
        Elmo.load(root)
    assert not marker.exists()


def test_manylangs_errors_name_file_and_key(tmp_path):
    root = tmp_path / "bad.model"
    make_manylangs(root)
    state = torch.load(root / "token_embedder.pkl", weights_only=True)
    state["convolutions.1.weight"] = torch.zeros(4, 4, 3)
    torch.save(state, root / "token_embedder.pkl")
    with pytest.raises(WeightFileError, match=r"token_embedder.pkl: key convolutions.1.weight "
                       r"has shape \(4, 4, 3\), expected \(4, 4, 2\)"):  # fmt: skip
        Elmo.load(root)
    (root / "cnn_test.json").unlink()
    with pytest.raises(ModelNotFoundError, match="config_path 'configs/cnn_test.json' not found"):
        Elmo.load(root)


def test_manylangs_convert_char_only_model(tmp_path):
    root = tmp_path / "en.model"
    m = make_manylangs(root, word_dim=0, text="The cell divides a b c d e f g h", extra="")
    report = CliRunner().invoke(main, ["convert", str(root), str(tmp_path / "out")])
    assert report.exit_code == 0, report.output
    assert "wrote" in report.output and "NOT carried over" not in report.output
    converted = Elmo.load(tmp_path / "out")
    ascii_sents = [s for s in SENTENCES if all(t.isascii() for t in s)]
    for ours, theirs in zip(sents2elmo(converted, ascii_sents, -2),
                            their_sents2elmo(m, ascii_sents, -2), strict=True):  # fmt: skip
        np.testing.assert_allclose(ours, theirs, atol=2e-5, rtol=0)


def test_manylangs_convert_says_what_cannot_be_carried(tmp_path):
    root = tmp_path / "zh.model"
    make_manylangs(root, word_dim=5)
    result = CliRunner().invoke(main, ["convert", "--from", "manylangs", str(root),
                                       str(tmp_path / "out")])  # fmt: skip
    assert result.exit_code == 1
    assert "error:" in result.output and "word embedding (word_dim 5" in result.output
    assert not (tmp_path / "out").exists()
    chars_only = tmp_path / "zh2.model"
    make_manylangs(chars_only, word_dim=0)  # its char.dic holds é, 天, 氣, ...
    from elmokit.interop import convert

    with pytest.raises(ConfigError, match="not ASCII"):
        convert(chars_only, tmp_path / "out2")
    report = convert(chars_only, tmp_path / "out2", lossy=True)
    assert len(report.lost) == 1 and "天" in report.lost[0]
    assert (tmp_path / "out2" / "weights.hdf5").is_file()


def test_embed_cli_takes_a_manylangs_folder(manylangs, tmp_path):
    root, m = manylangs
    text = tmp_path / "in.txt"
    text.write_text("The cell divides .\n")
    result = CliRunner().invoke(main, ["embed", str(text), str(tmp_path / "out.hdf5"),
                                       "--model", str(root)])  # fmt: skip
    assert result.exit_code == 0, result.output
    import h5py

    with h5py.File(tmp_path / "out.hdf5") as f:
        np.testing.assert_allclose(f["0"][...], their_sents2elmo(m, [SENTENCES[0]], -2)[0],
                                   atol=2e-5)  # fmt: skip
