"""make bench-sweep: a slice of a suite, its throughput, and the full sweep projected from it."""
from __future__ import annotations

import json

import pytest

from benchmark.execute.suite import load_suite
from tools.bench_sweep import choose_slice, main


def test_the_slice_is_every_method_row_of_the_first_setting(tiny_suite_file):
    suite = load_suite(tiny_suite_file(methods=("random", "entropy", "margin"), seeds=3,
                                       imbalance=[{"name": "step", "ratio": 3}, {"name": "none"}]))
    pairs = choose_slice(suite, seeds=2, rounds=1)
    assert len(suite.cells) == 18 and len(pairs) == 6  # 3 methods x 2 seeds, first imbalance only
    assert {full.imbalance.name for full, _ in pairs} == {"step"}
    assert all(ran.scenario["rounds"] == 1 and ran.cell_id != full.cell_id for full, ran in pairs)


@pytest.mark.slow
def test_bench_sweep_writes_throughput_and_a_projection(tiny_suite_file, tmp_path, capsys):
    suite = tiny_suite_file(methods=("random", "entropy"), seeds=2)
    out = tmp_path / "bench.json"
    assert main(["--suite", str(suite), "--seeds", "1", "--rounds", "1", "--workers", "1", "--threads", "1",
                 "--results", str(tmp_path / "r"), "--out", str(out)]) == 0
    got = json.loads(out.read_text())
    assert got["cells"] == 2 and got["failed"] == 0 and got["device"].startswith(("cpu", "cuda"))
    assert got["cells_per_hour"] > 0 and got["wall_s"] > 0 and got["suite_cells"] == 4
    rows = got["per_row"]
    assert set(rows) == {"random [random init]", "entropy [random init]"}
    assert all(r["cells_in_suite"] == 2 for r in rows.values())
    assert abs(got["full_sweep_min"] - sum(r["projected_min"] for r in rows.values())) < 0.02
    assert got["phase_seconds"]["train"] > 0
