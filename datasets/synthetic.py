"""Class-conditional synthetic images generated from a seed, for tests and quick checks."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.core.registry import register_dataset
from benchmark.data.pool import ImagePool


@register_dataset("synthetic")
class Synthetic:
    """Each class is a fixed random prototype image; samples are the prototype plus Gaussian noise
    (``noise`` in prototype units) and a random shift of up to one pixel. Learnable but not trivial."""

    version = "1"
    needs_root = False

    def __init__(self, num_classes: int = 10, train_per_class: int = 100, test_per_class: int = 20,
                 size: int = 8, channels: int = 1, noise: float = 0.6, seed: int = 0):
        self.num_classes, self.train_per_class, self.test_per_class = num_classes, train_per_class, test_per_class
        self.size, self.channels, self.noise, self.seed = size, channels, noise, seed

    def _sample(self, protos: np.ndarray, per_class: int, rng: np.random.Generator):
        y = np.repeat(np.arange(self.num_classes), per_class)
        x = protos[y] + self.noise * rng.standard_normal((len(y), *protos.shape[1:]))
        shifts = rng.integers(-1, 2, size=(len(y), 2))
        for i, (dy, dx) in enumerate(shifts):
            x[i] = np.roll(x[i], (dy, dx), axis=(1, 2))
        img = np.clip((x + 2.0) / 4.0 * 255.0, 0, 255).astype(np.uint8)
        order = rng.permutation(len(y))
        return img[order], y[order].astype(np.int64)

    def load(self, root: Path | None = None) -> ImagePool:
        rng = np.random.default_rng(self.seed)
        protos = rng.standard_normal((self.num_classes, self.channels, self.size, self.size))
        train_x, train_y = self._sample(protos, self.train_per_class, rng)
        test_x, test_y = self._sample(protos, self.test_per_class, rng)
        c = self.channels
        return ImagePool("synthetic", train_x, train_y, test_x, test_y,
                         tuple(f"class{i}" for i in range(self.num_classes)), (0.5,) * c, (0.25,) * c)
