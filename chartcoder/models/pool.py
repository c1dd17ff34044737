"""Suggestion work in a bounded pool of worker processes, queued fairly per caller, with a time budget.

Why processes: the NLP pipeline (spaCy, medspaCy, our Python rules) holds the GIL, so threads in the
API process take turns on one core, and one caller's long notes slow every other request, `/healthz`
included. Here the API process only validates, queues and waits (asynchronously on the
`/v1/suggestions` route); the work runs in `CHARTCODER_SUGGEST_WORKERS` processes.

How the workers are made: the API process starts one helper process (the *zygote*, `python -m
chartcoder.models.pool`), which loads the pipeline, the knowledge engine and the serving pack once,
freezes its heap (`gc.freeze`) and forks the workers from itself. A fork costs milliseconds and
shares the loaded memory copy-on-write, so a worker that must be stopped is simply killed and
replaced at once. The zygote is single-threaded when it forks (the API process is not, which is why
it does not fork itself), and is in its own process group, so a Ctrl-C in the terminal reaches only
the API process, which stops the pool on shutdown. (Not its own session: with the kernel's
autogroup scheduling a new session is one more scheduling group, and on a busy machine the workers
then shared one group's CPU share: half the throughput.)

Who runs next (fair queuing): each caller (a signed-in person, an API key, a CDS client) has its own
queue, at most `CHARTCODER_SUGGEST_QUEUE_PER_CALLER` jobs deep (queued plus running; more answers
429). Idle workers take jobs round-robin over the callers with work queued, so a caller with many
notes queued gets one turn in each round, like everyone else. A note of
`CHARTCODER_SUGGEST_HEAVY_NOTE_CHARS` or more is *heavy*: at most one fewer than the worker count
run at once (at least one), so one worker always stays free for ordinary notes: long notes from any
number of callers cannot hold every worker.

Bounds: a job may wait in its queue `CHARTCODER_SUGGEST_QUEUE_WAIT_SECONDS` (then 503) and run
`CHARTCODER_SUGGEST_BUDGET_SECONDS` on its worker; a job over its budget is stopped by killing its
worker (503 naming the budget and the setting). A request whose client goes away has its job
dropped from the queue or, when running, its worker killed (see `RequestWork`).

Hot swap: each job names the pack the API process serves for that request (its folder), and a worker
loads another pack when a job names one it does not hold; the zygote loads it too, so later forks start
with it. A request in flight finishes on the pack it started with, as in `chartcoder.models.serving`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import itertools
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import OrderedDict, deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Client, Connection, Listener, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chartcoder import metrics
from chartcoder.domain.errors import ChartcoderError, InvalidInputError, NoteTooLongError

if TYPE_CHECKING:
    from chartcoder.config import Settings
    from chartcoder.domain.encounter import Encounter
    from chartcoder.models.pack import ModelPack
    from chartcoder.models.schema import SuggestionSet
    from chartcoder.models.service import SuggestionService

log = logging.getLogger("chartcoder.pool")


# -- errors a caller can meet -----------------------------------------------------------------------


class SuggestionWorkError(ChartcoderError):
    """Suggestion work refused or stopped by a bound; `status` and `error` are what the API answers."""

    status = 503
    error = "suggestion_unavailable"
    retry_after: int | None = None


class WorkBudgetExceeded(SuggestionWorkError):
    error = "suggestion_budget_exceeded"


class QueueFull(SuggestionWorkError):
    status = 429
    error = "suggestion_queue_full"
    retry_after = 2


class QueueTimeout(SuggestionWorkError):
    error = "suggestion_queue_timeout"
    retry_after = 5


class ClientGone(SuggestionWorkError):
    """The client went away; the answer goes nowhere, but the work stopped."""

    status = 499
    error = "client_closed_request"


class WorkerFailed(SuggestionWorkError):
    error = "suggestion_worker_failed"
    retry_after = 2


# -- the request a job belongs to -------------------------------------------------------------------


class RequestWork:
    """The suggestion jobs one HTTP request started, and whether its client went away. Set for each
    request by `chartcoder.api.work.RequestWorkScope` in a context variable, which threads started with
    `run_in_threadpool` inherit; `disconnected()` cancels every job of the request."""

    def __init__(self, caller: str, request_id: str | None) -> None:
        self.caller = caller
        self.request_id = request_id
        self.gone = False
        self._jobs: set[Job] = set()
        self._lock = threading.Lock()

    def add(self, job: Job) -> None:
        with self._lock:
            if self.gone:
                job.pool.cancel(job)
            self._jobs.add(job)

    def discard(self, job: Job) -> None:
        with self._lock:
            self._jobs.discard(job)

    def disconnected(self) -> None:
        with self._lock:
            self.gone = True
            jobs = list(self._jobs)
        for job in jobs:
            job.pool.cancel(job)


CURRENT_WORK: contextvars.ContextVar[RequestWork | None] = contextvars.ContextVar("chartcoder_work", default=None)


# -- the pool (API process side) --------------------------------------------------------------------


_ids = itertools.count(1)


@dataclass(eq=False)
class Job:
    pool: SuggestionPool
    caller: str
    heavy: bool
    payload: tuple[Any, ...]
    future: Future[SuggestionSet] = field(default_factory=Future)
    id: int = field(default_factory=lambda: next(_ids))
    queued_at: float = field(default_factory=time.monotonic)
    deadline: float = 0.0  # set when a worker takes it
    worker: Worker | None = None


@dataclass(eq=False)
class Worker:
    pid: int
    conn: Connection
    job: Job | None = None


class SuggestionPool:
    """The API process's side: queues, dispatch, budgets. `submit` is thread-safe; one thread of the
    pool talks to the zygote and the workers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.size = settings.suggest_workers
        self.heavy_cap = max(1, self.size - 1)
        self._lock = threading.Lock()
        self._queues: OrderedDict[str, deque[Job]] = OrderedDict()  # caller -> jobs waiting, in turn order
        self._in_flight: dict[str, int] = {}  # caller -> queued + running
        self._workers: dict[int, Worker] = {}
        self._to_cancel: list[Job] = []
        self._forks_wanted = 0
        self._pack: str | None = None  # what the zygote should have loaded for the next fork
        self._stopping = False
        self._zygote: subprocess.Popen[bytes] | None = None
        self._zygote_conn: Connection | None = None
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None
        self._acceptor: threading.Thread | None = None
        self._listener: Listener | None = None
        self._folder: str | None = None
        self._authkey = secrets.token_bytes(32)
        self.started_at: float | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self, pack: str | None = None) -> None:
        """Start the zygote (it loads the engine, then forks the workers); returns at once."""
        if self._thread is not None:
            return
        self._pack = pack
        self._folder = tempfile.mkdtemp(prefix="chartcoder-pool-")  # 0700: only this user can connect
        address = str(Path(self._folder) / "pool.sock")
        self._listener = Listener(address, family="AF_UNIX", authkey=self._authkey)
        self._acceptor = threading.Thread(target=self._accept_loop, name="chartcoder-pool-accept", daemon=True)
        self._acceptor.start()
        self._thread = threading.Thread(target=self._loop, name="chartcoder-pool", daemon=True)
        self._thread.start()
        self.started_at = time.monotonic()
        self._start_zygote(address)

    def _start_zygote(self, address: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != metrics.MULTIPROC_ENV}  # counted by the API process
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")  # one core per worker
        self._zygote = subprocess.Popen(
            [sys.executable, "-m", "chartcoder.models.pool", address],
            stdin=subprocess.PIPE,
            env=env,
            process_group=0,  # a terminal's Ctrl-C reaches the API process only; it stops us
        )
        assert self._zygote.stdin is not None
        start = {"authkey": self._authkey.hex(), "settings": self.settings.model_dump_json(), "pack": self._pack}
        self._zygote.stdin.write(json.dumps(start).encode() + b"\n")
        self._zygote.stdin.close()
        with self._lock:
            self._forks_wanted = self.size

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            jobs = [j for q in self._queues.values() for j in q] + [w.job for w in self._workers.values() if w.job]
            self._queues.clear()
        for job in jobs:
            _fail(job, WorkerFailed("the server is shutting down; retry shortly"))
        self._wake()
        if self._zygote_conn is not None:
            with contextlib.suppress(OSError):
                self._zygote_conn.send(("stop",))
        if self._zygote is not None:
            try:
                self._zygote.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self._zygote.pid, signal.SIGKILL)  # its own group: the zygote and its workers
                self._zygote.wait(5)
        if self._listener is not None:
            self._listener.close()
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for w in workers:
            w.conn.close()
        if self._folder:
            for f in Path(self._folder).glob("*"):
                f.unlink(missing_ok=True)
            os.rmdir(self._folder)

    @property
    def ready(self) -> bool:
        """Workers to code with, and the zygote that replaces them: without it the pool only shrinks (a
        killed worker is not replaced), so the process says it is not ready and wants a restart."""
        return bool(self._workers) and self._zygote_conn is not None

    def status(self) -> dict[str, int]:
        with self._lock:
            return {
                "workers": len(self._workers),
                "busy": sum(1 for w in self._workers.values() if w.job is not None),
                "queued": sum(len(q) for q in self._queues.values()),
            }

    # -- submitting --------------------------------------------------------------------------------
    def submit(self, caller: str, pack: str | None, text: str, encounter: Encounter, top_k: int) -> Job:
        job = Job(self, caller, len(text) >= self.settings.suggest_heavy_note_chars, (pack, text, encounter, top_k))
        with self._lock:
            if self._stopping:
                raise WorkerFailed("the server is shutting down; retry shortly")
            depth = self.settings.suggest_queue_per_caller
            if self._in_flight.get(caller, 0) >= depth:
                metrics.suggestion_work("queue_full")
                raise QueueFull(
                    f"this caller already has {depth} notes queued or being coded, the limit "
                    "(CHARTCODER_SUGGEST_QUEUE_PER_CALLER); wait for an answer before sending more"
                )
            self._in_flight[caller] = self._in_flight.get(caller, 0) + 1
            self._queues.setdefault(caller, deque()).append(job)
        self._wake()
        return job

    def cancel(self, job: Job) -> None:
        with self._lock:
            self._to_cancel.append(job)
        self._wake()

    def run(self, caller: str, pack: str | None, text: str, encounter: Encounter, top_k: int) -> SuggestionSet:
        """Blocking: for code running in a worker thread of the API (the review and CDS paths)."""
        work = CURRENT_WORK.get()
        job = self.submit(work.caller if work else caller, pack, text, encounter, top_k)
        if work is not None:
            work.add(job)
        try:
            return job.future.result()
        finally:
            if work is not None:
                work.discard(job)

    async def arun(self, caller: str, pack: str | None, text: str, encounter: Encounter, top_k: int) -> SuggestionSet:
        """Awaitable: the event loop is free while the job waits and runs."""
        work = CURRENT_WORK.get()
        job = self.submit(work.caller if work else caller, pack, text, encounter, top_k)
        if work is not None:
            work.add(job)
        try:
            return await asyncio.shield(asyncio.wrap_future(job.future))
        except asyncio.CancelledError:
            self.cancel(job)
            raise
        finally:
            if work is not None:
                work.discard(job)

    # -- the pool thread ---------------------------------------------------------------------------
    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping:
            try:
                conn = self._listener.accept()
                if not conn.poll(10):
                    conn.close()
                    continue
                hello = conn.recv()
            except (OSError, EOFError):  # the listener closed (stop), or a client that failed to authenticate
                if self._stopping:
                    return
                continue
            except Exception as exc:  # e.g. multiprocessing.AuthenticationError: not one of ours
                log.warning("pool: refused a connection (%s)", type(exc).__name__)
                continue
            if hello[0] == "zygote":
                self._zygote_conn = conn
            elif hello[0] == "worker":
                with self._lock:
                    self._workers[int(hello[1])] = Worker(int(hello[1]), conn)
                    if len(self._workers) == 1:
                        waited = time.monotonic() - (self.started_at or 0)
                        log.info("suggestion workers: first ready after %.1f s", waited)
            self._wake()

    def _loop(self) -> None:
        while not self._stopping:
            try:
                self._step()
            except Exception:  # never let the pool thread die
                log.exception("pool: unexpected error in the pool thread")
                time.sleep(0.5)

    def _step(self) -> None:
        now = time.monotonic()
        with self._lock:
            conns: list[Any] = [w.conn for w in self._workers.values()]
            deadlines = [w.job.deadline for w in self._workers.values() if w.job is not None]
            queue_limit = self.settings.suggest_queue_wait_seconds
            deadlines += [q[0].queued_at + queue_limit for q in self._queues.values() if q]
        if self._zygote_conn is not None:
            conns.append(self._zygote_conn)
        timeout = max(0.0, min([d - now for d in deadlines], default=1.0))
        for ready in wait([*conns, self._wake_r], timeout=min(timeout, 1.0)):
            if ready == self._wake_r:
                os.read(self._wake_r, 4096)
            elif ready is self._zygote_conn:
                self._from_zygote()
            else:
                self._from_worker(ready)  # type: ignore[arg-type]
        self._cancel_requested()
        self._enforce_bounds()
        self._dispatch()
        self._fork_missing()
        metrics.suggestion_workers(**self.status())

    def _from_zygote(self) -> None:
        assert self._zygote_conn is not None
        try:
            msg = self._zygote_conn.recv()
        except (EOFError, OSError):
            self._zygote_conn = None
            if not self._stopping:
                code = self._zygote.poll() if self._zygote else None
                log.error("pool: the worker zygote exited (code %s); the workers are not replaced", code)
            return
        if msg[0] == "error":
            log.error("pool: the worker zygote could not load the engine or pack: %s", msg[1])

    def _from_worker(self, conn: Connection) -> None:
        worker = next((w for w in self._workers.values() if w.conn is conn), None)
        if worker is None:
            return
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            self._retire(worker, WorkerFailed("the worker coding this note stopped unexpectedly; retry"))
            return
        job = worker.job
        with self._lock:
            worker.job = None
        if job is None or msg[1] != job.id:
            return
        self._finished(job)
        if msg[0] == "ok":
            result: SuggestionSet = msg[2]
            metrics.suggestions_served(result.model, len(result.suggestions))
            metrics.suggestion_work("done")
            _resolve(job, result)
        else:
            kind, message = msg[2], msg[3]
            error: Exception
            if kind == "NoteTooLongError":
                error = NoteTooLongError(message)
            elif kind == "InvalidInputError":
                error = InvalidInputError(message)
            else:
                log.error("pool: job %s failed in its worker with %s", job.id, kind)  # the type only: no text
                error = WorkerFailed(f"coding this note failed in its worker ({kind}); retry, or quote the request id")
            metrics.suggestion_work("failed")
            _fail(job, error)

    def _finished(self, job: Job) -> None:
        with self._lock:
            left = self._in_flight.get(job.caller, 1) - 1
            if left > 0:
                self._in_flight[job.caller] = left
            else:
                self._in_flight.pop(job.caller, None)

    def _retire(self, worker: Worker, error: SuggestionWorkError | None) -> None:
        """Kill a worker (its job, if any, is answered with `error`) and have the zygote fork another."""
        with self._lock:
            self._workers.pop(worker.pid, None)
            job, worker.job = worker.job, None
            self._forks_wanted += 1
        if self._zygote_conn is not None:
            with contextlib.suppress(OSError):
                self._zygote_conn.send(("kill", worker.pid))
        else:  # the zygote is gone: stop the worker from here (same user), or its work goes on unbounded
            with contextlib.suppress(OSError):
                os.kill(worker.pid, signal.SIGKILL)
        worker.conn.close()
        if job is not None:
            self._finished(job)
            if error is not None:
                _fail(job, error)

    def _cancel_requested(self) -> None:
        with self._lock:
            jobs, self._to_cancel = self._to_cancel, []
        for job in jobs:
            if job.future.done():
                continue
            with self._lock:
                queue = self._queues.get(job.caller)
                queued = queue is not None and job in queue
                if queued:
                    assert queue is not None
                    queue.remove(job)
            metrics.suggestion_work("cancelled")
            if queued:
                self._finished(job)
                _fail(job, ClientGone("the client went away; the note was not coded"))
            elif job.worker is not None and job.worker.job is job:
                log.info("pool: job %s stopped: its client went away", job.id)
                self._retire(job.worker, ClientGone("the client went away; coding stopped"))

    def _enforce_bounds(self) -> None:
        now = time.monotonic()
        budget = self.settings.suggest_budget_seconds
        with self._lock:
            over = [w for w in self._workers.values() if w.job is not None and w.job.deadline <= now]
            waited = self.settings.suggest_queue_wait_seconds
            stale = [j for q in self._queues.values() for j in q if j.queued_at + waited <= now]
            for job in stale:
                self._queues[job.caller].remove(job)
        for worker in over:
            assert worker.job is not None
            log.warning("pool: job %s over its %.1f s budget; its worker is stopped", worker.job.id, budget)
            metrics.suggestion_work("over_budget")
            self._retire(
                worker,
                WorkBudgetExceeded(
                    f"coding this note took longer than the {budget:g} s budget (CHARTCODER_SUGGEST_BUDGET_SECONDS) "
                    "and was stopped; send a shorter note, or ask the operator to raise the budget"
                ),
            )
        for job in stale:
            metrics.suggestion_work("queue_timeout")
            self._finished(job)
            _fail(
                job,
                QueueTimeout(
                    f"the note waited {waited:g} s for a free worker (CHARTCODER_SUGGEST_QUEUE_WAIT_SECONDS) "
                    "and was not coded: the server is busy; retry shortly"
                ),
            )

    def _dispatch(self) -> None:
        while True:
            with self._lock:
                idle = [w for w in self._workers.values() if w.job is None]
                if not idle:
                    return
                job = self._next_job()
                if job is None:
                    return
                worker = idle[0]
                worker.job, job.worker = job, worker
                job.deadline = time.monotonic() + self.settings.suggest_budget_seconds
            try:
                worker.conn.send(("job", job.id, *job.payload))
            except OSError:
                self._retire(worker, None)
                with self._lock:  # back to the front of its caller's queue
                    job.worker = None
                    self._in_flight[job.caller] = self._in_flight.get(job.caller, 0) + 1
                    self._queues.setdefault(job.caller, deque()).appendleft(job)
                    self._queues.move_to_end(job.caller, last=False)

    def _next_job(self) -> Job | None:
        """Round-robin over the callers with work queued; a heavy note waits while heavy notes hold
        all but one worker. Called with the lock held."""
        heavy_running = sum(1 for w in self._workers.values() if w.job is not None and w.job.heavy)
        for caller in list(self._queues):
            queue = self._queues[caller]
            job = next((j for j in queue if not j.heavy or heavy_running < self.heavy_cap), None)
            if job is None:
                continue
            queue.remove(job)
            if queue:
                self._queues.move_to_end(caller)  # its next turn comes after everyone else's
            else:
                del self._queues[caller]
            return job
        return None

    def _fork_missing(self) -> None:
        if self._zygote_conn is None or self._stopping:
            return
        with self._lock:
            n, self._forks_wanted = self._forks_wanted, 0
        for _ in range(n):
            try:
                self._zygote_conn.send(("fork", self._pack))
            except OSError:
                return

    def serve_pack(self, pack: str | None) -> None:
        """The pack new workers should start with (jobs name their own; this only saves a load)."""
        self._pack = pack


def _resolve(job: Job, result: SuggestionSet) -> None:
    if not job.future.done():
        job.future.set_result(result)


def _fail(job: Job, error: Exception) -> None:
    if not job.future.done():
        job.future.set_exception(error)


def pack_key(service: SuggestionService) -> str | None:
    """What a job names as its pack: the served pack's folder (None: the knowledge engine alone)."""
    return str(service.pack.path) if service.pack is not None else None


def _front_base() -> type[SuggestionService]:
    from chartcoder.models.knowledge import ENGINE_VERSION
    from chartcoder.models.service import SuggestionService

    class FrontService(SuggestionService):
        """The API process's service when the pool codes the notes: it names the serving pack (loaded
        and verified, as the registry's hot swap needs) but loads no NLP pipeline or knowledge engine,
        which only the workers use: the API process starts faster and stays smaller."""

        def __init__(self, settings: Settings | None = None, pack: ModelPack | None = None) -> None:
            from chartcoder.config import get_settings

            self.settings = settings or get_settings()
            self.pack = pack

        def with_pack(self, pack: ModelPack | None) -> SuggestionService:
            return FrontService(self.settings, pack)

        @property
        def model_name(self) -> str:
            return self.pack.name if self.pack is not None else ENGINE_VERSION

        def suggest(self, *args: Any, **kwargs: Any) -> SuggestionSet:
            raise WorkerFailed("notes are coded by the worker pool, not the API process")

    return FrontService


def front_service(settings: Settings) -> SuggestionService:
    """The configured pack in the API process's stand-in service (see `_front_base`)."""
    from chartcoder.models.service import service_from_settings

    return service_from_settings(settings, kind=_front_base())


class PooledService:
    """What the API's routes get instead of the in-process service when the pool is on: `suggest`
    validates here (so a bad note answers at once) and runs the work in the pool; everything else
    (model name, pack, settings) is the serving service's."""

    def __init__(self, pool: SuggestionPool, service: SuggestionService) -> None:
        self._pool = pool
        self._service = service
        self._pack = pack_key(service)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)

    def _checked(self, text: object, top_k: int | None, max_chars: int | None) -> tuple[str, int]:
        from chartcoder.models.service import validate_note

        settings = self._service.settings
        note = validate_note(text, max_chars or settings.max_note_chars)
        k = top_k if top_k is not None else settings.default_top_k
        if not 1 <= k <= settings.max_top_k:
            raise InvalidInputError(f"'top_k' must be between 1 and {settings.max_top_k}; got {k}.")
        return note, k

    def suggest(
        self, text: object, encounter: Encounter | None = None, top_k: int | None = None, max_chars: int | None = None
    ) -> SuggestionSet:
        from chartcoder.domain.encounter import Encounter

        note, k = self._checked(text, top_k, max_chars)
        return self._pool.run("-", self._pack, note, encounter or Encounter(), k)

    async def asuggest(
        self, text: object, encounter: Encounter | None = None, top_k: int | None = None, max_chars: int | None = None
    ) -> SuggestionSet:
        from chartcoder.domain.encounter import Encounter

        note, k = self._checked(text, top_k, max_chars)
        return await self._pool.arun("-", self._pack, note, encounter or Encounter(), k)


# -- the zygote and its workers (their own processes) -----------------------------------------------


_WARM_NOTE = (
    "CHIEF COMPLAINT: Chest pain.\nHISTORY OF PRESENT ILLNESS: 67-year-old man with type 2 diabetes and CKD stage 3b; "
    "denies fever. Mother had coronary artery disease.\nASSESSMENT AND PLAN:\n1. Essential hypertension.\n"
    "2. COPD with acute exacerbation.\nOffice visit, established patient, moderate complexity.\n"
)


class _Engine:
    """The loaded service and the pack it serves, switched when a job names another pack."""

    def __init__(self, settings: Settings) -> None:
        from chartcoder.models.service import SuggestionService

        self.base = SuggestionService(settings)
        self.pack: str | None = None
        self.service = self.base

    def warm(self) -> None:
        """Code a short note once, so the caches the first note builds are built here, once, and
        shared with every fork (a fresh worker's first note then costs what any note costs)."""
        from chartcoder.domain.encounter import Encounter

        for setting in ("outpatient", "inpatient"):
            self.service.suggest(_WARM_NOTE, Encounter(setting=setting), 20)

    def serving(self, pack: str | None) -> SuggestionService:
        if pack != self.pack:
            from chartcoder.models.pack import load_pack
            from chartcoder.models.signing import trusted_keys

            trusted = trusted_keys(self.base.settings)  # the keys the server's settings trust, not the env's
            self.service = self.base if pack is None else self.base.with_pack(load_pack(pack, trusted))
            self.pack = pack
        return self.service


def _worker_main(engine: _Engine, address: str, authkey: bytes) -> None:
    conn = Client(address, family="AF_UNIX", authkey=authkey)
    conn.send(("worker", os.getpid()))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return  # the API process is gone
        _, job_id, pack, text, encounter, top_k = msg
        try:
            result = engine.serving(pack).suggest(text, encounter, top_k, len(text))
            reply: tuple[Any, ...] = ("ok", job_id, result)
        except Exception as exc:
            reply = ("error", job_id, type(exc).__name__, str(exc) if isinstance(exc, InvalidInputError) else "")
        del text, msg
        try:
            conn.send(reply)
        except (OSError, ValueError):
            return


def _zygote_main(address: str) -> int:
    from chartcoder.config import Settings
    from chartcoder.logs import configure_logging

    configure_logging()
    start = json.loads(sys.stdin.readline())
    authkey = bytes.fromhex(start["authkey"])
    settings = Settings.model_validate_json(start["settings"])
    conn = Client(address, family="AF_UNIX", authkey=authkey)
    conn.send(("zygote", os.getpid()))
    try:
        engine = _Engine(settings)
        engine.serving(start.get("pack"))
        engine.warm()
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return 1
    gc.collect()
    gc.freeze()  # what is loaded now stays shared with the forks: the collector will not touch it
    children: set[int] = set()
    try:
        _serve_forks(conn, engine, address, authkey, children)
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return 0


def _serve_forks(conn: Connection, engine: _Engine, address: str, authkey: bytes, children: set[int]) -> None:
    """The zygote's loop: fork a worker per "fork", kill one of ours per "kill", reap the exited; returns
    on "stop" or when the API process is gone. `children` holds the live workers' pids."""
    while True:
        if conn.poll(0.5):
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                return
            if msg[0] == "stop":
                return
            if msg[0] == "kill" and msg[1] in children:
                os.kill(msg[1], signal.SIGKILL)
            elif msg[0] == "fork":
                children.add(_fork_worker(conn, engine, msg[1], address, authkey))
        _reap(children)


def _fork_worker(conn: Connection, engine: _Engine, pack: str | None, address: str, authkey: bytes) -> int:
    """A worker forked from the zygote, serving `pack` (loaded here first, so the forks share it)."""
    try:
        if pack != engine.pack:
            engine.serving(pack)
            engine.warm()
    except Exception as exc:  # a pack that will not load: fork with what we hold
        log.error("pool zygote: could not load the pack (%s)", type(exc).__name__)
    pid = os.fork()
    if pid == 0:
        conn.close()
        code = 0
        try:
            _worker_main(engine, address, authkey)
        except BaseException:
            code = 1
        os._exit(code)
    return pid


def _reap(children: set[int]) -> None:
    """Forget the workers that have exited, without waiting for the others."""
    while children:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            children.clear()
            return
        if pid == 0:
            return
        children.discard(pid)


if __name__ == "__main__":
    sys.exit(_zygote_main(sys.argv[1]))
