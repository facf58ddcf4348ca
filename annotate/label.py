"""Rule-based rewards: grade every sampled response with the one grader and write the labeled file.

    python annotate/label.py --dataset_name_or_path samples.jsonl --output_file labeled.jsonl --num_workers 2

Streams the samples file (common.records.SAMPLES), grades each response against its record's ``gt``
with ``annotate.grader.grade_many`` (fast path in this process, symbolic cases in ``num_workers``
processes under ``--timeout`` seconds each), and writes each record with three lists added, in input
order, atomically: ``correct`` (the verdict the reward used), ``extracted`` (the final answer the
grader read, or null) and ``rewards``, given by the reward policy (``--reward_policy``, an
``annotate.grader.RewardPolicy`` with the three reward values):

    recipe       the original Online-DPO-R1 labeler: a correct final answer, read by any of the
                 grader's extraction rules (boxed, "the answer is", last math, last number, ...;
                 the reward IS the evaluation) -> reward_correct (1.0); else reward_wrong (-0.5) if
                 "\\boxed" occurs anywhere in the response; else reward_no_box (-1.0)
    strict_box   the format enforced: reward_correct only for a correct answer inside a closed
                 \\boxed{}; else reward_wrong if the response has a closed \\boxed{}; else reward_no_box

Answers are compared by the scorer profile ``--scorer_profile`` (annotate.grader.PROFILES): ``default``
(ours), or ``qwen``, the numeric rules of the Qwen2.5-Math scorer the original labels with (a relative
1e-4 between any two numbers, and 100x or 1/100x the gt counted equal); ``recipe`` with ``qwen`` gives
the original's labels as near as a grader that evaluates no text gets (README, "Differences from the
original").

In every policy a response cut by the token limit (``finish_reasons`` "length") never earns
reward_correct from an implicit rule (annotate.grader.IMPLICIT_RULES: the last number, the last math,
an unclosed box, bold, program output, a no-value sentence): what such a response ends on is an
intermediate result. A grader timeout is graded wrong (and counted). With ``--audit_file`` (annotate/audit.py's output), the
prompts whose ground truth failed the audit are left out of the labeled file (and counted), so no pair
is built on them.

The ``label`` section of stats.json (keys in annotate/stats.py) gets the sampler's pass@1/pass@K,
reward and format figures and the verdicts per extraction rule; the log ends with a line of
responses/s, correct rate and timeouts.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from tqdm import tqdm

from annotate.audit import failed_indices
from annotate.grader import (
    DEFAULT_TIMEOUT,
    PROFILES,
    RECIPE,
    Grade,
    Profile,
    RewardPolicy,
    grade_many,
    gt_string,
)
from annotate.stats import LabelStats, stats_path, update_stats
from common.config import ConfigError, run_cli
from common.paths import INPUT, OUTPUT_DIR_ALIAS, OUTPUT_FILE
from common.records import SAMPLES, RecordError, check_record, iter_jsonl, write_jsonl

logger = logging.getLogger(__name__)


def gt_text(record: dict, path: str, line: int) -> str:
    """The ground truth as the grader's string (numbers written out); a bad one raises naming file:line."""
    try:
        return gt_string(record["gt"])
    except TypeError:
        raise RecordError(path, line, f"key 'gt' must be a string or a number, got {type(record['gt']).__name__}") from None


def iter_samples(path: str) -> Iterator[tuple[dict, str]]:
    """(record, gt as a string) for each samples record, checked; a bad one raises naming file:line:key."""
    for line, value in iter_jsonl(path):
        record = check_record(value, SAMPLES, path, line)
        yield record, gt_text(record, path, line)


@dataclass
class LabelArgs:
    PATHS: ClassVar[dict[str, str]] = {
        "dataset_name_or_path": INPUT, "output_file": OUTPUT_FILE, "audit_file": INPUT, "stats_file": OUTPUT_FILE,
    }

    dataset_name_or_path: str = field(metadata={"help": "samples JSONL (generation/merge.py's output)"})
    output_file: str = field(
        metadata={"help": "labeled JSONL to write (--output_dir, the original's name, also works)", **OUTPUT_DIR_ALIAS}
    )
    num_workers: int = field(default=1, metadata={"help": "processes for the grader's symbolic path"})
    timeout: float = field(
        default=DEFAULT_TIMEOUT, metadata={"help": "seconds per response before it is graded wrong (timed out)"}
    )
    reward_correct: float = field(default=RECIPE.correct, metadata={"help": "reward of a correct final answer"})
    reward_wrong: float = field(default=RECIPE.wrong, metadata={"help": "reward of a wrong answer given in a \\boxed{}"})
    reward_no_box: float = field(default=RECIPE.no_box, metadata={"help": "reward of a wrong answer with no \\boxed{}"})
    reward_policy: str = field(
        default=RECIPE.name,
        metadata={"help": "recipe: correct (any extraction rule) -> reward_correct, else reward_wrong if '\\boxed' "
                          "occurs anywhere, else reward_no_box (the original's labeler); strict_box: reward_correct "
                          "only for a correct answer in a closed \\boxed{}, reward_wrong for a closed box, else "
                          "reward_no_box. In both, a response cut at the token limit earns no reward_correct from "
                          "an implicit rule (last number, last math, unclosed box, bold, program output, no-value sentence)"},
    )
    scorer_profile: str = field(
        default="default",
        metadata={"help": f"how answers are compared, one of {', '.join(PROFILES)}: default (ours: numbers exact, a "
                          "rounded decimal within 1e-6) or qwen (the Qwen2.5-Math scorer the original labels with: "
                          "any two numbers within a relative 1e-4, and 100x or 1/100x the gt counted equal)"},
    )
    audit_file: str | None = field(
        default=None, metadata={"help": "annotate/audit.py's JSON: prompts whose gt failed the audit are left out"}
    )
    stats_file: str | None = field(
        default=None, metadata={"help": "stats JSON to update (section 'label'); default stats.json beside the output"}
    )

    def __post_init__(self):
        if self.num_workers < 1:
            raise ConfigError(f"num_workers must be >= 1, got {self.num_workers}")
        if self.timeout <= 0:
            raise ConfigError(f"timeout must be > 0 seconds, got {self.timeout}")
        if self.scorer_profile not in PROFILES:
            raise ConfigError(f"scorer_profile must be one of {', '.join(PROFILES)}, got {self.scorer_profile!r}")
        try:
            self.policy  # noqa: B018 - RewardPolicy checks the policy name and the order of its rewards
        except ValueError as e:
            raise ConfigError(str(e)) from None
        if Path(self.output_file).resolve() == Path(self.dataset_name_or_path).resolve():
            raise ConfigError(f"output_file must differ from dataset_name_or_path ({self.output_file})")

    @property
    def policy(self) -> RewardPolicy:
        return RewardPolicy(self.reward_policy, self.reward_correct, self.reward_wrong, self.reward_no_box)

    @property
    def profile(self) -> Profile:
        return PROFILES[self.scorer_profile]

    @property
    def rewards(self) -> dict[str, float]:
        return {"correct": self.reward_correct, "wrong": self.reward_wrong, "no_box": self.reward_no_box}


def labeled(record: dict, grades: list[Grade], policy: RewardPolicy) -> dict:
    return {
        **record,
        "rewards": [policy.reward(g, r) for g, r in zip(grades, record["responses"], strict=True)],
        "correct": [policy.credited(g) for g in grades],
        "extracted": [g.extracted for g in grades],
    }


def label_records(samples: Iterable[tuple[dict, str]], args: LabelArgs, stats: LabelStats) -> Iterator[dict]:
    """Labeled records in input order; grades stream through the grader's bounded window, one record held
    per response in flight, so memory does not grow with the file."""
    waiting: deque[dict] = deque()  # records read, in order, whose grades are not all back

    def cases() -> Iterator[tuple[str, str, bool]]:
        for record, gt in samples:
            waiting.append(record)
            reasons = record.get("finish_reasons") or [None] * len(record["responses"])
            for response, reason in zip(record["responses"], reasons, strict=True):
                yield response, gt, reason == "length"

    policy = args.policy
    grades: list[Grade] = []  # those of waiting[0], the oldest record
    # The None after the last grade flushes the last records; a record is always in `waiting` before
    # any later record's grade comes back, because grade_many reads cases in order.
    for g in itertools.chain(grade_many(cases(), num_workers=args.num_workers, timeout=args.timeout, profile=args.profile), [None]):
        while waiting and len(grades) == len(waiting[0]["responses"]):
            out = labeled(waiting.popleft(), grades, policy)
            stats.add(out, grades)
            grades = []
            yield out
        if g is not None:
            grades.append(g)
    if waiting:
        raise RuntimeError(f"the grader returned too few grades: {len(waiting)} records left unlabeled")


def _without(samples: Iterable[tuple[dict, str]], excluded: set, stats: LabelStats) -> Iterator[tuple[dict, str]]:
    """The samples whose prompt idx is not in `excluded` (gts that failed the audit); counts the rest."""
    for record, gt in samples:
        if record["idx"] in excluded:
            stats.audit_dropped += 1
            continue
        yield record, gt


def count_lines(path: str) -> int:
    """Lines in the file (the progress bar's total), counted in bytes without parsing."""
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def main(args: LabelArgs) -> dict:
    """Write the labeled file and the ``label`` section of stats.json; return that section."""
    start = time.perf_counter()
    stats = LabelStats(args.rewards, args.reward_policy, args.scorer_profile)
    samples = iter_samples(args.dataset_name_or_path)
    if args.audit_file:
        excluded = failed_indices(args.audit_file)
        samples = _without(samples, excluded, stats)
    total = count_lines(args.dataset_name_or_path)
    with tqdm(samples, total=total, unit="prompt", desc="label", mininterval=1.0) as progress:
        write_jsonl(args.output_file, label_records(progress, args, stats))
    summary = stats.summary(time.perf_counter() - start, args.num_workers)
    update_stats(stats_path(args.output_file, args.stats_file), "label", summary)
    logger.info(
        "labeled %d responses of %d prompts in %.1f s (%s responses/s, %d workers): correct %.1f%%, "
        "no \\boxed{} %d, truncated %d (%d refused an implicit answer), grader timeouts %d, prompts left out "
        "by the audit %d -> %s",
        stats.responses, stats.prompts, summary["seconds"], summary["responses_per_second"], args.num_workers,
        100 * stats.correct / max(stats.responses, 1), stats.no_box, stats.truncated, stats.truncated_implicit,
        stats.timeouts, stats.audit_dropped, args.output_file,
    )
    return summary


if __name__ == "__main__":
    run_cli(main, [LabelArgs])
