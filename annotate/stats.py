"""``stats.json``: the numbers of one iteration's annotate stage, written by audit.py, label.py and pairs.py.

Each script owns one section of the file and replaces only that section (read-modify-write, written
atomically), so ``label.py`` then ``pairs.py`` leave ``{"label": {...}, "pairs": {...}}``. The file
defaults to ``stats.json`` beside the script's output file (``--stats_file`` overrides). The driver and
the run report read these keys:

``label`` (annotate/label.py)
    prompts, responses          records read, responses graded
    K                           most responses any prompt has (pass@K is per prompt, over its own n)
    correct                     responses credited correct by the reward policy
    mean_reward                 mean reward over all responses
    pass@1, pass@K              the sampler's pass rates, averaged over prompts with >= 1 response;
                                pass@K = fraction of prompts with at least one correct response
    pass@k                      {"1": .., "2": .., "4": .., ..}: unbiased estimates (Chen et al. 2021)
                                for k = powers of two up to K, over prompts with >= k responses
    all_correct, all_wrong, mixed   fractions of prompts (with >= 1 response)
    no_responses                prompts with an empty ``responses`` list
    no_box                      responses without a ``\\boxed{}`` (wrong ones get ``reward_no_box``)
    truncated                   responses that stopped at the length limit (``finish_reasons`` "length")
    mean_num_tokens             mean response length in tokens (``num_tokens``, where known)
    timeouts                    responses whose grading hit the time limit (graded incorrect)
    truncated_implicit          truncated responses whose answer an implicit rule read (last number,
                                last math, ...): never credited, in any policy
    extraction                  {rule: {"responses": n, "correct": c}}: verdicts per extraction rule
                                (annotate.grader.RULES, "none" when no rule found an answer)
    audit_dropped               prompts left out because their gt failed the audit (``--audit_file``)
    reward_policy               recipe or strict_box (annotate/label.py)
    scorer_profile              how answers were compared: default, or qwen (annotate.grader.PROFILES)
    rewards                     the reward scheme used: {"correct": .., "wrong": .., "no_box": ..}
    seconds, responses_per_second, num_workers

``audit`` (annotate/audit.py, before the iteration samples)
    prompts, fail_share, max_fail_share
    failed                      [{"idx", "gt", "reasons"}]: prompts whose gt failed (left out by label.py)

``pairs`` (annotate/pairs.py; also for ``--choose_type raft``)
    choose_type, prompts        the strategy; records read
    records                     records written (pairs, or RAFT completions)
    no_record                   {reason: prompts}: why prompts gave nothing; reasons are
                                ``fewer_than_2`` (under two distinct responses left), ``tie`` (no
                                strictly lower-scored response), ``all_correct`` / ``all_wrong``
                                (dropped by option), ``format_only`` (pair of two wrong responses,
                                dropped by option), ``no_correct`` (raft: nothing correct to imitate)
    truncated_dropped           responses removed by ``--drop_truncated``
    duplicates_dropped          responses removed because an earlier response had the same text
    format_only_pairs           pairs kept whose responses are both wrong (they differ in format only)
    chosen_reward_mean, rejected_reward_mean, margin_mean
    chosen_tokens_mean, rejected_tokens_mean, chosen_chars_mean, rejected_chars_mean
    completion_tokens_mean, completion_chars_mean, reward_mean   (raft instead of the chosen/rejected keys)

A mean over nothing is ``null``. To look at one:

    python -c "import json; print(json.load(open('runs/demo/iter_1/stats.json'))['label']['pass@1'])"
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common.records import write_json

logger = logging.getLogger(__name__)

STATS_NAME = "stats.json"
NO_RECORD_REASONS = ("fewer_than_2", "tie", "all_correct", "all_wrong", "format_only", "no_correct")


def stats_path(output_file: str | os.PathLike, stats_file: str | None = None) -> Path:
    """``stats_file`` if given, else ``stats.json`` in the directory of ``output_file``."""
    return Path(stats_file) if stats_file else Path(output_file).parent / STATS_NAME


def update_stats(path: str | os.PathLike, section: str, values: dict[str, Any]) -> None:
    """Replace ``section`` of the stats file with ``values``, keeping the other sections."""
    path = Path(path)
    stats: dict[str, Any] = {}
    if path.is_file():
        try:
            stats = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            # Stats are derived data: a damaged file must not stop a stage whose real output is fine.
            logger.warning("%s is not valid JSON (%s); starting it afresh", path, e)
        if not isinstance(stats, dict):
            logger.warning("%s does not hold a JSON object; starting it afresh", path)
            stats = {}
    stats[section] = values
    write_json(path, stats)


def mean(total: float, count: int) -> float | None:
    return total / count if count else None


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct: 1 - C(n-c, k) / C(n, k)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def powers_of_two_up_to(k: int) -> list[int]:
    return [2**i for i in range(k.bit_length())] if k > 0 else []


class LabelStats:
    """Accumulates the ``label`` section one labeled record at a time."""

    def __init__(self, rewards: dict[str, float], policy: str = "recipe", profile: str = "default"):
        self.rewards, self.policy, self.profile = rewards, policy, profile
        self.truncated_implicit = self.audit_dropped = 0
        self.extraction: dict[str, Counter[str]] = {}
        self.prompts = self.responses = self.correct = self.no_box = self.truncated = 0
        self.timeouts = self.no_responses = self.all_correct = self.all_wrong = self.tokens = 0
        self.counted = 0  # responses whose num_tokens is known (the original recipe's samples have none)
        self.reward_sum = 0.0
        self.pass_sums: Counter[int] = Counter()
        self.pass_counts: Counter[int] = Counter()
        self.K = 0

    def add(self, record: dict, grades: Sequence) -> None:
        """Count one labeled record; ``grades`` are its responses' ``annotate.grader.Grade`` results."""
        verdicts = record.get("correct", [g.correct for g in grades])
        n, c = len(grades), sum(verdicts)
        self.truncated_implicit += sum(g.rule == "truncated" for g in grades)
        for g, ok in zip(grades, verdicts, strict=True):
            counts = self.extraction.setdefault(g.extraction, Counter())
            counts["responses"] += 1
            counts["correct"] += bool(ok)
        self.prompts += 1
        self.responses += n
        self.correct += c
        self.timeouts += sum(g.timed_out for g in grades)
        self.no_box += sum(not g.boxed for g in grades)
        self.reward_sum += sum(record["rewards"])
        self.truncated += sum(reason == "length" for reason in record.get("finish_reasons", ()))
        self.tokens += sum(record.get("num_tokens", ()))
        self.counted += len(record.get("num_tokens", ()))
        self.K = max(self.K, n)
        if n == 0:
            self.no_responses += 1
            return
        self.all_correct += c == n
        self.all_wrong += c == 0
        for k in powers_of_two_up_to(n):
            self.pass_sums[k] += pass_at_k(n, c, k)
            self.pass_counts[k] += 1

    def summary(self, seconds: float, num_workers: int) -> dict[str, Any]:
        answered = self.prompts - self.no_responses
        pass_k = {str(k): self.pass_sums[k] / self.pass_counts[k] for k in powers_of_two_up_to(self.K)}
        return {
            "prompts": self.prompts,
            "responses": self.responses,
            "K": self.K,
            "correct": self.correct,
            "mean_reward": mean(self.reward_sum, self.responses),
            "pass@1": pass_k.get("1"),
            "pass@K": mean(answered - self.all_wrong, answered),
            "pass@k": pass_k,
            "all_correct": mean(self.all_correct, answered),
            "all_wrong": mean(self.all_wrong, answered),
            "mixed": mean(answered - self.all_correct - self.all_wrong, answered),
            "no_responses": self.no_responses,
            "no_box": self.no_box,
            "truncated": self.truncated,
            "mean_num_tokens": mean(self.tokens, self.counted),
            "timeouts": self.timeouts,
            "truncated_implicit": self.truncated_implicit,
            "extraction": {rule: {"responses": c["responses"], "correct": c["correct"]}
                           for rule, c in sorted(self.extraction.items())},
            "audit_dropped": self.audit_dropped,
            "reward_policy": self.policy,
            "scorer_profile": self.profile,
            "rewards": self.rewards,
            "seconds": round(seconds, 3),
            "responses_per_second": round(self.responses / seconds, 1) if seconds > 0 else None,
            "num_workers": num_workers,
        }


class PairStats:
    """Accumulates the ``pairs`` section while annotate/pairs.py streams its records."""

    def __init__(self, choose_type: str):
        self.choose_type = choose_type
        self.prompts = self.records = self.truncated_dropped = self.duplicates_dropped = 0
        self.format_only_pairs = 0
        self.no_record: Counter[str] = Counter()
        self.sums: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()  # values summed per key: token counts may be unknown (None)

    def _add(self, **values) -> None:
        known = {key: value for key, value in values.items() if value is not None}
        self.sums.update(known)
        self.counts.update(known.keys())

    def none(self, reason: str) -> None:
        """Count a prompt that gave no record, and why; returns None so callers can ``return`` it."""
        self.no_record[reason] += 1

    def dropped(self, truncated: int, duplicates: int) -> None:
        self.truncated_dropped += truncated
        self.duplicates_dropped += duplicates

    def pair(self, chosen, rejected, chosen_score: float, rejected_score: float) -> None:
        """Count a pair; ``chosen``/``rejected`` have ``text``, ``tokens`` and ``correct``."""
        self.records += 1
        self.format_only_pairs += chosen.correct is False and rejected.correct is False
        self._add(
            chosen_reward=chosen_score, rejected_reward=rejected_score, margin=chosen_score - rejected_score,
            chosen_tokens=chosen.tokens, rejected_tokens=rejected.tokens,
            chosen_chars=len(chosen.text), rejected_chars=len(rejected.text),
        )

    def completion(self, pick) -> None:
        """Count a RAFT completion; ``pick`` has ``text``, ``tokens`` and ``reward``."""
        self.records += 1
        self._add(reward=pick.reward, completion_tokens=pick.tokens, completion_chars=len(pick.text))

    def summary(self) -> dict[str, Any]:
        if self.choose_type == "raft":
            means = ("reward", "completion_tokens", "completion_chars")
        else:
            means = ("chosen_reward", "rejected_reward", "margin", "chosen_tokens", "rejected_tokens",
                     "chosen_chars", "rejected_chars")
        out: dict[str, Any] = {
            "choose_type": self.choose_type,
            "prompts": self.prompts,
            "records": self.records,
            "no_record": {reason: self.no_record[reason] for reason in NO_RECORD_REASONS},
            "truncated_dropped": self.truncated_dropped,
            "duplicates_dropped": self.duplicates_dropped,
        }
        if self.choose_type != "raft":
            out["format_only_pairs"] = self.format_only_pairs
        out.update({f"{key}_mean": mean(self.sums[key], self.counts[key]) for key in means})
        return out
