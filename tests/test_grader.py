"""The grader as a table of (gt, response, expected) by kind, plus extraction, safety, bounds and batch tests."""

from __future__ import annotations

import json
import os
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
    # ... and in plain text: the values of one unknown joined at the end; two unknowns or steps give the last
    ("2, -3", "Factoring gives (x-2)(x+3)=0.\n\nHence the solutions are x = 2 and x = -3.", True),
    ("-3", "Factoring gives (x-2)(x+3)=0.\n\nHence the solutions are x = 2 and x = -3.", False),
    ("1.5, -2, 4", "So x = 1.5, x = -2, or x = 4.", True),
    ("3", "Thus, x = 4 and y = 3.", True),
    ("9", "So 3 + 4 = 7 and 7 + 2 = 9.", True),
    ("5", "We tried x = 2 and x = 3 before, so the count is 5.", True),
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
    # ... whoever checks, with a word between ("We can even check", "you can verify"), in parentheses too
    ("6", "So the width is $w = 6$.\n\nWe can quickly verify that $6 \\cdot 9 = 54$.", True),
    ("54", "So the width is $w = 6$.\n\nWe can quickly verify that $6 \\cdot 9 = 54$.", False),
    ("6", "So the width is $w = 6$.\n\n(You can check that $6 + 6 + 9 + 9 = 30$.)", True),
    ("30", "So the width is $w = 6$.\n\n(You can check that $6 + 6 + 9 + 9 = 30$.)", False),
    # a closing that says what it sees is no check: its value is read
    ("54", "So the width is $w = 6$.\n\nWe can see that the area is $54$.", True),
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

# The forms real model outputs close with that the first rules missed, each with its near misses.
CLOSINGS = [
    # a "Final Answer:" line or a statement that is a sentence gives the value the sentence states
    ("34", "We try n = 35 and it fails.\n\nFinal Answer: The largest $n$ is 34.", True),
    ("35", "We try n = 35 and it fails.\n\nFinal Answer: The largest $n$ is 34.", False),
    ("34", "**Final Answer:** The largest possible value of $n$ is $34$.", True),
    ("34", "Final answer: the largest n is 34", True),
    ("12", "Final Answer: Tom has 12 marbles left.", True),
    ("12", "Answer: There are 12 ways.", True),
    ("7", "The answer is the sum of 3 and 4, which is 7.", True),
    ("3", "The answer is the sum of 3 and 4, which is 7.", False),
    # sign-offs, and the chat template's next turn, end the answer
    ("12", "So she has 12 pencils left.\n\nI hope it is correct.", True),
    ("12", "Therefore, the answer is 12.\n\nI hope this helps! Let me know if you have any other questions.", True),
    ("12", "So she has 12 pencils left.<|im_end|>\n<|im_start|>user\nShe buys 5 more. How many now?\n<|im_start|>assistant\nShe has 17.", True),
    ("17", "So she has 12 pencils left.<|im_end|>\n<|im_start|>user\nShe buys 5 more. How many now?\n<|im_start|>assistant\nShe has 17.", False),
    ("5", "So there are 5 left.<|endoftext|>Human: thanks, and if 3 more arrive?", True),
    # a value followed by its unit, the thing it counts, or a phrase
    ("36", "The answer is 36 cubes.", True),
    ("35", "The answer is 36 cubes.", False),
    ("2", "The answer is 2 dozen eggs.", True),
    ("2", "She needs 2 dozen eggs for the cake.", True),
    ("45", "He has 45 marbles now.\n\nSo the answer is 45 marbles.", True),
    ("3.5", "The answer is approximately 3.5 meters.", True),
    ("1500000", "The answer is 1.5 million.", True),
    ("1500", "The answer is 1.5 million.", False),
    # money: a dollar sign before a number is not a math delimiter
    ("144", "The answer is $144.00.", True),
    ("144", "So the total cost is $144.00.", True),
    ("143", "So the total cost is $144.00.", False),
    ("18", "She sells 9 eggs at $2 each, so she makes 9 * $2 = $18 every day.", True),
    ("2", "She sells 9 eggs at $2 each, so she makes 9 * $2 = $18 every day.", False),
    ("18", "So Janet makes 9 × $2 = $18 every day.", True),
    ("18", "**Answer: $18**", True),
    ("10.5", "He paid $10.50 in total, and $x$ is the tip.", True),
    # an equation chain stated as the answer gives its last value; thousands separators
    ("24", "The answer is 45 - 21 = 24.", True),
    ("21", "The answer is 45 - 21 = 24.", False),
    ("7", "The answer is 63/9 = 7 games.", True),
    ("9", "The answer is 63/9 = 7 games.", False),
    ("3834", "The total is 3,834.", True),
    ("3834", "The answer is 3,834.", True),
    ("3835", "The answer is 3,834.", False),
    # a count stated with the thing it counts sets a condition; the sentence states another value
    ("2^{99}", "Each step doubles the count, so there are 2^99 distinct trees with 100 nodes.", True),
    ("100", "Each step doubles the count, so there are 2^99 distinct trees with 100 nodes.", False),
    ("100", "So there are 2^{99} distinct trees on $100$ nodes.", False),
    ("3", "So he needs 3 more boxes to hold 24 cookies.", True),
    ("24", "So he needs 3 more boxes to hold 24 cookies.", False),
    ("3", "Each of the 4 friends gets 3 cookies.", True),
    ("4", "Each of the 4 friends gets 3 cookies.", False),
    ("21", "He runs 3 miles a day for 7 days, for a total of 21 miles.", True),
    ("7", "He runs 3 miles a day for 7 days, for a total of 21 miles.", False),
    ("0", "2004 is divisible by 12 and hence leaves a remainder of ${0}$ when divided by 12.", True),
    # a later statement overrides an earlier one; "if the answer is" is a hypothesis
    ("False", "Step 4: Check if the answer is True.\nStep 5: Answer is False.", True),
    ("True", "Step 4: Check if the answer is True.\nStep 5: Answer is False.", False),
    ("5", "Is the answer 4? No. Let me recompute: the answer is 5.", True),
    ("4", "Is the answer 4? No. Let me recompute: the answer is 5.", False),
    # "does not exist", "undefined", "no solution" are answers, not places to look for a number
    (r"\text{does not exist}", "From the left it tends to 2 and from the right to 3, so the limit does not exist.", True),
    ("2", "From the left it tends to 2 and from the right to 3, so the limit does not exist.", False),
    ("3", "From the left it tends to 2 and from the right to 3, so the limit does not exist.", False),
    (r"\text{DNE}", "So the limit does not exist.", True),
    (r"\text{undefined}", "Since the denominator is 0 at x = 2, f(2) is undefined.", True),
    ("2", "Since the denominator is 0 at x = 2, f(2) is undefined.", False),
    (r"\text{undefined}", "The answer is undefined.", True),
    (r"\emptyset", "Therefore, there is no solution.", True),
    ("0", "Hence the equation has no real solutions.", False),
    # plain-text and unicode math
    (r"12\pi", boxed("12*pi"), True),
    (r"12\pi", boxed("12 pi"), True),
    (r"12\pi", boxed("13*pi"), False),
    (r"\sqrt{3}", boxed("√3"), True),
    (r"\sqrt{3}", boxed("√2"), False),
    (r"2\sqrt{3}", "So the side is 2√3.", True),
    (r"2\sqrt{3}", "The answer is 2*sqrt(3).", True),
    (r"\frac{\sqrt{3}}{2}", "The answer is sqrt(3)/2.", True),
    (r"\frac{\pi}{2}", "The answer is pi/2.", True),
    ("1024", "The answer is 2^10 = 1024.", True),
    (r"3\pi", "The area is 3π square units.", True),
    (r"4\pi", "The area is 3π square units.", False),
    # a count in words after a program's output
    ("3", "```python\nimport math\nprint(math.ceil(50/20))\n```\n```output\n3\n```\nThree trucks will be needed.", True),
    ("3", "```python\nprint(50/20)\n```\n```output\n2.5\n```\nSince a truck cannot be split, three trucks will be needed.", True),
    ("2.5", "```python\nprint(50/20)\n```\n```output\n2.5\n```\nSince a truck cannot be split, three trucks will be needed.", False),
    ("1", "```python\nprint(16 - 15)\n```\n```output\n1\n```\nSo each one gets a share.", True),
    # a choice letter written with its value
    ("3/4", boxed(r"\text{(a) } 3/4"), True),
    ("A", boxed(r"\text{(a) } 3/4"), True),
    ("B", boxed(r"\text{(a) } 3/4"), False),
    ("1/2", boxed(r"\text{(a) } 3/4"), False),
    ("12", boxed(r"(C)\ 12"), True),
    ("12", "The correct answer is B: 12", True),
    ("C", "The correct answer is B: 12", False),
]

# Equivalences the first checks missed, each with its near misses.
EQUIVALENCES = [
    # an equation whose left side is an expression states its right side; one left unsolved does not
    ("23", boxed("f(1) = 23"), True),
    ("24", boxed("f(1) = 23"), False),
    ("16", boxed("|r-s| = 16"), True),
    ("76", boxed("E(2020,1993)=76"), True),
    ("75", boxed("E(2020,1993)=76"), False),
    ("24", boxed("45 - 21 = 24"), True),
    ("45", boxed("45 - 21 = 24"), False),
    ("6", boxed(r"\sum_{k=1}^{3} k"), True),  # its index is no unknown (sympy sums it)
    ("5", boxed("2x = 10"), False),
    ("0", boxed("x^2 - 4 = 0"), False),
    ("x+y=8", boxed("8"), False),
    ("f(1) = 23", boxed("23"), True),
    # a function with its variable renamed
    ("f(x)=2x+1", boxed("f(t) = 2t + 1"), True),
    ("f(x)=2x+1", boxed("f(t) = 2x + 1"), False),
    ("f(x)=x^2", boxed("f(y)=y^2"), True),
    ("f(x)=x^2", boxed("f(y)=y^3"), False),
    # relations written either way, equations and inequalities up to a factor
    (r"x \neq 3", boxed("x != 3"), True),
    (r"x \neq 3", boxed(r"x \ne 3"), True),
    (r"x \neq 3", boxed(r"3 \neq x"), True),
    (r"x \neq 3", boxed(r"x \neq 4"), False),
    (r"x \neq 3", boxed("x = 3"), False),
    ("y = 2x + 3", boxed("2x - y + 3 = 0"), True),
    ("y = 2x + 3", boxed("2x - y - 3 = 0"), False),
    (r"x \ge 2", boxed("2 <= x"), True),
    (r"x \ge 2", boxed("2 < x"), False),
    # inequalities against intervals
    (r"(-\infty, -5)", boxed("k < -5"), True),
    (r"(-\infty, -5)", boxed(r"k \le -5"), False),
    (r"(-\infty, -5)", boxed("k > -5"), False),
    ("k < -5", boxed(r"(-\infty,-5)"), True),
    (r"[\frac12, 8]", boxed(r"\frac12 \le x \le 8"), True),
    (r"[\frac12, 8]", boxed(r"\frac12 < x \le 8"), False),
    (r"[2, \infty)", boxed(r"x \geq 2"), True),
    (r"[2, \infty)", boxed(r"x > 2"), False),
    (r"(-\infty, 2) \cup (3, \infty)", boxed(r"x < 2 \text{ or } x > 3"), True),
    (r"(-\infty, 2) \cup (3, \infty)", boxed(r"x < 2 \text{ or } x > 4"), False),
    (r"(-\infty,0)\cup(0,\infty)", boxed(r"x \neq 0"), True),
    (r"(-\infty,1)\cup(1,\infty)", boxed(r"x \neq 0"), False),
    (r"(-\infty, 3]", "The solution is $x \\le 3$.", True),
    (r"(-\infty, 3]", "The solution is $x < 3$.", False),
    # array matrices against pmatrix/bmatrix; a last row ending in \\
    (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", boxed(r"\left[\begin{array}{cc}1&2\\3&4\end{array}\right]"), True),
    (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", boxed(r"\left[\begin{array}{cc}1&2\\3&5\end{array}\right]"), False),
    (r"\left[\begin{array}{c}1\\2\end{array}\right]", boxed(r"\begin{bmatrix}1\\2\end{bmatrix}"), True),
    (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", boxed(r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \\ \end{pmatrix}"), True),
    (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", "So the matrix is\n$$\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\\\\n\\end{pmatrix}$$", True),
    # several answers: a gt written as several math expressions, joins in words, a box per part
    ("$1$, $2$", boxed("1, 2"), True),
    ("$1$, $2$", boxed("1, 3"), False),
    ("$x=1$, $y=2$", boxed("x=1, y=2"), True),
    ("$x=1$, $y=2$", boxed("x=2, y=1"), False),
    ("$x=1$, $y=2$", boxed("(1, 2)"), True),
    ("$x=1$, $y=2$", boxed("(2, 1)"), False),
    (r"$\frac{1}{2}$, $3$", boxed(r"3, \frac12"), True),
    ("2, 3", boxed(r"2 \text{ and } 3"), True),
    ("2, 3", boxed(r"x = 2 \text{ or } x = 3"), True),
    ("2, 4", boxed(r"2 \text{ and } 3"), False),
    ("3, -2", "The answers are $3$ and $-2$.", True),
    ("3, -2", "The answers are $3$ and $-3$.", False),
    ("3", "The answers are $3$ and $-2$.", False),
    ("5, 7", "(a) The first part gives $\\boxed{5}$.\n\n(b) The second part gives $\\boxed{7}$.", True),
    ("5, 8", "(a) The first part gives $\\boxed{5}$.\n\n(b) The second part gives $\\boxed{7}$.", False),
    ("7", "(a) The first part gives $\\boxed{5}$.\n\n(b) The second part gives $\\boxed{7}$.", True),
    # an unordered list for all solutions, an ordered tuple
    ("(1, 2)", "The answer is $(2, 1)$.", False),
    ("1, 2", "The answer is $2, 1$.", True),
    # a box per part holding one tuple each, the text between them aside
    ("(2, 4), (0, 1)", "$$\\boxed{(2, 4)} \\text{ in case (i), and } \\boxed{(0, 1)}$$", True),
    ("(2, 4), (0, 2)", "$$\\boxed{(2, 4)} \\text{ in case (i), and } \\boxed{(0, 1)}$$", False),
    ("(2, 4), (0, 1)", "Checking, $\\boxed{(0, 1)}$.", False),
    # a tuple of names given its values, then more values
    ("(2, 7), (7, 2)", boxed(r"(a, b) = (2, 7) \text{ or } (7, 2)"), True),
    ("(2, 7), (7, 3)", boxed(r"(a, b) = (2, 7) \text{ or } (7, 2)"), False),
    # a gt naming its values with names of several letters
    ("PQ=6,RS=9", boxed("6, 9"), True),
    ("PQ=6,RS=9", boxed("6, 8"), False),
    # semicolons separating tuple items, list items, or groups of named values
    ("(1;-3;5),(2;0;0)", boxed("(2, 0, 0), (1, -3, 5)"), True),
    ("(1;-3;5),(2;0;0)", boxed("(2, 0, 0), (1, 3, 5)"), False),
    ("4;-1;9", boxed(r"\{-1, 4, 9\}"), True),
    ("4;-1;9", boxed(r"\{-1, 4, 8\}"), False),
    ("a=3,b=1;a=1,b=3", boxed("(3,1),(1,3)"), True),
    ("a=3,b=1;a=1,b=3", boxed("(1,1),(1,3)"), False),
    # an equation chain on both sides: the value each states last
    ("y = 9", boxed("y = 4 + 5 = 9"), True),
    ("y = 9", boxed("y = 4 + 5 = 8"), False),
    ("t = 3 \\cdot 2 = 6", boxed("t = 2 + 4 = 6"), True),
    ("y = 2/5", boxed(r"y = 4 / 10 = 2/5 \approx 0.4"), True),
    ("x=3, y=4", boxed("x=4, y=3"), False),
    # a range of a function's values
    ("-1<g(t)<2", boxed("(-1,2)"), True),
    ("-1<g(t)<2", boxed("[-1,2)"), False),
    # a gt whose spacing command runs into the next name (its spaces stripped)
    (r"a_{1}=\frac{1}{2},\quada_{2}=3", boxed(r"3, \frac12"), True),
    (r"a_{1}=\frac{1}{2},\quada_{2}=3", boxed(r"3, \frac13"), False),
]

# Numbers as other conventions write them: a decimal comma (never where it could separate thousands), digit
# groups separated by `,\!` (Indian grouping too), a mixed number written with a space.
NUMBER_FORMS = [
    ("2.75", boxed("2,75"), True),
    ("2,75", boxed("2.75"), True),
    ("0,125", boxed("0.125"), True),
    ("2.75", boxed("2,76"), False),
    ("275", boxed("2,75"), False),
    ("2.750", boxed("2,750"), False),
    ("2750", boxed("2,750"), True),
    ("0,125", boxed("125"), False),
    (r"12,\!34,\!567", boxed("1234567"), True),
    ("1234567", boxed(r"12,\!34,\!567"), True),
    (r"12,\!34,\!567", boxed("1234568"), False),
    ("7 1/4", boxed("7.25"), True),
    ("7.25", boxed("7 1/4"), True),
    ("7.25", boxed("71/4"), False),
    ("7 1/4", boxed("7.5"), False),
]

# Settled without sympy too (the symbolic path costs a worker and milliseconds): braces around a whole answer
# or a number, a Greek letter applied on both sides, letters spaced apart, equations and inequalities, an
# exact value with its approximation, a program's module prefix, an answer cut after an operator.
MORE_FAST_CASES = [
    ("5x - 7y + 11z + 4 = 0", boxed("{5x - 7y + 11z + 4 = 0}"), True),
    ("5x - 7y + 11z + 4 = 0", boxed("{5x - 7y + 11z + 5 = 0}"), False),
    ("100", boxed(r"{100} \%"), True),
    ("-128", r"Our answer is therefore $16\cdot (-8) = {-128}$.", True),
    (r"b \delta(t)+1-e^{-a t}", boxed(r"b \delta(t)+1-e^{-a t}"), True),
    (r"b \delta(t)+1-e^{-a t}", boxed(r"b \delta(t)+3-e^{-a t}"), False),
    (r"\frac{1}{L C s^{2}+R C s+1}", boxed(r"\frac{1}{L C s^{2}+R C s+4}"), False),
    (r"\frac{1}{L C s^{2}+R C s+1}", boxed(r"\frac{1}{R C s + L C s^{2}+1}"), True),
    (r"y=-\frac{1}{2}x+\frac{3}{4}", boxed("2x+4y-3=0"), True),
    (r"x \leq 5", boxed(r"5 \geq x"), True),
    (r"\frac{\sqrt{3}}{3}", boxed(r"\frac{\sqrt{3}}{3} \approx 0.577"), True),
    (r"\frac{\sqrt{3}}{3}", boxed(r"\frac{\sqrt{2}}{3} \approx 0.471"), False),
    ("11", boxed(r"x \approx 11"), True),
    (r"\arcsin(10/13)", boxed("np.arcsin(10/13)"), True),
    (r"\arcsin(10/13)", boxed("np.arcsin(10/17)"), False),
    (r"\sqrt{2}", boxed("math.sqrt(2)"), True),
    (r"x_{0} \cos (\omega t)", boxed(r"x_{0} \cos (\omega t)+"), False),
    # a sum binds its index: its other letters are unknowns
    ("p - q", boxed(r"\sum_{n = 1}^\infty \frac{1}{n^2} - \sum_{n = 1}^\infty \frac{1}{n^3}"), False),
    (r"\frac{639}{40}", boxed(r"F_n = \sum_{k=0}^{n-1} F_k F_{n-k-1}"), False),
]


@pytest.mark.parametrize("gt, response, expected", CASES + FORMS + CLOSINGS + EQUIVALENCES + NUMBER_FORMS + MORE_FAST_CASES)
def test_table(gt, response, expected):
    g = grade(response, gt)
    assert g.correct is expected, g
    assert not g.timed_out


@pytest.mark.parametrize("gt, response, expected", FAST_CASES + MORE_FAST_CASES)
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
        ("Two and five make 7, so the limit does not exist.", "does not exist", "no_value"),
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
    # \sum is outside the fast path's evaluator, so this pair goes to the (patched) symbolic worker.
    pairs = [(boxed(r"\sum_{k=1}^{3} k"), "6"), (boxed("3"), "3")]
    start = time.perf_counter()
    grades = list(grade_many(pairs, num_workers=1, timeout=0.5))
    assert time.perf_counter() - start < 10
    assert grades[0].timed_out and not grades[0].correct and grades[0].rule == "timeout"
    assert grades[1].correct and not grades[1].timed_out


_TEST_PID = os.getpid()  # in a spawned worker this module is imported afresh: its own pid
_real_worker_main = pool._worker_main


def _stuck_worker(conn):
    """A forked worker that never says it is ready, as a child deadlocked on a lock a thread held would;
    a spawned one (a fresh interpreter) runs the real worker."""
    if os.getpid() == _TEST_PID:
        return _real_worker_main(conn)
    time.sleep(60)


@pytest.mark.skipif(pool._START_METHOD != "fork", reason="the patch reaches workers only through fork")
def test_worker_that_never_gets_ready_is_replaced_by_a_spawned_one(monkeypatch):
    # The forked worker hangs before "ready"; the pool gives up on it after START_TIMEOUT and spawns a
    # fresh interpreter (which runs the real worker), so the case still gets its right verdict.
    monkeypatch.setattr(pool, "_worker_main", _stuck_worker)
    monkeypatch.setattr(pool, "START_TIMEOUT", 6.0)  # a spawned worker imports sympy afresh: seconds
    start = time.perf_counter()
    grades = list(grade_many([(boxed(r"\sum_{k=1}^{3} k"), "6"), (boxed(r"\sum_{k=1}^{3} k"), "7")], num_workers=1,
                             timeout=20))
    assert time.perf_counter() - start < 30
    assert [(g.correct, g.rule) for g in grades] == [(True, "symbolic"), (False, "symbolic")]


@pytest.mark.skipif(pool._START_METHOD != "fork", reason="the patch reaches workers only through fork")
def test_workers_that_never_get_ready_raise_a_clear_error(monkeypatch):
    monkeypatch.setattr(pool, "_worker_main", _stuck_worker)
    monkeypatch.setattr(pool, "_RESTART_METHOD", "fork")  # the replacements hang as well
    monkeypatch.setattr(pool, "START_TIMEOUT", 0.5)
    start = time.perf_counter()
    with pytest.raises(pool.WorkerStartError, match="never became ready"):
        list(grade_many([(boxed(r"\sum_{k=1}^{3} k"), "6")], num_workers=2, timeout=5))
    assert time.perf_counter() - start < 10


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
    pairs = [(boxed(r"\sum_{k=1}^{3} k"), "6"), (r"so \boxed{\sum_{k=1}^{3}  k}", "$6$"), (boxed(r"\sum_{k=1}^{3} k"), "7")] * 20
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
