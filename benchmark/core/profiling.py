"""PhaseTimer: seconds, peak memory, forward/backward pass counts and, on a GPU, GPU-busy seconds
per AL phase.

The CVPR 2020 FK paper (Table 1) compares methods by forward and backward passes per data point
and round; the Learner counts them (one per sample per pass) into a ``PassCounter``. On CUDA the
timer also records each phase's peak allocated GPU memory and the seconds the GPU was busy in it
(NVML utilisation integrated over the phase; see ``PhaseTimer``), which ``albench profile`` shows.
"""
from __future__ import annotations

import resource
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

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


class GpuProbe(Protocol):
    """What PhaseTimer asks of the GPU; ``CudaProbe`` reads CUDA, tests inject a fake."""

    def active(self) -> bool:
        """Whether this process uses the GPU now (cheap: asked at every phase boundary)."""
        ...

    def begin(self) -> bool:
        """Wait for queued GPU work and start a new allocator peak; False if that failed."""
        ...

    def peak_mb(self) -> float:
        """Wait for queued GPU work; the peak allocated memory (MB) since ``begin()``."""
        ...

    def busy_seconds(self) -> float | None:
        """A running total of GPU-busy seconds (monotone), or None where it cannot be measured."""
        ...


class BusySampler:
    """Integrates GPU utilisation over time into busy seconds.

    ``read()`` returns the utilisation in percent as NVML reports it: the share of its last sample
    period (1/6 s to 1 s, by product) during which one or more kernels ran on the device. Each reading
    is charged to the interval since the previous one, so ``sample()`` (a reading now) returns the
    busy seconds up to now and never decreases. A daemon thread (``start()``) reads every
    ``interval`` seconds, so that a long phase gets readings all through it, not only at its ends.
    """

    def __init__(self, read: Callable[[], float], clock: Callable[[], float] = time.perf_counter,
                 interval: float = 0.1):
        self._read, self._clock, self.interval = read, clock, interval
        self._lock = threading.Lock()
        self._total = 0.0
        read()  # raises here where the device cannot be read at all
        self._t = clock()
        self._stop = threading.Event()

    def sample(self) -> float:
        """Read the utilisation now; the busy seconds up to now (the last total if the read fails)."""
        with self._lock:
            try:
                percent = self._read()
            except Exception:
                return self._total
            t = self._clock()
            self._total += min(max(percent, 0.0), 100.0) / 100 * max(0.0, t - self._t)
            self._t = t
            return self._total

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.wait(self.interval):
                self.sample()

        threading.Thread(target=loop, name="albench-gpu-busy", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()


def _nvml_reader(torch: Any) -> Callable[[], float] | None:
    """The utilisation (%) of this process's current CUDA device, read through NVML by
    ``torch.cuda.utilization`` (which needs the ``nvidia-ml-py`` package: ``pip install
    'albench[gpu]'``). None where it cannot be read (no NVML bindings, no driver library, a MIG
    instance): the GPU-busy columns are then absent, the rest of the profile is unchanged."""
    try:
        device = torch.cuda.current_device()

        def read() -> float:
            return float(torch.cuda.utilization(device))

        read()
        return read
    except Exception:
        return None


_SAMPLER: BusySampler | None = None
_SAMPLER_TRIED = False
_SAMPLER_LOCK = threading.Lock()


def _process_sampler(torch: Any) -> BusySampler | None:
    """One sampler per process (a worker runs many cells), started the first time CUDA is in use."""
    global _SAMPLER, _SAMPLER_TRIED
    with _SAMPLER_LOCK:
        if not _SAMPLER_TRIED:
            _SAMPLER_TRIED = True
            read = _nvml_reader(torch)
            if read is not None:
                try:
                    _SAMPLER = BusySampler(read)
                    _SAMPLER.start()
                except Exception:  # pragma: no cover - the first read worked a moment ago
                    _SAMPLER = None
        return _SAMPLER


class CudaProbe:
    """The GPU as PhaseTimer sees it: in use once torch has initialised CUDA in this process (nothing is
    imported or initialised here, so a CPU run pays one flag check per phase boundary). Peak memory is
    the caching allocator's ``max_memory_allocated``; busy seconds come from NVML's utilisation
    (``BusySampler``), which is device-wide: with several workers on one GPU (MPS) it counts their
    kernels too."""

    @staticmethod
    def _torch() -> Any:
        return sys.modules.get("torch")

    def active(self) -> bool:
        torch = self._torch()
        if torch is None:
            return False
        try:
            return bool(torch.cuda.is_initialized() and torch.cuda.is_available())
        except Exception:  # pragma: no cover - a broken driver
            return False

    def begin(self) -> bool:
        try:
            torch = self._torch()
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            return True
        except Exception:  # pragma: no cover - a broken driver
            return False

    def peak_mb(self) -> float:
        torch = self._torch()
        torch.cuda.synchronize()
        return float(torch.cuda.max_memory_allocated()) / 2**20

    def busy_seconds(self) -> float | None:
        sampler = _process_sampler(self._torch())
        return None if sampler is None else sampler.sample()


class PhaseTimer:
    """Accumulates per-phase metrics for one round; ``flush()`` returns them as flat columns.

    Phases nest: entering a phase inside another pauses the outer one, so time, passes and GPU-busy
    seconds are charged to the innermost phase (the inference a method triggers inside ``select``
    lands in ``infer``). Peak memory is the exception: a phase's GPU peak is the highest allocation
    while it ran, the phases nested in it included. Re-entering the phase already running is a no-op.

    On the GPU (``gpu.active()``: torch has initialised CUDA) every phase boundary waits for the
    queued GPU work (one ``torch.cuda.synchronize``), so a phase's seconds include its GPU work, and
    starts a new allocator peak. Columns per phase: ``<phase>_seconds``, ``_forward``, ``_backward``,
    ``_peak_rss_mb``, ``_gpu_peak_mb`` (0 on the CPU) and, only once GPU-busy time could be measured
    (CUDA in use and NVML readable), ``<phase>_gpu_seconds``: the seconds the device was busy while
    the phase ran, NVML utilisation integrated over the phase (``BusySampler``). That is busy time,
    not the phase's span on the GPU's clock: CUDA events around a phase measure the time between
    them on the stream, which is the phase's wall time whenever the stream was drained at its start
    (as it is here), idle gaps included. NVML's figure is device-wide and smoothed over its sample
    period (up to 1 s), so a phase shorter than that shares its neighbours' utilisation. A CPU run
    adds no columns and no work beyond one flag check per boundary.
    """

    def __init__(self, counter: PassCounter | None = None, gpu: GpuProbe | None = None):
        self.counter = counter or PassCounter()
        self.gpu: GpuProbe = gpu if gpu is not None else CudaProbe()
        self._stack: list[str] = []
        self._mark: tuple[float, int, int] = (0.0, 0, 0)
        self._on_gpu = False
        self._busy_mark: float | None = None
        self._busy_seen = False  # sticky: every later row of the cell carries the gpu_seconds columns
        self._reset()

    def _reset(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.forward: dict[str, int] = defaultdict(int)
        self.backward: dict[str, int] = defaultdict(int)
        self.peak_mb: dict[str, float] = defaultdict(float)
        self.gpu_peak_mb: dict[str, float] = defaultdict(float)
        self.gpu_seconds: dict[str, float] = defaultdict(float)

    def _settle(self) -> None:
        """Charge what happened since the last mark to the innermost running phase (the GPU peak to every
        running phase); set a new mark."""
        busy: float | None = None
        if self._on_gpu:
            peak = self.gpu.peak_mb() if self._stack else 0.0  # waits for the phase's GPU work
            busy = self.gpu.busy_seconds()
            for p in self._stack:
                self.gpu_peak_mb[p] = max(self.gpu_peak_mb[p], peak)
            if self._stack and busy is not None and self._busy_mark is not None:
                self.gpu_seconds[self._stack[-1]] += max(0.0, busy - self._busy_mark)
        now, (f1, b1) = time.perf_counter(), self.counter.snapshot()
        if self._stack:
            name = self._stack[-1]
            t0, f0, b0 = self._mark
            self.seconds[name] += now - t0
            self.forward[name] += f1 - f0
            self.backward[name] += b1 - b0
            self.peak_mb[name] = max(self.peak_mb[name], _peak_rss_mb())
        self._on_gpu = self.gpu.active() and self.gpu.begin()
        if self._on_gpu and busy is None:
            busy = self.gpu.busy_seconds()
        self._busy_mark = busy if self._on_gpu else None
        self._busy_seen = self._busy_seen or self._busy_mark is not None
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
            if self._busy_seen:
                row[f"{p}_gpu_seconds"] = round(self.gpu_seconds.get(p, 0.0), 6)
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
