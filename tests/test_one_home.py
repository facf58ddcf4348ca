"""One home per setting: no code outside a stage's dataclass restates one of its defaults. Every non-comment
line of the shell entry points (*.sh, *.sbatch) and every Python string that is not a docstring (tests
aside) is searched for ``--flag value`` with a stage's flag; a value equal to that flag's dataclass
default is a second home for it (eval_math/eval.sh passed ten of evaluate.py's defaults so, until
440cf89). Run configs (configs/*.yaml) set values on purpose and are checked by tests/test_hand_runs.py."""

from __future__ import annotations

import ast
import dataclasses
import re
import subprocess
from pathlib import Path

from common.config import own_fields
from pipeline.config import STAGES

REPO = Path(__file__).resolve().parent.parent
FLAG = re.compile(r"--([A-Za-z_]+)[ =]([^\s\"'$\\{(][^\s\"'\\)]*)")


def stage_defaults() -> dict[str, set[str]]:
    """flag -> its defaults as a command line writes them, over every stage that has it."""
    defaults: dict[str, set[str]] = {}
    for stage in STAGES.values():
        for f in own_fields(stage.dataclasses()):
            value = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            if value is not dataclasses.MISSING and value not in (None, ""):
                written = {str(value), str(value).lower()} | ({f"{value:g}"} if isinstance(value, float) else set())
                defaults.setdefault(f.name, set()).update(written)
    return defaults


def code_pieces(path: Path) -> list[tuple[int, str]]:
    """(line, text) of what runs: shell lines that are not comments; Python strings that are not docstrings."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".py":
        return [(i, line) for i, line in enumerate(text.splitlines(), 1) if not line.lstrip().startswith("#")]
    tree = ast.parse(text)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def restated_defaults(paths: list[Path], root: Path = REPO) -> list[str]:
    defaults = stage_defaults()
    found = []
    for path in paths:
        for line, piece in code_pieces(path):
            for m in FLAG.finditer(piece):
                if m.group(2) in defaults.get(m.group(1), ()):
                    found.append(f"{path.relative_to(root)}:{line}: --{m.group(1)} {m.group(2)} is the stage's default")
    return found


def test_no_code_restates_a_stage_default():
    listed = subprocess.run(["git", "ls-files", "*.sh", "*.sbatch", "*.py"], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.split()
    paths = [REPO / p for p in listed if not p.startswith("tests/") and (REPO / p).is_file()]
    assert len(paths) > 50
    assert restated_defaults(paths) == []


def test_a_restated_default_is_found(tmp_path):
    script = tmp_path / "eval.sh"
    script.write_text('# --temperature 0 in a comment is prose\nexec python evaluate.py --model_name_or_path "$m" '
                      "--temperature 0 --top_p 1 --max_tokens_per_call 3000 --n_sampling 4\n")
    assert restated_defaults([script], tmp_path) == [
        "eval.sh:2: --temperature 0 is the stage's default", "eval.sh:2: --top_p 1 is the stage's default",
        "eval.sh:2: --max_tokens_per_call 3000 is the stage's default"]
