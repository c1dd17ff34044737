"""Feedback analytics (GET /v1/analytics/feedback and `chartcoder feedback report`) on SQLite and
PostgreSQL: encounters made and decided through the API, then exact numbers from the route.

Three finalized encounters of one note. Two were suggested by an older pack version (`old@...`; the
stored model name is set in the database, as a pack deployed earlier would have left it) and
finalized in ISO week 47 of 2026, one by the serving pack in week 48:

- A (old, Mon 16 Nov): accept E11.22, reject E78.5, add Z79.4; then the coder changes their mind and
  accepts E78.5. Final: 2 accepted, 0 rejected, Z79.4 added.
- B (old, Wed 18 Nov): accept N18.32, change E11.22 into E11.9 (rejects E11.22, adds E11.9), add
  Z79.4. Final: 1 accepted, 1 rejected, 2 added.
- C (serving pack, Mon 23 Nov): accept E11.22 and N18.32, reject E78.5; add Z79.4 and reject it again
  (a code added by hand and removed says nothing about the model). Final: 2 accepted, 1 rejected.
- D is open with one accepted code (counted only with include_open); E is open and untouched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, update

NOTE = (
    "Assessment: Type 2 diabetes mellitus with diabetic chronic kidney disease stage 3b. "
    "Essential hypertension. Hyperlipidemia.\n"
)
OLD = "old@aaaaaaaaaaaa"
ROUTE = "/v1/analytics/feedback"
NEEDED = {"E11.22", "E78.5", "N18.32"}  # suggested for NOTE; Z79.4 and E11.9 are not


def _encounter(client) -> dict:
    r = client.post("/v1/encounters", headers=client.h("coder"), json={"text": NOTE})
    assert r.status_code == 201, r.text
    enc = r.json()
    suggested = {s["code"] for s in enc["suggestion_set"]["suggestions"]}
    assert suggested >= NEEDED and not suggested & {"Z79.4", "E11.9"}, sorted(suggested)
    return enc


def _decide(client, enc: dict, *batches: list[dict]) -> int:
    version = enc["version"]
    for batch in batches:
        r = client.post(
            f"/v1/encounters/{enc['id']}/decisions",
            headers=client.h("coder"),
            json={"version": version, "decisions": batch},
        )
        assert r.status_code == 200, r.text
        version = r.json()["version"]
    return int(version)


def _finalize(client, enc: dict, version: int) -> None:
    r = client.post(f"/v1/encounters/{enc['id']}/finalize", headers=client.h("coder"), json={"version": version})
    assert r.status_code == 200, r.text


def _set(client, table, enc_id: str, **values) -> None:
    """Backdates a finalization or names an older pack: what time and an earlier deployment leave."""
    store = client.app.state.review.store
    column = table.encounter_id if hasattr(table, "encounter_id") else table.id
    with store.session() as s:
        s.execute(update(table).where(column == enc_id).values(**values))


@pytest.fixture
def reviewed(client):
    """The five encounters of the module docstring; answers {name: encounter} plus `n`, the number of
    suggestions per encounter (one note, so the same for all)."""
    from chartcoder.store.review import Encounter, SuggestionSet

    a, b, c, d, e = (_encounter(client) for _ in range(5))
    _finalize(
        client,
        a,
        _decide(
            client,
            a,
            [
                {"action": "accept", "code": "E11.22"},
                {"action": "reject", "code": "E78.5", "reason": "not_documented"},
                {"action": "add", "code": "Z79.4"},
            ],
            [{"action": "accept", "code": "E78.5"}],
        ),
    )
    _finalize(
        client,
        b,
        _decide(
            client,
            b,
            [
                {"action": "accept", "code": "N18.32"},
                {"action": "change", "code": "E11.9", "replaces": "E11.22", "reason": "more_specific_code"},
                {"action": "add", "code": "Z79.4"},
            ],
        ),
    )
    _finalize(
        client,
        c,
        _decide(
            client,
            c,
            [
                {"action": "accept", "code": "E11.22"},
                {"action": "accept", "code": "N18.32"},
                {"action": "reject", "code": "E78.5", "reason": "not_documented"},
                {"action": "add", "code": "Z79.4"},
            ],
            [{"action": "reject", "code": "Z79.4", "reason": "other"}],
        ),
    )
    _decide(client, d, [{"action": "accept", "code": "E11.22"}])
    for enc, day in ((a, 16), (b, 18), (c, 23)):
        _set(client, Encounter, enc["id"], finalized_at=datetime(2026, 11, day, 15, 30, tzinfo=UTC))
    for enc in (a, b):
        _set(client, SuggestionSet, enc["id"], model=OLD)
    n = len(a["suggestion_set"]["suggestions"])
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "n": n, "new": c["suggestion_set"]["model"]}


def report(client, role: str = "data_scientist", **params):
    r = client.get(ROUTE, headers=client.h(role), params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_report_counts_final_states_of_finalized_encounters(client, reviewed):
    n, new = reviewed["n"], reviewed["new"]
    out = report(client)
    assert out["filters"] == {
        "since": None,
        "until": None,
        "pack": None,
        "system": None,
        "bucket": "day",
        "top": 10,
        "include_open": False,
    }
    assert out["totals"] == {
        "encounters": 3,
        "suggested": 3 * n,
        "accepted": 5,
        "rejected": 2,
        "pending": 3 * n - 7,
        "added": 3,
        "acceptance_rate": round(5 / 7, 4),
        "precision": round(5 / (3 * n), 4),
        "recall": round(5 / 8, 4),
    }
    old, served = out["by_pack"]
    assert (old["pack"], old["first"], old["last"]) == (OLD, "2026-11-16", "2026-11-18")
    assert {k: old[k] for k in ("encounters", "accepted", "rejected", "pending", "added", "acceptance_rate")} == {
        "encounters": 2,
        "accepted": 3,
        "rejected": 1,
        "pending": 2 * n - 4,
        "added": 3,
        "acceptance_rate": 0.75,
    }
    assert (served["pack"], served["encounters"], served["accepted"], served["rejected"], served["added"]) == (
        new,
        1,
        2,
        1,
        0,
    )
    assert served["acceptance_rate"] == round(2 / 3, 4) and served["recall"] == 1.0

    # Over time, by day: every day from the first to the last, points where a pack had decisions.
    over = out["over_time"]
    assert over["bucket"] == "day"
    assert [p["period"] for p in over["periods"]] == [f"2026-11-{d}" for d in range(16, 24)]
    series = {s["pack"]: s["points"] for s in over["series"]}
    assert [(p["period"], p["accepted"], p["rejected"], p["added"], p["acceptance_rate"]) for p in series[OLD]] == [
        ("2026-11-16", 2, 0, 1, 1.0),
        ("2026-11-18", 1, 1, 2, 0.5),
    ]
    assert [(p["period"], p["acceptance_rate"]) for p in series[new]] == [("2026-11-23", round(2 / 3, 4))]
    assert [p["period"] for p in over["all"]] == ["2026-11-16", "2026-11-18", "2026-11-23"]

    # The codes: rejected most (ties: the higher rejection rate first), added most (blind spots).
    assert [(t["code"], t["rejected"], t["decided"], t["rejection_rate"]) for t in out["top_rejected"]] == [
        ("E78.5", 1, 2, 0.5),
        ("E11.22", 1, 3, round(1 / 3, 4)),
    ]
    assert out["top_rejected"][1]["reasons"] == [
        {"reason": "more_specific_code", "label": "A more specific code applies", "count": 1}
    ]
    assert [(t["code"], t["system"], t["added"], t["suggested"]) for t in out["top_added"]] == [
        ("Z79.4", "ICD-10-CM", 2, 0),
        ("E11.9", "ICD-10-CM", 1, 0),
    ]
    assert "insulin" in out["top_added"][0]["description"].lower()
    assert "diabetes" in out["top_rejected"][1]["description"].lower()
    assert [(r["reason"], r["count"]) for r in out["reject_reasons"]] == [
        ("more_specific_code", 1),
        ("not_documented", 1),
    ]
    by_code = {c["code"]: c for c in out["by_code"]}
    assert {k: by_code["E11.22"][k] for k in ("suggested", "accepted", "rejected", "pending", "added")} == {
        "suggested": 3,
        "accepted": 2,
        "rejected": 1,
        "pending": 0,
        "added": 0,
    }
    assert by_code["E11.22"]["acceptance_rate"] == round(2 / 3, 4)
    assert by_code["Z79.4"]["added"] == 2 and by_code["Z79.4"]["recall"] == 0.0
    assert out["by_code"][0]["code"] == "E11.22"  # most decided first


def test_buckets_filters_and_open_encounters(client, reviewed):
    n, new = reviewed["n"], reviewed["new"]
    weekly = report(client, bucket="week")["over_time"]
    assert weekly["periods"] == [
        {"period": "2026-W47", "start": "2026-11-16"},
        {"period": "2026-W48", "start": "2026-11-23"},
    ]
    assert [(p["period"], p["start"], p["accepted"], p["rejected"], p["acceptance_rate"]) for p in weekly["all"]] == [
        ("2026-W47", "2026-11-16", 3, 1, 0.75),
        ("2026-W48", "2026-11-23", 2, 1, round(2 / 3, 4)),
    ]

    def totals(**params):
        t = report(client, **params)["totals"]
        return t["encounters"], t["accepted"], t["rejected"], t["added"]

    assert totals(since="2026-11-17") == (2, 3, 2, 2)  # B and C
    assert totals(until="2026-11-17") == (1, 2, 0, 1)  # A
    assert totals(since="2026-11-18", until="2026-11-18") == (1, 1, 1, 2)  # B: whole UTC days, inclusive
    assert totals(pack="old") == totals(pack=OLD) == (2, 3, 1, 3)  # a name means all its versions
    assert totals(pack=new) == (1, 2, 1, 0)
    assert totals(pack="ol") == (0, 0, 0, 0)  # a name matches up to the '@', not any prefix
    assert totals(system="CPT") == (3, 0, 0, 0)
    assert totals(system="ICD-10-CM") == (3, 5, 2, 3)
    assert report(client, top=1)["top_rejected"][0]["code"] == "E78.5"
    assert len(report(client, top=1)["top_added"]) == 1

    # Open encounters someone decided on, dated by their latest decision (today); untouched ones never.
    with_open = report(client, include_open="true")
    assert with_open["totals"]["encounters"] == 4
    assert (with_open["totals"]["accepted"], with_open["totals"]["pending"]) == (6, 4 * n - 8)
    today = datetime.now(UTC).date().isoformat()
    assert with_open["over_time"]["all"][-1]["period"] == today or today < "2026-11-23"

    empty = report(client, since="2999-01-01")
    assert empty["totals"]["encounters"] == 0 and empty["totals"]["acceptance_rate"] is None
    assert empty["by_pack"] == [] and empty["over_time"]["periods"] == [] and empty["top_added"] == []


def test_only_data_scientists_and_admins_read_it(client, reviewed):
    assert client.get(ROUTE, headers=client.h("data_scientist")).status_code == 200
    assert client.get(ROUTE, headers=client.h("admin")).status_code == 200
    for role in ("coder", "biller"):
        r = client.get(ROUTE, headers=client.h(role))
        assert r.status_code == 403, role
        assert r.json()["detail"] == f"this needs the data_scientist or admin role; you are {role}"
    key = client.post("/v1/keys", headers=client.h("admin"), json={"name": "EHR", "role": "ehr"}).json()["key"]
    assert client.get(ROUTE, headers={"Authorization": f"Bearer {key}"}).status_code == 403
    assert client.get(ROUTE).status_code == 401


@pytest.mark.parametrize(
    ("params", "field", "says"),
    [
        ({"since": "2026-12-01", "until": "2026-11-01"}, None, "'since' parameter must be on or before 'until'"),
        ({"since": "yesterday"}, "query.since", "date"),
        ({"until": "2026-02-30"}, "query.until", "date"),
        ({"bucket": "month"}, "query.bucket", "'day' or 'week'"),
        ({"top": "0"}, "query.top", "greater than or equal to 1"),
        ({"top": "101"}, "query.top", "less than or equal to 100"),
        ({"top": "ten"}, "query.top", "integer"),
        ({"system": "ICD-9"}, "query.system", "ICD-10-CM"),
        ({"pack": "x" * 201}, "query.pack", "at most 200 characters"),
        ({"pack": ""}, "query.pack", "at least 1 character"),
        ({"include_open": "maybe"}, "query.include_open", "boolean"),
    ],
)
def test_bad_parameters_are_422_saying_which_and_why(client, params, field, says):
    r = client.get(ROUTE, headers=client.h("data_scientist"), params=params)
    assert r.status_code == 422, r.text
    body = r.json()
    if field is None:
        assert body["error"] == "invalid_input" and says in body["detail"]
    else:
        assert body["error"] == "invalid_request"
        [problem] = body["detail"]
        assert problem["field"] == field and says in problem["message"], problem


def _cli(client, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHARTCODER_DATABASE_URL": client.db_url}
    exe = str(Path(sys.executable).parent / "chartcoder")
    return subprocess.run([exe, "feedback", "report", *args], env=env, capture_output=True, text=True, timeout=120)


def test_cli_report_reads_the_same_numbers_from_the_database(client, reviewed):
    done = _cli(client, "--json", "--bucket", "week", "--top", "5")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == report(client, bucket="week", top=5)

    done = _cli(client, "--pack", "old", "--since", "2026-11-01", "--until", "2026-11-30")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert (
        "2 finalized encounters" in text and "acceptance rate 75.0%" in text and "(3 of 4 decided suggestions)" in text
    )
    assert OLD in text and reviewed["new"] not in text
    assert "Z79.4" in text and "E11.9" in text  # most added by hand
    assert "2026-11-16" in text and "2026-11-18" in text  # by day

    bad = _cli(client, "--bucket", "month")
    assert bad.returncode == 2 and "day" in bad.stderr and "week" in bad.stderr
    bad = _cli(client, "--since", "yesterday")
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
    bad = _cli(client, "--since", "2026-12-01", "--until", "2026-11-01")
    assert bad.returncode == 2 and "since" in bad.stderr


def test_thousands_of_encounters_add_up(client):
    """3,000 finalized encounters with 7 suggestions and 6 decisions each (18,000 decisions), written
    straight to the store: the aggregation in the database counts every one exactly, across pack
    versions (speed is not asserted here: tests are not benchmarks)."""
    from chartcoder.store.accounts import User
    from chartcoder.store.review import Decision, Encounter, SuggestionSet

    store = client.app.state.review.store
    codes = ["E11.22", "N18.32", "I10", "E78.5", "I12.9", "R00.2", "Z79.4", "E66.9"]
    start = datetime(2026, 1, 5, 12, tzinfo=UTC)
    with store.session() as s:
        user_id = s.query(User.id).filter(User.username == "coder1").scalar()
        encounters, sets, decisions = [], [], []
        for i in range(3000):
            at = start + timedelta(hours=7 * i)
            eid = f"enc_perf{i:06d}"
            encounters.append(
                {
                    "id": eid,
                    "note_text": "synthetic",
                    "setting": "outpatient",
                    "patient": {},
                    "provider": {},
                    "payer": {},
                    "status": "finalized",
                    "version": 3,
                    "created_at": at,
                    "updated_at": at,
                    "finalized_at": at,
                    "finalized_by": user_id,
                }
            )
            sets.append(
                {
                    "id": 100000 + i,
                    "encounter_id": eid,
                    "model": f"perf@{i // 1000:012d}",
                    "code_set_release": "ICD-10-CM FY2026",
                    "suggestions": [
                        {"code": c, "system": "ICD-10-CM", "description": c, "score": 0.5} for c in codes[:7]
                    ],
                    "created_at": at,
                }
            )
            for j, (action, code) in enumerate(
                [("accept", codes[i % 7]), ("reject", codes[(i + 1) % 7]), ("accept", codes[(i + 2) % 7])]
                + [("add", "E66.9"), ("reject", codes[i % 7]), ("accept", codes[(i + 3) % 7])]
            ):
                decisions.append(
                    {
                        "encounter_id": eid,
                        "suggestion_set_id": 100000 + i,
                        "action": action,
                        "code": code,
                        "system": "ICD-10-CM",
                        "reason": "other" if action == "reject" else None,
                        "user_id": user_id,
                        "encounter_version": 2,
                        "created_at": at + timedelta(seconds=j),
                    }
                )
        s.execute(insert(Encounter), encounters)
        s.execute(insert(SuggestionSet), sets)
        s.execute(insert(Decision), decisions)

    out = report(client, bucket="week")
    t = out["totals"]
    assert t["encounters"] == 3000 and t["added"] == 3000
    # Per encounter: the first code accepted then rejected, the second rejected, two more accepted.
    assert (t["accepted"], t["rejected"], t["pending"]) == (6000, 6000, 9000)
    assert [p["pack"] for p in out["by_pack"]] == [f"perf@{k:012d}" for k in range(3)]
    assert sum(p["accepted"] for p in out["over_time"]["all"]) == 6000
