"""The result store: one folder per finished cell, written atomically and verified when read.

Layout under ``root`` (default ``results/``)::

    cells/<cell_id>/    spec.json rounds.parquet selections.parquet predictions.npy test_labels.npy
                        summary.json environment.json log.txt
                        MANIFEST.json   written last: size and sha256 of every other file
    failed/<cell_id>/   spec.json traceback.txt reason.txt environment.json   (never counted as done)
    damaged/<cell_id>-<UTC time>/   a cell found damaged, moved aside (with a .problems.txt beside it)
                        by the run that computes it again; evidence is never deleted
    claims/<cell_id>    who is running the cell now (``benchmark.execute.claims``)
    .tmp/               folders being written; renamed into cells/ when complete

A cell is *done* iff its folder exists and verifies (``ResultStore.state``): every file present and
readable, the manifest's sizes and checksums match, and ``rounds.parquet`` has the rows the summary
says. Cells written before the manifest existed (no MANIFEST.json, no row count in the summary) are
accepted when all their files are present and readable and the last round matches the summary. Every
``read_*`` raises ``DamagedCellError`` for a damaged cell, and ``is_done`` warns
(``DamagedCellWarning``) and answers False, so reports skip damaged cells with a warning.

Writing into a read-only folder or a full disk raises one ``StoreWriteError`` and leaves the store
as it was (the staging folder is removed).
"""
from __future__ import annotations

import errno
import json
import math
import os
import shutil
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.core.digest import file_digest
from benchmark.core.errors import AlbenchError
from benchmark.core.result import CellResult
from benchmark.core.spec import CellSpec
from benchmark.execute.claims import ClaimBoard, StoreWriteError, pid_alive, write_error

MANIFEST = "MANIFEST.json"
CELL_FILES = ("spec.json", "rounds.parquet", "selections.parquet", "predictions.npy", "summary.json",
              "environment.json", "log.txt", "test_labels.npy", MANIFEST)
REQUIRED_FILES = ("spec.json", "rounds.parquet", "selections.parquet", "predictions.npy", "summary.json",
                  "environment.json", "log.txt")  # test_labels.npy and the manifest came later

__all__ = ["CELL_FILES", "CellState", "DamagedCellError", "DamagedCellWarning", "ResultStore", "StoreWriteError"]


class DamagedCellError(AlbenchError):
    """A stored cell fails verification (missing, unreadable or altered files)."""


class DamagedCellWarning(UserWarning):
    """A stored cell was skipped because it is damaged."""


@dataclass(frozen=True)
class CellState:
    status: str  # "missing" | "done" | "damaged"
    problems: tuple[str, ...] = ()


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def _fsync_folder(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync(path: Path) -> None:
    """fsync every file in a folder, then the folder itself."""
    for file in path.iterdir():
        with open(file, "rb") as fh:
            os.fsync(fh.fileno())
    _fsync_folder(path)


def _write_manifest(folder: Path, write_seconds: float | None = None) -> None:
    """MANIFEST.json: size and sha256 of every file of the folder (and how long writing them took, the
    profile's *store* phase). Written last: a cell without a matching manifest was not completely written."""
    files = {p.name: {"bytes": p.stat().st_size, "sha256": file_digest(p)} for p in sorted(folder.iterdir())}
    extra = {} if write_seconds is None else {"write_seconds": round(write_seconds, 6)}
    _write_json(folder / MANIFEST, {"format": 1, "files": files, **extra})


def _same(a: Any, b: Any) -> bool:
    """Equal floats (NaN equals NaN); values that are not numbers are not compared."""
    try:
        fa, fb = float(a), float(b)
    except (TypeError, ValueError):
        return True
    return (math.isnan(fa) and math.isnan(fb)) or math.isclose(fa, fb, rel_tol=1e-9, abs_tol=1e-12)


def _manifest_problems(folder: Path) -> list[str]:
    """Files missing or differing from MANIFEST.json (none for a cell stored before manifests)."""
    path = folder / MANIFEST
    if not path.exists():
        return [f"{name} is missing" for name in REQUIRED_FILES if not (folder / name).is_file()]
    try:
        listed = dict(json.loads(path.read_text())["files"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{MANIFEST} is unreadable ({type(exc).__name__}: {exc})"]
    problems = [f"{name} is missing" for name in REQUIRED_FILES if name not in listed and not (folder / name).is_file()]
    for name, entry in sorted(listed.items()):
        file = folder / name
        try:
            size = file.stat().st_size
            if size != entry["bytes"]:
                problems.append(f"{name} has {size} bytes, {MANIFEST} says {entry['bytes']}")
            elif file_digest(file) != entry["sha256"]:
                problems.append(f"{name} does not match its sha256 in {MANIFEST}")
        except FileNotFoundError:
            problems.append(f"{name} is missing")
        except (OSError, KeyError, TypeError) as exc:
            problems.append(f"{name} is unreadable ({type(exc).__name__}: {exc})")
    return problems


def _rows(path: Path) -> int:
    """Rows of a parquet file, from its footer."""
    import pyarrow.parquet as pq

    return int(pq.read_metadata(path).num_rows)


def _parse_problems(folder: Path) -> list[str]:
    """Files that do not parse (cells without a manifest: nothing else says their bytes are whole)."""
    readers = {".json": lambda p: json.loads(p.read_text()), ".parquet": pd.read_parquet,
               ".npy": np.load, ".txt": lambda p: p.read_text()}
    problems = []
    for file in sorted(folder.iterdir()):
        reader = readers.get(file.suffix)
        if reader is None:
            continue
        try:
            reader(file)
        except Exception as exc:  # any parse error means the file is damaged
            problems.append(f"{file.name} is unreadable ({type(exc).__name__}: {str(exc)[:200]})")
    return problems


def _rounds_problems(folder: Path) -> list[str]:
    """The rounds table has the rows the summary says (older summaries: its last row is the summary's)."""
    try:
        summary = json.loads((folder / "summary.json").read_text())
        rows = _rows(folder / "rounds.parquet")
    except Exception as exc:
        return [f"summary.json or rounds.parquet is unreadable ({type(exc).__name__}: {str(exc)[:200]})"]
    if not isinstance(summary, dict):
        return ["summary.json is not a mapping"]
    if summary.get("cell_id") not in (None, folder.name):
        return [f"summary.json is for cell {summary.get('cell_id')}, not {folder.name}"]
    expected = summary.get("rounds_rows")
    if expected is not None:
        return [f"rounds.parquet has {rows} rows, the summary says {expected}"] if rows != expected else []
    if rows == 0:
        return ["rounds.parquet has no rows"]
    last = pd.read_parquet(folder / "rounds.parquet").iloc[-1]
    if "final_accuracy" in summary and "accuracy" in last and not _same(last["accuracy"], summary["final_accuracy"]):
        return ["the last row of rounds.parquet does not match the summary's final accuracy"]
    return []


def cell_problems(folder: Path) -> list[str]:
    """What is wrong with a stored cell folder (empty: it is intact). With a manifest, matching sizes
    and checksums show that every file holds the bytes written, so only the row count is read besides;
    without one (cells stored before manifests), every file is parsed."""
    problems = _manifest_problems(folder)
    if not problems and not (folder / MANIFEST).exists():
        problems = _parse_problems(folder)
    return problems or _rounds_problems(folder)


class ResultStore:
    def __init__(self, root: str | Path = "results"):
        self.root = Path(root)
        self.cells = self.root / "cells"
        self.failed = self.root / "failed"
        self.damaged = self.root / "damaged"
        self.tmp = self.root / ".tmp"
        self.claims = ClaimBoard(self.root / "claims")
        self._checked: dict[str, tuple[tuple[int, ...], CellState]] = {}
        self._warned: set[str] = set()

    # ---------------------------------------------------------------- queries
    def state(self, cell_id: str) -> CellState:
        """missing, done (verified) or damaged (with what is wrong); verification is cached until the
        folder changes."""
        folder = self.cells / cell_id
        try:
            st = folder.stat()
        except FileNotFoundError:
            self._checked.pop(cell_id, None)
            return CellState("missing")
        manifest = folder / MANIFEST
        key = (st.st_ino, st.st_mtime_ns, manifest.stat().st_mtime_ns if manifest.exists() else 0)
        cached = self._checked.get(cell_id)
        if cached and cached[0] == key:
            return cached[1]
        try:
            problems = cell_problems(folder) if folder.is_dir() else [f"{folder} is not a folder"]
        except FileNotFoundError:  # moved away while being checked
            return CellState("missing")
        state = CellState("damaged", tuple(problems)) if problems else CellState("done")
        self._checked[cell_id] = (key, state)
        return state

    def is_done(self, cell_id: str) -> bool:
        """True iff the cell is stored and intact. A damaged cell warns once (DamagedCellWarning)."""
        state = self.state(cell_id)
        if state.status == "damaged" and cell_id not in self._warned:
            self._warned.add(cell_id)
            warnings.warn(DamagedCellWarning(
                f"Cell {cell_id} in {self.cells} is damaged ({'; '.join(state.problems)}); it is skipped. "
                f"`albench run` moves it to {self.damaged} and computes it again."), stacklevel=2)
        return state.status == "done"

    def _intact(self, cell_id: str) -> Path:
        state = self.state(cell_id)
        if state.status == "damaged":
            raise DamagedCellError(f"Cell {cell_id} in {self.cells} is damaged: {'; '.join(state.problems)}. "
                                   f"`albench run` moves it to {self.damaged} and computes it again.")
        return self.cells / cell_id

    def failed_ids(self) -> set[str]:
        return {p.name for p in self.failed.iterdir() if p.is_dir()} if self.failed.is_dir() else set()

    def failure(self, cell_id: str) -> str:
        path = self.failed / cell_id / "traceback.txt"
        return path.read_text() if path.exists() else ""

    def failure_reason(self, cell_id: str) -> str:
        """Why a cell failed: its recorded reason, else the last line of its traceback."""
        reason = self.failed / cell_id / "reason.txt"
        if reason.exists():
            return reason.read_text().strip()
        lines = self.failure(cell_id).strip().splitlines()
        return lines[-1] if lines else "?"

    def failed_since(self, cell_id: str, since: float) -> bool:
        """Whether a failure of this cell was recorded at or after ``since`` (a concurrent run's)."""
        try:
            return (self.failed / cell_id / "traceback.txt").stat().st_mtime >= since
        except FileNotFoundError:
            return False

    def read_summary(self, cell_id: str) -> dict[str, Any]:
        return dict(json.loads((self._intact(cell_id) / "summary.json").read_text()))

    def read_environment(self, cell_id: str) -> dict[str, Any]:
        return dict(json.loads((self._intact(cell_id) / "environment.json").read_text()))

    def read_spec(self, cell_id: str) -> CellSpec:
        return CellSpec.from_dict(json.loads((self._intact(cell_id) / "spec.json").read_text()))

    def read_rounds(self, cell_id: str) -> pd.DataFrame:
        return pd.read_parquet(self._intact(cell_id) / "rounds.parquet")

    def read_selections(self, cell_id: str) -> pd.DataFrame:
        """round (−1: the initial set), position, pool_index and, for cells stored since, the label revealed."""
        return pd.read_parquet(self._intact(cell_id) / "selections.parquet")

    def read_test_labels(self, cell_id: str) -> np.ndarray | None:
        """The test labels a cell was scored on (None for cells stored before they were kept)."""
        path = self._intact(cell_id) / "test_labels.npy"
        return np.load(path) if path.is_file() else None

    def read_predictions(self, cell_id: str) -> np.ndarray:
        return np.load(self._intact(cell_id) / "predictions.npy")

    # ---------------------------------------------------------------- writes
    def check_writable(self) -> None:
        """One clear StoreWriteError now if the results folder cannot be written (before any cell runs)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise write_error("write results", self.root, exc) from None

    def _staging(self, cell_id: str) -> Path:
        self.tmp.mkdir(parents=True, exist_ok=True)
        path = self.tmp / f"{cell_id}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        path.mkdir()
        return path

    def _publish(self, staging: Path, final: Path) -> bool:
        """Rename a complete staging folder into place; False if another writer put it there first."""
        _fsync(staging)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(staging, final)  # atomic on POSIX; fails if final exists and is non-empty
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY) and final.exists():
                shutil.rmtree(staging, ignore_errors=True)
                return False
            raise
        try:
            _fsync_folder(final.parent)
        except OSError:
            pass  # the rename is done; a folder fsync is best effort
        return True

    def _staged_write(self, what: str, cell_id: str, fill: Any, final: Path) -> bool:
        """Write a folder through staging (``fill(staging)``) and publish it; on any error remove the
        staging folder and raise one StoreWriteError for an OSError."""
        tmp_existed = self.tmp.exists()
        staging: Path | None = None
        try:
            staging = self._staging(cell_id)
            fill(staging)
            return self._publish(staging, final)
        except BaseException as exc:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            if not tmp_existed:
                try:
                    self.tmp.rmdir()
                except OSError:
                    pass  # not empty (another writer) or never created
            if isinstance(exc, OSError):
                raise write_error(f"{what} {cell_id}", self.root, exc) from None
            raise

    def write_cell(self, result: CellResult) -> Path:
        """Store a finished cell (MANIFEST.json last). A damaged folder in the way is moved aside first."""
        cid = result.spec.cell_id
        final = self.cells / cid
        state = self.state(cid)
        if state.status == "done":
            return final
        if state.status == "damaged":
            self.quarantine(cid)

        def fill(staging: Path) -> None:
            t0 = time.perf_counter()
            _write_json(staging / "spec.json", result.spec.to_dict())
            result.rounds.to_parquet(staging / "rounds.parquet", index=False)
            result.selections.to_parquet(staging / "selections.parquet", index=False)
            np.save(staging / "predictions.npy", result.predictions)
            if result.test_labels is not None:
                np.save(staging / "test_labels.npy", result.test_labels)
            _write_json(staging / "summary.json", {**result.summary, "rounds_rows": len(result.rounds)})
            _write_json(staging / "environment.json", result.environment)
            (staging / "log.txt").write_text(result.log)
            _write_manifest(staging, time.perf_counter() - t0)

        if self._staged_write("write cell", cid, fill, final):
            shutil.rmtree(self.failed / cid, ignore_errors=True)  # an earlier failure is superseded
        return final

    def record_failure(self, spec: CellSpec, traceback_text: str, environment: dict[str, Any],
                       reason: str = "") -> Path:
        """Keep a failed cell's traceback (and its one-line reason) apart; never counted as done."""
        cid = spec.cell_id
        final = self.failed / cid

        def fill(staging: Path) -> None:
            _write_json(staging / "spec.json", spec.to_dict())
            (staging / "traceback.txt").write_text(traceback_text)
            if reason:
                (staging / "reason.txt").write_text(reason + "\n")
            _write_json(staging / "environment.json", environment)
            shutil.rmtree(final, ignore_errors=True)

        self._staged_write("record the failure of cell", cid, fill, final)
        return final

    def checkpoint_dir(self, cell_id: str) -> Path:
        """Where a running cell keeps its round checkpoint (``checkpoints/<cell_id>/``), so that a
        rerun of an interrupted cell resumes at its last finished round."""
        return self.root / "checkpoints" / cell_id

    def drop_checkpoint(self, cell_id: str) -> None:
        shutil.rmtree(self.checkpoint_dir(cell_id), ignore_errors=True)

    def write_seconds(self, cell_id: str) -> float | None:
        """How long the store took to write the cell's files (None for cells stored before it was kept)."""
        try:
            value = json.loads((self.cells / cell_id / MANIFEST).read_text()).get("write_seconds")
        except (OSError, ValueError):
            return None
        return None if value is None else float(value)

    def quarantine(self, cell_id: str) -> Path | None:
        """Move a damaged cell to damaged/<cell_id>-<UTC time>/ (with what was wrong beside it), so it
        runs again; None if it is gone already (another run moved it)."""
        state = self.state(cell_id)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        dest = self.damaged / f"{cell_id}-{stamp}-{uuid.uuid4().hex[:6]}"
        try:
            self.damaged.mkdir(parents=True, exist_ok=True)
            os.rename(self.cells / cell_id, dest)
            dest.with_name(dest.name + ".problems.txt").write_text("\n".join(state.problems) + "\n")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise write_error(f"move damaged cell {cell_id} to {self.damaged}", self.root, exc) from None
        finally:
            self._checked.pop(cell_id, None)
        return dest

    def clean_stale(self) -> int:
        """Remove staging folders left by killed runs (never touches finished cells). A folder whose cell
        is claimed by a live process (on any host sharing the store) may still be written, and is kept."""
        if not self.tmp.is_dir():
            return 0
        live = self.claims.live()
        stale = [p for p in self.tmp.iterdir() if p.name.split("-")[0] not in live and not _writer_alive(p.name)]
        for path in stale:
            shutil.rmtree(path, ignore_errors=True)
        return len(stale)


def _writer_alive(staging_name: str) -> bool:
    """Staging folders are named <cell_id>-<pid>-<tag>; a live pid may still be writing."""
    try:
        pid = int(staging_name.split("-")[1])
    except (IndexError, ValueError):
        return False
    return pid != os.getpid() and pid_alive(pid)
