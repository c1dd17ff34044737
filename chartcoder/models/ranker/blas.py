"""One BLAS thread for the small matrix products of ranking one note (`one_blas_thread`)."""

from __future__ import annotations

import threading
from typing import Any

from threadpoolctl import ThreadpoolController


class _OneBlasThread:
    """Within the block, BLAS runs on one thread: the classifiers' products (one note's kernel row
    times the dual coefficients, 2,000 x 965) as the cross-fitting folds computed them in training
    (`_cross_fit_fold` pins one thread too). One note's product is too small to gain from a second
    thread: waking it cost 1.9 ms where one thread takes 0.75 ms, and 6 ms on a loaded machine where
    the second thread waits for a core. Re-entrant and shared by threads: the first to enter sets one
    thread, the last to leave restores the count, so concurrent requests all rank on one thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._libs: list[Any] | None = None
        self._saved: list[int] = []

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                if self._libs is None:
                    self._libs = list(ThreadpoolController().select(user_api="blas").lib_controllers)
                self._saved = [lib.get_num_threads() for lib in self._libs]
                for lib in self._libs:
                    lib.set_num_threads(1)
            self._depth += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                for lib, n in zip(self._libs or [], self._saved, strict=True):
                    lib.set_num_threads(n)


_ONE_BLAS_THREAD = _OneBlasThread()


def one_blas_thread() -> _OneBlasThread:
    """The process-wide one-BLAS-thread block (`_OneBlasThread`)."""
    return _ONE_BLAS_THREAD
