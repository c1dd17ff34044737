"""`chartcoder bulk predict` on real files, a real trained pack and a real Spark session (local[2]):
the suggestions equal `chartcoder predict`'s note for note, bad rows land in the failures output with
their error and position while the others are written, a tampered pack is refused, and the inputs
come as JSONL, CSV and Parquet."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from chartcoder.cli import app
from chartcoder.spark import spark_available

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pd = pytest.importorskip("pandas")

SPARK_OK, SPARK_WHY = spark_available()
needs_spark = [
    pytest.mark.spark,
    pytest.mark.skipif(not SPARK_OK, reason=f"Spark cannot run here: {SPARK_WHY}"),
]
TOO_LONG = "Hypertension. " * 15_000  # 210,000 characters: over the 200,000 default limit


def cli(*args: Any) -> Any:
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "500"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.fixture(scope="module")
def pack(tmp_path_factory) -> Path:
    """A small diagnosis pack trained on synthetic notes (seconds), as tests/review/test_registry.py."""
    from chartcoder.training.readers import read_synthetic
    from chartcoder.training.train import train_pack

    out = tmp_path_factory.mktemp("pack") / "bulk-test"
    return train_pack(read_synthetic("60:11"), out, task="diagnosis", name="bulk-test")


@pytest.fixture(scope="module")
def notes() -> list[dict[str, Any]]:
    """200 synthetic notes the pack has not seen; every fifth without an encounter."""
    from chartcoder.training.readers import read_synthetic

    out = []
    for i, r in enumerate(read_synthetic("200:21")):
        note: dict[str, Any] = {"id": r.id, "text": r.text}
        if i % 5:
            note["encounter"] = {k: v for k, v in r.encounter.items() if k != "kind"}
        out.append(note)
    return out


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def encounter_text(note: dict[str, Any]) -> str | None:
    enc = note.get("encounter")
    return enc if isinstance(enc, str) or enc is None else json.dumps(enc)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    frame = pd.DataFrame(
        [{"id": r.get("id", ""), "text": r["text"], "encounter": encounter_text(r) or ""} for r in rows]
    )
    frame.to_csv(path, index=False)
    return path


def write_parquet(path: Path, rows: list[dict[str, Any]], struct_encounter: bool = False) -> Path:
    encounters = [r.get("encounter") for r in rows] if struct_encounter else [encounter_text(r) for r in rows]
    table = pa.table({"id": [r.get("id") for r in rows], "text": [r["text"] for r in rows], "encounter": encounters})
    pq.write_table(table, path)
    return path


@pytest.fixture(scope="module")
def expected(tmp_path_factory, notes, pack) -> dict[str, dict[str, Any]]:
    """What `chartcoder predict` answers for the 200 notes, by id."""
    folder = tmp_path_factory.mktemp("predict")
    src = write_jsonl(folder / "notes.jsonl", notes)
    out = folder / "preds.jsonl"
    result = cli("predict", "--input", src, "--output", out, "--model", pack)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(notes)
    assert sum(len(r["suggestions"]) for r in rows) > 3 * len(rows)  # the comparison is about something
    return {r["id"]: r for r in rows}


@pytest.fixture(scope="module")
def spark():
    if not SPARK_OK:
        pytest.skip(f"Spark cannot run here: {SPARK_WHY}")
    from chartcoder.spark import get_session

    session = get_session("local[2]", "chartcoder-bulk-tests", {"spark.sql.shuffle.partitions": "4"})
    yield session
    session.stop()


def read_rows(folder: Path) -> list[dict[str, Any]]:
    return pq.read_table(folder).to_pylist()


def bulk(engine: str, src: Path, out: Path, pack: Path, *extra: str) -> tuple[Any, dict[str, Any]]:
    summary = out.parent / f"{out.name}.summary.json"
    args = ["bulk", "predict", "--engine", engine, "--input", src, "--output", out, "--model", pack]
    if engine == "spark":
        args += ["--master", "local[2]"]
    result = cli(*args, "--summary", summary, *extra)
    return result, json.loads(summary.read_text()) if summary.exists() else {}


# ---------------------------------------------------------------- equal to `chartcoder predict`


@pytest.mark.spark
def test_spark_codes_200_notes_exactly_as_predict(spark, tmp_path, notes, expected, pack):
    src = write_jsonl(tmp_path / "notes.jsonl", notes)
    out = tmp_path / "out"
    result, summary = bulk("spark", src, out, pack)
    assert result.exit_code == 0, result.output

    rows = read_rows(out)
    assert len(rows) == len(notes)
    assert {r["id"]: r for r in rows} == expected
    assert read_rows(tmp_path / "out_failures") == []
    assert summary["engine"] == "spark" and summary["master"] == "local[2]" and summary["cores"] == 2
    assert summary["notes"] == 200 and summary["coded"] == 200 and summary["failures"] == 0
    assert summary["suggestions"] == sum(len(r["suggestions"]) for r in expected.values())
    assert summary["model"] == "bulk-test@" + json.loads((pack / "model_card.json").read_text())["version"]
    assert summary["notes_per_second"] > 0 and summary["partitions"] >= 2
    # once per Python worker (local[2] runs at most two at a time), never per batch or row
    assert 1 <= summary["pack_loads"] <= 2
    # the explicit Spark schema is the documented one, nested evidence included
    from chartcoder.bulk.io import arrow_schemas

    assert pq.read_schema(next(out.glob("part-*.parquet"))).remove_metadata().equals(arrow_schemas()[0])


def test_local_engine_codes_200_notes_exactly_as_predict(tmp_path, notes, expected, pack):
    # Parquet with the encounter as a struct column, the other way a data platform stores it
    src = write_parquet(tmp_path / "notes.parquet", notes, struct_encounter=True)
    out = tmp_path / "out"
    result, summary = bulk("local", src, out, pack)
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    assert [r["id"] for r in rows] == [n["id"] for n in notes]  # the local engine keeps input order
    assert {r["id"]: r for r in rows} == expected
    assert summary["engine"] == "local" and summary["notes"] == 200 and summary["failures"] == 0
    assert json.loads(result.stdout) == summary  # the summary also goes to stdout


# ---------------------------------------------------------------- bad rows, every format, both engines


def mixed_rows(notes: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Twenty good notes with five bad ones between them, and last a good note without an id:
    (rows, error fragment by bad id)."""
    good = notes[:20]
    bad = [
        ({"id": "bad-setting", "text": good[0]["text"], "encounter": {"setting": "er"}}, "encounter.setting"),
        ({"id": "bad-age", "text": good[1]["text"], "encounter": {"age": 200}}, "encounter.age"),
        ({"id": "empty", "text": "   "}, "'text' is empty"),
        ({"id": "too-long", "text": TOO_LONG}, "the limit is 200,000"),
        ({"id": "enc-not-json", "text": good[2]["text"], "encounter": "{setting: inpatient"}, "not valid JSON"),
    ]
    rows = good[:7] + [b[0] for b in bad[:2]] + good[7:14] + [b[0] for b in bad[2:]] + good[14:]
    rows.append({"text": good[3]["text"], "encounter": good[3].get("encounter")})  # named by its position
    return rows, {b[0]["id"]: b[1] for b in bad}


def check_written(out: Path, rows: list[Any], errors: dict[str, str], expected: dict[str, Any], notes: list) -> None:
    """Every good row written as `predict` wrote it; the one without an id named by its position."""
    written = {r["id"]: r for r in read_rows(out)}
    good_ids = [r["id"] for r in rows if isinstance(r, dict) and "id" in r and r["id"] not in errors]
    no_id_position = str(len(rows))
    assert set(written) == {*good_ids, no_id_position}
    for note_id in good_ids:
        assert written[note_id] == expected[note_id]
    assert written[no_id_position]["suggestions"] == expected[notes[3]["id"]]["suggestions"]


def check_failures(out: Path, rows: list[Any], errors: dict[str, str]) -> dict[Any, dict[str, Any]]:
    """Each bad row in the failures output once, with its error, its 1-based position and its file."""
    failures = read_rows(Path(f"{out}_failures"))
    by_id = {f["id"]: f for f in failures}
    assert len(by_id) == len(failures)
    line_of = {r.get("id"): n for n, r in enumerate(rows, 1) if isinstance(r, dict)}
    for note_id, fragment in errors.items():
        failure = by_id[note_id]
        assert fragment in failure["error"], failure
        assert failure["position"] == line_of[note_id], failure
        assert failure["source"].startswith("file:") and failure["source"].endswith((".parquet", ".csv", ".jsonl"))
        assert "Hypertension" not in failure["error"]  # never the note text
    return by_id


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("engine", ["local", pytest.param("spark", marks=needs_spark)])
def test_bad_rows_go_to_failures_and_the_rest_is_written(request, tmp_path, notes, expected, pack, fmt, engine):
    if engine == "spark":
        request.getfixturevalue("spark")
    rows, errors = mixed_rows(notes)
    src = (write_csv if fmt == "csv" else write_parquet)(tmp_path / f"notes.{fmt}", rows)
    out = tmp_path / "out"
    extra = ("--ship-pack",) if (engine, fmt) == ("spark", "parquet") else ()
    result, summary = bulk(engine, src, out, pack, *extra)
    assert result.exit_code == 0, result.output  # the job does not die on bad rows
    assert "5 of 26 notes failed" in result.stderr
    assert summary["notes"] == len(rows) == 26 and summary["failures"] == 5 and summary["coded"] == 21
    if extra:  # the shipped copy (SparkFiles) is another path: each worker verified and loaded it
        assert summary["pack_loads"] >= 1
    check_written(out, rows, errors, expected, notes)
    assert set(check_failures(out, rows, errors)) == set(errors)


@pytest.mark.parametrize("engine", ["local", pytest.param("spark", marks=needs_spark)])
def test_bad_jsonl_lines_go_to_failures_with_their_line_number(request, tmp_path, notes, expected, pack, engine):
    rows, errors = mixed_rows(notes)
    lines: list[Any] = list(rows)
    lines[20:20] = ["{not json", {"id": "text-number", "text": 42}, {"id": "no-text"}, ""]  # "" is a blank line
    errors = {**errors, "text-number": "must be a string", "no-text": "expected an object with 'id' and 'text'"}
    src = write_jsonl(tmp_path / "notes.jsonl", lines)
    out = tmp_path / "out"
    if engine == "spark":
        spark = request.getfixturevalue("spark")
        spark.conf.set("spark.sql.files.maxPartitionBytes", "8k")  # several input partitions: positions add up
        try:
            result, summary = bulk(engine, src, out, pack)
        finally:
            spark.conf.unset("spark.sql.files.maxPartitionBytes")
    else:
        result, summary = bulk(engine, src, out, pack)
    assert result.exit_code == 0, result.output
    assert summary["notes"] == len(lines) - 1 == 29 and summary["failures"] == 8  # a blank line is no note
    if engine == "spark":
        assert summary["partitions"] >= 2
    check_written(out, lines, errors, expected, notes)
    by_id = check_failures(out, lines, errors)
    assert set(by_id) == {*errors, None}
    assert "not valid JSON" in by_id[None]["error"] and by_id[None]["position"] == 1 + lines.index("{not json")


# ---------------------------------------------------------------- refusals


def tamper(pack: Path, folder: Path) -> Path:
    copy = folder / "tampered"
    shutil.copytree(pack, copy)
    target = copy / "ranker.joblib"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    return copy


@pytest.mark.parametrize("engine", ["local", pytest.param("spark", marks=needs_spark)])
def test_a_tampered_pack_is_refused(request, tmp_path, notes, pack, engine):
    if engine == "spark":
        request.getfixturevalue("spark")
    bad = tamper(pack, tmp_path)
    src = write_jsonl(tmp_path / "notes.jsonl", notes[:5])
    result, _ = bulk(engine, src, tmp_path / "out", bad)
    message = " ".join(result.stderr.split())
    assert result.exit_code == 2, result.output
    assert "SHA-256 does not match the manifest" in message and "ranker.joblib" in message
    assert not (tmp_path / "out").exists()


def test_executors_refuse_a_pack_that_is_not_the_one_the_driver_verified(tmp_path, pack):
    from chartcoder.bulk.predict import cached_service, manifest_digest
    from chartcoder.models.pack import PackError

    # a copy whose joblib was changed: its manifest is the driver's, its file is not
    bad = tamper(pack, tmp_path)
    with pytest.raises(PackError, match="SHA-256 does not match"):
        cached_service(str(bad), manifest_digest(pack))
    # a copy whose manifest was rewritten to match: not the manifest the driver verified
    other = tmp_path / "other"
    shutil.copytree(pack, other)
    (other / "MANIFEST.sha256").write_text((pack / "MANIFEST.sha256").read_text() + "\n")
    with pytest.raises(PackError, match="not the one the driver verified"):
        cached_service(str(other), manifest_digest(pack))


def test_clear_errors_for_what_cannot_run(tmp_path, notes, pack, monkeypatch):
    src = write_jsonl(tmp_path / "notes.jsonl", notes[:2])
    cases = [
        (["--input", tmp_path / "missing.jsonl"], "no such file or folder"),
        (["--input", (tmp_path / "notes.txt").resolve()], "cannot tell its format"),
        (["--input", src, "--format", "xml"], "must be one of parquet, csv, jsonl"),
        (["--input", src, "--model", tmp_path / "nopack"], "no model pack there"),
    ]
    (tmp_path / "notes.txt").write_text("x")
    for args, message in cases:
        result = cli("bulk", "predict", "--engine", "local", "--output", tmp_path / "out", "--model", pack, *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in " ".join(result.stderr.split()), (args, result.stderr)
    (tmp_path / "taken").mkdir()
    result = cli("bulk", "predict", "--engine", "local", "--input", src, "--output", tmp_path / "taken")
    assert result.exit_code == 2 and "already exists" in result.stderr
    # no Java: a plain message, not a py4j traceback
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java"))
    result = cli("bulk", "predict", "--engine", "spark", "--input", src, "--output", tmp_path / "o2", "--model", pack)
    assert result.exit_code == 2 and "Java" in result.stderr
