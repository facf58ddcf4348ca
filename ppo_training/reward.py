"""verl reward functions over the project's one grader, so PPO/GRPO rewards are scored as DPO's labels are.

verl 0.9.1 loads a reward function by file path from its config (run_ppo.sh / run_grpo.sh set these):

    reward.custom_reward_function.path=ppo_training/reward.py
    reward.custom_reward_function.name=compute_score
    ++reward.custom_reward_function.reward_kwargs.reward_policy=strict_box   # or recipe
    ++reward.custom_reward_function.reward_kwargs.reward_wrong=0.0           # 0/1 rewards

``compute_score`` grades one response; it is what verl 0.9.1's trainer calls (its reward loop runs one
call per response, several at once in threads of ``reward.num_workers`` Ray actors). ``compute_score_batch``
grades lists, for verl's ``BatchRewardManager`` (``verl.workers.reward_manager.batch``), through one
``annotate.grader.grade_many`` stream with ``num_workers`` symbolic worker processes.

Either way a response the fast path cannot settle is compared in a worker process that is killed after
``timeout`` seconds and graded wrong, so one pathological response costs at most ``timeout`` and cannot
stall a step. Each call of ``compute_score`` has its own worker (``grade_many`` over one case), not the
grader's process-wide single worker, because verl calls it from several threads at once.

``score`` is the reward of ``annotate.grader.RewardPolicy`` (what annotate/label.py pays) for
``reward_policy`` (``recipe`` or ``strict_box``) with the values ``reward_correct``/``reward_wrong``/
``reward_no_box`` (default the recipe's 1 / -0.5 / -1, ``annotate.grader.RECIPE``).
``strict_box`` with 1 / 0 / 0 is the original PPO baseline's reward (verl's MATH scorer: 1 for an
equivalent answer in a \\boxed{}, else 0). verl does not tell a reward function whether a response was
cut at the length limit, so label.py's truncation rule (no credit from an implicit answer) cannot apply
here; under ``strict_box`` only a closed box earns credit anyway. The result is a dict: ``score``,
``acc`` (1.0 when the grader accepts the answer, whatever the policy: verl reports it as the
validation accuracy), ``boxed`` and ``timed_out`` (0/1).

    python -c "from ppo_training.reward import compute_score; print(compute_score('math', r'\\boxed{2}', '2'))"
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from annotate.grader import DEFAULT_TIMEOUT, RECIPE, Grade, RewardPolicy, grade_many, gt_string


def _policy(reward_policy: str, correct: float | None, wrong: float | None, no_box: float | None) -> RewardPolicy:
    """The policy with the values given, the recipe's (annotate.grader.RECIPE) where a value is None."""
    return RewardPolicy(
        reward_policy,
        RECIPE.correct if correct is None else float(correct),
        RECIPE.wrong if wrong is None else float(wrong),
        RECIPE.no_box if no_box is None else float(no_box),
    )


def _result(g: Grade, response: str, policy: RewardPolicy) -> dict[str, float]:
    return {
        "score": float(policy.reward(g, response)),
        "acc": float(g.correct),
        "boxed": float(g.boxed),
        "timed_out": float(g.timed_out),
    }


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None, *,
                  reward_policy: str = RECIPE.name, reward_correct: float | None = None,
                  reward_wrong: float | None = None, reward_no_box: float | None = None,
                  timeout: float = DEFAULT_TIMEOUT, **kwargs) -> dict[str, float]:
    """verl's per-response reward function (the signature its reward loop calls); extra kwargs are ignored."""
    policy = _policy(reward_policy, reward_correct, reward_wrong, reward_no_box)
    (g,) = grade_many([(solution_str, gt_string(ground_truth))], num_workers=1, timeout=timeout)
    return _result(g, solution_str, policy)


def compute_score_batch(data_sources: Sequence[str], solution_strs: Sequence[str], ground_truths: Sequence[Any],
                        extra_infos: Iterable[dict | None] | None = None, *, reward_policy: str = RECIPE.name,
                        reward_correct: float | None = None, reward_wrong: float | None = None,
                        reward_no_box: float | None = None, timeout: float = DEFAULT_TIMEOUT,
                        num_workers: int = 4, **kwargs) -> list[dict[str, float]]:
    """verl's batched reward function (BatchRewardManager's call): one grader stream over the lists."""
    if len(solution_strs) != len(ground_truths):
        raise ValueError(f"{len(solution_strs)} responses but {len(ground_truths)} ground truths")
    policy = _policy(reward_policy, reward_correct, reward_wrong, reward_no_box)
    pairs = [(s, gt_string(gt)) for s, gt in zip(solution_strs, ground_truths, strict=True)]
    grades = grade_many(pairs, num_workers=num_workers, timeout=timeout)
    return [_result(g, s, policy) for g, s in zip(grades, solution_strs, strict=True)]
