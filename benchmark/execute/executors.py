"""Executors: run CellSpecs and write each finished cell to the store as soon as it ends.

- ``inline``: in this process, one cell after another (tests, debugging).
- ``local``: a process pool with one worker per GPU slot (``CUDA_VISIBLE_DEVICES`` is set in the
  worker before torch is imported) or, without GPUs, CPU workers sized to the cores.

This module must not import torch at import time: spawned workers import it first.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import subprocess
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from benchmark.core.spec import CellSpec
from benchmark.execute.store import ResultStore


@dataclass(frozen=True)
class Outcome:
    cell_id: str
    label: str
    status: str  # "done" | "failed"
    seconds: float
    message: str = ""


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


def run_and_store(spec_dict: dict[str, Any], store_root: str, data_root: str | None,
                  plugin_dirs: tuple[str, ...] = ()) -> Outcome:
    """Worker entry point: run one cell, write it (or its failure) to the store."""
    import time

    from benchmark.core.environment import environment
    from benchmark.core.registry import discover
    from benchmark.scenarios.runner import run_cell

    discover(plugin_dirs)
    spec = CellSpec.from_dict(spec_dict)
    store = ResultStore(store_root)
    t0 = time.perf_counter()
    try:
        result = run_cell(spec, data_root)
        store.write_cell(result)
        return Outcome(spec.cell_id, spec.label(), "done", time.perf_counter() - t0)
    except Exception as exc:  # recorded apart, never counted as done
        store.record_failure(spec, traceback.format_exc(), environment())
        return Outcome(spec.cell_id, spec.label(), "failed", time.perf_counter() - t0, f"{type(exc).__name__}: {exc}")


def _init_worker(slots: Any, threads: int, gpu: bool) -> None:
    slot = slots.get()
    os.environ["CUDA_VISIBLE_DEVICES"] = str(slot) if gpu else ""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch  # first import in this process: sees the variables above

    torch.set_num_threads(threads)


def run_inline(specs: Iterable[CellSpec], store: ResultStore, data_root: str | None = None,
               plugin_dirs: tuple[str, ...] = (), on_done: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    outcomes = []
    for spec in specs:
        outcome = run_and_store(spec.to_dict(), str(store.root), data_root, plugin_dirs)
        outcomes.append(outcome)
        if on_done:
            on_done(outcome)
    return outcomes


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


def run_local(specs: Iterable[CellSpec], store: ResultStore, data_root: str | None = None,
              plugin_dirs: tuple[str, ...] = (), workers: int | None = None, threads: int | None = None,
              on_done: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    specs = list(specs)
    n, threads, slot_list, gpu = plan_local(workers, threads)
    n = min(n, max(1, len(specs)))
    ctx = mp.get_context("spawn")
    slots = ctx.Manager().Queue()
    for s in slot_list[:n]:
        slots.put(s)
    outcomes: list[Outcome] = []
    with ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init_worker,
                             initargs=(slots, threads, gpu)) as pool:
        pending = {pool.submit(run_and_store, s.to_dict(), str(store.root), data_root, plugin_dirs) for s in specs}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                outcome = fut.result()
                outcomes.append(outcome)
                if on_done:
                    on_done(outcome)
    return outcomes


EXECUTORS = {"inline": run_inline, "local": run_local}
