"""Apache Spark for chartcoder's bulk work (`pip install chartcoder[spark]`).

One place builds the SparkSession that `chartcoder bulk predict --engine spark` and `chartcoder train
--engine spark` use, so both read the same settings:

- `master`: a Spark master URL (`local[2]`, `spark://host:7077`, `yarn`, `k8s://...`); None keeps what
  `spark-submit` or `SPARK_MASTER` chose, else `local[*]`;
- the Python workers run this interpreter (`PYSPARK_PYTHON`), unless the caller set one: executors
  on a cluster need chartcoder installed in the same environment (docs/scale.md);
- Arrow is on (mapInPandas moves note batches as Arrow record batches), the web UI is off unless
  asked for, and Spark's own logging stays at WARN so that it does not drown the CLI's output.

`SparkUnavailable` says plainly what is missing (the extra, or a Java runtime) or that Spark would not
start (a bad master URL, a cluster out of reach) instead of a traceback from py4j.

`executor_env()` carries the driver's output-changing CHARTCODER_* settings to the executors, so that
a cluster codes (bulk predict) or analyses notes (training) like the machine the job was started from.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from typing import Any

from chartcoder.domain.errors import ChartcoderError

MIN_JAVA = 17
# Settings that change what a note gets; the driver hands its values to Spark executors so that a
# cluster codes like the machine the job was started from.
OUTPUT_SETTINGS = (
    "CHARTCODER_MIN_SCORE",
    "CHARTCODER_MAX_NOTE_CHARS",
    "CHARTCODER_MAX_TOP_K",
    "CHARTCODER_DEFAULT_TOP_K",
    "CHARTCODER_CPT_FILE",
    "CHARTCODER_HCPCS_FILE",
)


class SparkUnavailable(ChartcoderError):
    """pyspark is not installed, no usable Java runtime was found, or Spark would not start."""


def executor_env() -> dict[str, str]:
    """`spark.executorEnv.*` settings carrying the driver's output-changing CHARTCODER_* values."""
    return {f"spark.executorEnv.{k}": os.environ[k] for k in OUTPUT_SETTINGS if k in os.environ}


def java_version() -> int | None:
    """The major version of the `java` Spark would start (JAVA_HOME first, then PATH), or None."""
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not java or not os.path.exists(java):
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "(?:1\.)?(\d+)', out.stderr + out.stdout)
    return int(match.group(1)) if match else None


def spark_available() -> tuple[bool, str]:
    """(True, "") when a session can be started here; else (False, why)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False, "pyspark is not installed: pip install 'chartcoder[spark]'"
    major = java_version()
    if major is None:
        return False, "no Java runtime found (JAVA_HOME or java on PATH); Spark needs Java 17 or newer"
    if major < MIN_JAVA:
        return False, f"Java {major} found; Spark 4 needs Java {MIN_JAVA} or newer"
    return True, ""


def get_session(master: str | None = None, app_name: str = "chartcoder", conf: dict[str, str] | None = None) -> Any:
    """A SparkSession (an existing one is reused by Spark itself when master and conf allow)."""
    ok, why = spark_available()
    if not ok:
        raise SparkUnavailable(why)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    chosen = master or os.environ.get("SPARK_MASTER")
    if chosen:
        builder = builder.master(chosen)
    elif "spark.master" not in _submitted_conf():
        builder = builder.master("local[*]")
    settings = {
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        **(conf or {}),
    }
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # PySparkRuntimeError [JAVA_GATEWAY_EXITED], Py4JError, a refused master...
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        reason = lines[0] if lines else type(exc).__name__
        where = chosen or ("local[*]" if "spark.master" not in _submitted_conf() else "set by spark-submit")
        raise SparkUnavailable(f"could not start Spark (master {where!r}): {reason}") from None
    session.sparkContext.setLogLevel("WARN")
    return session


def _submitted_conf() -> dict[str, str]:
    """Settings spark-submit passed to this driver (empty when run as a plain Python program)."""
    raw = os.environ.get("PYSPARK_SUBMIT_ARGS", "")
    # Under spark-submit the JVM starts first and hands Python its gateway: its master is already set.
    submitted = "--master" in raw or "PYSPARK_GATEWAY_PORT" in os.environ
    return {"spark.master": "submitted"} if submitted else {}
