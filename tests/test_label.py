"""annotate/label.py: rewards from the one grader, streamed in order; stats.json; bad input stops cleanly."""

import itertools
import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from annotate.grader import Grade, extract_answer, grade
from annotate.label import LabelArgs, main
from annotate.stats import LabelStats, pass_at_k, update_stats
from common.config import ConfigError
from common.records import LABELED, read_records, write_jsonl

REPO = Path(__file__).resolve().parent.parent


def sample(idx, responses, gt="5", finish_reasons=None):
    return {"idx": idx, "problem": f"p{idx}", "gt": gt, "prompt": f"q{idx}", "responses": responses,
            "finish_reasons": finish_reasons or ["stop"] * len(responses), "num_tokens": [len(r) for r in responses]}


def label(tmp_path, records, **overrides):
    write_jsonl(tmp_path / "samples.jsonl", records)
    args = LabelArgs(dataset_name_or_path=str(tmp_path / "samples.jsonl"), output_file=str(tmp_path / "labeled.jsonl"),
                     **overrides)
    summary = main(args)
    return read_records(tmp_path / "labeled.jsonl", LABELED), summary


@pytest.mark.parametrize(
    "response, gt, expected",
    [
        # right: boxed, in another form, or stated without a box (the grader's fallback; the reward IS the eval)
        (r"so the answer is $\boxed{5}$.", "5", "correct"),
        (r"$\boxed{\dfrac{1}{2}}$", "0.5", "correct"),
        # wrong, inside a box
        (r"$\boxed{6}$", "5", "wrong"),
        (r"\boxed{}", "5", "wrong"),
        # wrong with no box: the format costs more
        ("I think it is 6", "5", "no_box"),
        ("", "5", "no_box"),
        # an unclosed box at the very end is read (as the original labeler reads it)
        (r"cut off at \boxed{5", "5", "correct"),
        (r"cut off at \boxed{6", "5", "wrong"),
    ],
)
def test_reward_scheme(tmp_path, response, gt, expected):
    rewards = {"correct": 1.0, "wrong": -0.5, "no_box": -1.0}
    (record,), _ = label(tmp_path, [sample(0, [response], gt=gt)])
    assert record["rewards"] == [rewards[expected]]
    assert record["correct"] == [expected == "correct"]


@pytest.mark.parametrize(
    "policy, response, finish, expected",
    [
        # recipe: correct by any extraction rule; else "\boxed" anywhere (closed or not) decides
        ("recipe", r"so $\boxed{5}$", "stop", 1.0),
        ("recipe", "The answer is 5.", "stop", 1.0),
        ("recipe", "Adding them gives 5.", "stop", 1.0),
        ("recipe", r"tried \boxed{4} then the answer is 6.", "stop", -0.5),
        ("recipe", r"the sum \boxed{6", "stop", -0.5),
        ("recipe", "It is 6.", "stop", -1.0),
        # strict_box: only a correct answer in a closed box earns the reward; a closed box is the format
        ("strict_box", r"so $\boxed{5}$", "stop", 1.0),
        ("strict_box", "The answer is 5.", "stop", -1.0),
        ("strict_box", r"so $\boxed{4}$", "stop", -0.5),
        ("strict_box", r"so $\boxed{5", "stop", -1.0),
        ("strict_box", r"first $\boxed{4}$. Final Answer: The final answer is $5$. I hope it is correct.", "stop", -0.5),
        # cut by the token limit: an implicit rule's answer is intermediate in every policy; a stated one counts
        ("recipe", "so far we have 2 + 3 = 5 and then", "length", -1.0),
        ("recipe", r"so far $x = 5$ and \boxed{", "length", -0.5),
        ("recipe", "The answer is 5. Let me double-check by", "length", 1.0),
        ("strict_box", "so far we have 2 + 3 = 5 and then", "length", -1.0),
        ("strict_box", r"so $\boxed{5}$ and then we", "length", 1.0),
    ],
)
def test_reward_policies(tmp_path, policy, response, finish, expected):
    (record,), summary = label(tmp_path, [sample(0, [response], finish_reasons=[finish])], reward_policy=policy)
    assert record["rewards"] == [expected]
    assert record["correct"] == [expected == 1.0]
    assert summary["reward_policy"] == policy


def test_stats_count_extraction_rules_and_refused_truncated_answers(tmp_path):
    responses = [r"$\boxed{5}$", r"$\boxed{4}$", "The answer is 5.", "We get 5.", "We get 5", "nothing"]
    finish = ["stop", "stop", "stop", "stop", "length", "stop"]
    _, summary = label(tmp_path, [sample(0, responses, finish_reasons=finish)])
    assert summary["extraction"] == {
        "boxed": {"responses": 2, "correct": 1}, "answer_is": {"responses": 1, "correct": 1},
        "last_number": {"responses": 2, "correct": 1}, "none": {"responses": 1, "correct": 0},
    }
    assert (summary["truncated"], summary["truncated_implicit"], summary["correct"]) == (1, 1, 3)


def test_audit_file_leaves_failed_prompts_out(tmp_path):
    audit = tmp_path / "audit.json"
    audit.write_text(json.dumps({"prompts": 3, "failed": [{"idx": 1, "gt": "?", "reasons": ["x"]}]}))
    records, summary = label(tmp_path, [sample(i, [r"\boxed{5}"]) for i in range(3)], audit_file=str(audit))
    assert [r["idx"] for r in records] == [0, 2]
    assert summary["audit_dropped"] == 1 and summary["prompts"] == 2


def test_help_documents_the_reward_policies():
    out = subprocess.run([sys.executable, "annotate/label.py", "--help"], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0
    assert "--reward_policy" in out.stdout and "strict_box" in out.stdout and "recipe" in out.stdout


def test_reward_values_come_from_config(tmp_path):
    records, summary = label(tmp_path, [sample(0, [r"\boxed{5}", r"\boxed{4}", "4"])],
                             reward_correct=2.0, reward_wrong=0.0, reward_no_box=-3.0)
    assert records[0]["rewards"] == [2.0, 0.0, -3.0]
    assert summary["rewards"] == {"correct": 2.0, "wrong": 0.0, "no_box": -3.0}


@pytest.mark.parametrize("overrides, message", [
    ({"reward_correct": -0.5}, "reward_correct"),
    ({"num_workers": 0}, "num_workers"),
    ({"timeout": 0}, "timeout"),
    ({"reward_policy": "lenient"}, "reward_policy"),
])
def test_bad_config(tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message):
        LabelArgs(dataset_name_or_path="in.jsonl", output_file="out.jsonl", **overrides)


def test_output_may_not_overwrite_input():
    with pytest.raises(ConfigError, match="differ"):
        LabelArgs(dataset_name_or_path="a/s.jsonl", output_file="a/../a/s.jsonl")


@pytest.mark.parametrize("num_workers", [1, 2])
def test_records_keep_order_and_match_one_by_one_grading(tmp_path, num_workers):
    # More responses than the grader's read-ahead window, K varying from 0 to 4, so records are regrouped
    # from a stream that runs ahead of them; each must get exactly its own responses' grades.
    answers = [r"\boxed{5}", r"\boxed{6}", "no box", r"\boxed{\frac{10}{2}}", "", r"The answer is $5$."]
    records = [sample(i, [answers[(i + j) % len(answers)] + " " * i for j in range(i % 5)], gt=str(4 + i % 3))
               for i in range(400)]
    labeled, summary = label(tmp_path, records, num_workers=num_workers)
    assert [r["idx"] for r in labeled] == list(range(400))
    for got, given in zip(labeled, records, strict=True):
        assert {k: got[k] for k in given} == given
        expected = [grade(response, given["gt"]) for response in given["responses"]]
        assert got["correct"] == [g.correct for g in expected]
        assert got["extracted"] == [g.extracted for g in expected]
    assert summary["responses"] == sum(len(r["responses"]) for r in records)


def test_numeric_gt_is_graded_as_text(tmp_path):
    (record,), _ = label(tmp_path, [sample(0, [r"\boxed{27}"], gt=27.0)])
    assert record["correct"] == [True] and record["gt"] == 27.0


def brute_pass_at_k(n, c, k):
    outcomes = [True] * c + [False] * (n - c)
    draws = list(itertools.combinations(outcomes, k))
    return sum(any(d) for d in draws) / len(draws)


@pytest.mark.parametrize("n, c, k", [(8, 0, 1), (8, 1, 1), (8, 3, 2), (8, 5, 4), (8, 8, 8), (4, 1, 4), (5, 2, 3)])
def test_pass_at_k_matches_enumeration(n, c, k):
    assert math.isclose(pass_at_k(n, c, k), brute_pass_at_k(n, c, k))


def grades(*flags):
    """Grades from 'c' (correct), 'w' (wrong, boxed), 'n' (no box), 't' (timed out)."""
    return [Grade(f == "c", "x", f in "cw", "string", 0.0, f == "t") for f in flags]


def test_label_stats_figures():
    stats = LabelStats({"correct": 1.0, "wrong": -0.5, "no_box": -1.0})
    cases = [("cccc", ["stop"] * 4), ("ccwn", ["stop", "stop", "stop", "length"]), ("wwnt", ["length"] * 4),
             ("", [])]
    reward = {"c": 1.0, "w": -0.5, "n": -1.0, "t": -1.0}
    for flags, reasons in cases:
        record = {"responses": list(flags), "finish_reasons": reasons, "num_tokens": [10] * len(flags),
                  "rewards": [reward[f] for f in flags], "correct": [f == "c" for f in flags]}
        stats.add(record, grades(*flags))
    s = stats.summary(seconds=2.0, num_workers=1)
    assert (s["prompts"], s["responses"], s["K"], s["correct"]) == (4, 12, 4, 6)
    assert s["mean_reward"] == pytest.approx((4 * 1.0 + (2 * 1.0 - 0.5 - 1.0) + (2 * -0.5 - 1.0 - 1.0)) / 12)
    assert s["pass@1"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert s["pass@K"] == pytest.approx(2 / 3)
    assert s["pass@k"]["2"] == pytest.approx((1 + brute_pass_at_k(4, 2, 2) + 0) / 3)
    assert (s["all_correct"], s["all_wrong"], s["mixed"]) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert (s["no_responses"], s["no_box"], s["truncated"], s["timeouts"]) == (1, 3, 5, 1)
    assert s["responses_per_second"] == 6.0


def test_stats_section_is_merged_beside_the_output(tmp_path):
    update_stats(tmp_path / "stats.json", "pairs", {"records": 3})
    label(tmp_path, [sample(0, [r"\boxed{5}", "x"])])
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["pairs"] == {"records": 3}
    assert stats["label"]["responses"] == 2 and stats["label"]["correct"] == 1
    label(tmp_path, [sample(0, ["x"])], stats_file=str(tmp_path / "other" / "s.json"))
    assert json.loads((tmp_path / "other" / "s.json").read_text())["label"]["responses"] == 1


GOOD = json.dumps(sample(0, [r"\boxed{5}"]))


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("{not json", "not valid JSON"),
        (json.dumps({k: v for k, v in sample(1, ["a"]).items() if k != "gt"}), "missing key 'gt'"),
        (json.dumps(dict(sample(1, ["a"]), responses="a")), "key 'responses' must be a list"),
        (json.dumps(dict(sample(1, ["a", "b"]), responses=["a", 7])), "key 'responses'[1] must be str"),
        (json.dumps(dict(sample(1, ["a"]), gt=["5"])), "key 'gt' must be a string or a number"),
    ],
)
def test_bad_input_exits_2_naming_file_line_and_key(tmp_path, bad_line, message):
    samples = tmp_path / "samples.jsonl"
    samples.write_text(f"{GOOD}\n{GOOD}\n{bad_line}\n{GOOD}\n")
    out = subprocess.run([sys.executable, "annotate/label.py", "--dataset_name_or_path", str(samples),
                          "--output_dir", str(tmp_path / "labeled.jsonl")],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert f"{samples}:3: " in out.stderr and message in out.stderr
    assert "Traceback" not in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples.jsonl"]  # no output, no temp file, no stats


def test_scorer_profile_qwen_labels_as_the_originals_numeric_rules(tmp_path):
    # 3.1416 and 500 against gt 5 / 3.14159: the qwen profile's 1e-4 and 100x rules; -124 stays wrong in both.
    records = [sample(0, [r"\boxed{3.1416}", r"\boxed{-124}"], gt="3.14159"),
               sample(1, [r"\boxed{500}", r"\boxed{-124}", "so it is 0.05"], gt="5"),
               sample(2, [r"\boxed{-124}"], gt="-123")]
    ours, ours_stats = label(tmp_path, records)
    compat, compat_stats = label(tmp_path, records, scorer_profile="qwen")
    assert [r["rewards"] for r in ours] == [[-0.5, -0.5], [-0.5, -0.5, -1.0], [-0.5]]
    assert [r["rewards"] for r in compat] == [[1.0, -0.5], [1.0, -0.5, 1.0], [-0.5]]
    assert (ours_stats["scorer_profile"], compat_stats["scorer_profile"]) == ("default", "qwen")
    with pytest.raises(ConfigError, match="scorer_profile must be one of default, qwen"):
        LabelArgs(dataset_name_or_path="s.jsonl", output_file="l.jsonl", scorer_profile="qwen2")


# Errors allowed per source of ../shared/grader_dev, as a share of its cases: today's figure plus a small
# margin, so that a regression in any one source fails here. Today (annotate.grader, default profile):
# 0 errors in every source but grader_tests_policy, whose labels rest on conventions we do not all
# follow (16 of 75, 21%; README of grader_dev: "informative, not a bar"). A new source needs a gate.
GRADER_DEV_GATES = {
    "math500_gold": 0.002,  # 0 of 1000 today; 2 allowed
    "minerva_gold": 0.004,  # 0 of 544; 2 allowed
    "mathverify_tests": 0.007,  # 0 of 157; 1 allowed
    "hendrycks_math_tests": 0.0,  # 0 of 13
    "qwen25math_tests": 0.0,  # 0 of 9
    "verl_tests": 0.0,  # 0 of 4
    "adversarial": 0.0,  # 0 of 26: code, power towers, huge inputs are never correct
    "grader_tests_policy": 0.24,  # 16 of 75; 18 allowed
}


def test_grader_dev_corpus_gets_the_rewards_its_labels_imply(tmp_path, shared_dir):
    # The corpus's (response, gt, label) cases as samples records: up to 8 responses per gt.
    cases = [json.loads(line) for path in sorted((shared_dir / "grader_dev").glob("*.jsonl"))
             for line in path.read_text(encoding="utf-8").splitlines()]
    by_gt = {}
    for case in cases:
        by_gt.setdefault(case["gt"], []).append(case)
    sources = Counter(case["source"] for case in cases)  # source -> cases
    records, labels, sources_of = [], [], []
    for gt, group in by_gt.items():
        for start in range(0, len(group), 8):
            chunk = group[start:start + 8]
            records.append(sample(len(records), [c["response"] for c in chunk], gt=gt))
            labels.append([c["label"] for c in chunk])
            sources_of.append([c["source"] for c in chunk])
    labeled, _ = label(tmp_path, records, num_workers=2)
    rewards = {"correct": 1.0, "wrong": -0.5, "no_box": -1.0}
    mismatches = grader_errors = 0
    errors_by_source = dict.fromkeys(sources, 0)
    for record, truths, chunk_sources in zip(labeled, labels, sources_of, strict=True):
        for response, truth, source, correct, extracted, reward in zip(
            record["responses"], truths, chunk_sources, record["correct"], record["extracted"], record["rewards"],
            strict=True,
        ):
            answer, boxed = extract_answer(response)
            if truth:
                implied = {rewards["correct"]}
            elif len(response) < 10_000:
                implied = {rewards["wrong" if boxed else "no_box"]}
            else:  # the grader reads only the tail of a huge response, so where its box is is the grader's call
                implied = {rewards["wrong"], rewards["no_box"]}
            if len(response) < 10_000:
                # the grade of this very response, not a neighbour's (a question in parts: its last boxes)
                assert extracted == answer or boxed and extracted.endswith(", " + answer)
            grader_errors += correct != truth
            errors_by_source[source] += correct != truth
            if reward not in implied:
                mismatches += 1
                assert correct != truth, (response[-200:], record["gt"])  # only where the grader errs
    assert mismatches == grader_errors
    assert set(sources) <= set(GRADER_DEV_GATES), f"gate the new source(s) {set(sources) - set(GRADER_DEV_GATES)}"
    over = {s: f"{errors_by_source[s]} of {n}" for s, n in sources.items() if errors_by_source[s] > GRADER_DEV_GATES[s] * n}
    assert not over, f"grader errors over the gate: {over}"
