"""The retraining export: finalized encounters as audited-chart JSONL over the API (data_scientist)
and the CLI, read back by the training reader; SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

NOTE = (
    "Assessment: Type 2 diabetes mellitus with diabetic chronic kidney disease stage 3b. "
    "Essential hypertension. Hyperlipidemia.\n"
)
PATIENT = {"name": "Zelda Quistorff", "sex": "F", "birth_date": "1951-07-23"}


def review(client, decisions, finalize=True) -> str:
    h = client.h("coder")
    enc = client.post(
        "/v1/encounters", headers=h, json={"text": NOTE, "patient": PATIENT, "date_of_service": "2026-11-20"}
    ).json()
    r = client.post(f"/v1/encounters/{enc['id']}/decisions", headers=h, json={"version": 1, "decisions": decisions})
    assert r.status_code == 200, r.text
    if finalize:
        assert client.post(f"/v1/encounters/{enc['id']}/finalize", headers=h, json={"version": 2}).status_code == 200
    return enc["id"]


def test_finalized_encounters_export_as_audited_charts(client, tmp_path):
    from chartcoder.training.readers import read_audited_jsonl

    first = review(
        client,
        [
            {"action": "accept", "code": "E11.22"},
            {"action": "reject", "code": "E78.5", "reason": "not_documented"},
            {"action": "add", "code": "Z79.4"},
        ],
    )
    second = review(client, [{"action": "accept", "code": "N18.32"}, {"action": "accept", "code": "E11.22"}])
    review(client, [{"action": "accept", "code": "E11.22"}], finalize=False)  # still open: not exported
    r = client.get("/v1/audits/export", headers=client.h("data_scientist"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    assert (r.headers["x-chartcoder-charts"], r.headers["x-chartcoder-codes"], r.headers["x-chartcoder-decisions"]) == (
        "2",
        "5",
        "5",
    )
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert [c["id"] for c in lines] == [first, second]
    assert {(c["code"], c["decision"]) for c in lines[0]["codes"]} == {
        ("E11.22", "accepted"),
        ("E78.5", "rejected"),
        ("Z79.4", "added"),
    }
    assert lines[0]["encounter"] == {
        "setting": "outpatient",
        "sex": "F",
        "age": 75,
        "date": "2026-11-20",
        "model": lines[0]["encounter"]["model"],
    }
    assert "Quistorff" not in r.text and "1951" not in r.text  # the text a model learns from, not who it is
    path = tmp_path / "audited.jsonl"
    path.write_text(r.text)
    records = read_audited_jsonl(path)
    assert [rec.text for rec in records] == [NOTE, NOTE]
    assert records[0].positives() == ["E11.22", "Z79.4"]
    assert [c.code for c in records[0].codes if not c.positive] == ["E78.5"]
    # an accepted suggestion carries the sentences of its evidence (what the re-ranker mines terms
    # from); a rejected or hand-added code carries none
    by_code = {c["code"]: c for c in lines[0]["codes"]}
    assert by_code["E11.22"]["evidence"] == [
        "Assessment: Type 2 diabetes mellitus with diabetic chronic kidney disease stage 3b."
    ]
    assert "evidence" not in by_code["E78.5"] and "evidence" not in by_code["Z79.4"]
    assert records[0].evidence == {"E11.22": by_code["E11.22"]["evidence"]}


def test_export_roles_and_dates(client):
    review(client, [{"action": "accept", "code": "E11.22"}])
    assert client.get("/v1/audits/export", headers=client.h("coder")).status_code == 403
    assert client.get("/v1/audits/export", headers=client.h("biller")).status_code == 403
    r = client.get("/v1/audits/export?since=2026-12-31&until=2026-01-01", headers=client.h("data_scientist"))
    assert r.status_code == 422
    future = client.get("/v1/audits/export?since=2999-01-01", headers=client.h("data_scientist"))
    assert future.status_code == 200 and future.text == "" and future.headers["x-chartcoder-charts"] == "0"
    today = client.get("/v1/audits/export?until=2999-01-01", headers=client.h("data_scientist"))
    assert today.headers["x-chartcoder-charts"] == "1"


def test_cli_export_writes_the_file_and_says_what_it_holds(client, tmp_path):
    review(client, [{"action": "accept", "code": "E11.22"}, {"action": "reject", "code": "E78.5", "reason": "other"}])
    out = tmp_path / "charts.jsonl"
    env = {**os.environ, "CHARTCODER_DATABASE_URL": client.db_url}
    exe = str(Path(sys.executable).parent / "chartcoder")
    done = subprocess.run([exe, "audits", "export", "--out", str(out)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "1 charts, 2 codes, 2 decisions" in done.stderr
    [chart] = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted((c["code"], c["system"], c["decision"]) for c in chart["codes"]) == [
        ("E11.22", "ICD-10-CM", "accepted"),
        ("E78.5", "ICD-10-CM", "rejected"),
    ]
    bad = subprocess.run(
        [exe, "audits", "export", "--out", str(out), "--since", "yesterday"], env=env, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr


def test_the_export_pages_through_every_chart_once(client):
    ids = [review(client, [{"action": "accept", "code": "E11.22"}]) for _ in range(5)]
    charts = [chart["id"] for chart, _ in client.app.state.review.iter_audited(batch=2)]
    assert charts == ids  # three pages of two, each chart once, in finalization order
