"""Benchmark statistics from per-sample scores: mean@n with a bootstrap interval, maj@n, unbiased pass@k.

Pure functions of the scores (and, for maj@n, of the extracted answers and an equivalence test), so the
same numbers come out of a fresh evaluation and of re-scoring old outputs.

    from eval_math.metrics import summarize
    summarize([[True, False], [False, False]], [["2", "3"], ["1", None]], seed=0)
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence

import numpy as np

# The sampler's pass@k in the training stats and the benchmark's pass@k are one formula.
from annotate.stats import pass_at_k, powers_of_two_up_to

BOOTSTRAP_RESAMPLES = 1000
CONFIDENCE = 0.95
BOOTSTRAP_BLOCK = 4_000_000  # indices per draw (32 MB)


def bootstrap_interval(
    values: Sequence[float], *, resamples: int = BOOTSTRAP_RESAMPLES, confidence: float = CONFIDENCE, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (one per problem), seeded.

    Problems are the resampling unit: a problem's samples share its difficulty, so resampling samples
    independently would understate the uncertainty.
    """
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("bootstrap_interval needs at least one value")
    rng = np.random.default_rng(seed)
    block = max(1, BOOTSTRAP_BLOCK // data.size)  # resamples drawn at once: bounded memory on big sets
    means = np.concatenate([
        data[rng.integers(0, data.size, size=(min(block, resamples - done), data.size))].mean(axis=1)
        for done in range(0, resamples, block)
    ])
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def majority_vote(
    preds: Sequence[str | None], scores: Sequence[bool], same: Callable[[str, str], bool] = operator.eq
) -> float:
    """maj@n of one problem: the score of the most frequent answer, answers grouped by equivalence.

    Correct answers form one group (each equals the ground truth, so they equal each other); wrong answers
    are grouped by ``same``, each joining the first group whose first answer it matches. Only wrong answers
    are ever compared, which keeps the (possibly symbolic) tests few. Responses without an extracted answer
    (None) do not vote; no votes at all score 0. Ties: when k groups share the top count, one of them
    correct, the score is 1/k, the expected score of breaking the tie uniformly at random, so it does not
    depend on the order of the samples.
    """
    if len(preds) != len(scores):
        raise ValueError(f"{len(preds)} answers but {len(scores)} scores")
    correct = sum(1 for pred, score in zip(preds, scores, strict=True) if pred is not None and score)
    firsts: list[str] = []  # each wrong group's first answer
    counts: list[int] = []
    group_of: dict[str, int] = {}  # identical strings skip the equivalence test
    for pred, score in zip(preds, scores, strict=True):
        if pred is None or score:
            continue
        group = group_of.get(pred)
        if group is None:
            group = next((g for g, first in enumerate(firsts) if same(pred, first)), None)
            if group is None:
                firsts.append(pred)
                counts.append(0)
                group = len(firsts) - 1
            group_of[pred] = group
        counts[group] += 1
    top = max([correct, *counts])
    if correct == 0 or correct < top:
        return 0.0
    return 1.0 / (1 + counts.count(top))


def problem_accuracies(scores: Sequence[Sequence[bool]]) -> list[float]:
    """Each problem's fraction of correct samples; their mean is mean@n (greedy pass@1 when n = 1)."""
    return [sum(map(bool, s)) / len(s) for s in scores]


def summarize(
    scores: Sequence[Sequence[bool]],
    preds: Sequence[Sequence[str | None]],
    *,
    same: Callable[[str, str], bool] = operator.eq,
    seed: int = 0,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> dict:
    """The metrics of one benchmark from per-problem lists of sample scores and extracted answers.

    ``accuracy`` is mean@n: the mean over problems of each problem's fraction of correct samples (greedy
    pass@1 when n = 1), with its bootstrap interval ``ci95``. ``n`` is the smallest per-problem sample
    count (re-scored files may vary); pass@k is reported for the powers of two up to it.
    """
    if not scores:
        raise ValueError("no problems to summarize")
    if len(preds) != len(scores):
        raise ValueError(f"{len(scores)} problems' scores but {len(preds)} problems' answers")
    counts = [len(s) for s in scores]
    if min(counts) == 0:
        raise ValueError(f"problem {counts.index(0)} has no samples")
    per_problem = problem_accuracies(scores)
    n = min(counts)
    return {
        "num_problems": len(scores),
        "n": n,
        "num_samples": sum(counts),
        "accuracy": sum(per_problem) / len(per_problem),
        "ci95": list(bootstrap_interval(per_problem, resamples=resamples, seed=seed)),
        "maj@n": sum(majority_vote(p, s, same) for p, s in zip(preds, scores, strict=True)) / len(scores),
        "pass@k": {
            str(k): sum(pass_at_k(len(s), sum(map(bool, s)), k) for s in scores) / len(scores)
            for k in powers_of_two_up_to(n)
        },
    }
