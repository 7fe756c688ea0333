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
import sys
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


def scontrol_job(task: str) -> dict[str, str]:
    """``scontrol -o show job`` of one task as {field: value} ({} once the controller has forgotten it)."""
    out = subprocess.run(["scontrol", "-o", "show", "job", task], capture_output=True, text=True, timeout=30)
    return dict(re.findall(r"(\w+)=(\S*)", out.stdout)) if out.returncode == 0 else {}


def test_preempted_task_is_requeued_and_resumes_its_cell(cluster, tiny_suite_file, tmp_path):
    """A real preemption: the USR2 that Slurm sends ``signal_delay_s`` before a time limit or on
    preemption, sent mid-cell with ``scancel --signal=USR2`` (as submitit's own ``_interrupt`` does; it
    reaches the task's srun step, where submitit's handler calls ``PackTask.checkpoint`` and
    ``scontrol requeue``). The requeued task resumes the interrupted cell after its last finished round
    and runs the other cell of its pack; the waiting driver reports both, nothing is stored twice.

    Slurm holds a requeued job until ``now + cred_expire + 1`` (``AuthInfo=cred_expire``, default 120 s:
    the credentials of the killed run are revoked, a relaunch needs a newer one). Rather than wait two
    minutes, the test sets the pending task's ``StartTime=now`` (``scontrol update``, allowed to the
    job's owner; with ``now+2`` the relaunch came ~25 s later, presumably at the next periodic
    scheduling pass), at least 2.5 s after the signal. The test takes about 30 s on 2 busy cores: ~5 s to the first checkpoint,
    ~3 s from the signal to the relaunch, ~16 s for the requeued task's two cells of 6 rounds, the
    driver's polling."""
    path = tiny_suite_file(learner={"model": "small_cnn", "epochs": 300, "batch_size": 8, "lr": 0.05},
                           scenario={"initial": 10, "rounds": 6, "per_round": 5, "val_per_class": 3})
    ids = [c.cell_id for c in load_suite(str(path)).cells]
    assert len(ids) == 2
    results = tmp_path / "results"
    driver_out = tmp_path / "driver.out"
    repo = Path(__file__).resolve().parent.parent
    task = None
    with driver_out.open("w") as out:  # the waiting driver, as a user runs it
        driver = subprocess.Popen(
            [sys.executable, "-m", "benchmark.cli", "run", str(path), "--executor", "slurm", "--cells-per-task",
             "2", "--slurm-time", "15", "--results", str(results), "--no-progress"],
            cwd=repo, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 60
        while not (task or driver.poll() is not None):
            records = list((results / "slurm").glob("*/albench.json"))
            if records:
                try:
                    (task,) = json.loads(records[0].read_text())["tasks"]
                except ValueError:  # being written
                    pass
            assert time.monotonic() < deadline, "the driver never submitted the job"
            time.sleep(0.2)
        assert task, driver_out.read_text()
        deadline = time.monotonic() + 90
        while not (checkpoints := list((results / "checkpoints").glob("*/round.pkl"))):
            assert driver.poll() is None and time.monotonic() < deadline, \
                f"no round checkpoint: {driver_out.read_text()} {scontrol_job(task)}"
            time.sleep(0.2)
        (interrupted,) = [c.parent.name for c in checkpoints]
        assert not ResultStore(results).is_done(interrupted)
        subprocess.run(["scancel", "--signal=USR2", task], check=True, timeout=30)
        signalled = time.time()

        deadline = time.monotonic() + 60  # the task requeues itself; Slurm holds it until its BeginTime
        while (job := scontrol_job(task)).get("JobState") != "PENDING":
            assert job.get("JobState") in ("RUNNING", "COMPLETING", "REQUEUED", "PENDING") and \
                time.monotonic() < deadline, job
            time.sleep(0.5)
        assert job["Restarts"] == "1" and job["Reason"] == "BeginTime", job
        # a margin: the relaunch's credential is then newer, in whole seconds, than the revocation of the
        # killed run's (the reason for Slurm's delay; slurmctld reissues the credential anyway)
        time.sleep(max(0.0, signalled + 2.5 - time.time()))
        subprocess.run(["scontrol", "update", f"jobid={task}", "StartTime=now"], check=True, timeout=30)
        try:
            driver.wait(timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the requeued task did not finish: {scontrol_job(task)}\n{driver_out.read_text()}")
    finally:
        if driver.poll() is None:
            driver.kill()
        if task:
            subprocess.run(["scancel", task], capture_output=True, timeout=30)  # nothing left queued

    said = driver_out.read_text()
    assert driver.returncode == 0, said
    assert said.count("done synthetic/") == 2 and "abandoned" not in said, said
    deadline = time.monotonic() + 30  # the driver returns once the cells are stored: the task may still end
    while (job := scontrol_job(task)).get("JobState") in ("RUNNING", "COMPLETING") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert job.get("JobState") == "COMPLETED" and job.get("Restarts") == "1", job
    store = ResultStore(results)
    stored_once(store, ids)
    logs = task_logs(store)  # the requeued run appends to the first one's log
    assert "Calling checkpoint method" in logs and f"Requeued job {task}" in logs, logs
    for cell_id in ids:
        assert len(re.findall(rf"albench: done \S+ \[{cell_id}\]", logs)) == 1, logs
    for cell_id in ids:
        cell_log = (results / "cells" / cell_id / "log.txt").read_text()
        resumed = re.findall(r"resumed from the checkpoint after round (\d+)", cell_log)
        if cell_id == interrupted:
            assert len(resumed) == 1 and int(resumed[0]) < 6, cell_log
            for b in range(7):  # the rounds before the interruption come from the checkpoint, none twice
                assert cell_log.count(f"round {b}: labels=") == 1, cell_log
        else:
            assert not resumed, cell_log
    assert not list((results / "checkpoints").glob("*")), "a checkpoint was left behind after storing"


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
    cells (the requeued task skips those already stored). No cluster needed; the real requeue is
    ``test_preempted_task_is_requeued_and_resumes_its_cell``."""
    pytest.importorskip("submitit", reason="submitit is not installed")
    from benchmark.execute.slurm import PackTask, packs

    cells = load_suite(str(tiny_suite_file(seeds=2))).cells
    assert [len(p) for p in packs(list(cells), 3)] == [3, 1]
    task = PackTask([c.to_dict() for c in cells[:2]], str(tmp_path / "results"), None, (), threads=1)
    again = task.checkpoint()
    assert isinstance(again.function, PackTask) and again.function is not task
    assert again.function.cells == task.cells and again.function.store_root == task.store_root
