"""Reading notes and writing suggestions for bulk coding: formats, schemas, local readers and writers.

Both engines read the same three formats and write the same two Parquet outputs:

- input: Parquet, CSV (with a header row; quoted fields may span lines) or JSONL, one note per row or
  line, fields `id`, `text` and optionally `encounter` (a JSON object, or its JSON text in a CSV or
  Parquet column; a Parquet struct column works too). A file or a folder of them.
- output (`OUTPUT_SCHEMA`): the `chartcoder predict` output line as a Parquet row, `id`, `model` and
  `suggestions` as a list of structs with their evidence spans as a nested list of structs.
- failures (`FAILURES_SCHEMA`): `id` when the row had one, `position` (the row's 1-based number in
  the order the input was read; for one JSONL file, its line number), `source` (the file) and
  `error` (docs/scale.md lists the messages). Never the note text.

Records travel between reader and coder as `RawNote`: the JSONL line still unparsed (so that a bad
line becomes a failure, not a stopped job), or the columns of a CSV/Parquet row, or `error` for a CSV
row the reader could not split into the header's fields.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chartcoder.domain.errors import ChartcoderError

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
SUGGESTION_FIELDS = ("code", "system", "description", "score", "evidence", "warnings", "group")
OUTPUT_COLUMNS = ("id", "model", "suggestions")
FAILURE_COLUMNS = ("id", "position", "source", "error")
PART_FILE = "part-00000.parquet"
# A CSV row whose fields do not line up with the header: both engines give it this error.
MALFORMED_CSV = (
    "malformed CSV row: its fields do not line up with the header's (a field too many or too few, or a "
    "quote that is never closed and so takes in the rest of the file)"
)
# The column Spark's CSV reader puts a malformed row's raw text in (read, never written anywhere).
CORRUPT_COLUMN = "_chartcoder_malformed_row"


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
    error: str | None = None


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
    if not is_local(path):
        what = "a remote folder or a name without a known extension (remote folders are not listed to guess)"
    elif local_path(path).is_dir():
        what = "a folder with no data file of a known extension"
    else:
        what = "its name has no known extension"
    raise BulkInputError(
        f"{path}: cannot tell its format: {what}; give --format {'|'.join(FORMATS)} "
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


def _location(path: str) -> tuple[str, tuple[str, ...]]:
    """Where a path points, for comparing two of them: ("file", the absolute path's parts with symlinks
    followed) for a local path, else ("scheme://authority", the normalised path's parts)."""
    if is_local(path):
        return "file", local_path(path).resolve().parts
    scheme, rest = path.split("://", 1)
    authority, _, tail = rest.partition("/")
    parts = tuple(p for p in posixpath.normpath("/" + tail).split("/") if p)
    return f"{scheme.lower()}://{authority}", parts


def overlap(path: str, other: str) -> str | None:
    """'is', 'is inside' or 'contains' when `path` is `other`, lies under it or holds it; else None."""
    (where, parts), (other_where, other_parts) = _location(path), _location(other)
    if where != other_where:
        return None
    if parts == other_parts:
        return "is"
    if parts[: len(other_parts)] == other_parts:
        return "is inside"
    if other_parts[: len(parts)] == parts:
        return "contains"
    return None


def check_apart(outputs: dict[str, str], keep: dict[str, str]) -> None:
    """Refuse an output that is, lies inside or holds one of the paths to `keep` (the input, the pack),
    or another output: writing it (and `--overwrite`'s delete) would destroy what it overlaps."""
    named = list(outputs.items())
    for i, (option, path) in enumerate(named):
        for what, other in [*keep.items(), *((o, p) for o, p in named[i + 1 :])]:
            how = overlap(path, other)
            if how:
                raise BulkInputError(
                    f"{option} {path} {how} {what} ({other}); the outputs must be apart from the input, "
                    "the model pack and each other"
                )


def check_summary(path: str) -> None:
    """Refuse a --summary file that cannot be written, before the job runs rather than after it."""
    p = Path(path)
    if p.is_dir():
        raise BulkInputError(f"--summary {path}: is a folder; give a file name")
    if not p.parent.is_dir():
        raise BulkInputError(f"--summary {path}: its folder {p.parent} does not exist")
    if not os.access(p.parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise BulkInputError(f"--summary {path}: cannot write there (permission denied)")


# ---------------------------------------------------------------- local readers


def iter_local(path: str, fmt: str) -> Iterator[RawNote]:
    """Every row of a local file or folder, in file order (files sorted by name), numbered from 1."""
    root = local_path(path)
    files = data_files(root) if root.is_dir() else [root]
    position = 0
    for file in files:
        reader = {"jsonl": _jsonl_rows, "csv": _csv_rows, "parquet": _parquet_rows}[fmt]
        # a file name that is not UTF-8 must not stop the failures output from being written
        source = "file:" + os.fsencode(file.resolve()).decode("utf-8", errors="replace")
        for row in reader(file):
            position += 1
            yield RawNote(position, source, **row)


def _jsonl_rows(file: Path) -> Iterator[dict[str, Any]]:
    # Split like Spark's text reader (and `predict`): \n, \r\n or \r; blank lines keep their number.
    with file.open("rb") as fh:
        data = fh.read()
    for raw in data.splitlines():
        yield {"line": raw.decode("utf-8", errors="replace")}


def _csv_rows(file: Path) -> Iterator[dict[str, Any]]:
    """The rows of a CSV file; a row that does not split into the header's fields is yielded as
    {"error": ...} in its place, as Spark's reader flags it. A quote never closed takes in the rest of
    the file (CSV has no way to end it), so that row is the file's last, for both engines."""
    import csv

    import pandas as pd

    done = 0
    try:
        for row in _csv_records(file, 1000):
            done += 1
            yield row
    except (pd.errors.ParserError, csv.Error):
        # The chunk holding the bad row did not parse: read up to that row one row at a time.
        try:
            for i, row in enumerate(_csv_records(file, 1)):
                if i >= done:
                    done += 1
                    yield row
        except (pd.errors.ParserError, csv.Error):
            pass
        yield {"error": MALFORMED_CSV}


_BAD_ROW = "\x00chartcoder: malformed row\x00"


def _csv_records(file: Path, chunksize: int) -> Iterator[dict[str, Any]]:
    import csv

    import pandas as pd

    # Strings only, and an empty field stays "" (CSV cannot tell null from empty; the coder treats both
    # alike), as Spark's CSV reader does without a schema; bytes that are not UTF-8 become U+FFFD, as
    # in Spark. A row with too many fields is handed to `on_bad_lines` (python engine), which marks
    # it; one with too few reads as None in its missing fields. The python engine parses with the csv
    # module, whose 128 kB field limit would make a long note (or a too-long one, a failure of its own)
    # unreadable: lifted while this file is read.
    limit = csv.field_size_limit(2**31 - 1)
    try:
        chunks = pd.read_csv(
            file,
            dtype=str,
            keep_default_na=False,
            chunksize=chunksize,
            engine="python",
            on_bad_lines=lambda fields: [_BAD_ROW],
            encoding_errors="replace",
        )
        for chunk in chunks:
            names = list(chunk.columns)
            require_columns(names, str(file))
            for rec in chunk.to_dict("records"):
                values = list(rec.values())
                if values[0] == _BAD_ROW or any(not isinstance(v, str) for v in values):
                    yield {"error": MALFORMED_CSV}
                else:
                    yield {"id": rec.get(ID), "text": rec.get(TEXT), "encounter": rec.get(ENCOUNTER)}
    except pd.errors.EmptyDataError:  # an empty file: no header, no rows (Spark skips it too)
        return
    finally:
        csv.field_size_limit(limit)


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
            ("group", pa.string()),
        ]
    )
    output = pa.schema([("id", pa.string()), ("model", pa.string()), ("suggestions", pa.list_(suggestion))])
    failures = pa.schema(
        [("id", pa.string()), ("position", pa.int64()), ("source", pa.string()), ("error", pa.string())]
    )
    return output, failures


def spark_schemas() -> tuple[Any, Any, Any]:
    """(output, failures, result) as Spark schemas, converted from `arrow_schemas` so that the two
    engines cannot drift apart; `result` is what the executors return per note: the output columns,
    then the failure columns (error is null for a coded note)."""
    from pyspark.sql import types as T
    from pyspark.sql.pandas.types import from_arrow_schema

    output, failures = (from_arrow_schema(schema) for schema in arrow_schemas())
    result = T.StructType(output.fields + [f for f in failures.fields if f.name != "id"])
    return output, failures, result


class LocalParquetWriter:
    """Rows to `folder/part-00000.parquet` in batches, and `_SUCCESS` on a successful close, as Spark
    lays it out. The folder (or file) at `folder` is replaced: the caller checked it may be."""

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
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa

        if self.rows:
            self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def close(self, ok: bool) -> None:
        """Write what is left and close the file; mark the folder complete (`_SUCCESS`) only if `ok`:
        a failed run keeps the rows it wrote, unmarked."""
        try:
            if ok:
                self.flush()
            else:
                with contextlib.suppress(Exception):  # the run failed already; keep what can be kept
                    self.flush()
        finally:
            self.writer.close()
        if ok:
            (self.folder / "_SUCCESS").touch()
