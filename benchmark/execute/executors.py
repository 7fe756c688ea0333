"""Executors: run CellSpecs and write each finished cell to the store as soon as it ends.

- ``inline``: in this process, one cell after another (tests, debugging).
- ``local``: worker processes (spawn context) managed here: one per GPU slot
  (``CUDA_VISIBLE_DEVICES`` is set in the worker before torch is imported) or, without GPUs, CPU
  workers sized to the cores. Each worker receives one cell at a time over its own pipe, preferring
  a cell of a (dataset, imbalance, seed) no other worker is on (``benchmark.execute.ordering``). When
  several workers share a GPU, the CUDA MPS daemon is started or attached to first
  (``benchmark.execute.mps``, ``--mps auto|on|off``) and a daemon started here is stopped at the end.
- ``slurm``: a job array through submitit; each task runs its cells through ``run_and_store``
  (``benchmark.execute.slurm``); ``benchmark.execute.dispatch`` names them all.

Claims. The process that runs a cell claims it first (``benchmark.execute.claims``) and releases
the claim once the cell is stored, so any number of drivers and executors on one results folder run
each cell once: a cell claimed by a live process elsewhere is reported ``busy``, and one found done
after claiming is ``skipped``. A damaged stored cell is moved aside under its claim and run again.

Stopping. The first SIGINT (Ctrl-C) or SIGTERM stops a sweep: no new cell starts and the cells that
are running are *abandoned*: their workers are stopped (SIGTERM, then SIGKILL after a grace period),
nothing half-written is stored (a cell is stored only by an atomic rename of a complete folder),
their claims are released, and the next ``albench run`` runs them again. ``Interrupted`` is raised.
A second signal kills the workers at once. Workers ignore SIGINT (a terminal sends Ctrl-C to the
whole process group; the driver decides), exit on SIGTERM, and die with their driver however it
dies: ``PR_SET_PDEATHSIG`` on Linux, and a thread that notices a changed parent pid elsewhere.

Time boxes (``timebox=``, ``albench run --stop-after``): once the deadline has passed no cell
starts, running cells pause at their next round boundary (outcome ``paused``, with the round they
resume at), and cells still running when the grace period is over are stopped mid-round (their last
round's checkpoint is kept); see ``benchmark.execute.timebox``.

This module must not import torch at import time: spawned workers import it first.
"""
from __future__ import annotations

import ctypes
import hashlib
import inspect
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from benchmark.core.errors import AlbenchError
from benchmark.core.spec import FULL_POOL_METHOD, CellSpec
from benchmark.execute.mps import mps_for_workers
from benchmark.execute.ordering import take_next
from benchmark.execute.store import ResultStore, StoreWriteError
from benchmark.execute.timebox import Overdue, TimeBox

GRACE_S = 3.0  # how long stopped workers get to exit before SIGKILL
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Outcome:
    cell_id: str
    label: str
    status: str  # "done" | "failed" | "busy" (claimed elsewhere) | "skipped" (done elsewhere) | "abandoned" | "paused"
    seconds: float
    message: str = ""
    note: str = ""  # e.g. where a damaged copy of the cell was moved
    next_round: int | None = None  # paused: the round its checkpoint resumes at


class Interrupted(KeyboardInterrupt):
    """A sweep stopped by SIGINT or SIGTERM; ``abandoned`` lists the cells that were running."""

    def __init__(self, signum: int, abandoned: tuple[str, ...] = ()):
        super().__init__(signum)
        self.signum = signum
        self.abandoned = abandoned

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name


def count_gpus() -> int:
    """GPUs visible to this process, without initialising CUDA here (nvidia-smi, then NVML via torch)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([v for v in visible.split(",") if v.strip() not in ("", "-1")])
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
            return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))
        except Exception:
            return 0
    return 0


# ------------------------------------------------------------------ method source
def method_source(name: str) -> dict[str, Any] | None:
    """sha256 of the file(s) defining a method (for ``<m>+bal``, the wrapper's and the base's):
    recorded in each cell's environment.json, compared by ``changed_method_sources``."""
    from benchmark.core.registry import METHODS

    if name == FULL_POOL_METHOD:
        return None
    factory = METHODS.get(name)
    files: list[str] = []
    for obj in (factory, getattr(factory, "base_factory", None)):
        try:
            file = inspect.getsourcefile(obj) if obj is not None else None
        except TypeError:
            file = None
        if file and file not in files:
            files.append(file)
    if not files:
        return None
    digests = [hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in files]
    combined = hashlib.sha256("".join(digests).encode()).hexdigest()
    return {"sha256": combined, "files": files, "version": str(getattr(factory, "version", "1"))}


def changed_method_sources(cells: Iterable[CellSpec], store: ResultStore) -> list[str]:
    """One warning per method whose stored cells were computed from other source than the current
    one while its ``version`` (part of the cell id) is unchanged."""
    current: dict[str, dict[str, Any] | None] = {}
    stale: dict[str, int] = {}
    for spec in cells:
        name = spec.method.name
        try:
            recorded = store.read_environment(spec.cell_id).get("method_source")
        except (AlbenchError, OSError, ValueError):
            continue
        if not recorded:
            continue  # stored before sources were recorded
        if name not in current:
            current[name] = method_source(name)
        now = current[name]
        if now is not None and recorded.get("sha256") != now["sha256"]:
            stale[name] = stale.get(name, 0) + 1
    warnings = []
    for name, count in sorted(stale.items()):
        now = current[name]
        assert now is not None
        warnings.append(
            f"method {name!r} changed since {count} of its stored cell(s) were computed (source "
            f"{', '.join(now['files'])}), but its version is still {now['version']!r}, so those cells are "
            f"kept and reused. If the change alters results, bump `version` in the method's class to "
            f"compute them again.")
    return warnings


# ------------------------------------------------------------------ one cell
def run_and_store(spec_dict: dict[str, Any], store_root: str, data_root: str | None,
                  plugin_dirs: tuple[str, ...] = (), since: float | None = None,
                  deadline: float | None = None) -> Outcome:
    """Worker entry point: claim one cell, run it, write it (or its failure) to the store, release it.

    ``since`` (the driver's start): a failure recorded after it by a concurrent run is not retried.
    ``deadline`` (``time.time()`` seconds): the cell pauses at the first round boundary after it
    (outcome ``paused``; its round checkpoint stays). A StoreWriteError (read-only folder, full disk)
    propagates: the sweep stops with it."""
    from benchmark.core.environment import environment
    from benchmark.core.registry import discover
    from benchmark.scenarios.checkpoint import CellPaused
    from benchmark.scenarios.runner import run_cell

    discover(plugin_dirs)
    spec = CellSpec.from_dict(spec_dict)
    store = ResultStore(store_root)
    claim = store.claims.claim(spec.cell_id)
    if claim is None:
        holder = store.claims.holder(spec.cell_id)
        return Outcome(spec.cell_id, spec.label(), "busy", 0.0,
                       f"being run by {holder.describe() if holder else 'another process'}")
    with claim:
        state = store.state(spec.cell_id)
        if state.status == "done":
            return Outcome(spec.cell_id, spec.label(), "skipped", 0.0, "done by another run")
        if since is not None and store.failed_since(spec.cell_id, since):
            return Outcome(spec.cell_id, spec.label(), "skipped", 0.0,
                           f"failed in another run: {store.failure_reason(spec.cell_id)}")
        note = ""
        if state.status == "damaged":
            moved = store.quarantine(spec.cell_id)
            note = f"damaged copy ({'; '.join(state.problems)}) moved to {moved}" if moved else ""
        source = method_source(spec.method.name)
        t0 = time.perf_counter()
        stop = None if deadline is None else (lambda: time.time() >= deadline)
        try:
            result = run_cell(spec, data_root, checkpoints=store.checkpoint_dir(spec.cell_id), stop=stop)
            result.environment["method_source"] = source
            store.write_cell(result)
            store.drop_checkpoint(spec.cell_id)
            return Outcome(spec.cell_id, spec.label(), "done", time.perf_counter() - t0, note=note)
        except CellPaused as paused:
            return Outcome(spec.cell_id, spec.label(), "paused", time.perf_counter() - t0,
                           f"paused at the deadline; resumes at round {paused.next_round}", note, paused.next_round)
        except StoreWriteError:
            store.drop_checkpoint(spec.cell_id)  # the store is left as it was: no half-run state either
            raise
        except Exception as exc:  # recorded apart, never counted as done
            reason = f"{type(exc).__name__}: {exc}"
            store.record_failure(spec, traceback.format_exc(), environment(), reason=reason)
            return Outcome(spec.cell_id, spec.label(), "failed", time.perf_counter() - t0, reason, note)


# ------------------------------------------------------------------ signals
class StopSignals:
    """While active (main thread only): the first SIGINT/SIGTERM sets ``signum`` and calls ``on_first``;
    a second one calls ``on_second`` and raises ``Interrupted`` at once."""

    def __init__(self, on_first: Callable[[int], None] | None = None, on_second: Callable[[], None] | None = None):
        self.on_first, self.on_second = on_first, on_second
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
            if self.on_first:
                self.on_first(signum)
            return
        if self.on_second:
            self.on_second()
        raise Interrupted(signum)

    def check(self, abandoned: tuple[str, ...] = ()) -> None:
        if self.signum is not None:
            raise Interrupted(self.signum, abandoned)

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)


def _raise_interrupted(signum: int) -> None:
    raise Interrupted(signum)


def stopped_outcome(spec: CellSpec, store: ResultStore, how: str) -> Outcome:
    """A cell stopped in the middle of a round when a time box's grace was over: ``paused`` at its
    last checkpointed round, or ``abandoned`` when no round had finished (it starts from scratch)."""
    from benchmark.scenarios.checkpoint import next_round

    resume = next_round(store.checkpoint_dir(spec.cell_id), spec.cell_id)
    if resume is None:
        return Outcome(spec.cell_id, spec.label(), "abandoned", 0.0, f"{how} before its first round ended")
    return Outcome(spec.cell_id, spec.label(), "paused", 0.0, f"{how}; resumes at round {resume}",
                   next_round=resume)


def _overdue(signum: int, frame: FrameType | None) -> None:
    raise Overdue()


@contextmanager
def _alarm_at(when: float | None) -> Iterator[None]:
    """Raise ``Overdue`` in this (main) thread at ``when`` (``time.time()`` seconds); elsewhere, or
    without ``when``, nothing."""
    if when is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, _overdue)
    signal.setitimer(signal.ITIMER_REAL, max(0.001, when - time.time()))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ------------------------------------------------------------------ inline
def run_inline(specs: Iterable[CellSpec], store: ResultStore, data_root: str | None = None,
               plugin_dirs: tuple[str, ...] = (), on_done: Callable[[Outcome], None] | None = None,
               timebox: TimeBox | None = None) -> list[Outcome]:
    """One cell after another in this process; a signal abandons the running cell at once. With a
    ``timebox``, no cell starts after its deadline, the running cell pauses at its next round boundary,
    and a SIGALRM stops it mid-round when the grace is over."""
    outcomes = []
    since = time.time()
    deadline = timebox.deadline if timebox is not None else None
    with StopSignals(on_first=_raise_interrupted), _alarm_at(timebox.hard_stop if timebox is not None else None):
        try:
            for spec in specs:
                if timebox is not None and timebox.expired():
                    break
                try:
                    outcome = run_and_store(spec.to_dict(), str(store.root), data_root, plugin_dirs, since, deadline)
                except Interrupted as stop:
                    raise Interrupted(stop.signum, (spec.label(),)) from None
                except Overdue:
                    outcome = stopped_outcome(spec, store, "stopped mid-round when the grace after the deadline was over")
                outcomes.append(outcome)
                if on_done:
                    on_done(outcome)
        except Overdue:
            pass  # the alarm came between two cells: the deadline has passed, no cell starts
    return outcomes


# ------------------------------------------------------------------ local workers
def plan_local(workers: int | None = None, threads: int | None = None) -> tuple[int, int, list[int], bool]:
    """(workers, threads per worker, slot list, gpu?) for the local pool."""
    gpus = count_gpus()
    cores = os.cpu_count() or 1
    if gpus:
        slots = list(range(gpus))
        n = workers or len(slots)
        slots = (slots * (n // len(slots) + 1))[:n]
        threads = threads or max(1, cores // n)
        return n, threads, slots, True
    threads = threads or 1
    n = workers or max(1, cores // threads)
    return n, threads, list(range(n)), False


def _die_with_parent(parent_pid: int, use_prctl: bool = True) -> None:
    """Make this worker exit within a second of its driver's death, however the driver dies: the kernel
    kills it (``PR_SET_PDEATHSIG``, Linux), and a thread exits it once its parent pid changes."""
    if use_prctl and sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watch thread below still works
    if os.getppid() != parent_pid:  # the driver died before the line above took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds: the claim is released, the staging folder removed


def _worker_main(conn: Connection, slot: int, threads: int, gpu: bool, parent_pid: int) -> None:
    """A local worker: set the device and threads before torch is imported, then serve cells. On SIGTERM
    the running cell unwinds (its claim is released, its staging folder removed) and the process exits
    at once, without the slow interpreter teardown."""
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(slot) if gpu else ""
        os.environ["OMP_NUM_THREADS"] = str(threads)
        import torch  # first import in this process: sees the variables above

        torch.set_num_threads(threads)
        _serve(conn)
    except SystemExit as stop:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(stop.code if isinstance(stop.code, int) else 1)


def _serve(conn: Connection) -> None:
    """Run the cells sent over ``conn`` (None: stop); answer ("outcome", Outcome) or ("error", AlbenchError)."""
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        reply: tuple[str, Any]
        try:
            reply = ("outcome", run_and_store(**task))
        except AlbenchError as exc:
            reply = ("error", AlbenchError(str(exc)) if not isinstance(exc, StoreWriteError) else exc)
        except Exception:
            reply = ("error", AlbenchError(f"Worker {os.getpid()} crashed outside a cell:\n{traceback.format_exc()}"))
        conn.send(reply)


@contextmanager
def _children_ignore_sigint() -> Iterator[None]:
    """Processes started inside inherit SIGINT ignored, so a Ctrl-C during their start-up (seconds of
    imports) cannot break them with a traceback. For the milliseconds of a ``start()`` this process
    ignores SIGINT too: one delivered to this thread stays pending (it is blocked here, and Linux keeps
    blocked signals pending) and reaches the handler afterwards; one delivered to another thread of
    this process in that window is lost, and the next Ctrl-C stops the sweep."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    masked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, masked)


@dataclass
class _Worker:
    slot: int
    process: Any  # a SpawnProcess
    conn: Connection
    spec: CellSpec | None = None
    served: int = 0


class _Pool:
    """Spawn-context worker processes, one pipe each; the driver hands out one cell at a time."""

    def __init__(self, threads: int, gpu: bool):
        self.ctx = mp.get_context("spawn")
        self.threads, self.gpu = threads, gpu
        self.workers: list[_Worker] = []

    def spawn(self, slot: int) -> _Worker:
        ours, theirs = self.ctx.Pipe()
        process = self.ctx.Process(target=_worker_main, args=(theirs, slot, self.threads, self.gpu, os.getpid()),
                                   name=f"albench-worker-{slot}", daemon=True)
        with _children_ignore_sigint():
            process.start()
        theirs.close()
        worker = _Worker(slot, process, ours)
        self.workers.append(worker)
        return worker

    def running(self) -> list[_Worker]:
        return [w for w in self.workers if w.spec is not None]

    def idle(self) -> list[_Worker]:
        return [w for w in self.workers if w.spec is None and w.process.is_alive()]

    def messages(self, timeout: float) -> list[tuple[_Worker, Any]]:
        """Replies that arrived within ``timeout`` (a broken pipe reads as no reply: the death is seen)."""
        conns = [w.conn for w in self.workers if not w.conn.closed]
        ready = set(wait(conns + [w.process.sentinel for w in self.workers], timeout))
        out = []
        for w in self.workers:
            while w.conn in ready and not w.conn.closed:
                try:
                    if not w.conn.poll():
                        break
                    out.append((w, w.conn.recv()))
                except (EOFError, OSError):
                    w.conn.close()
        return out

    def dead(self) -> list[_Worker]:
        gone = [w for w in self.workers if not w.process.is_alive()]
        for w in gone:
            self.workers.remove(w)
            w.process.join(0)
        return gone

    def signal_all(self, sig: int) -> None:
        for w in self.workers:
            try:
                if w.process.pid is not None and w.process.is_alive():
                    os.kill(w.process.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.signal_all(signal.SIGKILL)

    def reap(self, timeout: float) -> None:
        """Wait (up to ``timeout``) for the workers to be gone, so that their claims read as expired."""
        deadline = time.monotonic() + timeout
        for w in self.workers:
            w.process.join(max(0.0, deadline - time.monotonic()))
        self.workers = [w for w in self.workers if w.process.is_alive()]

    def shutdown(self, grace: float) -> None:
        """Idle workers are told to stop, busy ones get SIGTERM; SIGKILL for any left after ``grace``."""
        for w in self.workers:
            try:
                if w.spec is None:
                    w.conn.send(None)
                elif w.process.is_alive() and w.process.pid is not None:
                    os.kill(w.process.pid, signal.SIGTERM)
            except (OSError, ProcessLookupError):
                pass
        deadline = time.monotonic() + grace
        for w in self.workers:
            w.process.join(max(0.0, deadline - time.monotonic()))
        self.kill()
        for w in self.workers:
            w.process.join(2.0)
            w.conn.close()
        self.workers.clear()


def _death_outcome(w: _Worker, store: ResultStore) -> Outcome:
    """A worker that died while running a cell: a SIGTERM (or SIGINT) abandons it; anything else
    (the OOM killer, a segfault) is recorded as the cell's failure."""
    from benchmark.core.environment import environment

    assert w.spec is not None
    code = w.process.exitcode
    stopped = code in (-signal.SIGTERM, -signal.SIGINT, 128 + signal.SIGTERM, 128 + signal.SIGINT)
    how = f"killed by {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
    if stopped:
        return Outcome(w.spec.cell_id, w.spec.label(), "abandoned", 0.0, f"worker {w.process.pid} was stopped ({how})")
    reason = (f"Worker process {w.process.pid} died ({how}) while running this cell; out of memory? "
              f"The next run tries it again.")
    store.record_failure(w.spec, reason + "\n", environment(), reason=reason)
    return Outcome(w.spec.cell_id, w.spec.label(), "failed", 0.0, reason)


def _tidy(store: ResultStore) -> None:
    """After the workers are gone: drop the claims and staging folders that dead processes left."""
    try:
        store.claims.prune()
        store.clean_stale()
    except OSError:
        pass


def _say(message: str) -> None:
    print(f"albench: {message}", file=sys.stderr, flush=True)


def run_local(specs: Iterable[CellSpec], store: ResultStore, data_root: str | None = None,
              plugin_dirs: tuple[str, ...] = (), workers: int | None = None, threads: int | None = None,
              on_done: Callable[[Outcome], None] | None = None, grace: float = GRACE_S, mps: str = "auto",
              say: Callable[[str], None] = _say, timebox: TimeBox | None = None) -> list[Outcome]:
    """Run cells on local worker processes; see the module docstring for claims, stopping and time
    boxes, and ``benchmark.execute.mps`` for ``mps`` (auto | on | off: the CUDA MPS daemon for workers
    sharing a GPU)."""
    queue = deque(specs)
    if not queue or (timebox is not None and timebox.expired()):
        return []  # nothing to run, or no cell may start any more: no worker is spawned
    n, threads, slot_list, gpu = plan_local(workers, threads)
    n = min(n, len(queue))
    pool = _Pool(threads, gpu)
    outcomes: list[Outcome] = []
    since = time.time()
    deadline = timebox.deadline if timebox is not None else None
    overdue: set[int] = set()  # pids of the workers stopped mid-round when the time box's grace was over

    def record(outcome: Outcome) -> None:
        outcomes.append(outcome)
        if on_done:
            on_done(outcome)

    with mps_for_workers(mps, slot_list[:n], gpu, say), StopSignals(on_second=pool.kill) as stop:
        try:
            for slot in slot_list[:n]:
                pool.spawn(slot)
            while queue or pool.running():
                stop.check(tuple(w.spec.label() for w in pool.running() if w.spec))
                if timebox is not None and timebox.expired():
                    queue.clear()  # no cell starts after the deadline: the rest stay pending
                    if timebox.overdue():
                        for w in pool.running():
                            if w.process.pid is not None and w.process.pid not in overdue:
                                overdue.add(w.process.pid)
                                w.process.terminate()
                for w in pool.idle():
                    if queue:
                        spec = take_next(queue, [r.spec for r in pool.running() if r.spec is not None])
                        try:
                            w.conn.send({"spec_dict": spec.to_dict(), "store_root": str(store.root),
                                         "data_root": data_root, "plugin_dirs": tuple(plugin_dirs), "since": since,
                                         "deadline": deadline})
                            w.spec = spec
                        except OSError:  # it just died: the cell waits for another worker
                            queue.appendleft(spec)
                for w, (kind, payload) in pool.messages(0.2):
                    if kind == "error":
                        raise payload
                    w.spec, w.served = None, w.served + 1
                    record(payload)
                for w in pool.dead():
                    if stop.signum is not None:
                        continue
                    if w.spec is not None and w.process.pid in overdue:
                        record(stopped_outcome(w.spec, store, "stopped mid-round when the grace after the "
                                                              "deadline was over"))
                    elif w.spec is not None:
                        record(_death_outcome(w, store))
                    elif w.served == 0:
                        raise AlbenchError(f"Worker process {w.process.pid} exited (code {w.process.exitcode}) "
                                           f"before running a cell; run with --executor inline to see why.")
                    if queue:
                        pool.spawn(w.slot)
        finally:
            try:
                pool.shutdown(grace)
            finally:
                pool.reap(2.0)  # a second signal interrupts the shutdown after killing every worker
                _tidy(store)
    return outcomes
