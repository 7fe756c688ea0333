"""``make bench-sweep``: the throughput of a fixed, representative slice of a sweep.

The slice is every method row of a suite (default ``fk-mnist``) for the first ``--seeds`` seeds of
its first imbalance setting, all rounds. It runs with the local executor into a fresh result
store and reports cells per hour, seconds per phase, the GPU busy fraction (``nvidia-smi``
sampled every second; null without a GPU), and the full sweep projected from the slice: for
every method row, its mean cell time × its number of cells in the whole suite, divided by the
parallelism the slice achieved (summed cell time / wall time). Writes a JSON file
(``reports/bench-sweep.json`` by default).

    python -m tools.bench_sweep [--suite fk-mnist] [--seeds 1] [--rounds R] [--workers N]

``--rounds`` shortens every cell (a CPU smoke run); the projection then scales each cell's time
by full rounds / sliced rounds and says so in the file.
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmark.core.profiling import PHASES
from benchmark.core.spec import CellSpec
from benchmark.execute.store import ResultStore
from benchmark.execute.suite import Suite, load_suite
from benchmark.report.consolidate import component_label


class GpuSampler:
    """Samples ``nvidia-smi`` utilisation once a second in a thread; ``busy`` is the mean fraction."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.available = shutil.which("nvidia-smi") is not None

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                                     capture_output=True, text=True, timeout=5).stdout
                values = [float(v) for v in out.split()]
                if values:
                    self.samples.append(statistics.mean(values) / 100)
            except (OSError, ValueError, subprocess.SubprocessError):
                pass

    def __enter__(self) -> GpuSampler:
        if self.available:
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self.available:
            self._thread.join(timeout=5)

    @property
    def busy(self) -> float | None:
        return round(statistics.mean(self.samples), 3) if self.samples else None


def row_key(cell: CellSpec) -> str:
    """A method row: the method as reports label it, plus the learner init when rows differ by it."""
    init = cell.learner.get("init", "random")
    return f"{component_label(cell.method)} [{init} init]"


def choose_slice(suite: Suite, seeds: int, rounds: int | None) -> list[tuple[CellSpec, CellSpec]]:
    """(suite cell, cell to run) for every method row of the first imbalance setting and the first
    ``seeds`` seeds; the cell to run has ``rounds`` rounds when given."""
    first_imbalance = suite.cells[0].imbalance
    wanted = sorted({c.seed for c in suite.cells})[:seeds]
    cells = [c for c in suite.cells if c.imbalance == first_imbalance and c.seed in wanted]
    if rounds is None:
        return [(c, c) for c in cells]
    return [(c, replace(c, scenario={**c.to_dict()["scenario"], "rounds": rounds})) for c in cells]


def device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)}"
    return f"cpu: {platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"


def project(suite: Suite, pairs: list[tuple[CellSpec, CellSpec]], store: ResultStore, wall_s: float) -> dict[str, Any]:
    """Per method row: mean cell seconds (scaled to the suite's rounds when the slice ran fewer) and
    its share of the full sweep, projected with the parallelism the slice achieved."""
    seconds: dict[str, list[float]] = defaultdict(list)
    phases: dict[str, float] = defaultdict(float)
    measured = 0.0
    for full, ran in pairs:
        if not store.is_done(ran.cell_id):
            continue
        cell_s = float(store.read_summary(ran.cell_id)["seconds"])
        measured += cell_s
        scale = (int(full.scenario.get("rounds", 0)) + 1) / (int(ran.scenario.get("rounds", 0)) + 1)
        seconds[row_key(full)].append(cell_s * scale)
        r = store.read_rounds(ran.cell_id)
        for p in PHASES:
            if f"{p}_seconds" in r:
                phases[p] += float(r[f"{p}_seconds"].sum())
    parallelism = measured / wall_s if wall_s > 0 and measured > 0 else 1.0
    rows: dict[str, int] = defaultdict(int)
    for c in suite.cells:
        rows[row_key(c)] += 1
    minutes = {k: statistics.mean(v) * rows[k] / parallelism / 60 for k, v in seconds.items()}
    per_row = {k: {"mean_cell_s": round(statistics.mean(v), 1), "cells_in_suite": rows[k],
                   "projected_min": round(minutes[k], 2)} for k, v in sorted(seconds.items())}
    return {"per_row": per_row, "phase_seconds": {p: round(v, 1) for p, v in phases.items()},
            "parallelism": round(parallelism, 2), "suite_cells": len(suite.cells),
            "full_sweep_min": round(sum(minutes.values()), 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-sweep", description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="fk-mnist")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=None, help="shorten every cell (CPU smoke runs)")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--results", default=None, help="result store for the slice (default: a fresh temp folder)")
    parser.add_argument("--out", default="reports/bench-sweep.json", type=Path)
    args = parser.parse_args(argv)

    from benchmark.core.registry import discover
    from benchmark.execute.executors import run_local

    discover()
    suite = load_suite(args.suite)
    pairs = choose_slice(suite, args.seeds, args.rounds)
    cells = [ran for _, ran in pairs]
    store = ResultStore(args.results or tempfile.mkdtemp(prefix="bench-sweep-"))
    print(f"bench-sweep: {len(cells)} cells of {suite.name} ({len(suite.cells)} in the suite) into {store.root}",
          flush=True)
    t0 = time.perf_counter()
    with GpuSampler() as gpu:
        outcomes = run_local(cells, store, data_root=args.data_root, workers=args.workers, threads=args.threads,
                             on_done=lambda o: print(f"  {o.status} {o.label} ({o.seconds:.1f}s)", flush=True))
    wall = time.perf_counter() - t0
    done = sum(o.status == "done" for o in outcomes)
    result = {"device": device_name(), "suite": suite.name, "cells": done, "failed": len(outcomes) - done,
              "wall_s": round(wall, 1), "cells_per_hour": round(3600 * done / wall, 1) if wall else None,
              "gpu_busy_fraction": gpu.busy, "rounds_override": args.rounds, "seeds": args.seeds,
              "command": " ".join(["python -m tools.bench_sweep", *(argv if argv is not None else sys.argv[1:])]),
              **project(suite, pairs, store, wall)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(json.dumps({k: result[k] for k in ("device", "cells", "wall_s", "cells_per_hour", "full_sweep_min",
                                             "gpu_busy_fraction", "parallelism")}, indent=2))
    print(f"wrote {args.out}")
    return 0 if done == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
