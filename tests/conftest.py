"""Shared fixtures: the AllenNLP tiny model (bundled) and small random configs."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from elmokit import Elmo, ElmoConfig
from elmokit.hub import BUNDLED_DIR

FIXTURES = Path(__file__).parent / "fixtures"
ALLENNLP = FIXTURES / "allennlp"
TINY_DIR = BUNDLED_DIR / "allennlp-tiny"
TINY_OPTIONS = TINY_DIR / "options.json"
TINY_WEIGHTS = TINY_DIR / "weights.hdf5"


def default_sigint() -> None:
    """``preexec_fn`` for a child that a test stops with SIGINT: SIGINT at its default. A shell
    that starts pytest in the background without job control makes the whole process tree
    ignore SIGINT, as nohup'd jobs do."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="session")
def tiny_elmo() -> Elmo:
    """The AllenNLP fixture model (D = 32), stateless."""
    return Elmo.from_hdf5(TINY_OPTIONS, TINY_WEIGHTS)


@pytest.fixture
def small_config() -> ElmoConfig:
    """A random config with every feature on (2 highway, skip, clipping), milliseconds to run."""
    return ElmoConfig.create(
        filters=[(1, 8), (2, 8), (3, 16)], n_highway=2, embedding_dim=8, lstm_dim=32,
        projection_dim=12,
    )  # fmt: skip


@pytest.fixture
def model_cache(tmp_path, monkeypatch):
    """An empty model cache (``ELMOKIT_CACHE``), downloads allowed, and the known-model table
    restored afterwards (tests register local-server models in it)."""
    from elmokit import hub

    monkeypatch.setenv("ELMOKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ELMOKIT_OFFLINE", raising=False)
    saved = dict(hub.KNOWN_MODELS)
    yield tmp_path / "cache"
    hub.KNOWN_MODELS.clear()
    hub.KNOWN_MODELS.update(saved)
