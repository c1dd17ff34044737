"""Reading notes and writing suggestions for bulk coding: formats, schemas, local readers and writers.

Both engines read the same three formats and write the same two Parquet outputs:

- input: Parquet, CSV (with a header row; quoted fields may span lines) or JSONL, one note per row or
  line, fields `id`, `text` and optionally `encounter` (a JSON object, or its JSON text in a CSV or
  Parquet column; a Parquet struct column works too). A file or a folder of them.
- output (`OUTPUT_SCHEMA`): the `chartcoder predict` output line as a Parquet row, `id`, `model` and
  `suggestions` as a list of structs with their evidence spans as a nested list of structs.
- failures (`FAILURES_SCHEMA`): `id` when the row had one, `position` (the row's 1-based number in
  the order the input was read; for one JSONL file, its line number), `source` (the file) and
  `error`, the same message `chartcoder predict` prints for that line. Never the note text.

Records travel between reader and coder as `RawNote`: the JSONL line still unparsed (so that a bad
line fails like it does in `predict`), or the columns of a CSV/Parquet row.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chartcoder.errors import ChartcoderError

FORMATS = ("parquet", "csv", "jsonl")
_EXTENSIONS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
# Columns a CSV/Parquet input may carry; others are ignored.
ID, TEXT, ENCOUNTER = "id", "text", "encounter"
# Fields of the suggestion structs, in `SuggestionSet.to_dict` order.
EVIDENCE_FIELDS = ("start", "end", "text", "assertion", "section")
SUGGESTION_FIELDS = ("code", "system", "description", "score", "evidence", "warnings")
OUTPUT_COLUMNS = ("id", "model", "suggestions")
FAILURE_COLUMNS = ("id", "position", "source", "error")
PART_FILE = "part-00000.parquet"


class BulkInputError(ChartcoderError, ValueError):
    """An input or output path the bulk job cannot use: missing, of an unknown format, lacking a column."""


@dataclass(frozen=True)
class RawNote:
    """One input row before it is checked: `line` for JSONL, else the CSV/Parquet columns."""

    position: int
    source: str | None
    line: str | None = None
    id: Any = None
    text: Any = None
    encounter: Any = None


def is_local(path: str) -> bool:
    """True for a plain path or file:// URL; False for hdfs://, s3a://, abfss:// and the like."""
    return "://" not in path or path.startswith("file://")


def local_path(path: str) -> Path:
    return Path(path[len("file://") :] if path.startswith("file://") else path)


def detect_format(path: str, given: str | None = None) -> str:
    """`given` when set, else the format the path's extension (or a folder's first data file) names."""
    if given is not None:
        fmt = given.lower()
        if fmt not in FORMATS:
            raise BulkInputError(f"The 'format' option must be one of {', '.join(FORMATS)}. Got {given!r}.")
        return fmt
    name = path.rstrip("/")
    candidates = [name]
    if is_local(path) and local_path(path).is_dir():
        candidates = [str(p) for p in data_files(local_path(path))]
    for candidate in candidates:
        found = _EXTENSIONS.get(os.path.splitext(candidate)[1].lower())
        if found:
            return found
    raise BulkInputError(
        f"{path}: cannot tell its format from the name; give --format {'|'.join(FORMATS)} "
        f"(known extensions: {', '.join(sorted(_EXTENSIONS))})"
    )


def data_files(folder: Path) -> list[Path]:
    """The files of a folder input, as Spark lists them: hidden and `_`-prefixed files (`_SUCCESS`,
    `.crc`) are not data."""
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and not any(part[0] in "._" for part in p.relative_to(folder).parts)
    )


def check_input(path: str) -> None:
    if is_local(path) and not local_path(path).exists():
        raise BulkInputError(f"{path}: no such file or folder")


def prepare_output(path: str, overwrite: bool) -> None:
    """Refuse to write over an existing local output unless told to (remote outputs: Spark checks)."""
    if not is_local(path):
        return
    p = local_path(path)
    if p.exists() and not overwrite:
        raise BulkInputError(f"{path}: already exists; choose another --output/--failures or give --overwrite")


def failures_path_for(output: str) -> str:
    return output.rstrip("/") + "_failures"


# ---------------------------------------------------------------- local readers


def iter_local(path: str, fmt: str) -> Iterator[RawNote]:
    """Every row of a local file or folder, in file order (files sorted by name), numbered from 1."""
    root = local_path(path)
    files = data_files(root) if root.is_dir() else [root]
    position = 0
    for file in files:
        reader = {"jsonl": _jsonl_rows, "csv": _csv_rows, "parquet": _parquet_rows}[fmt]
        for row in reader(file):
            position += 1
            yield RawNote(position, f"file:{file.resolve()}", **row)


def _jsonl_rows(file: Path) -> Iterator[dict[str, Any]]:
    # Split like Spark's text reader (and `predict`): \n, \r\n or \r; blank lines keep their number.
    with file.open("rb") as fh:
        data = fh.read()
    for raw in data.splitlines():
        yield {"line": raw.decode("utf-8", errors="replace")}


def _csv_rows(file: Path) -> Iterator[dict[str, Any]]:
    import pandas as pd

    # Strings only, and an empty field stays "" (CSV cannot tell null from empty; the coder treats both
    # alike), as Spark's CSV reader does without a schema.
    chunks = pd.read_csv(file, dtype=str, keep_default_na=False, chunksize=1000)
    for chunk in chunks:
        require_columns(list(chunk.columns), str(file))
        for rec in chunk.to_dict("records"):
            yield {"id": rec.get(ID), "text": rec.get(TEXT), "encounter": rec.get(ENCOUNTER)}


def _parquet_rows(file: Path) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(file)
    schema = pf.schema_arrow
    require_columns(schema.names, str(file))
    require_text_type(str(schema.field(TEXT).type), str(file))
    columns = [c for c in (ID, TEXT, ENCOUNTER) if c in schema.names]
    for batch in pf.iter_batches(batch_size=1000, columns=columns):
        cols = {name: batch.column(name).to_pylist() for name in columns}
        for i in range(batch.num_rows):
            encounter = cols[ENCOUNTER][i] if ENCOUNTER in cols else None
            if isinstance(encounter, list):  # a Parquet map column reads as key/value pairs
                encounter = dict(encounter)
            elif isinstance(encounter, dict):  # a struct column: absent fields read as None
                encounter = {k: v for k, v in encounter.items() if v is not None}
            yield {"id": cols[ID][i] if ID in cols else None, "text": cols[TEXT][i], "encounter": encounter}


def require_columns(names: list[str], where: str) -> None:
    if TEXT not in names:
        raise BulkInputError(f"{where}: no '{TEXT}' column (columns: {', '.join(names) or 'none'}); expected id, text")


def require_text_type(type_name: str, where: str) -> None:
    if type_name.lower() not in ("string", "large_string", "utf8", "large_utf8", "stringtype()"):
        raise BulkInputError(f"{where}: the '{TEXT}' column must hold strings; got {type_name}")


# ---------------------------------------------------------------- schemas and local writers


def arrow_schemas() -> tuple[Any, Any]:
    """(output, failures) as Arrow schemas: the layout both engines write."""
    import pyarrow as pa

    evidence = pa.struct(
        [
            ("start", pa.int64()),
            ("end", pa.int64()),
            ("text", pa.string()),
            ("assertion", pa.string()),
            ("section", pa.string()),
        ]
    )
    suggestion = pa.struct(
        [
            ("code", pa.string()),
            ("system", pa.string()),
            ("description", pa.string()),
            ("score", pa.float64()),
            ("evidence", pa.list_(evidence)),
            ("warnings", pa.list_(pa.string())),
        ]
    )
    output = pa.schema([("id", pa.string()), ("model", pa.string()), ("suggestions", pa.list_(suggestion))])
    failures = pa.schema(
        [("id", pa.string()), ("position", pa.int64()), ("source", pa.string()), ("error", pa.string())]
    )
    return output, failures


def spark_schemas() -> tuple[Any, Any, Any]:
    """(output, failures, result) as Spark schemas; `result` is what the executors return per note:
    the output columns, then the failure columns (error is null for a coded note)."""
    from pyspark.sql import types as T

    evidence = T.StructType(
        [
            T.StructField("start", T.LongType()),
            T.StructField("end", T.LongType()),
            T.StructField("text", T.StringType()),
            T.StructField("assertion", T.StringType()),
            T.StructField("section", T.StringType()),
        ]
    )
    suggestion = T.StructType(
        [
            T.StructField("code", T.StringType()),
            T.StructField("system", T.StringType()),
            T.StructField("description", T.StringType()),
            T.StructField("score", T.DoubleType()),
            T.StructField("evidence", T.ArrayType(evidence)),
            T.StructField("warnings", T.ArrayType(T.StringType())),
        ]
    )
    output = T.StructType(
        [
            T.StructField("id", T.StringType()),
            T.StructField("model", T.StringType()),
            T.StructField("suggestions", T.ArrayType(suggestion)),
        ]
    )
    failures = T.StructType(
        [
            T.StructField("id", T.StringType()),
            T.StructField("position", T.LongType()),
            T.StructField("source", T.StringType()),
            T.StructField("error", T.StringType()),
        ]
    )
    result = T.StructType(output.fields + [f for f in failures.fields if f.name != "id"])
    return output, failures, result


class LocalParquetWriter:
    """Rows to `folder/part-00000.parquet` in batches, and `_SUCCESS` on close, as Spark lays it out."""

    def __init__(self, folder: str, schema: Any, batch_rows: int = 500) -> None:
        import pyarrow.parquet as pq

        self.folder = local_path(folder)
        if self.folder.exists():
            if self.folder.is_dir():
                shutil.rmtree(self.folder)
            else:
                self.folder.unlink()
        self.folder.mkdir(parents=True)
        self.schema = schema
        self.batch_rows = batch_rows
        self.rows: list[dict[str, Any]] = []
        self.writer = pq.ParquetWriter(self.folder / PART_FILE, schema)

    def write(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.batch_rows:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self.rows:
            self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def close(self) -> None:
        self._flush()
        self.writer.close()
        (self.folder / "_SUCCESS").touch()
