"""annotate/pairs.py: the original's strategies pinned against its rules, the project's variants, ties, K=1,
empty responses, options, stats, the original's files, bad input."""

import json
import logging
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from annotate.pairs import CHOOSE_TYPES, RESPONSES_HAVE_EOS, STRATEGIES, PairsArgs, main
from annotate.stats import NO_RECORD_REASONS
from common.config import ConfigError
from common.records import PAIRS, RAFT, RecordError, read_records, write_jsonl

REPO = Path(__file__).resolve().parent.parent
REWARD = {"c": 1.0, "w": -0.5, "n": -1.0}


def labeled(idx, flags, texts=None, tokens=None, finish=None):
    """A labeled record from flags 'c' (correct), 'w' (wrong, boxed), 'n' (no box)."""
    texts = texts or [f"response {idx}.{i} {f}" for i, f in enumerate(flags)]
    return {"idx": idx, "problem": "p", "gt": "5", "prompt": f"prompt {idx}", "responses": texts,
            "finish_reasons": finish or ["stop"] * len(flags), "num_tokens": tokens or [10] * len(flags),
            "rewards": [REWARD[f] for f in flags], "correct": [f == "c" for f in flags],
            "extracted": ["5" if f == "c" else None for f in flags]}


def run(tmp_path, records, choose_type="max_min", **options):
    write_jsonl(tmp_path / "labeled.jsonl", records)
    args = PairsArgs(dataset_name_or_path=str(tmp_path / "labeled.jsonl"), output_file=str(tmp_path / "out.jsonl"),
                     choose_type=choose_type, **options)
    summary = main(args)
    return read_records(tmp_path / "out.jsonl", RAFT if choose_type == "raft" else PAIRS), summary


ORIGINAL = ("max_min", "max_random", "max_max", "max_min_p", "random")
VARIANTS = ("max_random_lower", "max_next_lower", "max_min_len_penalty")


def original_prepare_data(rewards, responses, choose_type, length_penalty=0.0):
    """Online-DPO-R1's run_dpo.py prepare_data for one sample, restated with numpy for the tests:
    (chosen index, rejected index) or None."""
    rewards = np.asarray(rewards, dtype=float)
    if choose_type == "random":
        i, j = 0, 1
    elif choose_type == "max_random":
        i = int(np.argmax(rewards))
        j = 1 if i == 0 else 0
    elif choose_type == "max_min":
        i, j = int(np.argmax(rewards)), int(np.argmin(rewards))
    elif choose_type == "max_max":
        order = np.argsort(rewards, kind="stable")
        i, j = int(order[-1]), int(order[-2])
    else:
        penalised = [rewards[k] - length_penalty * len(responses[k]) for k in range(len(rewards))]
        i, j = int(np.argmax(penalised)), int(np.argmin(penalised))
    if rewards[i] > rewards[j]:
        return i, j
    if rewards[i] < rewards[j]:
        return j, i
    return None


def pairs_of(tmp_path, rows, choose_type, **options):
    """Our pairs for hand-made (flags, texts) rows, as (chosen index, rejected index) or None per row."""
    records = [labeled(i, flags, texts=texts) for i, (flags, texts) in enumerate(rows)]
    out, _ = run(tmp_path, records, choose_type, **options)
    by_idx = {p["idx"]: p for p in out}
    result = []
    for i, (_, texts) in enumerate(rows):
        pair = by_idx.get(i)
        result.append(None if pair is None else (texts.index(pair["chosen"]), texts.index(pair["rejected"])))
    return result


# The original's index rules on small tables: (flags, expected (chosen, rejected) or None).
@pytest.mark.parametrize(
    "choose_type, flags, expected",
    [
        ("max_min", "wcnc", (1, 2)),          # the FIRST best and the FIRST worst
        ("max_min", "nwcn", (2, 0)),
        ("max_min", "ccc", None),
        ("max_random", "wcnn", (1, 0)),       # the best against response 0 ...
        ("max_random", "cwnn", (0, 1)),       # ... or response 1 when the best is response 0
        ("max_random", "cnnc", (0, 1)),
        ("max_random", "ccnn", None),         # response 1 ties the best: no pair, though 2 and 3 are worse
        ("max_random", "nncn", (2, 0)),
        ("max_max", "cwnn", (0, 1)),          # the best and the next best
        ("max_max", "wncw", (2, 3)),          # stable sort: the LAST of the equal next-best rewards
        ("max_max", "ccnw", None),            # two best responses tie: no pair
        ("max_max", "cnnn", (0, 3)),
        ("max_min_p", "wcnc", (1, 2)),        # penalty 0: max_min
        ("random", "cn", (0, 1)),             # responses 0 and 1, ordered by reward
        ("random", "ncw", (1, 0)),
        ("random", "wwc", None),
    ],
)
def test_original_strategies_on_small_tables(tmp_path, choose_type, flags, expected):
    texts = [f"r{i}" for i in range(len(flags))]
    assert pairs_of(tmp_path, [(flags, texts)], choose_type) == [expected]
    assert original_prepare_data([REWARD[f] for f in flags], texts, choose_type) == expected


@pytest.mark.parametrize("choose_type", ORIGINAL)
def test_original_strategies_agree_with_the_original_on_random_tables(tmp_path, choose_type):
    rng = random.Random(5)
    rows = []
    for _ in range(300):
        k = rng.randint(2, 8)
        rows.append(("".join(rng.choice("cwn") for _ in range(k)), [f"t{i}" * rng.randint(1, 9) for i in range(k)]))
    options = {"length_penalty": 0.02} if choose_type == "max_min_p" else {}
    ours = pairs_of(tmp_path, rows, choose_type, **options)
    theirs = [original_prepare_data([REWARD[f] for f in flags], texts, choose_type, options.get("length_penalty", 0))
              for flags, texts in rows]
    assert ours == theirs


def test_pairs_kept_fractions_differ_by_strategy_as_in_the_original(tmp_path):
    # K = 8 at the recipe's rewards, each response correct with probability 1/2: max_random keeps a pair
    # only when response 0 (or 1) is below the best, max_max only when the best reward is unique.
    rng = random.Random(0)
    rows = [("".join(rng.choice("cwn") for _ in range(8)), [f"t{i}" for i in range(8)]) for _ in range(400)]
    kept = {name: sum(p is not None for p in pairs_of(tmp_path, rows, name)) / len(rows)
            for name in ("max_min", "max_random", "max_max", "max_random_lower", "max_next_lower")}
    assert kept["max_min"] == kept["max_random_lower"] == kept["max_next_lower"]
    assert kept["max_max"] < kept["max_random"] < kept["max_min"]


def test_max_min_p_picks_on_penalised_score_but_orders_by_raw_reward(tmp_path):
    # lengths in characters: the long right answer gets the lowest penalised score (-9), the short boxed
    # wrong one the highest (-0.52); the original then orders them by raw reward: the right one is chosen
    texts = ["right" * 200, "w", "ww"]
    assert pairs_of(tmp_path, [("cnw", texts)], "max_min_p", length_penalty=0.01) == [(0, 2)]
    assert original_prepare_data([1.0, -1.0, -0.5], texts, "max_min_p", 0.01) == (0, 2)
    # two correct answers of different lengths: equal raw rewards, so no pair (unlike max_min_len_penalty)
    assert pairs_of(tmp_path, [("cc", ["a" * 50, "a"])], "max_min_p", length_penalty=0.01) == [None]
    (pair,), _ = run(tmp_path, [labeled(0, "cnw", texts=texts)], "max_min_p", length_penalty=0.01)
    assert (pair["chosen_reward"], pair["rejected_reward"], pair["margin"]) == (1.0, -0.5, 1.5)


def test_original_semantics_see_duplicates(tmp_path):
    # the original indexes all K responses: a repeated text is not removed first
    texts = ["same", "same", "other"]
    assert pairs_of(tmp_path, [("ccn", texts)], "max_random") == [None]  # responses 0 and 1 tie
    assert pairs_of(tmp_path, [("ccn", texts)], "max_random_lower") == [(0, 2)]


# The project's variants, on scores: (chosen, rejected) index sets, or None for no pair.
@pytest.mark.parametrize(
    "name, scores, chosen, rejected",
    [
        ("max_min_len_penalty", [-0.5, 1.0, -1.0], {1}, {2}),
        ("max_min_len_penalty", [1.0, 1.0, -1.0, -1.0], {0, 1}, {2, 3}),
        ("max_min_len_penalty", [1.0, 1.0, 1.0], None, None),
        ("max_random_lower", [1.0, -0.5, -1.0, 1.0], {0, 3}, {1, 2}),
        ("max_random_lower", [-1.0, -1.0], None, None),
        ("max_next_lower", [1.0, -0.5, -1.0, -0.5], {0}, {1, 3}),
        ("max_next_lower", [1.0, 1.0, -1.0], {0, 1}, {2}),
        ("max_next_lower", [-0.5, -0.5], None, None),
    ],
)
def test_variant_table(name, scores, chosen, rejected):
    for seed in range(20):
        picked = STRATEGIES[name].pick(scores, random.Random(seed))
        if chosen is None:
            assert picked is None
        else:
            assert picked[0] in chosen and picked[1] in rejected


@pytest.mark.parametrize("name", VARIANTS)
def test_variants_pair_strictly_better_with_worse_and_tie_only_when_equal(name):
    rng = random.Random(0)
    for _ in range(500):
        scores = [rng.choice([1.0, -0.5, -1.0]) for _ in range(rng.randint(1, 6))]
        picked = STRATEGIES[name].pick(scores, rng)
        if picked is None:
            assert len(set(scores)) == 1
        else:
            assert picked[0] != picked[1] and scores[picked[0]] > scores[picked[1]]


def test_max_random_lower_reaches_every_lower_response():
    seen = {STRATEGIES["max_random_lower"].pick([1.0, -0.5, -1.0, -1.0], random.Random(s))[1] for s in range(200)}
    assert seen == {1, 2, 3}


@pytest.mark.parametrize("choose_type", CHOOSE_TYPES)
def test_k1_empty_and_equal_rewards_give_nothing_and_are_counted(tmp_path, choose_type):
    records = [labeled(0, "c"), labeled(1, ""), labeled(2, "ww"), labeled(3, "nnn")]
    out, stats = run(tmp_path, records, choose_type)
    if choose_type == "raft":
        assert [r["idx"] for r in out] == [0]
        assert stats["no_record"]["no_correct"] == 3
    elif choose_type == "reward_blind":  # equal rewards do not stop it: two distinct texts make a pair
        assert [r["idx"] for r in out] == [2, 3]
        assert stats["no_record"]["fewer_than_2"] == 2 and stats["no_record"]["tie"] == 0
    else:  # the penalised strategies too: equal rewards at equal lengths are still ties
        assert out == []
        assert stats["no_record"]["fewer_than_2"] == 2 and stats["no_record"]["tie"] == 2
    assert stats["prompts"] == 4 and stats["records"] == len(out)
    assert set(stats["no_record"]) == set(NO_RECORD_REASONS)


@pytest.mark.parametrize("choose_type", sorted(set(STRATEGIES) - {"reward_blind"}))
def test_pairs_never_repeat_a_text_and_margin_is_positive(tmp_path, choose_type):
    rng = random.Random(1)
    records = []
    for idx in range(200):
        k = rng.randint(1, 8)
        flags = "".join(rng.choice("cwn") for _ in range(k))
        texts = [rng.choice(["", "a", "b", r"\boxed{5}"]) for _ in range(k)]  # duplicates and empty texts
        records.append(labeled(idx, flags, texts=texts))
    out, stats = run(tmp_path, records, choose_type)
    assert out, "some prompts must give a pair"
    for pair in out:
        assert pair["chosen"] != pair["rejected"]
        assert pair["margin"] > 0 and pair["margin"] == pytest.approx(pair["chosen_reward"] - pair["rejected_reward"])
    assert stats["records"] + sum(stats["no_record"].values()) == 200


@pytest.mark.parametrize("choose_type, reason, duplicates", [("max_min", "tie", 0), ("max_next_lower", "fewer_than_2", 1)])
def test_identical_texts_graded_differently_give_no_pair(tmp_path, choose_type, reason, duplicates):
    # e.g. a timeout graded one copy wrong: the pair would teach nothing, and chosen == rejected is forbidden
    out, stats = run(tmp_path, [labeled(0, "cn", texts=["same", "same"])], choose_type)
    assert out == [] and stats["no_record"][reason] == 1 and stats["duplicates_dropped"] == duplicates


def test_empty_response_can_be_rejected(tmp_path):
    (pair,), _ = run(tmp_path, [labeled(0, "cn", texts=[r"\boxed{5}", ""])])
    assert (pair["chosen"], pair["rejected"]) == (r"\boxed{5}", "")


def test_pair_record_carries_text_exactly_as_generated(tmp_path):
    texts = ["  so \\boxed{5}\n", "I give up<|im_end|>"]  # no eos is added, none is stripped
    (pair,), _ = run(tmp_path, [labeled(7, "cn", texts=texts)])
    assert RESPONSES_HAVE_EOS is False
    assert pair == {"idx": 7, "prompt": "prompt 7", "chosen": texts[0], "rejected": texts[1],
                    "chosen_reward": 1.0, "rejected_reward": -1.0, "margin": 2.0}


@pytest.mark.parametrize(
    "unit, tokens, texts, chosen, rejected",
    [
        # all correct: the length penalty breaks the tie, shorter chosen
        ("tokens", [300, 20, 100], ["c1", "c2", "c3"], "c2", "c1"),
        ("chars", [1, 1, 1], ["x" * 30, "x" * 5, "x" * 10], "x" * 5, "x" * 30),
    ],
)
def test_max_min_len_penalty_prefers_shorter_among_equal_rewards(tmp_path, unit, tokens, texts, chosen, rejected):
    (pair,), _ = run(tmp_path, [labeled(0, "ccc", texts=texts, tokens=tokens)], "max_min_len_penalty",
                     length_unit=unit)
    assert (pair["chosen"], pair["rejected"]) == (chosen, rejected)
    assert pair["chosen_reward"] < 1.0 and pair["margin"] > 0


def test_max_min_len_penalty_default_penalty_never_overturns_rewards(tmp_path):
    # a long right answer still beats a short wrong one at the default penalty
    (pair,), _ = run(tmp_path, [labeled(0, "cw", texts=["right", "wrong"], tokens=[4000, 10])], "max_min_len_penalty")
    assert (pair["chosen"], pair["rejected"]) == ("right", "wrong")


def test_max_min_len_penalty_large_penalty_is_allowed_to_overturn(tmp_path):
    (pair,), _ = run(tmp_path, [labeled(0, "cw", texts=["right", "wrong"], tokens=[4000, 10])],
                     "max_min_len_penalty", length_penalty=0.01)
    assert (pair["chosen"], pair["rejected"]) == ("wrong", "right")


def test_length_defaults_follow_the_strategy():
    original = PairsArgs(dataset_name_or_path="in.jsonl", output_file="out.jsonl", choose_type="max_min_p")
    variant = PairsArgs(dataset_name_or_path="in.jsonl", output_file="out.jsonl", choose_type="max_min_len_penalty")
    assert (original.length_penalty, original.length_unit) == (0.0, "chars")
    assert (variant.length_penalty, variant.length_unit) == (1e-4, "tokens")


def test_original_labeled_records_without_optional_keys(tmp_path):
    # the original's reward_labeling.py output: one JSON array of {prompt, responses, gt, rewards}
    rows = [{"prompt": "p0", "responses": ["a", "b", "c"], "gt": "1", "rewards": [-1.0, 1.0, -0.5]},
            {"prompt": "p1", "responses": ["d", "e"], "gt": "2", "rewards": [1.0, 1.0]}]
    path = tmp_path / "labeled.json"
    path.write_text(json.dumps(rows, indent=4))
    args = PairsArgs(dataset_name_or_path=str(path), output_file=str(tmp_path / "pairs.jsonl"))
    summary = main(args)
    assert read_records(tmp_path / "pairs.jsonl", PAIRS) == [
        {"idx": 0, "prompt": "p0", "chosen": "b", "rejected": "a", "chosen_reward": 1.0, "rejected_reward": -1.0,
         "margin": 2.0}]
    assert summary["chosen_tokens_mean"] is None and summary["chosen_chars_mean"] == 1.0
    with pytest.raises(RecordError, match=r"labeled.json:1: choose_type raft needs the key 'correct'"):
        main(PairsArgs(dataset_name_or_path=str(path), output_file=str(tmp_path / "raft.jsonl"), choose_type="raft"))
    with pytest.raises(RecordError, match="needs num_tokens"):
        main(PairsArgs(dataset_name_or_path=str(path), output_file=str(tmp_path / "p.jsonl"),
                       choose_type="max_min_len_penalty"))


def test_raft_draws_a_correct_response_uniformly(tmp_path):
    picks = set()
    for seed in range(30):
        (rec,), _ = run(tmp_path, [labeled(0, "cwcn", texts=["a", "b", "c", "d"])], "raft", seed=seed)
        assert rec["reward"] == 1.0 and set(rec) == {"idx", "prompt", "completion", "reward"}
        picks.add(rec["completion"])
    assert picks == {"a", "c"}


@pytest.mark.parametrize(
    "option, flags, reason",
    [
        ("drop_all_correct", "ccc", "all_correct"),
        ("drop_all_wrong", "wn", "all_wrong"),
        ("drop_format_pairs", "wn", "format_only"),
    ],
)
def test_drop_options(tmp_path, option, flags, reason):
    record = labeled(0, flags, tokens=[10, 20, 30][: len(flags)])
    kept, _ = run(tmp_path, [record], "max_min_len_penalty")
    assert len(kept) == 1
    dropped, stats = run(tmp_path, [record], "max_min_len_penalty", **{option: True})
    assert dropped == [] and stats["no_record"][reason] == 1


def test_format_pairs_are_kept_and_counted_by_default(tmp_path):
    _, stats = run(tmp_path, [labeled(0, "wn"), labeled(1, "cn")])
    assert stats["records"] == 2 and stats["format_only_pairs"] == 1


def test_drop_truncated(tmp_path):
    record = labeled(0, "cwn", finish=["stop", "stop", "length"])
    (pair,), _ = run(tmp_path, [record])
    assert pair["rejected_reward"] == -1.0
    (pair,), stats = run(tmp_path, [record], drop_truncated=True)
    assert pair["rejected_reward"] == -0.5 and stats["truncated_dropped"] == 1


def test_same_seed_same_pairs_and_a_prompts_pair_ignores_the_rest_of_the_file(tmp_path):
    records = [labeled(i, "ccwwnn") for i in range(30)]
    first, _ = run(tmp_path, records, "max_random_lower", seed=3)
    again, _ = run(tmp_path, records, "max_random_lower", seed=3)
    alone, _ = run(tmp_path, records[10:11], "max_random_lower", seed=3)
    other, _ = run(tmp_path, records, "max_random_lower", seed=4)
    assert first == again and alone == [first[10]] and first != other


def test_stats_lengths_and_sections(tmp_path):
    (tmp_path / "stats.json").write_text(json.dumps({"label": {"responses": 5}}))
    records = [labeled(0, "cn", texts=["aaaa", "bb"], tokens=[4, 2]), labeled(1, "cw", texts=["cc", "d"], tokens=[6, 1])]
    run(tmp_path, records)
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["label"] == {"responses": 5}
    pairs = stats["pairs"]
    assert (pairs["records"], pairs["chosen_tokens_mean"], pairs["rejected_tokens_mean"]) == (2, 5.0, 1.5)
    assert (pairs["chosen_chars_mean"], pairs["rejected_chars_mean"], pairs["margin_mean"]) == (3.0, 1.5, 1.75)


@pytest.mark.parametrize("name, hint", [("max_mn", "did you mean 'max_min'"), ("best", "max_min, max_random")])
def test_unknown_choose_type_lists_the_valid_ones(name, hint):
    with pytest.raises(ConfigError, match=hint):
        PairsArgs(dataset_name_or_path="in.jsonl", output_file="out.jsonl", choose_type=name)


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("{oops", "not valid JSON"),
        (json.dumps({k: v for k, v in labeled(1, "c").items() if k != "rewards"}), "missing key 'rewards'"),
        (json.dumps(dict(labeled(1, "c"), responses="a")), "key 'responses' must be a list"),
        (json.dumps(dict(labeled(1, "cw"), rewards=[1.0, "bad"])), "key 'rewards'[1] must be int or float"),
        (json.dumps(dict(labeled(1, "cw"), correct=[True, 0])), "key 'correct'[1] must be bool"),
    ],
)
def test_bad_input_exits_2_naming_file_line_and_key(tmp_path, bad_line, message):
    path = tmp_path / "labeled.jsonl"
    good = json.dumps(labeled(0, "cw"))
    path.write_text(f"{good}\n{bad_line}\n{good}\n")
    out = subprocess.run([sys.executable, "annotate/pairs.py", "--dataset_name_or_path", str(path),
                          "--output_dir", str(tmp_path / "pairs.jsonl")],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert f"{path}:2: " in out.stderr and message in out.stderr and "Traceback" not in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labeled.jsonl"]


def test_label_then_pairs_from_the_command_line(tmp_path):
    samples = tmp_path / "samples.jsonl"
    write_jsonl(samples, [{"idx": i, "problem": "p", "gt": "5", "prompt": "q",
                           "responses": [r"\boxed{5}", r"\boxed{4}", "four"], "finish_reasons": ["stop"] * 3,
                           "num_tokens": [3, 3, 1]} for i in range(3)])
    for script, flags in (("annotate/label.py", []), ("annotate/pairs.py", ["--choose_type", "max_max"])):
        source = samples if script.endswith("label.py") else tmp_path / "labeled.jsonl"
        target = tmp_path / ("labeled.jsonl" if script.endswith("label.py") else "pairs.jsonl")
        out = subprocess.run([sys.executable, script, "--dataset_name_or_path", str(source), "--output_dir",
                              str(target), *flags], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
    pairs = read_records(tmp_path / "pairs.jsonl", PAIRS)
    assert [(p["chosen"], p["rejected"]) for p in pairs] == [(r"\boxed{5}", r"\boxed{4}")] * 3
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["label"]["pass@1"] == pytest.approx(1 / 3) and stats["pairs"]["records"] == 3


def test_no_records_at_all_warns_with_the_reasons_in_the_same_line(tmp_path, caplog):
    """The warning used to say "see no_record above", with nothing above it in the log."""
    with caplog.at_level(logging.WARNING, logger="annotate.pairs"):
        out, summary = run(tmp_path, [labeled(0, "cc"), labeled(1, "c")])
    assert out == []
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "from 2 prompts" in warning and "tie 1" in warning and "fewer_than_2 1" in warning
    assert "above" not in warning


def shuffled_rewards(records: list[dict], seed: int) -> list[dict]:
    """The same records with each prompt's rewards and correctness permuted (and some rewards changed)."""
    rng = random.Random(seed)
    out = []
    for record in records:
        order = list(range(len(record["rewards"])))
        rng.shuffle(order)
        rewards = [record["rewards"][i] if rng.random() < 0.8 else rng.choice([1.0, -0.5, -1.0]) for i in order]
        out.append({**record, "rewards": rewards, "correct": [r == 1.0 for r in rewards]})
    return out


def many_prompts(n: int = 100) -> list[dict]:
    rng = random.Random(3)
    return [labeled(idx, "".join(rng.choice("cwn") for _ in range(rng.randint(2, 8)))) for idx in range(n)]


def test_reward_blind_pairs_do_not_depend_on_the_rewards(tmp_path):
    records = many_prompts()
    texts = {}
    for seed in (None, 1, 2):
        folder = tmp_path / str(seed)
        folder.mkdir()
        out, _ = run(folder, records if seed is None else shuffled_rewards(records, seed), "reward_blind")
        texts[seed] = [(p["idx"], p["chosen"], p["rejected"]) for p in out]
    assert len(texts[None]) == 100  # every prompt with two distinct texts gives a pair, equal rewards or not
    assert texts[1] == texts[None] and texts[2] == texts[None]
    # the rewards are where the loop's pairs come from: the same shuffle changes max_min's pairs
    loop = [run(tmp_path / str(seed), rows, "max_min")[0] for seed, rows in ((1, records), (2, shuffled_rewards(records, 1)))]
    assert [(p["chosen"], p["rejected"]) for p in loop[0]] != [(p["chosen"], p["rejected"]) for p in loop[1]]


def test_the_original_random_strategy_is_not_reward_blind(tmp_path):
    # responses 0 and 1, but ordered by reward and dropped when equal: the reward's sign gets through
    (pair,), _ = run(tmp_path, [labeled(0, "wc")], "random")
    assert pair["chosen"].endswith(" c") and pair["rejected"].endswith(" w")
    out, stats = run(tmp_path, [labeled(0, "ww")], "random")
    assert out == [] and stats["no_record"]["tie"] == 1


@pytest.mark.parametrize("choose_type", ["max_min", "reward_blind", "max_next_lower"])
def test_reverse_pairs_swaps_chosen_and_rejected(tmp_path, choose_type):
    records = many_prompts(40)
    straight, _ = run(tmp_path, records, choose_type)
    reversed_, stats = run(tmp_path, records, choose_type, reverse_pairs=True)
    assert straight and len(reversed_) == len(straight)
    for a, b in zip(straight, reversed_, strict=True):
        assert (b["chosen"], b["rejected"]) == (a["rejected"], a["chosen"])
        assert (b["chosen_reward"], b["rejected_reward"]) == (a["rejected_reward"], a["chosen_reward"])
        assert b["margin"] == pytest.approx(-a["margin"])
    if choose_type == "max_min":
        assert stats["margin_mean"] < 0


def test_reverse_pairs_refuses_raft(tmp_path):
    with pytest.raises(ConfigError, match="raft"):
        run(tmp_path, [labeled(0, "cw")], "raft", reverse_pairs=True)
