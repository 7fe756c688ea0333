"""The executors by name, for ``albench run --executor``: ``inline`` and ``local``
(``benchmark.execute.executors``) and ``slurm`` (``benchmark.execute.slurm``, which builds on the
local executor's ``run_and_store``; submitit is imported only when a job is submitted)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmark.execute.executors import run_inline, run_local
from benchmark.execute.slurm import run_slurm

EXECUTORS: dict[str, Callable[..., Any]] = {"inline": run_inline, "local": run_local, "slurm": run_slurm}
