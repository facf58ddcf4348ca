"""Benchmark annotate.grader against math-verify on a labelled corpus, side by side in one run.

Reads every *.jsonl of ../shared/grader_dev/ (or the files given), one {"id", "source", "response",
"gt", "label"} object per line, and grades each case one at a time with both graders (each under a
per-case limit: ours kills its symbolic worker, math-verify uses its own signal-based timeouts). Prints
accuracy per source, false positives/negatives, timeouts, cases/s and p50/p99/max latency with the
speed-up on reference solutions (math500_gold + minerva_gold) and on model-style closings (by wall time,
and by the calling thread's CPU time, which a loaded machine's other processes do not inflate), the verdicts
per extraction rule of both graders side by side (right / FP / FN on the same cases), ours per deciding
equivalence check, and the batch API's throughput with 1 and 2 workers.
Also graded: tests/data/*.jsonl (hand-written outputs in various model styles) and the math500_gold cases
restyled at run time into eight closing styles (boxed, Llama's "final answer is:", markdown "**Answer:**",
bold, Minerva, GSM8K ####, PRM800K # Answer, none). math-verify is a benchmark-only dependency.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/grader_bench.py
    .venv/bin/python bench/grader_bench.py ../shared/grader_dev/math500_gold.jsonl --limit 5 --show-errors
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from annotate.grader import RULES, grade, grade_many  # noqa: E402
from annotate.grader.boxes import last_boxed_span  # noqa: E402

DEFAULT_CORPUS = REPO.parent / "shared" / "grader_dev"
# Hand-written model outputs in various styles (ours): always added to the default corpus.
OWN_CORPUS = REPO / "tests" / "data"
REAL_SOURCES = ("math500_gold", "minerva_gold")
# Answers closed the way models close them: the restyled cases and our hand-written model outputs.
STYLED_SOURCES = ("styled_", "grader_styles")
CANARY = Path("/tmp/pwned_grader")


def load(paths: list[Path]) -> list[dict]:
    cases = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if line.strip():
                    try:
                        case = json.loads(line)
                        cases.append({k: case[k] for k in ("id", "source", "response", "gt", "label")})
                    except (json.JSONDecodeError, KeyError) as e:
                        sys.exit(f"{path}:{lineno}: expected a JSON object with id/source/response/gt/label: {e}")
    return cases


# How a restyled case states its answer X (the solution's own box removed): the closing forms of
# Qwen-math, Llama, GPT-like markdown, Minerva, GSM8K and PRM800K outputs, and none at all.
STYLES = (
    ("qwen_boxed", "{body}\n\nTherefore, the final answer is $\\boxed{{{x}}}$."),
    ("llama_final", "{body}\n\nThe final answer is: ${x}$"),
    ("markdown_bold", "{body}\n\n**Answer:** ${x}$"),
    ("answer_is_bold", "{body}\n\nSo the answer is **${x}$**."),
    ("minerva", "{body}\n\nFinal Answer: The final answer is ${x}$. I hope it is correct."),
    ("gsm8k_hash", "{body}\n#### {x}"),
    ("prm800k", "{body}\n\n# Answer\n\n{x}"),
    ("unmarked", "{body}"),
)


def restyle(cases: list[dict]) -> list[dict]:
    """math500_gold cases with the solution's box removed and the answer stated in each style in turn.

    The answer text is the box's content, so each label stays what it was. Built at run time from the
    shared corpus (nothing of it is copied into the repo); "unmarked" keeps the unboxed solution only.
    """
    out = []
    for case in (c for c in cases if c["source"] == "math500_gold"):
        found = last_boxed_span(case["response"])
        if found is None:
            continue
        answer, end = found
        start = case["response"].rfind("\\boxed", 0, end)
        body = case["response"][:start] + answer + case["response"][end:]
        # One style per problem, so its positive and negative case are stated alike.
        style, template = STYLES[zlib.crc32(case["id"].rsplit(":", 1)[0].encode()) % len(STYLES)]
        out.append({"id": f"{case['id']}:{style}", "source": f"styled_{style}", "response": template.format(body=body, x=answer),
                    "gt": case["gt"], "label": case["label"]})
    return out


def run_ours(case: dict, limit: float) -> tuple[bool, float, bool, str, str, float]:
    start, cpu = time.perf_counter(), time.thread_time()
    g = grade(case["response"], case["gt"], timeout=limit)
    return g.correct, time.perf_counter() - start, g.timed_out, g.rule, g.extraction, time.thread_time() - cpu


def run_math_verify(case: dict, limit: float) -> tuple[bool, float, bool, str, str, float]:
    from math_verify import parse, verify
    from math_verify.errors import TimeoutException

    gt = case["gt"] if "\\boxed" in case["gt"] or "$" in case["gt"] else f"${case['gt']}$"
    start, cpu = time.perf_counter(), time.thread_time()
    timed_out = False
    try:
        gold = parse(gt, parsing_timeout=int(limit))
        pred = parse(case["response"], parsing_timeout=int(limit))
        correct = bool(verify(gold, pred, timeout_seconds=int(limit)))
    except TimeoutException:
        correct, timed_out = False, True
    except Exception:  # noqa: BLE001 - any math-verify failure counts as an incorrect verdict
        correct = False
    return correct, time.perf_counter() - start, timed_out, "", "", time.thread_time() - cpu


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", type=Path, help="corpus files (default: every *.jsonl of ../shared/grader_dev)")
    ap.add_argument("--limit", type=float, default=5.0, help="per-case wall-clock limit in seconds, both graders")
    ap.add_argument("--show-errors", action="store_true", help="print every case our grader gets wrong")
    ap.add_argument("--skip-math-verify", action="store_true", help="run only our grader")
    ap.add_argument("--no-restyle", action="store_true", help="leave out the restyled math500_gold cases")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    # math-verify logs every timeout with the whole (up to 1 MiB) input.
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    files = args.files or sorted(DEFAULT_CORPUS.glob("*.jsonl")) + sorted(OWN_CORPUS.glob("*.jsonl"))
    if not files:
        sys.exit(f"no corpus files under {DEFAULT_CORPUS}")
    cases = load(files)
    if not args.no_restyle:
        cases += restyle(cases)
    CANARY.unlink(missing_ok=True)

    graders = {"ours": run_ours} if args.skip_math_verify else {"ours": run_ours, "math-verify": run_math_verify}
    # Warm both up (imports, our helper process) so the first case's latency is not a start-up cost.
    for fn in graders.values():
        fn({"response": r"$\boxed{\frac{\sqrt{2}}{2}}$", "gt": r"\frac{1}{\sqrt2}"}, args.limit)
    results: dict[str, list[tuple[bool, float, bool, str, str, float]]] = {name: [] for name in graders}
    for case in cases:
        for name, fn in graders.items():
            results[name].append(fn(case, args.limit))
    canary_hit = CANARY.exists()

    sources = sorted({c["source"] for c in cases})
    print(f"corpus: {len(cases)} cases from {len(files)} files; per-case limit {args.limit:g} s; one case at a time")
    header = f"{'source':<22}{'n':>6}" + "".join(f"{name + ' acc':>17}{'FP':>5}{'FN':>5}{'TO':>4}" for name in graders)
    print(header)
    for source in sources + ["ALL"]:
        idx = [i for i, c in enumerate(cases) if source in ("ALL", c["source"])]
        row = f"{source:<22}{len(idx):>6}"
        for name in graders:
            verdicts = [(results[name][i][0], cases[i]["label"], results[name][i][2]) for i in idx]
            right = sum(v == lab for v, lab, _ in verdicts)
            fp = sum(v and not lab for v, lab, _ in verdicts)
            fn = sum(lab and not v for v, lab, _ in verdicts)
            to = sum(t for _, _, t in verdicts)
            row += f"{right / len(idx):>17.3f}{fp:>5}{fn:>5}{to:>4}"
        print(row)

    print("\nlatency, one case at a time (ms)")
    subsets = (("all", lambda c: True),
               ("reference solutions (" + "+".join(REAL_SOURCES) + ")", lambda c: c["source"] in REAL_SOURCES),
               ("model-style closings (styled_*, tests/data)", lambda c: c["source"].startswith(STYLED_SOURCES)))
    for subset, pick in subsets:
        idx = [i for i, c in enumerate(cases) if pick(c)]
        if not idx:
            continue
        rates = {}
        for name in graders:
            lat = [results[name][i][1] for i in idx]
            rates[name] = len(idx) / sum(lat)
            print(
                f"  {subset:<46} {name:<12} {rates[name]:>9.0f} cases/s  p50 {1e3 * statistics.median(lat):8.3f}"
                f"  p99 {1e3 * percentile(lat, 0.99):8.3f}  max {1e3 * max(lat):9.1f}"
            )
        if "math-verify" in rates:
            print(f"  {subset:<46} speed-up ours / math-verify: {rates['ours'] / rates['math-verify']:.1f}x")
            # CPU time of the calling thread: time the machine's other processes take while a case runs is
            # left out (on a loaded machine one such wait, milliseconds long, weighs on a 0.1 ms case);
            # so is the CPU of our sympy worker, for the cases that go to it.
            cpu = {name: sum(results[name][i][5] for i in idx) for name in graders}
            to_worker = sum(results["ours"][i][3] in ("symbolic", "timeout") for i in idx)
            print(f"  {subset:<46} CPU time ours / math-verify: {cpu['math-verify'] / max(cpu['ours'], 1e-9):.1f}x "
                  f"({1e6 * cpu['ours'] / len(idx):.0f} against {1e6 * cpu['math-verify'] / len(idx):.0f} us per case; "
                  f"{to_worker} cases' sympy work in our worker not counted)")

    adversarial = [i for i, c in enumerate(cases) if c["source"].startswith("adversarial")]
    if adversarial:
        slowest = max(results["ours"][i][1] for i in adversarial)
        wrong = sum(results["ours"][i][0] for i in adversarial)
        print(f"\nadversarial: {len(adversarial)} cases, ours graded {wrong} True, slowest {slowest:.3f} s")
    print(f"canary {CANARY} created: {canary_hit}")

    def tally(idx: list[int], name: str) -> str:
        right = sum(results[name][i][0] == cases[i]["label"] for i in idx)
        fp = sum(results[name][i][0] and not cases[i]["label"] for i in idx)
        fn = sum(cases[i]["label"] and not results[name][i][0] for i in idx)
        return f"{right:>7}{fp:>5}{fn:>5}"

    print("\nverdicts per extraction rule (ours), both graders on the same cases: right / FP / FN")
    print(f"  {'rule':<16}{'n':>6}" + "".join(f"{name:>17}" for name in graders))
    for rule in (*RULES, "none"):
        idx = [i for i, r in enumerate(results["ours"]) if r[4] == rule]
        if idx:
            print(f"  {rule:<16}{len(idx):>6}" + "".join(tally(idx, name) for name in graders))
    print("\nverdicts per deciding check (ours): n, right / FP / FN")
    decided = [r[3] for r in results["ours"]]
    for rule in sorted(set(decided), key=decided.count, reverse=True):
        idx = [i for i, r in enumerate(decided) if r == rule]
        print(f"  {rule:<16}{len(idx):>6}{tally(idx, 'ours')}")
    # The fast path runs in the calling process; workers take the cases that need sympy, so the
    # second set (only such cases, 4 times over) is where workers add throughput.
    symbolic = [(c["response"], c["gt"]) for c, r in zip(cases, decided, strict=True) if r == "symbolic"] * 4
    for name, pairs in (("whole corpus", [(c["response"], c["gt"]) for c in cases]), ("symbolic-path cases", symbolic)):
        if not pairs:
            continue
        print(f"batch API (grade_many), {name} ({len(pairs)} pairs), including worker start:")
        for workers in (1, 2):
            start = time.perf_counter()
            n = sum(1 for _ in grade_many(pairs, num_workers=workers, timeout=args.limit))
            elapsed = time.perf_counter() - start
            print(f"  num_workers={workers}: {n / elapsed:9.0f} cases/s ({elapsed:.2f} s, {os.cpu_count()} cpus)")

    if args.show_errors:
        print("\nour errors:")
        for case, (verdict, _, timed_out, _, _, _) in zip(cases, results["ours"], strict=True):
            if verdict != case["label"]:
                g = grade(case["response"], case["gt"], timeout=args.limit)
                print(
                    f"  {case['id']} label={case['label']} rule={g.rule} extraction={g.extraction} timed_out={timed_out} "
                    f"extracted={(g.extracted or '')[:100]!r} gt={case['gt'][:100]!r}"
                )


if __name__ == "__main__":
    main()
