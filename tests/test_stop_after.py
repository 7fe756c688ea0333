"""Time-boxed runs (``albench run --stop-after``): no cell starts after the deadline, running cells
pause at their next round boundary with their checkpoint kept, cells still inside a round when the
grace is over are stopped there, and the run exits 0 with one summary line within
stop_after + grace + the executor's shutdown; the next run resumes the paused cells."""
from __future__ import annotations

import calendar
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from benchmark.cli import main
from benchmark.core.errors import AlbenchError
from benchmark.core.registry import METHODS, discover
from benchmark.execute.executors import GRACE_S, Outcome
from benchmark.execute.slurm import PackTask, run_slurm
from benchmark.execute.store import ResultStore
from benchmark.execute.suite import load_suite
from benchmark.execute.timebox import Overdue, TimeBox, count_outcomes, parse_duration, slurm_minutes, summary_line
from benchmark.scenarios.checkpoint import next_round
from tests.conftest import REPO, tiny_suite

PLUGIN = '''
import time
from benchmark.core.registry import register_method
from benchmark.select.api import QueryStrategy


@register_method("sleepy")
class Sleepy(QueryStrategy):
    """Random picks after sleeping ``delay`` seconds; from round ``block_from`` on (>= 0), select
    sleeps for an hour: a cell that never reaches its next round boundary."""

    version = "1"

    def __init__(self, delay: float = 0.0, block_from: int = -1, tag: int = 0):
        self.delay, self.block_from, self.tag = delay, block_from, tag

    def select(self, view, k, rng):
        if 0 <= self.block_from <= view.round:
            time.sleep(3600)
        time.sleep(self.delay)
        return rng.choice(view.unlabelled, k, replace=False)
'''


@pytest.fixture(scope="module")
def sleepy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plugins")
    file = folder / "sleepy.py"
    file.write_text(PLUGIN)
    discover([folder])
    yield folder
    from benchmark.core import registry

    METHODS._entries.pop("sleepy", None)
    METHODS._sources.pop("sleepy", None)
    registry._loaded.discard(file.resolve())


def _suite(tmp_path: Path, methods: list[dict], rounds: int, initial: int = 10) -> Path:
    """A tiny suite; with ``initial: 0`` round 0 trains nothing (its select runs at once), so its
    checkpoint exists within moments of the cell's start, however loaded the machine is."""
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(tiny_suite(methods=methods, scenario={
        "initial": initial, "rounds": rounds, "per_round": 3, "val_per_class": 3})))
    return path


SUMMARY = re.compile(r"albench: --stop-after: time is up: (\d+) finished, (\d+) paused(?: \((.*?)\))?, (\d+) pending")


def _summary(out: str) -> tuple[int, int, list[tuple[str, int]], int]:
    lines = [line for line in out.splitlines() if line.startswith("albench: --stop-after")]
    assert len(lines) == 1, out
    m = SUMMARY.match(lines[0])
    assert m, lines[0]
    paused = [(p.rsplit(" at round ", 1)[0], int(p.rsplit(" at round ", 1)[1])) for p in (m[3] or "").split(", ") if p]
    return int(m[1]), int(m[2]), paused, int(m[4])


# ------------------------------------------------------------------ pure functions
@pytest.mark.parametrize("text, seconds", [("500s", 500), ("8m", 480), ("1h30m", 5400), ("90", 90), ("2.5m", 150),
                                           (" 1M ", 60), ("0.5", 0.5)])
def test_durations_parse(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-5", "8x", "m", "5 m", "inf", "1h-2m"])
def test_bad_durations_are_refused(text):
    with pytest.raises(AlbenchError, match="500s, 8m"):
        parse_duration(text)


def test_bad_duration_is_one_line_cli_error(capsys):
    assert main(["run", "quick", "--stop-after", "8x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--stop-after" in err and "'8x'" in err
    assert main(["run", "quick", "--stop-grace", "5s"]) == 2
    assert "give --stop-after" in capsys.readouterr().err


@pytest.mark.parametrize("time_min, left, grace, delay, minutes", [
    (60, 480, 60, 90, 11),   # 630 s → 10.5 min, rounded up
    (60, 450, 60, 90, 10),   # exactly 600 s
    (5, 480, 60, 90, 5),     # never above the suite's time per task
    (60, 0, 0, 0, 1),        # never below a minute
    (60, 0, 30, 90, 2),      # the deadline passed: the grace and the signal delay remain
])
def test_slurm_time_limit_follows_the_deadline(time_min, left, grace, delay, minutes):
    assert slurm_minutes(time_min, left, grace, delay) == minutes


def test_slurm_time_limit_refuses_negative_seconds():
    with pytest.raises(AlbenchError, match="non-negative"):
        slurm_minutes(60, -1, 0)


def test_summary_counts_each_kind_of_outcome():
    outcomes = [Outcome("a", "A", "done", 1.0), Outcome("b", "B", "paused", 1.0, next_round=3),
                Outcome("c", "C", "abandoned", 0.0), Outcome("d", "D", "failed", 0.0),
                Outcome("e", "E", "busy", 0.0)]
    counted = count_outcomes(outcomes, todo=8)
    assert counted == (1, [("B [b]", 3)], 1 + 3, 1, 1)  # abandoned (no checkpoint) + 3 never started: pending
    line = summary_line(*counted)
    assert line == ("albench: --stop-after: time is up: 1 finished, 1 paused (B [b] at round 3), 4 pending, 1 failed, "
                    "1 busy or done elsewhere; run the same command again to continue")
    assert summary_line(2, [], 0, stopped=False) == \
        "albench: --stop-after: all cells ran before the time was up: 2 finished, 0 paused, 0 pending"


def test_slurm_task_past_its_deadline_starts_no_cell_and_is_not_requeued(tmp_path, sleepy):
    cell = load_suite(_suite(tmp_path, [{"name": "sleepy"}], 2)).cells[0].to_dict()
    task = PackTask([cell], str(tmp_path / "results"), None, (str(sleepy),), deadline=time.time() - 1)
    assert task() == []
    assert not (tmp_path / "results" / "cells").exists()
    with pytest.raises(Overdue):
        task.checkpoint()  # submitit's USR2 after the deadline stops the cell instead of requeueing


def test_slurm_driver_submits_nothing_after_the_deadline(tmp_path, sleepy):
    specs = load_suite(_suite(tmp_path, [{"name": "sleepy"}], 2)).cells
    assert run_slurm(specs, ResultStore(tmp_path / "results"), timebox=TimeBox(time.time() - 1, 0.0)) == []


# ------------------------------------------------------------------ inline
def test_inline_run_pauses_at_a_round_boundary_and_the_next_run_resumes(tmp_path, sleepy, capsys):
    """Three cells of 4 rounds, 0.4 s of select per round: the deadline (1 s) falls inside the first
    cell, which pauses at its next round boundary; the others never start."""
    suite = _suite(tmp_path, [{"name": "sleepy", "delay": 0.4, "tag": t} for t in range(3)], 4, initial=0)
    results = tmp_path / "results"
    args = ["run", str(suite), "--results", str(results), "--plugins", str(sleepy), "--executor", "inline",
            "--no-progress"]
    t0 = time.monotonic()
    assert main([*args, "--stop-after", "1s", "--stop-grace", "60s"]) == 0
    took = time.monotonic() - t0
    finished, paused, labels, pending = _summary(capsys.readouterr().out)
    assert (finished, paused, pending) == (0, 1, 2)
    first = load_suite(suite).cells[0]
    store = ResultStore(results)
    resume = next_round(store.checkpoint_dir(first.cell_id), first.cell_id)
    assert labels == [(f"{first.label()} [{first.cell_id}]", resume)] and 1 <= resume <= 4
    assert took < 1 + 60  # one round after the deadline (a round here: seconds, even on a loaded CPU)
    assert not (results / "cells").exists() and not list((results / "claims").iterdir())

    assert main(args) == 0  # no time box: everything runs, the paused cell from its checkpoint
    assert all(store.is_done(c.cell_id) for c in load_suite(suite).cells)
    assert f"resumed from the checkpoint after round {resume - 1}" in (results / "cells" / first.cell_id / "log.txt").read_text()
    assert store.read_rounds(first.cell_id)["round"].tolist() == [0, 1, 2, 3, 4]
    assert not store.checkpoint_dir(first.cell_id).exists()


def test_inline_cell_inside_a_round_is_stopped_when_the_grace_is_over(tmp_path, sleepy, capsys):
    """A cell whose round 1 never ends: stopped stop_after + grace after the start, paused at round 1
    (its round-0 checkpoint); the run still exits 0."""
    suite = _suite(tmp_path, [{"name": "sleepy", "block_from": 1}, {"name": "sleepy", "tag": 1}], 3, initial=0)
    results = tmp_path / "results"
    t0 = time.monotonic()
    code = main(["run", str(suite), "--results", str(results), "--plugins", str(sleepy), "--executor", "inline",
                 "--no-progress", "--stop-after", "3s", "--stop-grace", "2s"])
    took = time.monotonic() - t0
    assert code == 0
    finished, paused, labels, pending = _summary(capsys.readouterr().out)
    first = load_suite(suite).cells[0]
    assert (finished, paused, pending) == (0, 1, 1) and labels == [(f"{first.label()} [{first.cell_id}]", 1)]
    assert 5.0 <= took < 5.0 + 5  # stop_after + grace, plus the alarm's unwinding
    store = ResultStore(results)
    assert next_round(store.checkpoint_dir(first.cell_id), first.cell_id) == 1
    assert not (results / "claims").exists() or not list((results / "claims").iterdir())
    assert not (store.tmp.exists() and any(store.tmp.iterdir()))


# ------------------------------------------------------------------ local workers
@pytest.mark.slow
def test_local_run_stops_within_its_bound_and_keeps_the_checkpoints(tmp_path, sleepy):
    """Two workers: cell A (4 s per round, 30 rounds: 2 min) is running at the deadline and pauses at its
    next round boundary; cell B never ends its round 1 and is stopped when the grace is over; cell C
    never starts. The driver exits 0 within stop_after + grace + GRACE_S + start-up and teardown.
    (Slow: a fresh worker's first round took 16 s to over a minute on the loaded 2-core CPU, so the
    time box is 90 s; the bound is measured from the deadline the run prints, since the
    interpreter's start-up before it took up to 150 s at load 20.)"""
    stop_after, grace = 90.0, 3.0
    suite = _suite(tmp_path, [{"name": "sleepy", "delay": 4.0},
                              {"name": "sleepy", "block_from": 1},
                              {"name": "sleepy", "tag": 2}], 30)
    results = tmp_path / "results"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "benchmark.cli", "run", str(suite), "--results", str(results),
                           "--plugins", str(sleepy), "--workers", "2", "--no-progress",
                           "--stop-after", f"{stop_after}s", "--stop-grace", f"{grace}s"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    ended = time.time()
    took = time.monotonic() - t0
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    stamp = re.search(r"time box: no cell starts after (\S+)Z", out)
    assert stamp, out
    deadline = calendar.timegm(time.strptime(stamp[1].split(".")[0], "%Y-%m-%dT%H:%M:%S")) + int(stamp[1][-1]) / 10
    print(f"local time-boxed run: exited {took:.1f} s after its start, {ended - deadline:.1f} s after its deadline "
          f"(stop_after {stop_after}, grace {grace})")
    # after the deadline: the grace, the workers' shutdown (GRACE_S) and reaping (2 s), and the
    # interpreter's exit (under 10 s even at load 20 on the 2 cores)
    assert ended - deadline < grace + GRACE_S + 2 + 10, out
    a, b, c = load_suite(suite).cells
    store = ResultStore(results)
    finished, paused, labels, pending = _summary(out)
    assert (finished, paused, pending) == (0, 2, 1), out
    rounds = {label.rsplit("[", 1)[1].rstrip("]"): r for label, r in labels}
    assert rounds[b.cell_id] == 1 == next_round(store.checkpoint_dir(b.cell_id), b.cell_id)
    assert rounds[a.cell_id] == next_round(store.checkpoint_dir(a.cell_id), a.cell_id) >= 2
    assert "paused at the deadline" in out and "stopped mid-round" in out
    assert not store.checkpoint_dir(c.cell_id).exists()
    assert not (results / "cells").exists()
    assert not list((results / "claims").iterdir())
    assert json.loads((store.checkpoint_dir(a.cell_id) / "round.json").read_text())["cell_id"] == a.cell_id


def test_a_slurm_run_that_does_not_wait_prints_no_time_box_summary(tiny_suite_file, tmp_path, monkeypatch, capsys):
    """`--no-wait` only submits: nothing ran here, so there is nothing finished or pending to sum up."""
    import benchmark.execute.slurm as slurm
    from benchmark.cli import main

    submitted = []
    monkeypatch.setattr(slurm, "cluster_problem", lambda: None)
    monkeypatch.setattr(slurm, "submit", lambda todo, *a, **k: submitted.append(len(todo)) or ("7", [], [list(todo)]))
    path = tiny_suite_file(methods=("random", "entropy"))
    assert main(["run", str(path), "--executor", "slurm", "--no-wait", "--stop-after", "1h", "--results",
                 str(tmp_path / "r"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert submitted == [2] and "submitted Slurm job array 7" in out and "not waiting" in out
    assert "time is up" not in out and "finished" not in out
