"""The grader's vocabulary, as data: LaTeX commands by what they mean, Greek letters, functions, units and the
English words that frame an answer. Every reader (extraction, normalisation, the numeric evaluator, the
symbol comparison) takes its words from here, so the readers cannot disagree on what `\\mathrm` or
`\\varphi` is; `words_pattern` turns a list into the regular expression a reader searches with.

    python -c "from annotate.grader import vocabulary as v; print(sorted(v.GREEK))"
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# ---------------------------------------------------------------- LaTeX commands (names without the backslash)

# Text written in text mode, and upright math (units, operator names): their argument is words or a unit.
TEXT_COMMANDS = frozenset({"text", "textrm", "textnormal", "textup", "textsf", "texttt", "textbf", "textit",
                           "textmd", "mbox", "hbox"})
UPRIGHT_COMMANDS = frozenset({"mathrm", "operatorname"})
WORD_COMMANDS = TEXT_COMMANDS | UPRIGHT_COMMANDS
# Letters restyled, the same letters (\mathbf{v} is v in bold).
STYLE_COMMANDS = frozenset({"mathbf", "mathit", "boldsymbol", "bm", "mathsf", "mathtt", "mathnormal"})
# Another alphabet: \mathbb{R} is not R, though a choice written \mathcal{B} is the letter B.
ALPHABET_COMMANDS = frozenset({"mathcal", "mathbb", "mathfrak", "mathscr"})
# Accents that make a new name: \dot{x} is not x.
ACCENTS = frozenset({"dot", "ddot", "hat", "bar", "tilde", "vec", "overline", "widehat", "widetilde"})
# Presentation only: spacing, and the size of the bracket that follows.
SPACING_COMMANDS = frozenset({"quad", "qquad", "displaystyle", "textstyle", "limits"})
SPACING_SYMBOLS = ("\\!", "\\,", "\\;", "\\:", "\\ ", "~")
SIZE_COMMANDS = frozenset({"left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl",
                           "biggr", "Biggl", "Biggr"})
# Spellings of one command: \dfrac is \frac.
SYNONYMS = {"dfrac": "frac", "tfrac": "frac", "cfrac": "frac", "dbinom": "binom", "tbinom": "binom",
            "le": "leq", "ge": "geq", "neq": "ne"}

GREEK = frozenset({
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota",
    "kappa", "lambda", "mu", "nu", "xi", "rho", "varrho", "sigma", "varsigma", "tau", "upsilon", "phi", "varphi",
    "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Upsilon", "Phi", "Psi", "Omega",
})
# Letters that name a constant, not an unknown: \pi, Euler's e, the imaginary unit i, \hbar.
CONSTANTS = frozenset({"pi", "infty", "hbar"})
CONSTANT_LETTERS = frozenset({"e", "i"})
# Functions a closed form may apply, and operators that build one.
FUNCTIONS = frozenset({"sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
                       "ln", "log", "exp"})
OPERATORS = frozenset({"frac", "sqrt", "binom", "cdot", "times", "div", "pm", "mp", "circ"})
# Relations between two sides: an equation or inequality.
RELATIONS = frozenset({"le", "ge", "leq", "geq", "lt", "gt", "ne", "neq"})

# ---------------------------------------------------------------- numbers and units

NUMBER_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
                "sixteen seventeen eighteen nineteen").split()
TENS_WORDS = "twenty thirty forty fifty sixty seventy eighty ninety".split()

# Units and counted things written after a value (plural forms included).
UNIT_WORDS = frozenset("""
    cm mm km m meter meters metre metres centimeter centimeters inches inch in feet foot ft yard yards mile miles
    mi unit units sq square cubic degree degrees deg radian radians rad second seconds sec s minute minutes min
    hour hours hr hrs h day days week weeks month months year years dollar dollars cent cents pound pounds lb lbs
    ounce ounces oz gram grams g kg liter liters litre litres l ml mph kph student students people person persons
    way ways times point points piece pieces book books box boxes marble marbles cookie cookies apple apples coin
    coins
""".split())

# ---------------------------------------------------------------- words around an answer

# Where a base model goes on to write the next few-shot problem or the next chat turn.
CONTINUATION_LABELS = ("Question", "Problem", "Q", "Human", "User", "Instruction")
CHAT_TOKENS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")
# What follows an answer phrase when it is a verdict, a promise of an answer to come or an unknown.
VERDICT_WORDS = ("not", "n't", "correct", "incorrect", "right", "wrong", "indeed", "valid", "invalid", "consistent",
                 "reasonable", "confirmed", "verified", "unknown", "unclear", "undefined", "the same", "as follows",
                 "below", "given by", "shown", "in the", "that", "still", "yes or no")
# A closing sentence that sets the problem rather than answering it.
TASK_WORDS = ("problem", "question", "exercise", "find", "compute", "determine", "calculate", "evaluate",
              "simplify", "solve", "express", "what", "how many", "how much", "which", "prove", "show that")
PROBLEM_LABELS = ("problem", "question", "exercise")
# Words that state a result: a sentence with one answers its task ("Solve for x: 2x = 8, so x = 4").
RESULT_WORDS = ("so", "thus", "hence", "therefore", "give", "gives", "get", "gets", "we", "which", "yield", "yields")
# Words a response cannot end on if it is finished.
DANGLING_WORDS = ("and", "or", "but", "the", "a", "an", "of", "to", "by", "is", "are", "was", "be", "we", "then", "so",
                  "that", "which", "with", "for", "from", "in", "on", "at", "as", "it", "this", "if", "since",
                  "because", "than", "give", "gives", "equal", "equals", "let", "multiply", "divide", "add",
                  "subtract")
DANGLING_COMMANDS = ("times", "cdot", "frac", "sqrt", "left", "div", "pm")
# A closing paragraph that verifies the answer restates the problem's numbers.
CHECK_OPENERS = ("check", "checking", "verify", "verifying", "verification", "sanity check", "double check",
                 "double-check", "let's check", "let us check", "let me check", "let's verify", "let us verify",
                 "let me verify", "let's double check", "let us double check", "let me double check",
                 "let's double-check", "let us double-check", "let me double-check", "let's double verify",
                 "let us double verify", "let me double verify", "let's double-verify", "let us double-verify",
                 "let me double-verify")
# Bold labels of a markdown answer's structure.
LABEL_WORDS = ("step", "case", "part", "note", "method", "solution", "answer", "final answer", "explanation")
# A number after one of these labels a part of the solution ("step 2").
ORDINAL_WORDS = ("step", "part", "case", "equation", "eq.", "line", "problem", "question", "figure", "page",
                 "round", "stage", "method")
# A clause that justifies the answer before it: "x = 3, since $3^2 = 9$".
JUSTIFICATION_WORDS = ("since", "because", "as shown", "as computed", "as found", "given that", "where")
# Negations: a sentence holding one does not state the answer.
NEGATION_WORDS = ("not", "cannot", "never")
# Words that join the answers of a list: "1 and 2", "(11,7) or (7,11)".
JOIN_WORDS = ("and", "or")


def words_pattern(words: Iterable[str]) -> str:
    """A regex alternation of `words` (longest first, so "double check" wins over "double"); spaces match any
    run of white space."""
    ordered = sorted(set(words), key=len, reverse=True)
    return "(?:" + "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in ordered) + ")"


def commands_pattern(names: Iterable[str]) -> str:
    """A regex matching any of the commands `names` (`\\name`, not followed by a letter)."""
    return r"\\" + words_pattern(names) + r"(?![A-Za-z])"
