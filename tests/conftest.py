"""Shared fixtures: the tiny model and task built once per session, paths to ../shared, test markers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", help="also run tests marked slow (end-to-end runs)")
    parser.addoption("--gpu", action="store_true", help="also run tests marked gpu (vLLM, multi-GPU training)")


def pytest_collection_modifyitems(config, items):
    import torch

    skip_slow = pytest.mark.skip(reason="slow: run with `bash tests/run.sh --slow`")
    if not config.getoption("--gpu"):
        skip_gpu = pytest.mark.skip(reason="gpu: run with `bash tests/run.sh --gpu` on a machine with NVIDIA GPUs")
    elif not torch.cuda.is_available():
        skip_gpu = pytest.mark.skip(reason=f"needs a CUDA GPU: torch {torch.__version__} sees none")
    else:
        skip_gpu = None
    for item in items:
        # markers, not keywords: keywords hold the folder names too, and a checkout named gpu is no GPU test
        if item.get_closest_marker("slow") and not config.getoption("--slow"):
            item.add_marker(skip_slow)
        if item.get_closest_marker("gpu") and skip_gpu is not None:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the checkout (CI has it too); tests that need it skip where it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} not found: the shared benchmarks and grader corpus are not here")
    return SHARED


@pytest.fixture(scope="session")
def tiny_assets(tmp_path_factory) -> Path:
    """The demo's tiny model and a small task (2 iterations of 16 prompts), built once per session."""
    from demo.build import BuildArgs, main

    out = tmp_path_factory.mktemp("tiny")
    main(BuildArgs(output_dir=str(out), seed=0, iterations=2, num_test=20, num_sft=200, num_iter_prompts=16))
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_assets) -> Path:
    return tiny_assets / "model"
