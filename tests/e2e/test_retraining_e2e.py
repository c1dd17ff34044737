"""Retraining end to end, against the real server process and the real `chartcoder` command:

encounters created through the API by an EHR, decided by a coder (accepts, rejections with reasons,
codes added by hand), finalized; exported by a data scientist; a challenger trained on the synthetic
corpus plus the export; compared with the champion on held-out charts; registered and promoted by an
admin while EHR clients keep asking for suggestions (not one request fails, and each client sees the
champion until the switch and the challenger after it); rolled back.

The champion is promoted from the CLI, so that half also shows a running server following a
promotion made by another process (it polls the registry), without a restart."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest
from server_support import CLI_TIMEOUT, HTTP_TIMEOUT, LiveServer, create_user, sign_in

from chartcoder.training.readers import read_synthetic, write_audited_jsonl

CHARTS = 20
CLIENTS = 4
# Both packs train on this synthetic corpus (N:SEED). The assertions need a champion that gets some of
# the charts' codes right and misses or adds others, which a small corpus gives; training is most of
# this test's time, so the corpus is no bigger than that.
CORPUS = "40:3"
# `chartcoder train` takes seconds on a quiet machine and several times that on a loaded two-core
# runner (CI once needed more than 120 s for 100 notes); the timeout only catches a hang.
TRAIN_TIMEOUT = 900.0


def wait_for_model(server: LiveServer, prefix: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while True:
        model = httpx.get(server.base_url + "/readyz", timeout=10).json()["model"]
        if model.startswith(prefix):
            return str(model)
        if time.monotonic() > deadline:
            pytest.fail(f"the server still serves {model} {timeout:.0f} s after {prefix} was promoted")
        time.sleep(0.2)


def run_ok(server: LiveServer, *args: str, timeout: float = CLI_TIMEOUT) -> str:
    done = server.chartcoder(*args, timeout=timeout)
    assert done.returncode == 0, f"chartcoder {' '.join(args)} failed:\n{(done.stdout + done.stderr)[-3000:]}"
    return done.stdout + done.stderr


def test_export_retrain_compare_promote_and_roll_back(tmp_path: Path):
    models = tmp_path / "models"
    server = LiveServer(
        data_dir=tmp_path / "data",
        log_path=tmp_path / "server.log",
        extra_env={"CHARTCODER_MODEL_DIR": str(models), "CHARTCODER_REGISTRY_POLL_SECONDS": "0.5"},
    )
    server.data_dir.mkdir()
    # the champion: a small pack on synthetic notes, registered and promoted from the CLI
    run_ok(server, "train", "--format", "synthetic", "--data", CORPUS, "--task", "diagnosis",
           "--name", "champion", "--out", str(models / "champion"), timeout=TRAIN_TIMEOUT)  # fmt: skip
    server.start()
    try:
        _scenario(server, models, tmp_path)
    finally:
        server.stop()
    assert "Traceback" not in server.log_text()


def _scenario(server: LiveServer, models: Path, tmp_path: Path) -> None:
    out = run_ok(server, "models", "register", str(models / "champion"), "--note", "synthetic baseline")
    champion = out.split("registered: ")[1].split(";")[0].strip()
    assert champion.startswith("champion@")
    assert httpx.get(server.base_url + "/readyz").json()["model"].startswith("chartcoder-knowledge")
    run_ok(server, "models", "promote", champion)
    assert wait_for_model(server, "champion@") == champion  # the running server followed the CLI

    coder = sign_in(server, create_user(server, "coder1", "coder"))
    scientist = sign_in(server, create_user(server, "ds1", "data_scientist"))
    admin = sign_in(server, create_user(server, "admin1", "admin"))
    ehr = httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {server.ehr_key}"}, timeout=HTTP_TIMEOUT
    )

    # encounters from the EHR; the coder decides them against the charts' true codes
    charts = read_synthetic(f"{CHARTS}:21")
    sent = {"accept": 0, "reject": 0, "add": 0}
    for chart in charts:
        r = ehr.post("/v1/encounters", json={"text": chart.text, "external_id": chart.id})
        assert r.status_code == 201, r.text
        enc = r.json()
        assert enc["suggestion_set"]["model"] == champion
        gold = set(chart.positives({"ICD-10-CM"}))
        suggested = {c["code"] for c in enc["codes"] if c["system"] == "ICD-10-CM"}
        decisions = [
            {"action": "accept", "code": code}
            if code in gold
            else {"action": "reject", "code": code, "reason": "not_documented"}
            for code in sorted(suggested)
        ] + [{"action": "add", "code": code} for code in sorted(gold - suggested)]
        for d in decisions:
            sent[d["action"]] += 1
        r = coder.post(
            f"/v1/encounters/{enc['id']}/decisions", json={"version": enc["version"], "decisions": decisions}
        )
        assert r.status_code == 200, r.text
        r = coder.post(f"/v1/encounters/{enc['id']}/finalize", json={"version": r.json()["version"]})
        assert r.status_code == 200, r.text
    assert sent["reject"] > 0 and sent["add"] > 0 and sent["accept"] > 0, sent

    # export, as the data scientist downloads it
    export = scientist.get("/v1/audits/export")
    assert export.status_code == 200
    assert int(export.headers["X-Chartcoder-Charts"]) == CHARTS
    assert int(export.headers["X-Chartcoder-Decisions"]) == sum(sent.values())
    audited = tmp_path / "audited.jsonl"
    audited.write_bytes(export.content)
    rows = [json.loads(line) for line in export.text.splitlines()]
    decided = [c["decision"] for row in rows for c in row["codes"]]
    assert decided.count("rejected") == sent["reject"] and decided.count("added") == sent["add"]

    # a challenger on the synthetic corpus plus the coders' charts (weighted), and the comparison
    run_ok(server, "train", "--source", f"synthetic:{CORPUS}", "--source", f"jsonl:{audited}:2", "--task", "diagnosis",
           "--name", "challenger", "--out", str(models / "challenger"), timeout=TRAIN_TIMEOUT)  # fmt: skip
    card = json.loads((models / "challenger" / "model_card.json").read_text())
    assert [s["format"] for s in card["training"]["sources"]] == ["synthetic", "jsonl"]
    holdout = tmp_path / "holdout.jsonl"
    write_audited_jsonl(read_synthetic("25:77"), holdout)
    report = tmp_path / "compare"
    said = run_ok(server, "models", "compare", str(models / "champion"), str(models / "challenger"),
                  "--format", "jsonl", "--data", str(holdout), "--boot", "200", "--report", str(report))  # fmt: skip
    result = json.loads((report / "comparison.json").read_text())
    assert result["charts"] == 25 and {"champion", "challenger", "MAP_difference"} <= result.keys()
    assert " ".join(result["summary"].split()) in " ".join(said.split()), "the verdict is printed"
    assert (report / "comparison.png").stat().st_size > 0

    # register through the API, promote while EHR clients keep asking for suggestions
    r = scientist.post("/v1/models/register", json={"path": "challenger", "note": "retrained on audits"})
    assert r.status_code == 201, r.text
    challenger = r.json()["ref"]
    seen: list[list[tuple[int, str]]] = [[] for _ in range(CLIENTS)]
    stop = threading.Event()

    def ask(i: int) -> None:
        with httpx.Client(base_url=server.base_url, headers=ehr.headers, timeout=HTTP_TIMEOUT) as c:
            n = 0
            while not stop.is_set():
                chart = charts[(i * 7 + n) % len(charts)]
                n += 1
                try:
                    resp = c.post("/v1/suggestions", json={"text": chart.text})
                    seen[i].append((resp.status_code, resp.json().get("model", "")))
                except httpx.HTTPError as exc:
                    seen[i].append((0, type(exc).__name__))

    # daemon threads, stopped whatever happens: a failed promotion must fail the test, not leave four
    # clients asking a stopped server forever (which kept pytest from exiting)
    threads = [threading.Thread(target=ask, args=(i,), daemon=True) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.5)
        promoted = admin.post("/v1/models/promote", json={"ref": challenger, "reason": "compare: see report"})
        time.sleep(1.5)
    finally:
        stop.set()
        for t in threads:
            t.join(HTTP_TIMEOUT)
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["serving"] == challenger
    for answers in seen:
        assert answers and all(status == 200 for status, _ in answers), answers
        models_seen = [m for _, m in answers]
        switch = models_seen.index(challenger) if challenger in models_seen else len(models_seen)
        assert set(models_seen[:switch]) <= {champion} and set(models_seen[switch:]) == {challenger}, models_seen
    assert sum(len(a) for a in seen) > 2 * CLIENTS, "the clients asked too little to show anything"
    r = ehr.post("/v1/encounters", json={"text": charts[0].text})
    assert r.json()["suggestion_set"]["model"] == challenger

    # and back
    back = admin.post("/v1/models/rollback", json={"reason": "coders disagree"})
    assert back.status_code == 200 and back.json()["serving"] == champion
    assert ehr.post("/v1/suggestions", json={"text": charts[0].text}).json()["model"] == champion
    listing = scientist.get("/v1/models").json()
    assert [(h["action"], h["pack"]) for h in listing["history"]] == [
        ("rollback", champion),
        ("promote", challenger),
        ("promote", champion),
    ]
    registry = json.loads(run_ok(server, "models", "registry", "--json"))
    assert registry["active"] == champion and registry["history"][0]["reason"] == "coders disagree"
    assert {p["ref"] for p in registry["packs"]} == {champion, challenger}
