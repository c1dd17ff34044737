"""`chartcoder bulk predict` on real files, a real trained pack and a real Spark session (local[2]):
the suggestions equal `chartcoder predict`'s note for note, bad rows (malformed CSV, ids that are not
Unicode) land in the failures output with their error and position while the others are written, a
tampered pack is refused, outputs that would overwrite the input or the pack are refused, and the
inputs come as JSONL, CSV and Parquet."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
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
# In every note: no error, log line or summary may ever show it (note text is PHI).
SENTINEL = "Zqxvorbeth"
TOO_LONG = f"Hypertension {SENTINEL}. " * 10_000  # 240,000 characters: over the 200,000 default limit


def cli(*args: Any) -> Any:
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "500"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.fixture(scope="module")
def pack(tmp_path_factory) -> Path:
    """A small diagnosis pack trained on synthetic notes (seconds), as tests/models/test_registry.py."""
    from chartcoder.training.readers import read_synthetic
    from chartcoder.training.train import train_pack

    out = tmp_path_factory.mktemp("pack") / "bulk-test"
    return train_pack(read_synthetic("60:11"), out, task="diagnosis", name="bulk-test")


@pytest.fixture(scope="module")
def notes() -> list[dict[str, Any]]:
    """200 synthetic notes the pack has not seen, each with the sentinel; every fifth without an encounter."""
    from chartcoder.training.readers import read_synthetic

    out = []
    for i, r in enumerate(read_synthetic("200:21")):
        note: dict[str, Any] = {"id": r.id, "text": f"{r.text}\nRef {SENTINEL}.\n"}
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
    assert summary["pack"] == str(pack) and summary["pack_shipped"] is False and summary["pack_paths"] == [str(pack)]
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
    for failure in failures:
        assert SENTINEL not in failure["error"]  # never the note text
    return by_id


# Spark reads CSV and Parquet through the same mapInPandas path: in `make test` it runs on Parquet
# (CSV's own Spark reader is covered by the malformed-CSV test); `make test-slow` runs both.
@pytest.mark.parametrize(
    ("engine", "fmt"),
    [
        ("local", "csv"),
        ("local", "parquet"),
        pytest.param("spark", "parquet", marks=needs_spark),
        pytest.param("spark", "csv", marks=[*needs_spark, pytest.mark.slow]),
    ],
)
def test_bad_rows_go_to_failures_and_the_rest_is_written(request, tmp_path, notes, expected, pack, fmt, engine):
    if engine == "spark":
        request.getfixturevalue("spark")
    rows, errors = mixed_rows(notes)
    src = (write_csv if fmt == "csv" else write_parquet)(tmp_path / f"notes.{fmt}", rows)
    out = tmp_path / "out"
    extra = ("--ship-pack",) if (engine, fmt) == ("spark", "parquet") else ()
    result, summary = bulk(engine, src, out, pack, *extra)
    assert result.exit_code == 0, result.output  # the job does not die on bad rows
    assert "5 of 26 notes failed" in result.stderr and SENTINEL not in result.output
    assert summary["notes"] == len(rows) == 26 and summary["failures"] == 5 and summary["coded"] == 21
    if extra:  # the workers coded with the shipped copies (SparkFiles), not the driver's folder
        assert summary["pack_shipped"] is True and summary["pack_loads"] >= 1
        assert summary["pack_paths"] and all(p != str(pack) for p in summary["pack_paths"])
        assert all(Path(p).name == pack.name and Path(p).is_dir() for p in summary["pack_paths"])
    else:
        assert summary["pack_paths"] == [str(pack)]
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
    # no Java (or, where it is not installed, no pyspark): a plain message, not a py4j traceback
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java"))
    result = cli("bulk", "predict", "--engine", "spark", "--input", src, "--output", tmp_path / "o2", "--model", pack)
    message = " ".join(result.stderr.split())
    assert result.exit_code == 2 and "error: --engine spark: " in message, result.output
    assert "no Java runtime found" in message or "pyspark is not installed" in message, message
    assert "Traceback" not in result.output and not (tmp_path / "o2").exists()


def test_top_k_over_the_limit_and_an_unwritable_summary_are_refused_up_front(tmp_path, notes, pack, monkeypatch):
    from chartcoder.config import get_settings

    src = write_jsonl(tmp_path / "notes.jsonl", notes[:2])
    base = ["bulk", "predict", "--engine", "local", "--input", src, "--output", tmp_path / "out", "--model", pack]
    result = cli(*base, "--summary", tmp_path / "no-such-folder" / "summary.json")
    assert result.exit_code == 2 and "its folder" in result.stderr and "does not exist" in result.stderr
    assert not (tmp_path / "out").exists()  # refused before the job, not after it
    monkeypatch.setenv("CHARTCODER_MAX_TOP_K", "5")
    get_settings.cache_clear()
    try:
        result = cli(*base, "--top-k", "10")
    finally:
        monkeypatch.delenv("CHARTCODER_MAX_TOP_K")
        get_settings.cache_clear()
    assert result.exit_code == 2 and "--top-k must be between 1 and 5" in " ".join(result.stderr.split())
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- outputs that would destroy what is read


@pytest.mark.parametrize("engine", ["local", "spark"])
def test_outputs_over_the_input_or_the_pack_are_refused_and_nothing_is_deleted(tmp_path, notes, pack, engine):
    folder = tmp_path / "data"
    folder.mkdir()
    src = write_jsonl(folder / "notes.jsonl", notes[:2])
    before = src.read_bytes()
    pack_copy = tmp_path / "pack"
    shutil.copytree(pack, pack_copy)
    pack_files = sorted(p.name for p in pack_copy.iterdir())
    cases = [
        (src, ["--output", src], "--output"),  # the input itself
        (src, ["--output", folder], "--output"),  # the folder holding the input
        (src, ["--output", tmp_path / "out", "--failures", folder], "--failures"),
        (folder, ["--output", folder / "coded"], "--output"),  # inside a folder input
        (src, ["--output", pack_copy], "--output"),  # the pack
        (src, ["--output", tmp_path / "out", "--failures", pack_copy / "failures"], "--failures"),
        (src, ["--output", tmp_path / "out", "--failures", tmp_path / "out" / "f"], "--output"),
        (src, ["--output", tmp_path / "out", "--summary", src], "--summary"),
    ]
    for given, args, option in cases:
        result = cli(
            "bulk", "predict", "--engine", engine, "--input", given, "--model", pack_copy, "--overwrite", *args
        )
        message = " ".join(result.stderr.split())
        assert result.exit_code == 2, (args, result.output)
        assert f"error: {option} " in message and "must be apart from the input" in message, (args, message)
        assert src.read_bytes() == before and sorted(p.name for p in pack_copy.iterdir()) == pack_files
    assert not (tmp_path / "out").exists()


def test_remote_folder_without_extension_says_to_give_the_format():
    from chartcoder.bulk.io import BulkInputError, detect_format

    with pytest.raises(BulkInputError, match=r"remote folder.*give --format parquet\|csv\|jsonl"):
        detect_format("s3a://lake/notes/2019-2024/")
    assert detect_format("s3a://lake/notes/2019-2024/", "parquet") == "parquet"


def test_executor_env_is_spark_s_and_carries_output_settings(monkeypatch):
    from chartcoder.bulk import predict
    from chartcoder.spark import executor_env

    monkeypatch.setenv("CHARTCODER_MIN_SCORE", "0.3")
    monkeypatch.delenv("CHARTCODER_CPT_FILE", raising=False)
    env = executor_env()
    assert env["spark.executorEnv.CHARTCODER_MIN_SCORE"] == "0.3" and not any("CPT" in k for k in env)
    assert predict.executor_env is executor_env


# ---------------------------------------------------------------- rows that cannot be written or parsed


@pytest.mark.parametrize("engine", ["local", pytest.param("spark", marks=[*needs_spark, pytest.mark.slow])])
def test_ids_that_are_not_unicode_fail_their_row_not_the_job(request, tmp_path, notes, expected, pack, engine):
    if engine == "spark":
        request.getfixturevalue("spark")
    good = [n for n in notes if "encounter" not in n][:3]
    lines = [
        good[0],
        {"id": "\ud800", "text": good[1]["text"]},  # json.dumps writes the lone surrogate as \ud800
        {"id": "enc-key", "text": good[1]["text"], "encounter": {"\udfff": 1}},  # not an id: no matter
        good[1],
        good[2],
    ]
    src = write_jsonl(tmp_path / "notes.jsonl", lines)
    assert "\\ud800" in src.read_text(encoding="utf-8")
    out = tmp_path / "out"
    result, summary = bulk(engine, src, out, pack)
    assert result.exit_code == 0, result.output
    assert summary["notes"] == 5 and summary["failures"] == 2
    assert {r["id"]: r for r in read_rows(out)} == {n["id"]: expected[n["id"]] for n in good}
    failures = sorted(read_rows(Path(f"{out}_failures")), key=lambda f: f["position"])
    assert [(f["id"], f["position"]) for f in failures] == [(None, 2), ("enc-key", 3)]
    assert "'id' is not valid Unicode text" in failures[0]["error"]
    assert failures[1]["error"].startswith("encounter")


def write_bad_csv(path: Path, good: list[dict[str, Any]]) -> Path:
    """Three good rows with three malformed ones between them: a field too many, a field too few, and
    last a quote never closed, which takes in the good row after it."""

    def line(*fields: str) -> str:
        buf = io.StringIO()
        csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n").writerow(fields)
        return buf.getvalue()

    rows = [
        "id,text,encounter,extra\n",
        line(good[0]["id"], good[0]["text"], "", "x"),
        line("too-many", good[1]["text"], "", "x", "SURPLUS"),
        line(good[1]["id"], good[1]["text"], "", "x"),
        line("too-few", good[1]["text"]),
        line(good[2]["id"], good[2]["text"], "", "x"),
        '"never-closed","' + good[0]["text"].replace('"', '""') + ',"",""\n',
        line(good[0]["id"] + "-after", good[0]["text"], "", "x"),
    ]
    path.write_text("".join(rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("engine", ["local", pytest.param("spark", marks=needs_spark)])
def test_malformed_csv_rows_go_to_failures_alike_on_both_engines(request, tmp_path, notes, expected, pack, engine):
    from chartcoder.bulk.io import MALFORMED_CSV

    if engine == "spark":
        request.getfixturevalue("spark")
    good = [n for n in notes if "encounter" not in n][:3]
    src = write_bad_csv(tmp_path / "notes.csv", good)
    out = tmp_path / "out"
    result, summary = bulk(engine, src, out, pack)
    assert result.exit_code == 0, result.output  # no ParserError traceback, no silently merged rows
    assert summary["notes"] == 6 and summary["failures"] == 3 and summary["coded"] == 3
    assert {r["id"]: r for r in read_rows(out)} == {n["id"]: expected[n["id"]] for n in good}
    failures = sorted(read_rows(Path(f"{out}_failures")), key=lambda f: f["position"])
    assert [(f["id"], f["position"], f["error"]) for f in failures] == [(None, p, MALFORMED_CSV) for p in (2, 4, 6)]
    assert all(f["source"] == f"file:{src}" for f in failures)


# ---------------------------------------------------------------- a run that stops, PHI, Spark that will not start


def test_a_local_run_that_stops_is_not_marked_complete(tmp_path, notes, pack):
    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(folder / "a.csv", notes[:3])
    (folder / "b.csv").write_text("id,body\n1,no text column here\n", encoding="utf-8")
    out = tmp_path / "out"
    result, summary = bulk("local", folder, out, pack)
    message = " ".join(result.stderr.split())
    assert result.exit_code == 2 and summary == {}, result.output
    assert "no 'text' column" in message and "stopped after 3 notes" in message, message
    assert "not marked complete (no _SUCCESS)" in message and "Traceback" not in result.output
    assert len(read_rows(out)) == 3  # what was coded is kept, but unmarked
    assert not (out / "_SUCCESS").exists() and not (tmp_path / "out_failures" / "_SUCCESS").exists()


def test_library_errors_never_put_note_text_in_any_output(tmp_path, notes, pack, monkeypatch, caplog):
    from chartcoder.models.service import SuggestionService

    def broken(self: Any, text: Any, *args: Any, **kwargs: Any) -> Any:
        raise ValueError(f"could not parse {text[-40:]!r}")  # a library quoting the note, as some do

    monkeypatch.setattr(SuggestionService, "suggest", broken)
    src = write_jsonl(tmp_path / "notes.jsonl", notes[:3])
    out = tmp_path / "out"
    result, summary = bulk("local", src, out, pack)
    assert result.exit_code == 0 and summary["failures"] == 3, result.output
    failures = read_rows(Path(f"{out}_failures"))
    assert [f["error"] for f in failures] == ["internal error (ValueError); this note was not coded"] * 3
    written = [(tmp_path / "out.summary.json").read_text(), result.output, caplog.text, json.dumps(failures)]
    assert all(SENTINEL not in text for text in written)
    # `chartcoder predict` too
    predicted = cli("predict", "--input", src, "--output", tmp_path / "preds.jsonl", "--model", pack)
    assert predicted.exit_code == 1 and "internal error (ValueError)" in predicted.stderr
    assert SENTINEL not in predicted.output and SENTINEL not in caplog.text


@pytest.mark.skipif(not SPARK_OK, reason=f"Spark cannot run here: {SPARK_WHY}")
def test_a_spark_master_that_does_not_start_is_one_line_not_a_traceback(tmp_path, notes, pack):
    # In a fresh process: in this one, an open session would be reused whatever the master.
    src = write_jsonl(tmp_path / "notes.jsonl", notes[:2])
    args = ["--input", src, "--output", tmp_path / "out", "--model", pack, "--master", "bogus-master"]
    proc = subprocess.run(
        [sys.executable, "-m", "chartcoder.cli", "bulk", "predict", "--engine", "spark", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "500"},
    )
    assert proc.returncode == 2, proc.stderr
    assert "error: --engine spark: could not start Spark (master 'bogus-master'): [JAVA_GATEWAY_EXITED]" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()
