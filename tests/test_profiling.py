"""PhaseTimer's GPU columns and the profile report's GPU table.

The timer's logic runs on the CPU with a fake GPU probe (busy seconds and allocator peaks the test
sets by hand); the CUDA probe itself is checked by the test marked ``gpu`` (skipped without CUDA).
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from benchmark.core.profiling import PHASES, BusySampler, CudaProbe, PhaseTimer
from benchmark.report.profile import profile_table, to_markdown

CPU_SUFFIXES = ("_seconds", "_forward", "_backward", "_peak_rss_mb", "_gpu_peak_mb")


class FakeGpu:
    """A GPU whose busy seconds and allocations the test drives; mirrors CudaProbe's contract."""

    def __init__(self, busy_measurable: bool = True):
        self.allocated = self.peak = self.busy = 0.0
        self.busy_measurable = busy_measurable
        self.on = True

    def alloc(self, mb: float) -> None:
        self.allocated += mb
        self.peak = max(self.peak, self.allocated)

    def free(self, mb: float) -> None:
        self.allocated -= mb

    def active(self) -> bool:
        return self.on

    def begin(self) -> bool:
        self.peak = self.allocated  # reset_peak_memory_stats: the peak restarts at what is held
        return True

    def peak_mb(self) -> float:
        return self.peak

    def busy_seconds(self) -> float | None:
        return self.busy if self.busy_measurable else None


def nested_round(timer: PhaseTimer, gpu: FakeGpu) -> None:
    with timer.phase("train"):
        gpu.alloc(50)
        gpu.busy += 3.0
        gpu.free(50)
    with timer.phase("select"):
        gpu.alloc(100)
        gpu.busy += 1.0
        with timer.phase("infer"):  # inference the method triggers: charged to infer
            gpu.alloc(400)
            gpu.busy += 2.0
            gpu.free(400)
        gpu.busy += 0.5
        gpu.free(100)
    with timer.phase("label"):
        pass


def test_gpu_seconds_go_to_the_innermost_phase_and_peaks_cover_nested_phases():
    gpu = FakeGpu()
    timer = PhaseTimer(gpu=gpu)
    nested_round(timer, gpu)
    row = timer.flush()
    assert row["train_gpu_seconds"] == 3.0
    assert row["select_gpu_seconds"] == 1.5  # 1.0 before infer + 0.5 after; infer's 2.0 is not select's
    assert row["infer_gpu_seconds"] == 2.0
    assert row["label_gpu_seconds"] == 0.0 and row["evaluate_gpu_seconds"] == 0.0
    assert row["train_gpu_peak_mb"] == 50.0
    assert row["infer_gpu_peak_mb"] == 500.0  # select's 100 MB still held + infer's 400
    assert row["select_gpu_peak_mb"] == 500.0  # the outer phase's peak includes its nested phase's
    assert row["label_gpu_peak_mb"] == 0.0
    assert {k for k in row if k.endswith("_gpu_seconds")} == {f"{p}_gpu_seconds" for p in PHASES}


def test_flush_starts_a_new_round_and_keeps_the_gpu_columns():
    gpu = FakeGpu()
    timer = PhaseTimer(gpu=gpu)
    nested_round(timer, gpu)
    timer.flush()
    with timer.phase("evaluate"):
        gpu.busy += 0.25
    row = timer.flush()
    assert row["evaluate_gpu_seconds"] == 0.25 and row["train_gpu_seconds"] == 0.0
    assert row["select_gpu_peak_mb"] == 0.0


def test_busy_time_that_cannot_be_measured_adds_no_gpu_seconds_columns():
    gpu = FakeGpu(busy_measurable=False)
    timer = PhaseTimer(gpu=gpu)
    nested_round(timer, gpu)
    row = timer.flush()
    assert not [k for k in row if k.endswith("_gpu_seconds")]
    assert row["select_gpu_peak_mb"] == 500.0  # the allocator's peaks are still there


def test_gpu_work_before_cuda_starts_is_not_charged():
    gpu = FakeGpu()
    gpu.on = False
    timer = PhaseTimer(gpu=gpu)
    with timer.phase("load"):
        gpu.busy += 5.0  # e.g. another process's kernels before this one touched CUDA
        gpu.on = True  # CUDA initialised inside load: measured from the next boundary on
    with timer.phase("train"):
        gpu.busy += 1.0
    row = timer.flush()
    assert row["load_gpu_seconds"] == 0.0 and row["train_gpu_seconds"] == 1.0


def test_cpu_profiling_adds_no_gpu_columns():
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        pytest.skip("CUDA is in use in this process")
    assert not CudaProbe().active()
    timer = PhaseTimer()
    with timer.phase("train"):
        torch.ones(10).sum()
        with timer.phase("infer"):
            pass
    row = timer.flush()
    assert set(row) == {f"{p}{s}" for p in PHASES for s in CPU_SUFFIXES}
    assert all(row[f"{p}_gpu_peak_mb"] == 0.0 for p in PHASES)


def test_busy_sampler_integrates_each_reading_over_the_interval_before_it():
    readings = iter([50.0, 100.0, 25.0, OSError("NVML went away"), 250.0])
    clock = iter([0.0, 1.0, 3.0, 7.0])

    def read() -> float:
        value = next(readings)
        if isinstance(value, Exception):
            raise value
        return value

    sampler = BusySampler(read, clock=lambda: next(clock))  # the first reading only checks NVML answers
    assert sampler.sample() == 1.0  # 100 % over [0, 1]
    assert sampler.sample() == 1.5  # 25 % over [1, 3]
    assert sampler.sample() == 1.5  # a failed read keeps the total
    assert sampler.sample() == 5.5  # over 100 % counts as 100 %, over [3, 7]


# --- the profile report ---------------------------------------------------------------------------------


def rounds_table(gpu: bool) -> pd.DataFrame:
    """Two methods x two seeds x two rounds; hand-set seconds, busy seconds and peaks."""
    rows = []
    for method, busy in (("random", 0.5), ("entropy", 1.0)):
        for seed in (0, 1):
            cell = f"{method}-{seed}"
            for b in (0, 1):
                row = {"cell_id": cell, "dataset": "digits", "imbalance": "step(ratio=3)", "model": "small_cnn",
                       "learner": "{}", "scenario": json.dumps({"rounds": 1}), "method": method, "seed": seed,
                       "round": b, "labels_used": 10 + 10 * b, "cell_seconds": 10.0 + 2 * seed,
                       "store_seconds": 0.1}
                for p in PHASES:
                    row[f"{p}_seconds"] = 1.0
                    row[f"{p}_forward"] = row[f"{p}_backward"] = 0
                    row[f"{p}_peak_rss_mb"] = 300.0
                    row[f"{p}_gpu_peak_mb"] = 0.0
                if gpu:
                    for p in PHASES:
                        row[f"{p}_gpu_seconds"] = 0.0
                    row["train_gpu_seconds"] = busy * (1 + seed)  # seed 1 twice as busy
                    row["infer_gpu_seconds"] = 0.25
                    row["train_gpu_peak_mb"] = 100.0 * (1 + b) + (10.0 if method == "entropy" else 0.0)
                    row["select_gpu_peak_mb"] = 40.0
                rows.append(row)
    return pd.DataFrame(rows)


def test_profile_shows_gpu_seconds_busy_share_and_peaks_per_phase():
    (title, df), = profile_table(rounds_table(gpu=True))
    df = df.set_index("method")
    # random: train busy per cell = 2 rounds x 0.5 (seed 0) and 2 x 1.0 (seed 1): mean 1.5; infer 0.5 per cell
    assert df.loc["random", "train GPU s"] == pytest.approx(1.5)
    assert df.loc["entropy", "train GPU s"] == pytest.approx(3.0)
    assert df.loc["random", "infer GPU s"] == pytest.approx(0.5)
    assert df.loc["random", "GPU s"] == pytest.approx(2.0) and df.loc["entropy", "GPU s"] == pytest.approx(3.5)
    # busy share: mean GPU s over mean wall (10 and 12 s: 11)
    assert df.loc["random", "GPU busy %"] == pytest.approx(100 * 2.0 / 11)
    assert df.loc["entropy", "GPU busy %"] == pytest.approx(100 * 3.5 / 11)
    assert df.loc["random", "train GPU MB"] == 200.0 and df.loc["entropy", "train GPU MB"] == 210.0
    assert df.loc["random", "select GPU MB"] == 40.0
    assert "label GPU MB" not in df  # a phase that never held GPU memory
    assert df.loc["entropy", "peak GPU MB"] == 210.0

    md = to_markdown("tiny", [(title, df.reset_index())])
    assert "GPU busy %" in md and "NVML" in md
    main, gpu = md.split("\n## ")[1].split("\nGPU:\n")
    assert "GPU busy %" not in main and "peak GPU MB" not in main and "accounted %" in main
    entropy = next(line for line in gpu.splitlines() if line.startswith("| entropy"))
    assert "31.8 " in entropy and "3.50" in entropy and "210.00" in entropy  # busy %, GPU s, train GPU MB


def test_cpu_profile_has_no_gpu_table():
    profiles = profile_table(rounds_table(gpu=False))
    (_, df), = profiles
    assert not [c for c in df.columns if "GPU" in c]
    md = to_markdown("tiny", profiles)
    assert "GPU" not in md.replace("on a GPU, the allocator's peak", "")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_cuda_cell_records_gpu_seconds_and_peaks():
    from benchmark.core import profiling
    from benchmark.execute.suite import expand
    from benchmark.scenarios.runner import run_cell
    from tests.conftest import tiny_suite

    spec = expand(tiny_suite(methods=("entropy",), learner={"model": "small_cnn", "epochs": 10, "batch_size": 8,
                                                             "lr": 0.05, "device": "cuda"})).cells[0]
    rounds = run_cell(spec).rounds
    assert (rounds["train_gpu_peak_mb"] > 0).all() and (rounds["evaluate_gpu_peak_mb"] > 0).all()
    if profiling._process_sampler(torch) is None:
        assert not [c for c in rounds if c.endswith("_gpu_seconds")], "no NVML: no busy columns"
        pytest.skip("NVML cannot read this device's utilisation: peaks checked, busy seconds not")
    busy = rounds[[f"{p}_gpu_seconds" for p in PHASES]]
    assert np.isfinite(busy.to_numpy()).all() and (busy >= 0).all().all()
    assert busy.sum().sum() > 0
    assert (busy.sum(axis=1) <= rounds[[f"{p}_seconds" for p in PHASES]].sum(axis=1) + 1.0).all()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_busy_gpu_phase_reads_busy():
    timer = PhaseTimer()
    x = torch.randn(4096, 4096, device="cuda")
    with timer.phase("train"):
        for _ in range(200):
            x = (x @ x).tanh()
    with timer.phase("label"):
        pass
    row = timer.flush()
    assert row["train_gpu_peak_mb"] >= 64  # x and the product: 2 x 64 MB
    if "train_gpu_seconds" not in row:
        pytest.skip("NVML cannot read this device's utilisation")
    assert 0.3 * row["train_seconds"] < row["train_gpu_seconds"] <= row["train_seconds"] + 1.0
