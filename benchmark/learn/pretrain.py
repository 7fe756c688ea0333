"""Rotation self-supervised pretraining (Gidaris, Singh & Komodakis, ICLR 2018) as a learner init.

The CVPR 2020 FK paper (§5, Alg. 1 line 1) starts every AL run from a task model pretrained to
predict which of 4 rotations (0°, 90°, 180°, 270°) was applied to an unlabelled pool image; the
last layer is then replaced by a fresh classifier. The pretraining sees only pool images (no
labels), so it depends on (dataset, imbalance, splits, seed, model, pretraining recipe) and not on
the AL method: it is computed once per such key and cached under ``$ALBENCH_CACHE/pretrain/``
(atomic write, a file lock so that parallel workers compute it once). The last epoch's weights are
kept (the paper's code keeps the epoch of best rotation accuracy on the test images); that
accuracy is measured once, on the images the cell is scored on, and reported, never used.

The FK paper's code trains it for 8 epochs over the imbalanced pool in batches of 25 images x 4
rotations, SGD lr 0.05, momentum 0.5, no weight decay, lr x0.1 at the start of epochs 3 and 6:
``{epochs: 8, batch_size: 100, lr: 0.05, momentum: 0.5, weight_decay: 0, lr_milestones: [2, 5]}``.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.core.arrays import to_numpy
from benchmark.core.cache import cache_dir, cached_artifact, key_digest
from benchmark.core.errors import AlbenchError, Rule, check_fields
from benchmark.core.profiling import PassCounter
from benchmark.learn.models import build_model
from benchmark.learn.schedule import check_lr_schedule, lr_scheduler


@dataclass(frozen=True)
class RotationRecipe:
    """How the rotation task is trained (SGD with momentum; each batch holds all 4 rotations)."""

    epochs: int = 10
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 128
    lr_step: int | None = None
    lr_milestones: list[int] | None = None
    lr_gamma: float = 0.1

    rules: ClassVar[Mapping[str, Rule]] = {
        "epochs": Rule(low=1), "lr": Rule(above=0), "momentum": Rule(low=0, high=1), "weight_decay": Rule(low=0),
        "batch_size": Rule(low=1), "lr_step": Rule(low=1), "lr_milestones": Rule(low=1, nonempty=True, distinct=True),
        "lr_gamma": Rule(above=0)}

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any], where: str = "learner.pretrain") -> RotationRecipe:
        """Check every key's type and range; a SuiteError names ``where.key`` and what is allowed."""
        check_fields(d, cls, where, "rotation pretraining", cls.rules)
        recipe = cls(**dict(d))
        check_lr_schedule(recipe.lr_step, recipe.lr_milestones, where)
        return recipe


def rotate_batch(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """All 4 rotations of every image in x (N, C, H, W) and their labels 0..3."""
    if x.shape[-1] != x.shape[-2]:
        raise AlbenchError(f"Rotation pretraining needs square images, got {tuple(x.shape[-2:])}.")
    rotated = torch.cat([torch.rot90(x, r, dims=(2, 3)) for r in range(4)])
    labels = torch.arange(4, device=x.device).repeat_interleave(len(x))
    return rotated, labels


def classifier_keys(model_name: str, in_chans: int, image_size: int) -> set[str]:
    """State-dict keys whose shape depends on the number of classes (the head to re-initialise)."""
    a = build_model(model_name, num_classes=4, in_chans=in_chans, image_size=image_size, dropout=0.0).state_dict()
    b = build_model(model_name, num_classes=5, in_chans=in_chans, image_size=image_size, dropout=0.0).state_dict()
    return {k for k in a if a[k].shape != b[k].shape}


@torch.no_grad()
def rotation_accuracy(model: torch.nn.Module, images: np.ndarray, mean: torch.Tensor, std: torch.Tensor,
                      device: torch.device, batch: int = 1024) -> float:
    """Share of the 4 rotations of ``images`` (uint8 NCHW) the rotation classifier names right."""
    model.eval()
    right = total = 0
    for start in range(0, len(images), batch):
        x = (torch.from_numpy(np.ascontiguousarray(images[start:start + batch])).to(device).float() / 255.0 - mean) / std
        xr, yr = rotate_batch(x)
        right += int((model(xr).argmax(1) == yr).sum())
        total += len(yr)
    return right / max(total, 1)


def train_rotation(model_name: str, images: np.ndarray, mean: Sequence[float], std: Sequence[float],
                   recipe: RotationRecipe, seed: int, device: torch.device,
                   counter: PassCounter | None = None,
                   eval_images: np.ndarray | None = None) -> tuple[dict[str, torch.Tensor], float | None]:
    """Train the 4-way rotation classifier on ``images`` (uint8 NCHW) from its last epoch's weights
    (no checkpoint picking); return its backbone state dict and its rotation accuracy on
    ``eval_images`` (a diagnostic only: it chooses nothing), or None without them."""
    counter = counter or PassCounter()
    _, c, h, _ = images.shape
    torch.manual_seed(seed)
    model = build_model(model_name, num_classes=4, in_chans=c, image_size=h, dropout=0.0).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)
    sched = lr_scheduler(opt, recipe.lr_step, recipe.lr_milestones, recipe.lr_gamma)
    m = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    gen = torch.Generator().manual_seed(seed)
    per_batch = max(1, recipe.batch_size // 4)
    model.train()
    for _ in range(recipe.epochs):
        order = to_numpy(torch.randperm(len(images), generator=gen))
        for start in range(0, len(order), per_batch):
            idx = np.sort(order[start:start + per_batch])
            x = (torch.from_numpy(images[idx]).to(device).float() / 255.0 - m) / s
            xr, yr = rotate_batch(x)
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(xr), yr).backward()
            opt.step()
            counter.forward += len(yr)
            counter.backward += len(yr)
        if sched:
            sched.step()
    accuracy = None if eval_images is None or not len(eval_images) else rotation_accuracy(model, eval_images, m, s, device)
    head = classifier_keys(model_name, c, h)
    return {k: v.detach().cpu() for k, v in model.state_dict().items() if k not in head}, accuracy


def rotation_checkpoint(key: Mapping[str, Any], model_name: str, images: np.ndarray, mean: Sequence[float],
                        std: Sequence[float], recipe: RotationRecipe, seed: int, device: torch.device,
                        counter: PassCounter | None = None,
                        eval_images: np.ndarray | None = None) -> tuple[Path, bool, float | None]:
    """The cached backbone for ``key`` (computing it if absent). Returns (path, computed_now, the
    rotation accuracy on ``eval_images`` measured when it was computed, kept in the cache's
    ``.json`` beside it; None if unknown). ``eval_images`` are not part of the key."""
    meta: dict[str, Any] = {"key": key, "model": model_name, "recipe": asdict(recipe)}
    path = cache_dir() / "pretrain" / f"rotation-{key_digest(meta)}.pt"

    def compute() -> dict[str, torch.Tensor]:
        state, accuracy = train_rotation(model_name, images, mean, std, recipe, seed, device, counter, eval_images)
        meta["rotation_accuracy"] = accuracy  # written to the .json with the key, after the digest was taken
        return state

    _, computed = cached_artifact(path, compute, save=lambda state, fh: torch.save(state, fh),
                                  load=lambda p: None, meta=meta)
    return path, computed, stored_rotation_accuracy(path)


def stored_rotation_accuracy(path: Path) -> float | None:
    """The rotation accuracy recorded beside a cached backbone, or None."""
    sidecar = path.parent / f"{path.name}.json"
    try:
        value = json.loads(sidecar.read_text()).get("rotation_accuracy")
    except (OSError, ValueError):
        return None
    return float(value) if isinstance(value, (int, float)) else None
