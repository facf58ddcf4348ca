"""annotate/audit.py: every gt must grade correct as itself and incorrect as a near miss; bad sets stop."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from annotate.audit import AuditArgs, AuditFailed, audit, failed_indices, main, perturbations, renderings
from common.config import ConfigError
from common.records import write_jsonl

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "gt, expected",
    [
        ("42", [("last digit changed", "43"), ("sign flipped", "-42")]),
        ("-7", [("last digit changed", "-8"), ("sign flipped", "7")]),
        (r"\frac{1}{2}", [("last digit changed", r"\frac{1}{3}"), ("sign flipped", r"-\frac{1}{2}")]),
        ("19", [("last digit changed", "10"), ("sign flipped", "-19")]),
        # a unit's exponent is not the value: the perturbation changes 864, not the 2 of inches^2
        (r"864 \mbox{ inches}^2", [("last digit changed", "865"), ("sign flipped", "-864")]),
        # no sign flip for zero, tuples, sets or text; no digit change without a digit
        ("0", [("last digit changed", "1")]),
        ("(1, 2)", [("last digit changed", "(1, 3)")]),
        (r"\text{Evelyn}", []),
        (r"\sqrt{x}", [("sign flipped", r"-\sqrt{x}")]),
    ],
)
def test_perturbations(gt, expected):
    assert perturbations(gt) == expected


def test_renderings():
    assert renderings(r"$\frac{1}{2}$") == [r"$\boxed{\frac{1}{2}}$", r"The answer is \frac{1}{2}."]


def test_audit_passes_sound_gts_and_lists_the_others():
    gts = [(0, "42"), (1, r"\frac{\sqrt{3}}{2}"), (2, "(1, 2)"), (3, r"\text{Evelyn}"), (4, ""),
           # a gt the grader reads as any number (a percent sign alone) or that a near miss equals
           (5, "1,000,000"), (6, r"\{1, 2\}")]
    n, failed = audit(gts)
    assert n == 7
    by_idx = {f["idx"]: f for f in failed}
    assert 4 in by_idx and by_idx[4]["reasons"] == ["empty ground truth"]
    assert not {0, 1, 2, 3, 5, 6} & set(by_idx)


def test_audit_catches_a_gt_a_near_miss_passes(monkeypatch):
    # A grader that accepted anything within 10% would pass "43" for "42": the audit must notice.
    import annotate.audit as audit_module

    real = audit_module.grade_many

    def lenient(pairs, **kw):
        pairs = list(pairs)
        for (response, _gt), g in zip(pairs, real(pairs, **kw), strict=True):
            yield g if g.correct or "43" not in response else g.__class__(True, "43", True, "number", 0.0, False)

    monkeypatch.setattr(audit_module, "grade_many", lenient)
    _, failed = audit([(0, "42"), (1, "7")])
    assert [f["idx"] for f in failed] == [0]
    assert failed[0]["reasons"] == ["last digit changed ('43') graded correct"]


def prompts(tmp_path, gts):
    path = tmp_path / "prompts.jsonl"
    write_jsonl(path, [{"idx": i, "problem": f"p{i}", "gt": gt} for i, gt in enumerate(gts)])
    return str(path)


def test_main_writes_audit_and_stats_section(tmp_path):
    out = tmp_path / "iter_1" / "audit.json"
    result = main(AuditArgs(dataset_name_or_path=prompts(tmp_path, ["5", "", "12"]), output_file=str(out),
                            max_fail_share=0.5))
    saved = json.loads(out.read_text())
    assert saved == result and saved["prompts"] == 3 and [f["idx"] for f in saved["failed"]] == [1]
    assert json.loads((out.parent / "stats.json").read_text())["audit"] == saved
    assert failed_indices(str(out)) == {1}


def test_too_many_failures_stop_and_write_nothing(tmp_path):
    out = tmp_path / "audit.json"
    with pytest.raises(AuditFailed, match=r"1 of 2 .* idx: \[1\]"):
        main(AuditArgs(dataset_name_or_path=prompts(tmp_path, ["5", ""]), output_file=str(out), max_fail_share=0.25))
    assert not out.exists() and not (tmp_path / "stats.json").exists()


def test_cli_positional_prompts_and_exit_codes(tmp_path):
    good = prompts(tmp_path, ["5", "7"])
    ok = subprocess.run([sys.executable, "annotate/audit.py", good], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "0 of 2 ground truths failed" in ok.stderr
    bad = prompts(tmp_path, ["5", ""])
    stop = subprocess.run([sys.executable, "annotate/audit.py", bad, "--max_fail_share", "0.1"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert stop.returncode == 1 and "idx: [1]" in stop.stderr
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"idx": 0, "problem": "p"}\n')
    err = subprocess.run([sys.executable, "annotate/audit.py", str(broken)], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert err.returncode == 2 and f"{broken}:1:" in err.stderr and "Traceback" not in err.stderr


def test_bad_args():
    with pytest.raises(ConfigError, match="max_fail_share"):
        AuditArgs(dataset_name_or_path="p.jsonl", max_fail_share=1.5)


def test_failed_indices_names_a_bad_file(tmp_path):
    path = tmp_path / "audit.json"
    path.write_text("[]")
    with pytest.raises(ValueError, match=f"{path}:1"):
        failed_indices(str(path))


def test_report_states_the_audit(tmp_path):
    from pipeline.report import write_report

    (tmp_path / "iter_0").mkdir()
    folder = tmp_path / "iter_1"
    folder.mkdir()
    (folder / "stats.json").write_text(json.dumps({"audit": {"prompts": 12, "failed": [{"idx": 3, "gt": "", "reasons": []}],
                                                              "fail_share": 1 / 12, "max_fail_share": 0.1}}))
    summary = write_report(tmp_path, initial_model="m")
    assert summary["iterations"][1]["audit"] == {"prompts": 12, "failed": [3]}
    assert "iteration 1: 1 of 12 failed (idx [3])" in (tmp_path / "report.md").read_text()
