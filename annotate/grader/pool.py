"""The symbolic path's worker processes: each job under a hard wall-clock limit, a stuck worker killed.

`SymbolicPool(size, timeout)` starts `size` worker processes on the first job (fork where available: a
worker starts in milliseconds with sympy already imported by the parent). A job that runs past `timeout`
has its worker killed and replaced and is reported with rule "timeout"; a worker that dies is replaced
and its job reported with rule "error". Nothing here reads model text: a worker runs
`equivalence.decide(pred, gt, symbolic=True, profile)` on two extracted answers and the job's scorer profile.

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


def _symbolic_job(pred: str, gt: str, profile: Profile = DEFAULT) -> tuple[bool, str]:
    try:
        return decide(pred, gt, symbolic=True, profile=profile)
    except TooBig:
        return False, "guard"


def _worker_main(conn) -> None:
    """A symbolic worker: import sympy once, then answer (job_id, pred, gt, profile) with (job_id, correct, rule)."""
    import annotate.grader.symbolic  # noqa: F401 - pay sympy's import before the first job's clock starts

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

    def __init__(self, size: int, timeout: float):
        if size < 1:
            raise ValueError(f"num_workers must be >= 1, got {size}")
        self.size, self.timeout = size, timeout
        self.ctx = mp.get_context(_START_METHOD)
        self.workers: list[_Worker] = []
        self.queues: list[deque[tuple[int, str, str, Profile]]] = [deque() for _ in range(size)]

    def submit(self, job_id: int, pred: str, gt: str, profile: Profile = DEFAULT) -> None:
        self.queues[zlib.crc32(gt.encode("utf-8", "replace")) % self.size].append((job_id, pred, gt, profile))
        if not self.workers:
            if _START_METHOD == "fork":
                # Import sympy and warm the LaTeX parser once here, so that every forked worker (and
                # every replacement of a killed one) starts with them instead of paying ~1 s each.
                from annotate.grader.symbolic import warm_up

                warm_up()
            self.workers = [_Worker(self.ctx) for _ in range(self.size)]
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
            now = time.perf_counter()
            deadlines = [w.started + self.timeout - now for w in self.workers if w.job is not None]
            ready = wait([w.conn for w in self.workers], timeout=max(0.0, min(deadlines)) if deadlines else None)
            for w in list(self.workers):
                if w.conn in ready:
                    try:
                        msg = w.conn.recv()
                    except EOFError:
                        done.extend(self._replace(w, "error"))
                        continue
                    if msg[0] == "ready":
                        w.ready = True
                    else:
                        done.append((msg[0], msg[1], msg[2], time.perf_counter() - w.started, False))
                        w.job = None
                elif w.job is not None and time.perf_counter() - w.started >= self.timeout:
                    done.extend(self._replace(w, "timeout"))
            self._dispatch()
        return done

    def _replace(self, w: _Worker, rule: str) -> list[tuple[int, bool, str, float, bool]]:
        lost = [] if w.job is None else [(w.job, False, rule, time.perf_counter() - w.started, rule == "timeout")]
        w.kill()
        self.workers[self.workers.index(w)] = _Worker(self.ctx)
        return lost

    def close(self) -> None:
        for w in self.workers:
            w.kill()
        self.workers = []


_single: SymbolicPool | None = None


def single_pool(timeout: float) -> SymbolicPool:
    """The process-wide one-worker pool that `grade` uses, its limit set to `timeout`."""
    global _single
    if _single is None:
        _single = SymbolicPool(1, timeout)
        atexit.register(_single.close)
    _single.timeout = timeout
    return _single


def can_fork_workers() -> bool:
    # A daemonic process (e.g. a multiprocessing.Pool worker) may not start children.
    return not mp.current_process().daemon
