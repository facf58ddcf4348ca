"""Reward policies: what a graded response earns, as a small frozen value that any caller passes.

`RewardPolicy(name, correct, wrong, no_box)` holds a policy's name and its three reward values; its
`reward(grade, response)` is the reward of one graded response. The policies (REWARD_POLICIES):

    recipe       the original Online-DPO-R1 labeler: a correct final answer, read by any of the
                 grader's extraction rules (the reward IS the evaluation) -> correct; else wrong if
                 "\\boxed" occurs anywhere in the response; else no_box
    strict_box   the format enforced: correct only for a correct answer inside a closed \\boxed{};
                 else wrong if the response has a closed \\boxed{}; else no_box

`RECIPE` is the recipe's policy with its values (1.0, -0.5, -1.0). `gt_string` turns a stored ground
truth (a string, or a number such as amc23's 27.0) into the grader's string.

    python -c "from annotate.grader import RECIPE, grade; print(RECIPE.reward(grade('so 7', '7'), 'so 7'))"
"""

from __future__ import annotations

from dataclasses import dataclass

from annotate.grader.grading import Grade

REWARD_POLICIES = ("recipe", "strict_box")
# The original labeler's format test: the string anywhere in the response, closed or not.
_BOX_MARK = "\\boxed"


@dataclass(frozen=True)
class RewardPolicy:
    name: str  # one of REWARD_POLICIES
    correct: float  # a correct final answer
    wrong: float  # a wrong answer given in a \boxed{}
    no_box: float  # a wrong answer with no \boxed{}

    def __post_init__(self):
        if self.name not in REWARD_POLICIES:
            raise ValueError(f"reward_policy must be one of {REWARD_POLICIES}, got {self.name!r}")
        if self.correct <= max(self.wrong, self.no_box):
            raise ValueError(
                f"reward_correct ({self.correct}) must be above reward_wrong ({self.wrong}) and reward_no_box "
                f"({self.no_box}), or no pair would prefer a correct answer"
            )

    def credited(self, g: Grade) -> bool:
        """Whether the policy pays `correct`: the grader's verdict (truncation already applied), and for
        strict_box an answer read from a closed box."""
        return g.correct and (self.name != "strict_box" or g.extraction == "boxed")

    def reward(self, g: Grade, response: str) -> float:
        if self.credited(g):
            return self.correct
        boxed = _BOX_MARK in response if self.name == "recipe" else g.boxed
        return self.wrong if boxed else self.no_box


RECIPE = RewardPolicy("recipe", correct=1.0, wrong=-0.5, no_box=-1.0)


def gt_string(gt: object) -> str:
    """The ground truth as the grader's string: numbers (amc23 stores 27.0) are written out."""
    if isinstance(gt, str):
        return gt
    if isinstance(gt, (int, float)) and not isinstance(gt, bool):
        return str(gt)
    raise TypeError(f"a ground truth must be a string or a number, got {type(gt).__name__}")
