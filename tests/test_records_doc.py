"""docs/records.md against what it describes: every record kind of common/records.py with every key its
schema names, marked as the reader checks it, list items typed as ITEM_TYPES checks them; every file the
driver and the stages write named in the run folder's layout."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from common import records
from common.records import DROPPED, ITEM_TYPES, PROMPT_TOO_LONG, Schema
from dpo_iteration.training import PARTIAL_SUFFIX

REPO = Path(__file__).resolve().parent.parent
DOC = (REPO / "docs" / "records.md").read_text(encoding="utf-8")
SCHEMAS = {name: value for name, value in vars(records).items() if isinstance(value, Schema)}
ROW = re.compile(r"^\| `([^`]+)` \| ([^|]+) \| ([^|]+) \| (.+) \|$")


def tables() -> dict[str, dict[str, tuple[str, str]]]:
    """{schema constant: {key: (type, checked)}} from the doc's '### kind (`CONSTANT`)' sections."""
    found = {}
    for section in DOC.split("\n### ")[1:]:
        heading, _, body = section.partition("\n")
        constant = re.fullmatch(r"\w+ \(`(\w+)`\)", heading.strip())
        assert constant, f"a record heading must read 'kind (`CONSTANT`)': {heading!r}"
        rows = [ROW.match(line) for line in body.splitlines() if line.startswith("| `")]
        assert all(rows), f"{heading}: a row does not read | `key` | type | checked | meaning |"
        found[constant.group(1)] = {m.group(1): (m.group(2).strip(), m.group(3).strip()) for m in rows}
    return found


DOCUMENTED = tables()


def test_every_record_kind_is_documented_and_nothing_else():
    assert set(DOCUMENTED) == set(SCHEMAS)
    for name, schema in SCHEMAS.items():
        assert f"### {schema.name} (`{name}`)" in DOC


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_key_is_documented_as_the_reader_checks_it(name):
    schema, rows = SCHEMAS[name], DOCUMENTED[name]
    checked = {key: how for key, (_, how) in rows.items()}
    assert set(schema.keys) <= set(checked), f"{name}: keys missing from docs/records.md"
    assert {k for k, how in checked.items() if how in ("required", "list")} == set(schema.required)
    assert {k for k, how in checked.items() if how == "list"} == set(schema.lists)
    assert {k for k, how in checked.items() if how == "optional list"} == set(schema.optional_lists)
    assert set(checked.values()) <= {"required", "list", "optional list", "written"}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_list_items_are_typed_as_the_reader_checks_them(name):
    names = {str: "str", int: "int", float: "float", bool: "bool", type(None): "null"}
    for key, (kind, how) in DOCUMENTED[name].items():
        if how in ("list", "optional list"):
            assert kind.startswith("list"), f"{name}.{key}: {kind}"
        if how != "written" and key in ITEM_TYPES:
            assert kind == "list of " + " or ".join(names[t] for t in ITEM_TYPES[key]), f"{name}.{key}"


def test_the_dropped_marker_is_documented():
    key, kind, how = DROPPED, *DOCUMENTED["SAMPLES"][DROPPED]
    assert (kind, how) == ("str", "written") and f"`{PROMPT_TOO_LONG}`" in DOC, key


def written_names() -> set[str]:
    """The names of the files and folders the driver and the stages write into a run folder."""
    driver = (REPO / "run_iter_dpo.sh").read_text()
    names = set(re.findall(r"\$(?:dir|RUN_DIR|ASSETS_DIR)/(?:iter_\$\w+/)?([A-Za-z_.]+)", driver)) - {"iter_"}
    for source in [*(REPO / "pipeline").glob("*.py"), *(REPO / "annotate").glob("*.py"), REPO / "demo" / "build.py",
                   REPO / "eval_math" / "evaluate.py", REPO / "dpo_iteration" / "training.py"]:
        names |= set(re.findall(r'"([a-z_]+\.(?:json|jsonl|tsv|md|png|yaml))"', source.read_text()))
    # pipeline/compare.py's output is not in a run folder; state.json is datasets' own, in a cache folder
    return names - {"comparison.json", "comparison.md", "comparison.png", "state.json"}


def test_the_layout_names_every_file_of_a_run_folder():
    layout = DOC.split("## The run folder", 1)[1]
    names = written_names()
    assert {"audit.json", "stats.json", "manifest.json", "times.tsv", ".lock", "DONE", "model"} <= names
    missing = sorted(n for n in names if not re.search(rf"(?<![\w.]){re.escape(n)}(?![\w])", layout))
    assert missing == []
    assert f"model{PARTIAL_SUFFIX}/" in layout
