"""Bulk suggestions: code many notes at once, on Apache Spark or in one local process.

`chartcoder bulk predict` reads notes (Parquet, CSV or JSONL with `id`, `text` and an optional
`encounter`), runs each through the same suggestion path as the API and `chartcoder predict`
(`SuggestionService.suggest`), and writes Parquet with the `predict` output schema, a failures output
and a summary. `io` reads and writes the formats; `predict` holds the two engines.
"""

from __future__ import annotations

from chartcoder.bulk.predict import BulkError, BulkJob, run_local, run_spark

__all__ = ["BulkError", "BulkJob", "run_local", "run_spark"]
