"""Ground-truth audit: can the grader tell each prompt's gt from a near miss, before the prompts are used?

For every prompt (common.records.PROMPTS: idx/problem/gt) the gt must grade correct against its own
renderings, `$\\boxed{gt}$` and "The answer is gt.", and incorrect against perturbed copies: its last
digit changed, its sign flipped (a perturbation that does not apply, e.g. no digit, or a sign flip of
zero or of a tuple, is skipped). A gt that fails is one the reward cannot be trusted on (a gt the grader
misreads, or one so loose that a near miss passes): its prompt is listed and annotate/label.py
(``--audit_file``) leaves it out of that iteration's labels and pairs. When more than
``--max_fail_share`` of the prompts fail, the set itself is suspect: the audit exits 1 with the list and
writes nothing, so the driver stops before sampling.

    python annotate/audit.py PROMPTS.jsonl                      # logs the failures, writes nothing
    python annotate/audit.py PROMPTS.jsonl --output_file runs/x/iter_1/audit.json --max_fail_share 0.05

The output JSON (written atomically) is {"prompts", "failed": [{"idx", "gt", "reasons"}], "fail_share",
"max_fail_share"}; the same object is the ``audit`` section of stats.json beside it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from annotate.grader import DEFAULT_TIMEOUT, extract_gt, grade_many
from annotate.grader.normalize import clean
from annotate.grader.numbers import to_number
from annotate.stats import stats_path, update_stats
from common.config import ConfigError, run_cli
from common.paths import INPUT, OUTPUT_FILE
from common.records import PROMPTS, RecordError, check_record, iter_jsonl, json_problem, write_json

logger = logging.getLogger(__name__)

DEFAULT_MAX_FAIL_SHARE = 0.05
# A sign flip is a near miss only for a single expression, not for a tuple, set, list or text.
_NOT_SIGNED = re.compile(r"^[(\[{]|\\\{|\\text|\\begin|,|=|<|>|\\le|\\ge|\\in(?![A-Za-z])")


def renderings(gt: str) -> list[str]:
    """The gt written as an answer in the two forms every grader must read."""
    answer = extract_gt(gt)
    return [f"$\\boxed{{{answer}}}$", f"The answer is {answer}."]


def perturbations(gt: str) -> list[tuple[str, str]]:
    """(what, perturbed gt) near misses the grader must refuse; those that do not apply are left out."""
    # Perturb the value, not a unit's exponent (864 \\mbox{ inches}^2): the gt as the grader compares it.
    raw = extract_gt(gt)
    answer = clean(raw)
    out = []
    digits = list(re.finditer(r"\d", answer))
    if digits:
        last = digits[-1]
        changed = str((int(last.group()) + 1) % 10)
        out.append(("last digit changed", answer[: last.start()] + changed + answer[last.end() :]))
    value = to_number(answer.replace("\\!", "").strip())
    is_zero = value is not None and value.value == 0
    words = re.fullmatch(r"[A-Za-z][A-Za-z '\-]+", answer)
    if answer and not is_zero and not words and not _NOT_SIGNED.search(raw) and not _NOT_SIGNED.search(answer):
        flipped = answer[1:].lstrip() if answer.startswith("-") else f"-{answer}" if not answer.startswith("+") else f"-{answer[1:]}"
        if flipped and flipped != answer:
            out.append(("sign flipped", flipped))
    return out


def audit(gts: Iterable[tuple[object, str]], num_workers: int = 1, timeout: float = DEFAULT_TIMEOUT) -> tuple[int, list[dict]]:
    """(prompts audited, failures) for (idx, gt) pairs; a failure is {"idx", "gt", "reasons"}."""
    cases: list[tuple[int, str, bool]] = []  # (prompt number, description, expected verdict)
    pairs: list[tuple[str, str]] = []
    items = list(gts)
    for n, (_, gt) in enumerate(items):
        if not extract_gt(gt).strip():
            continue  # an empty gt fails below without grading
        for response in renderings(gt):
            cases.append((n, f"not graded correct as {response!r}", True))
            pairs.append((response, gt))
        for what, wrong in perturbations(gt):
            cases.append((n, f"{what} ({wrong!r}) graded correct", False))
            pairs.append((f"$\\boxed{{{wrong}}}$", gt))
    reasons: dict[int, list[str]] = {}
    for n, (_, gt) in enumerate(items):
        if not extract_gt(gt).strip():
            reasons[n] = ["empty ground truth"]
    for (n, what, expected), g in zip(cases, grade_many(pairs, num_workers=num_workers, timeout=timeout), strict=True):
        if g.correct is not expected:
            reasons.setdefault(n, []).append(what + (" (grader timed out)" if g.timed_out else ""))
    failed = [{"idx": items[n][0], "gt": items[n][1], "reasons": r} for n, r in sorted(reasons.items())]
    return len(items), failed


class AuditFailed(Exception):
    """More prompts failed the audit than the allowed share: the prompt set itself is suspect."""


@dataclass
class AuditArgs:
    PATHS: ClassVar[dict[str, str]] = {
        "dataset_name_or_path": INPUT, "output_file": OUTPUT_FILE, "stats_file": OUTPUT_FILE,
    }

    dataset_name_or_path: str = field(metadata={"help": "prompts JSONL (idx/problem/gt); also the first positional"})
    output_file: str | None = field(default=None, metadata={"help": "audit JSON to write atomically; default: log only"})
    stats_file: str | None = field(
        default=None,
        metadata={"help": "stats JSON whose 'audit' section to set; default stats.json beside --output_file"},
    )
    max_fail_share: float = field(
        default=DEFAULT_MAX_FAIL_SHARE,
        metadata={"help": "more than this share of failing gts stops the run (exit 1, nothing written)"},
    )
    num_workers: int = field(default=1, metadata={"help": "processes for the grader's symbolic path"})
    timeout: float = field(default=DEFAULT_TIMEOUT, metadata={"help": "seconds per graded rendering"})

    def __post_init__(self):
        if not 0 <= self.max_fail_share <= 1:
            raise ConfigError(f"max_fail_share must be in [0, 1], got {self.max_fail_share}")
        if self.num_workers < 1:
            raise ConfigError(f"num_workers must be >= 1, got {self.num_workers}")


def read_gts(path: str) -> list[tuple[object, str]]:
    """(idx, gt as a string) of each prompt record, checked; a bad one raises naming file:line:key."""
    out = []
    for line, value in iter_jsonl(path):
        record = check_record(value, PROMPTS, path, line)
        gt = record["gt"]
        if isinstance(gt, (int, float)) and not isinstance(gt, bool):
            gt = str(gt)
        if not isinstance(gt, str):
            raise RecordError(path, line, f"key 'gt' must be a string or a number, got {type(gt).__name__}")
        out.append((record["idx"], gt))
    return out


def audit_file(prompts: str, num_workers: int = 1, timeout: float = DEFAULT_TIMEOUT,
               max_fail_share: float = DEFAULT_MAX_FAIL_SHARE) -> dict:
    """The audit of a prompts file as the JSON object audit.py writes."""
    if not Path(prompts).is_file():
        raise FileNotFoundError(f"{prompts}: no such file")
    n, failed = audit(read_gts(prompts), num_workers=num_workers, timeout=timeout)
    return {"prompts": n, "failed": failed, "fail_share": len(failed) / n if n else 0.0,
            "max_fail_share": max_fail_share}


def failed_indices(path: str) -> set:
    """The idx of every prompt an audit file lists as failed (label.py leaves them out)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise RecordError(path, e.lineno, f"not valid JSON ({json_problem(e)})") from None
    try:
        return {item["idx"] for item in data["failed"]}
    except (KeyError, TypeError) as e:
        raise RecordError(path, 1, f"expected annotate/audit.py's JSON with a 'failed' list of {{idx, ...}}: {e}") from e


def main(args: AuditArgs) -> dict:
    """Audit the prompts; write the JSON and the stats section; raise AuditFailed over the allowed share."""
    result = audit_file(args.dataset_name_or_path, args.num_workers, args.timeout, args.max_fail_share)
    for item in result["failed"]:
        logger.warning("gt of prompt %s fails the audit: %r: %s", item["idx"], item["gt"][:200], "; ".join(item["reasons"]))
    logger.info("audit of %s: %d of %d ground truths failed (%.1f%%; at most %.1f%% allowed)", args.dataset_name_or_path,
                len(result["failed"]), result["prompts"], 100 * result["fail_share"], 100 * args.max_fail_share)
    if result["fail_share"] > args.max_fail_share:
        raise AuditFailed(
            f"{args.dataset_name_or_path}: {len(result['failed'])} of {result['prompts']} ground truths fail the grader "
            f"audit, over max_fail_share {args.max_fail_share}; idx: {[f['idx'] for f in result['failed']]}"
        )
    if args.output_file:
        update_stats(stats_path(args.output_file, args.stats_file), "audit", result)
        write_json(args.output_file, result)
    elif args.stats_file:
        update_stats(args.stats_file, "audit", result)
    return result


def run_audited_cli(main, dataclass_types, argv: list[str] | None) -> None:
    """``run_cli`` of a stage that audits: a failed audit ends the process with its list and exit status 1."""
    try:
        run_cli(main, dataclass_types, argv)
    except AuditFailed as e:
        logger.error("%s", e)
        sys.exit(1)


def cli(argv: list[str]) -> None:
    """`audit.py PROMPTS [--flags]` (the prompts file may be given first, without its flag)."""
    if argv and not argv[0].startswith("-") and not argv[0].endswith((".yaml", ".yml")):
        argv = ["--dataset_name_or_path", argv[0], *argv[1:]]
    run_audited_cli(main, [AuditArgs], argv)


if __name__ == "__main__":
    cli(sys.argv[1:])
