"""The JSONL schema module: validation errors name file, line and key; writes are atomic."""

import json
import os

import pytest

from common.records import LABELED, SAMPLES, RecordError, atomic_open, iter_records, read_records, write_jsonl

SAMPLE = {"idx": 1, "problem": "p", "gt": "2", "prompt": "q", "responses": ["a", "b"],
          "finish_reasons": ["stop", "length"], "num_tokens": [3, 9]}


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_round_trip_keeps_order_and_unicode(tmp_path):
    records = [dict(SAMPLE, idx=i, problem="∑ é 你好") for i in range(5)]
    assert write_jsonl(tmp_path / "s.jsonl", records) == 5
    assert read_records(tmp_path / "s.jsonl", SAMPLES) == records


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({k: v for k, v in SAMPLE.items() if k != "gt"}), "missing key 'gt'"),
        (json.dumps(dict(SAMPLE, responses="a")), "key 'responses' must be a list"),
        (json.dumps(dict(SAMPLE, num_tokens=[1])), "lists of different lengths"),
    ],
)
def test_bad_line_names_file_line_and_problem(tmp_path, line, message):
    path = write_lines(tmp_path / "s.jsonl", [json.dumps(SAMPLE), "", line])
    with pytest.raises(RecordError, match=message) as info:
        read_records(path, SAMPLES)
    assert info.value.line == 3 and str(info.value).startswith(f"{path}:3: ")


def test_labeled_needs_reward_keys(tmp_path):
    path = write_lines(tmp_path / "l.jsonl", [json.dumps(SAMPLE)])
    with pytest.raises(RecordError, match="missing key 'rewards'"):
        read_records(path, LABELED)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        list(iter_records(tmp_path / "nope.jsonl"))


def test_failed_write_leaves_no_file_and_keeps_old_one(tmp_path):
    path = tmp_path / "out.jsonl"
    write_jsonl(path, [{"a": 1}])

    def broken():
        yield {"a": 2}
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        write_jsonl(path, broken())
    assert read_records(path) == [{"a": 1}]
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_atomic_open_creates_parent_dirs(tmp_path):
    with atomic_open(tmp_path / "a" / "b" / "c.txt") as f:
        f.write("x")
    assert (tmp_path / "a" / "b" / "c.txt").read_text() == "x"


def test_written_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_jsonl(tmp_path / "s.jsonl", [{"a": 1}])
    finally:
        os.umask(old)
    assert (tmp_path / "s.jsonl").stat().st_mode & 0o777 == 0o644


def test_original_samples_without_optional_keys_read_with_line_idx(tmp_path):
    # the original's generation/gen_hf.py writes {prompt, responses, gt}: no idx, finish_reasons, num_tokens
    rows = [{"prompt": "q0", "responses": ["a", "b"], "gt": "1"}, {"prompt": "q1", "responses": ["c"], "gt": "2"}]
    path = write_lines(tmp_path / "s.jsonl", [json.dumps(r) for r in rows])
    records = read_records(path, SAMPLES)
    assert [r["idx"] for r in records] == [0, 1] and "finish_reasons" not in records[0]
    assert records[1] == dict(rows[1], idx=1)


def test_optional_lists_are_checked_when_present(tmp_path):
    bad = {"prompt": "q", "responses": ["a", "b"], "gt": "1", "num_tokens": [1]}
    path = write_lines(tmp_path / "s.jsonl", [json.dumps(bad)])
    with pytest.raises(RecordError, match="lists of different lengths"):
        read_records(path, SAMPLES)
    path = write_lines(tmp_path / "s.jsonl", [json.dumps(dict(bad, num_tokens=[1, "2"]))])
    with pytest.raises(RecordError, match=r"'num_tokens'\[1\] must be int"):
        read_records(path, SAMPLES)


def test_a_json_array_file_is_read_item_by_item(tmp_path):
    # the original's reward_labeling.py writes json.dump(all_data, f, indent=4)
    rows = [dict(SAMPLE, rewards=[1.0, -1.0]), {"prompt": "q", "responses": [], "gt": "3", "rewards": []}]
    path = tmp_path / "l.json"
    path.write_text("\n " + json.dumps(rows, indent=4), encoding="utf-8")
    assert read_records(path, LABELED) == [rows[0], dict(rows[1], idx=1)]
    path.write_text(json.dumps([rows[0], {"prompt": "q"}], indent=4), encoding="utf-8")
    with pytest.raises(RecordError, match=r"l.json:2: missing key"):
        read_records(path, LABELED)
    path.write_text('[{"prompt": ', encoding="utf-8")
    with pytest.raises(RecordError, match="not a valid JSON array"):
        read_records(path, LABELED)
