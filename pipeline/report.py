"""A run's results: summary.json, report.md and curves.png, gathered from its iteration directories.

Reads ``iter_<i>/eval/summary.json`` (eval_math), ``iter_<i>/stats.json`` (annotate, keys in
annotate/stats.py) and ``iter_<i>/times.tsv`` (the driver's stage timings) for i = 0..N, and the run's
``config.yaml`` for the prompts and token limits of sampling and evaluation (both are stated: the
original samples up to 4096 new tokens and evaluates with 3000), and the warm-up's
``iter_0/model/train_log.json`` for its validation curve and the checkpoint it kept (when it stopped on
validation accuracy: dpo_iteration/validation.py); an iteration not yet finished shows what it has. Safe to run at any time: the driver runs it after each iteration.

    python -m pipeline report runs/demo
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from common.records import atomic_open, write_json

logger = logging.getLogger(__name__)

STAGES = ("assets", "warmup", "audit", "generation", "merge", "label", "pairs", "train", "eval")
TIMES = "times.tsv"


def iteration_dir(run_dir: str | os.PathLike, i: int) -> Path:
    return Path(run_dir) / f"iter_{i}"


def read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def record_time(run_dir: str | os.PathLike, i: int, stage: str, seconds: float) -> None:
    """Append one stage's wall time; a short append is whole or absent, even when the driver is killed."""
    path = iteration_dir(run_dir, i) / TIMES
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"{stage}\t{seconds:.3f}\n")


def read_times(path: Path) -> dict[str, float]:
    """Stage -> seconds; a stage timed twice (re-run after a kill) keeps its latest time."""
    times: dict[str, float] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) == 2:
                try:
                    times[parts[0]] = float(parts[1])
                except ValueError:
                    logger.warning("%s: ignoring a malformed line %r", path, line)
    return times


def model_done(model_dir: Path) -> bool:
    """The trainers build a model in ``<dir>.partial`` and rename it when complete (dpo_iteration/training.py)."""
    return model_dir.is_dir()


def iteration_row(run_dir: Path, i: int) -> dict[str, Any] | None:
    """Everything known about iteration ``i``, or None if it has not started."""
    folder = iteration_dir(run_dir, i)
    if not folder.is_dir():
        return None
    evaluation = read_json(folder / "eval" / "summary.json") or {}
    stats = read_json(folder / "stats.json") or {}
    label, pairs = stats.get("label", {}), stats.get("pairs", {})
    return {
        "iteration": i,
        "eval_accuracy": evaluation.get("average_accuracy"),
        "benchmarks": {name: result.get("accuracy") for name, result in evaluation.get("benchmarks", {}).items()},
        "model": str(folder / "model") if model_done(folder / "model") else None,
        "mean_reward": label.get("mean_reward"),
        "pass@1": label.get("pass@1"),
        "pass@K": label.get("pass@K"),
        "K": label.get("K"),
        "prompts": label.get("prompts"),
        "mean_response_tokens": label.get("mean_num_tokens"),
        "truncated": label.get("truncated"),
        "audit": {"prompts": stats["audit"]["prompts"], "failed": [f["idx"] for f in stats["audit"]["failed"]]}
        if "audit" in stats else None,
        "pairs": pairs.get("records"),
        "choose_type": pairs.get("choose_type"),
        "chosen_tokens": pairs.get("chosen_tokens_mean", pairs.get("completion_tokens_mean")),
        "rejected_tokens": pairs.get("rejected_tokens_mean"),
        "times": read_times(folder / TIMES),
    }


# The run config's settings that say how the training data and the scores were produced.
SETTINGS = ("prompt_type", "sample.max_new_tokens", "eval.prompt_type", "eval.max_tokens_per_call",
            "allow_eval_mismatch")


def run_settings(run_dir: Path) -> dict[str, Any]:
    """Those settings of ``run_dir/config.yaml`` (the resolved config the driver wrote), a stage's default
    where the config leaves it out; empty without a config."""
    import yaml

    from pipeline.config import section_value

    path = run_dir / "config.yaml"
    if not path.is_file():
        return {}
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {key: section_value(config, *key.split(".")) if "." in key else config.get(key) for key in SETTINGS}


def settings_line(settings: dict[str, Any]) -> list[str]:
    """The report's statement of both prompts and both token limits."""
    if not settings:
        return []
    sampling, evaluation = settings.get("prompt_type"), settings.get("eval.prompt_type")
    line = (f"Sampling: prompt `{sampling}`, up to {settings.get('sample.max_new_tokens')} new tokens. "
            f"Evaluation: prompt `{evaluation}`, up to {settings.get('eval.max_tokens_per_call')} new tokens.")
    if sampling != evaluation:
        line += " The two prompts differ (allow_eval_mismatch): the models are scored on a prompt they were not trained on."
    return [line, ""]


def warmup_validation(run_dir: Path) -> dict[str, Any] | None:
    """The warm-up's validation record (curve, step kept, early stop) from its train_log.json, if any."""
    log = read_json(iteration_dir(run_dir, 0) / "model" / "train_log.json")
    return None if log is None else log.get("validation")


def validation_lines(validation: dict[str, Any] | None) -> list[str]:
    """The report's paragraph on the warm-up's early stop."""
    if not validation or not validation.get("curve"):
        return []
    curve = ", ".join(f"{step}: {100 * acc:.1f}" for step, acc in validation["curve"])
    ended = (f"stopped early at step {validation.get('last_step')} of {validation.get('max_steps')} "
             f"({validation['patience']} validations without a new best)" if validation.get("stopped_early")
             else f"ran its {validation.get('last_step')} steps")
    return [f"Warm-up validation (greedy accuracy % on {validation['problems']} validation problems, by step): "
            f"{curve}. It {ended}; the model kept is the checkpoint of step {validation['best_step']} "
            f"({100 * validation['best_accuracy']:.1f}%).", ""]


def collect(run_dir: str | os.PathLike, initial_model: str | None = None) -> dict[str, Any]:
    """summary.json's content: one entry per iteration (0 = the starting model), the final model, and
    (where the run has a config.yaml) the prompts and token limits of sampling and evaluation."""
    run_dir = Path(run_dir)
    rows, i = [], 0
    while (row := iteration_row(run_dir, i)) is not None:
        rows.append(row)
        i += 1
    if rows and rows[0]["model"] is None:
        rows[0]["model"] = initial_model  # no warm-up: iteration 0 is the initial model itself
    trained = [row["model"] for row in rows if row["model"]]
    summary = {"iterations": rows, "final_model": trained[-1] if trained else initial_model}
    validation = warmup_validation(run_dir)
    if validation:
        summary["warmup_validation"] = validation
    settings = run_settings(run_dir)
    return {**summary, "settings": settings} if settings else summary


def fmt(value: Any, kind: str = "") -> str:
    if value is None:
        return "-"
    if kind == "%":
        return f"{100 * value:.1f}"
    if kind == "s":
        return f"{value:.0f}" if value >= 10 else f"{value:.1f}"
    if isinstance(value, float):
        return f"{value:.3f}" if kind != "tok" else f"{value:.1f}"
    return str(value)


def markdown(summary: dict[str, Any], title: str) -> str:
    rows = summary["iterations"]
    base = rows[0]["eval_accuracy"] if rows else None
    lines = [
        f"# {title}", "",
        "Iteration 0 is the starting model (after the SFT warm-up, if any); iteration i's model is trained "
        "on samples of iteration i-1's. Accuracy: greedy, on the held-out set; reward, pass@1 and pass@K: "
        "of the K samples drawn to train iteration i.", "",
        *settings_line(summary.get("settings", {})),
        *validation_lines(summary.get("warmup_validation")),
        "| iter | accuracy % | change | mean reward | pass@1 % | pass@K % | pairs | chosen tok | rejected tok "
        "| response tok | truncated |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        acc = row["eval_accuracy"]
        change = f"{100 * (acc - base):+.1f}" if acc is not None and base is not None and row["iteration"] else ""
        lines.append(
            f"| {row['iteration']} | {fmt(acc, '%')} | {change} | {fmt(row['mean_reward'])} "
            f"| {fmt(row['pass@1'], '%')} | {fmt(row['pass@K'], '%')} | {fmt(row['pairs'])} "
            f"| {fmt(row['chosen_tokens'], 'tok')} | {fmt(row['rejected_tokens'], 'tok')} "
            f"| {fmt(row['mean_response_tokens'], 'tok')} | {fmt(row['truncated'])} |"
        )
    stages = [s for s in STAGES if any(s in row["times"] for row in rows)]
    lines += ["", "Stage times (seconds, wall clock; '-': not run in this session, or skipped as done):", "",
              "| iter | " + " | ".join(stages) + " | total |", "|---:|" + "---:|" * (len(stages) + 1)]
    for row in rows:
        cells = [fmt(row["times"].get(s), "s") for s in stages]
        lines.append(f"| {row['iteration']} | " + " | ".join(cells) + f" | {fmt(sum(row['times'].values()), 's')} |")
    audits = [row for row in rows if row.get("audit")]
    if audits:
        lines += ["", "Ground-truth audit (annotate/audit.py; failing prompts left out of that iteration's pairs): "
                  + "; ".join(f"iteration {row['iteration']}: {len(row['audit']['failed'])} of "
                              f"{row['audit']['prompts']} failed" + (f" (idx {row['audit']['failed'][:20]})"
                                                                     if row["audit"]["failed"] else "")
                              for row in audits) + "."]
    lines += ["", f"Final model: `{summary['final_model']}`", ""]
    return "\n".join(lines)


def plot(summary: dict[str, Any], path: Path, title: str) -> None:
    """Accuracy by iteration, and the sampler's mean reward and pass@1 by iteration."""
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on a cluster node
    import matplotlib.pyplot as plt

    rows = summary["iterations"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    points = [(r["iteration"], 100 * r["eval_accuracy"]) for r in rows if r["eval_accuracy"] is not None]
    if points:
        left.plot(*zip(*points, strict=True), marker="o")
    left.set(title="held-out accuracy (greedy)", xlabel="iteration", ylabel="accuracy %")
    for key, label in (("mean_reward", "mean reward"), ("pass@1", "pass@1")):
        points = [(r["iteration"], r[key]) for r in rows if r[key] is not None]
        if points:
            right.plot(*zip(*points, strict=True), marker="o", label=label)
    right.set(title="the sampler's rewards (training data)", xlabel="iteration")
    if right.lines:
        right.legend()
    iterations = [r["iteration"] for r in rows] or [0]
    for axis in (left, right):
        axis.set_xticks(iterations)
        axis.set_xlim(min(iterations) - 0.3, max(iterations) + 0.3)
        axis.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)


def write_report(run_dir: str | os.PathLike, initial_model: str | None = None) -> dict[str, Any]:
    """Write summary.json, report.md and curves.png into ``run_dir``; return the summary."""
    run_dir = Path(run_dir)
    summary = collect(run_dir, initial_model)
    title = f"Run {run_dir.name}"
    write_json(run_dir / "summary.json", summary)
    with atomic_open(run_dir / "report.md") as f:
        f.write(markdown(summary, title))
    plot(summary, run_dir / "curves.png", title)
    return summary
