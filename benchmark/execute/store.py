"""The result store: one folder per finished cell, written atomically; failures kept apart.

Layout under ``root`` (default ``results/``)::

    cells/<cell_id>/   spec.json rounds.parquet selections.parquet predictions.npy summary.json
                       environment.json log.txt          (a cell is done iff this folder exists)
    failed/<cell_id>/  spec.json traceback.txt environment.json   (never counted as done)
    .tmp/              folders being written; renamed into cells/ when complete
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.core.result import CellResult
from benchmark.core.spec import CellSpec

CELL_FILES = ("spec.json", "rounds.parquet", "selections.parquet", "predictions.npy", "summary.json",
              "environment.json", "log.txt", "test_labels.npy")


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def _fsync_dir(path: Path) -> None:
    for file in path.iterdir():
        with open(file, "rb") as fh:
            os.fsync(fh.fileno())


class ResultStore:
    def __init__(self, root: str | Path = "results"):
        self.root = Path(root)
        self.cells = self.root / "cells"
        self.failed = self.root / "failed"
        self.tmp = self.root / ".tmp"

    # ---------------------------------------------------------------- queries
    def is_done(self, cell_id: str) -> bool:
        return (self.cells / cell_id).is_dir()

    def failed_ids(self) -> set[str]:
        return {p.name for p in self.failed.iterdir() if p.is_dir()} if self.failed.is_dir() else set()

    def failure(self, cell_id: str) -> str:
        path = self.failed / cell_id / "traceback.txt"
        return path.read_text() if path.exists() else ""

    def read_summary(self, cell_id: str) -> dict[str, Any]:
        return json.loads((self.cells / cell_id / "summary.json").read_text())

    def read_spec(self, cell_id: str) -> CellSpec:
        return CellSpec.from_dict(json.loads((self.cells / cell_id / "spec.json").read_text()))

    def read_rounds(self, cell_id: str) -> pd.DataFrame:
        return pd.read_parquet(self.cells / cell_id / "rounds.parquet")

    def read_test_labels(self, cell_id: str) -> np.ndarray | None:
        """The test labels a cell was scored on (None for cells stored before they were kept)."""
        path = self.cells / cell_id / "test_labels.npy"
        return np.load(path) if path.is_file() else None

    def read_predictions(self, cell_id: str) -> np.ndarray:
        return np.load(self.cells / cell_id / "predictions.npy")

    def _staging(self, cell_id: str) -> Path:
        self.tmp.mkdir(parents=True, exist_ok=True)
        path = self.tmp / f"{cell_id}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        path.mkdir()
        return path

    def _publish(self, staging: Path, final: Path) -> bool:
        _fsync_dir(staging)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(staging, final)  # atomic on POSIX; fails if final exists and is non-empty
            return True
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            return False

    def write_cell(self, result: CellResult) -> Path:
        cid = result.spec.cell_id
        final = self.cells / cid
        if final.exists():
            return final
        staging = self._staging(cid)
        _write_json(staging / "spec.json", result.spec.to_dict())
        result.rounds.to_parquet(staging / "rounds.parquet", index=False)
        result.selections.to_parquet(staging / "selections.parquet", index=False)
        np.save(staging / "predictions.npy", result.predictions)
        if result.test_labels is not None:
            np.save(staging / "test_labels.npy", result.test_labels)
        _write_json(staging / "summary.json", result.summary)
        _write_json(staging / "environment.json", result.environment)
        (staging / "log.txt").write_text(result.log)
        if self._publish(staging, final):
            shutil.rmtree(self.failed / cid, ignore_errors=True)  # an earlier failure is superseded
        return final

    def record_failure(self, spec: CellSpec, traceback_text: str, environment: dict[str, Any]) -> Path:
        cid = spec.cell_id
        staging = self._staging(cid)
        _write_json(staging / "spec.json", spec.to_dict())
        (staging / "traceback.txt").write_text(traceback_text)
        _write_json(staging / "environment.json", environment)
        final = self.failed / cid
        shutil.rmtree(final, ignore_errors=True)
        self._publish(staging, final)
        return final

    def clean_stale(self) -> int:
        """Remove staging folders left by killed runs (never touches finished cells)."""
        if not self.tmp.is_dir():
            return 0
        stale = [p for p in self.tmp.iterdir() if not _writer_alive(p.name)]
        for path in stale:
            shutil.rmtree(path, ignore_errors=True)
        return len(stale)


def _writer_alive(staging_name: str) -> bool:
    """Staging folders are named <cell_id>-<pid>-<tag>; a live pid may still be writing."""
    try:
        pid = int(staging_name.split("-")[1])
        os.kill(pid, 0)
    except (IndexError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return pid != os.getpid()
