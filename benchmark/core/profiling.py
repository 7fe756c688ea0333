"""PhaseTimer: seconds, peak memory and forward/backward pass counts per AL phase.

The CVPR 2020 FK paper (Table 1) compares methods by forward and backward passes per data point
and round; the Learner counts them (one per sample per pass) into a ``PassCounter``.
"""
from __future__ import annotations

import resource
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass

PHASES = ("load", "pretrain", "train", "evaluate", "infer", "select", "label")


@dataclass
class PassCounter:
    forward: int = 0
    backward: int = 0

    def snapshot(self) -> tuple[int, int]:
        return self.forward, self.backward


def _peak_rss_mb() -> float:
    """Peak resident memory (MB) since the last ``reset_peak_rss()``: Linux's VmHWM, else the
    process's lifetime high-water mark (ru_maxrss: KB on Linux, bytes on macOS)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def reset_peak_rss() -> bool:
    """Start a new high-water mark of resident memory (Linux: /proc/self/clear_refs), so that a
    worker's peak memory is per cell, not per process lifetime. False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _cuda_reset() -> bool:
    try:
        import torch

        if torch.cuda.is_available() and torch.cuda.is_initialized():  # type: ignore[no-untyped-call]
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            return True
    except Exception:  # pragma: no cover - no torch or no driver
        pass
    return False


def _cuda_peak_mb() -> float:
    import torch

    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / 2**20


class PhaseTimer:
    """Accumulates per-phase metrics for one round; ``flush()`` returns them as flat columns.

    Phases nest: entering a phase inside another pauses the outer one, so time, passes and memory
    are charged to the innermost phase (the inference a method triggers inside ``select`` lands in
    ``infer``). Re-entering the phase already running is a no-op.
    """

    def __init__(self, counter: PassCounter | None = None):
        self.counter = counter or PassCounter()
        self._stack: list[str] = []
        self._mark: tuple[float, int, int] = (0.0, 0, 0)
        self._on_gpu = False
        self._reset()

    def _reset(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.forward: dict[str, int] = defaultdict(int)
        self.backward: dict[str, int] = defaultdict(int)
        self.peak_mb: dict[str, float] = defaultdict(float)
        self.gpu_peak_mb: dict[str, float] = defaultdict(float)

    def _settle(self) -> None:
        """Charge what happened since the last mark to the innermost running phase; set a new mark."""
        now, (f1, b1) = time.perf_counter(), self.counter.snapshot()
        if self._stack:
            name = self._stack[-1]
            t0, f0, b0 = self._mark
            self.seconds[name] += now - t0
            self.forward[name] += f1 - f0
            self.backward[name] += b1 - b0
            self.peak_mb[name] = max(self.peak_mb[name], _peak_rss_mb())
            if self._on_gpu:
                self.gpu_peak_mb[name] = max(self.gpu_peak_mb[name], _cuda_peak_mb())
        self._on_gpu = _cuda_reset()
        self._mark = (time.perf_counter(), *self.counter.snapshot())

    def charge(self, name: str, inside: str) -> AbstractContextManager[None]:
        """``phase(name)`` when the running phase is ``inside``, else nothing: inference a method
        triggers from ``select`` goes to ``infer``, the same calls from ``evaluate`` stay there."""
        return self.phase(name) if self.current == inside else nullcontext()

    @property
    def current(self) -> str | None:
        return self._stack[-1] if self._stack else None

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if name not in PHASES:
            raise ValueError(f"unknown phase {name!r}; phases are {PHASES}")
        if self.current == name:
            yield
            return
        self._settle()
        self._stack.append(name)
        try:
            yield
        finally:
            self._settle()
            self._stack.pop()

    def flush(self) -> dict[str, float]:
        row: dict[str, float] = {}
        for p in PHASES:
            row[f"{p}_seconds"] = round(self.seconds.get(p, 0.0), 6)
            row[f"{p}_forward"] = self.forward.get(p, 0)
            row[f"{p}_backward"] = self.backward.get(p, 0)
            row[f"{p}_peak_rss_mb"] = round(self.peak_mb.get(p, 0.0), 1)
            row[f"{p}_gpu_peak_mb"] = round(self.gpu_peak_mb.get(p, 0.0), 1)
        self._reset()
        return row


class CellLog:
    """The log of one cell: timestamped lines (seconds since the cell started) and its elapsed time."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._t0 = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self._t0

    def carry(self, text: str) -> None:
        """Put an earlier attempt's log (a resumed cell's) in front of this one's lines."""
        self._lines.insert(0, text)

    def say(self, msg: str) -> None:
        self._lines.append(f"[{self.elapsed():8.2f}s] {msg}\n")

    def text(self) -> str:
        return "".join(self._lines)
