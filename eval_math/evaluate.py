"""Benchmark evaluation: generate with vLLM (GPU) or transformers (CPU), score with the training grader.

    python eval_math/evaluate.py --model_name_or_path runs/demo/iter_3/model --data_names arith \\
        --data_dir runs/demo/assets/task --output_dir runs/demo/eval --prompt_type chat \\
        --n_sampling 1 --temperature 0 --max_tokens_per_call 64 --engine hf
    python eval_math/evaluate.py --score_only old_outputs.jsonl --data_names math500 --output_dir rescored

Per benchmark it writes ``<output_dir>/<name>/<tag>_records.jsonl`` (one eval record per problem, see
docs/records.md) and ``<tag>_metrics.json`` (accuracy = mean@n with a 95% bootstrap interval,
maj@n, unbiased pass@k), where the tag spells out the settings; then ``summary.json`` and ``summary.md``
(the results table: rows = model, columns = benchmarks + Avg). A benchmark whose metrics file exists
is not redone unless ``--overwrite``. Scores come only from ``annotate.grader``, the training reward.
``--score_only FILE`` re-grades an existing predictions file without loading any model.

Every response is scored twice, with the same extraction: by our grader (``scores``, ``accuracy``: the
training reward's verdict) and by the grader's ``qwen`` profile (``scores_compat``, ``accuracy_compat``),
the numeric rules of the Qwen2.5-Math scorer that produced the original recipe's published table (a
relative 1e-4 between numbers, 100x or 1/100x the gt counted equal). ``disagreements`` counts the
problems where the two differ on any response; their records have ``disagrees: true``. Hold
``accuracy_compat`` against the published table.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import mean
from typing import ClassVar

from annotate.grader import PROFILES, grade_many, is_correct
from common.config import ConfigError, run_cli
from common.paths import INPUT, MODEL, OUTPUT_DIR
from common.prompts import PROMPT_TYPES, check_prompt_type, render_prompt
from common.records import RecordError, atomic_open, iter_records, write_json, write_jsonl
from eval_math.benchmarks import HUB, RECIPE_BENCHMARKS, answer_field, benchmark, load_benchmark, select
from eval_math.metrics import problem_accuracies, summarize
from generation.engines import (
    SamplingSpec,
    check_engine,
    check_engine_installed,
    end_of_turn_token,
    make_engine,
)

logger = logging.getLogger(__name__)

# Benchmark names become folder names.
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
# A base model on the raw "Question: ... Answer:" prompt goes on to write the next question itself.
RAW_PROMPT_STOP = ("\nQuestion:",)
# The second score of every response: the scorer of the original's published table, as a grader profile.
COMPAT_PROFILE = "qwen"


@dataclass
class EvalArgs:
    PATHS: ClassVar[dict[str, str]] = {
        "model_name_or_path": MODEL, "output_dir": OUTPUT_DIR, "score_only": INPUT,
    }

    output_dir: str = field(default="", metadata={"help": "where <name>/ folders and summary.{json,md} go"})
    model_name_or_path: str = field(default="", metadata={"help": "model to evaluate (local dir or Hub id)"})
    data_names: str = field(
        default=",".join(RECIPE_BENCHMARKS),
        metadata={"help": f"comma-separated benchmarks: {', '.join(RECIPE_BENCHMARKS)}, or any name found in "
                          "--data_dir; with --score_only, the one benchmark the file holds (default: file name)"},
    )
    data_dir: str = field(
        default="",
        metadata={"help": "folder of <name>/<split>.jsonl (default: the bundled eval_math/data); "
                          f"'{HUB}': the Hugging Face Hub copies"},
    )
    split: str = field(
        default="test", metadata={"help": "which file of a local copy (<split>.jsonl); Hub copies have their own"}
    )
    prompt_type: str = field(
        default="online-dpo-r1",
        metadata={"help": f"one of {PROMPT_TYPES}; online-dpo-r1 is the recipe's (its training prompt), "
                          "qwen25-math-cot the upstream Qwen2.5-Math one"},
    )
    n_sampling: int = field(default=1, metadata={"help": "responses per problem"})
    temperature: float = field(default=0.0, metadata={"help": "0 is greedy decoding (then n_sampling must be 1)"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling mass"})
    max_tokens_per_call: int = field(default=3000, metadata={"help": "new tokens per response at most"})
    num_test_sample: int = field(default=-1, metadata={"help": "first k problems of each benchmark; -1: all"})
    start: int = field(default=0, metadata={"help": "then keep problems [start:end] of those"})
    end: int = field(default=-1, metadata={"help": "end of that range; -1: to the end"})
    seed: int = field(default=0, metadata={"help": "seeds sampling and the bootstrap interval"})
    engine: str = field(default="auto", metadata={"help": "vllm, hf, or auto (vllm when it and a GPU are there)"})
    batch_size: int = field(default=16, metadata={"help": "prompts per generate() call of the hf engine"})
    tensor_parallel_size: int = field(default=1, metadata={"help": "GPUs per model (vllm engine)"})
    gpu_memory_utilization: float = field(default=0.9, metadata={"help": "GPU memory vLLM may take"})
    num_workers: int = field(default=1, metadata={"help": "grader processes"})
    overwrite: bool = field(default=False, metadata={"help": "redo benchmarks whose metrics file exists"})
    score_only: str = field(
        default="",
        metadata={"help": "grade this predictions JSONL instead of generating: records with `responses` (a list) "
                          "or `response`, and `gt` (or `answer`); eval, samples and labeled records qualify"},
    )
    model_label: str = field(default="", metadata={"help": "row name in the results table (default: the model)"})
    write_summary: bool = field(
        default=True,
        metadata={"help": "false: only the benchmarks' files, no summary.{json,md}: for one of several processes "
                          "sharing --output_dir (run_iter_dpo.sh under SLURM); a last run over all the benchmarks "
                          "then finds them evaluated and writes the summary"},
    )

    def __post_init__(self):
        if not self.output_dir:
            raise ConfigError("--output_dir is required")
        if not self.score_only and not self.model_name_or_path:
            raise ConfigError("--model_name_or_path is required (or --score_only FILE to grade existing outputs)")
        check_prompt_type(self.prompt_type)
        check_engine(self.engine)
        for name in ("n_sampling", "max_tokens_per_call", "batch_size", "tensor_parallel_size", "num_workers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        self.sampling([])  # temperature and top_p: SamplingSpec's checks, before any model loads
        if self.temperature == 0 and self.n_sampling > 1:
            raise ConfigError(
                f"temperature 0 is greedy: its {self.n_sampling} responses would be identical; "
                "use n_sampling 1, or a temperature > 0 for mean@n, maj@n and pass@k"
            )
        if self.start < 0 or (self.end >= 0 and self.end <= self.start):
            raise ConfigError(f"need 0 <= start < end (or end -1), got start {self.start}, end {self.end}")
        names = self.names
        if not names or len(set(names)) != len(names) or not all(NAME_RE.fullmatch(n) for n in names):
            raise ConfigError(f"data_names must be distinct names of letters, digits, _ . -, got {self.data_names!r}")
        if self.score_only and len(names) > 1 and self.data_names != ",".join(RECIPE_BENCHMARKS):
            raise ConfigError("with --score_only, --data_names names the one benchmark the file holds")

    @property
    def names(self) -> list[str]:
        return [name.strip() for name in self.data_names.split(",") if name.strip()]

    def sampling(self, stop: list[str]) -> SamplingSpec:
        return SamplingSpec(n=self.n_sampling, temperature=self.temperature, top_p=self.top_p,
                            max_new_tokens=self.max_tokens_per_call, seed=self.seed, stop=stop)


def selection_tag(args: EvalArgs) -> str:
    parts = [f"_first{args.num_test_sample}"] if args.num_test_sample >= 0 else []
    if args.start or args.end >= 0:
        parts.append(f"_{args.start}-{'end' if args.end < 0 else args.end}")
    return "".join(parts)


def run_tag(args: EvalArgs, name: str) -> str:
    """The file stem of a benchmark's outputs: every setting that changes the numbers is in it."""
    if args.score_only:
        return f"{name}_{args.split}_scored{selection_tag(args)}"
    return (
        f"{name}_{args.split}_{args.prompt_type}_n{args.n_sampling}_t{args.temperature:g}_p{args.top_p:g}"
        f"_len{args.max_tokens_per_call}_seed{args.seed}{selection_tag(args)}"
    )


def output_paths(args: EvalArgs, name: str) -> tuple[Path, Path]:
    """(records file, metrics file) of benchmark ``name``."""
    stem = Path(args.output_dir) / name / run_tag(args, name)
    return stem.with_name(stem.name + "_records.jsonl"), stem.with_name(stem.name + "_metrics.json")


def settings(args: EvalArgs) -> dict:
    """What produced the numbers, stored beside them."""
    keep = ["split", "num_test_sample", "start", "end", "seed"]
    if args.score_only:
        keep.append("score_only")
    else:
        keep += ["model_name_or_path", "data_dir", "prompt_type", "n_sampling", "temperature", "top_p",
                 "max_tokens_per_call", "engine"]
    values = asdict(args)
    return {key: values[key] for key in keep}


def load_engine(args: EvalArgs):
    return make_engine(
        args.engine, args.model_name_or_path, seed=args.seed, batch_size=args.batch_size,
        tensor_parallel_size=args.tensor_parallel_size, gpu_memory_utilization=args.gpu_memory_utilization,
    )


def stop_strings(tokenizer, args: EvalArgs) -> list[str]:
    """Where a response ends besides eos: the raw prompt's next "Question:", or the chat turn's end token.

    A base model (Qwen2.5-Math-7B, eos ``<|endoftext|>``) on a chat prompt writes ``<|im_end|>`` and then
    invents the next turn; the Qwen2.5-Math evaluation stops there too.
    """
    if args.prompt_type == "raw":
        return list(RAW_PROMPT_STOP)
    end = end_of_turn_token(tokenizer)
    return [end] if end else []


def generate(engine, problems: list[dict], args: EvalArgs) -> list[dict]:
    """Eval records without scores: each problem with its prompt and n responses."""
    prompts = [render_prompt(engine.tokenizer, p["problem"], args.prompt_type) for p in problems]
    outputs = engine.generate(prompts, args.sampling(stop_strings(engine.tokenizer, args)))
    return [
        dict(problem, prompt=prompt, responses=[c.text for c in completions],
             finish_reasons=[c.finish_reason for c in completions], num_tokens=[c.num_tokens for c in completions])
        for problem, prompt, completions in zip(problems, prompts, outputs, strict=True)
    ]


def answers_equivalent(a: str, b: str) -> bool:
    """Whether two extracted answers are the same answer to the grader (groups votes for maj@n)."""
    return is_correct(f"\\boxed{{{a}}}", b)


def grade(records: list[dict], num_workers: int) -> dict:
    """Fill ``preds``, ``scores``, ``scores_compat``, ``disagrees`` and ``boxed`` of each record in place;
    return the grading counts."""
    pairs = [(response, record["gt"]) for record in records for response in record["responses"]]
    compat = iter([g.correct for g in grade_many(pairs, num_workers=num_workers, profile=PROFILES[COMPAT_PROFILE])])
    grades = iter(grade_many(pairs, num_workers=num_workers))
    timeouts = disagreements = 0
    rules: dict[str, int] = {}  # verdicts per extraction rule (annotate.grader.RULES)
    for record in records:
        mine = [next(grades) for _ in record["responses"]]
        record["preds"] = [g.extracted for g in mine]
        record["scores"] = [bool(g.correct) for g in mine]
        record["scores_compat"] = [bool(next(compat)) for _ in mine]
        record["disagrees"] = record["scores"] != record["scores_compat"]
        record["boxed"] = [bool(g.boxed) for g in mine]
        timeouts += sum(bool(g.timed_out) for g in mine)
        disagreements += record["disagrees"]
        for g in mine:
            rules[g.extraction] = rules.get(g.extraction, 0) + 1
    return {"responses": len(pairs), "grader_timeouts": timeouts, "extraction": dict(sorted(rules.items())),
            "disagreements": disagreements}


def finish_benchmark(name: str, records: list[dict], args: EvalArgs, started: float) -> dict:
    """Grade ``records``, write them and the metrics (metrics last: its presence marks the benchmark done)."""
    records_path, metrics_path = output_paths(args, name)
    counts = grade(records, args.num_workers)
    metrics = {"benchmark": name}
    metrics.update(summarize(
        [r["scores"] for r in records], [r["preds"] for r in records], same=answers_equivalent, seed=args.seed
    ))
    responses = max(counts["responses"], 1)
    metrics.update(
        accuracy_compat=mean(problem_accuracies([r["scores_compat"] for r in records])),
        compat_profile=COMPAT_PROFILE,
        disagreements=counts["disagreements"],
        boxed_rate=sum(sum(r["boxed"]) for r in records) / responses,
        grader_timeouts=counts["grader_timeouts"],
        extraction=counts["extraction"],
    )
    if all("finish_reasons" in r for r in records):
        metrics["truncated_rate"] = sum(f == "length" for r in records for f in r["finish_reasons"]) / responses
    if all("num_tokens" in r for r in records):
        metrics["mean_num_tokens"] = sum(sum(r["num_tokens"]) for r in records) / responses
    metrics.update(
        seconds=round(time.time() - started, 2), records=records_path.name, settings=settings(args)
    )
    write_jsonl(records_path, records)
    write_json(metrics_path, metrics)
    logger.info(
        "%s: accuracy %.4f (95%% CI %.4f-%.4f), %s scorer %.4f (%d problems scored differently) on %d problems "
        "x %s; %s", name, metrics["accuracy"], *metrics["ci95"], COMPAT_PROFILE, metrics["accuracy_compat"],
        metrics["disagreements"], metrics["num_problems"], metrics["n"], metrics_path,
    )
    return metrics


# Keys that grading writes afresh; a re-scored file's other keys (ids, labels, old rewards) are kept.
REGRADED_KEYS = ("response", "preds", "scores", "scores_compat", "disagrees", "boxed")


def read_predictions(path: str, name: str) -> list[dict]:
    """A predictions file as unscored eval records: ``response`` becomes a one-item ``responses`` list."""
    spec = benchmark(name)
    records = []
    for row_number, row in enumerate(iter_records(path)):
        where = (path, row_number + 1)
        responses = row.get("responses", [row["response"]] if "response" in row else None)
        if not isinstance(responses, list) or not all(isinstance(r, str) for r in responses):
            raise RecordError(*where, "expected `responses` (a list of strings) or `response` (a string)")
        try:
            gt = answer_field(row) if ("gt" in row or "answer" in row) else spec.answer(row)
        except ValueError as e:
            raise RecordError(*where, str(e)) from None
        record = {key: value for key, value in row.items() if key not in REGRADED_KEYS}
        record.update(idx=row.get("idx", row_number), problem=row.get("problem", row.get("question", "")), gt=gt,
                      prompt=row.get("prompt", ""), responses=responses)
        for key in ("finish_reasons", "num_tokens"):  # stale lengths would skew truncated_rate
            if not (isinstance(row.get(key), list) and len(row[key]) == len(responses)):
                record.pop(key, None)
        records.append(record)
    if not records:
        raise RecordError(path, 0, "no records")
    return records


def evaluate_benchmarks(args: EvalArgs) -> dict[str, dict]:
    """Metrics of every benchmark in ``args.names``, generating and grading the ones not done yet."""
    check_engine_installed(args.engine)
    results, engine = {}, None
    for name in args.names:
        _, metrics_path = output_paths(args, name)
        if metrics_path.is_file() and not args.overwrite:
            logger.info("%s: already evaluated (%s); skipping (--overwrite redoes it)", name, metrics_path)
            results[name] = json.loads(metrics_path.read_text(encoding="utf-8"))
            continue
        problems = select(load_benchmark(name, args.data_dir or None, args.split),
                          args.num_test_sample, args.start, args.end)
        if not problems:
            raise ConfigError(f"{name}: no problems left after --num_test_sample/--start/--end")
        if engine is None:
            engine = load_engine(args)
        started = time.time()
        logger.info("%s: generating %d x %d responses", name, len(problems), args.n_sampling)
        results[name] = finish_benchmark(name, generate(engine, problems, args), args, started)
    return results


def score_only(args: EvalArgs) -> dict[str, dict]:
    """Re-grade ``args.score_only`` as benchmark ``name``, writing records, metrics and summary alike."""
    names = args.names
    name = names[0] if len(names) == 1 else Path(args.score_only).name.split(".")[0]
    _, metrics_path = output_paths(args, name)
    if metrics_path.is_file() and not args.overwrite:
        logger.info("%s: already scored (%s); skipping (--overwrite redoes it)", name, metrics_path)
        return {name: json.loads(metrics_path.read_text(encoding="utf-8"))}
    started = time.time()
    records = select(read_predictions(args.score_only, name), args.num_test_sample, args.start, args.end)
    return {name: finish_benchmark(name, records, args, started)}


def percent(value: float) -> str:
    return f"{100 * value:.1f}"


def compat_average(results: dict[str, dict]) -> float | None:
    """The mean of the benchmarks' accuracy_compat; None if one lacks it (evaluated before both were kept)."""
    values = [m.get("accuracy_compat") for m in results.values()]
    return None if None in values else sum(values) / len(values)


def summary_markdown(label: str, results: dict[str, dict], average: float, args: EvalArgs) -> str:
    """The results table in the recipe's layout: one row per model, benchmarks then Avg, in percent."""
    titles = [benchmark(name).title for name in results]
    n = min(m["n"] for m in results.values())
    compat = compat_average(results) is not None
    rows = [(label, [m["accuracy"] for m in results.values()])]
    if compat:
        rows.append((f"{label} ({COMPAT_PROFILE} scorer)", [m["accuracy_compat"] for m in results.values()]))
    if n > 1:
        top_k = 2 ** (n.bit_length() - 1)  # the largest k reported for n samples
        rows.append((f"{label} (maj@{n})", [m["maj@n"] for m in results.values()]))
        rows.append((f"{label} (pass@{top_k})", [m["pass@k"][str(top_k)] for m in results.values()]))
    lines = [
        "| Model | " + " | ".join(titles) + " | Avg |",
        "|---|" + "---:|" * (len(titles) + 1),
        *(f"| {row} | " + " | ".join(map(percent, values)) + f" | {percent(sum(values) / len(values))} |"
          for row, values in rows),
        "",
    ]
    metric = "greedy pass@1" if n == 1 and args.temperature == 0 and not args.score_only else f"mean@{n}"
    how = (f"re-scored from {args.score_only}" if args.score_only else
           f"{args.prompt_type} prompt, temperature {args.temperature:g}, top_p {args.top_p:g}, "
           f"up to {args.max_tokens_per_call} new tokens, seed {args.seed}")
    lines.append(f"{metric} (%), {how}; graded by annotate.grader. Average of benchmarks: {percent(average)}.")
    if compat:
        lines.append(f"The ({COMPAT_PROFILE} scorer) row is the one to hold against the published table: the same "
                     "answers compared by the numeric rules of the Qwen2.5-Math scorer that produced it (a relative "
                     "1e-4 between numbers, 100x or 1/100x the gt counted equal); the first row is our grader, the "
                     "training reward.")
    lines.append("")
    lines.append(f"| Benchmark | problems | accuracy (%) | {COMPAT_PROFILE} scorer (%) | scored differently | 95% CI |")
    lines.append("|---|---:|---:|---:|---:|---|")
    for title, m in zip(titles, results.values(), strict=True):
        other = (percent(m["accuracy_compat"]), str(m["disagreements"])) if "accuracy_compat" in m else ("-", "-")
        lines.append(f"| {title} | {m['num_problems']} | {percent(m['accuracy'])} | {other[0]} | {other[1]} | "
                     f"{percent(m['ci95'][0])}-{percent(m['ci95'][1])} |")
    return "\n".join(lines) + "\n"


def write_summary(args: EvalArgs, results: dict[str, dict]) -> dict:
    label = args.model_label or args.model_name_or_path or Path(args.score_only).name
    average = sum(m["accuracy"] for m in results.values()) / len(results)
    summary = {"model": label, "settings": settings(args), "benchmarks": results, "average_accuracy": average,
               "average_accuracy_compat": compat_average(results)}
    out = Path(args.output_dir)
    write_json(out / "summary.json", summary)
    markdown = summary_markdown(label, results, average, args)
    with atomic_open(out / "summary.md") as f:
        f.write(markdown)
    logger.info("average accuracy %.4f over %d benchmarks; table in %s\n%s", average, len(results),
                out / "summary.md", markdown)
    return summary


def main(args: EvalArgs) -> dict:
    results = score_only(args) if args.score_only else evaluate_benchmarks(args)
    return write_summary(args, results) if args.write_summary else {"benchmarks": results}


if __name__ == "__main__":
    run_cli(main, [EvalArgs])
