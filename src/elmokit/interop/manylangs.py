"""ELMoForManyLangs model folders (HIT-SCIR; 44 languages): load natively, or convert.

A folder holds ``config.json`` (their training arguments; ``config_path`` names the model
config), that model config (``cnn_50_100_512_4096_sample.json``), ``char.dic`` and
``word.dic`` (``symbol<TAB>id`` per line), and two PyTorch state dicts, ``token_embedder.pkl``
and ``encoder.pkl``. They are read with ``torch.load(weights_only=True)``: tensors only, no
pickled objects.

>>> elmo = Elmo.load("zht.model")                     # a ManyLangsBiLM inside (read_manylangs)
>>> sents2elmo(elmo, [["今天", "天氣", "很好"]])[0].shape    # their Embedder.sents2elmo
(3, 1024)

Their numerics, as elmokit reproduces them (their code: ``elmoformanylangs/frontend.py``,
``modules/token_embedder.py``, ``modules/highway.py``, ``modules/elmo.py``):

- tokens: ``<bos> tokens <eos>``, each token cut to ``max_characters_per_token - 2``
  *characters* (not bytes);
- token layer: ``projection([word_embedding(word id); highway(char CNN)])`` where the word id is
  the (cut) token's ``word.dic`` id or ``<oov>``'s (only when ``word_dim > 0``), and the char CNN
  reads ``char.dic`` ids laid out as ``[<eow>, chars..., <bow>, <pad>...]``: their batcher
  swaps the ``<bow>`` / ``<eow>`` ids (``bow_id, eow_id = char2id['<eow>'], char2id['<bow>']``),
  in training and at inference alike, so elmokit does too; ``<bos>`` / ``<eos>`` are
  ``[<eow>, <bos>, <bow>, <pad>...]``. Conv, max over positions, the config's activation;
  highway ``y = g * x + (1 - g) * relu(A x)`` with ``g = sigmoid(B x)`` (gate on the carry,
  the opposite of bilm-tf's);
- encoder: AllenNLP's projected LSTM cells (gates i, f, g, o; bias in the state product, no
  extra forget bias), skip connections from the second layer up; layer 0 is ``[x; x]``.
- output: ``output_layer`` -1 = the mean of the layers, 0 / 1 / 2 one layer, -2 all.

One difference, on purpose: their encoder is *stateful* (``ElmobiLm(stateful=True)``): a batch
starts from the final LSTM state of the previous batch, and ``sents2elmo`` shuffles the batch
order at random, so their output for a sentence depends on what ran before it. elmokit starts
every sentence from a zero state, which is their output for the first batch after loading.

Where the architecture allows, :func:`convert` writes the model as options.json +
weights.hdf5 (ids and gate order mapped); where not, it says what cannot be carried over.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from elmokit.characters import BOS_CHAR, BOW_CHAR, EOS_CHAR, EOW_CHAR, PAD_CHAR
from elmokit.config import ElmoConfig
from elmokit.errors import ConfigError, InputError, ModelNotFoundError, WeightFileError
from elmokit.modules.bilm import BiLM, ElmoLstm

BOS, EOS, OOV, PAD, BOW, EOW = "<bos>", "<eos>", "<oov>", "<pad>", "<bow>", "<eow>"
#: UTF-8 bytes kept per token on elmokit's side: enough for any max_characters_per_token - 2
#: characters (4 bytes each at most), so their per-character cut can be applied exactly.
BYTES_PER_CHAR = 4


# ---------------------------------------------------------------------------- config and files
@dataclass(frozen=True)
class ManyLangsConfig:
    """The model config (``config_path``'s JSON) of an ELMoForManyLangs folder."""

    token_embedder: str  # "cnn" (supported) or "lstm"
    encoder: str  # "elmo" (supported) or "lstm"
    filters: tuple[tuple[int, int], ...]
    n_highway: int
    activation: str
    char_dim: int
    word_dim: int
    max_characters_per_token: int
    projection_dim: int
    dim: int
    n_layers: int
    cell_clip: float | None
    proj_clip: float | None

    @classmethod
    def from_dict(cls, config: dict, where: str) -> ManyLangsConfig:
        def get(section: str, key: str, kind: type | tuple[type, ...] = int, default: Any = None):
            part = config.get(section)
            if not isinstance(part, dict) or (key not in part and default is None):
                raise ConfigError(f"{where}: missing key {section}.{key}")
            value = part.get(key, default)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ConfigError(
                    f"{where}: key {section}.{key} has value {value!r} of the wrong type"
                )
            return value

        filters = get("token_embedder", "filters", list, [])
        if not all(
            isinstance(f, list) and len(f) == 2 and all(isinstance(v, int) and v > 0 for v in f)
            for f in filters
        ):
            raise ConfigError(f"{where}: token_embedder.filters must be [width, num] pairs")
        clip = (int, float, type(None))
        return cls(
            token_embedder=get("token_embedder", "name", str).lower(),
            encoder=get("encoder", "name", str).lower(),
            filters=tuple((w, n) for w, n in filters),
            n_highway=get("token_embedder", "n_highway", int, 0),
            activation=get("token_embedder", "activation", str, "relu"),
            char_dim=get("token_embedder", "char_dim"),
            word_dim=get("token_embedder", "word_dim"),
            max_characters_per_token=get("token_embedder", "max_characters_per_token", int, 50),
            projection_dim=get("encoder", "projection_dim"),
            dim=get("encoder", "dim"),
            n_layers=get("encoder", "n_layers"),
            cell_clip=get("encoder", "cell_clip", clip, 0) or None,
            proj_clip=get("encoder", "proj_clip", clip, 0) or None,
        )

    def unsupported(self) -> list[str]:
        """What elmokit cannot run natively (empty when it can)."""
        problems = []
        if self.token_embedder != "cnn":
            problems.append(
                f"token_embedder {self.token_embedder!r} (a character BiLSTM; "
                "elmokit runs the 'cnn' token embedder)"
            )
        if self.encoder != "elmo":
            problems.append(
                f"encoder {self.encoder!r} (a plain nn.LSTM biLM; elmokit runs the 'elmo' encoder)"
            )
        if self.char_dim > 0 and not self.filters:
            problems.append("char_dim > 0 but no token_embedder.filters")
        if self.activation not in ("relu", "tanh"):
            problems.append(f"activation {self.activation!r}")
        return problems

    def elmo_config(self) -> ElmoConfig:
        """The elmokit config of the native model (LSTM sizes; the char side as bookkeeping)."""
        options = {
            "bidirectional": True,
            "format": "elmoformanylangs",
            "char_cnn": {
                "activation": self.activation,
                "embedding": {"dim": max(self.char_dim, 1)},
                "filters": [list(f) for f in self.filters] or [[1, 1]],
                "n_highway": self.n_highway,
                "n_characters": 262,
                # elmokit's ids carry the UTF-8 bytes of the token; the model re-reads them
                "max_characters_per_token": BYTES_PER_CHAR * (self.max_characters_per_token - 2)
                + 2,
            },
            "lstm": {
                "dim": self.dim,
                "projection_dim": self.projection_dim,
                "n_layers": self.n_layers,
                "cell_clip": self.cell_clip,
                "proj_clip": self.proj_clip,
                "use_skip_connections": True,
            },
        }
        return ElmoConfig.from_options(options, where="ELMoForManyLangs config")


def read_config(directory: Path) -> tuple[ManyLangsConfig, Path]:
    """``config.json`` -> the model config it names (looked up as their Embedder does: the
    path as given under the folder, then its file name in the folder)."""
    top = directory / "config.json"
    args = _read_json(top)
    config_path = args.get("config_path") if isinstance(args, dict) else None
    if not isinstance(config_path, str):
        raise ConfigError(f"{top}: missing key 'config_path' (the model config's path)")
    candidates = [directory / config_path, directory / Path(config_path.replace("\\", "/")).name]
    for path in candidates:
        if path.is_file():
            return ManyLangsConfig.from_dict(_read_json(path), str(path)), path
    raise ModelNotFoundError(
        f"{top}: config_path {config_path!r} not found in {directory} (tried "
        + ", ".join(p.name for p in candidates)
        + "); copy the model config (e.g. cnn_50_100_512_4096_sample.json) into the folder"
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelNotFoundError(f"{path}: not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None


def read_dic(path: Path, required: tuple[str, ...] = ()) -> dict[str, int]:
    """A ``char.dic`` / ``word.dic`` -> {symbol: id}, parsed as they parse it: each line
    stripped and split on tabs; a line with one field is the id of ``\\u3000`` (a full-width
    space, stripped away when the file was read)."""
    lexicon: dict[str, int] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ModelNotFoundError(f"{path}: not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None
    for number, line in enumerate(lines, 1):
        fields = line.strip().split("\t")
        if len(fields) == 1:
            fields.insert(0, "\u3000")
        if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
            raise InputError(f"{path} line {number}: expected 'symbol<TAB>id', got {line!r}")
        lexicon[fields[0]] = int(fields[1])
    missing = [s for s in required if s not in lexicon]
    if missing:
        raise InputError(f"{path}: missing the special symbols {', '.join(missing)}")
    return lexicon


def load_state(path: Path) -> dict[str, torch.Tensor]:
    """A ``*.pkl`` state dict -> {key: tensor}; ``torch.load(weights_only=True)``, never
    unpickling arbitrary objects."""
    if not path.is_file():
        raise ModelNotFoundError(f"{path}: not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a bad file
        message = " ".join(str(exc).split())[:300]
        raise WeightFileError(f"{path}: not a loadable tensors-only state dict ({message})"
                              ) from None  # fmt: skip
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise WeightFileError(f"{path}: expected a state dict of tensors")
    return state


def _take(state: dict, key: str, shape: tuple[int, ...], path: Path) -> torch.Tensor:
    if key not in state:
        raise WeightFileError(f"{path}: missing key {key} (expected shape {shape})")
    tensor = state[key].detach().float()
    if tuple(tensor.shape) != shape:
        raise WeightFileError(
            f"{path}: key {key} has shape {tuple(tensor.shape)}, expected {shape}"
        )
    if not torch.isfinite(tensor).all():
        raise WeightFileError(f"{path}: key {key} contains NaN or infinite values")
    return tensor


# ---------------------------------------------------------------------------- the token layer
class ManyLangsTokenEncoder(nn.Module):
    """Their ``ConvTokenEmbedder``: token strings -> (N, projection_dim).

    Sits where :class:`~elmokit.modules.char_cnn.CharCNN` sits in a
    :class:`~elmokit.modules.BiLM`: :meth:`forward` / :meth:`encode_words` take elmokit's char
    ids, whose UTF-8 bytes give back the token string, which is then mapped with their
    ``word.dic`` / ``char.dic`` (:meth:`ids`).
    """

    def __init__(
        self,
        config: ManyLangsConfig,
        char2id: dict[str, int] | None,
        word2id: dict[str, int] | None,
        n_chars: int = 0,
        n_words: int = 0,
    ) -> None:
        super().__init__()
        self.config = config
        self.char2id, self.word2id = char2id, word2id
        self.n_filters = sum(n for _, n in config.filters) if char2id is not None else 0
        self.word_embedding = nn.Embedding(n_words, config.word_dim) if word2id else None
        if char2id is not None:
            self.char_embedding_table = nn.Embedding(n_chars, config.char_dim)
            self.convs = nn.ModuleList(
                nn.Conv1d(config.char_dim, num, kernel_size=width) for width, num in config.filters
            )
            # each Linear(F, 2F): output halves (nonlinear part, gate)
            self.highways = nn.ModuleList(
                nn.Linear(self.n_filters, 2 * self.n_filters) for _ in range(config.n_highway)
            )
        in_dim = self.n_filters + (config.word_dim if word2id else 0)
        self.projection = nn.Linear(in_dim, config.projection_dim)
        self.activation = torch.tanh if config.activation == "tanh" else torch.relu

    @property
    def char_embedding(self):  # what elmokit.weights reads to save a bilm-tf file
        raise ConfigError(
            "an ELMoForManyLangs model cannot be saved as options.json + "
            "weights.hdf5 directly: use elmokit.interop.manylangs.convert"
        )

    def ids(self, tokens: list[str]) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Tokens (``<bos>`` / ``<eos>`` for the boundaries) -> (word ids (N,) or None,
        char ids (N, max_characters_per_token) or None), as their ``create_one_batch``."""
        max_chars = self.config.max_characters_per_token
        tokens = [t if len(t) + 2 <= max_chars else t[: max_chars - 2] for t in tokens]
        words = None
        if self.word2id is not None:
            oov = self.word2id[OOV]
            words = torch.tensor([self.word2id.get(t, oov) for t in tokens], dtype=torch.long)
        chars = None
        if self.char2id is not None:
            c2i = self.char2id
            # their swap: the first position holds <eow>'s id, the last <bow>'s
            first, last, oov, pad = c2i[EOW], c2i[BOW], c2i[OOV], c2i[PAD]
            rows = np.full((len(tokens), max_chars), pad, dtype=np.int64)
            for row, token in enumerate(tokens):
                inner = [c2i[token]] if token in (BOS, EOS) else [c2i.get(c, oov) for c in token]
                rows[row, : len(inner) + 2] = [first, *inner, last]
            chars = torch.from_numpy(rows)
        return words, chars

    def encode_tokens(self, tokens: list[str]) -> torch.Tensor:
        """N token strings -> (N, projection_dim) token vectors."""
        words, chars = self.ids(tokens)
        device = self.projection.weight.device
        parts = []
        if words is not None:
            parts.append(self.word_embedding(words.to(device)))  # (N,) -> (N, word_dim)
        if chars is not None:
            x = self.char_embedding_table(chars.to(device))  # (N, M) -> (N, M, e)
            x = x.transpose(1, 2)  # (N, e, M)
            # each conv: (N, e, M) -> (N, num, M - w + 1) -> max over positions -> (N, num)
            h = torch.cat([self.activation(conv(x).amax(-1)) for conv in self.convs], dim=-1)
            for layer in self.highways:
                nonlinear, gate = layer(h).chunk(2, dim=-1)
                gate = torch.sigmoid(gate)
                h = gate * h + (1 - gate) * torch.relu(nonlinear)  # (N, F)
            parts.append(h)
        return self.projection(torch.cat(parts, dim=-1))  # (N, word_dim + F) -> (N, P)

    def encode_words(self, char_ids: torch.Tensor, min_rows: int = 1) -> torch.Tensor:
        """(N, M) elmokit char ids -> (N, projection_dim), like ``CharCNN.encode_words``
        (``min_rows`` is accepted for that signature: every product here has all N rows)."""
        return self.encode_tokens([decode_token(row) for row in char_ids.cpu().numpy()])

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        batch, timesteps, width = char_ids.shape  # (B, T, M) -> (B, T, P)
        return self.encode_words(char_ids.reshape(-1, width)).reshape(batch, timesteps, -1)


def decode_token(ids: np.ndarray) -> str:
    """One token's elmokit char ids (see :mod:`elmokit.characters`) -> the token string;
    ``<S>`` / ``</S>`` -> ``<bos>`` / ``<eos>``; a padding position (all 0) -> ""."""
    chars = ids.astype(np.int64) - 1
    if chars[0] != BOW_CHAR:
        return ""
    if chars[1] == BOS_CHAR and chars[2] == EOW_CHAR:
        return BOS
    if chars[1] == EOS_CHAR and chars[2] == EOW_CHAR:
        return EOS
    body = chars[1:]
    stops = np.nonzero((body == EOW_CHAR) | (body == PAD_CHAR))[0]
    body = body[: stops[0]] if len(stops) else body
    return bytes(body.astype(np.uint8)).decode("utf-8", "ignore")


class ManyLangsBiLM(BiLM):
    """A :class:`~elmokit.modules.BiLM` whose token layer is :class:`ManyLangsTokenEncoder`;
    the biLSTM is elmokit's, holding their weights (gates reordered, no extra forget bias)."""

    def __init__(self, config: ElmoConfig, encoder: ManyLangsTokenEncoder) -> None:
        nn.Module.__init__(self)  # not BiLM.__init__: no CharCNN to build and throw away
        self.config = config
        self.char_cnn = encoder
        self.lstm = ElmoLstm(config.lstm, config.lstm.projection_dim)


def _ifgo_to_ijfo(tensor: torch.Tensor) -> torch.Tensor:
    """Gate blocks (4C, ...) in AllenNLP's order (input, forget, memory, output) -> TF's
    (i, j = memory, f, o), elmokit's."""
    i, f, g, o = tensor.chunk(4, dim=0)
    return torch.cat([i, g, f, o], dim=0)


# ---------------------------------------------------------------------------- loading
@dataclass
class ManyLangsFolder:
    """The parsed files of an ELMoForManyLangs folder."""

    directory: Path
    config: ManyLangsConfig
    config_file: Path
    char2id: dict[str, int] | None
    word2id: dict[str, int] | None
    token_state: dict[str, torch.Tensor]
    encoder_state: dict[str, torch.Tensor]

    @classmethod
    def read(cls, directory: str | os.PathLike) -> ManyLangsFolder:
        directory = Path(directory)
        config, config_file = read_config(directory)
        problems = config.unsupported()
        if problems:
            raise ConfigError(
                f"{config_file}: elmokit cannot run this ELMoForManyLangs model: "
                + "; ".join(problems)
            )
        char2id = word2id = None
        if config.char_dim > 0:
            char2id = read_dic(directory / "char.dic", (BOS, EOS, OOV, PAD, BOW, EOW))
        if config.word_dim > 0:
            word2id = read_dic(directory / "word.dic", (OOV, PAD))
        return cls(directory, config, config_file, char2id, word2id,
                   load_state(directory / "token_embedder.pkl"),
                   load_state(directory / "encoder.pkl"))  # fmt: skip

    def token_encoder(self) -> ManyLangsTokenEncoder:
        """Their token embedder with its weights, every key checked against its shape."""
        c, state = self.config, self.token_state
        path = self.directory / "token_embedder.pkl"
        n_chars = n_words = 0
        if self.char2id is not None:
            n_chars = state.get("char_emb_layer.embedding.weight", torch.empty(0)).shape[0]
            if n_chars <= max(self.char2id.values()):
                raise WeightFileError(
                    f"{path}: key char_emb_layer.embedding.weight has "
                    f"{n_chars} rows, char.dic uses ids up to "
                    f"{max(self.char2id.values())}"
                )
        if self.word2id is not None:
            n_words = state.get("word_emb_layer.embedding.weight", torch.empty(0)).shape[0]
            if n_words <= max(self.word2id.values()):
                raise WeightFileError(
                    f"{path}: key word_emb_layer.embedding.weight has "
                    f"{n_words} rows, word.dic uses ids up to "
                    f"{max(self.word2id.values())}"
                )
        encoder = ManyLangsTokenEncoder(c, self.char2id, self.word2id, n_chars, n_words)
        with torch.no_grad():
            if encoder.word_embedding is not None:
                encoder.word_embedding.weight.copy_(
                    _take(state, "word_emb_layer.embedding.weight", (n_words, c.word_dim), path)
                )
            if self.char2id is not None:
                encoder.char_embedding_table.weight.copy_(
                    _take(state, "char_emb_layer.embedding.weight", (n_chars, c.char_dim), path)
                )
                for i, ((width, num), conv) in enumerate(
                    zip(c.filters, encoder.convs, strict=True)
                ):
                    conv.weight.copy_(
                        _take(state, f"convolutions.{i}.weight", (num, c.char_dim, width), path)
                    )
                    conv.bias.copy_(_take(state, f"convolutions.{i}.bias", (num,), path))
                F = encoder.n_filters
                for k, layer in enumerate(encoder.highways):
                    layer.weight.copy_(
                        _take(state, f"highways._layers.{k}.weight", (2 * F, F), path)
                    )
                    layer.bias.copy_(_take(state, f"highways._layers.{k}.bias", (2 * F,), path))
            P, in_dim = c.projection_dim, encoder.projection.in_features
            encoder.projection.weight.copy_(_take(state, "projection.weight", (P, in_dim), path))
            encoder.projection.bias.copy_(_take(state, "projection.bias", (P,), path))
        return encoder

    def lstm_weights(self) -> list[tuple[str, int, dict[str, torch.Tensor]]]:
        """Per (direction "forward" / "backward", layer): their cell's weights, checked."""
        c, path = self.config, self.directory / "encoder.pkl"
        out = []
        for k in range(c.n_layers):
            for direction in ("forward", "backward"):
                prefix = f"{direction}_layer_{k}"
                out.append((direction, k, {
                    "input": _take(self.encoder_state, f"{prefix}.input_linearity.weight",
                                   (4 * c.dim, c.projection_dim), path),
                    "state": _take(self.encoder_state, f"{prefix}.state_linearity.weight",
                                   (4 * c.dim, c.projection_dim), path),
                    "bias": _take(self.encoder_state, f"{prefix}.state_linearity.bias",
                                  (4 * c.dim,), path),
                    "projection": _take(self.encoder_state, f"{prefix}.state_projection.weight",
                                        (c.projection_dim, c.dim), path),
                }))  # fmt: skip
        return out


def read_manylangs(directory: str | os.PathLike) -> BiLM:
    """An ELMoForManyLangs folder -> its biLM in elmokit's modules (``Elmo.load(directory)``
    wraps it: ``Elmo.load("zht.model").embed_sentence(["今天", "天氣"])`` -> (3, 2, 1024)).
    """
    folder = ManyLangsFolder.read(directory)
    config = folder.config.elmo_config()
    bilm = ManyLangsBiLM(config, folder.token_encoder())
    with torch.no_grad():
        for direction, k, w in folder.lstm_weights():
            cell = getattr(bilm.lstm, f"{direction}_layers")[k]
            cell.input_linear.weight.copy_(_ifgo_to_ijfo(w["input"]))
            cell.input_linear.bias.copy_(_ifgo_to_ijfo(w["bias"]))
            cell.state_linear.weight.copy_(_ifgo_to_ijfo(w["state"]))
            cell.state_projection.weight.copy_(w["projection"])
            # their forget bias is inside the bias already: no +1 at run time
            cell.forget_bias = 0.0
            cell._bias_offset.zero_()
    return bilm.eval()


def sents2elmo(elmo: Any, sents: list[list[str]], output_layer: int = -1) -> list[np.ndarray]:
    """Their ``Embedder.sents2elmo``: token lists -> one array per sentence, in input order:
    ``output_layer`` -1 the mean of the layers (n, D), -2 all layers (L, n, D), k layer k."""
    if not -2 <= output_layer < elmo.num_layers:
        raise InputError(f"output_layer {output_layer} is not -2, -1 or 0..{elmo.num_layers - 1}")
    out = []
    for layers in elmo.embed_batch(sents):  # (L, n, D) each
        if output_layer == -1:
            out.append(layers.mean(axis=0))
        elif output_layer == -2:
            out.append(layers)
        else:
            out.append(layers[output_layer])
    return out


# ---------------------------------------------------------------------------- conversion
def conversion_blockers(folder: ManyLangsFolder) -> tuple[list[str], list[str]]:
    """(what makes an options.json + weights.hdf5 copy impossible, what it would lose)."""
    c = folder.config
    blockers, lossy = [], []
    if c.word_dim > 0:
        n_words = len(folder.word2id or {})
        blockers.append(
            f"the word embedding (word_dim {c.word_dim}, {n_words} words of "
            "word.dic) feeds the token projection; the bilm-tf layout's token "
            "layer is the char CNN alone"
        )
    if c.char_dim <= 0:
        blockers.append("the model has no character encoder (char_dim 0)")
    if folder.char2id is not None:
        specials = {BOS, EOS, OOV, PAD, BOW, EOW}
        wide = sorted(
            s for s in folder.char2id if s not in specials and (len(s) != 1 or ord(s) >= 128)
        )
        if wide:
            shown = "".join(wide[:20]) + ("..." if len(wide) > 20 else "")
            lossy.append(
                f"{len(wide)} of {len(folder.char2id)} char.dic symbols are not ASCII "
                f"({shown}): bilm-tf reads UTF-8 bytes, so their embeddings cannot be "
                "kept (non-ASCII bytes embed as <oov>)"
            )
    return blockers, lossy


def convert(source: Path, out: Path, lossy: bool = False, **_: Any):
    """Write an ELMoForManyLangs folder as ``out``/options.json + weights.hdf5.

    Possible when the token layer is the char CNN alone (``word_dim`` 0): char.dic's ASCII
    symbols become byte ids (``<bos>``/``<eos>``/``<pad>`` the special ones, their swapped
    ``<bow>``/``<eow>`` put back), the highway gate is negated (bilm-tf gates the transform,
    they gate the carry), the LSTM gates reordered (i, f, g, o -> i, j, f, o) and 1.0 taken
    off the forget bias (bilm-tf adds it at run time). Raises :class:`ConfigError` naming what
    cannot be carried over otherwise; non-ASCII char.dic symbols need ``lossy=True``.
    """
    from elmokit.fileio import atomic_write
    from elmokit.interop.report import ConvertReport
    from elmokit.weights import save_weights

    folder = ManyLangsFolder.read(source)
    blockers, lost = conversion_blockers(folder)
    if blockers:
        raise ConfigError(
            f"{source}: cannot write this ELMoForManyLangs model as options.json "
            "+ weights.hdf5: " + "; ".join(blockers) + ". Load it natively instead: Elmo.load(dir)"
        )
    if lost and not lossy:
        raise ConfigError(
            f"{source}: converting would lose: "
            + "; ".join(lost)
            + ". Load it natively (Elmo.load(dir)), or pass --lossy"
        )
    c = folder.config
    config = ElmoConfig.create(list(c.filters), c.n_highway, c.char_dim, c.dim,
                               c.projection_dim, c.n_layers, c.cell_clip, c.proj_clip, True,
                               c.max_characters_per_token)  # fmt: skip
    if c.activation != "relu":
        options = config.to_options()
        options["char_cnn"]["activation"] = c.activation
        config = ElmoConfig.from_options(options)
    native = read_manylangs(source)
    bilm = BiLM(config)
    encoder: ManyLangsTokenEncoder = native.char_cnn
    c2i = folder.char2id or {}
    table = encoder.char_embedding_table.weight.detach()
    with torch.no_grad():
        rows = bilm.char_cnn.char_embedding.weight  # (262, e); row id = char + 1, row 0 zeros
        rows.zero_()
        for byte in range(256):
            symbol = chr(byte) if byte < 128 else None
            rows[byte + 1] = table[c2i.get(symbol, c2i[OOV])]
        for char, symbol in ((BOS_CHAR, BOS), (EOS_CHAR, EOS), (BOW_CHAR, EOW),
                             (EOW_CHAR, BOW), (PAD_CHAR, PAD)):  # fmt: skip
            rows[char + 1] = table[c2i[symbol]]
        for conv, theirs in zip(bilm.char_cnn.convs, encoder.convs, strict=True):
            conv.weight.copy_(theirs.weight)
            conv.bias.copy_(theirs.bias)
        F = encoder.n_filters
        for layer, theirs in zip(bilm.char_cnn.highway.layers, encoder.highways, strict=True):
            # ours: g = sigmoid(carry), y = g * relu(transform) + (1 - g) * x; theirs: the gate
            # multiplies x, so carry = -(their gate pre-activation)
            layer.weight.copy_(torch.cat([theirs.weight[:F], -theirs.weight[F:]]))
            layer.bias.copy_(torch.cat([theirs.bias[:F], -theirs.bias[F:]]))
        bilm.char_cnn.projection.load_state_dict(encoder.projection.state_dict())
        for mine, theirs in (
            (bilm.lstm.forward_layers, native.lstm.forward_layers),
            (bilm.lstm.backward_layers, native.lstm.backward_layers),
        ):
            for cell, native_cell in zip(mine, theirs, strict=True):
                cell.load_state_dict(native_cell.state_dict())
                cell.input_linear.bias -= cell._bias_offset  # bilm-tf adds it at run time
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "options.json") as tmp:
        tmp.write_text(json.dumps(config.to_options(), indent=2) + "\n", encoding="utf-8")
    save_weights(bilm, out / "weights.hdf5")
    notes = [
        "char.dic ASCII symbols -> byte ids; <bos>/<eos>/<pad> -> bilm-tf's specials; their "
        "batcher's swapped <eow>/<bow> ids -> begin/end of word",
        "highway gate negated (they gate the carry, bilm-tf the transform)",
        "LSTM gates reordered (i, f, g, o) -> (i, j, f, o), forget bias - 1.0",
        "tokens are cut at 48 UTF-8 bytes by elmokit / bilm-tf, at 48 characters by "
        "ELMoForManyLangs (the same for ASCII)",
    ]
    return ConvertReport(
        Path(source), out, "manylangs", [out / "options.json", out / "weights.hdf5"], lost, notes
    )
