"""A synthetic math task that a tiny model can learn partly by SFT and improve on under the loop.

Problems are short chains of integer arithmetic ("Compute 17 + 25 - 8."), and worked solutions come in two
styles, both ending in ``\\boxed{...}`` so the answer is checked by the same grader as real math:

    step by step  ``17 + 25 = 42. 42 - 8 = 34. The answer is \\boxed{34}.``  (one operation per step)
    one line      ``17 + 25 - 8 = \\boxed{34}.``                           (the chain's value at once)

``one_line_share`` of the SFT solutions are one-line. A tiny model gets the one-line style wrong far more
often than the step-by-step one on longer chains, so a warm-up on a majority of one-line solutions
decodes greedily in the worse style, and only a reward can tell it which style pays: the demo's
reinforcement signal (bench/demo_arms.py measures it against SFT alone and against reward-blind pairs).
Everything is a pure function of the seed: the same seed gives the same problems, in the same order.
Splits never share a problem: the held-out test set is drawn first and excluded from every other split.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

OPERATORS = ("+", "-", "*")


@dataclass(frozen=True)
class TaskSpec:
    """Difficulty of the task. Defaults suit the demo's tiny model (see configs/demo.yaml)."""

    min_operands: int = 2
    max_operands: int = 3
    max_value: int = 30  # operands of + and - are drawn from 1..max_value
    max_factor: int = 9  # the right operand of * stays a single digit, the left one small
    operators: str = "+-*"  # the operators a problem draws from
    one_line_share: float = 0.0  # share of SFT solutions written in one line (the rest step by step)

    def __post_init__(self):
        if not 2 <= self.min_operands <= self.max_operands:
            raise ValueError(f"need 2 <= min_operands <= max_operands, got {self.min_operands}, {self.max_operands}")
        if self.max_value < 2 or self.max_factor < 2:
            raise ValueError("max_value and max_factor must be at least 2")
        if not self.operators or set(self.operators) - set(OPERATORS) or len(set(self.operators)) != len(self.operators):
            raise ValueError(f"operators must be distinct characters of {''.join(OPERATORS)!r}, got {self.operators!r}")
        if not 0.0 <= self.one_line_share <= 1.0:
            raise ValueError(f"one_line_share must be in [0, 1], got {self.one_line_share}")


def _draw(rng: random.Random, spec: TaskSpec) -> tuple[str, list[str], int]:
    """One problem: its statement, its solution steps, its answer.

    The steps go left to right, and the statement says so: a product of a sum or difference puts it in
    parentheses (``(4 + 3) * 2 - 5``), so the usual precedence gives the same answer.
    """
    value = rng.randint(1, spec.max_value)
    chain, additive, steps = str(value), False, []
    for _ in range(rng.randint(spec.min_operands, spec.max_operands) - 1):
        op = rng.choice(spec.operators)
        if op == "*":
            operand = rng.randint(2, spec.max_factor)
            if abs(value) > spec.max_value:  # keep products small enough to be learnable
                op = "-"
                operand = rng.randint(1, spec.max_value)
        else:
            operand = rng.randint(1, spec.max_value)
        new = value + operand if op == "+" else value - operand if op == "-" else value * operand
        steps.append(f"{value} {op} {operand} = {new}.")
        if op == "*" and additive:
            chain = f"({chain})"
        chain, additive = f"{chain} {op} {operand}", op != "*"
        value = new
    return f"Compute {chain}.", steps, value


def solution_text(steps: list[str], answer: int) -> str:
    return " ".join(steps) + f" The answer is \\boxed{{{answer}}}."


def one_line_text(problem: str, answer: int) -> str:
    """The chain as the problem states it, then its value at once: ``17 + 25 - 8 = \\boxed{34}.``"""
    return f"{problem.removeprefix('Compute ').removesuffix('.')} = \\boxed{{{answer}}}."


def make_splits(seed: int, sizes: dict[str, int], spec: TaskSpec = TaskSpec()) -> dict[str, list[dict]]:
    """Disjoint splits of distinct problems, e.g. ``{"test": 200, "sft": 2000, "iter_1": 512}``.

    Records are ``{"idx", "problem", "gt", "solution"}``; splits are filled in the order given, so the
    test set (list it first) does not change when the other splits grow.
    """
    rng = random.Random(seed)
    # The styles have their own generator, so the problems do not change with one_line_share.
    style_rng = random.Random(f"{seed}:style")
    seen: set[str] = set()
    splits: dict[str, list[dict]] = {}
    budget = 50 * sum(sizes.values()) + 1000
    for name, size in sizes.items():
        records = []
        while len(records) < size:
            budget -= 1
            if budget < 0:
                raise ValueError(f"the task space is too small for {sizes}; raise max_value or max_operands")
            problem, steps, answer = _draw(rng, spec)
            if problem in seen:
                continue
            seen.add(problem)
            one_line = style_rng.random() < spec.one_line_share
            records.append(
                {"idx": f"arith-{name}-{len(records):05d}", "problem": problem, "gt": str(answer),
                 "solution": one_line_text(problem, answer) if one_line else solution_text(steps, answer),
                 "style": "one_line" if one_line else "steps"}
            )
        splits[name] = records
    return splits
