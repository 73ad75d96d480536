"""schemathesis generates requests from the served OpenAPI schema against the app on a crawled demo site:
every operation with valid and invalid data (with the token, so writes are explored too), then chained
sequences that follow the schema's links (create a source, read, change, run and delete it, …). No answer
may be a 5xx, and every 4xx is the API's error body."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Flaky

from harvest.api.app import create_app
from harvest.settings import Settings
from tests.demo_corpus import demo_corpus

pytestmark = pytest.mark.slow
TOKEN = "fuzz-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EXAMPLES = 40
# starting crawls is covered by test_api; here it would only start many crawls of generated hosts
SKIPPED = ("/crawl",)


@pytest.fixture(scope="module")
def api_app(db_settings: Settings) -> Iterator[FastAPI]:
    with demo_corpus(db_settings, api_token=TOKEN, api_rate_limits={}) as (corpus, _site):
        yield create_app(corpus, load_model=False)


def check(response: Any, case: schemathesis.Case, failures: list[str]) -> None:
    """Problems are collected, not raised: the state machine replays nothing, the test reports them all."""
    request = f"{case.method} {case.formatted_path} {case.query} {case.body!r:.200}"
    if response.status_code >= 500:
        failures.append(f"{request} → {response.text[:200]}")
    elif response.status_code >= 400:
        body = response.json()
        if set(body) != {"error"} or "`harvest" in body["error"]["message"]:
            failures.append(f"{request} → not the API's error body: {response.text[:200]}")


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode))
def test_no_generated_request_gets_a_server_error(
    api_app: FastAPI, mode: schemathesis.GenerationMode
) -> None:
    # Operations are walked here rather than with `schema.parametrize()`: its lazy-fixture loader does
    # not work with pytest 9 (it sets a node attribute pytest removed).
    schema = schemathesis.openapi.from_asgi("/openapi.json", api_app)
    failures: list[str] = []
    tried = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.endswith(SKIPPED):
            continue

        @settings(
            max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def call(case: schemathesis.Case) -> None:
            nonlocal tried
            tried += 1
            check(case.call(headers=AUTH), case, failures)

        call()
    assert tried > 100
    assert not failures, "\n".join(failures[:10])


def test_linked_sequences_get_no_server_error(api_app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api_app).exclude(path_regex="/crawl$")
    failures: list[str] = []
    steps = 0

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": AUTH}

        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            nonlocal steps
            steps += 1
            check(response, case, failures)

    # The API keeps state between scenarios (a source made by one exists in the next), so Hypothesis may
    # see one prefix of choices draw differently (Flaky); schemathesis' own runner ignores that too.
    with contextlib.suppress(Flaky):
        Workflow.run(
            settings=settings(
                max_examples=25,
                stateful_step_count=6,
                phases=[Phase.generate],  # as schemathesis runs state machines: nothing to replay
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
        )
    assert schema.statistic.transitions.total > 10  # links between operations were found and followed
    assert steps >= 10
    assert not failures, "\n".join(failures[:10])
