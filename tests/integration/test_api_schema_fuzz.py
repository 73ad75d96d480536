"""schemathesis generates requests from the served OpenAPI schema (valid and invalid ones, with the token
so writes are explored too) against the app on a crawled demo site: no answer may be a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from harvest.api.app import create_app
from harvest.settings import Settings
from tests.demo_corpus import demo_corpus

pytestmark = pytest.mark.slow
TOKEN = "fuzz-token"
EXAMPLES = 40


@pytest.fixture(scope="module")
def api_app(db_settings: Settings) -> Iterator[FastAPI]:
    with demo_corpus(db_settings, api_token=TOKEN) as (corpus, _site):
        yield create_app(corpus)


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
        if operation.path.endswith("/crawl"):
            continue  # starting crawls is covered by test_api; here it would only start many crawls

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def call(case: schemathesis.Case) -> None:
            nonlocal tried
            tried += 1
            response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query} → {response.text[:200]}")
            elif response.status_code >= 400:
                assert "error" in response.json(), response.text

        call()
    assert tried > 100
    assert not failures, "\n".join(failures[:10])
