"""Active learning: the worklist ordered by the model's uncertainty about each encounter (summed
binary entropy of its suggestions' scores), on real SQLite and PostgreSQL; and the migration that
fills the uncertainty in for encounters stored before it existed."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import text

from chartcoder.domain.uncertainty import uncertainty

NOTES = [
    "Assessment: type 2 diabetes mellitus with diabetic chronic kidney disease, stage 3b. Hypertension.",
    "Patient seen. Doing well. Return in one year.",
    "Assessment: essential hypertension.",
    "Chest pain, possibly angina; rule out myocardial infarction. Cough. Fatigue. Knee pain.",
    "Acute bronchitis. Asthma, mild intermittent, uncomplicated. Tobacco use.",
]


def test_uncertainty_is_summed_binary_entropy():
    assert uncertainty([]) is None
    assert uncertainty([0.5]) == pytest.approx(1.0)
    assert uncertainty([0.5, 0.5]) == pytest.approx(2.0)
    assert uncertainty([0.95]) == pytest.approx(-(0.95 * math.log2(0.95) + 0.05 * math.log2(0.05)), abs=1e-6)
    assert uncertainty([0.0, 1.0]) == pytest.approx(0.0, abs=1e-6)
    assert uncertainty([0.5]) > uncertainty([0.9]) > uncertainty([0.99])


def test_the_worklist_puts_the_most_uncertain_first(client):
    created = []
    for note in NOTES:
        r = client.post("/v1/encounters", json={"text": note}, headers=client.h("coder"))
        assert r.status_code == 201, r.text
        created.append(r.json())
    listing = client.get("/v1/encounters?order=uncertainty", headers=client.h("coder")).json()["items"]
    assert len(listing) == len(NOTES)
    by_id = {e["id"]: e for e in created}
    for item in listing:  # the stored value is the entropy of the stored suggestions' scores
        scores = [c["score"] for c in by_id[item["id"]]["codes"] if c.get("score") is not None]
        expected = uncertainty(scores)
        assert item["uncertainty"] == (pytest.approx(expected, abs=1e-5) if expected is not None else None)
    values = [i["uncertainty"] for i in listing]
    nones = values.count(None)
    assert values[:nones] == [None] * nones, "encounters with no suggestion at all come first"
    assert values[nones:] == sorted(values[nones:], reverse=True)
    assert len(set(values)) > 2, "the notes were chosen to differ; a constant would test nothing"
    bad = client.get("/v1/encounters?order=entropy", headers=client.h("coder"))
    assert bad.status_code == 422 and "uncertainty" in bad.text


def test_migration_fills_uncertainty_for_stored_encounters(db_url):
    from alembic import command

    from chartcoder.store.database import _config, make_engine, migrate

    engine = make_engine(db_url)
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
    with engine.begin() as conn:
        for i, scores in enumerate(([0.5, 0.9], [], [0.99])):
            conn.execute(
                text(
                    "INSERT INTO encounters (id, note_text, setting, patient, provider, payer, status, version,"
                    " created_at, updated_at) VALUES (:id, 'x', 'outpatient', '{}', '{}', '{}', 'open', 1,"
                    " :at, :at)"
                ),
                {"id": f"enc_{i}", "at": "2026-11-01 00:00:00"},
            )
            conn.execute(
                text(
                    "INSERT INTO suggestion_sets (encounter_id, model, code_set_release, suggestions, created_at)"
                    " VALUES (:id, 'm@1', 'FY2026', :s, '2026-11-01 00:00:00')"
                ),
                {"id": f"enc_{i}", "s": "[" + ",".join(f'{{"code": "X", "score": {s}}}' for s in scores) + "]"},
            )
    migrate(engine)
    with engine.connect() as conn:
        got = dict(conn.execute(text("SELECT id, uncertainty FROM encounters ORDER BY id")).all())
    engine.dispose()
    assert got["enc_0"] == pytest.approx(uncertainty([0.5, 0.9]), abs=1e-6)
    assert got["enc_1"] is None
    assert got["enc_2"] == pytest.approx(uncertainty([0.99]), abs=1e-6)
