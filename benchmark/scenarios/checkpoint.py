"""Round-level checkpoints: a cell interrupted mid-way (a killed worker, a preempted Slurm task)
resumes at its last finished round instead of from scratch.

After every finished round the runner writes, atomically, what the next round starts from: the
labelled set, the rows, selections and predictions so far, the method object (its state between
rounds, e.g. Cluster-Margin's clustering), the task models' weights when they carry over between
rounds (``learner.warm_start``), the pass counters and the log. Everything else a round uses is
derived from the cell's seeds, so a resumed cell gives the same selections and metrics as an
uninterrupted one (``tests/test_checkpoint.py``). A checkpoint belongs to one cell id; it is removed
once the cell is stored.
"""
from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.registry import METHODS
from benchmark.select.api import QueryStrategy

FILE = "round.pkl"
ROUND_FILE = "round.json"  # {"cell_id", "next_round"}: what the checkpoint holds, readable without unpickling


class CellPaused(Exception):
    """Raised by ``run_cell`` right after it checkpointed a round, when its ``stop`` callback asks it
    to stop (a time-boxed run, ``benchmark.execute.timebox``): the cell resumes at ``next_round``."""

    def __init__(self, cell_id: str, next_round: int):
        super().__init__(f"cell {cell_id} paused; it resumes at round {next_round}")
        self.cell_id, self.next_round = cell_id, next_round


class _Pickler(pickle.Pickler):
    """Method classes are saved by their registered name: plugin files are imported under private
    module names, and ``+bal`` twins are made on the fly, so neither can be found by import path."""

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, type) and issubclass(obj, QueryStrategy) and hasattr(obj, "registered_name"):
            return ("method", obj.registered_name)
        return None


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        kind, name = pid
        if kind != "method":
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        return METHODS.get(name)


@dataclass
class RoundState:
    cell_id: str
    next_round: int
    labelled: np.ndarray
    labelled_y: np.ndarray
    rows: list[dict[str, Any]]
    selections: list[dict[str, int]]
    predictions: list[np.ndarray]
    method: Any
    episode_state: Any
    forward: int
    backward: int
    log: str
    elapsed: float
    extra: dict[str, Any] = field(default_factory=dict)


def save(folder: Path, state: RoundState) -> bool:
    """Write the state atomically; False (and nothing written) if it cannot be pickled."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{FILE}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as fh:
            _Pickler(fh, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, folder / FILE)
        (folder / ROUND_FILE).write_text(json.dumps({"cell_id": state.cell_id, "next_round": state.next_round}) + "\n")
        return True
    except (pickle.PicklingError, TypeError, AttributeError):
        tmp.unlink(missing_ok=True)
        return False


def load(folder: Path | None, cell_id: str) -> RoundState | None:
    """The checkpoint of this cell in ``folder``, or None (absent, unreadable, or another cell's)."""
    if folder is None or not (folder / FILE).is_file():
        return None
    try:
        with open(folder / FILE, "rb") as fh:
            state = _Unpickler(fh).load()
    except Exception:  # a damaged checkpoint only costs the rounds it held
        return None
    return state if isinstance(state, RoundState) and state.cell_id == cell_id else None


def next_round(folder: Path, cell_id: str) -> int | None:
    """The round a checkpointed cell resumes at, from ``round.json`` (None: no checkpoint of this cell)."""
    try:
        info = json.loads((folder / ROUND_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not (folder / FILE).is_file() or not isinstance(info, dict) or info.get("cell_id") != cell_id:
        return None
    value = info.get("next_round")
    return value if isinstance(value, int) else None
