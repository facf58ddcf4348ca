"""dpo_iteration/dpo.py under a probe: what hooks the policy carries before and after the trainer releases
the engines that precomputed the reference log-probs. Run by tests/test_train.py under accelerate:

    accelerate launch --config_file configs/accelerate/cpu_zero3.yaml tests/zero3_probe.py PROBE.json \\
        CONFIG.yaml --model_name_or_path M --train_file P --output_dir O --ddp_backend gloo

Rank 0 writes PROBE.json: {"engine_before", "hooks_before", "engine_after", "hooks_after"} (hooks as
"submodule: function").
"""

import json
import sys

from common.config import is_main_process, run_cli
from dpo_iteration import dpo


def module_hooks(model) -> list[str]:
    """The forward and forward-pre hooks on every submodule (where ZeRO-3 gathers and releases parameters),
    as "submodule: hook function"."""
    return [f"{name}: {getattr(hook, '__module__', '?')}.{getattr(hook, '__qualname__', type(hook).__name__)}"
            for name, module in model.named_modules()
            for hook in [*module._forward_pre_hooks.values(), *module._forward_hooks.values()]]


def probe_release(probe_path: str | None = None) -> dict:
    """Patch dpo.py so that releasing the precompute engines is observed; returns the dict it fills (and,
    with ``probe_path``, rank 0 writes as JSON)."""
    release = dpo.release_precompute_engines
    seen = {}

    def probed(trainer):
        seen.update(engine_before=trainer._precompute_engine is not None, hooks_before=module_hooks(trainer.model))
        release(trainer)
        seen.update(engine_after=trainer._precompute_engine is not None, hooks_after=module_hooks(trainer.model))
        if probe_path and is_main_process():
            with open(probe_path, "w") as f:
                json.dump(seen, f)

    dpo.release_precompute_engines = probed
    return seen


def main(probe_path: str) -> None:
    probe_release(probe_path)
    run_cli(dpo.main, [dpo.DPOScriptArgs, dpo.DPOTrainConfig], sys.argv[2:])


if __name__ == "__main__":
    main(sys.argv[1])
