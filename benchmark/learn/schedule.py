"""Learning-rate schedules shared by the task-model recipe and the rotation-pretraining recipe."""
from __future__ import annotations

from collections.abc import Sequence

import torch

from benchmark.core.errors import SuiteError


def check_lr_schedule(lr_step: int | None, lr_milestones: Sequence[int] | None, where: str) -> None:
    """At most one of ``lr_step`` and ``lr_milestones``; milestones in increasing order."""
    if lr_step is not None and lr_milestones is not None:
        raise SuiteError(f"{where} sets both lr_step ({lr_step}) and lr_milestones ({list(lr_milestones)}); "
                         f"keep one (lr_step: decay every N epochs; lr_milestones: decay after these epochs).")
    if lr_milestones is not None and list(lr_milestones) != sorted(lr_milestones):
        raise SuiteError(f"{where}.lr_milestones must increase, got {list(lr_milestones)}.")


def lr_scheduler(opt: torch.optim.Optimizer, lr_step: int | None, lr_milestones: Sequence[int] | None,
                 lr_gamma: float) -> torch.optim.lr_scheduler.LRScheduler | None:
    """StepLR every ``lr_step`` epochs, MultiStepLR at ``lr_milestones`` (finished epochs), or None."""
    if lr_milestones:
        return torch.optim.lr_scheduler.MultiStepLR(opt, list(lr_milestones), lr_gamma)
    return torch.optim.lr_scheduler.StepLR(opt, lr_step, lr_gamma) if lr_step else None
