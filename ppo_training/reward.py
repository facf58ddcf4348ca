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

``score`` is annotate/label.py's reward for ``reward_policy`` (``recipe`` or ``strict_box``) with the
values ``reward_correct``/``reward_wrong``/``reward_no_box`` (default the recipe's 1 / -0.5 / -1).
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
from types import SimpleNamespace
from typing import Any

from annotate.grader import DEFAULT_TIMEOUT, Grade, grade_many
from annotate.label import REWARD_POLICIES
from annotate.label import reward as label_reward

# The recipe's rewards (annotate/label.py's defaults): correct, wrong with a \boxed{}, no \boxed{}.
RECIPE_REWARDS = {"reward_correct": 1.0, "reward_wrong": -0.5, "reward_no_box": -1.0}


def _gt_text(ground_truth: Any) -> str:
    """The ground truth as the grader's string (prepare_data.py writes strings; numbers are accepted)."""
    if isinstance(ground_truth, str):
        return ground_truth
    if isinstance(ground_truth, (int, float)) and not isinstance(ground_truth, bool):
        return str(ground_truth)
    raise TypeError(f"ground_truth must be a string or a number, got {type(ground_truth).__name__}")


def _policy(reward_policy: str, rewards: dict[str, float]) -> SimpleNamespace:
    """What annotate/label.py's ``reward`` reads of its arguments: the policy and its three values."""
    if reward_policy not in REWARD_POLICIES:
        raise ValueError(f"reward_policy must be one of {REWARD_POLICIES}, got {reward_policy!r}")
    return SimpleNamespace(reward_policy=reward_policy, **rewards)


def _result(g: Grade, response: str, policy: SimpleNamespace) -> dict[str, float]:
    return {
        "score": float(label_reward(g, response, policy)),
        "acc": float(g.correct),
        "boxed": float(g.boxed),
        "timed_out": float(g.timed_out),
    }


def _rewards(reward_correct: float | None, reward_wrong: float | None, reward_no_box: float | None) -> dict:
    given = {"reward_correct": reward_correct, "reward_wrong": reward_wrong, "reward_no_box": reward_no_box}
    rewards = {k: float(RECIPE_REWARDS[k] if v is None else v) for k, v in given.items()}
    if rewards["reward_correct"] <= max(rewards["reward_wrong"], rewards["reward_no_box"]):
        raise ValueError(f"reward_correct must be above reward_wrong and reward_no_box, got {rewards}")
    return rewards


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None, *,
                  reward_policy: str = "recipe", reward_correct: float | None = None,
                  reward_wrong: float | None = None, reward_no_box: float | None = None,
                  timeout: float = DEFAULT_TIMEOUT, **kwargs) -> dict[str, float]:
    """verl's per-response reward function (the signature its reward loop calls); extra kwargs are ignored."""
    policy = _policy(reward_policy, _rewards(reward_correct, reward_wrong, reward_no_box))
    (g,) = grade_many([(solution_str, _gt_text(ground_truth))], num_workers=1, timeout=timeout)
    return _result(g, solution_str, policy)


def compute_score_batch(data_sources: Sequence[str], solution_strs: Sequence[str], ground_truths: Sequence[Any],
                        extra_infos: Iterable[dict | None] | None = None, *, reward_policy: str = "recipe",
                        reward_correct: float | None = None, reward_wrong: float | None = None,
                        reward_no_box: float | None = None, timeout: float = DEFAULT_TIMEOUT,
                        num_workers: int = 4, **kwargs) -> list[dict[str, float]]:
    """verl's batched reward function (BatchRewardManager's call): one grader stream over the lists."""
    if len(solution_strs) != len(ground_truths):
        raise ValueError(f"{len(solution_strs)} responses but {len(ground_truths)} ground truths")
    policy = _policy(reward_policy, _rewards(reward_correct, reward_wrong, reward_no_box))
    pairs = [(s, _gt_text(gt)) for s, gt in zip(solution_strs, ground_truths, strict=True)]
    grades = grade_many(pairs, num_workers=num_workers, timeout=timeout)
    return [_result(g, s, policy) for g, s in zip(grades, solution_strs, strict=True)]
