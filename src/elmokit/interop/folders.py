"""Model folders as people have them: which files in a directory make a model, and of what kind.

>>> find_model_files(Path("elmo_original"))      # AllenNLP's download names work as they are
(PosixPath('elmo_original/elmo_2x4096_512_2048cnn_2xhighway_options.json'),
 PosixPath('elmo_original/elmo_2x4096_512_2048cnn_2xhighway_weights.hdf5'))
>>> detect_format(Path("zht.model"))             # an ELMoForManyLangs folder
'manylangs'

:func:`find_model_files` is what :func:`elmokit.hub.resolve` uses for a directory: first the
exact names ``options.json`` + ``weights.hdf5``; else exactly one ``*options.json`` and exactly
one ``*.hdf5`` (preferring ``*weights.hdf5``); else a one-line error that lists what the folder
holds and, for a folder of another format (ELMoForManyLangs, TF-Hub, a bilm-tf checkpoint),
says how to load or convert it.
"""

from __future__ import annotations

import os
from pathlib import Path

from elmokit.errors import ModelNotFoundError

OPTIONS_NAME = "options.json"
WEIGHTS_NAME = "weights.hdf5"
#: formats :func:`detect_format` knows, and what to do with each
FORMATS = {
    "allennlp": "options.json + weights.hdf5 (AllenNLP / bilm-tf): Elmo.load(dir)",
    "manylangs": "ELMoForManyLangs (config.json, char.dic, word.dic, token_embedder.pkl, "
    "encoder.pkl): Elmo.load(dir), or `elmokit convert DIR OUT`",
    "tfhub": "a TF-Hub ELMo module: `elmokit convert --from tfhub DIR OUT`",
    "bilm-tf": "a bilm-tf training checkpoint: `elmokit convert --from bilm-tf DIR OUT`",
}
MANYLANGS_FILES = ("config.json", "token_embedder.pkl", "encoder.pkl")


def detect_format(directory: str | os.PathLike) -> str | None:
    """The kind of model folder ``directory`` is (a key of :data:`FORMATS`), or None."""
    path = Path(directory)
    if not path.is_dir():
        return None
    if all((path / name).is_file() for name in MANYLANGS_FILES):
        return "manylangs"
    if (path / "saved_model.pb").is_file() or (path / "tfhub_module.pb").is_file():
        return "tfhub"
    if (path / "checkpoint").is_file() or any(path.glob("*.ckpt*")) or any(path.glob("*.index")):
        return "bilm-tf"
    if any(path.glob("*options.json")) and any(path.glob("*.hdf5")):
        return "allennlp"
    return None


def _listing(directory: Path, limit: int = 12) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in directory.iterdir())
    if not names:
        return "it is empty"
    more = f", ... ({len(names) - limit} more)" if len(names) > limit else ""
    return "it holds " + ", ".join(names[:limit]) + more


def find_model_files(directory: str | os.PathLike) -> tuple[Path, Path]:
    """A directory -> its (options.json, weights.hdf5) paths, under AllenNLP's names too.

    Raises :class:`ModelNotFoundError` naming what was found when the folder is ambiguous
    (two options files, two weight files) or of another format."""
    directory = Path(directory)
    options, weights = directory / OPTIONS_NAME, directory / WEIGHTS_NAME
    if options.is_file() and weights.is_file():
        return options, weights
    kind = detect_format(directory)
    if kind in ("manylangs", "tfhub", "bilm-tf"):
        raise ModelNotFoundError(
            f"{directory}: not an options.json + weights.hdf5 folder but {FORMATS[kind]}"
        )
    options_files = [options] if options.is_file() else sorted(directory.glob("*options.json"))
    if weights.is_file():
        weight_files = [weights]
    else:
        weight_files = sorted(directory.glob("*weights.hdf5")) or sorted(directory.glob("*.hdf5"))
    if len(options_files) == 1 and len(weight_files) == 1:
        return options_files[0], weight_files[0]
    problems = []
    for what, found in ((f"{OPTIONS_NAME} (nor a *options.json)", options_files),
                        (f"{WEIGHTS_NAME} (nor a *.hdf5)", weight_files)):  # fmt: skip
        if not found:
            problems.append(f"no {what}")
        elif len(found) > 1:
            problems.append(
                f"{len(found)} candidates for the {what.split()[0]}: "
                + ", ".join(p.name for p in found)
            )
    raise ModelNotFoundError(
        f"{directory}: cannot tell which files are the model ({'; '.join(problems)}); "
        f"{_listing(directory)}. Expected {OPTIONS_NAME} + {WEIGHTS_NAME}, or one "
        "*options.json + one *weights.hdf5"
    )


def read_other_format(name_or_dir: str | os.PathLike):
    """The :class:`~elmokit.modules.BiLM` of a folder of another format that loads natively
    (ELMoForManyLangs), else None (``Elmo.load`` goes on with :func:`elmokit.hub.resolve`)."""
    if detect_format(name_or_dir) != "manylangs":
        return None
    from elmokit.interop.manylangs import read_manylangs

    return read_manylangs(name_or_dir)
