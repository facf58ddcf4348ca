"""A synthetic math task that a tiny model can learn partly by SFT and improve on under the loop.

Problems are short chains of integer arithmetic ("Compute 17 + 25 - 8."); worked solutions do one
operation per step and end in ``\\boxed{...}``, so the answer is checked by the same grader as real math.
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

    def __post_init__(self):
        if not 2 <= self.min_operands <= self.max_operands:
            raise ValueError(f"need 2 <= min_operands <= max_operands, got {self.min_operands}, {self.max_operands}")
        if self.max_value < 2 or self.max_factor < 2:
            raise ValueError("max_value and max_factor must be at least 2")


def _draw(rng: random.Random, spec: TaskSpec) -> tuple[str, list[str], int]:
    """One problem: its statement, its solution steps, its answer. Left-to-right evaluation."""
    value = rng.randint(1, spec.max_value)
    terms, steps = [str(value)], []
    for _ in range(rng.randint(spec.min_operands, spec.max_operands) - 1):
        op = rng.choice(OPERATORS)
        if op == "*":
            operand = rng.randint(2, spec.max_factor)
            if abs(value) > spec.max_value:  # keep products small enough to be learnable
                op = "-"
                operand = rng.randint(1, spec.max_value)
        else:
            operand = rng.randint(1, spec.max_value)
        new = value + operand if op == "+" else value - operand if op == "-" else value * operand
        steps.append(f"{value} {op} {operand} = {new}.")
        terms += [op, str(operand)]
        value = new
    return f"Compute {' '.join(terms)}.", steps, value


def solution_text(steps: list[str], answer: int) -> str:
    return " ".join(steps) + f" The answer is \\boxed{{{answer}}}."


def make_splits(seed: int, sizes: dict[str, int], spec: TaskSpec = TaskSpec()) -> dict[str, list[dict]]:
    """Disjoint splits of distinct problems, e.g. ``{"test": 200, "sft": 2000, "iter_1": 512}``.

    Records are ``{"idx", "problem", "gt", "solution"}``; splits are filled in the order given, so the
    test set (list it first) does not change when the other splits grow.
    """
    rng = random.Random(seed)
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
            records.append(
                {"idx": f"arith-{name}-{len(records):05d}", "problem": problem, "gt": str(answer),
                 "solution": solution_text(steps, answer)}
            )
        splits[name] = records
    return splits
