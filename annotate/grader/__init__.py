"""The one math grader, as a library: labeling, the PPO reward and evaluation import it; it imports no stage.

    grade(response, gt) -> Grade        the verdict, the answer read, the rules that read and decided it
    is_correct(response, gt) -> bool
    grade_many(pairs, num_workers=...)  a stream of Grades in input order, symbolic cases in workers
    extract(response) -> Extraction     the final answer and the extraction rule that read it
    RewardPolicy, RECIPE, REWARD_POLICIES   what a graded response earns (a frozen value object)
    Profile, PROFILES                   how answers are compared: "default" (ours) or "qwen" (the Qwen2.5-Math
                                        scorer's numeric rules); `profile=` of grade, is_correct, grade_many

Inside, by floor: vocabulary (the LaTeX and English words every reader uses), scan (the one bracket
scanner), guards (size limits); numbers, normalize, numeric (exact numbers, normalisation, a small LaTeX
evaluator); boxes, mathtext (math in prose), closing (the closing text's implicit rules) and statements
(answer phrases), walked by extract (a table of finders); equivalence (a list of named checks); symbolic
(sympy, only in workers) and pool (the workers); grading (grade, grade_many) and policy (rewards).

    python -c "from annotate.grader import grade; print(grade(r'so $\\boxed{\\dfrac{1}{2}}$', '0.5'))"
"""

from annotate.grader.boxes import last_boxed
from annotate.grader.equivalence import PROFILES, Profile
from annotate.grader.extract import IMPLICIT_RULES, RULES, Extraction, extract, extract_answer, extract_gt
from annotate.grader.grading import DEFAULT_TIMEOUT, Grade, grade, grade_many, is_correct
from annotate.grader.policy import RECIPE, REWARD_POLICIES, RewardPolicy, gt_string

__all__ = [
    "DEFAULT_TIMEOUT", "IMPLICIT_RULES", "PROFILES", "RECIPE", "REWARD_POLICIES", "RULES", "Extraction", "Grade",
    "Profile", "RewardPolicy",
    "extract", "extract_answer", "extract_gt", "grade", "grade_many", "gt_string", "is_correct", "last_boxed",
]
