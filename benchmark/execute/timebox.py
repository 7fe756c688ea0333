"""Time-boxed runs: ``albench run --stop-after DURATION [--stop-grace DURATION]``.

A ``TimeBox`` is a wall-clock deadline (``time.time()`` seconds: every process of a run, local
workers and Slurm tasks alike, compares against the same instant) and a grace period after it:

1. Once the deadline has passed, no cell starts.
2. A cell in flight stops at its next round boundary after the deadline: the runner checkpoints the
   round (``results/checkpoints/<cell_id>/``), then raises ``CellPaused``; the cell's claim is
   released and the next ``albench run`` resumes it after that round.
3. A cell still in a round when the grace period is over is stopped there (``Overdue``): local
   workers get SIGTERM, the inline executor a SIGALRM, a Slurm task its time limit. Its checkpoint
   of the last finished round is kept, so it resumes there; the round in flight is lost.

So a time-boxed run returns at most ``grace`` after its deadline (which ``albench run`` prints),
plus the executor's shutdown (local workers: ``executors.GRACE_S`` = 3 s, and up to 2 s reaping
them) and the interpreter's exit; with rounds shorter than the grace, every cell in flight is paused
at a round boundary. ``tests/test_stop_after.py`` tests both cases against that bound. Counted from
the command's start, add the interpreter's start-up before the time box begins (seconds; 8.6-11.5 s
together with the exit at load 7 on 2 cores, up to 150 s at load 20). The run ends with one summary line
(``summary_line``): cells finished, paused (with the round each resumes at), pending.
"""
from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from benchmark.core.errors import AlbenchError


class Outcome(Protocol):
    """What the summary reads of an executor's outcome (``executors.Outcome`` has it; this module sits
    below the executors, so it names the fields instead of importing the class)."""

    status: str
    label: str
    cell_id: str
    next_round: int | None

DEFAULT_GRACE_S = 60.0
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smh])")

__all__ = ["DEFAULT_GRACE_S", "Overdue", "TimeBox", "count_outcomes", "parse_duration", "slurm_minutes",
           "summary_line"]


class Overdue(BaseException):
    """A cell still running when the grace period after the deadline is over. A BaseException, so
    that it unwinds through ``run_and_store`` (claim released, staging folder removed, round
    checkpoint kept) instead of being recorded as the cell's failure."""


def parse_duration(text: str) -> float:
    """Seconds in ``500s``, ``8m``, ``1h30m``, ``2.5m`` or a bare number of seconds (``90``); > 0."""
    raw = str(text).strip().lower()
    seconds: float | None = None
    try:
        seconds = float(raw)
    except ValueError:
        if raw and _PART.sub("", raw) == "":
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(raw))
    if seconds is None or not (0 < seconds < math.inf):
        raise AlbenchError(f"a duration must be a positive number of seconds or minutes/hours such as 500s, 8m, "
                           f"1h30m or 90 (seconds), got {text!r}")
    return seconds


@dataclass(frozen=True)
class TimeBox:
    """A deadline (``time.time()`` seconds) and the grace after it (see the module docstring)."""

    deadline: float
    grace_s: float = DEFAULT_GRACE_S

    @classmethod
    def starting_now(cls, stop_after_s: float, grace_s: float = DEFAULT_GRACE_S) -> TimeBox:
        return cls(time.time() + stop_after_s, grace_s)

    @property
    def hard_stop(self) -> float:
        """When cells still running are stopped in the middle of a round."""
        return self.deadline + self.grace_s

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.deadline

    def overdue(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.hard_stop

    def left(self, now: float | None = None) -> float:
        """Seconds until the deadline (0 once it has passed)."""
        return max(0.0, self.deadline - (time.time() if now is None else now))


def slurm_minutes(time_min: int, left_s: float, grace_s: float, signal_delay_s: float = 90.0) -> int:
    """The Slurm time limit (minutes) of a task in a time-boxed run: the deadline and its grace,
    plus ``signal_delay_s`` (submitit signals USR2 that long before the limit: the task's cell is then
    stopped as ``Overdue``, not requeued), rounded up to whole minutes; never above the suite's
    ``time`` per task, never below 1. Counted from the task's start: a task that starts later
    still stops its cells at the deadline itself, and starts none after it."""
    if left_s < 0 or grace_s < 0 or signal_delay_s < 0:
        raise AlbenchError(f"slurm_minutes needs non-negative seconds, got left_s={left_s}, grace_s={grace_s}, "
                           f"signal_delay_s={signal_delay_s}")
    return max(1, min(int(time_min), math.ceil((left_s + grace_s + signal_delay_s) / 60)))


def summary_line(finished: int, paused: Sequence[tuple[str, int]], pending: int, failed: int = 0,
                 elsewhere: int = 0, stopped: bool = True) -> str:
    """One line: cells finished, paused (label @ the round each resumes at), pending (not started, or
    stopped before their first round ended), and failed / run elsewhere when there are any."""
    paused_text = f"{len(paused)} paused"
    if paused:
        paused_text += " (" + ", ".join(f"{label} at round {r}" for label, r in paused) + ")"
    parts = [f"{finished} finished", paused_text, f"{pending} pending"]
    if failed:
        parts.append(f"{failed} failed")
    if elsewhere:
        parts.append(f"{elsewhere} busy or done elsewhere")
    how = "time is up" if stopped else "all cells ran before the time was up"
    tail = "; run the same command again to continue" if (paused or pending) else ""
    return f"albench: --stop-after: {how}: " + ", ".join(parts) + tail


def count_outcomes(outcomes: Iterable[Outcome], todo: int) -> tuple[int, list[tuple[str, int]], int, int, int]:
    """(finished, paused [("label [cell id]", round)], pending, failed, elsewhere) of a time-boxed run's
    outcomes; ``todo``: how many cells it was given. Cells without an outcome never started: pending."""
    finished, failed, elsewhere, pending, seen = 0, 0, 0, 0, 0
    paused: list[tuple[str, int]] = []
    for o in outcomes:
        seen += 1
        if o.status == "done":
            finished += 1
        elif o.status == "paused" and o.next_round is not None:
            paused.append((f"{o.label} [{o.cell_id}]", o.next_round))
        elif o.status == "failed":
            failed += 1
        elif o.status in ("busy", "skipped"):
            elsewhere += 1
        else:  # abandoned before its first round ended: it starts from scratch
            pending += 1
    return finished, paused, pending + max(0, todo - seen), failed, elsewhere
