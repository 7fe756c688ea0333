"""scripts/gpu_check.sh's sweep order: the subset suites it runs first are fk-mnist's own cells (same
cell ids), so what they compute lands in the fk-mnist archive and `albench run fk-mnist` skips it."""
from __future__ import annotations

import subprocess

import pytest

from benchmark.core.registry import discover
from benchmark.execute.suite import load_suite
from benchmark.report.consolidate import component_label
from tests.conftest import REPO

discover()


@pytest.mark.parametrize("subset, ratios, rows", [
    ("fk-mnist-gpu-first", {1, 100}, {"varR (E1,K128)", "varR (E4)", "R_z,g S=tr(C) L20", "R_z,g S=I(z;g) L20",
                                      "VAAL"}),
    ("fk-mnist-1-fk", {1}, {"random", "R_z L20", "R_z,g S=ŷ L20", "R_z,g S=p(y,z) L20", "R_z,g S=p(y,z) L80",
                             "R_z,g S=y L20 (oracle)"}),
    ("fk-mnist-100-ensvaal", {100}, {"random", "varR (E4)", "VAAL"}),  # the CPU archives the script imports
    ("fk-mnist-100-recent", {100}, {"random", "BADGE", "TypiClust", "ProbCover", "Cluster-Margin", "GALAXY", "BASE"}),
])
def test_the_gpu_first_suites_are_cells_of_fk_mnist(subset, ratios, rows):
    full = {c.cell_id for c in load_suite("fk-mnist").cells}
    cells = load_suite(subset).cells
    assert {c.cell_id for c in cells} <= full
    assert {c.imbalance.to_dict()["params"]["ratio"] for c in cells} == ratios
    assert {component_label(c.method) for c in cells} == rows
    assert len(cells) == len(rows) * len(ratios) * 10  # 10 seeds


def test_the_script_parses():
    assert subprocess.run(["bash", "-n", str(REPO / "scripts" / "gpu_check.sh")]).returncode == 0
