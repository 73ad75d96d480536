"""The OpenAPI schema is the UI's contract (its client is generated from it): every JSON answer of the API
is a named, typed schema, never an untyped object the UI would have to describe by hand."""

from __future__ import annotations

from harvest.api.openapi import schema


def test_every_json_answer_has_a_named_typed_schema() -> None:
    api = schema()
    components = api["components"]["schemas"]
    untyped = []
    for path, operations in api["paths"].items():
        for method, operation in operations.items():
            for code, response in operation.get("responses", {}).items():
                body = response.get("content", {}).get("application/json", {}).get("schema")
                if not code.startswith("2") or body is None:
                    continue
                named = components.get(body.get("$ref", "").rsplit("/", 1)[-1], {})
                if not named.get("properties"):
                    untyped.append(f"{method.upper()} {path} {code}")
    assert untyped == []
