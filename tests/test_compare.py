"""`python -m pipeline compare`: one table and plot over runs and eval directories, from eval_math's real outputs.

The run and eval directories are built in tmp_path with eval_math/evaluate.py itself (scoring-only mode on
small predictions files whose correct answers are known), in the layouts of the demo's DPO and RAFT runs
(iter_<i>/eval) and of the PPO/GRPO exports (step_<N>/eval).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from common.records import write_json, write_jsonl
from eval_math.evaluate import EvalArgs, score_only, write_summary
from pipeline.compare import compare

REPO = Path(__file__).resolve().parent.parent
RECIPE_FIVE = ("math500", "aime24", "amc23", "minerva_math", "olympiadbench")


def evaluate(out: Path, correct: dict[str, list[int]], n: int = 1, **settings) -> dict:
    """An eval_math output in ``out``: benchmark -> per problem, how many of its n responses are right."""
    results = {}
    for name, rights in correct.items():
        rows = [{"idx": i, "problem": f"p{i}", "gt": str(i),
                 "responses": [rf"\boxed{{{i}}}"] * k + [rf"\boxed{{{i + 1}}}"] * (n - k)}
                for i, k in enumerate(rights)]
        write_jsonl(out / f"{name}.jsonl", rows)
        args = EvalArgs(output_dir=str(out), score_only=str(out / f"{name}.jsonl"), data_names=name, **settings)
        results.update(score_only(args))
    return write_summary(args, results)


def demo_run(root: Path, name: str, accuracies: list[int]) -> Path:
    """A demo run: iter_<i>/eval on the arith task (4 problems, greedy), and the run's own summary.json."""
    run = root / name
    for i, right in enumerate(accuracies):
        evaluate(run / f"iter_{i}" / "eval", {"arith": [1] * right + [0] * (4 - right)})
    write_json(run / "summary.json", {"iterations": [], "final_model": "model"})  # pipeline/report.py's
    return run


def table_rows(markdown: str, table: int = 0) -> dict[str, list[str]]:
    """The rows of the markdown's table number ``table`` (0: our grader's, 1: the qwen scorer's), by label."""
    blocks = [b for b in markdown.split("\n\n") if b.startswith("| ")]
    rows = [line.strip("|").split("|") for line in blocks[table].splitlines() if line.startswith("| ")]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows}


def test_demo_dpo_and_raft_runs_in_one_table(tmp_path):
    dpo, raft = demo_run(tmp_path, "demo", [1, 2, 3]), demo_run(tmp_path, "demo_raft", [1, 3, 4])
    result = compare([str(dpo), str(raft)], tmp_path / "cmp")
    rows = table_rows((tmp_path / "cmp/comparison.md").read_text())
    assert rows["Model"] == ["arith", "Average"]
    assert rows["demo iter 0"] == ["25.0", "25.0"] and rows["demo iter 2"] == ["75.0", "75.0"]
    assert rows["demo_raft iter 1"] == ["75.0", "75.0"] and rows["demo_raft iter 2"] == ["100.0", "100.0"]
    assert [r["label"] for r in result["rows"]] == [f"{run} iter {i}" for run in ("demo", "demo_raft") for i in range(3)]
    assert json.loads((tmp_path / "cmp/comparison.json").read_text())["rows"][2]["average"] == 0.75
    assert (tmp_path / "cmp/comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "greedy pass@1" in (tmp_path / "cmp/comparison.md").read_text()


def test_eval_dirs_in_the_published_layout_with_intervals(tmp_path):
    base = evaluate(tmp_path / "eval/base", {name: [2, 0, 4, 1] for name in RECIPE_FIVE}, n=4)
    evaluate(tmp_path / "runs/ppo/step_10/eval", {name: [4, 4, 4, 0] for name in RECIPE_FIVE}, n=4)
    evaluate(tmp_path / "runs/ppo/step_5/eval", {name: [4, 0, 4, 0] for name in RECIPE_FIVE}, n=4)
    compare([str(tmp_path / "eval/base"), str(tmp_path / "runs/ppo")], tmp_path / "cmp")
    markdown = (tmp_path / "cmp/comparison.md").read_text()
    rows = table_rows(markdown)
    assert rows["Model"] == ["AIME24", "MATH500", "AMC23", "Minerva Math", "OlympiadBench", "Average"]
    assert list(rows)[1:] == ["base", "ppo step 5", "ppo step 10"]  # stages in numeric order
    low, high = base["benchmarks"]["aime24"]["ci95"]
    assert rows["base"][0] == f"43.8 [{100 * low:.1f}, {100 * high:.1f}]" and rows["base"][-1] == "43.8"
    assert rows["ppo step 10"][-1] == "75.0" and rows["ppo step 5"][-1] == "50.0"
    assert "mean@n over n = 4" in markdown and "different settings" not in markdown


def test_rows_missing_a_benchmark_or_evaluated_differently_are_flagged(tmp_path):
    evaluate(tmp_path / "a", {"math500": [1, 1], "aime24": [0, 1]})
    evaluate(tmp_path / "b", {"math500": [1, 0, 0]}, num_test_sample=2)
    compare([str(tmp_path / "a"), str(tmp_path / "b")], tmp_path / "cmp")
    markdown = (tmp_path / "cmp/comparison.md").read_text()
    rows = table_rows(markdown)
    assert rows["a"] == ["50.0", "100.0", "75.0"]
    assert rows["b"] == ["-", "50.0", "-"]  # two of its three problems were scored (num_test_sample=2)
    assert "**The rows were evaluated with different settings**" in markdown and "num_test_sample=2" in markdown


def test_the_qwen_scorers_table_follows_ours(tmp_path):
    # 500 against gt 5: wrong to our grader, right to the qwen profile (100x the gt).
    out = tmp_path / "eval" / "pins"
    write_jsonl(tmp_path / "math500.jsonl", [{"idx": 0, "problem": "p", "gt": "5", "responses": [r"\boxed{500}"]},
                                             {"idx": 1, "problem": "q", "gt": "7", "responses": [r"\boxed{7}"]}])
    args = EvalArgs(output_dir=str(out), score_only=str(tmp_path / "math500.jsonl"), data_names="math500")
    write_summary(args, score_only(args))
    old = evaluate(tmp_path / "eval" / "old", {"math500": [1, 1]})  # evaluated before both scores were kept
    del old["benchmarks"]["math500"]["accuracy_compat"]
    write_json(tmp_path / "eval" / "old" / "summary.json", old)
    result = compare([str(out), str(tmp_path / "eval" / "old")], tmp_path / "cmp")
    markdown = (tmp_path / "cmp/comparison.md").read_text()
    assert table_rows(markdown)["pins"] == ["50.0", "50.0"] and table_rows(markdown, 1)["pins"] == ["100.0", "100.0"]
    assert table_rows(markdown)["old"] == ["100.0", "100.0"] and table_rows(markdown, 1)["old"] == ["-", "-"]
    assert "**hold this table against the published one**" in markdown
    assert [(r["average"], r["average_compat"]) for r in result["rows"]] == [(0.5, 1.0), (1.0, None)]


def test_cli_writes_the_table_and_names_a_bad_directory(tmp_path):
    run = demo_run(tmp_path, "demo", [2, 4])
    ok = subprocess.run([sys.executable, "-m", "pipeline", "compare", str(run), "--output", str(tmp_path / "cmp")],
                        cwd=REPO, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "| demo iter 1 | 100.0 | 100.0 |" in (tmp_path / "cmp/comparison.md").read_text()
    (tmp_path / "empty").mkdir()
    for bad in (tmp_path / "missing", tmp_path / "empty"):
        out = subprocess.run([sys.executable, "-m", "pipeline", "compare", str(bad), "--output", str(tmp_path / "x")],
                             cwd=REPO, capture_output=True, text=True)
        assert out.returncode == 2 and str(bad) in out.stderr
    assert not (tmp_path / "x").exists()


def test_a_broken_summary_is_named(tmp_path):
    evaluate(tmp_path / "a", {"math500": [1]})
    summary = json.loads((tmp_path / "a/summary.json").read_text())
    del summary["benchmarks"]["math500"]["ci95"]
    (tmp_path / "a/summary.json").write_text(json.dumps(summary))
    with pytest.raises(ValueError, match=r"a/summary.json: not an eval_math summary.json \(KeyError: 'ci95'\)"):
        compare([str(tmp_path / "a")], tmp_path / "cmp")
