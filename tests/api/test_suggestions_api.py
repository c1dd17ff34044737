"""The HTTP API against the real engine: auth, the suggestion contract, and bad input (4xx, never 5xx)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

KEY = "test-key-123"
NOTE = (
    "CC: follow-up.\nHPI: 61 yo established patient with HTN and type 2 diabetes. Denies chest pain.\n"
    "Assessment and Plan:\n1. Hypertension - continue lisinopril.\n2. Type 2 diabetes with CKD stage 3b.\n"
    "Total time spent on the date of the encounter: 32 minutes.\n"
)


@pytest.fixture(scope="module")
def client(settings, service, tmp_path_factory):
    from chartcoder.api.app import create_app
    from chartcoder.config import Settings

    db = tmp_path_factory.mktemp("db") / "review.db"
    s = Settings(
        data_dir=settings.data_dir,
        model="knowledge",
        api_keys=KEY,
        max_note_chars=5_000,
        database_url=f"sqlite:///{db}",
    )
    with TestClient(create_app(s, service_factory=lambda: service), raise_server_exceptions=False) as c:
        yield c


def auth(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEY}", **(extra or {})}


def test_health_needs_no_key(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["model"].startswith("chartcoder-knowledge")


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"X-API-Key": "nope"}])
def test_suggestions_require_a_valid_key(client, headers):
    r = client.post("/v1/suggestions", json={"text": NOTE}, headers=headers)
    assert r.status_code == 401
    assert "API key" in r.json()["detail"]


def test_x_api_key_header_is_accepted(client):
    r = client.post("/v1/suggestions", json={"text": NOTE}, headers={"X-API-Key": KEY})
    assert r.status_code == 200


def test_ranked_suggestions_with_exact_evidence(client):
    r = client.post(
        "/v1/suggestions",
        json={"text": NOTE, "id": "n1", "encounter": {"setting": "outpatient"}},
        headers=auth({"X-Request-ID": "req-42"}),
    )
    assert r.status_code == 200, r.text
    assert r.headers["X-Request-ID"] == "req-42"
    body = r.json()
    assert body["id"] == "n1"
    codes = [s["code"] for s in body["suggestions"]]
    assert {"E11.22", "N18.32", "I12.9", "99214"} <= set(codes), codes
    assert "I10" not in codes and "R07.9" not in codes
    scores = [s["score"] for s in body["suggestions"]]
    assert scores == sorted(scores, reverse=True)
    for s in body["suggestions"]:
        assert 0 <= s["score"] <= 1
        assert s["evidence"], s
        for ev in s["evidence"]:
            assert NOTE[ev["start"] : ev["end"]] == ev["text"]


@pytest.mark.parametrize(
    "note, evidence",
    [
        ("Assessment: Right knee OA.", ["Right", "knee OA"]),
        ("Assessment: osteoarthritis of the right knee.", ["osteoarthritis of the right knee"]),
    ],
)
def test_laterality_word_is_part_of_the_evidence(client, note, evidence):
    r = client.post("/v1/suggestions", json={"text": note}, headers=auth())
    oa = next(s for s in r.json()["suggestions"] if s["code"] == "M17.11")
    assert [e["text"] for e in oa["evidence"]] == evidence


def test_top_k_bounds(client):
    r = client.post("/v1/suggestions", json={"text": NOTE, "top_k": 2}, headers=auth())
    assert r.status_code == 200 and len(r.json()["suggestions"]) == 2
    for bad in (0, 101, "ten"):
        r = client.post("/v1/suggestions", json={"text": NOTE, "top_k": bad}, headers=auth())
        assert r.status_code == 422, bad


@pytest.mark.parametrize(
    "payload, status, needle",
    [
        ({"text": ""}, 422, "empty"),
        ({"text": "   \n\t "}, 422, "empty"),
        ({"text": "x" * 5_001}, 413, "limit"),
        ({"text": 42}, 422, "text"),
        ({"text": ["a", "b"]}, 422, "text"),
        ({"text": None}, 422, "text"),
        ({}, 422, "text"),
        ({"text": "ok", "encounter": {"setting": "home"}}, 422, "encounter.setting"),
        ({"text": "ok", "encounter": {"age": -1}}, 422, "encounter.age"),
        ({"text": "ok", "encounter": "inpatient"}, 422, "encounter"),
        ({"text": "ok", "unknown_field": 1}, 422, "unknown_field"),
        ({"text": "has a \u0000 NUL"}, 422, "NUL"),
    ],
)
def test_bad_json_input_gets_a_clear_4xx(client, payload, status, needle):
    r = client.post("/v1/suggestions", json=payload, headers=auth())
    assert r.status_code == status, r.text
    assert needle in json.dumps(r.json())
    assert "x" * 100 not in r.text, "error responses must not echo the note back"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"text": "caf\xe9 au lait"}',  # Latin-1 byte: not UTF-8
        b"\xff\xfe\x00\x01binary",
        b'{"text": "unterminated',
        b"[1, 2, 3]",
        b'"just a string"',
        b'{"text": "\\ud800 lone surrogate"}',
    ],
)
def test_malformed_bodies_get_a_4xx(client, raw):
    r = client.post("/v1/suggestions", content=raw, headers=auth({"Content-Type": "application/json"}))
    assert 400 <= r.status_code < 500, (raw, r.status_code, r.text)
    assert r.json()["detail"]


def test_oversized_body_is_refused_before_parsing(client):
    big = b'{"text": "' + b"a" * 200_000 + b'"}'
    r = client.post("/v1/suggestions", content=big, headers=auth({"Content-Type": "application/json"}))
    assert r.status_code == 413


def test_chunked_body_over_the_limit_is_refused(client):
    def chunks():
        yield b'{"text": "'
        for _ in range(40):
            yield b"a" * 10_000
        yield b'"}'

    r = client.post("/v1/suggestions", content=chunks(), headers=auth({"Content-Type": "application/json"}))
    assert r.status_code == 413
    assert "bytes" in r.json()["detail"]


def test_code_endpoints_bound_their_inputs(client):
    r = client.get("/v1/codes/ICD-10-CM/" + "E" * 5000, headers=auth())
    assert r.status_code == 422 and "E" * 100 not in r.text
    r = client.get("/v1/codes/search", params={"q": " ".join(["a"] * 20)}, headers=auth())
    assert r.status_code == 422 and "8 words" in r.json()["detail"]


def test_code_lookup_and_search(client):
    r = client.get("/v1/codes/ICD-10-CM/E11.65", headers=auth())
    assert r.status_code == 200 and r.json()["billable"] is True
    r = client.get("/v1/codes/ICD-10-CM/E11.999", headers=auth())
    assert r.status_code == 404 and "E11.9" in r.json()["detail"]
    r = client.get("/v1/codes/LOINC/1234-5", headers=auth())
    assert r.status_code == 422
    r = client.get("/v1/codes/search", params={"q": "hypertension", "system": "ICD-10-CM"}, headers=auth())
    assert r.status_code == 200 and "I10" in [c["code"] for c in r.json()]
    r = client.get("/v1/codes/search", params={"q": ""}, headers=auth())
    assert r.status_code == 422
