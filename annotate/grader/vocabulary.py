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

# Words after a value scale it: "1.5 million" (other words after a value are its unit or what it counts).
SCALE_WORDS = {"hundred": 2, "thousand": 3, "million": 6, "billion": 9, "trillion": 12}
# Words after a value that belong to it: math ("12 pi", "3 mod 5", "x or y") and the half of a day ("4:30pm").
VALUE_WORDS = FUNCTIONS | {"pi", "sqrt", "mod", "pmod", "infinity", "inf", "and", "or", "i", "e", "am", "pm"}

# Plain-text and unicode spellings of math, and the LaTeX they stand for.
UNICODE_MATH = {"π": "\\pi ", "∞": "\\infty ", "×": "\\times ", "·": "\\cdot ", "⋅": "\\cdot ", "÷": "\\div ",
                "−": "-", "–": "-", "≤": "\\leq ", "≥": "\\geq ", "≠": "\\ne ", "²": "^2", "³": "^3", "∪": "\\cup ",
                "∩": "\\cap ", "∈": "\\in ", "∅": "\\emptyset ", "°": "^\\circ "}
ASCII_RELATIONS = {"!=": "\\ne ", "<=": "\\leq ", ">=": "\\geq "}
PLAIN_FUNCTIONS = FUNCTIONS | {"sqrt"}
PLAIN_CONSTANTS = {"pi": "\\pi", "infinity": "\\infty", "inf": "\\infty"}

# Answers that name no value, in their spellings: each maps to one.
NO_VALUE = {"does not exist": "does not exist", "doesn't exist": "does not exist", "dne": "does not exist",
            "not exist": "does not exist", "undefined": "undefined", "is undefined": "undefined",
            "no solution": "no solution", "no solutions": "no solution", "no real solution": "no solution",
            "no real solutions": "no solution", "\\emptyset": "no solution", "\\varnothing": "no solution",
            "\\{\\}": "no solution"}

# ---------------------------------------------------------------- words around an answer

# Where a base model goes on to write the next few-shot problem or the next chat turn.
CONTINUATION_LABELS = ("Question", "Problem", "Q", "Human", "User", "Instruction")
CHAT_TOKENS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")
# What follows an answer phrase when it is a verdict, a promise of an answer to come or an unknown.
VERDICT_WORDS = ("not", "n't", "correct", "incorrect", "right", "wrong", "indeed", "valid", "invalid", "consistent",
                 "reasonable", "confirmed", "verified", "unknown", "unclear", "the same", "as follows",
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
# A closing paragraph that verifies the answer restates the problem's numbers: it opens with a verb of
# checking, alone ("Check: ...") or after who checks ("Let's verify", "We can even check that ...", one
# word allowed between them).
CHECK_VERBS = ("check", "checking", "verify", "verifying", "verification", "sanity check", "double check",
               "double-check", "double verify", "double-verify")
CHECK_SUBJECTS = ("let's", "let us", "let me", "we can", "you can", "one can", "we could", "you could")
# Bold labels of a markdown answer's structure.
LABEL_WORDS = ("step", "case", "part", "note", "method", "solution", "answer", "final answer", "explanation")
# A number after one of these labels a part of the solution ("step 2").
ORDINAL_WORDS = ("step", "part", "case", "equation", "eq.", "line", "problem", "question", "figure", "page",
                 "round", "stage", "method")
# A clause that justifies the answer before it: "x = 3, since $3^2 = 9$".
JUSTIFICATION_WORDS = ("since", "because", "as shown", "as computed", "as found", "given that", "where")
# Negations: a sentence holding one does not state the answer.
NEGATION_WORDS = ("not", "cannot", "never")
# Words that qualify a value stated after an answer phrase: "the answer is approximately 3.5".
HEDGE_WORDS = ("approximately", "about", "around", "roughly", "nearly", "almost", "exactly", "precisely", "just",
               "only", "equal to", "equals", "simply")
# Phrases that end a final sentence saying there is no value: "so the limit does not exist".
NO_VALUE_PHRASES = {"does not exist": "does not exist", "doesn't exist": "does not exist",
                    "do not exist": "does not exist", "is undefined": "undefined", "is not defined": "undefined",
                    "has no solution": "no solution", "has no solutions": "no solution",
                    "has no real solutions": "no solution", "have no solutions": "no solution",
                    "there is no solution": "no solution", "there are no solutions": "no solution"}
# A value after one of these (and a word or two) counts the thing named after it: "with 100 nodes".
COUNT_PREPOSITIONS = ("with", "of", "on", "in", "for", "among", "from", "per", "over", "across", "between",
                      "within", "out of", "into")
# ... unless these name the result: "for a total of 21 miles".
RESULT_NOUNS = ("total", "sum", "product", "difference", "quotient", "remainder", "value", "result", "answer",
                "amount", "average", "mean", "maximum", "minimum")
# Words that cannot name the thing a value counts: "a remainder of 0 when divided by 12".
LINKING_WORDS = DANGLING_WORDS + ("when", "while", "whereas", "after", "before", "until", "unless", "although",
                                  "though", "hence", "thus", "therefore", "also", "total", "all", "each", "times",
                                  "more", "less", "fewer", "left", "remaining", "altogether")
# Determiners before "one" that make it a pronoun ("each one"), not a count.
PRONOUN_ONE = ("each", "every", "any", "no", "some", "the", "this", "that", "which", "another", "only")

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
