"""Model resolution: directories, bundled names, downloads from a local HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from functools import partial

import numpy as np
import pytest

from elmokit import Elmo, ModelNotFoundError, hub

from .conftest import TINY_DIR, TINY_OPTIONS, TINY_WEIGHTS


@pytest.fixture
def http_root(tmp_path):
    """A real HTTP server on 127.0.0.1 serving tmp_path/www."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "options.json").write_bytes(TINY_OPTIONS.read_bytes())
    (root / "weights.hdf5").write_bytes(TINY_WEIGHTS.read_bytes())
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_checksum_and_cache(http_root, model_cache, monkeypatch):
    hub.register_model("remote-tiny", hub.RemoteModel(
        f"{http_root}/options.json", f"{http_root}/weights.hdf5",
        _sha(TINY_OPTIONS), _sha(TINY_WEIGHTS)))  # fmt: skip
    elmo = Elmo.load("remote-tiny")
    assert (model_cache / "remote-tiny" / "weights.hdf5").read_bytes() == TINY_WEIGHTS.read_bytes()
    reference = Elmo.load("allennlp-tiny")
    np.testing.assert_array_equal(elmo.embed_sentence(["hi"]), reference.embed_sentence(["hi"]))
    record = json.loads((model_cache / "remote-tiny" / "download.json").read_text())
    assert record["weights.hdf5"] == {"url": f"{http_root}/weights.hdf5",
                                      "sha256": _sha(TINY_WEIGHTS),
                                      "bytes": TINY_WEIGHTS.stat().st_size}  # fmt: skip
    # cached now: loads offline
    monkeypatch.setenv("ELMOKIT_OFFLINE", "1")
    assert Elmo.load("remote-tiny").dim == 32


def test_bad_checksum_leaves_nothing(http_root, model_cache):
    hub.register_model("bad-sum", hub.RemoteModel(
        f"{http_root}/options.json", f"{http_root}/weights.hdf5", None, "0" * 64))  # fmt: skip
    with pytest.raises(ModelNotFoundError, match="sha256 .* does not match"):
        Elmo.load("bad-sum")
    # the verified options file and its record stay; nothing of the weights
    assert sorted(p.name for p in (model_cache / "bad-sum").iterdir()) == [
        "download.json",
        "options.json",
    ]


def test_missing_url_and_offline(http_root, model_cache, monkeypatch):
    hub.register_model("gone", hub.RemoteModel(f"{http_root}/nope.json", f"{http_root}/x"))
    with pytest.raises(ModelNotFoundError, match=r"cannot download .*nope.json"):
        Elmo.load("gone")
    monkeypatch.setenv("ELMOKIT_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="not cached and ELMOKIT_OFFLINE=1"):
        Elmo.load("gone")
    assert not (model_cache / "gone").exists()  # no empty cache folder


def test_known_models_are_allennlp_urls():
    assert hub.KNOWN_MODELS["allennlp-original"].weights_url.endswith(
        "2x4096_512_2048cnn_2xhighway/elmo_2x4096_512_2048cnn_2xhighway_weights.hdf5"
    )


def test_directory_resolution(tmp_path):
    assert hub.resolve(TINY_DIR) == (TINY_OPTIONS, TINY_WEIGHTS)
    (tmp_path / "options.json").write_bytes(TINY_OPTIONS.read_bytes())
    with pytest.raises(ModelNotFoundError, match="no weights.hdf5"):
        hub.resolve(tmp_path)
    (tmp_path / "elmo_weights.hdf5").write_bytes(TINY_WEIGHTS.read_bytes())
    assert hub.resolve(tmp_path)[1].name == "elmo_weights.hdf5"
    with pytest.raises(ModelNotFoundError, match="no options.json"):
        hub.resolve(TINY_DIR.parent)  # the models folder itself


def test_bundled_and_default():
    assert "allennlp-tiny" in hub.bundled_models()
    assert hub.default_model() in hub.bundled_models()
    with pytest.raises(ModelNotFoundError, match="known: .*allennlp-tiny"):
        hub.resolve("definitely-not-a-model")
