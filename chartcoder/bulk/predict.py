"""The two bulk engines: Spark (`mapInPandas` over note batches) and one local process.

Every note goes through `code_note`, which is `chartcoder predict`'s per-line contract: the encounter
checked by `EncounterContext` (chartcoder/domain/encounter.py), then
`SuggestionService.suggest(text, encounter, top_k)` and `SuggestionSet.to_dict(id)`. So a note gets the
same suggestions from `chartcoder predict`, the API, `bulk predict --engine local` and `bulk predict --engine spark`.

The model pack is verified on the driver (its signature by a key the driver trusts, every file against
its manifest) before anything runs. Each Python worker process then loads it once, keyed by its path
and the SHA-256 of its manifest: the worker checks that the manifest is the one the driver verified and
`load_pack` checks the signature (by the key the driver trusted it by) and every file against it again
before unpickling with the allow-list. Spark reuses its Python workers between tasks
(`spark.python.worker.reuse`, on by default), so a pack is loaded once per worker process (one per
executor core), not once per batch or row; the `pack_loads` figure of the summary counts them.

A note that fails (a bad line, a malformed CSV row, a bad encounter, empty or non-string or too long
text, an id or text that is not valid Unicode) becomes a row of the failures output with its error; the
job goes on. Note text is never logged nor put in an error: only chartcoder's own messages are kept,
any other exception on a note's path becomes `internal error (<its type>)`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chartcoder.bulk.io import (
    CORRUPT_COLUMN,
    FAILURE_COLUMNS,
    MALFORMED_CSV,
    OUTPUT_COLUMNS,
    BulkInputError,
    LocalParquetWriter,
    RawNote,
    arrow_schemas,
    check_apart,
    check_input,
    check_summary,
    detect_format,
    failures_path_for,
    iter_local,
    prepare_output,
    require_columns,
    require_text_type,
    spark_schemas,
)
from chartcoder.domain.errors import ChartcoderError, InvalidInputError
from chartcoder.models.pack import MANIFEST, PackError, active_pack_path, verify_pack
from chartcoder.spark import OUTPUT_SETTINGS, executor_env

__all__ = ["OUTPUT_SETTINGS", "BulkError", "BulkJob", "executor_env", "run_local", "run_spark"]

KNOWLEDGE = "knowledge"
MIN_NOTES_PER_TASK = 25


class BulkError(ChartcoderError):
    """The bulk job cannot run or failed as a whole (not one note: those go to the failures output)."""


@dataclass
class BulkJob:
    """What to code and where to write it; `model` is a pack folder, a pack name under the model
    folder, 'knowledge', or None for the configured pack (as `chartcoder predict`)."""

    input: str
    output: str
    model: str | None = None
    format: str | None = None
    failures: str | None = None
    top_k: int = 20
    overwrite: bool = False
    partitions: int | None = None
    ship_pack: bool = False
    summary: str | None = None  # the --summary file the caller will write; checked by `prepare`
    # resolved by `prepare`
    pack_path: str | None = field(default=None, init=False)
    pack_digest: str = field(default="", init=False)
    pack_signer: str = field(default="", init=False)  # the trusted key the driver verified it with
    model_name: str = field(default="", init=False)
    prepared: bool = field(default=False, init=False)

    def prepare(self) -> BulkJob:
        """Check the paths, the format and top-k, find and verify the pack; raise BulkInputError or
        PackError before anything is written or deleted. Once per job: later calls return at once."""
        from chartcoder.config import get_settings

        if self.prepared:
            return self
        check_input(self.input)
        self.format = detect_format(self.input, self.format)
        max_top_k = get_settings().max_top_k
        if not 1 <= self.top_k <= max_top_k:
            raise BulkInputError(f"--top-k must be between 1 and {max_top_k} (CHARTCODER_MAX_TOP_K); got {self.top_k}")
        self.failures = self.failures or failures_path_for(self.output)
        self.pack_path = resolve_pack(self.model)
        keep = {"the input": self.input, **({"the model pack": self.pack_path} if self.pack_path else {})}
        outputs = {"--output": self.output, "--failures": self.failures}
        # --overwrite deletes an output before the input is read: it must not be, hold or sit in them
        check_apart(outputs, keep)
        if self.summary is not None:
            check_apart({"--summary": self.summary}, {**keep, **outputs})
            check_summary(self.summary)
        for path in (self.output, self.failures):
            prepare_output(path, self.overwrite)
        if self.pack_path is None:
            from chartcoder.models.knowledge import KnowledgeSuggester

            self.model_name, self.pack_digest = KnowledgeSuggester.name, KNOWLEDGE
        else:
            from chartcoder.models.signing import signer_line

            self.model_name = verify_pack(self.pack_path).ref
            self.pack_digest = manifest_digest(self.pack_path)
            self.pack_signer = signer_line(self.pack_path)
        self.prepared = True
        return self


def resolve_pack(model: str | None) -> str | None:
    """The pack folder as an absolute path (executors may run elsewhere), or None for the knowledge
    engine alone. Same choice as `chartcoder predict`: a folder, a name under CHARTCODER_MODEL_DIR, or
    the configured pack (the knowledge engine while the default pack is not built)."""
    from chartcoder.config import get_settings

    settings = get_settings()
    if model == KNOWLEDGE:
        return None
    chosen = model if model is not None else settings.model
    path = active_pack_path(chosen, settings.model_dir)
    if path is None:
        if model is None and chosen in ("default", KNOWLEDGE, ""):
            return None
        raise PackError(f"{chosen}: no model pack there or under {settings.model_dir} (no model_card.json)")
    return str(path.resolve())


def manifest_digest(pack: str | Path) -> str:
    return hashlib.sha256((Path(pack) / MANIFEST).read_bytes()).hexdigest()


# ---------------------------------------------------------------- one note


def code_note(service: Any, note: RawNote, fmt: str, top_k: int) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(output row, None) or (None, failure row) for one input row; (None, None) for a blank JSONL line."""
    from pydantic import ValidationError

    from chartcoder.domain.encounter import EncounterContext

    note_id: Any = None
    try:
        if note.error is not None:  # the reader could not make a row of it (a malformed CSV row)
            raise InvalidInputError(note.error)
        if fmt == "jsonl":
            if note.line is None or not note.line.strip():
                return None, None
            try:
                record = json.loads(note.line)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"not valid JSON ({exc.msg}, column {exc.colno})") from None
            if not isinstance(record, dict):
                raise InvalidInputError("expected an object with 'id' and 'text'")
            note_id = record.get("id")
            if "text" not in record:
                raise InvalidInputError("expected an object with 'id' and 'text'")
            text, encounter = record["text"], record.get("encounter")
        else:
            note_id, text, encounter = note.id, note.text, note.encounter
            if note_id == "":
                note_id = None
            if fmt == "csv" and text is None:
                text = ""  # CSV has no null: an empty field is empty text
        if note_id is not None and not _is_utf8(str(note_id)):
            note_id = None  # it cannot be written either
            raise InvalidInputError("'id' is not valid Unicode text (it holds a lone surrogate, e.g. \\ud800)")
        if isinstance(encounter, str):
            encounter = _encounter_json(encounter)
        try:
            enc = EncounterContext.model_validate(encounter or {}).to_domain()
        except ValidationError as exc:
            raise InvalidInputError(
                "; ".join(
                    f"{'.'.join(['encounter', *map(str, e['loc'])])}: {e['msg']}"
                    for e in exc.errors(include_input=False)
                )
            ) from None
        result = service.suggest(text, enc, top_k)
        out_id = str(note_id) if note_id is not None else str(note.position)
        row: dict[str, Any] = result.to_dict(out_id)
        # Arrow (and Spark's Arrow batches) refuse a string that is not UTF-8: one such note must fail,
        # not the whole write. A lone surrogate in the text reaches the output through evidence spans.
        if not _is_utf8(json.dumps(row, ensure_ascii=False)):
            raise InvalidInputError(
                "the note's suggestions hold text that is not valid Unicode (a lone surrogate in the note text)"
            )
        return row, None
    except ChartcoderError as exc:  # chartcoder's own messages (and this module's): never the note text
        error = str(exc)
    except Exception as exc:  # a library's message could quote the note (PHI), so only its type is kept
        error = f"internal error ({type(exc).__name__}); this note was not coded"
    failure = {
        "id": str(note_id) if note_id is not None else None,
        "position": note.position,
        "source": _utf8(note.source),
        "error": _utf8(error),
    }
    return None, failure


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _utf8(text: str | None) -> str | None:
    """`text` with anything UTF-8 cannot hold (lone surrogates) replaced, for a failure row."""
    return None if text is None else text.encode("utf-8", errors="replace").decode("utf-8")


def _encounter_json(raw: str) -> Any:
    if not raw.strip():
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"'encounter' is not valid JSON ({exc.msg}, column {exc.colno})") from None
    if value is not None and not isinstance(value, dict):
        raise InvalidInputError(f"'encounter' must be a JSON object; got {type(value).__name__}")
    return value


# ---------------------------------------------------------------- the pack, once per process

_SERVICES: dict[tuple[str, str], Any] = {}
_SERVICES_LOCK = threading.Lock()


def cached_service(pack_path: str | None, digest: str, signer: str = "") -> tuple[Any, bool]:
    """(service, loaded_now): this process's SuggestionService for the pack whose manifest has
    `digest`, built on first use. A pack whose manifest is not the one the driver verified, whose
    signature is not by `signer` (the key the driver trusted it by; empty: this process's trusted keys)
    or whose files do not match its manifest, is refused with a PackError before anything is unpickled."""
    from chartcoder.config import get_settings
    from chartcoder.models.pack import load_pack
    from chartcoder.models.service import SuggestionService
    from chartcoder.models.signing import parse_public_keys

    key = (pack_path or KNOWLEDGE, digest)
    with _SERVICES_LOCK:
        if key in _SERVICES:
            return _SERVICES[key], False
        if pack_path is None:
            service = SuggestionService(get_settings())
        else:
            if manifest_digest(pack_path) != digest:
                raise PackError(
                    f"{pack_path}: its manifest is not the one the driver verified (the pack changed, or "
                    "this executor sees another copy); refusing to load it"
                )
            trusted = parse_public_keys(signer, "the driver's verified signer") if signer else None
            service = SuggestionService(get_settings(), pack=load_pack(pack_path, trusted))
        _SERVICES[key] = service
        return service, True


# ---------------------------------------------------------------- summary


def _summary(job: BulkJob, engine: str, counts: dict[str, int], seconds: float, **extra: Any) -> dict[str, Any]:
    """The job's figures. On Spark, `pack_loads`, `pack_load_seconds`, `coding_seconds` and `pack_paths`
    are gathered with accumulators updated inside the tasks: a task that Spark retries or recomputes
    (a lost executor, an evicted cache block) adds its time again, so on a cluster that lost tasks
    the seconds include work done twice. A retried task on a worker that already holds the pack does
    not load it again, so `pack_loads` counts real loads. The note counts come from the written
    results and are exact."""
    notes = counts["notes"]
    return {
        "engine": engine,
        **extra,
        "model": job.model_name,
        "pack": job.pack_path,
        "pack_shipped": job.ship_pack,
        "input": job.input,
        "format": job.format,
        "output": job.output,
        "failures_output": job.failures,
        "notes": notes,
        "coded": notes - counts["failures"],
        "failures": counts["failures"],
        "suggestions": counts["suggestions"],
        "seconds": round(seconds, 3),
        "notes_per_second": round(notes / seconds, 2) if seconds > 0 else 0.0,
    }


# ---------------------------------------------------------------- local engine


def run_local(job: BulkJob, progress: Any = None) -> dict[str, Any]:
    """Code every note in this process and write the outputs; `progress(n)` is called per note. If the
    run stops (an unreadable file, a file without a `text` column), the outputs keep what was written
    but are not marked complete (no `_SUCCESS`) and a BulkError says so."""
    job.prepare()
    assert job.failures is not None and job.format is not None
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise BulkError("writing Parquet needs pyarrow: pip install 'chartcoder[spark]'") from exc
    started = time.perf_counter()
    service, loaded = cached_service(job.pack_path, job.pack_digest, job.pack_signer)
    load_seconds = time.perf_counter() - started if loaded else 0.0
    out_schema, fail_schema = arrow_schemas()
    counts = {"notes": 0, "failures": 0, "suggestions": 0}
    out = LocalParquetWriter(job.output, out_schema)
    failed = LocalParquetWriter(job.failures, fail_schema)
    coding_seconds = 0.0
    ok = False
    try:
        for note in iter_local(job.input, job.format):
            t0 = time.perf_counter()
            row, failure = code_note(service, note, job.format, job.top_k)
            coding_seconds += time.perf_counter() - t0
            if row is not None:
                out.write(row)
                counts["suggestions"] += len(row["suggestions"])
            elif failure is not None:
                failed.write(failure)
                counts["failures"] += 1
            else:
                continue
            counts["notes"] += 1
            if progress is not None:
                progress(counts["notes"])
        out.flush()
        failed.flush()
        ok = True
    except Exception as exc:
        # chartcoder's and the OS's messages name a file, never note text; anything else could quote it
        why = str(exc) if isinstance(exc, (ChartcoderError, OSError)) else f"internal error ({type(exc).__name__})"
        raise BulkError(
            f"{why}; stopped after {counts['notes']} notes: {job.output} and {job.failures} hold partial "
            "output, not marked complete (no _SUCCESS); run again with --overwrite"
        ) from exc
    finally:  # unmarked unless every note was read and written
        for writer in (out, failed):
            writer.close(ok)
    seconds = time.perf_counter() - started
    return _summary(
        job,
        "local",
        counts,
        seconds,
        master=None,
        cores=1,
        partitions=1,
        pack_loads=int(loaded),
        pack_load_seconds=round(load_seconds, 3),
        coding_seconds=round(coding_seconds, 3),
        pack_paths=[job.pack_path] if job.pack_path else [],
    )


# ---------------------------------------------------------------- Spark engine


def _code_batches(
    batches: Iterable[Any],
    *,
    pack: str | None,
    digest: str,
    signer: str,
    shipped: bool,
    fmt: str,
    top_k: int,
    loads: Any,
    load_seconds: Any,
    code_seconds: Any,
    pack_paths: Any,
) -> Iterator[Any]:
    """mapInPandas body, on an executor: note batches in, result batches out."""
    import pandas as pd

    path = pack
    if pack is not None and shipped:
        from pyspark import SparkFiles

        path = SparkFiles.get(Path(pack).name)
    t0 = time.perf_counter()
    service, loaded = cached_service(path, digest, signer)
    if loaded:
        loads.add(1)
        load_seconds.add(time.perf_counter() - t0)
    if path is not None:
        pack_paths.add({str(path)})
    columns = [*OUTPUT_COLUMNS, *[c for c in FAILURE_COLUMNS if c != "id"]]
    for batch in batches:
        t0 = time.perf_counter()
        rows: list[dict[str, Any]] = []
        for rec in batch.to_dict("records"):
            note = RawNote(
                position=int(rec["position"]),
                source=rec["source"],
                line=rec["line"],
                id=rec["id"],
                text=rec["text"],
                encounter=rec["encounter"],
                error=rec["error"],
            )
            row, failure = code_note(service, note, fmt, top_k)
            if row is not None:
                rows.append({**row, "position": note.position, "source": note.source, "error": None})
            elif failure is not None:
                rows.append({**failure, "model": None, "suggestions": None})
        code_seconds.add(time.perf_counter() - t0)
        yield pd.DataFrame(rows, columns=columns)


def _read_spark(spark: Any, job: BulkJob) -> Any:
    """The input as (line, id, text, encounter, source, error) with every column a string; `error` is
    set for a CSV row that does not split into the header's fields (then the other columns are null)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    source = F.col("_metadata.file_path").alias("source")
    null = F.lit(None).cast("string")
    if job.format == "jsonl":
        df = spark.read.text(job.input)
        return df.select(
            F.col("value").alias("line"),
            null.alias("id"),
            null.alias("text"),
            null.alias("encounter"),
            source,
            null.alias("error"),
        )
    bad = F.lit(False)
    error = null
    if job.format == "csv":
        options = {"header": True, "multiLine": True, "escape": '"', "mode": "PERMISSIVE"}
        header = spark.read.options(**options).csv(job.input).schema  # the header's columns, as strings
        require_columns(header.names, job.input)
        # Read again with a column for the raw text of a row that does not fit the header, instead of
        # PERMISSIVE's silent padding or dropping of fields; such a row becomes a failure.
        schema = T.StructType([*header.fields, T.StructField(CORRUPT_COLUMN, T.StringType())])
        df = spark.read.schema(schema).options(**options, columnNameOfCorruptRecord=CORRUPT_COLUMN).csv(job.input)
        bad = F.col(CORRUPT_COLUMN).isNotNull()
        error = F.when(bad, F.lit(MALFORMED_CSV))
    else:
        df = spark.read.parquet(job.input)
    types = {name: kind for name, kind in df.dtypes if name != CORRUPT_COLUMN}
    require_columns(list(types), job.input)
    require_text_type(types["text"], job.input)
    enc = types.get("encounter")
    if enc is None:
        encounter = null
    elif enc == "string":
        encounter = F.col("encounter")
    elif enc.startswith(("struct", "map")):
        encounter = F.to_json("encounter")
    else:
        raise BulkInputError(f"{job.input}: the 'encounter' column must hold JSON text or a struct; got {enc}")
    note_id = F.col("id").cast("string") if "id" in types else null

    def good(column: Any) -> Any:  # a malformed row's partial fields are not used
        return F.when(~bad, column)

    return df.select(
        null.alias("line"),
        good(note_id).alias("id"),
        good(F.col("text")).alias("text"),
        good(encounter).alias("encounter"),
        source,
        error.alias("error"),
    )


def _with_positions(spark: Any, df: Any) -> tuple[Any, int]:
    """Number the rows 1.. in the order Spark reads them, before any shuffle: one small counting job
    per input partition, then each row's partition offset plus its place in the partition (a row's
    monotonically_increasing_id holds its partition in the upper bits and its place in the lower 33)."""
    from pyspark.sql import functions as F

    counts = df.select(F.spark_partition_id().alias("p")).groupBy("p").count().collect()
    offsets, running = [], 0
    for row in sorted(counts, key=lambda r: r["p"]):
        offsets.append((int(row["p"]), running))
        running += int(row["count"])
    offset_df = spark.createDataFrame(offsets or [(0, 0)], "p int, offset long")
    mid = F.monotonically_increasing_id()
    tagged = df.withColumn("_mid", mid).withColumn("p", F.shiftright(F.col("_mid"), 33).cast("int"))
    joined = tagged.join(F.broadcast(offset_df), on="p")
    position = F.col("offset") + F.col("_mid").bitwiseAND(F.lit((1 << 33) - 1)) + F.lit(1)
    columns = ("line", "id", "text", "encounter", "source", "error")
    return joined.select(position.alias("position"), *columns), running


def default_partitions(rows: int, cores: int, input_partitions: int) -> int:
    """Four tasks per core (or as many as the input has pieces, if more) so that long notes even out
    between cores, but no task under `MIN_NOTES_PER_TASK` notes: each costs a scheduling round trip."""
    return max(1, min(max(cores * 4, input_partitions), -(-rows // MIN_NOTES_PER_TASK)))


class _SetParam:
    """An accumulator of a set of strings (union; a retried task adds nothing new)."""

    def zero(self, value: set[str]) -> set[str]:
        return set()

    def addInPlace(self, value1: set[str], value2: set[str]) -> set[str]:  # noqa: N802 (Spark's name)
        value1 |= value2
        return value1


def run_spark(spark: Any, job: BulkJob) -> dict[str, Any]:
    """Code every note on Spark and write the outputs. `spark` is a SparkSession (chartcoder.spark)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    from pyspark.sql.utils import AnalysisException

    job.prepare()
    assert job.failures is not None and job.format is not None
    sc = spark.sparkContext
    cores = int(sc.defaultParallelism)
    started = time.perf_counter()
    pack = job.pack_path
    if pack is not None and job.ship_pack:
        sc.addFile(pack, recursive=True)
    out_schema, fail_schema, result_schema = spark_schemas()
    loads, load_seconds, code_seconds = sc.accumulator(0), sc.accumulator(0.0), sc.accumulator(0.0)
    pack_paths = sc.accumulator(set(), _SetParam())
    body = functools.partial(
        _code_batches,
        pack=pack,
        digest=job.pack_digest,
        signer=job.pack_signer,
        shipped=job.ship_pack,
        fmt=job.format,
        top_k=job.top_k,
        loads=loads,
        load_seconds=load_seconds,
        code_seconds=code_seconds,
        pack_paths=pack_paths,
    )
    mode = "overwrite" if job.overwrite else "errorifexists"
    try:
        notes, rows = _with_positions(spark, _read_spark(spark, job))
        partitions = job.partitions or default_partitions(rows, cores, notes.rdd.getNumPartitions())
        results = notes.repartition(partitions).mapInPandas(body, result_schema)
        results = results.persist(StorageLevel.MEMORY_AND_DISK)
        coded = results.where(F.col("error").isNull()).select(*[f.name for f in out_schema.fields])
        coded.write.mode(mode).parquet(job.output)
        failed = results.where(F.col("error").isNotNull()).select(*[f.name for f in fail_schema.fields])
        failed.write.mode(mode).parquet(job.failures)
        totals = results.agg(
            F.count(F.lit(1)).alias("notes"),
            F.count("error").alias("failures"),
            F.coalesce(F.sum(F.size(F.coalesce("suggestions", F.array()))), F.lit(0)).alias("suggestions"),
        ).first()
        results.unpersist()
    except AnalysisException as exc:
        raise BulkError(f"Spark refused the job: {_first_line(exc)}") from None
    except Exception as exc:
        if type(exc).__module__.startswith(("pyspark", "py4j")):
            raise BulkError(f"the Spark job failed: {_spark_reason(exc)}") from None
        raise
    seconds = time.perf_counter() - started
    counts = {k: int(totals[k] or 0) for k in ("notes", "failures", "suggestions")}
    return _summary(
        job,
        "spark",
        counts,
        seconds,
        master=sc.master,
        cores=cores,
        partitions=partitions,
        pack_loads=int(loads.value),
        pack_load_seconds=round(float(load_seconds.value), 3),
        coding_seconds=round(float(code_seconds.value), 3),
        pack_paths=sorted(pack_paths.value),
    )


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "desc", None) or str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def _spark_reason(exc: BaseException) -> str:
    """The executor's own error (e.g. a PackError) out of a Python worker traceback, else the first line."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith("chartcoder.") and "Error" in ln.split(":", 1)[0]:
            return ln.split(":", 1)[1].strip() if ":" in ln else ln
    return lines[0] if lines else type(exc).__name__
