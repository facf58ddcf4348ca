"""Generation: the engines, sample.py's shards, merge.py and the launcher, on the tiny model."""

import importlib.machinery
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from common.config import ConfigError
from common.prompt_sets import load_prompts
from common.prompts import render_prompt
from common.records import RecordError, read_records, write_jsonl
from generation import engines
from generation.engines import SamplingSpec, cut_completion, end_of_turn_token, make_engine, prompt_seed
from generation.merge import MergeArgs, read_shards
from generation.merge import main as merge_main
from generation.sample import (
    SampleArgs,
    sample_records,
    shard_path,
    shard_positions,
)
from generation.sample import main as sample_main

REPO = Path(__file__).resolve().parent.parent
NEW_TOKENS = 8  # short responses keep the file fast; nothing here depends on their length


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The tiny model gains nothing from a second thread, and on a busy shared CPU OpenMP's waits made
    two-thread generate calls up to 30x slower (bench/generation_bench.py); restored afterwards."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    return make_engine("hf", str(tiny_model_dir), batch_size=4, progress=False)


@pytest.fixture(scope="module")
def prompts(tiny_assets):
    return load_prompts(str(tiny_assets / "task" / "iter_1.jsonl"))


@pytest.fixture
def ten_prompts(tmp_path, prompts):
    path = tmp_path / "ten.jsonl"
    write_jsonl(path, prompts[:10])
    return path


def sample_args(model_dir, data, out, **overrides) -> SampleArgs:
    settings = dict(model_name_or_path=str(model_dir), dataset_name_or_path=str(data), output_dir=str(out),
                    K=2, max_new_tokens=NEW_TOKENS, seed=0, engine="hf", batch_size=4, prompt_type="chat")
    return SampleArgs(**{**settings, **overrides})


def test_k_samples_per_prompt_with_the_chat_template(engine, prompts):
    records = sample_records(engine, prompts[:5], SamplingSpec(n=3, max_new_tokens=NEW_TOKENS, seed=0), "chat")
    assert [r["idx"] for r in records] == [p["idx"] for p in prompts[:5]]
    for record, prompt in zip(records, prompts[:5], strict=True):
        assert record["prompt"] == render_prompt(engine.tokenizer, prompt["problem"], "chat")
        assert "<|im_start|>assistant" in record["prompt"]
        assert {k: record[k] for k in prompt} == prompt  # the prompt record's keys are carried unchanged
        assert len(record["responses"]) == len(record["finish_reasons"]) == len(record["num_tokens"]) == 3


def test_same_seed_same_samples_other_seed_other_samples(engine, prompts):
    texts = [p["problem"] for p in prompts[:6]]

    def responses(seed):
        return [[c.text for c in cs] for cs in engine.generate(texts, SamplingSpec(n=2, max_new_tokens=NEW_TOKENS, seed=seed))]

    first = responses(7)
    assert responses(7) == first
    assert responses(8) != first


def test_finish_reasons_and_token_counts_follow_max_new_tokens(engine, prompts):
    texts = [p["problem"] for p in prompts]
    for max_new in (1, 5):
        completions = [c for cs in engine.generate(texts, SamplingSpec(n=4, max_new_tokens=max_new, seed=0)) for c in cs]
        assert {c.finish_reason for c in completions} <= {"stop", "length"}
        assert any(c.finish_reason == "length" for c in completions)
        for c in completions:
            assert 1 <= c.num_tokens <= max_new
            if c.finish_reason == "length":
                assert c.num_tokens == max_new


def test_stop_string_cuts_a_real_generation(engine, prompts):
    """A sample, then the same prompt and seed with a stop string taken from that sample: cut right before it."""
    prompt = render_prompt(engine.tokenizer, prompts[0]["problem"])
    (full,) = engine.generate([prompt], SamplingSpec(n=1, max_new_tokens=48, seed=3))[0]
    text = full.text
    stop = next(text[i : i + 2] for i in range(2, len(text) - 2) if text[i : i + 2].isascii() and text[i : i + 2].isalpha())
    (cut,) = engine.generate([prompt], SamplingSpec(n=1, max_new_tokens=48, seed=3, stop=[stop]))[0]
    assert (cut.text, cut.finish_reason) == (text[: text.find(stop)], "stop")
    assert cut.num_tokens < full.num_tokens


def test_greedy_gives_n_identical_completions(engine, prompts):
    (completions,) = engine.generate([prompts[0]["problem"]], SamplingSpec(n=3, temperature=0, max_new_tokens=4))
    assert completions == [completions[0]] * 3


@pytest.mark.parametrize(
    "segments, stop_strings, expected_text, expected_reason, counted_segments",
    [
        # eos ends the row; the padding after it is neither text nor counted
        (["7 + 5 = 12", "<|im_end|>", "<|endoftext|>", "<|endoftext|>"], [], "7 + 5 = 12", "stop", 2),
        # no stop anywhere: the length cap
        (["7 + 5 = 12"], [], "7 + 5 = 12", "length", 1),
        # a stop string ends the row before the eos; its text is left out, its tokens counted
        (["7 + 5 = 12", ". The", "<|im_end|>"], [". The"], "7 + 5 = 12", "stop", 2),
        # a stop string that only appears after the eos does not count
        (["7 + 5", "<|im_end|>", " = 12"], ["= 12"], "7 + 5", "stop", 2),
    ],
)
def test_cut_completion(engine, segments, stop_strings, expected_text, expected_reason, counted_segments):
    tokenizer = engine.tokenizer

    def ids_of(segment):
        if segment.startswith("<|"):
            return [tokenizer.convert_tokens_to_ids(segment)]
        return tokenizer(segment, add_special_tokens=False)["input_ids"]

    pieces = [ids_of(segment) for segment in segments]
    completion = cut_completion(tokenizer, sum(pieces, []), engine.eos_ids, stop_strings)
    assert (completion.text, completion.finish_reason) == (expected_text, expected_reason)
    assert completion.num_tokens == sum(len(p) for p in pieces[:counted_segments])


def test_end_of_turn_token_of_a_chat_template(engine):
    assert end_of_turn_token(engine.tokenizer) == "<|im_end|>"
    ids, strings = engines.split_stops(engine.tokenizer, ["<|im_end|>", "###"])
    assert ids == {engine.tokenizer.convert_tokens_to_ids("<|im_end|>")} and strings == ["###"]


@pytest.mark.parametrize("num_prompts, world_size", [(10, 3), (16, 4), (2, 5), (0, 2), (7, 1)])
def test_shards_cover_every_prompt_once(num_prompts, world_size):
    positions = [p for i in range(world_size) for p in shard_positions(num_prompts, i, world_size)]
    assert sorted(positions) == list(range(num_prompts))


def test_three_shards_of_ten_prompts_merge_to_ten_records(tmp_path, tiny_model_dir, ten_prompts, prompts):
    shards = tmp_path / "shards"
    for i in range(3):
        sample_main(sample_args(tiny_model_dir, ten_prompts, shards, local_index=i, my_world_size=3))
    assert [len(s) for s in read_shards(shards, 3)] == [4, 3, 3]
    out = tmp_path / "samples.jsonl"
    merge_main(MergeArgs(shard_dir=str(shards), my_world_size=3, output_file=str(out),
                         dataset_name_or_path=str(ten_prompts)))
    merged = read_records(out)
    assert [r["idx"] for r in merged] == [p["idx"] for p in prompts[:10]]
    assert all(len(r["responses"]) == 2 for r in merged)
    # Without the prompts, the strided shard rule alone restores their order.
    merge_main(MergeArgs(shard_dir=str(shards), my_world_size=3, output_file=str(tmp_path / "b.jsonl")))
    assert read_records(tmp_path / "b.jsonl") == merged

    os.remove(shard_path(shards, 1, 3))
    with pytest.raises(ConfigError, match="shard_1_of_3.jsonl"):
        merge_main(MergeArgs(shard_dir=str(shards), my_world_size=3, output_file=str(tmp_path / "c.jsonl")))
    assert not (tmp_path / "c.jsonl").exists()


def test_merge_names_prompts_without_samples(tmp_path, tiny_model_dir, ten_prompts, prompts):
    sample_main(sample_args(tiny_model_dir, ten_prompts, tmp_path / "shards"))
    more = tmp_path / "more.jsonl"
    write_jsonl(more, prompts[:12])
    with pytest.raises(ConfigError, match=f"2 of 12 prompts have no samples: idx '{prompts[10]['idx']}'"):
        merge_main(MergeArgs(shard_dir=str(tmp_path / "shards"), my_world_size=1,
                             output_file=str(tmp_path / "m.jsonl"), dataset_name_or_path=str(more)))


def test_finished_shard_is_a_no_op_and_a_foreign_one_an_error(tmp_path, tiny_model_dir, ten_prompts, monkeypatch):
    args = sample_args(tiny_model_dir, ten_prompts, tmp_path)
    sample_main(args)
    before = shard_path(tmp_path, 0, 1).read_bytes()

    def no_model(*_args, **_kwargs):
        raise AssertionError("a finished shard must not load a model")

    monkeypatch.setattr("generation.sample.make_engine", no_model)
    sample_main(args)
    assert shard_path(tmp_path, 0, 1).read_bytes() == before
    with pytest.raises(ConfigError, match="does not hold this shard's 10 prompts x 3 responses"):
        sample_main(sample_args(tiny_model_dir, ten_prompts, tmp_path, K=3))


def test_killed_shard_reruns_cleanly(tmp_path, tiny_model_dir, ten_prompts):
    """A run killed mid-write leaves only a partial temporary file; the re-run replaces it."""
    shards = tmp_path / "shards"
    shards.mkdir()
    partial = shards / ".shard_0_of_2.jsonl.x1y2.tmp"
    partial.write_text('{"idx": "arith-iter_1-00000", "responses": ["half')
    assert not shard_path(shards, 0, 2).exists()
    for i in range(2):
        sample_main(sample_args(tiny_model_dir, ten_prompts, shards, local_index=i, my_world_size=2))
    assert not partial.exists()
    merge_main(MergeArgs(shard_dir=str(shards), my_world_size=2, output_file=str(tmp_path / "s.jsonl"),
                         dataset_name_or_path=str(ten_prompts)))
    assert len(read_records(tmp_path / "s.jsonl")) == 10


def run_launcher(tmp_path, tiny_model_dir, data, devices: str, *extra):
    env = {**os.environ, "GEN_PYTHON": sys.executable, "CUDA_VISIBLE_DEVICES": devices, "OMP_NUM_THREADS": "1"}
    command = ["bash", "generation/launch.sh", "--world_size", "2", "--model_name_or_path", str(tiny_model_dir),
               "--dataset_name_or_path", str(data), "--output_dir", str(tmp_path / "shards"), "--K", "2",
               "--max_new_tokens", "4", "--engine", "hf", *extra]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_launcher_waits_on_each_shard_and_names_the_one_that_failed(tmp_path, tiny_model_dir, ten_prompts):
    # "0,1" makes the launcher start both shards at once, as on two GPUs (they run on CPU here).
    (tmp_path / "shards").mkdir()
    shard_path(tmp_path / "shards", 1, 2).write_text("not json\n")  # shard 1 will fail on it
    out = run_launcher(tmp_path, tiny_model_dir, ten_prompts, "0,1")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "shard 1 of 2 FAILED" in out.stderr and "shard 0 of 2 FAILED" not in out.stderr
    assert len(read_records(shard_path(tmp_path / "shards", 0, 2))) == 5

    os.remove(shard_path(tmp_path / "shards", 1, 2))
    out = run_launcher(tmp_path, tiny_model_dir, ten_prompts, "", "--shards", "1")  # no GPU: shards in turn
    assert out.returncode == 0, out.stderr
    assert "all 1 shard(s) of 2 done" in out.stdout
    assert len(read_records(shard_path(tmp_path / "shards", 1, 2))) == 5


def test_launcher_help():
    out = subprocess.run(["bash", "generation/launch.sh", "--help"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0 and "--world_size" in out.stdout


def test_prompts_from_parquet_without_idx_get_row_numbers(tmp_path):
    import pyarrow
    import pyarrow.parquet

    rows = [{"question": f"What is {i} + 1?", "answer": str(i + 1), "level": i} for i in range(3)]
    pyarrow.parquet.write_table(pyarrow.Table.from_pylist(rows), tmp_path / "p.parquet")
    records = load_prompts(str(tmp_path / "p.parquet"), dataset_key="question", answer_key="answer")
    assert records == [{"idx": i, "problem": r["question"], "gt": r["answer"], "level": i} for i, r in enumerate(rows)]


@pytest.mark.parametrize(
    "lines, message",
    [
        ([{"idx": 1, "problem": "1+1", "gt": "2"}, {"idx": 2, "gt": "3"}], r"p.jsonl:2: missing field 'problem'"),
        ([{"idx": 1, "problem": "1+1", "gt": "2"}, {"idx": 1, "problem": "2+2", "gt": "4"}], r"p.jsonl:2: idx 1 repeats line 1"),
        ([{"idx": 1, "problem": "", "gt": "2"}], r"p.jsonl:1: field 'problem' must be a non-empty string"),
    ],
)
def test_bad_prompts_name_file_and_line(tmp_path, lines, message):
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    with pytest.raises(RecordError, match=message):
        load_prompts(str(tmp_path / "p.jsonl"))


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"local_index": 3, "my_world_size": 3}, "0 <= local_index < my_world_size"),
        ({"K": 0}, "n \\(samples per prompt\\) must be >= 1"),
        ({"top_p": 0.0}, "top_p must be in"),
        ({"engine": "tgi"}, "engine must be one of"),
    ],
)
def test_bad_arguments_fail_before_any_model_loads(overrides, message):
    with pytest.raises(ConfigError, match=message):
        sample_args("m", "d", "o", **overrides)


class StandInVLLM:
    """A stand-in ``vllm`` module that records what the engine asked of it.

    vLLM needs a GPU and its own environment (.venv-vllm), so recording the LLM and SamplingParams
    arguments is the only way to check the vLLM path here; a GPU test would run the real one.
    """

    def __init__(self):
        self.llm_kwargs, self.sampling_params, self.requests = None, [], None
        stand_in = self

        class SamplingParams:
            def __init__(self, **kwargs):
                self.kwargs = kwargs
                stand_in.sampling_params.append(kwargs)

        class LLM:
            def __init__(self, **kwargs):
                stand_in.llm_kwargs = kwargs

            def generate(self, requests, params, use_tqdm=True):
                stand_in.requests = requests
                return [
                    types.SimpleNamespace(outputs=[
                        types.SimpleNamespace(text=f"r{i}.{k}", token_ids=list(range(k + 1)),
                                              finish_reason="length" if k else "stop")
                        for k in range(p.kwargs["n"])
                    ])
                    for i, p in enumerate(params)
                ]

        self.module = types.ModuleType("vllm")
        self.module.__spec__ = importlib.machinery.ModuleSpec("vllm", None)
        self.module.LLM, self.module.SamplingParams = LLM, SamplingParams


@pytest.fixture
def stand_in_vllm(monkeypatch):
    stand_in = StandInVLLM()
    monkeypatch.setitem(sys.modules, "vllm", stand_in.module)
    return stand_in


def test_vllm_engine_passes_settings_through(stand_in_vllm, tiny_model_dir, prompts):
    vllm_engine = make_engine("vllm", str(tiny_model_dir), tensor_parallel_size=2, gpu_memory_utilization=0.55,
                              seed=3, max_model_len=640, dtype="bfloat16", batch_size=99)
    assert stand_in_vllm.llm_kwargs == {
        "model": str(tiny_model_dir), "tokenizer": str(tiny_model_dir), "tensor_parallel_size": 2,
        "gpu_memory_utilization": 0.55, "seed": 3, "dtype": "bfloat16", "max_model_len": 640,
    }
    spec = SamplingSpec(n=4, temperature=0.7, top_p=0.9, max_new_tokens=20, seed=5, stop=["<|im_end|>", "###"],
                        stop_token_ids=[17])
    records = sample_records(vllm_engine, prompts[:3], spec, "chat")

    tokenizer = vllm_engine.tokenizer
    eos = {tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")}
    for record, params in zip(records, stand_in_vllm.sampling_params, strict=True):
        assert params == {
            "n": 4, "temperature": 0.7, "top_p": 0.9, "max_tokens": 20, "seed": prompt_seed(5, record["prompt"]),
            "stop": ["###"], "stop_token_ids": sorted(eos | {17}), "skip_special_tokens": True,
        }
        assert record["responses"] == [f"r{records.index(record)}.{k}" for k in range(4)]
        assert record["finish_reasons"] == ["stop", "length", "length", "length"]
        assert record["num_tokens"] == [1, 2, 3, 4]
    assert len({p["seed"] for p in stand_in_vllm.sampling_params}) == 3  # a seed of its own per prompt
    assert stand_in_vllm.requests == [
        {"prompt_token_ids": tokenizer(r["prompt"], add_special_tokens=True)["input_ids"]} for r in records
    ]


def test_vllm_greedy_asks_once_and_repeats(stand_in_vllm, tiny_model_dir, prompts):
    vllm_engine = make_engine("vllm", str(tiny_model_dir))
    (completions,) = vllm_engine.generate([prompts[0]["problem"]], SamplingSpec(n=3, temperature=0, max_new_tokens=16))
    assert stand_in_vllm.sampling_params[0]["n"] == 1
    assert completions == [completions[0]] * 3


def test_auto_takes_vllm_only_with_a_gpu(stand_in_vllm, tiny_model_dir, monkeypatch):
    import torch

    assert isinstance(make_engine("auto", str(tiny_model_dir), progress=False), engines.HFEngine)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert isinstance(make_engine("auto", str(tiny_model_dir)), engines.VLLMEngine)
    with pytest.raises(ConfigError, match="unknown engine option"):
        make_engine("hf", str(tiny_model_dir), beam_width=4)


def test_prompt_over_the_context_is_dropped_recorded_and_merged(tmp_path, tiny_model_dir, prompts, caplog,
                                                                 monkeypatch):
    """A too-long prompt never reaches the engine (one would fail a whole vLLM batch); its record says why,
    the shard counts as complete, merge accounts for it, and labeling counts it as a prompt without responses."""
    from annotate.label import LabelArgs
    from annotate.label import main as label_main
    from generation.engines import encode_prompts

    rows = [dict(p) for p in prompts[:6]]
    rows[3]["problem"] = "1 + 1 " * 200
    data = tmp_path / "prompts.jsonl"
    write_jsonl(data, rows)
    engine = make_engine("hf", str(tiny_model_dir), batch_size=4, progress=False)
    lengths = [len(ids) for ids in encode_prompts(engine.tokenizer, [render_prompt(engine.tokenizer, r["problem"])
                                                                      for r in rows])]
    limit = max(n for i, n in enumerate(lengths) if i != 3) + 1
    assert lengths[3] >= limit
    sent = []
    generate = engines.HFEngine.generate
    monkeypatch.setattr(engines.HFEngine, "generate", lambda self, texts, spec: sent.extend(texts) or
                        generate(self, texts, spec))
    shards = tmp_path / "shards"
    with caplog.at_level("WARNING"):
        for i in range(2):
            sample_main(sample_args(tiny_model_dir, data, shards, local_index=i, my_world_size=2, max_model_len=limit))
    assert len(sent) == 5 and not any("1 + 1 1 + 1" in t for t in sent)
    assert "1 of 3 prompts are not sampled" in caplog.text and repr(rows[3]["idx"]) in caplog.text
    # a finished shard with a dropped record is complete: the re-run loads no model
    monkeypatch.setattr("generation.sample.make_engine", lambda *a, **k: pytest.fail("shard was complete"))
    sample_main(sample_args(tiny_model_dir, data, shards, local_index=1, my_world_size=2, max_model_len=limit))

    out = tmp_path / "samples.jsonl"
    caplog.clear()
    with caplog.at_level("WARNING"):
        merge_main(MergeArgs(shard_dir=str(shards), my_world_size=2, output_file=str(out),
                             dataset_name_or_path=str(data)))
    merged = read_records(out)
    assert [r["idx"] for r in merged] == [r["idx"] for r in rows]
    dropped = merged[3]
    assert (dropped["dropped"], dropped["responses"], dropped["prompt_tokens"], dropped["context_length"]) == (
        "prompt_too_long", [], lengths[3], limit)
    assert all(len(r["responses"]) == 2 for i, r in enumerate(merged) if i != 3)
    assert f"1 prompts were not sampled (prompt_too_long): idx {rows[3]['idx']!r}" in caplog.text
    stats = label_main(LabelArgs(dataset_name_or_path=str(out), output_file=str(tmp_path / "labeled.jsonl")))
    assert stats["prompts"] == 6 and stats["no_responses"] == 1 and stats["responses"] == 10
