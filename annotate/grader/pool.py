"""The symbolic path's worker processes: each job under a hard wall-clock limit, a stuck worker killed.

`SymbolicPool(size, timeout)` starts `size` worker processes on the first job (fork where available: a
worker starts in milliseconds with sympy already imported by the parent). A job that runs past `timeout`
has its worker killed and replaced and is reported with rule "timeout"; a worker that dies is replaced
and its job reported with rule "error". Nothing waits without a deadline: a worker that has not said it is
ready within `start_timeout` seconds of its start is killed too (a child forked from a threaded parent,
a verl Ray actor for one, can deadlock on a lock another thread held), and its replacements are spawned
(a fresh interpreter inherits no lock); after MAX_FAILED_STARTS starts in a row that never got ready the
pool raises WorkerStartError, so a run stops with the reason rather than hang or grade its cases wrong.
Nothing here reads model text: a worker runs `equivalence.decide(pred, gt, symbolic=True, profile)` on two
extracted answers and the job's scorer profile.

    python -c "from annotate.grader.pool import SymbolicPool; p = SymbolicPool(1, 5.0); p.submit(0, r'\\log_2 8', '3'); print(p.results()); p.close()"
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing as mp
import time
import zlib
from collections import deque
from multiprocessing.connection import wait

from annotate.grader.equivalence import DEFAULT, Profile, decide
from annotate.grader.guards import TooBig

logger = logging.getLogger(__name__)

# fork starts a worker in milliseconds and shares the parent's imports; elsewhere use the default.
_START_METHOD = "fork" if "fork" in mp.get_all_start_methods() else None
# A worker that failed to start is replaced by one started this way: a fresh interpreter, no inherited locks.
_RESTART_METHOD = "spawn"
# Seconds a worker may take to import sympy and say it is ready (a spawned one imports it afresh).
START_TIMEOUT = 60.0
MAX_FAILED_STARTS = 3


class WorkerStartError(RuntimeError):
    """The symbolic path's worker processes never became ready: the pool cannot grade what needs sympy."""


def _symbolic_job(pred: str, gt: str, profile: Profile = DEFAULT) -> tuple[bool, str]:
    try:
        return decide(pred, gt, symbolic=True, profile=profile)
    except TooBig:
        return False, "guard"


def _worker_main(conn) -> None:
    """A symbolic worker: import sympy once, then answer (job_id, pred, gt, profile) with (job_id, correct, rule)."""
    from annotate.grader.symbolic import warm_up

    warm_up()  # pay sympy's import and the parser's first build before the first job's clock starts
    conn.send(("ready",))
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        job_id, pred, gt, profile = job
        try:
            correct, rule = _symbolic_job(pred, gt, profile)
        except Exception as e:  # noqa: BLE001 - one malformed case must not take the worker down
            logger.debug("symbolic path failed: %r", e)
            correct, rule = False, "error"
        conn.send((job_id, correct, rule))


class _Worker:
    def __init__(self, ctx):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child,), daemon=True)
        self.proc.start()
        child.close()
        self.ready = False
        self.job: int | None = None
        self.started = 0.0
        self.born = time.perf_counter()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join()
        self.conn.close()


class SymbolicPool:
    """`size` worker processes for the symbolic path, each job under a hard wall-clock limit.

    A job waits in the queue of the worker its gt hashes to, so the sympy form of a gt is parsed once
    per batch rather than once per worker; an idle worker with an empty queue takes the oldest job of
    the longest other queue.
    """

    def __init__(self, size: int, timeout: float, start_timeout: float | None = None, warm_parent: bool = True):
        if size < 1:
            raise ValueError(f"num_workers must be >= 1, got {size}")
        self.size, self.timeout, self.warm_parent = size, timeout, warm_parent
        self.start_timeout = START_TIMEOUT if start_timeout is None else start_timeout
        self.ctx = mp.get_context(_START_METHOD)
        self.workers: list[_Worker] = []
        self.queues: list[deque[tuple[int, str, str, Profile]]] = [deque() for _ in range(size)]
        self.failed_starts = 0  # in a row, since a worker last became ready

    def start(self) -> None:
        """Start the workers, if they are not running yet."""
        if self.workers:
            return
        if _START_METHOD == "fork" and self.warm_parent:
            # Import sympy and warm the LaTeX parser once here, so that every forked worker (and every
            # replacement of a killed one) starts with them instead of paying ~1 s of CPU each.
            from annotate.grader.symbolic import warm_up

            warm_up()
        self.workers = [_Worker(self.ctx) for _ in range(self.size)]

    def submit(self, job_id: int, pred: str, gt: str, profile: Profile = DEFAULT) -> None:
        self.queues[zlib.crc32(gt.encode("utf-8", "replace")) % self.size].append((job_id, pred, gt, profile))
        self.start()
        self._dispatch()

    def _dispatch(self) -> None:
        for i, w in enumerate(self.workers):
            if w.ready and w.job is None:
                queue = self.queues[i] or max(self.queues, key=len)
                if not queue:
                    return
                job = queue.popleft()
                w.conn.send(job)
                w.job, w.started = job[0], time.perf_counter()

    def results(self) -> list[tuple[int, bool, str, float, bool]]:
        """Block until something finishes; return [(job_id, correct, rule, seconds, timed_out)]."""
        done: list[tuple[int, bool, str, float, bool]] = []
        while not done:
            ready = wait([w.conn for w in self.workers], timeout=self._next_deadline())
            for w in list(self.workers):
                if w.conn in ready:
                    try:
                        msg = w.conn.recv()
                    except EOFError:
                        done.extend(self._replace(w, "error"))
                        continue
                    if msg[0] == "ready":
                        w.ready, self.failed_starts = True, 0
                    else:
                        done.append((msg[0], msg[1], msg[2], time.perf_counter() - w.started, False))
                        w.job = None
                elif w.job is not None and time.perf_counter() - w.started >= self.timeout:
                    done.extend(self._replace(w, "timeout"))
                elif not w.ready and time.perf_counter() - w.born >= self.start_timeout:
                    logger.warning("a grader worker was not ready %.0f s after its start: replaced", self.start_timeout)
                    self._replace(w, "error")
            self._dispatch()
        return done

    def _next_deadline(self) -> float:
        """Seconds until the first job or worker start runs out of time."""
        now = time.perf_counter()
        deadlines = [w.started + self.timeout - now for w in self.workers if w.job is not None]
        deadlines += [w.born + self.start_timeout - now for w in self.workers if not w.ready]
        return max(0.0, min(deadlines)) if deadlines else self.start_timeout

    def _replace(self, w: _Worker, rule: str) -> list[tuple[int, bool, str, float, bool]]:
        lost = [] if w.job is None else [(w.job, False, rule, time.perf_counter() - w.started, rule == "timeout")]
        w.kill()
        if not w.ready:
            self.failed_starts += 1
            if self.failed_starts >= MAX_FAILED_STARTS:
                self.close()
                raise WorkerStartError(
                    f"{self.failed_starts} grader workers in a row never became ready (each given "
                    f"{self.start_timeout:g} s; start methods {_START_METHOD} then {_RESTART_METHOD}): the symbolic "
                    "path cannot run in this process"
                )
            self.ctx = mp.get_context(_RESTART_METHOD)
        self.workers[self.workers.index(w)] = _Worker(self.ctx)
        return lost

    def close(self) -> None:
        for w in self.workers:
            w.kill()
        self.workers = []


_single: SymbolicPool | None = None


def single_pool(timeout: float) -> SymbolicPool:
    """The process-wide one-worker pool that `grade` uses, its limit set to `timeout`. Its worker is started
    at once and imports sympy itself, in the background: this process never imports sympy, and a case that
    needs it finds the worker ready."""
    global _single
    if _single is None:
        _single = SymbolicPool(1, timeout, warm_parent=False)
        _single.start()
        atexit.register(_single.close)
    _single.timeout = timeout
    return _single


def single_pool_started() -> bool:
    """Whether this process's one-worker pool exists (`single_pool` was called)."""
    return _single is not None


def can_fork_workers() -> bool:
    # A daemonic process (e.g. a multiprocessing.Pool worker) may not start children.
    return not mp.current_process().daemon
