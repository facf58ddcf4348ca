"""Grading: does a response's final answer equal the ground truth? Labeling, the PPO reward and eval share it.

`grade(response, gt)` extracts the answer (annotate/grader/extract.py: the last \\boxed{}/\\fbox{}, else
the documented forms models state answers in, each a named rule recorded in `Grade.extraction`),
normalises the gt the same way, and compares (annotate/grader/equivalence.py); a gt listing k answers
against a last box holding one is compared with the last k boxes (a question answered in parts). With
`truncated=True` (the
response was cut by the token limit) an answer read by an implicit rule (IMPLICIT_RULES: the last number,
the last math, ...) is an intermediate result and is graded incorrect with rule "truncated". The fast
path (strings, exact numbers, structure, the numeric evaluator) runs in this process in microseconds and
never imports sympy. What it cannot settle goes to the symbolic path in a worker process with a hard
wall-clock limit (annotate/grader/pool.py): a case past `timeout` has its worker killed and replaced, and
is graded incorrect with `timed_out=True`. Model text is never evaluated as Python anywhere. `profile`
(annotate/grader/equivalence.py's PROFILES: ours by default, or "qwen", the Qwen2.5-Math scorer's numeric
rules) chooses how answers are compared; extraction is the same in every profile.

`grade_many` streams (response, gt) pairs in input order with a bounded in-flight window and
`num_workers` symbolic worker processes, started only when a case needs one. Cases with the same gt go
to the same worker (whose parse cache then holds the gt), and a verdict is reused within the batch for a
repeated (answer, gt) pair (the comparison depends on their normalised forms only).

    python -c "from annotate.grader import grade; print(grade(r'so $\\boxed{\\dfrac{1}{2}}$', '0.5'))"
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from annotate.grader import pool as workers
from annotate.grader.boxes import boxes
from annotate.grader.equivalence import DEFAULT, NeedSymbolic, Profile, decide, structure
from annotate.grader.extract import IMPLICIT_RULES, extract, extract_gt
from annotate.grader.guards import MAX_ANSWER_CHARS, MAX_RESPONSE_CHARS, TooBig, check_size
from annotate.grader.normalize import clean

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
# Cases read ahead of the one being yielded, per worker: bounds memory on a 100k-response stream.
_WINDOW_PER_WORKER = 256
# Symbolic verdicts remembered per batch, by (normalised answer, normalised gt).
_VERDICT_CACHE = 4096
# Errors the fast path can raise on malformed input; the case is graded incorrect with rule "error".
_FAST_ERRORS = (ValueError, TypeError, IndexError, ZeroDivisionError, OverflowError, RecursionError)


@dataclass(frozen=True)
class Grade:
    correct: bool
    extracted: str | None  # the final answer taken from the response (None: none found)
    boxed: bool  # the response had a \boxed{...} / \fbox{...}
    rule: str  # what decided: an equivalence check (equivalence.CHECKS), or no_answer, truncated, guard, error, timeout
    seconds: float
    timed_out: bool
    extraction: str = "none"  # the extraction rule that read the answer (RULES), "none" if none did


def _parts(response: str, answer: str, gt: str) -> str:
    """A question in parts, answered in a box per part: a gt list of k answers against the last box alone, which
    holds one answer of the gt's kind, is compared with the last k boxes ("(a) \\boxed{5} ... (b) \\boxed{7}"
    against "5, 7"; "\\boxed{(3, 3)} for part (a) and \\boxed{(1, 1)}" against "(3, 3), (1, 1)")."""
    kind, items = structure(clean(gt))
    if kind != "list" or structure(clean(answer))[0] != structure(items[-1])[0]:
        return answer
    found = boxes(response)
    return ", ".join(found[-len(items) :]) if len(found) >= len(items) else answer


def _fast(response: str, gt: str, truncated: bool = False, profile: Profile = DEFAULT
          ) -> Grade | tuple[str | None, bool, str, str, str]:
    """A Grade when the fast path settles the case, else (extracted, boxed, pred, gt, extraction) for the symbolic path."""
    start = time.perf_counter()
    response = response[-MAX_RESPONSE_CHARS:]
    found = extract(response)
    extracted, boxed, how = found.answer, found.boxed, found.rule
    if extracted is None:
        return Grade(False, None, boxed, "no_answer", time.perf_counter() - start, False, how)
    if truncated and how in IMPLICIT_RULES:
        return Grade(False, extracted, boxed, "truncated", time.perf_counter() - start, False, how)
    gt_answer = extract_gt(gt)
    if how == "boxed" and "," in gt_answer:
        extracted = _parts(response, extracted, gt_answer)
    if not extracted.strip() or not gt_answer.strip():
        return Grade(False, extracted, boxed, "no_answer", time.perf_counter() - start, False, how)
    verdict = _fast_verdict(extracted, gt_answer, profile)
    if verdict is None:
        return extracted, boxed, extracted, gt_answer, how
    return Grade(verdict[0], extracted, boxed, verdict[1], time.perf_counter() - start, False, how)


@lru_cache(maxsize=65536)
def _fast_verdict(pred: str, gt: str, profile: Profile = DEFAULT) -> tuple[bool, str] | None:
    """(correct, rule) of the fast path, None when the symbolic path must decide. Remembered: the K
    responses to one prompt repeat their answers."""
    try:
        if len(pred) > MAX_ANSWER_CHARS or len(gt) > MAX_ANSWER_CHARS:
            raise TooBig("answer length")
        return decide(pred, gt, symbolic=False, profile=profile)
    except NeedSymbolic:
        try:
            check_size(clean(pred))
            check_size(clean(gt))
        except TooBig:
            return False, "guard"
        return None
    except TooBig:
        return pred.strip() == gt.strip(), "guard"
    except _FAST_ERRORS as e:
        logger.debug("fast path failed on %r vs %r: %s", pred[:80], gt[:80], e)
        return False, "error"


def grade(response: str, gt: str, timeout: float = DEFAULT_TIMEOUT, truncated: bool = False,
          profile: Profile = DEFAULT) -> Grade:
    """Grade one response; the symbolic path, when needed, runs in a helper process under `timeout`.

    `truncated`: the response was cut by the token limit, so implicit rules do not earn a correct verdict.
    """
    # The process's symbolic worker starts on the first call, so that it is ready when a case needs it.
    if not workers.single_pool_started() and workers.can_fork_workers():
        workers.single_pool(timeout)
    fast = _fast(response, gt, truncated, profile)
    if isinstance(fast, Grade):
        return fast
    pool = workers.single_pool(timeout) if workers.can_fork_workers() else None
    return next(_finish([(0, fast)], pool, profile))


def _finish(jobs: list[tuple[int, tuple]], pool: workers.SymbolicPool | None, profile: Profile) -> Iterator[Grade]:
    """Run pending symbolic jobs (in-process with no time limit only where no child can be started)."""
    for job_id, (extracted, boxed, pred, gt, how) in jobs:
        if pool is None:
            start = time.perf_counter()
            correct, rule = workers._symbolic_job(pred, gt, profile)
            yield Grade(correct, extracted, boxed, rule, time.perf_counter() - start, False, how)
            continue
        pool.submit(job_id, pred, gt, profile)
        while True:
            finished = {r[0]: r for r in pool.results()}
            if job_id in finished:
                _, correct, rule, seconds, timed_out = finished[job_id]
                yield Grade(correct, extracted, boxed, rule, seconds, timed_out, how)
                break


def is_correct(response: str, gt: str, profile: Profile = DEFAULT) -> bool:
    """Whether the response's final answer is equivalent to the ground truth."""
    return grade(response, gt, profile=profile).correct


def grade_many(
    pairs: Iterable[tuple[str, str] | tuple[str, str, bool]], *, num_workers: int = 1, timeout: float = DEFAULT_TIMEOUT,
    profile: Profile = DEFAULT,
) -> Iterator[Grade]:
    """Grade (response, gt) or (response, gt, truncated) cases, yielding Grades in input order; reads
    ahead a bounded window only. `truncated` and `profile` are as in `grade`."""
    if num_workers < 1:
        raise ValueError(f"num_workers must be >= 1, got {num_workers}")
    window = _WINDOW_PER_WORKER * num_workers
    pool = workers.SymbolicPool(num_workers, timeout) if workers.can_fork_workers() else None
    slots: deque[list] = deque()  # [Grade | None, extracted, boxed, start, extraction]
    verdicts: OrderedDict[tuple[str, str], tuple[bool, str, bool]] = OrderedDict()  # -> correct, rule, timed_out
    waiting: dict[tuple[str, str], list[list]] = {}  # slots whose verdict a submitted job will give
    keys: dict[int, tuple[str, str]] = {}  # job id -> verdict key
    source = iter(pairs)
    ids = itertools.count()
    exhausted = False

    def settle(key: tuple[str, str], correct: bool, rule: str, timed_out: bool) -> None:
        verdicts[key] = (correct, rule, timed_out)
        if len(verdicts) > _VERDICT_CACHE:
            verdicts.popitem(last=False)
        now = time.perf_counter()
        for slot in waiting.pop(key):
            slot[0] = Grade(correct, slot[1], slot[2], rule, now - slot[3], timed_out, slot[4])

    try:
        while True:
            while not exhausted and len(slots) < window:
                pair = next(source, None)
                if pair is None:
                    exhausted = True
                    break
                start = time.perf_counter()
                fast = _fast(*pair, profile=profile)
                if isinstance(fast, Grade):
                    slots.append([fast])
                    continue
                extracted, boxed, pred, gt, how = fast
                slot = [None, extracted, boxed, start, how]
                slots.append(slot)
                key = (clean(pred), clean(gt))
                if key in verdicts:
                    verdicts.move_to_end(key)
                    correct, rule, timed_out = verdicts[key]
                    slot[0] = Grade(correct, extracted, boxed, rule, time.perf_counter() - start, timed_out, how)
                elif key in waiting:
                    waiting[key].append(slot)
                else:
                    waiting[key] = [slot]
                    if pool is None:
                        settle(key, *workers._symbolic_job(pred, gt, profile), False)
                    else:
                        job_id = next(ids)
                        keys[job_id] = key
                        pool.submit(job_id, pred, gt, profile)
            while slots and slots[0][0] is not None:
                yield slots.popleft()[0]
            if not slots:
                if exhausted:
                    return
                continue
            if exhausted or len(slots) >= window:
                for job_id, correct, rule, _seconds, timed_out in pool.results():
                    settle(keys.pop(job_id), correct, rule, timed_out)
    finally:
        if pool is not None:
            pool.close()
