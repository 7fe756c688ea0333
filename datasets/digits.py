"""scikit-learn's bundled 8x8 digits (1,797 images, 10 classes): the embedded default dataset."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.core.registry import register_dataset
from benchmark.data.pool import ImagePool


@register_dataset("digits")
class Digits:
    """Bundled with scikit-learn, so it needs no data root. No official test split exists, so a
    fixed balanced one is drawn (``test_per_class`` images per class, seed 0, independent of the
    run's seed) and the rest forms the training split. Pixels 0..16 are rescaled to 0..255."""

    version = "1"
    needs_root = False

    def __init__(self, test_per_class: int = 30):
        self.test_per_class = test_per_class

    def load(self, root: Path | None = None) -> ImagePool:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        x = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None, :, :]
        y = bunch.target.astype(np.int64)
        rng = np.random.default_rng(0)
        test = np.sort(np.concatenate([rng.choice(np.flatnonzero(y == c), self.test_per_class, replace=False)
                                       for c in range(10)]))
        train = np.setdiff1d(np.arange(len(y)), test)
        mean = float(x[train].mean() / 255.0)
        std = float(x[train].std() / 255.0)
        return ImagePool("digits", x[train], y[train], x[test], y[test],
                         tuple(str(c) for c in range(10)), (mean,), (std,))
