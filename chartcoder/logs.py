"""Logging set-up for the server processes: one JSON object per line, request ids, never note text (the
API logs ids, routes, statuses and timings; nothing in chartcoder logs a note or a patient)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName", "color_message"}


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "message", ...}` and the record's `extra` fields, one line each.
    An exception adds its type only: a traceback's messages can quote the data that failed."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info and record.exc_info[0] is not None:
            out["exc_type"] = record.exc_info[0].__name__
        return json.dumps(out, default=str, ensure_ascii=False)


def configure_logging(level: int = logging.INFO) -> None:
    """Send chartcoder's records to stderr unless the host process (uvicorn --log-config, a test
    runner) has set up the `chartcoder` logger already."""
    logger = logging.getLogger("chartcoder")
    if logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    # uvicorn's own lines in JSON too; its access line is replaced by ours (it has the raw path and
    # query string, ours the route template, the caller and the latency).
    for h in logging.getLogger("uvicorn").handlers:
        h.setFormatter(JsonFormatter())
    logging.getLogger("uvicorn.access").disabled = True
