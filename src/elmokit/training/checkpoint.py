"""Checkpoints (plain dicts of tensors and Python values, ``torch.load(weights_only=True)``),
exported models, and loading a model to start from (ours or an AllenNLP/bilm-tf model).
"""

from __future__ import annotations

from pathlib import Path

import torch

from elmokit.config import ElmoConfig
from elmokit.errors import InputError, WeightFileError
from elmokit.fileio import atomic_write, write_text_atomic
from elmokit.training.model import LanguageModel
from elmokit.training.vocab import Vocabulary

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT = "elmokit-train-1"


def atomic_save(obj: dict, path: str | Path) -> None:
    """``torch.save(obj)`` to ``path`` atomically (:func:`elmokit.fileio.atomic_write`)."""
    with atomic_write(path) as tmp:
        torch.save(obj, tmp)


def checkpoint_path(path: str | Path) -> Path:
    """A checkpoint file, or a training directory holding ``checkpoint.pt``."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise InputError(f"{path}: checkpoint not found")
    return path


def load_checkpoint(path: str | Path) -> dict:
    path = checkpoint_path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a damaged file
        raise WeightFileError(f"{path}: not a readable checkpoint ({exc})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise WeightFileError(f"{path}: not an elmokit training checkpoint")
    return ckpt


def model_from_checkpoint(ckpt: dict, **kwargs) -> tuple[LanguageModel, Vocabulary]:
    config = ElmoConfig.from_options(ckpt["options"], where="checkpoint options")
    vocab = Vocabulary(ckpt["vocab"], where="checkpoint vocabulary")
    lm = LanguageModel(config, len(vocab), **kwargs)
    lm.load_state_dict(ckpt["model"])
    return lm, vocab


def average_checkpoints(paths: list[str | Path]) -> dict:
    """The element-wise mean of the weights of several checkpoints or snapshots of one run
    (checkpoint averaging: the late snapshots of a constant-learning-rate run, averaged, sit
    nearer the minimum than any one of them). Returns a weights-only checkpoint (the snapshot
    layout: loadable by :func:`load_checkpoint`, ``export``, ``perplexity``) whose step, tokens
    and elapsed time are the newest input's, with ``averaged``: each input's name, step and
    tokens. Every input must have the same options, vocabulary and weight shapes (an
    InputError names the file that differs)."""
    if not paths:
        raise InputError("average_checkpoints: no checkpoints given")
    inputs: list[tuple[Path, dict]] = []  # (file, everything but the weights)
    total: dict[str, torch.Tensor] = {}
    dtypes: dict[str, torch.dtype] = {}
    for path in paths:  # one at a time: a full checkpoint also holds the optimizer state
        path = checkpoint_path(path)
        ckpt = load_checkpoint(path)
        if inputs:  # the first file is the reference: a later file that differs is named
            first_path, first = inputs[0]
            for key, what in (("options", "options"), ("vocab", "vocabulary")):
                if ckpt[key] != first[key]:
                    raise InputError(f"{path}: its {what} differs from {first_path}'s (average "
                                     "only checkpoints of one run)")  # fmt: skip
            if set(ckpt["model"]) != set(total):
                raise InputError(f"{path}: its weights are not those of {first_path}")
        for key, tensor in ckpt["model"].items():
            if key in total and tensor.shape != total[key].shape:
                raise InputError(f"{path}: key {key} has shape {tuple(tensor.shape)}, "
                                 f"{inputs[0][0]} has {tuple(total[key].shape)}")  # fmt: skip
            total[key] = total[key] + tensor.double() if key in total else tensor.double()
            dtypes[key] = tensor.dtype
        inputs.append((path, {key: ckpt[key] for key in
                              ("options", "vocab", "step", "tokens", "elapsed")}))  # fmt: skip
        del ckpt
    inputs.sort(key=lambda item: item[1]["tokens"])
    newest = inputs[-1][1]
    model = {key: (value / len(inputs)).to(dtypes[key]) for key, value in total.items()}
    return {"format": FORMAT, "options": newest["options"], "vocab": newest["vocab"],
            "model": model, "step": newest["step"], "tokens": newest["tokens"],
            "elapsed": newest["elapsed"],
            "averaged": [{"name": path.name, "step": ckpt["step"], "tokens": ckpt["tokens"]}
                         for path, ckpt in inputs]}  # fmt: skip


def averaged_tokens(ckpt: dict) -> str:
    """``"70,000,640, 75,002,880, 80,000,000"``: the token counts of the checkpoints an
    :func:`average_checkpoints` result is the mean of ("" for any other checkpoint)."""
    return ", ".join(f"{item['tokens']:,}" for item in ckpt.get("averaged", []))


# ---------------------------------------------------------------------- exported model dirs
def save_softmax(lm: LanguageModel, path: Path, dtype: str = "float32") -> None:
    import h5py

    options = {"compression": "gzip", "compression_opts": 9} if dtype != "float32" else {}
    with atomic_write(path) as tmp, h5py.File(tmp, "w") as out:
        for key, param in (("softmax/W", lm.softmax_w), ("softmax/b", lm.softmax_b)):
            array = param.detach().float().cpu().numpy().astype(dtype)
            out.create_dataset(key, data=array, **options)


def load_softmax(lm: LanguageModel, path: Path) -> None:
    import h5py

    with h5py.File(path, "r") as handle:
        for key, param in (("softmax/W", lm.softmax_w), ("softmax/b", lm.softmax_b)):
            if key not in handle:
                raise WeightFileError(f"{path}: missing key {key}")
            array = torch.from_numpy(handle[key][...]).float()
            if array.shape != param.shape:
                raise WeightFileError(
                    f"{path}: key {key} has shape {tuple(array.shape)}, "
                    f"expected {tuple(param.shape)}"
                )
            param.data.copy_(array)


def load_pretrained(
    source: str | Path, vocab: Vocabulary | None = None, **kwargs
) -> tuple[LanguageModel, Vocabulary | None, str]:
    """A model to start from: a training checkpoint / directory, or a model directory with
    ``options.json`` + ``weights.hdf5`` (ours, or AllenNLP's) and optionally its ``vocab.txt`` +
    ``softmax.hdf5``. The softmax is kept when the model's vocabulary equals ``vocab`` and
    re-initialised otherwise. Returns (model, the model's own vocabulary or None, a note)."""
    from elmokit.weights import load_weights

    source = Path(source)
    if not source.exists():  # a bundled (or known, downloaded) model's name, e.g. en-small
        from elmokit import hub

        options_path, _ = hub.resolve(str(source))
        source = options_path.parent
    if source.suffix in (".hdf5", ".h5") and source.is_file():  # a weight file: its directory
        source = source.parent
    if source.is_file() or (source / CHECKPOINT_NAME).is_file():
        ckpt = load_checkpoint(source)
        lm, own_vocab = model_from_checkpoint(ckpt, **kwargs)
        softmax_ok = True
    else:
        options, weights = source / "options.json", source / "weights.hdf5"
        if not options.is_file() or not weights.is_file():
            raise InputError(
                f"{source}: --init-from needs a checkpoint or a directory with options.json "
                "and weights.hdf5"
            )
        config = ElmoConfig.from_file(options)
        own_vocab = (
            Vocabulary.load(source / "vocab.txt") if (source / "vocab.txt").is_file() else None
        )
        lm = LanguageModel(config, len(own_vocab) if own_vocab else len(vocab or [0]), **kwargs)
        lm.init_weights()  # the softmax, unless loaded below
        load_weights(lm.bilm, weights)
        softmax_ok = own_vocab is not None and (source / "softmax.hdf5").is_file()
        if softmax_ok:
            load_softmax(lm, source / "softmax.hdf5")
    if vocab is not None and (not softmax_ok or own_vocab != vocab):
        lm.reset_softmax(len(vocab))
        return lm, own_vocab, "softmax re-initialised (vocabulary differs or none was saved)"
    return lm, own_vocab, "softmax kept"


def export_model(lm: LanguageModel, vocab: Vocabulary, out_dir: str | Path,
                 card: dict | None = None, dtype: str = "float32") -> Path:  # fmt: skip
    """Write ``options.json`` + ``weights.hdf5`` (bilm-tf layout, loadable by ``Elmo.load``,
    AllenNLP and bilm-tf), ``vocab.txt``, ``softmax.hdf5`` and a model card ``README.md``."""
    from elmokit.weights import save_weights

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    options = lm.config.to_options()
    options["n_tokens_vocab"] = len(vocab)
    ElmoConfig.from_options(options).save(out / "options.json")
    save_weights(lm.bilm, out / "weights.hdf5", dtype=dtype)
    vocab.save(out / "vocab.txt")
    save_softmax(lm, out / "softmax.hdf5", dtype=dtype)
    card = card or {}
    lines = [
        "# ELMo model (elmokit)",
        "",
        'Trained with `elmokit train`. Load with `elmokit.Elmo.load("<this directory>")`;',
        "`options.json` + `weights.hdf5` are in the AllenNLP / bilm-tf layout.",
        "",
        f"- parameters (biLM, without softmax): {sum(p.numel() for p in lm.bilm.parameters()):,}",
        f"- vocabulary: {len(vocab):,} words (`vocab.txt`; softmax in `softmax.hdf5`)",
        f"- LSTM: {lm.config.lstm.n_layers} layers x {lm.config.lstm.dim} cells, "
        f"projection {lm.config.lstm.projection_dim}; char filters {lm.config.char_cnn.n_filters}",
    ]
    for key, value in card.items():
        lines.append(f"- {key}: {value}")
    lines += ["", "## Intended use, data, limitations", "", "TODO: describe the training corpus,",
              "evaluation results and known limitations.", ""]  # fmt: skip
    write_text_atomic(out / "README.md", "\n".join(lines))
    return out
