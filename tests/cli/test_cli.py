"""The `chartcoder` command: predict's JSONL contract, suggest, codes. The Typer app the console
script runs, invoked in-process (Typer's CliRunner: exit code, stdout and stderr apart), so the code set
and the engine load once for the module instead of once per command; the installed command itself runs
as a process in tests/cli/test_serve.py, tests/training/test_training_cli.py and tests/e2e/."""

from __future__ import annotations

import json
from dataclasses import dataclass

from typer.testing import CliRunner

from chartcoder.cli import app


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: bytes
    stderr: bytes


def run(*args: str, stdin: bytes | None = None) -> Done:
    result = CliRunner().invoke(app, list(args), input=stdin, env={"COLUMNS": "200"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash, not an exit code the command chose
    return Done(result.exit_code, result.stdout_bytes, result.stderr_bytes)


def test_predict_contract(tmp_path):
    notes = [
        {"id": "a", "text": "Assessment: right knee osteoarthritis. HTN.", "encounter": {"setting": "outpatient"}},
        {"id": "b", "text": "Probable pneumonia. Cough and fever.", "encounter": {"setting": "inpatient"}},
        {"id": "c", "text": "Denies chest pain."},
    ]
    src = tmp_path / "notes.jsonl"
    src.write_text("\n".join(json.dumps(n) for n in notes) + "\n")
    out = tmp_path / "preds.jsonl"
    proc = run("predict", "--input", str(src), "--output", str(out), "--top-k", "5")
    assert proc.returncode == 0, proc.stderr.decode()
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["id"] for x in lines] == ["a", "b", "c"]
    by_id = {x["id"]: x for x in lines}
    assert "M17.11" in [s["code"] for s in by_id["a"]["suggestions"]]
    assert "J18.9" in [s["code"] for s in by_id["b"]["suggestions"]]
    assert by_id["c"]["suggestions"] == []
    for rec, note in zip(lines, notes, strict=True):
        assert set(rec) == {"id", "model", "suggestions"}
        assert len(rec["suggestions"]) <= 5
        for s in rec["suggestions"]:
            # The contract's fields, plus the group (suggested | consider) issue 15 added.
            assert set(s) == {"code", "system", "description", "score", "evidence", "warnings", "group"}
            assert s["group"] in ("suggested", "consider")
            for ev in s["evidence"]:
                assert set(ev) == {"start", "end", "text", "assertion", "section"}
                assert note["text"][ev["start"] : ev["end"]] == ev["text"]


def test_predict_reports_bad_lines_and_keeps_the_rest(tmp_path):
    src = tmp_path / "notes.jsonl"
    src.write_bytes(b'{"id": "ok", "text": "COPD exacerbation"}\nnot json\n{"id": "e", "text": ""}\n')
    out = tmp_path / "preds.jsonl"
    proc = run("predict", "--input", str(src), "--output", str(out))
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert "line 2" in err and "line 3" in err and "empty" in err
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["ok"]


def test_predict_validates_encounters_like_the_api(tmp_path):
    src = tmp_path / "notes.jsonl"
    src.write_text(
        '{"id": "a", "text": "HTN", "encounter": {"age": "forty"}}\n'
        '{"id": "b", "text": "HTN", "encounter": {"setting": "INPATIENT"}}\n'
        '{"id": "c", "text": "HTN", "encounter": {"setting": "outpatient", "age": 40}}\n'
    )
    out = tmp_path / "preds.jsonl"
    proc = run("predict", "--input", str(src), "--output", str(out))
    err = proc.stderr.decode()
    assert proc.returncode == 1
    assert "line 1" in err and "encounter.age" in err
    assert "line 2" in err and "encounter.setting" in err
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["c"]


def test_cli_prints_user_text_literally():
    proc = run("codes", "search", "[/x] diabetes")
    assert proc.returncode == 0, proc.stderr.decode()
    proc = run("codes", "show", "[/x]")
    assert proc.returncode == 2 and "[/x]" in proc.stderr.decode()


def test_suggest_table_from_stdin():
    proc = run("suggest", "-", "--setting", "outpatient", stdin=b"Assessment: acute bronchitis. Former smoker.")
    assert proc.returncode == 0, proc.stderr.decode()
    text = proc.stdout.decode()
    assert "J20.9" in text and "Z87.891" in text


def test_suggest_rejects_binary_file(tmp_path):
    f = tmp_path / "note.bin"
    f.write_bytes(b"\xff\xfe\xfa binary")
    proc = run("suggest", str(f))
    assert proc.returncode == 2 and "not UTF-8" in proc.stderr.decode()


def test_codes_show_and_search():
    proc = run("codes", "show", "E11.22")
    assert proc.returncode == 0 and "diabetic chronic kidney disease" in proc.stdout.decode()
    proc = run("codes", "show", "E11.999")
    assert proc.returncode == 2 and "Unknown code" in proc.stderr.decode()
    proc = run("codes", "search", "knee osteoarthritis", "--system", "ICD-10-CM")
    assert proc.returncode == 0 and "M17" in proc.stdout.decode()
