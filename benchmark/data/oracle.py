"""The Oracle holds the pool's hidden labels and reveals them one request at a time."""
from __future__ import annotations

import numpy as np

from benchmark.core.errors import AlbenchError


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


class RoundOracle:
    """One selection's access to the oracle: at most ``limit`` labels, remembered by position.

    A method that declares ``Needs(oracle=True)`` calls it inside ``select`` (the WACV balancing step,
    GALAXY's bisection); the runner then labels the rest of the selection through ``label_rest``.
    """

    def __init__(self, oracle: Oracle, limit: int):
        self._oracle = oracle
        self.limit = limit
        self.revealed: dict[int, int] = {}

    def __call__(self, positions: np.ndarray) -> np.ndarray:
        positions = np.asarray(positions, dtype=np.int64).ravel()
        if len(self.revealed) + len(positions) > self.limit:
            raise AlbenchError(f"Labelling {len(positions)} more points would exceed this selection's budget of "
                               f"{self.limit} ({len(self.revealed)} already labelled in it).")
        ys = self._oracle.reveal(positions)
        self.revealed.update(zip(map(int, positions), map(int, ys)))
        return ys

    def label_rest(self, chosen: np.ndarray) -> np.ndarray:
        """Reveal the chosen positions not yet revealed; the labels of all of ``chosen``, in order."""
        rest = np.array([p for p in np.asarray(chosen).ravel() if int(p) not in self.revealed], dtype=np.int64)
        if len(rest):
            self(rest)
        return np.array([self.revealed[int(p)] for p in np.asarray(chosen).ravel()], dtype=np.int64)
