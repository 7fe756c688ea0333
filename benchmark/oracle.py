"""The Oracle holds the pool's hidden labels and reveals them one request at a time."""
from __future__ import annotations

import numpy as np

from .errors import AlbenchError


class Oracle:
    """Reveals labels of pool positions and counts them against the budget."""

    def __init__(self, hidden_labels: np.ndarray, budget: int):
        self._labels = np.asarray(hidden_labels)
        self.budget = budget
        self.revealed: list[int] = []
        self._seen: set[int] = set()

    @property
    def used(self) -> int:
        return len(self.revealed)

    def reveal(self, positions: np.ndarray) -> np.ndarray:
        positions = np.asarray(positions, dtype=np.int64).ravel()
        if self.used + len(positions) > self.budget:
            raise AlbenchError(f"Labelling {len(positions)} more points would exceed the budget of {self.budget}.")
        again = [int(p) for p in positions if int(p) in self._seen]
        if again:
            raise AlbenchError(f"Positions {again[:5]} were already labelled.")
        self._seen.update(int(p) for p in positions)
        self.revealed.extend(int(p) for p in positions)
        return self._labels[positions].copy()

    def hidden_for_ablation(self, method: object) -> np.ndarray | None:
        """All hidden labels, for a method that declares ``uses_hidden_labels`` (an oracle ablation,
        marked † in reports); None for every other method."""
        return self._labels.copy() if getattr(method, "uses_hidden_labels", False) else None
