"""Schemathesis against the app's own OpenAPI spec: bounded examples, never a 5xx."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from elmokit.server import ServerSettings, create_app  # noqa: E402
from tests.conftest import TINY_OPTIONS, TINY_WEIGHTS  # noqa: E402

from elmokit import Elmo  # noqa: E402  # isort: skip

APP = create_app(
    ServerSettings(max_texts=8, max_tokens_per_text=64, max_tokens_per_request=256),
    elmo=Elmo.from_hdf5(TINY_OPTIONS, TINY_WEIGHTS),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(
    max_examples=40, deadline=None, derandomize=True,
    suppress_health_check=list(HealthCheck),
)  # fmt: skip
def test_no_server_errors(case) -> None:
    response = case.call()
    assert response.status_code < 500, (case.body, response.status_code, response.text)
    case.validate_response(response, checks=[not_a_server_error])


def test_the_run_reached_the_model() -> None:
    """The generated cases were not all refused: some were embedded, some were 4xx."""
    text = APP.state.metrics.render()[0].decode()
    assert 'path="/v1/embed",status="200"' in text
    assert 'path="/v1/embed",status="422"' in text
