"""The server as a real process: SIGKILL in the middle of a stream of decisions loses no answered
decision and leaves none half-written (SQLite and PostgreSQL); and a full review leaves no note text
or patient data in the server's log."""

from __future__ import annotations

import json
import random
import threading
import time

import httpx
import pytest
from server_support import LiveServer, create_user, sign_in

NOTE = (
    "Assessment and plan:\n"
    "1. Type 2 diabetes mellitus with diabetic chronic kidney disease, CKD stage 3b.\n"
    "2. Essential hypertension.\n"
    "3. Hyperlipidemia.\n"
)
WRITERS = 4
BATCH = ("E78.5", "I12.9", "E11.22")  # suggested for NOTE; each batch decides all three at once


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request, tmp_path):
    database = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    srv = LiveServer(data_dir=tmp_path / "data", log_path=tmp_path / "server.log", database=database)
    srv.data_dir.mkdir()
    srv.start()
    yield srv
    srv.stop()


def _stream(server: LiveServer, token: str, enc_id: str, acked: list[dict], stop: threading.Event) -> None:
    """Accept and reject three codes in turn, each time as one batch of three decisions on the
    version the last answer gave; remember every 2xx answer. Ends at the first transport error (the
    server is gone)."""
    version = 1
    n = 0
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as c:
        while not stop.is_set():
            n += 1
            action = "accept" if n % 2 else "reject"
            note = None if n % 2 else f"round {n}"
            batch = [
                {"action": action, "code": code, **({"reason": "other", "note": note} if note else {})}
                for code in BATCH
            ]
            try:
                r = c.post(f"/v1/encounters/{enc_id}/decisions", json={"version": version, "decisions": batch})
            except httpx.TransportError:
                return
            if r.status_code != 200:  # anything but success is a failure of this test, not of the crash
                acked.append({"error": r.status_code, "body": r.text[:300]})
                return
            version = r.json()["version"]
            acked.append({"enc": enc_id, "version": version, "action": action, "note": note})


def test_sigkill_mid_stream_loses_no_answered_decision(server):
    coder = create_user(server, "coder1", "coder")
    token = sign_in(server, coder).headers["Authorization"].split()[1]
    with sign_in(server, coder) as c:
        encounters = [c.post("/v1/encounters", json={"text": NOTE}).json()["id"] for _ in range(WRITERS)]
    acked: list[dict] = []
    stop = threading.Event()
    threads = [threading.Thread(target=_stream, args=(server, token, e, acked, stop)) for e in encounters]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acked) < 60 and time.monotonic() < deadline:  # let a stream build up, then kill mid-flight
        time.sleep(0.01)
    time.sleep(random.uniform(0, 0.05))
    server.kill()
    stop.set()
    for t in threads:
        t.join(15)
    errors = [a for a in acked if "error" in a]
    assert not errors, errors
    assert len(acked) >= 60, f"only {len(acked)} decisions were answered before the kill"

    server.start()
    unanswered = 0
    with sign_in(server, coder) as c:
        for enc_id in encounters:
            enc = c.get(f"/v1/encounters/{enc_id}").json()
            events = c.get(f"/v1/encounters/{enc_id}/audit").json()["events"]
            decided = [e for e in events if e["action"].startswith("decision.")]
            mine = [a for a in acked if a.get("enc") == enc_id]
            # every answered batch is there, whole, with its version, action and note
            by_version: dict[int, list[dict]] = {}
            for e in decided:
                by_version.setdefault(e["detail"]["version"], []).append(e)
            for a in mine:
                events = by_version.get(a["version"])
                assert events is not None, f"answered batch at version {a['version']} of {enc_id} is lost"
                assert sorted(e["detail"]["code"] for e in events) == sorted(BATCH)
                assert {e["action"] for e in events} == {f"decision.{a['action']}"}
                assert {e["detail"].get("note") for e in events} == {a["note"]}
            # none half-written: every stored batch has all three decisions, versions run 2..N
            # without a gap, and the encounter's version and its codes' states agree with the last
            assert all(len(events) == len(BATCH) for events in by_version.values())
            assert sorted(by_version) == list(range(2, enc["version"] + 1)), (enc_id, sorted(by_version))
            # at most the one request in flight at the kill may have been written without its answer
            assert len(by_version) - len(mine) in (0, 1)
            unanswered += len(by_version) - len(mine)
            if by_version:
                last = by_version[enc["version"]][0]["action"]
                want = {"decision.accept": "accepted", "decision.reject": "rejected"}[last]
                states = {x["code"]: x["state"] for x in enc["codes"]}
                assert all(states[code] == want for code in BATCH)
        print(f"{len(acked)} batches answered before SIGKILL, all kept whole; {unanswered} written but unanswered")
        # and the store keeps working after the crash
        r = c.post(
            f"/v1/encounters/{encounters[0]}/decisions",
            json={
                "version": c.get(f"/v1/encounters/{encounters[0]}").json()["version"],
                "decisions": [{"action": "add", "code": "Z79.4"}],
            },
        )
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_full_review_leaves_no_note_text_or_patient_data_in_the_log(tmp_path, request, backend):
    database = None if backend == "sqlite" else request.getfixturevalue("postgres_url")
    srv = LiveServer(data_dir=tmp_path / "data", log_path=tmp_path / "server.log", database=database)
    srv.data_dir.mkdir()
    srv.start()
    try:
        coder = create_user(srv, "coder1", "coder")
        patient = {"id": "MRN-55501234", "name": "Zelda Quistorff", "sex": "F", "birth_date": "1951-07-23"}
        secret_phrase = "Quistorff reports her granddaughter Marisol visits on Sundays"
        note = NOTE + secret_phrase + ".\n"
        with sign_in(srv, coder) as c:
            enc = c.post(
                "/v1/encounters",
                json={"text": note, "patient": patient, "external_id": "EHR-LOGTEST", "payer": {"name": "Aetna"}},
            ).json()
            v = enc["version"]
            for d in (
                {"action": "accept", "code": "E11.22"},
                {"action": "reject", "code": "E78.5", "reason": "not_documented", "note": "see labs"},
                {"action": "add", "code": "Z79.4"},
            ):
                r = c.post(f"/v1/encounters/{enc['id']}/decisions", json={"version": v, "decisions": [d]})
                assert r.status_code == 200, r.text
                v = r.json()["version"]
            assert c.post(f"/v1/encounters/{enc['id']}/finalize", json={"version": v}).status_code == 200
            assert c.get(f"/v1/encounters/{enc['id']}/audit").status_code == 200
            assert c.post("/v1/suggestions", json={"text": note}).status_code == 200
            assert c.post("/v1/encounters", json={"text": ""}).status_code == 422  # errors do not echo either
            assert c.post("/v1/encounters", json={"text": note, "setting": "nowhere"}).status_code == 422
            # error paths that once reached the database with the note in hand
            bad = {"text": note, "patient": patient, "external_id": "E\x00X"}
            assert c.post("/v1/encounters", json=bad).status_code == 422
            assert c.post("/v1/encounters", json={**bad, "external_id": "x" * 201}).status_code == 422
    finally:
        srv.stop()
    log = srv.log_text()
    # one JSON object per line: request id, caller, route template, status and latency
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    requests = [r for r in records if r.get("logger") == "chartcoder.api" and r.get("message") == "request"]
    decisions = [r for r in requests if r["route"] == "/v1/encounters/{encounter_id}/decisions"]
    assert len(decisions) == 3 and {r["user"] for r in decisions} == {"coder1"}  # the log is really there
    assert {r["status"] for r in decisions} == {200} and all(r["request_id"] and r["ms"] >= 0 for r in decisions)
    assert {(r["method"], r["status"]) for r in requests if r["route"] == "/v1/encounters"} >= {
        ("POST", 201),
        ("POST", 422),
    }
    assert "HTTP/1.1" not in log  # uvicorn's access line (raw path and query string) is off
    assert enc["id"] not in log  # routes are templates: no encounter id, no query string
    for secret in (
        secret_phrase,
        "granddaughter",
        "Marisol",
        "Quistorff",
        "MRN-55501234",
        "1951-07-23",
        "diabetic chronic kidney disease",
        "Essential hypertension",
        "see labs",
    ):
        assert secret not in log, f"{secret!r} appears in the server log"
