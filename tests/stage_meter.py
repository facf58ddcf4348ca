"""dpo_iteration/dpo.py or sft.py under a meter: seconds per optimizer step and CUDA memory, written by rank 0 as
JSON; for DPO also tests/zero3_probe.py's observation of the precompute engines' release. tests/gpu_smoke.py
runs it under accelerate:

    accelerate launch --config_file configs/accelerate/zero3.yaml --num_processes 1 tests/stage_meter.py \\
        METER.json dpo CONFIG.yaml --model_name_or_path M --train_file P --output_dir O

METER.json: stage; step_seconds (each optimizer step, synchronised with the GPU); setup_peak_gib (the most
allocated while the model loaded and, for DPO, the reference log-probs were computed); state_gib (allocated
after the last step: weights, gradients, optimizer state); peak_gib (the most allocated during training);
probe (DPO: engine_before, hooks_before, engine_after, hooks_after). Memory figures are null without CUDA.
"""

from __future__ import annotations

import sys
import time

from transformers import TrainerCallback
from zero3_probe import probe_release

from common.config import is_main_process, run_cli
from common.records import write_json
from dpo_iteration import dpo, sft
from dpo_iteration.training import ModelDataArgs

STAGES = {"dpo": (dpo, [dpo.DPOScriptArgs, dpo.DPOTrainConfig]), "sft": (sft, [ModelDataArgs, sft.SFTTrainConfig])}
GIB = 2**30


def cuda_memory(what: str) -> float | None:
    """torch.cuda's ``memory_allocated`` or ``max_memory_allocated`` in GiB; None without CUDA."""
    import torch

    return getattr(torch.cuda, what)() / GIB if torch.cuda.is_available() else None


def synchronize() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


class StepMeter(TrainerCallback):
    """Times each optimizer step and reads the allocator after it."""

    def __init__(self, figures: dict):
        self.figures = figures
        self.start = 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        synchronize()
        self.start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        synchronize()
        self.figures["step_seconds"].append(time.perf_counter() - self.start)
        self.figures["state_gib"] = cuda_memory("memory_allocated")
        self.figures["peak_gib"] = cuda_memory("max_memory_allocated")


def main(meter_path: str, stage: str, argv: list[str]) -> None:
    import torch

    module, dataclass_types = STAGES[stage]
    figures = {"stage": stage, "step_seconds": []}
    if stage == "dpo":
        figures["probe"] = probe_release()
    build = module.build_trainer

    def metered(args, config):
        trainer, facts = build(args, config)
        figures["setup_peak_gib"] = cuda_memory("max_memory_allocated")
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        trainer.add_callback(StepMeter(figures))
        return trainer, facts

    module.build_trainer = metered  # dpo.main and sft.main look it up when they run
    run_cli(module.main, dataclass_types, argv)
    if is_main_process():
        write_json(meter_path, figures)


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[2] not in STAGES:
        sys.exit(f"usage: stage_meter.py METER.json {{{','.join(STAGES)}}} CONFIG.yaml [--key value ...]")
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
