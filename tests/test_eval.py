"""eval_math: benchmark loaders, the statistics, scoring-only mode, and the tiny model end to end."""

import itertools
import json
import logging
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from annotate.grader import is_correct
from common.config import ConfigError, parse_config
from common.prompts import render_prompt
from common.records import EVAL, RecordError, read_records, write_jsonl
from eval_math.benchmarks import HUB, RECIPE_BENCHMARKS, BenchmarkError, load_benchmark, select
from eval_math.evaluate import EvalArgs, answers_equivalent, main, output_paths
from eval_math.metrics import bootstrap_interval, majority_vote, pass_at_k, summarize

REPO = Path(__file__).resolve().parent.parent


def write_rows(data_dir: Path, name: str, rows: list[dict]) -> Path:
    path = data_dir / name / "test.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


# ---- loaders -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "name, size, first_gts",
    [
        ("math500", 500, [r"\left( 3, \frac{\pi}{2} \right)", "p - q", r"\frac{14}{3}"]),
        ("aime24", 30, ["204", "113", "371"]),
        ("amc23", 40, ["27", "36", "45"]),  # stored as 27.0: a number, not the string "27.0"
        ("minerva_math", 272, ["1.6", "4.5e33", "41.8"]),  # the last \boxed{} of the solution
        ("olympiadbench", 675, ["2", r"\frac{1}{2 n+2}", "2^{1009}"]),  # ["$...$"] -> its content
    ],
)
def test_shared_benchmarks_load_with_their_fields(shared_dir, tmp_path, name, size, first_gts):
    source = shared_dir / "benchmarks"
    problems = load_benchmark(name, str(source))
    assert len(problems) == size and len({p["idx"] for p in problems}) == size
    assert all(p["problem"].strip() and p["gt"].strip() and not p["gt"].startswith("$") for p in problems)
    lines = (source / name / "test.jsonl").read_text(encoding="utf-8").splitlines()[:3]
    write_rows(tmp_path, name, [json.loads(line) for line in lines])
    few = load_benchmark(name, str(tmp_path))
    assert [p["gt"] for p in few] == first_gts
    assert [p["idx"] for p in few] == [p["idx"] for p in problems[:3]]
    assert [p["problem"] for p in few] == [p["problem"] for p in problems[:3]]


@pytest.mark.parametrize(
    "name, row, problem, gt",
    [
        # numbers: integral floats lose ".0", others keep their digits
        ("amc23", {"question": "q", "answer": 27.0}, "q", "27"),
        ("amc23", {"question": "q", "answer": 2.5}, "q", "2.5"),
        ("aime24", {"problem": "p", "answer": "025"}, "p", "025"),
        # minerva: the Hub copy's answer field, else the last box of the solution
        ("minerva_math", {"problem": "p", "solution": r"$\boxed{1}$ then $\boxed{\frac{3}{4}}$ m"}, "p", r"\frac{3}{4}"),
        ("minerva_math", {"question": "p", "answer": "7"}, "p", "7"),
        # olympiadbench: $...$ delimiters go, list items are joined, a context comes first
        ("olympiadbench", {"question": "q", "final_answer": ["$69$,$84$"]}, "q", "69,84"),
        ("olympiadbench", {"question": "q", "final_answer": ["$x$", "$y$"]}, "q", "x, y"),
        ("olympiadbench", {"question": "q", "final_answer": [r"$\$5$"]}, "q", r"\$5"),
        ("olympiadbench", {"question": "q", "context": "c", "final_answer": ["1"]}, "c\nq", "1"),
        # any other name: problem/question and gt/answer
        ("custom", {"problem": "p", "gt": "3"}, "p", "3"),
        ("custom", {"question": "p", "answer": 4}, "p", "4"),
    ],
)
def test_field_mapping(tmp_path, name, row, problem, gt):
    write_rows(tmp_path, name, [row])
    (record,) = load_benchmark(name, str(tmp_path))
    assert record == {"idx": 0, "problem": problem, "gt": gt}


@pytest.mark.parametrize(
    "rows, message",
    [
        ([{"problem": "p"}], "ground-truth field 'gt' or 'answer'"),
        ([{"gt": "1"}], "'problem' or 'question'"),
        ([{"problem": "p", "gt": "1", "idx": 3}, {"problem": "q", "gt": "2", "idx": 3}], "duplicate idx 3"),
        ([{"problem": "p", "gt": True}], "got the boolean True"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, rows, message):
    path = write_rows(tmp_path, "custom", rows)
    with pytest.raises(RecordError, match=message) as info:
        load_benchmark("custom", str(tmp_path))
    assert str(info.value).startswith(f"{path}:{len(rows)}: ")


def test_missing_local_copy_and_unknown_hub_name(tmp_path):
    with pytest.raises(FileNotFoundError, match="amc23/test.jsonl"):
        load_benchmark("amc23", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="eval_math/data/not_a_benchmark/test.jsonl"):
        load_benchmark("not_a_benchmark")
    with pytest.raises(BenchmarkError, match="--data_dir"):
        load_benchmark("not_a_benchmark", HUB)


def test_bundled_benchmarks_are_the_default_and_match_the_shared_copies(shared_dir):
    for name in RECIPE_BENCHMARKS:
        bundled = REPO / "eval_math" / "data" / name / "test.jsonl"
        assert bundled.read_bytes() == (shared_dir / "benchmarks" / name / "test.jsonl").read_bytes()
        assert load_benchmark(name) == load_benchmark(name, str(shared_dir / "benchmarks"))


@pytest.mark.parametrize(
    "row, problem",
    [
        # as the Qwen2.5-Math harness's parse_question: stripped, and yes/no or true/false announced
        ({"problem": "  Is it? \n", "gt": "Yes"}, "Is it? (Yes or No)"),
        ({"problem": "Is it?", "gt": "no"}, "Is it? (Yes or No)"),
        ({"problem": "True?", "gt": "FALSE"}, "True? (True or False)"),
        ({"problem": "How many?", "gt": "yes 2"}, "How many?"),
    ],
)
def test_question_text_as_the_qwen_harness(tmp_path, row, problem):
    write_rows(tmp_path, "custom", [row])
    assert load_benchmark("custom", str(tmp_path))[0]["problem"] == problem


@pytest.mark.parametrize(
    "num_test_sample, start, end, expected",
    [(-1, 0, -1, list(range(10))), (4, 0, -1, [0, 1, 2, 3]), (-1, 7, -1, [7, 8, 9]), (6, 2, 4, [2, 3]),
     (3, 2, 9, [2])],
)
def test_select_takes_first_k_then_the_range(num_test_sample, start, end, expected):
    assert select(list(range(10)), num_test_sample, start, end) == expected


# ---- metrics -------------------------------------------------------------------------------------------

def brute_pass_at_k(n: int, c: int, k: int) -> float:
    """The fraction of k-subsets of the n samples holding at least one of the c correct ones."""
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(i < c for i in subset) for subset in subsets) / len(subsets)


@pytest.mark.parametrize("n, c, k", [(n, c, k) for n in range(1, 7) for c in range(n + 1) for k in range(1, n + 1)])
def test_pass_at_k_is_the_subset_probability(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(brute_pass_at_k(n, c, k))
    assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k))


@pytest.mark.parametrize(
    "preds, scores, expected",
    [
        (["4", "4", "5"], [True, True, False], 1.0),  # clear majority, correct
        (["5", "4", "5"], [False, True, False], 0.0),  # clear majority, wrong
        (["4", "5"], [True, False], 0.5),  # two-way tie: expected score of a random pick
        (["4", "5", "6", "6", "4", "5"], [True, False, False, False, True, False], 1 / 3),  # three-way tie
        (["4", None, None, "5", "5"], [True, False, False, False, False], 0.0),  # no answer does not vote
        ([None, None], [False, False], 0.0),  # nothing to vote for
        (["3", "1/2", "0.5"], [True, False, False], 0.0),  # equivalent wrong answers are one group (`same`)
        (["1/2", "0.5", "3"], [True, True, False], 1.0),  # correct answers are one group: both equal the gt
        (["4", "5", "6", "7"], [True, False, False, False], 0.25),  # all distinct: a four-way tie
    ],
)
def test_majority_vote_with_ties_and_equivalence(preds, scores, expected):
    def same(a, b):
        return a == b or {a, b} == {"1/2", "0.5"}

    assert majority_vote(preds, scores, same) == pytest.approx(expected)
    assert majority_vote(preds[::-1], scores[::-1], same) == pytest.approx(expected)  # order-free


def test_majority_vote_groups_by_the_grader():
    preds, scores = [r"\frac{1}{2}", "0.5", "3"], [False, False, True]  # the ground truth is 3
    assert majority_vote(preds, scores, answers_equivalent) == 0.0  # one half, twice, outvotes 3
    assert majority_vote(preds, scores) == pytest.approx(1 / 3)  # string equality sees a three-way tie


def test_bootstrap_interval_contains_the_mean_narrows_and_is_seeded():
    widths = []
    for problems in (20, 80, 320):
        values = [float(i % 4 == 0) for i in range(problems)]  # accuracy 0.25
        low, high = bootstrap_interval(values, seed=0)
        assert low <= sum(values) / len(values) <= high
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2] > 0
    assert bootstrap_interval([0.0, 1.0, 1.0], seed=3) == bootstrap_interval([0.0, 1.0, 1.0], seed=3)
    assert bootstrap_interval([1.0] * 5) == (1.0, 1.0)


def test_summarize_on_hand_made_scores():
    scores = [[True, True, False, False], [False] * 4, [True] * 4]
    preds = [["1", "1", "2", "2"], ["3", "4", "4", None], ["5", "5", "5", "6"]]
    m = summarize(scores, preds, seed=0)
    assert m["accuracy"] == pytest.approx((0.5 + 0 + 1) / 3)
    assert m["pass@k"]["1"] == pytest.approx(m["accuracy"])
    assert list(m["pass@k"]) == ["1", "2", "4"]
    assert m["pass@k"]["4"] == pytest.approx(2 / 3)  # two problems have a correct sample
    assert m["maj@n"] == pytest.approx((0.5 + 0 + 1) / 3)  # problem 1: tie between "1" (right) and "2"
    assert m["ci95"][0] <= m["accuracy"] <= m["ci95"][1]
    assert (m["num_problems"], m["n"], m["num_samples"]) == (3, 4, 12)


# ---- scoring-only mode and --overwrite -----------------------------------------------------------------

def predictions(tmp_path: Path, correct: list[list[bool]]) -> Path:
    """A samples-like file: problem i has gt str(i); a True makes that response box the gt."""
    rows = [{"idx": i, "problem": f"p{i}", "gt": str(i), "label": i,
             "responses": [f"so \\boxed{{{i if ok else i + 100}}}" for ok in row]}
            for i, row in enumerate(correct)]
    path = tmp_path / "preds.jsonl"
    write_jsonl(path, rows)
    return path


def test_score_only_grades_an_existing_file(tmp_path):
    correct = [[True, False, True, True], [False] * 4, [True, True, False, False], [False, True, False, False]]
    args = EvalArgs(output_dir=str(tmp_path / "out"), score_only=str(predictions(tmp_path, correct)),
                    data_names="mine")
    summary = main(args)
    records_path, metrics_path = output_paths(args, "mine")
    records = read_records(records_path, EVAL)
    assert [r["scores"] for r in records] == correct
    assert [r["preds"][0] for r in records] == ["0", "101", "2", "103"]
    assert [r["label"] for r in records] == [0, 1, 2, 3]  # the file's own keys are carried along
    metrics = json.loads(metrics_path.read_text())
    assert metrics["accuracy"] == pytest.approx(sum(map(sum, correct)) / 16)
    assert metrics["maj@n"] == pytest.approx((1 + 0 + 0.5 + 0) / 4)
    assert metrics["pass@k"]["4"] == pytest.approx(3 / 4)
    assert summary["benchmarks"]["mine"]["accuracy"] == metrics["accuracy"] == summary["average_accuracy"]
    table = (tmp_path / "out" / "summary.md").read_text()
    assert "| Model | mine | Avg |" in table and "maj@4" in table and "pass@4" in table


# (gt, response, our verdict, the qwen profile's): the Qwen2.5-Math scorer's numeric rules that the
# published table was scored with, and the -124/-123 rounding of the original's labeler that is not followed.
COMPAT_PINS = [
    ("3.14159", r"so $\boxed{3.1416}$", False, True),  # within 1e-4, not within 1e-6
    ("5", r"so $\boxed{0.05}$", False, True),  # 1/100x the gt
    ("5", r"so $\boxed{500}$", False, True),  # 100x the gt
    ("10000", r"so $\boxed{10001}$", False, True),  # 1e-4 just inside, between integers
    ("10000", r"so $\boxed{10002}$", False, False),  # just outside
    ("1", r"so $\boxed{1.0001}$", False, True),  # just inside
    ("1", r"so $\boxed{1.00011}$", False, False),  # just outside
    ("-123", r"so $\boxed{-124}$", False, False),  # the labeler's round_number equates them: a bug, not followed
    ("0.12", r"so $\boxed{0.123}$", False, False),  # 2 significant digits below 1: not followed
    ("7", r"so $\boxed{7}$", True, True),
]


def test_score_only_reports_both_scores_and_where_they_disagree(tmp_path):
    path = tmp_path / "pins.jsonl"
    write_jsonl(path, [{"idx": f"pin{i}", "problem": f"p{i}", "gt": gt, "responses": [response]}
                       for i, (gt, response, _, _) in enumerate(COMPAT_PINS)])
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "eval_math/evaluate.py", "--score_only", str(path), "--output_dir", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    args = EvalArgs(output_dir=str(out), score_only=str(path), data_names="pins")
    records_path, metrics_path = output_paths(args, "pins")
    records = read_records(records_path, EVAL)
    assert [(r["scores"], r["scores_compat"]) for r in records] == [([o], [q]) for _, _, o, q in COMPAT_PINS]
    differ = [f"pin{i}" for i, (_, _, o, q) in enumerate(COMPAT_PINS) if o != q]
    assert [r["idx"] for r in records if r["disagrees"]] == differ and len(differ) == 5
    metrics = json.loads(metrics_path.read_text())
    assert metrics["accuracy"] == pytest.approx(1 / 10)
    assert metrics["accuracy_compat"] == pytest.approx(6 / 10)
    assert (metrics["disagreements"], metrics["compat_profile"]) == (5, "qwen")
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["average_accuracy"], summary["average_accuracy_compat"]) == (pytest.approx(0.1), pytest.approx(0.6))
    table = (out / "summary.md").read_text()
    assert "| pins.jsonl | 10.0 | 10.0 |" in table and "| pins.jsonl (qwen scorer) | 60.0 | 60.0 |" in table
    assert "| pins | 10 | 10.0 | 60.0 | 5 |" in table
    assert "The (qwen scorer) row is the one to hold against the published table" in table
    assert "pins: accuracy 0.1000" in done.stderr and "qwen scorer 0.6000 (5 problems scored differently)" in done.stderr


def test_score_only_accepts_single_responses_and_reports_bad_lines(tmp_path):
    path = tmp_path / "gold.jsonl"
    write_jsonl(path, [{"response": r"$\boxed{\frac12}$", "gt": "0.5"}, {"response": "7", "gt": "8"}])
    summary = main(EvalArgs(output_dir=str(tmp_path / "out"), score_only=str(path)))
    assert summary["benchmarks"]["gold"]["accuracy"] == 0.5  # named after the file
    write_jsonl(path, [{"response": "x", "gt": "1"}, {"responses": "not a list", "gt": "1"}])
    with pytest.raises(RecordError, match=f"{path}:2: expected `responses`"):
        main(EvalArgs(output_dir=str(tmp_path / "out2"), score_only=str(path)))
    assert not (tmp_path / "out2").exists()


def test_finished_benchmarks_are_kept_unless_overwrite(tmp_path, caplog):
    path = predictions(tmp_path, [[True], [True]])
    args = EvalArgs(output_dir=str(tmp_path / "out"), score_only=str(path), data_names="mine")
    assert main(args)["average_accuracy"] == 1.0
    predictions(tmp_path, [[False], [True]])
    with caplog.at_level(logging.INFO):
        assert main(args)["average_accuracy"] == 1.0
    assert "already scored" in caplog.text and "--overwrite" in caplog.text
    args.overwrite = True
    assert main(args)["average_accuracy"] == 0.5


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "--model_name_or_path is required"),
        ({"model_name_or_path": "m", "n_sampling": 4}, "temperature 0 is greedy"),
        ({"model_name_or_path": "m", "prompt_type": "cot"}, "prompt_type must be one of"),
        ({"model_name_or_path": "m", "data_names": "a,a"}, "data_names must be distinct"),
        ({"score_only": "f.jsonl", "data_names": "a,b"}, "the one benchmark the file holds"),
    ],
)
def test_bad_arguments_are_config_errors(tmp_path, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        EvalArgs(output_dir=str(tmp_path), **kwargs)


# ---- the tiny model end to end -------------------------------------------------------------------------

def run(command: list[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", GEN_PYTHON=sys.executable)  # this interpreter, not .venv-vllm
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


RECIPE_SETTINGS = {"prompt_type": "online-dpo-r1", "n_sampling": 1, "temperature": 0.0, "top_p": 1.0, "seed": 0}


def test_eval_sh_runs_the_tiny_model_on_five_problems_of_each_benchmark(shared_dir, tiny_model_dir, tmp_path):
    out = tmp_path / "eval"
    done = run(["bash", "eval_math/eval.sh", str(tiny_model_dir), str(out), "--data_dir",
                str(shared_dir / "benchmarks"), "--num_test_sample", "5", "--max_tokens_per_call", "8",
                "--engine", "hf", "--batch_size", "5"])
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["benchmarks"]) == list(RECIPE_BENCHMARKS)
    for name, metrics in summary["benchmarks"].items():
        settings = metrics["settings"]
        assert {key: settings[key] for key in RECIPE_SETTINGS} == RECIPE_SETTINGS
        assert (settings["max_tokens_per_call"], metrics["num_problems"]) == (8, 5)  # extra flags override
        records = read_records(out / name / metrics["records"], EVAL)
        assert [r["idx"] for r in records] == [p["idx"] for p in load_benchmark(name, settings["data_dir"])[:5]]
        for r in records:
            assert len(r["responses"]) == 1 and r["prompt"].endswith("<|im_start|>assistant\n")
            assert r["scores"] == [is_correct(r["responses"][0], r["gt"])]
            assert r["num_tokens"][0] <= 8
        assert metrics["accuracy"] == sum(r["scores"][0] for r in records) / 5
    average = sum(m["accuracy"] for m in summary["benchmarks"].values()) / 5
    assert summary["average_accuracy"] == pytest.approx(average)
    table = (out / "summary.md").read_text().splitlines()
    assert table[0] == "| Model | MATH500 | AIME24 | AMC23 | Minerva Math | OlympiadBench | Avg |"
    assert table[2].startswith(f"| {tiny_model_dir} | ")


def test_driver_flags_on_the_demo_test_set(tiny_assets, tmp_path, caplog):
    """The driver's call: a custom set (the demo's held-out arithmetic) from --data_dir, sampled n=2."""
    out = tmp_path / "eval"
    flags = [
        "--model_name_or_path", str(tiny_assets / "model"), "--data_names", "arith",
        "--data_dir", str(tiny_assets / "task"), "--output_dir", str(out), "--prompt_type", "chat",
        "--n_sampling", "2", "--temperature", "1.0", "--top_p", "1.0", "--max_tokens_per_call", "8",
        "--num_test_sample", "4", "--seed", "1", "--engine", "hf",
    ]
    (args,) = parse_config([EvalArgs], flags)
    summary = main(args)
    assert json.loads((out / "summary.json").read_text()) == summary
    arith = summary["benchmarks"]["arith"]
    assert arith["num_problems"] == 4 and arith["n"] == 2 and list(arith["pass@k"]) == ["1", "2"]
    records = read_records(output_paths(args, "arith")[0], EVAL)
    expected = read_records(tiny_assets / "task" / "arith" / "test.jsonl")[:4]
    assert [(r["idx"], r["gt"]) for r in records] == [(r["idx"], r["gt"]) for r in expected]
    tokenizer = AutoTokenizer.from_pretrained(tiny_assets / "model")
    for r in records:
        assert r["prompt"] == render_prompt(tokenizer, r["problem"], "chat") and len(r["responses"]) == 2
        assert r["scores"] == [is_correct(response, r["gt"]) for response in r["responses"]]
    assert arith["accuracy"] == sum(sum(r["scores"]) for r in records) / 8
    with caplog.at_level(logging.INFO):
        again = main(*parse_config([EvalArgs], flags))
    assert "already evaluated" in caplog.text and again["benchmarks"]["arith"] == arith
