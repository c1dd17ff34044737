"""Logging set-up for the server processes: one line per record, request ids, never note text (the
API logs ids, routes, statuses and timings; nothing in chartcoder logs a note or a patient)."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    """Send chartcoder's records to stderr unless the host process (uvicorn --log-config, a test
    runner) has set up the `chartcoder` logger already."""
    logger = logging.getLogger("chartcoder")
    if logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
