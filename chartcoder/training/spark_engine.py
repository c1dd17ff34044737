"""`chartcoder train --engine spark`: the parts of training that grow with the data, on Apache Spark.

Two of them, each through a mechanism Spark already has:

- the knowledge engine's analysis of every note (spaCy, medspaCy, the guideline engine; a third of a
  local run): the notes go out as a DataFrame in partitions, `mapInPandas` builds the suggestion
  service once per Python worker and sends each analysis back pickled with its note's index, and the
  driver puts them back in the notes' order;
- `CodeRanker.fit`'s independent loops (the cross-fitting folds, the candidate features in chunks of
  notes, the gradient-boosted tree fits): joblib tasks on joblibspark's backend, one Spark task each
  (`chartcoder.models.ranker.parallel_fit`).

What stays on the driver: reading the records, the TF-IDF vectorizers, the two n x n kernels (each
fold task is sent its slices of them), the final classifiers on all notes, calibration and writing
the pack. Every task's result is placed by note or fold index, and the tasks use the seeds a local
run does, so the pack ranks notes as a locally trained pack does (tests/training/test_spark_training.py).

Usage::

    with SparkTraining("local[2]") as engine:
        train_pack(records, out)   # knowledge analyses and the ranker's loops run on Spark

Nothing here imports pyspark until a SparkTraining is entered, so the default install stays light.
"""

from __future__ import annotations

import pickle
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from contextvars import ContextVar
from typing import Any

from chartcoder.domain.encounter import Encounter
from chartcoder.models.ranker import parallel_fit
from chartcoder.spark import get_session
from chartcoder.training.records import Record

Progress = Callable[[str, float], None]
_ACTIVE: ContextVar[SparkTraining | None] = ContextVar("chartcoder_training_engine", default=None)
# Notes per partition of the knowledge analyses: small enough that a few hundred notes still spread
# over every core and progress moves, large enough that a partition's overhead does not matter.
NOTES_PER_PARTITION = 50


def active_engine() -> SparkTraining | None:
    """The SparkTraining whose block encloses this call, or None (train locally)."""
    return _ACTIVE.get()


def engine_card() -> dict[str, Any]:
    """What the model card's "training" section records about where the pack was trained."""
    engine = active_engine()
    return engine.card() if engine is not None else {"engine": "local"}


class SparkTraining:
    """Inside its block, training runs its data-parallel parts on a Spark session (see the module's
    docstring). `master`: a Spark master URL (None: what spark-submit or SPARK_MASTER chose, else
    local[*]). Raises chartcoder.spark.SparkUnavailable when pyspark or Java is missing.
    The session is left running on exit; `stop()` ends it if this engine started it (a session that
    was already running belongs to whoever started it)."""

    def __init__(self, master: str | None = None, conf: dict[str, str] | None = None) -> None:
        self.master = master
        self.conf = conf
        self.session: Any = None
        self.parallelism = 0
        self._stack: ExitStack | None = None
        self._owns_session = False

    def __enter__(self) -> SparkTraining:
        already = _running_session()
        self.session = get_session(self.master, app_name="chartcoder-train", conf=self.conf)
        self._owns_session = self._owns_session or already is None
        from joblibspark import register_spark

        register_spark()
        # joblibspark warns about stage-level scheduling at every joblib call (even where Spark has
        # it); it changes nothing for these tasks, which ask for one core each.
        warnings.filterwarnings("ignore", message=r".*support stage-level scheduling", category=UserWarning)
        warnings.filterwarnings("ignore", message=r"Spark session is not provided", category=UserWarning)
        _quiet_job_cancelling(self.session)
        self.parallelism = max(1, int(self.session.sparkContext.defaultParallelism))
        stack = ExitStack()
        stack.enter_context(parallel_fit(self.parallelism, backend="spark"))
        token = _ACTIVE.set(self)
        stack.callback(_ACTIVE.reset, token)
        self._stack = stack
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None

    def stop(self) -> None:
        if self.session is not None and self._owns_session:
            self.session.stop()
        self.session = None

    def card(self) -> dict[str, Any]:
        master = self.session.sparkContext.master if self.session is not None else self.master
        return {"engine": "spark", "master": master, "parallelism": self.parallelism}

    def analyses(self, records: list[Record], progress: Progress | None = None) -> list[Any]:
        """`SuggestionService.analyze` of every record's note, computed on the executors, in the
        records' order (what `chartcoder.training.train.knowledge_analyses` returns locally)."""
        import pandas as pd

        n = len(records)
        if n == 0:
            return []
        frame = pd.DataFrame(
            {
                "i": list(range(n)),
                "text": [r.text for r in records],
                "encounter": [pickle.dumps(r.encounter, protocol=pickle.HIGHEST_PROTOCOL) for r in records],
            }
        )
        partitions = max(1, min(-(-n // NOTES_PER_PARTITION), 64 * self.parallelism))
        notes = self.session.createDataFrame(frame, schema="i long, text string, encounter binary")
        job = notes.repartition(partitions, "i").mapInPandas(_analyse_batches, schema="i long, analysis binary")
        rows = _collect_with_progress(self.session, job, "knowledge engine (spark)", progress)
        if len(rows) != n:
            raise RuntimeError(f"Spark returned {len(rows)} knowledge analyses for {n} notes")
        out: list[Any] = [None] * n
        for row in rows:
            out[int(row["i"])] = _unpickle(row["analysis"])
        return out


def _analyse_batches(batches: Iterator[Any]) -> Iterator[Any]:
    """On an executor: the knowledge analysis of every note in the partition's Arrow batches, built
    with the worker process's one suggestion service."""
    import pandas as pd

    from chartcoder.models.service import get_service

    service = get_service()
    for batch in batches:
        analyses = [
            pickle.dumps(service.analyze(text, Encounter.from_dict(_unpickle(enc))), protocol=pickle.HIGHEST_PROTOCOL)
            for text, enc in zip(batch["text"], batch["encounter"], strict=True)
        ]
        yield pd.DataFrame({"i": batch["i"].to_numpy(), "analysis": analyses})


def _running_session() -> Any:
    """The SparkSession already running in this process, if any (None also when pyspark is absent)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    return SparkSession.getActiveSession()


def _quiet_job_cancelling(session: Any) -> None:
    """joblibspark cancels its job group after every joblib call, finished or not, and Spark's
    scheduler logs a WARN line each time it finds nothing to cancel: keep that logger to errors."""
    try:
        jvm = session.sparkContext._jvm
        level = jvm.org.apache.logging.log4j.Level.ERROR
        jvm.org.apache.logging.log4j.core.config.Configurator.setLevel("org.apache.spark.scheduler.DAGScheduler", level)
    except Exception:  # noqa: BLE001 - only log noise; another logging backend keeps it
        return


def _unpickle(data: bytes | bytearray) -> Any:
    """Bytes this module pickled on the driver or an executor of the same job (never outside input)."""
    return pickle.loads(bytes(data))  # noqa: S301


def _collect_with_progress(session: Any, frame: Any, stage: str, progress: Progress | None) -> list[Any]:
    """`frame.collect()`, reporting the share of the job's tasks done while it runs."""
    if progress is None:
        return list(frame.collect())
    sc = session.sparkContext
    group = f"chartcoder-train-{uuid.uuid4().hex[:8]}"
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            sc.setJobGroup(group, stage)
            result["rows"] = frame.collect()
        except BaseException as exc:  # handed to the calling thread
            result["error"] = exc

    worker = threading.Thread(target=run, name=group, daemon=True)
    worker.start()
    tracker = sc.statusTracker()
    progress(stage, 0.0)
    while worker.is_alive():
        worker.join(0.5)
        done = total = 0
        for job_id in tracker.getJobIdsForGroup(group):
            job = tracker.getJobInfo(job_id)
            for stage_id in job.stageIds if job is not None else []:
                info = tracker.getStageInfo(stage_id)
                if info is not None:
                    done += info.numCompletedTasks
                    total += info.numTasks
        if total:
            progress(stage, min(done / total, 0.99))  # 1.0 would stop the CLI's progress clock
    if "error" in result:
        raise result["error"]
    return list(result["rows"])
