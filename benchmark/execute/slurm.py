"""The Slurm executor: the pending cells go to a Slurm cluster through submitit, as one job array.

``albench run SUITE --executor slurm`` packs the cells into tasks of ``cells_per_task`` cells (many
short cells share one allocation) and submits the tasks as one job array (``executor.batch()``).
Each task loops over its cells and calls ``executors.run_and_store``, which claims the cell in
``results/claims/`` with an expiring claim, runs it and stores it atomically (or records its
failure), exactly like the local executor. So a cell is never run twice at once, whichever drivers,
local workers or Slurm tasks share the results folder, and results land in the same store.

submitit's files (the pickled tasks, logs, results) go to ``results/slurm/<array job id>/``, beside
``albench.json`` (the suite, the cells of each task, the submission time), which ``albench status``
reads to list the suite's Slurm jobs with their ``squeue`` state.

The driver waits by default: it polls the store and prints each cell as it is stored or fails,
until every cell is accounted for or no task of the array is left in the queue (cells that a
cancelled or crashed task left undone are reported ``abandoned``; the next ``albench run`` runs
them). With ``wait=False`` (``--no-wait``) it returns once the array is submitted. Ctrl-C while
waiting stops the waiting only: the jobs keep running (``scancel <job id>`` stops them).

Preemption and time limits. A task is a ``PackTask`` with a ``checkpoint`` method, so submitit
requeues a preempted or timed-out task (Slurm's ``USR2`` signal, ``signal_delay_s`` before the
limit). The requeued task simply runs the cells of its pack that are not done yet: the cell being
run when the signal came resumes at its last finished round from ``results/checkpoints/<cell_id>/``
(``run_and_store`` passes the folder to ``run_cell``; the claim of the killed process expires, the
half-written staging folder is never published), and the cells already stored are skipped.
``tests/test_slurm.py::test_preempted_task_is_requeued_and_resumes_its_cell`` does this on a real
cluster: ``scancel --signal=USR2`` mid-cell, submitit's handler requeues the task (``scontrol requeue``),
Slurm holds it ``AuthInfo=cred_expire`` (default 120 s) before it may start again, then it resumes.

Time boxes (``albench run --stop-after``). Each task's time limit becomes ``slurm_minutes``: the
time left to the deadline plus the grace plus submitit's signal delay (90 s), never above ``time``.
Each task gets the deadline: it starts no cell after it, pauses its running cell at the next round
boundary after it, and when submitit's USR2 comes after the deadline, ``PackTask.checkpoint``
stops the cell (``Overdue``: its round checkpoint is kept) instead of requeueing the task. The
driver cancels the array's tasks still pending once the grace is over and reports the cells not
stored as paused (with their checkpoint's round) or pending.

Options (command line ``--slurm-*`` or the suite's ``executor:`` block, the command line winning):
``partition``, ``time`` (minutes per task), ``gpus`` and ``cpus`` per task, ``mem_gb`` per task,
``cells_per_task``, ``wait``. A suite says, for example::

    executor: {name: slurm, partition: debug, time: 30, cpus: 1, mem_gb: 4, cells_per_task: 8}

This module imports submitit only when a sweep is submitted (``pip install submitit`` or
``albench[slurm]``).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from benchmark.core.errors import AlbenchError, SuiteError
from benchmark.core.spec import CellSpec
from benchmark.execute.claims import STALE_AFTER_S
from benchmark.execute.executors import Outcome, run_and_store, stopped_outcome
from benchmark.execute.store import ResultStore
from benchmark.execute.timebox import Overdue, TimeBox, slurm_minutes

ACTIVE_STATES = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
                 "RESIZING", "SUSPENDED", "STAGE_OUT", "SIGNALING", "PREEMPTED"}
RECORD = "albench.json"


@dataclass(frozen=True)
class SlurmOptions:
    """Resources per task and how the cells are packed; ``None``: Slurm's (or the partition's) default."""

    partition: str | None = None
    time: int = 60  # minutes per task
    gpus: int = 0
    cpus: int = 1
    mem_gb: float | None = None
    cells_per_task: int = 1
    wait: bool = True
    poll_s: float = 2.0

    def checked(self) -> SlurmOptions:
        problems = []
        if self.partition is not None and (not isinstance(self.partition, str) or not self.partition.strip()):
            problems.append(f"partition must be a non-empty string, got {self.partition!r}")
        for name, low in (("time", 1), ("gpus", 0), ("cpus", 1), ("cells_per_task", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                problems.append(f"{name} must be an integer >= {low}, got {value!r}")
        if self.mem_gb is not None and (not isinstance(self.mem_gb, (int, float)) or isinstance(self.mem_gb, bool)
                                        or self.mem_gb <= 0):
            problems.append(f"mem_gb must be a number > 0, got {self.mem_gb!r}")
        if not isinstance(self.wait, bool):
            problems.append(f"wait must be true or false, got {self.wait!r}")
        if problems:
            raise AlbenchError("Slurm options: " + "; ".join(problems) + ".")
        return self

    def merged(self, block: dict[str, Any] | None = None, **given: Any) -> SlurmOptions:
        """These options, then a suite's ``executor:`` block, then the command line's (non-None) values."""
        keys = {f.name for f in fields(self)}
        out = self
        if block:
            unknown = sorted(k for k in block if k not in keys and k != "name")
            if unknown:
                raise SuiteError(f"executor: unknown Slurm option(s) {unknown}; allowed: "
                                 f"{sorted(keys - {'poll_s'})} (and name: slurm).")
            out = replace(out, **{k: v for k, v in block.items() if k != "name"})
        out = replace(out, **{k: v for k, v in given.items() if v is not None})
        return out.checked()


def suite_executor(path: str | Path) -> tuple[str | None, dict[str, Any]]:
    """A suite's ``executor:`` key read from its YAML: (name or None, options). It is either a name
    (``executor: slurm``) or a block (``executor: {name: slurm, partition: debug, ...}``)."""
    import yaml

    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None, {}
    value = raw.get("executor") if isinstance(raw, dict) else None
    if value is None:
        return None, {}
    if isinstance(value, str):
        return value, {}
    if isinstance(value, dict):
        name = value.get("name", "slurm")
        return (str(name) if name is not None else None), {k: v for k, v in value.items() if k != "name"}
    raise SuiteError(f"executor must be a name (inline, local, slurm) or a mapping with Slurm options, "
                     f"got {value!r}.")


def cluster_problem() -> str | None:
    """Why Slurm cannot be used from here (None: sinfo answers and submitit imports)."""
    try:
        import submitit  # noqa: F401
    except ImportError:
        return "submitit is not installed (pip install submitit, or pip install 'albench[slurm]')"
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return "Slurm's commands (sinfo, sbatch) are not on PATH"
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sinfo does not answer ({exc})"
    if out.returncode != 0:
        return f"the Slurm controller does not answer: {' '.join(out.stderr.split())[:300]}"
    return None


# ------------------------------------------------------------------ one task
class PackTask:
    """What one Slurm task runs: the cells of its pack, one after another, each through
    ``run_and_store`` (claims, atomic store). ``checkpoint`` makes submitit requeue it on preemption or
    timeout; the requeued task runs the cells that are not done yet (see the module docstring)."""

    def __init__(self, cells: Sequence[dict[str, Any]], store_root: str, data_root: str | None,
                 plugin_dirs: tuple[str, ...] = (), threads: int = 1, busy_wait_s: float = STALE_AFTER_S + 30,
                 deadline: float | None = None):
        self.cells = list(cells)
        self.store_root, self.data_root, self.plugin_dirs = store_root, data_root, tuple(plugin_dirs)
        self.threads, self.busy_wait_s, self.deadline = threads, busy_wait_s, deadline

    def _expired(self) -> bool:
        return self.deadline is not None and time.time() >= self.deadline

    def __call__(self) -> list[dict[str, Any]]:
        os.environ.setdefault("OMP_NUM_THREADS", str(self.threads))
        import torch

        torch.set_num_threads(self.threads)
        outcomes: dict[int, Outcome] = {}
        for i, cell in enumerate(self.cells):
            if self._expired():
                break  # a time-boxed run: no cell starts after the deadline (the rest stay pending)
            outcomes[i] = self._run(cell)
        # A cell claimed elsewhere may be held by this task's previous run on another host (a requeue):
        # its claim expires after STALE_AFTER_S without heartbeat. Wait for it, then take it over.
        deadline = time.monotonic() + self.busy_wait_s
        while (any(o.status == "busy" for o in outcomes.values()) and time.monotonic() < deadline
               and not self._expired()):
            time.sleep(5.0)
            for i, o in list(outcomes.items()):
                if o.status == "busy":
                    outcomes[i] = self._run(self.cells[i])
        for o in outcomes.values():
            print(f"albench: {o.status} {o.label} [{o.cell_id}] {o.seconds:.1f}s {o.message}".rstrip(), flush=True)
        return [asdict(outcomes[i]) for i in sorted(outcomes)]

    def _run(self, cell: dict[str, Any]) -> Outcome:
        try:
            return run_and_store(cell, self.store_root, self.data_root, self.plugin_dirs, deadline=self.deadline)
        except Overdue:
            spec = CellSpec.from_dict(cell)
            return stopped_outcome(spec, ResultStore(self.store_root), "stopped mid-round at the task's time limit")

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """Called by submitit on preemption or timeout: requeue this same pack (done cells are skipped).
        In a time-boxed run past its deadline, stop the running cell instead (``Overdue``: its round
        checkpoint is kept, the task is not requeued)."""
        if self._expired():
            raise Overdue()
        import submitit

        return submitit.helpers.DelayedSubmission(
            PackTask(self.cells, self.store_root, self.data_root, self.plugin_dirs, self.threads, self.busy_wait_s,
                     self.deadline))


def packs(specs: Sequence[CellSpec], per_task: int) -> list[list[CellSpec]]:
    return [list(specs[i:i + per_task]) for i in range(0, len(specs), per_task)]


# ------------------------------------------------------------------ the scheduler's view
def squeue_states(job_ids: Iterable[str]) -> dict[str, str] | None:
    """``{task id (e.g. 123_4): state}`` for the tasks of these jobs that Slurm still lists; None when
    squeue cannot be asked (then the caller falls back on submitit's own bookkeeping)."""
    ids = sorted({str(j).split("_")[0] for j in job_ids})
    if not ids:
        return {}
    try:
        out = subprocess.run(["squeue", "-h", "-r", "-t", "all", "-o", "%i|%T", "-j", ",".join(ids)],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        if "Invalid job id" in out.stderr:  # every job has left the controller's memory
            return {}
        return None
    states = {}
    for line in out.stdout.splitlines():
        task, _, state = line.strip().partition("|")
        if task:
            states[task] = state.strip()
    return states


def recorded_jobs(store_root: str | Path, suite: str | None = None) -> list[dict[str, Any]]:
    """The Slurm arrays submitted into this store (``results/slurm/<id>/albench.json``), oldest first."""
    records = []
    for path in sorted(Path(store_root, "slurm").glob(f"*/{RECORD}")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if suite is None or record.get("suite") == suite:
            records.append(record)
    return sorted(records, key=lambda r: r.get("submitted", 0.0))


def status_lines(store_root: str | Path, suite: str) -> list[str]:
    """For ``albench status``: each recorded array of the suite with its tasks' squeue states."""
    records = recorded_jobs(store_root, suite)
    if not records:
        return []
    states = squeue_states(r["job_id"] for r in records) if shutil.which("squeue") else None
    lines = []
    for r in records:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.get("submitted", 0)))
        tasks = r.get("tasks", [])
        if states is None:
            shown = "squeue unavailable"
        else:
            counts: dict[str, int] = {}
            for t in tasks:
                state = states.get(t, "gone")
                counts[state] = counts.get(state, 0) + 1
            shown = ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items()))
        lines.append(f"  slurm job {r['job_id']} ({when}, {len(tasks)} task(s), {sum(len(c) for c in r.get('cells', []))} cells): "
                     f"{shown}; files in {Path(store_root, 'slurm', str(r['job_id']))}")
    return lines


# ------------------------------------------------------------------ the driver
def _executor(folder: Path, options: SlurmOptions, name: str) -> Any:
    import submitit

    executor = submitit.AutoExecutor(folder=str(folder / "%A"), cluster="slurm")
    params: dict[str, Any] = {"timeout_min": options.time, "cpus_per_task": options.cpus, "nodes": 1,
                              "tasks_per_node": 1, "name": name}
    if options.gpus:
        params["gpus_per_node"] = options.gpus
    if options.mem_gb is not None:
        params["mem_gb"] = options.mem_gb
    if options.partition:
        params["slurm_partition"] = options.partition
    repo = Path(__file__).resolve().parents[2]  # the task imports this albench, even from another folder
    params["slurm_setup"] = [f"export PYTHONPATH={repo}${{PYTHONPATH:+:$PYTHONPATH}}",
                             f"export OMP_NUM_THREADS={options.cpus}"]
    executor.update_parameters(**params)
    return executor


def submit(specs: Sequence[CellSpec], store: ResultStore, data_root: str | None, plugin_dirs: tuple[str, ...],
           options: SlurmOptions, name: str = "albench",
           deadline: float | None = None) -> tuple[str, list[Any], list[list[CellSpec]]]:
    """Submit the cells as one job array; (array job id, submitit jobs, the cells of each task)."""
    problem = cluster_problem()
    if problem:
        raise AlbenchError(f"cannot use the Slurm executor: {problem}.")
    folder = store.root.resolve() / "slurm"
    folder.mkdir(parents=True, exist_ok=True)
    groups = packs(specs, options.cells_per_task)
    executor = _executor(folder, options, name)
    data = str(Path(data_root).resolve()) if data_root else None
    plugins = tuple(str(Path(p).resolve()) for p in plugin_dirs)
    tasks = [PackTask([s.to_dict() for s in g], str(store.root.resolve()), data, plugins, options.cpus,
                      deadline=deadline) for g in groups]
    try:
        with executor.batch():
            jobs = [executor.submit(t) for t in tasks]
    except Exception as exc:  # sbatch refused (unknown partition, too many resources, ...)
        raise AlbenchError(f"Slurm refused the job array: {' '.join(str(exc).split())[:500]}") from None
    array_id = str(jobs[0].job_id).split("_")[0]
    record = {"job_id": array_id, "suite": name.removeprefix("albench-"), "submitted": time.time(),
              "tasks": [str(j.job_id) for j in jobs], "options": asdict(options),
              "cells": [[s.cell_id for s in g] for g in groups]}
    job_folder = folder / array_id
    job_folder.mkdir(parents=True, exist_ok=True)
    (job_folder / RECORD).write_text(json.dumps(record, indent=1))
    return array_id, jobs, groups


def _job_active(job: Any, states: dict[str, str] | None) -> bool:
    if states is not None:
        state = states.get(str(job.job_id))
        return state is not None and state.split()[0] in ACTIVE_STATES
    return not job.done()


def run_slurm(specs: Iterable[CellSpec], store: ResultStore, data_root: str | None = None,
              plugin_dirs: tuple[str, ...] = (), on_done: Callable[[Outcome], None] | None = None,
              options: SlurmOptions | None = None, suite_name: str = "albench",
              log: Callable[[str], None] | None = None, timebox: TimeBox | None = None) -> list[Outcome]:
    """Submit the cells as a Slurm job array and (unless ``options.wait`` is false) wait for them,
    reporting each cell through ``on_done`` as it is stored or fails; see the module docstring (also
    for ``timebox``: the tasks' time limit and deadline)."""
    options = (options or SlurmOptions()).checked()
    say = log or (lambda text: print(text, flush=True))
    todo = list(specs)
    if not todo or (timebox is not None and timebox.expired()):
        return []
    if timebox is not None:
        options = replace(options, time=slurm_minutes(options.time, timebox.left(), timebox.grace_s))
    since = time.time()
    array_id, jobs, groups = submit(todo, store, data_root, plugin_dirs, options, name=f"albench-{suite_name}",
                                    deadline=timebox.deadline if timebox is not None else None)
    say(f"submitted Slurm job array {array_id}: {len(groups)} task(s) of up to {options.cells_per_task} cell(s) "
        f"({options.cpus} CPU(s), {options.gpus} GPU(s), {options.time} min each); files in "
        f"{store.root / 'slurm' / array_id}")
    if not options.wait:
        say(f"not waiting: `albench status` shows progress, `scancel {array_id}` stops the jobs.")
        return []
    outcomes: list[Outcome] = []
    waiting = {s.cell_id: s for s in todo}
    task_of = {s.cell_id: jobs[i] for i, g in enumerate(groups) for s in g}

    def record(outcome: Outcome) -> None:
        waiting.pop(outcome.cell_id, None)
        outcomes.append(outcome)
        if on_done:
            on_done(outcome)

    def sweep_store() -> None:
        for cell_id, spec in list(waiting.items()):
            if store.is_done(cell_id):
                seconds = _cell_seconds(store, cell_id)
                record(Outcome(cell_id, spec.label(), "done", seconds))
            elif store.failed_since(cell_id, since) and cell_id not in store.claims.live():
                record(Outcome(cell_id, spec.label(), "failed", 0.0, store.failure_reason(cell_id)))

    try:
        gone_since: float | None = None
        cancelled = False
        while waiting:
            time.sleep(options.poll_s)
            sweep_store()
            if not waiting:
                break
            if timebox is not None and timebox.overdue() and not cancelled:
                cancelled = cancel_pending(array_id)  # tasks not started yet would start no cell anyway
            states = squeue_states(j.job_id for j in jobs)
            if any(_job_active(task_of[c], states) for c in waiting):
                gone_since = None
                continue
            # Every task that holds a waiting cell has left the queue: one more look at the store
            # (a file system shared over NFS may show the last cells a little late), then give up on them.
            gone_since = gone_since or time.monotonic()
            if time.monotonic() - gone_since < 2 * options.poll_s + 3:
                continue
            sweep_store()
            for cell_id, spec in list(waiting.items()):
                if timebox is not None:  # a time-boxed run: paused at its checkpoint, or still pending
                    stopped = stopped_outcome(spec, store, "stopped by the time box")
                    if stopped.status == "paused":
                        record(stopped)
                    continue
                record(Outcome(cell_id, spec.label(), "abandoned", 0.0,
                               f"Slurm task {task_of[cell_id].job_id} ended without storing it "
                               f"({_task_end(task_of[cell_id])}); the next `albench run` runs it"))
            break  # every task has left the queue: what is not stored now is paused or pending
    except KeyboardInterrupt:
        print(f"albench: stopped waiting. Slurm job array {array_id} keeps running (`scancel {array_id}` stops "
              f"it); `albench status` shows where the cells stand.", file=sys.stderr, flush=True)
        raise
    return outcomes


def cancel_pending(array_id: str) -> bool:
    """``scancel --state=PENDING`` the tasks of an array that have not started (best effort)."""
    try:
        return subprocess.run(["scancel", "--state=PENDING", str(array_id)], capture_output=True,
                              timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _cell_seconds(store: ResultStore, cell_id: str) -> float:
    try:
        return float(store.read_summary(cell_id).get("seconds", 0.0) or 0.0)
    except (AlbenchError, OSError, ValueError, AttributeError):
        return 0.0


def _task_end(job: Any) -> str:
    """How a task ended, as far as can be told without accounting (sacct)."""
    try:
        if job.paths.result_pickle.exists():
            kind, payload = _read_result(job.paths.result_pickle)
            return "finished" if kind == "success" else f"failed: {' '.join(str(payload).split())[-300:]}"
    except Exception:
        pass
    return f"cancelled, killed or lost; see {job.paths.stderr}"


def _read_result(path: Path) -> tuple[str, Any]:
    import pickle

    with path.open("rb") as f:
        out = pickle.load(f)
    return out[0], out[1]
