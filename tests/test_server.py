"""In-process tests of ``elmokit serve``: every endpoint, every error, auth, 503, 504, npy."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from elmokit import Elmo  # noqa: E402
from elmokit.server import ServerSettings, create_app  # noqa: E402
from elmokit.server.formats import NPY_MEDIA_TYPE  # noqa: E402

D = 32
SMALL = ServerSettings(
    max_texts=4, max_tokens_per_text=10, max_tokens_per_request=20, max_body_bytes=2000
)


@pytest.fixture(scope="module")
def client(tiny_elmo: Elmo) -> Iterator[TestClient]:
    with TestClient(create_app(SMALL, elmo=tiny_elmo)) as c:
        yield c


@pytest.fixture(scope="module")
def roomy(tiny_elmo: Elmo) -> Iterator[TestClient]:
    """The default limits (1 MiB bodies)."""
    with TestClient(create_app(ServerSettings(), elmo=tiny_elmo)) as c:
        yield c


def embed(client: TestClient, body: object, **kwargs):
    return client.post("/v1/embed", json=body, **kwargs)


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code
    return error


# ---------------------------------------------------------------------- ops endpoints
def test_healthz_readyz(client: TestClient, tiny_elmo: Elmo) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["dim"] == D and ready.json()["num_layers"] == 3
    # the model was loaded from .../allennlp-tiny/weights.hdf5: only its name is shown
    assert "/" in str(tiny_elmo.name) and ready.json()["model"] == "allennlp-tiny"
    answer = embed(client, {"texts": ["a"]})
    assert answer.json()["model"] == "allennlp-tiny"
    npy = embed(client, {"texts": ["a"]}, headers={"Accept": NPY_MEDIA_TYPE})
    assert npy.headers["x-elmo-model"] == "allennlp-tiny"


def test_readyz_before_startup(tiny_elmo: Elmo) -> None:
    c = TestClient(create_app(SMALL, elmo=tiny_elmo))  # no `with`: lifespan never ran
    response = c.get("/readyz")
    assert_error(response, 503, "unavailable")
    assert response.headers["retry-after"] == "1"
    assert_error(embed(c, {"texts": ["a"]}), 503, "unavailable")


def test_metrics(client: TestClient) -> None:
    assert embed(client, {"texts": ["The cell divides ."]}).status_code == 200
    client.get("/nope/123")
    text = client.get("/metrics").text
    for name in (
        "elmokit_http_requests_total", "elmokit_http_request_duration_seconds_bucket",
        "elmokit_tokens_per_second", "elmokit_batch_sentences_bucket", "elmokit_queue_depth",
        "elmokit_embedded_tokens_total",
    ):  # fmt: skip
        assert name in text
    assert 'path="/v1/embed",status="200"' in text
    assert 'path="other",status="404"' in text  # unknown paths do not create new labels
    assert "/nope/123" not in text


def test_openapi_and_docs(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/embed"]["post"]["requestBody"]["content"]["application/json"]
    assert set(body["schema"]["properties"]) == {"texts", "tokenize", "tokens", "output", "weights"}
    assert not any(path.startswith(("/docs", "/redoc", "/openapi")) for path in spec["paths"])


@pytest.mark.parametrize(
    ("page", "asset"), [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")]
)
def test_docs_pages_need_no_cdn(client: TestClient, page: str, asset: str) -> None:
    html = client.get(page)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert f"/docs/assets/{asset}" in html.text
    assert "cdn" not in html.text.lower() and "fonts.googleapis" not in html.text
    script = client.get(f"/docs/assets/{asset}")
    assert script.status_code == 200 and len(script.content) > 100_000
    assert client.get("/docs/assets/swagger-ui.css").status_code == 200
    for name in ("nope.js", "..%2Fcore.py", "%2E%2E%2F__init__.py"):
        assert_error(client.get(f"/docs/assets/{name}"), 404)


def test_without_the_docs_files_there_are_no_docs_pages(
    tiny_elmo: Elmo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No fastapi-offline: /docs is absent (404), never a page that needs a CDN."""
    monkeypatch.setattr("elmokit.server.app.docs_assets", lambda: None)
    with TestClient(create_app(ServerSettings(), elmo=tiny_elmo)) as c:
        for path in ("/docs", "/redoc", "/docs/assets/swagger-ui.css"):
            assert_error(c.get(path), 404, "not_found")
        assert c.get("/openapi.json").status_code == 200


# ---------------------------------------------------------------------- embedding
SENTENCES = [["The", "cell", "divides", "."], ["Mice", "run"]]


def test_outputs_shapes_and_values(client: TestClient, tiny_elmo: Elmo) -> None:
    expected = tiny_elmo.embed_batch(SENTENCES)
    for output, shape in {
        "all": lambda n: (3, n, D), "top": lambda n: (n, D), "average": lambda n: (n, D),
        "mix": lambda n: (n, D), "sentence": lambda n: (D,),
    }.items():  # fmt: skip
        r = embed(client, {"tokens": SENTENCES, "output": output})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["tokens"] == SENTENCES and body["num_tokens"] == 6 and body["dim"] == D
        for got, layers in zip(body["embeddings"], expected, strict=True):
            got = np.asarray(got, dtype=np.float32)
            assert got.shape == shape(layers.shape[1])
            want = {
                "all": layers, "top": layers[-1], "average": layers.mean(0),
                "mix": layers.mean(0), "sentence": layers.mean(0).mean(0),
            }[output]  # fmt: skip
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_mix_weights_are_applied_as_given(client: TestClient, tiny_elmo: Elmo) -> None:
    """Plain mixing weights, as everywhere in elmokit (no softmax, no normalisation)."""
    layers = tiny_elmo.embed_sentence(SENTENCES[0])
    for weights in ([0.2, 0.3, 0.5], [1, 0, 0], [2, 0, -1]):
        r = embed(client, {"tokens": [SENTENCES[0]], "output": "mix", "weights": weights})
        want = np.tensordot(np.asarray(weights, np.float32), layers, axes=1)
        np.testing.assert_allclose(r.json()["embeddings"][0], want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        r.json()["embeddings"][0], 2 * layers[0] - layers[2], rtol=1e-5, atol=1e-6
    )
    same = tiny_elmo.sentence_vectors([SENTENCES[0]], layer=[0.2, 0.3, 0.5], pooling="first")
    r = embed(client, {"tokens": [SENTENCES[0]], "output": "mix", "weights": [0.2, 0.3, 0.5]})
    np.testing.assert_allclose(r.json()["embeddings"][0][0], same[0], rtol=1e-5, atol=1e-6)


def test_texts_are_tokenized(client: TestClient, tiny_elmo: Elmo) -> None:
    assert embed(client, {"texts": ["Don't panic!"]}).json()["tokens"] == [["Don't", "panic!"]]
    r = embed(client, {"texts": ["Don't panic!"], "output": "top", "tokenize": "elmokit"})
    assert r.json()["tokens"] == [["Do", "n't", "panic", "!"]]
    want = tiny_elmo.embed_sentence(["Do", "n't", "panic", "!"])[-1]
    np.testing.assert_allclose(r.json()["embeddings"][0], want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("output", ["all", "average", "sentence"])
def test_npy_response(client: TestClient, output: str) -> None:
    r = embed(client, {"tokens": SENTENCES, "output": output}, headers={"Accept": NPY_MEDIA_TYPE})
    assert r.status_code == 200
    assert r.headers["content-type"] == NPY_MEDIA_TYPE
    assert r.headers["x-elmo-lengths"] == "4,2"
    array = np.load(io.BytesIO(r.content), allow_pickle=False)
    assert array.dtype == np.float32
    as_json = embed(client, {"tokens": SENTENCES, "output": output}).json()["embeddings"]
    if output == "sentence":
        assert array.shape == (2, D)
        np.testing.assert_allclose(array, np.asarray(as_json), rtol=1e-6)
    else:
        axis = 1 if output == "all" else 0
        assert array.shape[axis] == 6
        parts = np.split(array, [4], axis=axis)
        for part, want in zip(parts, as_json, strict=True):
            np.testing.assert_allclose(part, np.asarray(want), rtol=1e-6)


# ---------------------------------------------------------------------- bad input
def post_raw(client: TestClient, content: bytes, content_type: str = "application/json"):
    return client.post("/v1/embed", content=content, headers={"Content-Type": content_type})


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b'{"texts": ["a"', "malformed_json"),
        (b"{'texts': ['a']}", "malformed_json"),
        (b"", "bad_request"),
        (b'{"texts": ["caf\xe9"]}', "invalid_encoding"),
        (b"\xff\xfe\x00\x00", "invalid_encoding"),
    ],
)
def test_malformed_bodies_are_400(client: TestClient, content: bytes, code: str) -> None:
    assert_error(post_raw(client, content), 400, code)


def test_deeply_nested_json_is_400(tiny_elmo: Elmo) -> None:
    with TestClient(create_app(ServerSettings(), elmo=tiny_elmo)) as c:
        assert_error(post_raw(c, b"[" * 100_000 + b"]" * 100_000), 400, "malformed_json")


@pytest.mark.parametrize(
    "body",
    [
        [1, 2],
        "texts",
        {"texts": "one string"},
        {"texts": [1, 2]},
        {"texts": [["a"]]},
        {"texts": None},
        {"tokens": ["a", "b"]},
        {"tokens": [[]]},
        {"tokens": [["a", ""]]},
        {"tokens": [["a b"]]},
        {"texts": ["a"], "tokens": [["a"]]},
        {},
        {"texts": []},
        {"texts": ["a"], "output": "bottom"},
        {"texts": ["a"], "unknown": 1},
        {"texts": ["a"], "weights": [1, 2, 3]},
        {"texts": ["a"], "output": "mix", "weights": [1, 2]},
        {"texts": ["a"], "output": "mix", "weights": ["x", 1, 2]},
        {"texts": ["a"], "output": "mix", "weights": ["1", "2", "3"]},  # strict: no coercion
        {"texts": ["a"], "output": "mix", "weights": [True, 0, 0]},
        {"texts": ["a"], "output": "mix", "weights": [1e300, 0, 0]},  # beyond float32
        {"texts": ["a"], "output": "mix", "weights": [1e38, 1e38, 1e38]},  # the sum overflows
        {"texts": [1]},
        {"texts": [b"a".decode(), 2.5]},
        {"tokens": [[1, 2]]},
        {"texts": ["a"], "output": 1},
        {"texts": ["bell \u0007"]},
        {"texts": ["nul \u0000 byte"]},
        {"tokens": [["esc\u001b"]]},
    ],
)
def test_wrong_types_and_values_are_422(client: TestClient, body: object) -> None:
    assert_error(embed(client, body), 422)


@pytest.mark.parametrize(
    "content",
    [
        b'{"texts": ["a"], "output": "mix", "weights": [NaN, 0, 0]}',
        b'{"texts": ["a"], "output": "mix", "weights": [Infinity, 0, 0]}',
        b'{"texts": ["\\ud800 lone surrogate"]}',
        b'{"tokens": [["\\u0000"]]}',
    ],
)
def test_escaped_bad_values_are_422(client: TestClient, content: bytes) -> None:
    assert_error(post_raw(client, content), 422)


@pytest.mark.parametrize("number", ["1" * 5001, "-" + "9" * 4000, "1" * 101])
def test_numbers_too_long_are_400(roomy: TestClient, number: str) -> None:
    """Python refuses ints of over 4,300 digits (a ValueError, once a 500); the server takes
    at most 100 digits."""
    body = f'{{"texts": ["a"], "output": "mix", "weights": [{number}, 0, 0]}}'.encode()
    error = assert_error(post_raw(roomy, body), 400, "malformed_json")
    assert "digits" in error["message"]
    assert embed(roomy, {"texts": ["a"]}).status_code == 200


def test_a_100_digit_weight_is_422_not_400(roomy: TestClient) -> None:
    body = b'{"texts": ["a"], "output": "mix", "weights": [' + b"1" * 100 + b", 0, 0]}"
    assert_error(post_raw(roomy, body), 422, "invalid_request")


def test_tabs_and_newlines_are_fine(client: TestClient) -> None:
    assert embed(client, {"texts": ["two\tlines\nhere\r\n"]}).status_code == 200


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_is_422(client: TestClient, text: str) -> None:
    assert_error(embed(client, {"texts": ["fine", text]}), 422, "empty_text")


def test_limits(client: TestClient) -> None:
    assert_error(embed(client, {"texts": ["a"] * 5}), 422, "too_many_texts")
    assert embed(client, {"texts": ["a"] * 4}).status_code == 200
    assert_error(embed(client, {"tokens": [["a"] * 11]}), 422, "too_many_tokens")
    assert embed(client, {"tokens": [["a"] * 10]}).status_code == 200
    assert_error(embed(client, {"tokens": [["a"] * 10] * 3}), 422, "too_many_tokens")


def test_json_answer_size_limit(tiny_elmo: Elmo) -> None:
    settings = ServerSettings(max_json_floats=3 * 4 * D)  # "all" for 4 tokens fits exactly
    with TestClient(create_app(settings, elmo=tiny_elmo)) as c:
        four, five = {"tokens": [["a"] * 4], "output": "all"}, {"tokens": [["a"] * 5]}
        assert embed(c, four).status_code == 200
        assert embed(c, {**five, "output": "top"}).status_code == 200
        assert_error(embed(c, {**five, "output": "all"}), 422, "response_too_large")
        npy = embed(c, {**five, "output": "all"}, headers={"Accept": NPY_MEDIA_TYPE})
        assert npy.status_code == 200


def test_body_too_large_is_413(client: TestClient) -> None:
    big = json.dumps({"texts": ["word " * 500]}).encode()
    assert_error(post_raw(client, big), 413, "payload_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        yield b'{"texts": ["'
        for _ in range(30):
            yield b"word " * 20
        yield b'"]}'

    r = client.post("/v1/embed", content=chunks(), headers={"Content-Type": "application/json"})
    assert_error(r, 413, "payload_too_large")


def test_wrong_content_type_is_415(client: TestClient) -> None:
    assert_error(post_raw(client, b"texts=a", "application/x-www-form-urlencoded"), 415)


def test_unknown_route_and_method(client: TestClient) -> None:
    assert_error(client.get("/v2/nothing"), 404, "not_found")
    assert_error(client.get("/v1/embed"), 405, "method_not_allowed")


# ---------------------------------------------------------------------- auth
def test_api_key(tiny_elmo: Elmo, tmp_path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("s3cret-key\n")
    app = create_app(ServerSettings(api_key_file=str(key_file)), elmo=tiny_elmo)
    with TestClient(app) as c:
        body = {"texts": ["a"]}
        error = assert_error(c.post("/v1/embed", json=body), 401, "unauthorized")
        assert "Bearer" in error["message"]
        assert c.post("/v1/embed", json=body).headers["www-authenticate"] == "Bearer"
        for header in ("Bearer wrong", "Bearer s3cret-key2", "Basic s3cret-key", "s3cret-key"):
            assert_error(c.post("/v1/embed", json=body, headers={"Authorization": header}), 401)
        good = {"Authorization": "Bearer s3cret-key"}
        for path in ("/metrics", "/openapi.json", "/docs", "/redoc", "/docs/assets/favicon.png"):
            assert_error(c.get(path), 401)
            assert_error(c.get(path, headers={"Authorization": "Bearer wrong"}), 401)
            assert c.get(path, headers=good).status_code == 200, path
        assert c.post("/v1/embed", json=body, headers=good).status_code == 200
        assert c.get("/healthz").status_code == 200
        # probes need no key, but only the key shows what runs
        assert c.get("/readyz").json() == {"status": "ready"}
        assert c.get("/readyz", headers={"Authorization": "Bearer no"}).json() == {
            "status": "ready"
        }
        details = c.get("/readyz", headers=good).json()
        assert details["model"] == "allennlp-tiny" and details["dim"] == D


# ---------------------------------------------------------------------- overload, timeout
class GatedModel:
    """A stand-in model whose forward pass waits for ``gate`` (to hold the batcher busy)."""

    name, dim, num_layers = "gated", 4, 3

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()  # open during the warm-up
        self.batches: list[int] = []
        self.budgets: list[int | None] = []

    def embed_batch(self, sentences, max_padded_tokens=None):
        self.batches.append(len(sentences))
        self.budgets.append(max_padded_tokens)
        self.gate.wait(10)
        return [np.zeros((3, len(s), 4), np.float32) for s in sentences]


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_full_queue_is_503_with_retry_after() -> None:
    model = GatedModel()
    settings = ServerSettings(max_queue=1, max_batch_requests=1, retry_after_s=2)
    with TestClient(create_app(settings, elmo=model)) as c:
        model.gate.clear()
        results: list[int] = []
        send = lambda: results.append(embed(c, {"texts": ["a"]}).status_code)  # noqa: E731
        threads = [threading.Thread(target=send) for _ in range(2)]
        threads[0].start()
        wait_for(lambda: len(model.batches) == 2)  # warm-up + the first request, now running
        threads[1].start()
        wait_for(lambda: c.get("/readyz").json()["queue_depth"] == 1)
        refused = embed(c, {"texts": ["a"]})
        assert_error(refused, 503, "overloaded")
        assert refused.headers["retry-after"] == "2"
        assert 'reason="queue_full"' in c.get("/metrics").text
        model.gate.set()
        for t in threads:
            t.join(10)
        assert results == [200, 200]


def test_timeout_is_504() -> None:
    model = GatedModel()
    with TestClient(create_app(ServerSettings(request_timeout_s=0.2), elmo=model)) as c:
        model.gate.clear()
        assert_error(embed(c, {"texts": ["a"]}), 504, "timeout")
        model.gate.set()
        assert embed(c, {"texts": ["a"]}).status_code == 200


def test_model_failure_is_clean_500() -> None:
    class Broken(GatedModel):
        def embed_batch(self, sentences, max_padded_tokens=None):
            if sentences == [["boom"]]:
                raise RuntimeError("kaput")
            return super().embed_batch(sentences, max_padded_tokens)

    with TestClient(
        create_app(ServerSettings(), elmo=Broken()), raise_server_exceptions=False
    ) as c:
        assert_error(embed(c, {"texts": ["boom"]}), 500, "internal_error")
        assert embed(c, {"texts": ["fine"]}).status_code == 200  # the worker survived


def test_the_padded_budget_reaches_the_model() -> None:
    model = GatedModel()
    with TestClient(create_app(ServerSettings(max_padded_tokens=123), elmo=model)) as c:
        assert embed(c, {"texts": ["a b", "c"]}).status_code == 200
    assert model.budgets == [None, 123]  # the warm-up, then the request's batch


def test_a_long_sentence_among_short_ones_with_a_small_padded_budget(tiny_elmo: Elmo) -> None:
    """Passes of at most 8 padded positions: the long sentence runs alone, the short ones
    together; every answer equals the sentence embedded on its own."""
    tokens = [["a"], ["b", "c"], ["w"] * 9, ["d"], ["e", "f", "g"]]
    with TestClient(create_app(ServerSettings(max_padded_tokens=8), elmo=tiny_elmo)) as c:
        r = embed(c, {"tokens": tokens, "output": "all"})
    assert r.status_code == 200
    for got, sentence in zip(r.json()["embeddings"], tokens, strict=True):
        want = tiny_elmo.embed_sentence(sentence)
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)


def test_lifespan_loads_the_named_model() -> None:
    with TestClient(create_app(ServerSettings(model="allennlp-tiny"))) as c:
        ready = c.get("/readyz").json()
        assert ready["model"] == "allennlp-tiny" and ready["dim"] == D
        assert embed(c, {"texts": ["It works ."]}).status_code == 200
