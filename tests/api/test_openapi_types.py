"""The OpenAPI document of the real app types every answer: each 2xx response of each operation
declares a schema for each media type it can answer with (JSON ones a model, the X12, HTML and
NDJSON ones their media type and a string schema). A 204 answers no body."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def openapi(tmp_path_factory, settings) -> dict[str, Any]:
    from chartcoder.api.app import create_app
    from chartcoder.config import Settings

    folder = tmp_path_factory.mktemp("openapi")
    s = Settings(data_dir=settings.data_dir, database_url=f"sqlite:///{folder / 'review.db'}", suggest_workers=0)
    app = create_app(s)  # no lifespan: nothing here needs the suggestion engine
    key = app.state.review.accounts.create_key("docs reader", "coder").key
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/openapi.json").status_code == 401  # behind sign-in, as before
    r = client.get("/openapi.json", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        return _resolve(doc, doc["components"]["schemas"][ref.rsplit("/", 1)[1]])
    return schema


def _typed(doc: dict[str, Any], schema: dict[str, Any]) -> bool:
    """A schema that says something: a model, a union of typed schemas, or a type (an object only
    with its properties named; a free-form `{}` or `{"title": ...}` is untyped)."""
    schema = _resolve(doc, schema)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return all(_typed(doc, s) for s in schema[key] if s.get("type") != "null")
    kind = schema.get("type")
    if kind == "object":
        return bool(schema.get("properties"))
    if kind == "array":
        return _typed(doc, schema.get("items", {}))
    return kind is not None


def test_every_success_answer_has_a_schema(openapi):
    untyped = []
    operations = 0
    for path, ops in openapi["paths"].items():
        for method, op in ops.items():
            operations += 1
            for status, answer in op["responses"].items():
                if not status.startswith("2") or status == "204":
                    continue
                content = answer.get("content") or {}
                if not content:
                    untyped.append(f"{method.upper()} {path} {status}: no media type")
                for media, body in content.items():
                    if not _typed(openapi, body.get("schema", {})):
                        untyped.append(f"{method.upper()} {path} {status} {media}")
    assert operations >= 34
    assert untyped == [], untyped


def test_the_answers_that_are_not_json_name_their_media_type(openapi):
    claim = openapi["paths"]["/v1/encounters/{encounter_id}/claim"]["get"]["responses"]["200"]["content"]
    assert {"application/json", "application/edi-x12", "application/fhir+json", "text/html"} <= set(claim)
    export = openapi["paths"]["/v1/audits/export"]["get"]["responses"]["200"]["content"]
    assert set(export) == {"application/x-ndjson"}


def test_the_schema_families_describe_their_fields(openapi):
    """The answers' models say what their fields hold (the field descriptions of api/schemas/)."""
    schemas = openapi["components"]["schemas"]
    for name in ("EncounterOut", "ClaimRecordOut", "FeedbackReport", "ModelsListing", "CardsOut", "FeedbackOut"):
        assert name in schemas, name
    described = [
        f
        for name in ("EncounterOut", "CodeState", "ClaimRecordOut", "PackOut", "PromotionOut", "Totals")
        for f in schemas[name]["properties"].values()
        if "description" in f
    ]
    assert len(described) >= 30
