"""Where `CodeRanker.fit` runs its independent loops: in turn in this process by default, or as joblib
tasks inside `parallel_fit(n_jobs, backend)` (`chartcoder train --engine spark` makes that
joblibspark's backend, so every task is a Spark task)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

# -- the loops of `fit` as tasks ----------------------------------------------------------------------
# `CodeRanker.fit` runs its cross-fitting folds, its candidate building (in chunks of notes) and its
# tree fits through `_map_tasks`. By default they run one after the other in this process, exactly as
# a plain loop. Inside `parallel_fit(n_jobs)` they are joblib tasks under whatever joblib backend is
# active: `chartcoder train --engine spark` makes that joblibspark's, so every task is a Spark task.
# A task gets its inputs as arguments (kernel slices, the notes of its chunk) and returns plain
# arrays, dicts and fitted models; the caller places them by fold or note index, so a parallel fit
# gives the numbers a sequential one does.
FIT_JOBS: ContextVar[int | None] = ContextVar("chartcoder_fit_jobs", default=None)
_FIT_BACKEND: ContextVar[str | None] = ContextVar("chartcoder_fit_backend", default=None)


@contextmanager
def parallel_fit(n_jobs: int | None = -1, backend: str | None = None) -> Iterator[None]:
    """Within the block, `CodeRanker.fit` hands its independent loops to `joblib.Parallel(n_jobs)`,
    on `backend` (a registered joblib backend name such as "spark" or "loky"; None: whatever
    `joblib.parallel_config` has made active). `n_jobs=None` keeps the sequential loops."""
    jobs, chosen = FIT_JOBS.set(n_jobs), _FIT_BACKEND.set(backend)
    try:
        yield
    finally:
        _FIT_BACKEND.reset(chosen)
        FIT_JOBS.reset(jobs)


def map_tasks(func: Callable[..., Any], tasks: Iterable[tuple[Any, ...]]) -> Iterator[Any]:
    """`func(*task)` for every task, in the tasks' order, as they finish."""
    jobs = FIT_JOBS.get()
    if jobs is None:
        return (func(*task) for task in tasks)
    from joblib import Parallel, delayed

    # One task per batch: a task is already a sizeable piece of work, and joblib's automatic
    # batching would otherwise pack several into one (Spark) task at first. (joblibspark cannot
    # return results as they come, so they come all at once, in order.)
    runner = Parallel(n_jobs=jobs, backend=_FIT_BACKEND.get(), batch_size=1)
    return iter(runner(delayed(func)(*task) for task in tasks))


def note_chunks(n: int, jobs: int | None) -> list[tuple[int, int]]:
    """Contiguous (start, stop) ranges of notes: all of them at once when fitting runs sequentially,
    else about four chunks per worker so that uneven chunks even out, of 100 to 500 notes (a chunk
    of fewer notes costs more to schedule than to compute)."""
    if jobs is None or n == 0:
        return [(0, n)]
    workers = jobs if jobs > 0 else 8
    size = max(100, min(500, math.ceil(n / (4 * workers))))
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]
