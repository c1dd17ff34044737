"""CDS Hooks against the real app and engine: discovery, the inpatient and ambulatory coding services
with the exact shapes of the specification (cards, suggestions, actions, feedback), feedback turned
into review decisions that reach the retraining export, and the CDS client JWT rules (RS384/ES384
keys made here; wrong key, expired, wrong audience, replayed jti: 401)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from app_support import signed_in_client
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fhir_samples import (
    DISCHARGE_NOTE,
    OFFICE_NOTE,
    b64,
    bundle,
    coverage,
    document_reference,
    encounter,
    patient,
    payer,
    practitioner,
)

BASE = "https://coding.example.org"
ISS = "https://ehr.example.org/"
OTHER_ISS = "https://other-ehr.example.org/"
INPATIENT = "chartcoder-inpatient-coding"
AMBULATORY = "chartcoder-ambulatory-coding"
API_KEY = "cds-test-static-key-0123456789"
SPEC_CARD_KEYS = {"uuid", "summary", "detail", "indicator", "source", "suggestions", "selectionBehavior",
                  "overrideReasons", "links"}  # fmt: skip


# -- keys, clients and tokens --------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys():
    def public_jwk(private, alg, kid):
        algo = jwt.algorithms.RSAAlgorithm if alg.startswith("RS") else jwt.algorithms.ECAlgorithm
        jwk = algo.to_jwk(private.public_key(), as_dict=True)
        return {**jwk, "kid": kid, "alg": alg, "use": "sig"}

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP384R1())
    other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "rsa": rsa_key,
        "ec": ec_key,
        "other": other_rsa,
        "jwks": {"keys": [public_jwk(rsa_key, "RS384", "rsa-1"), public_jwk(ec_key, "ES384", "ec-1")]},
        "other_jwks": {"keys": [public_jwk(other_rsa, "RS384", "other-1")]},
    }


def mint(key, kid="rsa-1", alg="RS384", path=f"/cds-services/{INPATIENT}", lifetime=300, headers=None, **claims):
    now = int(time.time())
    payload = {"iss": ISS, "aud": BASE + path, "exp": now + lifetime, "iat": now, "jti": str(uuid.uuid4()), **claims}
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid, "typ": "JWT", **(headers or {})})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def cds_app(db_url, settings, service, tmp_path, clients, templates=None):
    """The app with these CDS clients, a coder and a data scientist signed in; with `templates`, the
    users come from this module's template database (made once, copied into `db_url`)."""
    from app_support import sign_in_users

    from chartcoder.config import Settings
    from chartcoder.store.database import ReviewStore

    clients_file = tmp_path / "cds-clients.yaml"
    clients_file.write_text(json.dumps({"clients": clients}))

    def cfg(url):
        return Settings(
            data_dir=settings.data_dir, database_url=url, api_keys=API_KEY, cds_clients=clients_file, cds_base_url=BASE
        )

    def seed(url):
        made = ReviewStore(url)
        tokens = sign_in_users(cfg(url), made, ROLES)
        made.dispose()
        return tokens

    tokens = templates.restore("cds-people", db_url, seed) if templates is not None else None
    store = ReviewStore(db_url)
    with signed_in_client(cfg(db_url), service, store, ROLES, tokens) as c:
        yield c
    store.dispose()


ROLES = ("coder", "data_scientist")


def default_clients(keys):
    return [
        {"name": "epic", "iss": ISS, "jwks": keys["jwks"]},
        {"name": "other-ehr", "iss": OTHER_ISS, "jwks": keys["other_jwks"], "algorithms": ["RS384"]},
    ]


@pytest.fixture
def client(settings, service, tmp_path, keys, templates):
    url = f"sqlite:///{tmp_path / 'review.db'}"
    with cds_app(url, settings, service, tmp_path, default_clients(keys), templates) as c:
        yield c


@pytest.fixture
def any_db_client(db_url, settings, service, tmp_path, keys, templates):
    """The same app on SQLite and on a fresh PostgreSQL database (skipped where none is reachable)."""
    with cds_app(db_url, settings, service, tmp_path, default_clients(keys), templates) as c:
        yield c


def hook_request(note=DISCHARGE_NOTE, cls="IMP", instance=None, notes=None, **extra):
    body = {
        "hook": "encounter-discharge",
        "hookInstance": instance or str(uuid.uuid4()),
        "fhirServer": "https://ehr.example.org/fhir",
        "context": {"userId": "Practitioner/prac-1", "patientId": "pat-1", "encounterId": "enc-1"},
        "prefetch": {
            "patient": patient(),
            "encounter": encounter(cls),
            "notes": notes if notes is not None else bundle(document_reference(note), kind="searchset"),
            "practitioner": practitioner(),
            "coverage": bundle(coverage(), payer(), kind="searchset"),
        },
    }
    body.update(extra)
    return body


def call(client, service_id, body, key=None, token=None, **mint_args):
    token = token or mint(key, path=f"/cds-services/{service_id}", **mint_args)
    return client.post(f"/cds-services/{service_id}", json=body, headers=bearer(token))


def send_feedback(client, service_id, items, keys, iss=ISS, key="rsa", kid="rsa-1"):
    token = mint(keys[key], kid=kid, path=f"/cds-services/{service_id}/feedback", iss=iss)
    return client.post(f"/cds-services/{service_id}/feedback", json={"feedback": items}, headers=bearer(token))


def assert_spec_card(card: dict) -> None:
    """A card exactly as the CDS Hooks specification shapes it."""
    assert set(card) <= SPEC_CARD_KEYS and {"summary", "indicator", "source"} <= set(card)
    uuid.UUID(card["uuid"])
    assert isinstance(card["summary"], str) and 0 < len(card["summary"]) < 140
    assert card["indicator"] in ("info", "warning", "critical")
    assert isinstance(card["source"]["label"], str) and card["source"]["label"]
    topic = card["source"]["topic"]
    assert {"system", "code", "display"} == set(topic)
    assert card["selectionBehavior"] in ("at-most-one", "any")
    assert len(card["suggestions"]) == 1
    sug = card["suggestions"][0]
    assert set(sug) <= {"label", "uuid", "isRecommended", "actions", "extension"}
    assert sug["label"] and uuid.UUID(sug["uuid"])
    for action in sug["actions"]:
        assert set(action) == {"type", "description", "resource"}
        assert action["type"] == "create" and action["description"]
    for reason in card["overrideReasons"]:
        assert set(reason) == {"system", "code", "display"} and reason["display"]
    for link in card["links"]:
        assert set(link) == {"label", "url", "type"} and link["type"] == "absolute"
        assert link["url"].startswith(BASE + "/#/encounter/enc_")


def fhir_resource(action: dict):
    """The action's resource, read back by fhir.resources R4B (which validates it)."""
    from fhir.resources.R4B import get_fhir_model_class

    res = action["resource"]
    return get_fhir_model_class(res["resourceType"]).model_validate(res)


def cards_by_code(answer: dict) -> dict[str, dict]:
    return {c["suggestions"][0]["extension"]["org.chartcoder.suggestion"]["code"]: c for c in answer["cards"]}


# -- discovery -----------------------------------------------------------------------------------


def test_discovery_lists_both_services_without_authentication(client):
    r = client.get("/cds-services")
    assert r.status_code == 200, r.text
    services = {s["id"]: s for s in r.json()["services"]}
    assert set(services) == {INPATIENT, AMBULATORY}
    for s in services.values():
        assert set(s) == {"hook", "title", "description", "id", "prefetch", "usageRequirements"}
        assert s["hook"] == "encounter-discharge"
        assert all(isinstance(v, str) for v in s["prefetch"].values())
        assert s["prefetch"]["notes"] == "DocumentReference?encounter={{context.encounterId}}&status=current"
        assert s["prefetch"]["patient"] == "Patient/{{context.patientId}}"
    assert "inpatient" in services[INPATIENT]["description"]


# -- the services --------------------------------------------------------------------------------


def test_inpatient_service_answers_one_spec_card_per_code_and_stores_the_encounter(client, keys):
    from fhir.resources.R4B.condition import Condition

    r = call(client, INPATIENT, hook_request(), keys["rsa"])
    assert r.status_code == 200, r.text
    answer = r.json()
    assert set(answer) == {"cards"} and answer["cards"]
    for card in answer["cards"]:
        assert_spec_card(card)
    cards = cards_by_code(answer)
    assert {"J18.9", "E11.22", "N18.32"} <= set(cards)

    card = cards["E11.22"]
    ext = card["suggestions"][0]["extension"]["org.chartcoder.suggestion"]
    assert ext["system"] == "ICD-10-CM" and 0 < ext["score"] <= 1
    ev = ext["evidence"][0]
    assert DISCHARGE_NOTE[ev["start"] : ev["end"]] == ev["text"]
    assert ev["text"] in ev["snippet"] and ev["snippet"].strip("\u2026") in " ".join(DISCHARGE_NOTE.split())
    assert ev["snippet"] in card["detail"] and ev["snippet"] in card["suggestions"][0]["actions"][0]["description"]
    condition = fhir_resource(card["suggestions"][0]["actions"][0])
    assert isinstance(condition, Condition)
    assert condition.code.coding[0].system == "http://hl7.org/fhir/sid/icd-10-cm"
    assert condition.code.coding[0].code == "E11.22"
    assert condition.subject.reference == "Patient/pat-1" and condition.encounter.reference == "Encounter/enc-1"
    assert condition.category[0].coding[0].code == "encounter-diagnosis"
    reasons = {r["code"] for r in card["overrideReasons"]}
    assert {"not_documented", "negated", "other"} <= reasons
    assert {r["system"] for r in card["overrideReasons"]} == {"urn:chartcoder:reject-reason"}

    # The coders see it on their worklist, inpatient, from the EHR's patient, visit and payer.
    items = client.get("/v1/encounters", headers=client.h("coder")).json()["items"]
    assert len(items) == 1
    enc = client.get(f"/v1/encounters/{items[0]['id']}", headers=client.h("coder")).json()
    assert enc["setting"] == "inpatient" and enc["external_id"] == "enc-1" and enc["text"] == DISCHARGE_NOTE
    assert enc["patient"]["id"] == "MRN-0001" and enc["payer"]["member_id"] == "W123456789"
    assert card["links"][0]["url"] == f"{BASE}/#/encounter/{enc['id']}"
    events = client.get(f"/v1/encounters/{enc['id']}/audit", headers=client.h("coder")).json()["events"]
    assert events[0]["action"] == "encounter.created" and events[0]["detail"]["via"] == "cds:epic"


def test_ambulatory_service_codes_the_visit_with_cpt_charge_items(client, keys):
    from fhir.resources.R4B.chargeitem import ChargeItem

    html = "<p>" + OFFICE_NOTE.replace("\n", "</p><p>") + "</p>"
    doc = document_reference(content_type="text/html", data=b64(html))
    r = call(client, AMBULATORY, hook_request(cls="AMB", notes=doc), keys["ec"], kid="ec-1", alg="ES384")
    assert r.status_code == 200, r.text
    cards = cards_by_code(r.json())
    assert {"E11.22", "N18.32", "R00.2", "93000", "99214"} <= set(cards)
    for card in cards.values():
        assert_spec_card(card)
    ecg = cards["93000"]
    item = fhir_resource(ecg["suggestions"][0]["actions"][0])
    assert isinstance(item, ChargeItem)
    assert item.code.coding[0].system == "http://www.ama-assn.org/go/cpt" and item.code.coding[0].code == "93000"
    assert item.context.reference == "Encounter/enc-1"
    assert ecg["source"]["topic"]["code"] == "procedure-code"
    enc_id = ecg["links"][0]["url"].rsplit("/", 1)[1]
    enc = client.get(f"/v1/encounters/{enc_id}", headers=client.h("coder")).json()
    assert enc["setting"] == "outpatient" and "ECG performed for palpitations." in enc["text"]


def test_each_service_leaves_the_other_settings_encounters_alone(client, keys):
    r = call(client, AMBULATORY, hook_request(cls="IMP"), keys["rsa"])
    assert r.status_code == 200 and r.json() == {"cards": []}
    r = call(client, INPATIENT, hook_request(note=OFFICE_NOTE, cls="AMB"), keys["rsa"])
    assert r.status_code == 200 and r.json() == {"cards": []}
    assert client.get("/v1/encounters", headers=client.h("coder")).json()["total"] == 0


def test_the_same_hook_call_answers_the_same_cards_and_a_repeat_reuses_the_encounter(client, keys):
    body = hook_request()
    first = call(client, INPATIENT, body, keys["rsa"]).json()
    again = call(client, INPATIENT, body, keys["rsa"]).json()
    assert again == first  # same hookInstance: same card and suggestion uuids
    later = call(client, INPATIENT, hook_request(), keys["rsa"]).json()  # the hook fires again at discharge end
    assert {c["uuid"] for c in later["cards"]}.isdisjoint({c["uuid"] for c in first["cards"]})
    assert client.get("/v1/encounters", headers=client.h("coder")).json()["total"] == 1
    changed = call(client, INPATIENT, hook_request(note=DISCHARGE_NOTE + "Atrial fibrillation.\n"), keys["rsa"])
    assert changed.status_code == 200 and changed.json()["cards"]  # the note changed: a new encounter to code
    assert client.get("/v1/encounters", headers=client.h("coder")).json()["total"] == 2


# -- feedback ------------------------------------------------------------------------------------


def test_feedback_becomes_review_decisions_that_reach_the_retraining_export(any_db_client, keys):
    client = any_db_client
    cards = cards_by_code(call(client, INPATIENT, hook_request(), keys["rsa"]).json())
    accepted, negated, own_reason = cards["E11.22"], cards["N18.32"], cards["J18.9"]
    now = "2026-11-20T12:00:00Z"
    items = [
        {
            "card": accepted["uuid"],
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": accepted["suggestions"][0]["uuid"]}],
            "outcomeTimestamp": now,
        },
        {
            "card": negated["uuid"],
            "outcome": "overridden",
            "overrideReason": {
                "reason": {"system": "urn:chartcoder:reject-reason", "code": "negated", "display": "Negated"},
                "userComment": "CKD ruled out on repeat labs",
            },
            "outcomeTimestamp": now,
        },
        {
            "card": own_reason["uuid"],
            "outcome": "overridden",
            "overrideReason": {"reason": {"system": "urn:ehr:reasons", "code": "r7", "display": "Aspiration instead"}},
            "outcomeTimestamp": now,
        },
    ]
    r = send_feedback(client, INPATIENT, items, keys)
    assert r.status_code == 200, r.text
    results = r.json()["feedback"]
    assert [x["result"] for x in results] == ["applied"] * 3
    assert results[0]["decision"] == {"action": "accept", "code": "E11.22", "system": "ICD-10-CM"}
    assert results[1]["decision"]["reason"] == "negated" and results[2]["decision"]["reason"] == "other"

    enc_id = accepted["links"][0]["url"].rsplit("/", 1)[1]
    enc = client.get(f"/v1/encounters/{enc_id}", headers=client.h("coder")).json()
    codes = {c["code"]: c for c in enc["codes"]}
    assert codes["E11.22"]["state"] == "accepted" and codes["E11.22"]["decided_by"] == "ehr:epic"
    assert codes["N18.32"]["state"] == "rejected" and codes["N18.32"]["reason"] == "negated"
    assert codes["N18.32"]["note"] == "CKD ruled out on repeat labs"
    assert codes["J18.9"]["reason"] == "other" and "Aspiration instead" in codes["J18.9"]["note"]
    events = client.get(f"/v1/encounters/{enc_id}/audit", headers=client.h("coder")).json()["events"]
    decided = [e for e in events if e["action"].startswith("decision.")]
    assert {e["actor"]["username"] for e in decided} == {"ehr:epic"}
    assert {e["actor"]["role"] for e in decided} == {"ehr"}

    # The same feedback again changes nothing; a coder's own decision is never overwritten by the EHR.
    again = send_feedback(client, INPATIENT, items[:1], keys).json()["feedback"]
    assert again[0]["result"] == "already_applied"
    version = client.get(f"/v1/encounters/{enc_id}", headers=client.h("coder")).json()["version"]
    batch = {"version": version, "decisions": [{"action": "reject", "code": "E11.22", "reason": "more_specific_code"}]}
    assert client.post(f"/v1/encounters/{enc_id}/decisions", headers=client.h("coder"), json=batch).status_code == 200
    kept = send_feedback(client, INPATIENT, items[:1], keys).json()["feedback"]
    assert kept[0]["result"] == "kept_person_decision" and kept[0]["decided_by"] == "coder1"
    batch = {"version": version + 1, "decisions": [{"action": "accept", "code": "E11.22"}]}
    assert client.post(f"/v1/encounters/{enc_id}/decisions", headers=client.h("coder"), json=batch).status_code == 200

    # Finalized by the coder: the EHR's decisions are in the audited-chart export, as retraining reads it.
    final = client.post(f"/v1/encounters/{enc_id}/finalize", headers=client.h("coder"), json={"version": version + 2})
    assert final.status_code == 200, final.text
    export = client.get("/v1/audits/export", headers=client.h("data_scientist"))
    charts = [json.loads(line) for line in export.text.splitlines()]
    assert len(charts) == 1 and charts[0]["text"] == DISCHARGE_NOTE
    decisions = {c["code"]: c["decision"] for c in charts[0]["codes"]}
    assert decisions["E11.22"] == "accepted" and decisions["N18.32"] == "rejected" and decisions["J18.9"] == "rejected"
    late = send_feedback(client, INPATIENT, items[1:2], keys).json()["feedback"]
    assert late[0]["result"] == "encounter_finalized"  # recorded, not applied: the chart is closed

    from sqlalchemy import create_engine, func, select

    from chartcoder.store.cds import CdsFeedback

    engine = create_engine(client.app.state.review.store.url)
    with engine.connect() as conn:  # every item received is kept, whatever became of it
        assert conn.scalar(select(func.count()).select_from(CdsFeedback)) == 6
    engine.dispose()


def test_feedback_that_cannot_be_applied_everywhere_is_recorded_and_asks_for_a_retry(client, keys, monkeypatch):
    """Feedback over two encounters, the second of which a coder keeps changing (its decide call is
    made to lose the version race every time, as a busy coder would make it): the first encounter's
    decision is applied, every item is recorded with what became of it, and the EHR gets a 409 asking
    it to send the feedback again; sent again once the coder is done, the rest applies."""
    from chartcoder.domain.errors import ConflictError

    one = cards_by_code(call(client, INPATIENT, hook_request(), keys["rsa"]).json())["E11.22"]
    other_note = DISCHARGE_NOTE + "Atrial fibrillation.\n"
    two = call(client, INPATIENT, hook_request(note=other_note), keys["rsa"]).json()["cards"][0]
    busy = two["links"][0]["url"].rsplit("/", 1)[1]
    now = "2026-11-20T12:00:00Z"
    items = [{"card": c["uuid"], "outcome": "overridden", "outcomeTimestamp": now} for c in (one, two)]
    review = client.app.state.cds.review
    real_decide = review.decide

    def racing(encounter_id, *args, **kw):
        if encounter_id == busy:
            raise ConflictError("the encounter changed meanwhile", "version_conflict")
        return real_decide(encounter_id, *args, **kw)

    monkeypatch.setattr(review, "decide", racing)
    r = send_feedback(client, INPATIENT, items, keys)
    assert r.status_code == 409 and "send it again" in r.json()["detail"], r.text
    monkeypatch.setattr(review, "decide", real_decide)
    from sqlalchemy import create_engine, select

    from chartcoder.store.cds import CdsFeedback

    engine = create_engine(client.app.state.review.store.url)
    with engine.connect() as conn:
        recorded = dict(conn.execute(select(CdsFeedback.card_uuid, CdsFeedback.result)).all())
    assert recorded == {one["uuid"]: "applied", two["uuid"]: "not_applied"}
    again = send_feedback(client, INPATIENT, items, keys)
    assert again.status_code == 200, again.text
    assert [x["result"] for x in again.json()["feedback"]] == ["already_applied", "applied"]
    with engine.connect() as conn:
        assert len(conn.execute(select(CdsFeedback.card_uuid)).all()) == 4
    engine.dispose()


def test_feedback_that_names_no_known_card_is_refused_and_nothing_is_recorded(client, keys):
    cards = call(client, INPATIENT, hook_request(), keys["rsa"]).json()["cards"]
    card = cards[0]
    now = "2026-11-20T12:00:00Z"
    unknown = {"card": str(uuid.uuid4()), "outcome": "overridden", "outcomeTimestamp": now}
    ok = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": now}
    r = send_feedback(client, INPATIENT, [ok, unknown], keys)
    assert (
        r.status_code == 404 and "unknown card" in r.json()["detail"] and "nothing was recorded" in r.json()["detail"]
    )
    # another service, or another EHR, cannot give feedback on these cards
    assert send_feedback(client, AMBULATORY, [ok], keys).status_code == 404
    assert send_feedback(client, INPATIENT, [ok], keys, iss=OTHER_ISS, key="other", kid="other-1").status_code == 404
    wrong = {**ok, "outcome": "accepted", "acceptedSuggestions": [{"id": cards[1]["suggestions"][0]["uuid"]}]}
    r = send_feedback(client, INPATIENT, [wrong], keys)
    assert r.status_code == 422 and "has one suggestion" in r.json()["detail"]
    r = send_feedback(client, INPATIENT, [{**ok, "outcome": "accepted"}], keys)
    assert r.status_code == 422 and "acceptedSuggestions" in r.json()["detail"]
    r = send_feedback(client, INPATIENT, [{**ok, "outcome": "ignored"}], keys)
    assert r.status_code == 422
    for when in ("yesterday at noon", "0001-01-01T00:00:00+01:00"):
        r = send_feedback(client, INPATIENT, [{**ok, "outcomeTimestamp": when}], keys)
        assert r.status_code == 422 and "ISO 8601" in r.json()["detail"]
    enc_id = card["links"][0]["url"].rsplit("/", 1)[1]
    enc = client.get(f"/v1/encounters/{enc_id}", headers=client.h("coder")).json()
    assert {c["state"] for c in enc["codes"]} == {"pending"}
    # Overridden without any reason: a reject with reason 'other', and the note says so.
    r = send_feedback(client, INPATIENT, [ok], keys)
    assert r.status_code == 200 and r.json()["feedback"][0]["decision"]["reason"] == "other"


def test_our_api_keys_and_people_still_work_on_the_cds_services(client, keys):
    r = client.post(f"/cds-services/{INPATIENT}", json=hook_request(), headers=bearer(API_KEY))
    assert r.status_code == 200, r.text
    card = r.json()["cards"][0]
    item = {
        "card": card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
        "outcomeTimestamp": "2026-11-20T12:00:00",
    }
    r = client.post(f"/cds-services/{INPATIENT}/feedback", json={"feedback": [item]}, headers=bearer(API_KEY))
    assert r.status_code == 200 and r.json()["feedback"][0]["result"] == "applied"
    enc_id = card["links"][0]["url"].rsplit("/", 1)[1]
    codes = client.get(f"/v1/encounters/{enc_id}", headers=client.h("coder")).json()["codes"]
    assert {c["decided_by"] for c in codes if c["state"] != "pending"} == {"ehr:key:static"}
    # a person's own session decides as that person
    r = client.post(f"/cds-services/{AMBULATORY}", json=hook_request(OFFICE_NOTE, cls="AMB"), headers=client.h("coder"))
    card = r.json()["cards"][0]
    item = {**item, "card": card["uuid"], "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}]}
    r = client.post(f"/cds-services/{AMBULATORY}/feedback", json={"feedback": [item]}, headers=client.h("coder"))
    assert r.status_code == 200 and r.json()["feedback"][0]["result"] == "applied"
    enc_id = card["links"][0]["url"].rsplit("/", 1)[1]
    codes = client.get(f"/v1/encounters/{enc_id}", headers=client.h("coder")).json()["codes"]
    assert {c["decided_by"] for c in codes if c["state"] != "pending"} == {"coder1"}


# -- the note missing or malformed ---------------------------------------------------------------


def test_a_call_without_a_note_is_a_412_that_says_which_prefetch_to_satisfy(client, keys):
    body = hook_request()
    del body["prefetch"]
    r = call(client, INPATIENT, body, keys["rsa"])
    assert r.status_code == 412, r.text
    assert r.json()["error"] == "note_missing"
    assert "DocumentReference?encounter={{context.encounterId}}" in r.json()["detail"][0]["message"]
    body = hook_request(notes={"resourceType": "Bundle", "type": "searchset", "total": 0})
    assert call(client, INPATIENT, body, keys["rsa"]).status_code == 412
    assert client.get("/v1/encounters", headers=client.h("coder")).json()["total"] == 0


def test_malformed_notes_and_requests_are_4xx_with_what_was_expected(client, keys):
    garbage = hook_request(notes=document_reference(data="%%% not base64 %%%"))
    r = call(client, INPATIENT, garbage, keys["rsa"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_fhir"
    assert "not valid base64" in r.json()["detail"][0]["message"]
    assert r.json()["detail"][0]["field"] == "prefetch.notes.content[0].attachment.data"
    pdf = hook_request(notes=document_reference(content_type="application/pdf", data=b64(b"%PDF")))
    r = call(client, INPATIENT, pdf, keys["rsa"])
    assert r.status_code == 422 and "text/plain or text/html" in r.json()["detail"][0]["message"]
    no_status = document_reference(DISCHARGE_NOTE)
    del no_status["status"]
    r = call(client, INPATIENT, hook_request(notes=bundle(no_status, kind="searchset")), keys["rsa"])
    assert r.status_code == 400 and r.json()["detail"][0]["field"] == "prefetch.notes.entry[0].resource.status"
    r = call(client, INPATIENT, hook_request(hook="patient-view"), keys["rsa"])
    assert r.status_code == 422 and "encounter-discharge" in r.json()["detail"]
    body = hook_request()
    del body["context"]["encounterId"]
    r = call(client, INPATIENT, body, keys["rsa"])
    assert r.status_code == 422 and "context.encounterId" in r.json()["detail"]
    r = call(client, "no-such-service", hook_request(), keys["rsa"])
    assert r.status_code == 404 and INPATIENT in r.json()["detail"]
    body = hook_request()
    del body["hookInstance"]
    assert call(client, INPATIENT, body, keys["rsa"]).status_code == 422
    for placeholder in ("SURROGATE", "enc-1"):  # in hookInstance, in context.encounterId
        raw = json.dumps(hook_request(instance="SURROGATE")).replace(f'"{placeholder}"', '"\\udfff"', 1)
        token = mint(keys["rsa"])
        r = client.post(
            f"/cds-services/{INPATIENT}",
            content=raw,
            headers={**bearer(token), "Content-Type": "application/json"},
        )
        assert r.status_code in (400, 422), r.text
    assert client.get("/v1/encounters", headers=client.h("coder")).json()["total"] == 0


# -- JWT rules -----------------------------------------------------------------------------------


def refused(r, words: str) -> None:
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "unauthorized" and words in r.json()["detail"], r.json()["detail"]
    assert r.headers["www-authenticate"] == "Bearer"


def test_bad_jwts_are_401_with_the_reason(client, keys):
    body = hook_request()
    path = f"/cds-services/{INPATIENT}"
    refused(call(client, INPATIENT, body, keys["other"], kid="rsa-1"), "signature does not verify")
    refused(call(client, INPATIENT, body, keys["rsa"], lifetime=-120), "expired")
    refused(call(client, INPATIENT, body, keys["rsa"], aud=f"{BASE}/cds-services/{AMBULATORY}"), "aud must be")
    refused(call(client, INPATIENT, body, keys["rsa"], aud="https://elsewhere.example.org" + path), "aud must be")
    refused(call(client, INPATIENT, body, keys["rsa"], iss="https://stranger.example.org/"), "not a configured")
    refused(call(client, INPATIENT, body, keys["rsa"], jti=None), "'jti'")
    refused(call(client, INPATIENT, body, keys["rsa"], kid="nope"), "no key with kid")
    refused(call(client, INPATIENT, body, keys["rsa"], lifetime=3600), "may live at most 300 s")
    refused(call(client, INPATIENT, body, keys["rsa"], iat=int(time.time()) + 600), "not valid yet")
    refused(call(client, INPATIENT, body, keys["rsa"], headers={"jku": "https://evil.example.org/jwks"}), "jku")
    # the other EHR may sign only with RS384: its ES384 token is refused even before the key
    token = mint(keys["ec"], kid="other-1", alg="ES384", path=path, iss=OTHER_ISS)
    refused(call(client, INPATIENT, body, token=token), "may sign with RS384")
    hmac = jwt.encode({"iss": ISS, "aud": BASE + path, "exp": 2**31, "iat": 0, "jti": "x"}, "s" * 32, "HS256")
    refused(call(client, INPATIENT, body, token=hmac), "asymmetric")
    unsigned = jwt.encode({"iss": ISS, "aud": BASE + path}, None, algorithm="none")
    refused(call(client, INPATIENT, body, token=unsigned), "asymmetric")
    refused(call(client, INPATIENT, body, token="eyJhbGciOi.eyJzdWIi.c2ln"), "not a well-formed JWT")
    stringly = mint(keys["rsa"], exp=str(int(time.time()) + 300))  # PyJWT lets a numeric string through
    r = call(client, INPATIENT, body, token=stringly)
    assert r.status_code == 401, r.text
    assert client.get("/v1/encounters", headers=client.h("coder")).json()["total"] == 0


def test_a_replayed_jwt_is_401(client, keys):
    token = mint(keys["rsa"])
    assert call(client, INPATIENT, hook_request(), token=token).status_code == 200
    refused(call(client, INPATIENT, hook_request(), token=token), "used before")


def test_jwts_open_only_the_cds_services(client, keys):
    token = mint(keys["rsa"], path="/v1/encounters")
    r = client.get("/v1/encounters", headers=bearer(token))
    assert r.status_code == 401  # a CDS client is not an API user
    # the feedback endpoint also takes the service's own URL as audience
    card = call(client, INPATIENT, hook_request(), keys["rsa"]).json()["cards"][0]
    item = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-20T12:00:00Z"}
    token = mint(keys["rsa"], path=f"/cds-services/{INPATIENT}")
    r = client.post(f"/cds-services/{INPATIENT}/feedback", json={"feedback": [item]}, headers=bearer(token))
    assert r.status_code == 200, r.text
    token = mint(keys["rsa"], path=f"/cds-services/{AMBULATORY}")
    r = client.post(f"/cds-services/{INPATIENT}/feedback", json={"feedback": [item]}, headers=bearer(token))
    refused(r, "aud must be")


class _Jwks(BaseHTTPRequestHandler):
    body = b"{}"

    def do_GET(self):  # noqa: N802 (the http.server name)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def test_keys_can_come_from_the_ehrs_jwks_url(settings, service, tmp_path, keys):
    handler = type("Handler", (_Jwks,), {"body": json.dumps(keys["jwks"]).encode()})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/jwks"
    try:
        clients = [
            {"name": "epic", "iss": ISS, "jwks_url": url},
            {"name": "down", "iss": OTHER_ISS, "jwks_url": "http://127.0.0.1:9/jwks"},  # nothing listens
        ]
        with cds_app(f"sqlite:///{tmp_path / 'review.db'}", settings, service, tmp_path, clients) as client:
            r = call(client, INPATIENT, hook_request(), keys["ec"], kid="ec-1", alg="ES384", headers={"jku": url})
            assert r.status_code == 200, r.text
            refused(call(client, INPATIENT, hook_request(), keys["rsa"], kid="rsa-9"), "no key with kid")
            refused(call(client, INPATIENT, hook_request(), keys["rsa"], iss=OTHER_ISS), "could not get")
    finally:
        server.shutdown()


@pytest.mark.parametrize(
    ("clients", "words"),
    [
        ({"clients": [{"name": "a", "iss": ISS}]}, "exactly one of 'jwks'"),
        ({"clients": [{"name": "a", "iss": ISS, "jwks_url": "https://x", "algorithms": ["HS256"]}]}, "asymmetric"),
        ({"clients": [{"name": "a", "iss": ISS, "jwks_url": "https://x", "color": "red"}]}, "unknown keys"),
        ({"services": []}, "expected"),
    ],
)
def test_a_broken_clients_file_stops_the_server_from_starting(settings, service, tmp_path, clients, words):
    from chartcoder.api.app import create_app
    from chartcoder.config import Settings
    from chartcoder.domain.errors import ResourceError

    path = tmp_path / "clients.yaml"
    path.write_text(json.dumps(clients))
    s = Settings(data_dir=settings.data_dir, database_url=f"sqlite:///{tmp_path / 'r.db'}", cds_clients=path)
    with pytest.raises(ResourceError, match=words):
        create_app(s, service_factory=lambda: service)


def test_clients_without_a_base_url_stop_the_server_from_starting(settings, service, tmp_path):
    """The JWT audience is checked against CHARTCODER_CDS_BASE_URL, never the request's Host header
    (a token signed for another service could otherwise be replayed here with that Host)."""
    from chartcoder.api.app import create_app
    from chartcoder.config import Settings
    from chartcoder.domain.errors import ResourceError

    path = tmp_path / "clients.yaml"
    path.write_text(json.dumps({"clients": [{"name": "ehr", "iss": ISS, "jwks_url": "https://ehr.example.org/jwks"}]}))
    s = Settings(data_dir=settings.data_dir, database_url=f"sqlite:///{tmp_path / 'r.db'}", cds_clients=path)
    with pytest.raises(ResourceError, match="CHARTCODER_CDS_BASE_URL"):
        create_app(s, service_factory=lambda: service)
