"""Schemathesis against the app's own OpenAPI spec: bounded examples, never a 5xx."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from elmokit.server import ServerSettings, create_app  # noqa: E402
from tests.conftest import TINY_OPTIONS, TINY_WEIGHTS  # noqa: E402

from elmokit import Elmo  # noqa: E402  # isort: skip

LIMITS = ServerSettings(max_texts=8, max_tokens_per_text=64, max_tokens_per_request=256)
EXAMPLES = settings(
    max_examples=40, deadline=None, derandomize=True,
    suppress_health_check=list(HealthCheck),
)  # fmt: skip


def new_schema():
    """A new app (its own model, metrics and batcher) and its OpenAPI schema."""
    app = create_app(LIMITS, elmo=Elmo.from_hdf5(TINY_OPTIONS, TINY_WEIGHTS))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


# Module level, as @schema.parametrize needs it at collection (schemathesis' lazy fixture
# loader does not run on pytest 9); only test_no_server_errors uses it.
schema = new_schema()


@schema.parametrize()
@EXAMPLES
def test_no_server_errors(case) -> None:
    response = case.call()
    assert response.status_code < 500, (case.body, response.status_code, response.text)
    case.validate_response(response, checks=[not_a_server_error])


def test_generated_cases_reach_the_model() -> None:
    """The generated embed requests are not all refused: some are embedded, some are 4xx."""
    statuses: list[int] = []

    @given(case=new_schema()["/v1/embed"]["POST"].as_strategy())
    @EXAMPLES
    def call(case) -> None:
        statuses.append(case.call().status_code)

    call()
    assert 200 in statuses and 422 in statuses, statuses
    assert max(statuses) < 500
