"""The grader as a table of (gt, response, expected) by kind, plus extraction, safety, bounds and batch tests."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from annotate.grader import (
    PROFILES,
    Extraction,
    Grade,
    extract,
    extract_answer,
    extract_gt,
    grade,
    grade_many,
    guards,
    is_correct,
    pool,
)

CANARY = Path("/tmp/pwned_grader")
STYLES = Path(__file__).resolve().parent / "data" / "grader_styles.jsonl"


def boxed(answer: str) -> str:
    return f"Let me think step by step.\n\nThe final answer is $\\boxed{{{answer}}}$."


CASES = [
    # integers, signs, leading zeros, thousands separators
    ("10000", boxed("10000"), True),
    ("10000", boxed("9999"), False),
    ("10000", boxed("10,000"), True),
    ("10000", boxed("10{,}000"), True),
    ("10000", boxed(r"10\,000"), True),
    ("32349", boxed("32, 349"), False),
    ("033", boxed("33"), True),
    ("-0", boxed("0"), True),
    ("5", boxed("-5"), False),
    # decimals, rounding, scientific notation
    ("1.6", boxed("1.60"), True),
    ("1.6", boxed("1.63"), False),
    (r"\frac{1}{12}", boxed("0.0833333333333333"), True),
    (r"\frac{1}{3}", boxed("0.33"), False),
    ("4.5e33", boxed(r"4.5 \times 10^{33}"), True),
    ("2.26e-10", boxed(r"2.26 \cdot 10^{-10}"), True),
    ("4.5e33", boxed("4.6e33"), False),
    # fractions: \dfrac, \tfrac, \frac12, a/b, mixed numbers, negative placement
    ("0.5", boxed(r"\dfrac{1}{2}"), True),
    (r"\frac{1}{2}", boxed(r"\tfrac12"), True),
    (r"\frac{3}{4}", boxed("3/4"), True),
    (r"2\frac{1}{2}", boxed(r"\frac{5}{2}"), True),
    (r"-\frac{1}{2}", boxed(r"\frac{-1}{2}"), True),
    (r"\frac{1}{2}", boxed(r"\frac{1}{3}"), False),
    # percents, dollars, units, degrees, \text
    ("20", boxed(r"20\%"), True),
    (r"20\%", boxed("20"), True),
    ("18.90", boxed(r"\$18.90"), True),
    ("12", boxed(r"12 \text{ cm}"), True),
    ("12", boxed(r"12\text{ inches}^2"), True),
    ("90", boxed(r"90^\circ"), True),
    (r"30^\circ", boxed("30"), True),
    (r"\text{Devon}", boxed(r"\text{Devon}"), True),
    (r"\text{Devon}", boxed(r"\text{Evelyn}"), False),
    ("5", boxed(r"5 \text{ and } 5"), False),
    # closed forms: radicals, pi, logs (numeric evaluation or sympy)
    (r"\frac{\sqrt{3}}{2}", boxed(r"\frac{\sqrt3}{2}"), True),
    (r"\frac{\sqrt{2}}{2}", boxed(r"\frac{1}{\sqrt{2}}"), True),
    (r"2\sqrt{6}", boxed(r"\sqrt{24}"), True),
    (r"\sqrt{2}+\sqrt{3}", boxed(r"\sqrt{5+2\sqrt{6}}"), True),
    (r"\frac{\sqrt{3}}{2}", boxed(r"\frac{\sqrt{2}}{2}"), False),
    (r"4\pi", boxed(r"4 \pi"), True),
    (r"\pi", boxed("3.14"), False),
    (r"\ln 2 + i\pi / 3", boxed("2.19e6"), False),
    ("3+4i", boxed("4i+3"), True),
    # expressions in variables
    (r"\frac{x+2}{7}", boxed(r"\frac{x}{7}+\frac{2}{7}"), True),
    ("x^2+2x+1", boxed("(x+1)^2"), True),
    ("x^2+2x+1", boxed("(x+1)^3"), False),
    ("3", boxed("3R^2"), False),
    ("10", boxed(r"I(0) e^{-\frac{t}{R C}}"), False),
    # equations and relations
    ("10", boxed("x = 10"), True),
    ("x = 10", boxed("10"), True),
    ("k=1", boxed("1"), True),
    ("2x+4y-3=0", boxed(r"y=-\frac{1}{2}x+\frac{3}{4}"), True),
    (r"x \leq 5", boxed(r"5 \geq x"), True),
    ("x < 1", boxed("-x > -1"), True),
    ("x < 1", boxed("x > 1"), False),
    ("x^2+y^2=1", boxed("0"), False),
    # tuples, intervals, sets, lists, \pm, unions
    (r"\left( 3, \frac{\pi}{2} \right)", boxed(r"\left(3,\frac{\pi}{2}\right)"), True),
    ("(1,2)", boxed("(2,1)"), False),
    (r"(1,\frac{9}{2})", boxed("(1,4.5)"), True),
    (r"(-\infty, 3]", boxed(r"(-\infty,3]"), True),
    ("(1,3]", boxed("[1,3]"), False),
    ("(1,3)", boxed("3"), False),
    ("1,-2", boxed("-2, 1"), True),
    ("1,-2", boxed("1"), False),
    (r"\{1,2,3\}", boxed(r"\{3,2,1\}"), True),
    (r"\pm 2021", boxed("-2021, 2021"), True),
    (r"2 \pm \sqrt{3}", boxed(r"2+\sqrt{3}, 2-\sqrt{3}"), True),
    (r"(-\infty,1)\cup(2,\infty)", boxed(r"(2,\infty)\cup(-\infty,1)"), True),
    ("[-2, 7]", boxed(r"x \in [-2,7]"), True),
    ("(5, 8), (8, 5)", boxed("(8,5), (5,8)"), True),
    # matrices
    (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", boxed(r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}"), True),
    (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", boxed(r"\begin{bmatrix}1&2\\3&5\end{bmatrix}"), False),
    (r"\begin{pmatrix}\frac{1}{2}\\0\end{pmatrix}", boxed(r"\begin{pmatrix}0.5\\0\end{pmatrix}"), True),
    # multiple choice
    ("B", boxed(r"\text{(B)}"), True),
    ("(B)", boxed("B"), True),
    ("B", boxed("C"), False),
    # clock times and ratios are not fractions; numerals in another base compare by digits
    ("12:00", boxed("1:00"), False),
    ("52_8", boxed("52_{8}"), True),
    ("52_8", boxed("52"), True),
    ("52_8", boxed("42"), False),
    # different unknowns are different answers
    (r"\frac{\pi}{2}", boxed(r"\frac{s+\sigma}{(s+\sigma)^{2}+\omega_{d}^{2}}"), False),
    ("1.70e4", boxed(r"-2+2 \sqrt{3} i"), False),
    # settled without sympy (FAST_CASES checks the rule): Greek, subscripted and accented unknowns, powers
    # of functions, brackets, u(t) read both as a product and as a function, division by a literal zero,
    # infinities, a relation against an expression, "x \in" on the gt
    *(FAST_CASES := [
        (r"\frac{\omega_{d}}{(s+\sigma)^{2}+\omega_{d}^{2}}", boxed(r"\frac{\omega_d}{\omega_d^2+(s+\sigma)^2}"), True),
        (r"\frac{\omega_{d}}{(s+\sigma)^{2}+\omega_{d}^{2}}", boxed(r"\frac{\omega_{d}}{(s+\sigma)^{9}+\omega_{d}^{2}}"), False),
        (r"x_{0} \cos (\omega t)+\dot{x}_{0} \sin (\omega t) / \omega",
         boxed(r"\dot{x}_0 \sin(\omega t)/\omega + x_0 \cos(\omega t)"), True),
        (r"x_{0} \cos (\omega t)+\dot{x}_{0} \sin (\omega t) / \omega",
         boxed(r"x_{0} \cos (\omega t)+\dot{x}_{3} \sin (\omega t) / \omega"), False),
        (r"m c^{2} \sin^{2} \theta", boxed(r"m c^2 (\sin\theta)^2"), True),
        (r"m c^{2} \sin^{2} \theta", boxed(r"m c^{2} \sin^{6} \theta"), False),
        (r"[P_{0}^{2/5} - g z]^{5/2}", boxed(r"(P_0^{2/5} - g z)^{5/2}"), True),
        (r"[P_{0}^{2/5} - g z]^{5/2}", boxed(r"[P_{0}^{2/5} - g z]^{5/4}"), False),
        (r"(1 - 3e^{-2t} + 2e^{-5t}) u(t)", boxed(r"u(t) (1 - 3e^{-2t} + 2e^{-5t})"), True),
        (r"(1 - 3e^{-2t} + 2e^{-5t}) u(t)", boxed(r"(1 - 3e^{-2t} + 5e^{-5t}) u(t)"), False),
        (r"\frac{\pi}{2}", boxed(r"\pi / 2"), True),
        (r"\frac{17}{50}", boxed(r"\frac{17}{0}"), False),
        (r"e^{t} / 3", boxed(r"e^{t} / 0"), False),
        (r"\infty", boxed(r"+\infty"), True),
        (r"(-\infty, 2) \cup (3, \infty)", boxed(r"(-\infty, 2) \cup (4, \infty)"), False),
        (r"x \leq 5", boxed(r"x \leq 5"), True),
        (r"x^8+x^7+x+1", boxed(r"-x \geq -1"), False),
        (r"x \in [-2,7]", boxed("[-2,7]"), True),
        (r"x \in [-2,7]", boxed(r"x \in [-2,8]"), False),
    ]),
    # x(x+1): a product or x applied to x+1; the two readings disagree, so sympy decides
    ("x^2+x", boxed("x(x+1)"), True),
    # ground truths carry delimiters or a box of their own
    (r"$\boxed{5}$", boxed("5"), True),
    (r"\(\frac{1}{2}\)", boxed("0.5"), True),
    # extraction: last box wins, nested and brace-less boxes, fbox, unboxed fallback, none
    ("5", r"First $\boxed{3}$, then correcting: $\boxed{5}$.", True),
    ("5", r"So $\boxed{\boxed{5}}$", True),
    ("5", r"So the answer is \boxed 5.", True),
    ("5", r"So $\fbox{5}$", True),
    ("5", "Therefore, the final answer is $5$.", True),
    ("10455", r"so $\boxed{255}$ ... Final Answer: The final answer is $10,455$. I hope it is correct.", True),
    ("5", "I think it is five", False),
    ("", boxed(""), False),
    # a literal dollar sign inside the unboxed answer's $...$ is not its closing delimiter
    (r"\$36", r"Final Answer: The final answer is $\$36$. I hope it is correct.", True),
    ("36", r"The answer is $\$36$.", True),
    ("36", r"The answer is $\$37$.", False),
    # a bare letter after a number is an unknown (6m in terms of m), not a unit to drop; \text{} units go
    ("6m", boxed("6"), False),
    ("6m", boxed("6m"), True),
    ("6m", boxed("x = 6m"), True),
    ("6m", boxed("6n"), False),
    (r"\frac{37}{4} m", boxed(r"\frac{37}{4}"), False),
    (r"\frac{37}{4} m", boxed(r"\frac{37}{4}m"), True),
    ("5", boxed(r"5 \mathrm{~m}"), True),
    ("5", boxed(r"5\text{ cm}^2"), True),
    # dx/dt is not the derivative of a constant: the sign of an equation's derivative term matters
    (r"\frac{d x}{d t}=k x-a", boxed(r"-\frac{d x}{d t}=k x-a"), False),
    (r"\frac{d x}{d t}=k x-a", boxed(r"\frac{dx}{dt}-kx+a=0"), True),
    (r"x^{\prime}+\frac{r}{V} x-r c=0", boxed(r"x^{\prime}+\frac{r}{V} x=-rc"), False),
    # a gt tuple is ordered, also against a list of named values (Greek names included)
    ("(1,2)", boxed("x=1, y=2"), True),
    ("(1,2)", boxed("x=2, y=1"), False),
    ("(1,2)", boxed("2, 1"), False),
    (r"\left( 3, \frac{\pi}{2} \right)", boxed(r"r=3, \theta=\frac{\pi}{2}"), True),
    (r"\left( 3, \frac{\pi}{2} \right)", boxed(r"\frac{\pi}{2}, 3"), False),
    (r"\frac{\pi}{2}", boxed(r"\theta = \frac{\pi}{3}"), False),
    # text answers compare case-insensitively when written as text or capitalised; segments keep their case
    (r"\text{No}", boxed(r"\text{no}"), True),
    ("No", boxed("no"), True),
    (r"\text{Yes}", boxed(r"\text{no}"), False),
    ("AB", boxed("ab"), False),
    # times of day, however the a.m./p.m. is written
    ("4:30 p.m.", boxed(r"\text{4:30 p.m.}"), True),
    (r"4:30 \text{ p.m.}", boxed("4:30 PM"), True),
    (r"\text{4:30 p.m.}", "So they meet at 4:30 p.m.", True),
    ("4:30 p.m.", boxed("4:30 a.m."), False),
    ("4:30 p.m.", boxed("5:30 p.m."), False),
    # a choice letter in a font command is the letter; a primed letter is another point
    (r"\mathcal{B}", boxed("B"), True),
    ("B", boxed(r"\mathcal{B}"), True),
    ("B", boxed(r"\mathbf{C}"), False),
    ("E", boxed("E'"), False),
    ("E'", boxed("E"), False),
    ("E'", boxed("E'"), True),
    ("28\\%", boxed("28 percent"), True),
]

# Final answers as models state them: (gt, response, expected) for each extraction form, each with rows
# that must stay False (a wrong final answer after a correct intermediate number, two final statements,
# a restated question, a negated value, prose after the phrase).
FORMS = [
    # boxed: several boxes of one closing line joined by and/commas are one answer; an unclosed box at the end
    ("1, 2, 3", r"The roots are $\boxed{1}$, $\boxed{2}$ and $\boxed{3}$.", True),
    ("(2, 2), (6, 2)", r"$$\boxed{(2, 2)} \quad \text{and} \quad \boxed{(6, 2)}$$", True),
    ("5", r"First $\boxed{4}$.\n\nWait, recomputing: $\boxed{5}$", True),
    ("4", r"First $\boxed{4}$.\n\nWait, recomputing: $\boxed{5}$", False),
    ("12", r"Adding them up, the result is $\boxed{12", True),
    ("4", r"so $\boxed{4}$ and then $\boxed{\frac{1", True),
    ("4", r"so $\boxed{4}$. Wait, I dropped a term: the total is $\boxed{12", False),
    # boxed vs a later explicit final statement: the final statement wins; a later plain remark does not
    ("7", r"so $\boxed{5}$ is the width. Final Answer: The final answer is $7$. I hope it is correct.", True),
    ("5", r"The answer is $\boxed{5}$.\n\nNote that the answer is independent of the order.", True),
    # Minerva
    (r"\frac{1}{2}", r"Final Answer: The final answer is $\frac{1}{2}$. I hope it is correct.", True),
    (r"\frac{1}{3}", r"We get $\frac{1}{3}$ first. Final Answer: The final answer is $\frac{1}{2}$. I hope it is correct.", False),
    # final answer is / the answer is, with math or plain words; the later statement wins
    ("42", "After simplifying, the final answer is 42.", True),
    ("42", "So, the answer to the question is $42$.", True),
    ("x = 5", "Solving, the answer is: $x = 5$", True),
    ("6", "The answer is 5. Wait, that's wrong: 2 + 4 = 6. The final answer is 6.", True),
    ("5", "The answer is 5. Wait, that's wrong: 2 + 4 = 6. The final answer is 6.", False),
    ("12", "The correct answer is **12** apples.", True),
    ("3.5", "The answer is approximately $3.5$ meters.", True),
    ("5", "The answer is not 5, since 5 fails the check.", False),
    ("7", "The answer is 7.\n\nChecking: 7 + 3 = 10, so the answer is correct.", True),
    # GSM8K-style #### line; a markdown heading is not an answer
    ("7", "She has 3 + 4 = 7 apples.\n#### 7", True),
    ("18", "Janet sells 16 - 3 - 4 = 9 eggs.\n#### 18", True),
    ("9", "Janet sells 16 - 3 - 4 = 9 eggs.\n#### 18", False),
    ("3", "#### Step 3: add\nThen 1 + 1 = 2", False),
    # Answer: X / A: X on the last lines, Final Answer heading, PRM800K # Answer
    ("42", "Step 1: 6 * 7 = 42.\nAnswer: 42", True),
    ("42", "Q: what is 6 times 7?\nA: 42", True),
    ("\\frac{3}{4}", "**Final Answer**\n\n$\\dfrac{3}{4}$", True),
    ("17", "The sum is 8 + 9.\n\n# Answer\n\n17", True),
    ("8", "The sum is 8 + 9.\n\n# Answer\n\n17", False),
    ("12", "**Answer:** 12 apples\n\nLet me know if you have other questions!", True),
    ("42", "First 6 * 7 = 42, then one is lost: 42 - 1 = 41.\nAnswer: 41", False),
    ("41", "First 6 * 7 = 42, then one is lost: 42 - 1 = 41.\nAnswer: 41", True),
    # bold in the closing sentence
    ("12", "Alice started with 20 and gave away 8.\n\nThus, Alice has **12 apples** left.", True),
    ("20", "Alice started with 20 and gave away 8.\n\nThus, Alice has **12 apples** left.", False),
    # the last math expression of the closing text: values of equations, joined solutions, names yield
    ("x > 5", r"Dividing by 2 keeps the direction.\n\nTherefore $x \gt 5$ is the solution.", True),
    (r"\begin{pmatrix}1&0\\0&1\end{pmatrix}", r"So the product is the identity matrix, $\begin{pmatrix}1&0\\0&1\end{pmatrix}$.", True),
    ("2, 3", "Factoring gives $(x-2)(x-3)=0$.\n\nThe solutions are $x = 2$ and $x = 3$.", True),
    ("5", "So $5$ is the value of $x$.", True),
    ("12", r"First $3 \cdot 4 = 12$, and adding 5 gives $12 + 5 = 17$.", False),
    ("17", r"First $3 \cdot 4 = 12$, and adding 5 gives $12 + 5 = 17$.", True),
    (r"\frac{22}{7}", r"Hence the ratio is $\frac{22}{7} \approx 3.14$.", True),
    # ... unless the last sentence states a plain number after its math (which names unknowns or givens);
    # a justification after the answer ("since ...", "where ...") and a step label do not state it
    ("10", "Since $n = 4$, the sum is 10.", True),
    ("4", "Since $n = 4$, the sum is 10.", False),
    ("7", "The smallest such $n$ is 7.", True),
    ("3", "There are 3 values of $x$ that satisfy the equation.", True),
    ("2", "The equation has roots $x=1$ and $x=3$, so there are 2 roots.", True),
    ("3", "The equation has roots $x=1$ and $x=3$, so there are 2 roots.", False),
    ("3", "The value of $k$ is 3, since $k^2 = 9$.", True),
    ("9", "The value of $k$ is 3, since $k^2 = 9$.", False),
    (r"36\pi", r"The area is $\pi r^2 = 36\pi$, where $r = 6$.", True),
    ("5", "So $x = 5$ is the solution found in step 2.", True),
    ("36", "Plugging in $x = 2$ gives the total of $36$.", True),
    ("2", "Plugging in $x = 2$ gives the total of $36$.", False),
    ("24", r"The area is $6 \times 4 = 24$ square units. The perimeter is $2(6+4)=20$.", False),
    # a sentence that opens with "Since" states its answer after the clause; a value set in math stays the answer
    (r"\sqrt{3}", r"We found $s^2 = 3$. Since a side is positive, $s = \sqrt{3}$ units.", True),
    ("3", r"We found $s^2 = 3$. Since a side is positive, $s = \sqrt{3}$ units.", False),
    ("12", "Scaling by 4, $12$ cups of flour go with 8 eggs.", True),
    ("8", "Scaling by 4, $12$ cups of flour go with 8 eggs.", False),
    # program output when nothing is stated after it; a later statement wins over it
    ("5", "```python\nprint(2 + 3)\n```\n```output\n5\n```", True),
    ("5", "```python\nprint(2 + 3)\n```\n```output\n5\n```\nSo the total is 6 after adding the extra one.", False),
    # the last number of the closing text (no code, no question, no negation)
    ("7", "So the total is 3 + 4 = 7 apples.", True),
    ("12", "We get 12 first. Then adding 5 gives 17.", False),
    ("10", "So x = 10 works.\n\nFind the value of x such that 2x = 20?", False),
    ("10", "We need x with 2x = 20, so x = 10.\n\nProblem: Find x if 2x = 20 and x is positive.", False),
    ("4", "We have 2x + 3 = 11.\n\nSolve for x: 2x = 8, so x = 4.", True),
    ("4", r"Solving, \begin{align*} 2x + 3 &= 11 \\ x &= 4. \end{align*}", True),
    ("7", "We count them.\n\n**Therefore, there are 7 apples.**", True),
    # bold labels of a markdown answer are not answers; a closing verification is not the answer
    ("17", "**Step 3:** Compute 3 * 4 = 12.\n\n**Step 4:** Add 5: 12 + 5 = 17.", True),
    ("4", "**Step 3:** Compute 3 * 4 = 12.\n\n**Step 4:** Add 5: 12 + 5 = 17.", False),
    ("4", "So x = 4.\n\nCheck: 2(4) + 3 = 11, as required.", True),
    ("11", "So x = 4.\n\nCheck: 2(4) + 3 = 11, as required.", False),
    # "name \approx value" states the value; "exact \approx decimal" the exact one
    ("3.14", r"The area is $A \approx 3.14$.", True),
    ("7", "### Final Answer\nThe total number of apples is 7.", True),
    ("2", "```python\nx = 1\nprint(x ** 2)\n```", False),
    ("5", "I have no idea, it could be 5 or not.", False),
    # a response that stops mid-sentence or mid-formula ends on an intermediate result
    ("17", "Adding the next term gives 12 + 5 = 17 and then we multiply by", False),
    ("17", r"so far $x = 17$ and then $x \times", False),
    # a base model that answers and goes on to write the next problem: the answer is the first one
    ("5", "2 + 3 = 5. The answer is 5.\n\nQuestion: Tom has 3 apples and eats one. How many are left?\nThe answer is 2.", True),
    ("2", "2 + 3 = 5. The answer is 5.\n\nQuestion: Tom has 3 apples and eats one. How many are left?\nThe answer is 2.", False),
    ("5", "Problem: what is 2 + 3?\nSolution: 2 + 3 = 5, so the answer is 5.", True),
    # counts in words, choices named as options, answers stated in Chinese
    ("5", "Counting them one by one, the answer is five.", True),
    ("25", r"So the answer is $\text{twenty-five}$.", True),
    ("5", "Counting them one by one, the answer is six.", False),
    ("B", "Only the second works, so the correct option is (B).", True),
    ("C", "Only the second works, so the correct option is (B).", False),
    ("12", "所以答案是 12。", True),
]


@pytest.mark.parametrize("gt, response, expected", CASES + FORMS)
def test_table(gt, response, expected):
    g = grade(response, gt)
    assert g.correct is expected, g
    assert not g.timed_out


@pytest.mark.parametrize("gt, response, expected", FAST_CASES)
def test_fast_path_settles_without_sympy(gt, response, expected):
    g = grade(response, gt)
    assert g.correct is expected and g.rule not in ("symbolic", "timeout", "error"), g


@pytest.mark.parametrize(
    "response, answer, was_boxed",
    [
        (r"so $\boxed{\frac{1}{2}}$.", r"\frac{1}{2}", True),
        (r"$\boxed{\{1,2\}}$", r"\{1,2\}", True),
        (r"truncated $\boxed{4}$ then $\boxed{\frac{1", "4", True),
        ("The answer is: 42.", "42", False),
        (r"The answer is $\$18.90$.", r"\$18.90", False),
        ("no answer here", None, False),
    ],
)
def test_extract_answer(response, answer, was_boxed):
    assert extract_answer(response) == (answer, was_boxed)


@pytest.mark.parametrize(
    "response, answer, rule",
    [
        (r"so $\boxed{5}$.", "5", "boxed"),
        (r"so $\boxed{12", "12", "boxed_unclosed"),
        (r"Final Answer: The final answer is $7$. I hope it is correct.", "7", "minerva"),
        ("Thus the final answer is 7.", "7", "final_answer_is"),
        ("Thus the answer is 7.", "7", "answer_is"),
        ("2 + 5 = 7\n#### 7", "7", "gsm8k_hash"),
        ("2 + 5 = 7\nAnswer: 7", "7", "answer_line"),
        ("2 + 5 = 7\n\n# Answer\n\n7", "7", "prm800k"),
        ("Two and five make **7**.", "7", "bold"),
        ("```output\n7\n```", "7", "program_output"),
        ("Two and five make $7$.", "7", "last_math"),
        ("Two and five make 7.", "7", "last_number"),
        ("No numbers here at all.", None, "none"),
    ],
)
def test_extraction_rule_is_named(response, answer, rule):
    found = extract(response)
    assert (found.answer, found.rule) == (answer, rule)
    assert grade(response, "7").extraction == rule


def test_extract_rules_are_selectable():
    response = "We get $x = 3$ at the end"
    assert extract(response, rules=("boxed",)) == Extraction(None, "none", False)
    assert extract(response, rules=("last_math",)) == Extraction("3", "last_math", False)
    with pytest.raises(ValueError, match="unknown extraction rule"):
        extract(response, rules=("nope",))


@pytest.mark.parametrize(
    "response, expected",
    [
        ("Adding the next term gives 12 + 5 = 17", False),  # last number: cut where it may be intermediate
        (r"so far $x = 17$", False),  # last math: likewise
        (r"so $\boxed{17", False),  # a box cut mid-answer may be a prefix of it
        (r"so $\boxed{17}$ and then we check", True),  # a closed box is a stated answer
        ("The answer is 17. Let me double-check that by", True),  # so is an explicit statement
    ],
)
def test_truncated_response_gets_no_credit_from_implicit_rules(response, expected):
    assert grade(response, "17").correct  # full extraction reads 17 from each
    g = grade(response, "17", truncated=True)
    assert g.correct is expected
    assert g.rule == ("truncated" if not expected else g.rule)
    assert [x.correct for x in grade_many([(response, "17", True)])] == [expected]


def test_gt_normalised_like_predictions():
    assert extract_gt(r"$\boxed{\dfrac{1}{2}}$") == r"\dfrac{1}{2}"
    assert is_correct(r"\boxed{\dfrac{1}{2}}", r"$\frac12$")


def test_grade_fields_and_fast_path_stays_in_process():
    g = grade(boxed("10,000"), "10000")
    assert g == Grade(True, "10,000", True, "number", g.seconds, False, "boxed")
    assert grade("nothing", "1").rule == "no_answer"
    assert grade(r"\boxed{\frac{\sqrt{3}}{2}}", r"\frac{\sqrt3}{2}").rule in ("numeric", "symbolic")


ADVERSARIAL = [
    r"\boxed{__import__('os').system('touch /tmp/pwned_grader')}",
    r"\boxed{open('/tmp/pwned_grader','w')}",
    r"\boxed{exec(\"open('/tmp/pwned_grader','w')\")}",
    r"\boxed{10^{10^{8}}}",
    r"\boxed{9^{9^{9^{9}}}}",
    r"\boxed{(10^{6})!}",
    r"\boxed{1000000!}",
    r"\boxed{2^{99999999}}",
    r"\boxed{" + "9" * 100_000 + "}",
    r"\boxed{" + "{" * 10_000 + "2" + "}" * 10_000 + "}",
    "x" * (1 << 20) + r"\boxed{2x}",
    r"\boxed{\frac{\frac{\frac{\frac{\frac{\frac{\frac{1}{2}}{2}}{2}}{2}}{2}}{2}}{2}^{x^{x^{x}}}}",
    "\u202e\u0000\ufeff" + r"\boxed{２}",
]


@pytest.mark.parametrize("response", ADVERSARIAL)
def test_adversarial_inputs_are_false_quick_and_run_nothing(response):
    CANARY.unlink(missing_ok=True)
    start = time.perf_counter()
    g = grade(response, "2", timeout=5.0)
    assert time.perf_counter() - start < 5.5
    assert g.correct is False
    assert not CANARY.exists()


def test_adversarial_corpus(shared_dir):
    path = shared_dir / "grader_dev" / "adversarial_dev.jsonl"
    if not path.exists():
        pytest.skip(f"{path} not found")
    CANARY.unlink(missing_ok=True)
    cases = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for case in cases:
        start = time.perf_counter()
        assert grade(case["response"], case["gt"]).correct is case["label"], case["id"]
        assert time.perf_counter() - start < 5.0, case["id"]
    assert not CANARY.exists()


def test_size_guards_refuse_before_sympy():
    for text in (r"10^{10^{8}}", "9" * 400, r"(10^{6})!", "2^{99999}", "(" * 60 + "1" + ")" * 60):
        with pytest.raises(guards.TooBig):
            guards.check_size(text)
    guards.check_size(r"e^{x^2} + 5! + 2^{10}")


def _slow_symbolic_job(pred, gt, profile=None):
    time.sleep(30)
    return True, "symbolic"


@pytest.mark.skipif(pool._START_METHOD != "fork", reason="the patch reaches workers only through fork")
def test_timeout_kills_worker_and_grades_incorrect(monkeypatch):
    # Patched before the worker forks, so the worker runs the slow comparison; the pool must kill it.
    monkeypatch.setattr(pool, "_symbolic_job", _slow_symbolic_job)
    # \log_2 is outside the fast path's evaluator, so this pair goes to the (patched) symbolic worker.
    pairs = [(boxed(r"\log_2 8"), "3"), (boxed("3"), "3")]
    start = time.perf_counter()
    grades = list(grade_many(pairs, num_workers=1, timeout=0.5))
    assert time.perf_counter() - start < 10
    assert grades[0].timed_out and not grades[0].correct and grades[0].rule == "timeout"
    assert grades[1].correct and not grades[1].timed_out


@pytest.mark.parametrize("num_workers", [1, 2])
def test_grade_many_keeps_order_and_matches_grade(num_workers):
    pairs = [(response, gt) for gt, response, _ in CASES[:40]] * 2
    expected = [grade(r, g).correct for r, g in pairs]
    got = list(grade_many(iter(pairs), num_workers=num_workers))
    assert [g.correct for g in got] == expected
    assert [g.extracted for g in got] == [extract_answer(r)[0] for r, _ in pairs]


@pytest.mark.parametrize("num_workers", [1, 2])
def test_grade_many_reuses_symbolic_verdicts(num_workers, monkeypatch):
    # The same (answer, gt) pair, spaced and boxed differently, needs sympy once per batch.
    submitted = []
    submit = pool.SymbolicPool.submit
    monkeypatch.setattr(pool.SymbolicPool, "submit", lambda pool, *job: submitted.append(job) or submit(pool, *job))
    pairs = [(boxed(r"\log_2 8"), "3"), (r"so \boxed{\log_2  8}", "$3$"), (boxed(r"\log_2 9"), "3")] * 20
    grades = list(grade_many(pairs, num_workers=num_workers))
    assert [g.correct for g in grades] == [True, True, False] * 20
    assert {g.rule for g in grades} == {"symbolic"}
    assert len(submitted) == 2


def test_grade_many_is_lazy():
    consumed = 0

    def source():
        nonlocal consumed
        for i in range(100_000):
            consumed += 1
            yield boxed(str(i)), str(i)

    it = grade_many(source())
    assert next(it).correct
    assert consumed < 2_000


def test_grade_many_rejects_bad_worker_count():
    with pytest.raises(ValueError, match="num_workers"):
        list(grade_many([], num_workers=0))


# ---- scorer profiles: ours ("default") and the Qwen2.5-Math scorer's numeric rules ("qwen") ----
# (gt, answer, correct under default, correct under qwen). The qwen column is what the original's
# math_equal says (isclose with rel_tol 1e-4 against gt/100, gt, 100 gt), except -124/-123 and 0.123/0.12,
# which only its labeler's round_number (2 significant digits below 1, negatives included) equates: a bug.
PROFILE_CASES = [
    ("3.14159", "3.1416", False, True),  # a relative 3e-6: rounded, within 1e-4, not within ours (1e-6)
    ("3.14159", "3.141593", True, True),
    ("5", "0.05", False, True),  # 1/100x the gt: include_percentage
    ("5", "500", False, True),  # 100x the gt
    ("5", "50", False, False),
    ("5", r"5\%", True, True),
    ("10000", "10001", False, True),  # the tolerance holds between integers too: |diff| = 1e-4 x 10001
    ("10000", "10002", False, False),  # just outside: 2 > 1e-4 x 10002
    ("1", "1.0001", False, True),  # just inside, written as a decimal
    ("1", "1.00011", False, False),  # just outside
    ("-123", "-124", False, False),  # round_number's "-1.2e+02" for both: not followed
    ("0.12", "0.123", False, False),  # round_number's 2 significant digits: not followed
    ("0.12", "0.12", True, True),
    ("(1, 5)", "(1, 500)", False, True),  # item by item, as math_equal splits tuples
    (r"\frac{8}{3}", "2.6667", False, True),  # a closed form against a rounded decimal
    (r"\frac{\pi}{4}", "0.7854", False, True),
    ("3", r"\log_2 8", True, True),  # the symbolic path, in a worker, under the job's profile
    ("3.0001", r"\log_2 8", False, True),
    ("x + 10000", "x + 10001", False, False),  # only numbers and closed forms get the tolerance
]


@pytest.mark.parametrize("gt, answer, ours, qwen", PROFILE_CASES)
def test_scorer_profiles(gt, answer, ours, qwen):
    response = boxed(answer)
    assert grade(response, gt).correct is ours
    assert grade(response, gt, profile=PROFILES["default"]).correct is ours
    assert is_correct(response, gt, profile=PROFILES["qwen"]) is qwen
    batch = list(grade_many([(response, gt)] * 2, num_workers=2, profile=PROFILES["qwen"]))
    assert [g.correct for g in batch] == [qwen, qwen]


def test_profiles_differ_only_in_their_numeric_parameters():
    default, qwen = PROFILES["default"], PROFILES["qwen"]
    assert (default.answer_checks, default.item_checks) == (qwen.answer_checks, qwen.item_checks)
    assert (default.tolerate_exact, default.percent_scale) == (False, False)
    assert (float(qwen.rel_tol), qwen.tolerate_exact, qwen.percent_scale) == (1e-4, True, True)


# ---- tests/data/grader_styles.jsonl: hand-written outputs in several models' styles ----

STYLE_CASES = [json.loads(line) for line in STYLES.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("case", STYLE_CASES, ids=[c["id"] for c in STYLE_CASES])
def test_model_styles_are_graded_as_labelled(case):
    g = grade(case["response"], case["gt"])
    assert g.correct is case["label"], (case["note"], g)
