"""One table and one plot comparing runs: DPO, RAFT, PPO and GRPO, all scored by eval_math alike.

    python -m pipeline compare runs/demo runs/demo_raft --output runs/compare
    python -m pipeline compare runs/qwen25_math_7b_dpo runs/ppo_qwen25_math_7b runs/eval/qwen25-math-7b

Each argument is a run directory or an eval_math output directory. A run directory gives one row per
evaluated stage: every ``<stage>_<number>/eval/summary.json`` inside it (the loop's ``iter_<i>/eval``,
ppo_training/export_and_eval.sh's ``step_<N>/eval``), in stage order. An eval directory (one with
``summary.json``) gives one row. ``OUTPUT/comparison.md`` is the table in the layout of the recipe's
published table (AIME24, MATH500, AMC, Minerva Math, OlympiadBench, then any other benchmark, then the
average; accuracy in %, with the 95% bootstrap interval where a benchmark was sampled n > 1 times), then
the same table with the ``qwen`` scorer's accuracy (``accuracy_compat``: the numeric rules of the scorer
behind the published table; the one to hold against it),
``OUTPUT/comparison.png`` the average by iteration or step (a run's stages as a line, a single
evaluation as a dashed level) and ``OUTPUT/comparison.json`` the same numbers.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from common.records import atomic_open, write_json
from eval_math.benchmarks import benchmark

logger = logging.getLogger(__name__)

# The published table's column order (the original README): AIME24, MATH500, AMC, Minerva Math, OlympiadBench.
PUBLISHED_ORDER = ("aime24", "math500", "amc23", "minerva_math", "olympiadbench")
STAGE_RE = re.compile(r"(?P<kind>[A-Za-z]+)_(?P<number>\d+)")
# Evaluation settings that change the numbers; rows that differ in them are flagged under the table.
COMPARED_SETTINGS = ("prompt_type", "n_sampling", "temperature", "top_p", "max_tokens_per_call", "split",
                     "num_test_sample", "start", "end")


@dataclass
class Row:
    run: str  # the argument's name: a run, or an evaluation
    label: str  # the row's name in the table
    stage: str | None  # "iter", "step", ... for a run's stage; None for a single evaluation
    number: int | None
    path: str  # the summary.json
    # name -> {accuracy, accuracy_compat (None where the evaluation predates it), ci95, n, problems}
    benchmarks: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


def read_summary(path: Path) -> dict:
    """eval_math's summary.json, checked for what the table needs."""
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
        results = summary["benchmarks"]
        for name, metrics in results.items():
            metrics["accuracy"], metrics["ci95"], metrics["n"]  # noqa: B018 - a KeyError names the missing key
            if not isinstance(metrics["accuracy"], (int, float)):
                raise TypeError(f"{name}: accuracy is {metrics['accuracy']!r}")
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not an eval_math summary.json ({type(e).__name__}: {e})") from e
    if not results:
        raise ValueError(f"{path}: no benchmarks")
    return summary


def make_row(run: str, label: str, stage: str | None, number: int | None, path: Path) -> Row:
    summary = read_summary(path)
    benchmarks = {
        name: {"accuracy": m["accuracy"], "accuracy_compat": m.get("accuracy_compat"), "ci95": list(m["ci95"]),
               "n": m["n"], "problems": m.get("num_problems")}
        for name, m in summary["benchmarks"].items()
    }
    settings = summary.get("settings", {})
    return Row(run, label, stage, number, str(path), benchmarks,
               {k: settings[k] for k in COMPARED_SETTINGS if k in settings})


def eval_label(directory: Path) -> str:
    """runs/ppo/step_75/eval -> ppo/step_75; runs/eval/qwen-base -> qwen-base."""
    directory = directory.resolve()
    return f"{directory.parent.parent.name}/{directory.parent.name}" if directory.name == "eval" else directory.name


def is_eval_dir(directory: Path) -> bool:
    """eval_math's summary.json has "benchmarks"; a run's own summary.json (pipeline/report.py) does not."""
    try:
        return "benchmarks" in json.loads((directory / "summary.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, TypeError):
        return False


def rows_of(argument: str) -> list[Row]:
    """The rows of one argument: an eval directory's summary, or each evaluated stage of a run."""
    directory = Path(argument)
    if not directory.is_dir():
        raise FileNotFoundError(f"{argument}: no such directory")
    if is_eval_dir(directory):
        return [make_row(eval_label(directory), eval_label(directory), None, None, directory / "summary.json")]
    stages = []
    for sub in directory.iterdir():
        match = STAGE_RE.fullmatch(sub.name)
        if match and (sub / "eval" / "summary.json").is_file():
            stages.append((match["kind"], int(match["number"]), sub))
    if not stages:
        raise FileNotFoundError(
            f"{argument}: neither an eval_math output (summary.json beside <benchmark>/ folders) nor a run with "
            "<stage>_<number>/eval/summary.json (iter_<i>/eval, step_<N>/eval)"
        )
    name = directory.resolve().name
    return [make_row(name, f"{name} {kind} {number}", kind, number, sub / "eval" / "summary.json")
            for kind, number, sub in sorted(stages, key=lambda s: (s[0], s[1]))]


def columns(rows: list[Row]) -> list[str]:
    """The benchmarks of any row, in the published order, then the others by name."""
    names = {name for row in rows for name in row.benchmarks}
    return [n for n in PUBLISHED_ORDER if n in names] + sorted(names - set(PUBLISHED_ORDER))


def average(row: Row, names: list[str], key: str = "accuracy") -> float | None:
    """Mean ``key`` (accuracy or accuracy_compat) over the table's benchmarks; None when the row lacks one."""
    values = [row.benchmarks[name].get(key) if name in row.benchmarks else None for name in names]
    return None if None in values else sum(values) / len(names)


def cell(result: dict[str, Any] | None, key: str = "accuracy") -> str:
    if result is None or result.get(key) is None:
        return "-"
    text = f"{100 * result[key]:.1f}"
    if result["n"] > 1 and key == "accuracy":  # the interval is of our grader's accuracy
        low, high = result["ci95"]
        text += f" [{100 * low:.1f}, {100 * high:.1f}]"
    return text


def table(rows: list[Row], names: list[str], key: str) -> list[str]:
    lines = [
        "| Model | " + " | ".join(benchmark(name).title for name in names) + " | Average |",
        "|---|" + "---:|" * (len(names) + 1),
    ]
    for row in rows:
        avg = average(row, names, key)
        cells = [cell(row.benchmarks.get(name), key) for name in names]
        lines.append(f"| {row.label} | " + " | ".join(cells) + f" | {'-' if avg is None else f'{100 * avg:.1f}'} |")
    return lines


def markdown(rows: list[Row], names: list[str]) -> str:
    lines = table(rows, names, "accuracy")
    samples = sorted({r["n"] for row in rows for r in row.benchmarks.values()})
    lines += ["", "Accuracy (%) by eval_math with annotate.grader; "
              + ("greedy pass@1 (n = 1)" if samples == [1] else
                 f"mean@n over n = {', '.join(map(str, samples))} samples, [95% bootstrap interval] where n > 1")
              + "; Average: the mean over the columns ('-' where a row lacks one)."]
    if any(r.get("accuracy_compat") is not None for row in rows for r in row.benchmarks.values()):
        lines += ["", "The same answers scored by the grader's `qwen` profile, the numeric rules of the Qwen2.5-Math "
                  "scorer behind the published table (a relative 1e-4 between numbers, 100x or 1/100x the gt "
                  "counted equal): **hold this table against the published one** ('-': evaluated before both "
                  "scores were kept; `evaluate.py --score_only` re-scores its records).", ""]
        lines += table(rows, names, "accuracy_compat")
    distinct = {json.dumps(row.settings, sort_keys=True) for row in rows}
    if len(distinct) > 1:
        lines += ["", "**The rows were evaluated with different settings**, so they are not directly comparable:"]
        lines += [f"- {row.label}: " + ", ".join(f"{k}={v}" for k, v in row.settings.items()) for row in rows]
    elif rows and rows[0].settings:
        lines += ["", "Settings (all rows): " + ", ".join(f"{k}={v}" for k, v in rows[0].settings.items()) + "."]
    return "\n".join(lines) + "\n"


def plot(rows: list[Row], names: list[str], path: Path) -> None:
    """Average accuracy by iteration/step: a run's stages as a line, a single evaluation as a dashed level."""
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on a cluster node
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axis = plt.subplots(figsize=(8, 4.5))
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # iterations and steps are whole numbers
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    by_run: dict[str, list[Row]] = {}
    for row in rows:
        by_run.setdefault(row.run, []).append(row)
    drawn = 0
    for run, members in by_run.items():
        points = [(r.number, 100 * a) for r in members if r.stage is not None and (a := average(r, names)) is not None]
        if points:
            stages = "/".join(sorted({r.stage for r in members if r.stage}))
            axis.plot(*zip(*points, strict=True), marker="o", color=colors[drawn % len(colors)], label=f"{run} ({stages})")
            drawn += 1
        for r in members:
            if r.stage is None and (a := average(r, names)) is not None:
                axis.axhline(100 * a, linestyle="--", linewidth=1, color=colors[drawn % len(colors)], label=r.label)
                drawn += 1
    axis.set(title="average accuracy: " + ", ".join(benchmark(n).title for n in names),
             xlabel="iteration (or step)", ylabel="accuracy %")
    axis.grid(alpha=0.3)
    if axis.lines:
        axis.legend(fontsize="small")
    fig.tight_layout()
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)


def compare(arguments: list[str], output: str | os.PathLike) -> dict[str, Any]:
    """Write comparison.md, comparison.png and comparison.json into ``output``; return the JSON object."""
    rows = [row for argument in arguments for row in rows_of(argument)]
    names = columns(rows)
    out = Path(output)
    table = markdown(rows, names)
    with atomic_open(out / "comparison.md") as f:
        f.write(table)
    plot(rows, names, out / "comparison.png")
    result = {"benchmarks": names, "rows": [{**asdict(row), "average": average(row, names),
                                              "average_compat": average(row, names, "accuracy_compat")} for row in rows]}
    write_json(out / "comparison.json", result)
    logger.info("%d rows from %d arguments -> %s\n%s", len(rows), len(arguments), out / "comparison.md", table)
    return result
