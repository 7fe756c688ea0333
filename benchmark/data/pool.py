"""Data containers and the contracts for dataset and imbalance plugins."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from benchmark.core.digest import file_digest
from benchmark.core.errors import DataError
from benchmark.core.metrics import imbalance_ratio  # noqa: F401  (re-exported for imbalance plugins)


@dataclass(frozen=True)
class ImagePool:
    """What a dataset plugin's ``load()`` returns.

    Images are uint8 arrays of shape (N, C, H, W); labels are int64 in [0, num_classes).
    ``mean``/``std`` are per-channel statistics in [0, 1] units used for input normalisation.
    """

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    class_names: tuple[str, ...]
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            x, y = getattr(self, f"{split}_x"), getattr(self, f"{split}_y")
            if x.ndim != 4 or x.dtype != np.uint8:
                raise DataError(f"{self.name}: {split} images must be uint8 (N, C, H, W), got {x.dtype} {x.shape}.")
            if len(x) != len(y):
                raise DataError(f"{self.name}: {len(x)} {split} images but {len(y)} labels.")
            if len(y) and (y.min() < 0 or y.max() >= self.num_classes):
                raise DataError(f"{self.name}: {split} labels outside [0, {self.num_classes}).")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_x.shape[1:])  # type: ignore[return-value]


class Dataset(Protocol):
    """A dataset plugin: constructor stores parameters, ``load`` reads the data."""

    version: str
    needs_root: bool

    def load(self, root: Path | None) -> ImagePool: ...


@dataclass(frozen=True)
class InducedImbalance:
    """Which pool positions an imbalance keeps, and what it achieved."""

    kept: np.ndarray  # sorted indices into the pre-imbalance pool
    minority_classes: tuple[int, ...]
    achieved_ir: float
    info: dict[str, Any] = field(default_factory=dict)


class Imbalance(Protocol):
    version: str

    def apply(self, labels: np.ndarray, num_classes: int, rng: np.random.Generator) -> InducedImbalance: ...


def data_root(explicit: str | Path | None = None) -> Path | None:
    """``--data-root`` wins, then ``ALBENCH_DATA``; None when neither is set."""
    value = explicit or os.environ.get("ALBENCH_DATA")
    return Path(value).expanduser() if value else None


def md5sum(path: Path) -> str:
    """MD5 of a file (torchvision's reference sums are MD5)."""
    return file_digest(path, "md5")


def verify_md5(path: Path, expected: str, what: str) -> None:
    got = md5sum(path)
    if got != expected:
        raise DataError(f"{path} is corrupt: md5 {got}, expected {expected} ({what}). Replace it with the "
                        f"original file, or pass verify_md5: false for a file you made yourself.")
