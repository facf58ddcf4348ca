"""The SLURM allocation a ``launcher: slurm`` run is in: checked, and its node count, when the config resolves.

The placement itself is SLURM's (srun, through common/slurm.sh); this only refuses, in one line and before
anything runs, a ``launcher: slurm`` run started outside an allocation or asking for more nodes than it has.

    python -m pipeline resolve --config configs/qwen25_math_7b_dpo.yaml launcher=slurm   # inside sbatch/salloc
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping

from common.config import ConfigError

# What sbatch and salloc set in the environment of the job's first process.
REQUIRED = ("SLURM_JOB_ID", "SLURM_JOB_NODELIST")
NODE_COUNT = ("SLURM_JOB_NUM_NODES", "SLURM_NNODES")


def allocation_nodes(env: Mapping[str, str] | None = None) -> int:
    """The node count of the allocation this process runs in; ConfigError outside one or without srun."""
    env = os.environ if env is None else env
    missing = [name for name in REQUIRED if not env.get(name)]
    count = next((env[name] for name in NODE_COUNT if env.get(name)), None)
    if count is None:
        missing.append(NODE_COUNT[0])
    if missing:
        raise ConfigError(
            f"launcher: slurm needs a SLURM allocation, but {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set: submit with `sbatch configs/slurm/iter_dpo.sbatch "
            "--config ...` (or run inside salloc), or set launcher: local"
        )
    if not count.isdigit() or int(count) < 1:
        raise ConfigError(f"launcher: slurm: the allocation's node count is not a positive integer: {count!r}")
    if shutil.which("srun", path=env.get("PATH")) is None:
        raise ConfigError("launcher: slurm: srun is not on PATH (SLURM's client tools are needed on the first node)")
    return int(count)


def grader_workers(env: Mapping[str, str] | None = None) -> int:
    """Grading processes on the driver's node of an allocation: its CPUs as SLURM gives them, else this
    process's cores."""
    env = os.environ if env is None else env
    cpus = env.get("SLURM_CPUS_ON_NODE", "")
    return int(cpus) if cpus.isdigit() and int(cpus) > 0 else len(os.sched_getaffinity(0))


def resolve_nodes(launcher: str, num_nodes: int, env: Mapping[str, str] | None = None) -> int:
    """The nodes a run uses: 1 locally; under SLURM ``num_nodes`` of the allocation (0: all of them)."""
    if launcher != "slurm":
        return 1
    available = allocation_nodes(env)
    if num_nodes > available:
        raise ConfigError(f"num_nodes is {num_nodes}, but the SLURM allocation has {available} node(s)")
    return num_nodes or available
