import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchmark.core.registry import discover
from benchmark.execute.executors import run_inline
from benchmark.execute.store import CELL_FILES, ResultStore
from benchmark.execute.suite import expand
from tests.conftest import REPO, tiny_suite

discover()


def test_cell_is_written_atomically_and_read_back(tmp_path):
    store = ResultStore(tmp_path)
    spec = expand(tiny_suite(methods=("random",))).cells[0]
    [outcome] = run_inline([spec], store)
    assert outcome.status == "done" and store.is_done(spec.cell_id)
    folder = store.cells / spec.cell_id
    assert sorted(p.name for p in folder.iterdir()) == sorted(CELL_FILES)
    assert store.read_spec(spec.cell_id) == spec
    assert store.read_summary(spec.cell_id)["cell_id"] == spec.cell_id
    env = json.loads((folder / "environment.json").read_text())
    assert env["versions"]["torch"] and env["device"] and "git_sha" in env
    assert not any(store.tmp.iterdir())


def test_failed_cell_is_recorded_apart_and_not_done(tmp_path):
    store = ResultStore(tmp_path)
    suite = tiny_suite(methods=("random",))
    suite["scenario"] = {**suite["scenario"], "rounds": 500}  # budget larger than the pool
    spec = expand(suite).cells[0]
    [outcome] = run_inline([spec], store)
    assert outcome.status == "failed" and "exceeds" in outcome.message
    assert not store.is_done(spec.cell_id) and spec.cell_id in store.failed_ids()
    assert "Traceback" in store.failure(spec.cell_id)


def test_half_written_staging_folder_is_not_done_and_is_cleaned(tmp_path):
    store = ResultStore(tmp_path)
    spec = expand(tiny_suite(methods=("random",))).cells[0]
    stale = store.tmp / f"{spec.cell_id}-999999-deadbeef"
    stale.mkdir(parents=True)
    (stale / "spec.json").write_text("{")
    assert not store.is_done(spec.cell_id)
    assert store.clean_stale() == 1 and not stale.exists()


def _cli(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "benchmark.cli", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_killed_sweep_resumes_without_rerunning_finished_cells(tmp_path, tiny_suite_file):
    suite_path = tiny_suite_file(methods=("random", "entropy", "margin"), seeds=2)
    results = tmp_path / "results"
    proc = _cli("run", str(suite_path), "--executor", "inline", "--results", str(results), "--no-progress", cwd=tmp_path)
    deadline = time.time() + 120
    cells = results / "cells"
    while time.time() < deadline and not (cells.is_dir() and len(list(cells.iterdir())) >= 2):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = {p.name: p.stat().st_mtime_ns for p in cells.iterdir()}
    assert 2 <= len(done_before) < 6
    for folder in cells.iterdir():  # every folder in cells/ is complete
        assert sorted(p.name for p in folder.iterdir()) == sorted(CELL_FILES)

    rerun = _cli("run", str(suite_path), "--executor", "inline", "--results", str(results), "--no-progress", cwd=tmp_path)
    out, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, out
    assert f"{len(done_before)} already done" in out
    after = {p.name: p.stat().st_mtime_ns for p in cells.iterdir()}
    assert len(after) == 6
    assert all(after[k] == v for k, v in done_before.items())  # untouched
    assert not list((results / ".tmp").iterdir())
