"""The evaluation benchmarks: where each one lives and how its fields become ``idx``, ``problem``, ``gt``.

The five benchmarks of the recipe's results table ship with the project, in ``eval_math/data/<name>/
test.jsonl`` (the Qwen2.5-Math evaluation layout; byte for byte the copies the original recipe bundles
in its eval_math/data, see eval_math/data/README.md), and load from there by default. ``data_dir`` names
another folder of that layout, or ``hub`` for the Hugging Face Hub copies (``Benchmark.hub_id``). Any
other name is a custom set read from a folder, with ``problem`` (or ``question``) and ``gt`` (or
``answer``) fields; the CPU demo's held-out set is one.

A problem's text is what the Qwen2.5-Math harness (the original's eval_math/parser.py
``parse_question``) sends: stripped of surrounding white space, with " (Yes or No)" or " (True or
False)" appended when the ground truth is yes/no or true/false (none of the five benchmarks has one).

    from eval_math.benchmarks import load_benchmark
    problems = load_benchmark("amc23")   # [{"idx", "problem", "gt"}, ...]
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from common.config import ConfigError
from common.paths import check_input
from common.records import RecordError, iter_jsonl

logger = logging.getLogger(__name__)

RECIPE_BENCHMARKS = ("math500", "aime24", "amc23", "minerva_math", "olympiadbench")
BUNDLED_DATA_DIR = Path(__file__).resolve().parent / "data"
HUB = "hub"  # --data_dir value that loads the Hub copies

_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")


class BenchmarkError(ConfigError):
    """A benchmark that cannot be loaded (unknown name without a local copy, no Hub access)."""


def _text(row: dict, keys: tuple[str, ...], what: str) -> str:
    for key in keys:
        value = row.get(key)
        if isinstance(value, str) and value.strip():
            return value
    raise ValueError(f"expected a non-empty string field {' or '.join(map(repr, keys))} ({what})")


def number_text(value) -> str:
    """A JSON number as an answer string: 27.0 -> "27" (amc23 stores integers as floats), 2.5 -> "2.5"."""
    if isinstance(value, bool):
        raise ValueError(f"expected an answer, got the boolean {value}")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def answer_field(row: dict) -> str:
    """``gt`` or ``answer``, a string or a number: the layout of math500, aime24, amc23 and custom sets."""
    for key in ("gt", "answer"):
        value = row.get(key)
        if isinstance(value, (int, float)):
            return number_text(value)
        if isinstance(value, str) and value.strip():
            return value.strip()
    raise ValueError("expected a ground-truth field 'gt' or 'answer' (a string or a number)")


def problem_field(row: dict) -> str:
    return _text(row, ("problem", "question"), "the problem statement")


def minerva_answer(row: dict) -> str:
    """The Hub copy has ``answer``; the Qwen2.5-Math copy only a solution whose last ``\\boxed{}`` is it."""
    if "answer" in row:
        return answer_field(row)
    from annotate.grader import extract_answer  # the grader's box parser: one parser for gt and predictions

    answer, boxed = extract_answer(_text(row, ("solution",), "its last \\boxed{} is the ground truth"))
    if not boxed or not answer:
        raise ValueError("expected a \\boxed{} answer in 'solution' (minerva_math's ground truth)")
    return answer


def olympiad_answer(row: dict) -> str:
    """``final_answer`` is a list of strings, each maybe wrapped in ``$...$``: strip math delimiters, join."""
    final = row.get("final_answer")
    if isinstance(final, str):
        final = [final]
    if not isinstance(final, list) or not final or not all(isinstance(part, str) for part in final):
        raise ValueError("expected 'final_answer' to be a non-empty list of strings (olympiadbench)")
    parts = [_UNESCAPED_DOLLAR.sub("", part).strip() for part in final]
    if not all(parts):
        raise ValueError(f"empty answer in 'final_answer': {final!r}")
    return ", ".join(parts)


def olympiad_problem(row: dict) -> str:
    """Some OlympiadBench questions refer to a shared ``context``; it belongs before the question."""
    question = problem_field(row)
    context = row.get("context")
    return f"{context.strip()}\n{question}" if isinstance(context, str) and context.strip() else question


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str  # column header in the results table
    hub_id: str | None = None
    hub_config: str | None = None
    hub_split: str = "test"
    problem: Callable[[dict], str] = problem_field
    answer: Callable[[dict], str] = answer_field


BENCHMARKS = {
    b.name: b
    for b in (
        Benchmark("math500", "MATH500", "HuggingFaceH4/MATH-500"),
        Benchmark("aime24", "AIME24", "HuggingFaceH4/aime_2024", hub_split="train"),
        Benchmark("amc23", "AMC23", "math-ai/amc23"),
        Benchmark("minerva_math", "Minerva Math", "math-ai/minervamath", answer=minerva_answer),
        Benchmark(
            "olympiadbench", "OlympiadBench", "Hothan/OlympiadBench", hub_config="OE_TO_maths_en_COMP",
            hub_split="train", problem=olympiad_problem, answer=olympiad_answer,
        ),
    )
}


def benchmark(name: str) -> Benchmark:
    """The spec of ``name``; a custom name gets the generic field mapping and no Hub id."""
    return BENCHMARKS.get(name) or Benchmark(name, name)


def _hub_rows(spec: Benchmark) -> Iterator[tuple[int, dict]]:
    if spec.hub_id is None:
        raise BenchmarkError(
            f"{spec.name!r} has no Hub copy: choose one of {list(BENCHMARKS)} or give --data_dir with "
            f"{spec.name}/<split>.jsonl"
        )
    try:
        import datasets
    except ImportError as e:
        raise BenchmarkError(f"loading {spec.hub_id} from the Hub needs the `datasets` package ({e})") from e
    try:
        rows = datasets.load_dataset(spec.hub_id, spec.hub_config, split=spec.hub_split)
    except (OSError, ValueError, ConnectionError) as e:
        raise BenchmarkError(
            f"{spec.name}: cannot load {spec.hub_id} from the Hub ({e}); point --data_dir at a local copy"
        ) from e
    yield from enumerate(rows, start=1)


def question_text(problem: str, gt: str) -> str:
    """The problem as the Qwen2.5-Math harness words it (see the module docstring)."""
    suffix = {"yes": " (Yes or No)", "no": " (Yes or No)", "true": " (True or False)", "false": " (True or False)"}
    return problem.strip() + suffix.get(gt.lower(), "")


def load_benchmark(name: str, data_dir: str | None = None, split: str = "test") -> list[dict]:
    """Prompt records ``{"idx", "problem", "gt"}`` of benchmark ``name``, in file order.

    ``data_dir``: a folder of ``<name>/<split>.jsonl`` (default: the bundled eval_math/data), or ``hub``.
    ``idx`` is the row's own ``idx`` when it has one, else its position (0-based), as in the Qwen2.5-Math
    evaluation. A row that cannot be mapped raises RecordError naming the file (or Hub id) and line.
    """
    spec = benchmark(name)
    if data_dir != HUB:
        path = Path(data_dir or BUNDLED_DATA_DIR) / name / f"{split}.jsonl"
        if not path.is_file():
            hint = "" if data_dir or spec.hub_id is None else f" (or --data_dir {HUB} for {spec.hub_id})"
            raise FileNotFoundError(f"{path}: no such file (expected <data_dir>/<name>/<split>.jsonl){hint}")
        check_input(str(path), name)  # an empty file: the same one line as every stage's empty input
        source, rows = str(path), iter_jsonl(path)
    else:
        source, rows = f"{spec.hub_id}[{spec.hub_split}]", _hub_rows(spec)
    problems, seen = [], set()
    for line, row in rows:
        if not isinstance(row, dict):
            raise RecordError(source, line, f"expected a JSON object, got {type(row).__name__}")
        try:
            gt = spec.answer(row)
            record = {"idx": row.get("idx", len(problems)), "problem": question_text(spec.problem(row), gt), "gt": gt}
        except ValueError as e:
            raise RecordError(source, line, f"{name}: {e}") from None
        if record["idx"] in seen:
            raise RecordError(source, line, f"duplicate idx {record['idx']!r}")
        seen.add(record["idx"])
        problems.append(record)
    if not problems:
        raise BenchmarkError(f"{source}: no problems")
    logger.info("%s: %d problems from %s", name, len(problems), source)
    return problems


def select(problems: list, num_test_sample: int = -1, start: int = 0, end: int = -1) -> list:
    """The first ``num_test_sample`` problems (all when -1), then ``[start:end]`` of those (end -1: to the end).

    The same order as the Qwen2.5-Math evaluation's flags, so its users' commands select the same problems.
    """
    chosen = problems if num_test_sample < 0 else problems[:num_test_sample]
    return chosen[start : None if end < 0 else end]
