"""The Slurm executor on a real cluster (``scripts/slurm_up.sh`` starts a one-node one on this host).

Every test is marked ``slurm``; the ones that submit jobs skip, saying why, when submitit is not
installed, ``sinfo`` is not found or the controller does not answer.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.execute.slurm import SlurmOptions, cluster_problem, squeue_states
from benchmark.execute.store import ResultStore
from benchmark.execute.suite import load_suite

pytestmark = pytest.mark.slurm


@pytest.fixture
def cluster():
    problem = cluster_problem()
    if problem:
        pytest.skip(f"no Slurm cluster: {problem} (scripts/slurm_up.sh starts a one-node one)")


def stored_once(store: ResultStore, cell_ids: list[str]) -> None:
    """Every cell done, stored once, nothing left behind: no claim, no staging folder, no failure."""
    for cell_id in cell_ids:
        assert store.is_done(cell_id), cell_id
    folders = [p.name for p in (store.root / "cells").iterdir()]
    assert sorted(folders) == sorted(cell_ids)
    assert not [p for p in (store.root / "claims").glob("*") if not p.name.startswith(".")]
    assert not list((store.root / ".tmp").glob("*")) if (store.root / ".tmp").exists() else True
    assert not store.failed_ids()


def task_logs(store: ResultStore) -> str:
    return "".join(p.read_text() for p in sorted((store.root / "slurm").rglob("*_log.out")))


def test_job_array_stores_every_cell_once(cluster, tiny_suite_file, tmp_path, capsys):
    path = tiny_suite_file(seeds=2)  # 4 cells
    results = tmp_path / "results"
    code = main(["run", str(path), "--executor", "slurm", "--cells-per-task", "2", "--slurm-time", "5",
                 "--results", str(results), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    store = ResultStore(results)
    ids = [c.cell_id for c in load_suite(str(path)).cells]
    assert len(ids) == 4
    stored_once(store, ids)
    assert out.count("done synthetic/") == 4
    (record_path,) = (results / "slurm").glob("*/albench.json")
    record = json.loads(record_path.read_text())
    assert len(record["tasks"]) == 2 and [len(c) for c in record["cells"]] == [2, 2]
    logs = task_logs(store)
    for cell_id in ids:  # each cell was run (and stored) by exactly one task
        assert len(re.findall(rf"albench: done \S+ \[{cell_id}\]", logs)) == 1, logs
    # a second run finds everything done and submits nothing
    assert main(["run", str(path), "--executor", "slurm", "--results", str(results), "--no-progress"]) == 0
    assert len(list((results / "slurm").glob("*/albench.json"))) == 1
    assert main(["status", str(path), "--results", str(results)]) == 0
    assert f"slurm job {record['job_id']}" in capsys.readouterr().out


def test_cancelled_task_is_completed_by_the_next_run(cluster, tiny_suite_file, tmp_path, capsys):
    path = tiny_suite_file(methods=("random",), learner={"model": "small_cnn", "epochs": 500, "batch_size": 8,
                                                           "lr": 0.05})
    results = tmp_path / "results"
    (cell,) = load_suite(str(path)).cells
    assert main(["run", str(path), "--executor", "slurm", "--no-wait", "--results", str(results),
                 "--no-progress"]) == 0
    (record_path,) = (results / "slurm").glob("*/albench.json")
    job = json.loads(record_path.read_text())["job_id"]
    claim = results / "claims" / cell.cell_id
    deadline = time.monotonic() + 40
    while not claim.exists():  # the task has started the cell
        assert time.monotonic() < deadline, "the task never claimed its cell"
        time.sleep(0.2)
    time.sleep(1.0)
    subprocess.run(["scancel", job], check=True)
    # submitit ignores scancel's SIGTERM (it waits for the USR2 of a preemption) until Slurm's KillWait
    # ends in SIGKILL; send that SIGKILL now (the claim names the task's process; this host).
    holder = ResultStore(results).claims.holder(cell.cell_id)
    assert holder is not None
    try:
        os.kill(holder.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 30
    while squeue_states([job]):
        states = squeue_states([job]) or {}
        if all(s.split()[0] not in ("PENDING", "RUNNING", "COMPLETING", "CONFIGURING") for s in states.values()):
            break
        assert time.monotonic() < deadline, states
        time.sleep(0.5)
    store = ResultStore(results)
    assert not store.is_done(cell.cell_id)  # cancelled mid-cell: nothing stored
    assert claim.exists()  # the killed task's claim is left behind; its holder is dead, so it has expired
    holder = store.claims.holder(cell.cell_id)
    assert holder is not None and store.claims.expired(holder)
    capsys.readouterr()
    # the next run takes over the dead task's claim and completes the cell, once
    assert main(["run", str(path), "--executor", "slurm", "--slurm-time", "5", "--results", str(results),
                 "--no-progress"]) == 0
    assert "done synthetic/" in capsys.readouterr().out
    stored_once(store, [cell.cell_id])
    assert len(list((results / "slurm").glob("*/albench.json"))) == 2


def test_suite_executor_block_sets_the_options(cluster, tiny_suite_file, tmp_path, capsys):
    block = {"name": "slurm", "partition": "debug", "time": 7, "cpus": 1, "mem_gb": 1, "cells_per_task": 2}
    path = tiny_suite_file(executor=block)  # 2 cells; no --executor: the suite's block decides
    results = tmp_path / "results"
    assert main(["run", str(path), "--results", str(results), "--no-progress"]) == 0
    assert "(slurm executor)" in capsys.readouterr().out
    (folder,) = [p.parent for p in (results / "slurm").glob("*/albench.json")]
    record = json.loads((folder / "albench.json").read_text())
    assert {k: record["options"][k] for k in block if k != "name"} == {k: v for k, v in block.items() if k != "name"}
    assert len(record["tasks"]) == 1
    script = (folder / f"{record['job_id']}_submission.sh").read_text()
    for line in ("--partition=debug", "--time=7", "--cpus-per-task=1", "--mem=1GB"):
        assert line in script, script
    stored_once(ResultStore(results), [c.cell_id for c in load_suite(str(path)).cells])


def test_options_merge_and_refusals(tiny_suite_file, tmp_path, capsys):
    """No cluster needed: the command line overrides the suite's block; bad combinations are refused."""
    base = SlurmOptions().merged({"name": "slurm", "time": 7, "cells_per_task": 2}, time=3, cpus=None)
    assert (base.time, base.cells_per_task, base.cpus, base.wait) == (3, 2, 1, True)
    with pytest.raises(Exception, match="unknown Slurm option"):
        SlurmOptions().merged({"partitoin": "debug"})
    with pytest.raises(Exception, match="time must be an integer"):
        SlurmOptions().merged({"time": "soon"})
    path = tiny_suite_file()
    assert main(["run", str(path), "--executor", "local", "--cells-per-task", "2"]) == 2
    assert "--cells-per-task applies to the slurm executor only" in capsys.readouterr().err
    assert main(["run", str(path), "--executor", "slurm", "--workers", "2"]) == 2
    assert "--workers applies to the local executor only" in capsys.readouterr().err
    slurm_suite = tiny_suite_file(file="s", executor={"name": "slurm", "time": 5})
    assert main(["run", str(slurm_suite), "--threads", "2", "--results", str(tmp_path / "r")]) == 2
    assert "says executor: slurm" in capsys.readouterr().err
    bad = tiny_suite_file(file="b", executor={"name": "slurm", "cpus": 0})
    assert main(["run", str(bad), "--results", str(tmp_path / "r")]) == 2
    assert "cpus must be an integer >= 1" in capsys.readouterr().err
    assert not Path(tmp_path / "r" / "slurm").exists()


def test_checkpoint_requeues_the_same_pack(tiny_suite_file, tmp_path):
    """submitit calls ``checkpoint`` on preemption or timeout and requeues what it returns: the same
    cells (the requeued task skips those already stored). Checked on the one-node cluster by hand:
    `scancel --signal=USR2` mid-cell requeued the task, which stored both cells of its pack after
    Slurm's requeue delay (about two minutes, too long for this suite)."""
    pytest.importorskip("submitit", reason="submitit is not installed")
    from benchmark.execute.slurm import PackTask, packs

    cells = load_suite(str(tiny_suite_file(seeds=2))).cells
    assert [len(p) for p in packs(list(cells), 3)] == [3, 1]
    task = PackTask([c.to_dict() for c in cells[:2]], str(tmp_path / "results"), None, (), threads=1)
    again = task.checkpoint()
    assert isinstance(again.function, PackTask) and again.function is not task
    assert again.function.cells == task.cells and again.function.store_root == task.store_root
