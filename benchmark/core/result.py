"""What ``run_cell`` produces for one cell, before the store writes it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from benchmark.core.spec import CellSpec


@dataclass
class CellResult:
    """What ``run_cell`` produces: the per-round table, the selections and a summary."""

    spec: CellSpec
    rounds: pd.DataFrame
    selections: pd.DataFrame
    predictions: np.ndarray
    summary: dict[str, Any]
    environment: dict[str, Any]
    log: str
    test_labels: np.ndarray | None = None  # the test labels the predictions are scored against
