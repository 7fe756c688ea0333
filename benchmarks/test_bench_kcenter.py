"""Core-set selection at scale: 50,000 × 128 features, 1,000 picks, 1,000 labelled centers.

Time comes from pytest-benchmark; peak memory is measured in a fresh subprocess (Linux): the
high-water mark of RSS is reset once the features exist, so the figure is what k-center adds.
Run with ``make bench``.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from benchmark.select.kcenter import greedy_k_center

N, D, K, LABELLED = 50_000, 128, 1_000, 1_000

MEMORY_SCRIPT = textwrap.dedent(f"""
    import json, numpy as np, torch

    def hwm_mb():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
        return 0.0

    def rss_mb():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
        return 0.0

    torch.set_num_threads(1)
    from benchmark.select.kcenter import greedy_k_center
    rng = np.random.default_rng(0)
    x = rng.standard_normal(({N}, {D}), dtype=np.float32)
    c = rng.standard_normal(({LABELLED}, {D}), dtype=np.float32)
    greedy_k_center(x[:100], 2, centers=c[:2])  # warm up torch
    open("/proc/self/clear_refs", "w").write("5")  # reset the high-water mark to the current RSS
    base = rss_mb()
    greedy_k_center(x, {K}, centers=c)
    peak = hwm_mb()
    print(json.dumps({{"added_mb": peak - base, "peak_mb": peak, "features_mb": x.nbytes / 2**20}}))
""")


@pytest.fixture(scope="module")
def features():
    rng = np.random.default_rng(0)
    return rng.standard_normal((N, D), dtype=np.float32), rng.standard_normal((LABELLED, D), dtype=np.float32)


def test_coreset_50k_x_128_choose_1000(benchmark, features):
    x, c = features
    picks = benchmark.pedantic(greedy_k_center, args=(x, K), kwargs={"centers": c}, rounds=3, iterations=1,
                               warmup_rounds=1)
    assert len(np.unique(picks)) == K
    out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT], capture_output=True, text=True, check=True)
    mem = json.loads(out.stdout.strip().splitlines()[-1])
    benchmark.extra_info.update(mem)
    print(f"\ncore-set {N}x{D} choose {K}: k-center added {mem['added_mb']:.0f} MB of peak RSS "
          f"(features {mem['features_mb']:.0f} MB, process peak {mem['peak_mb']:.0f} MB)")
    assert mem["added_mb"] < 400  # a few hundred MB at most; an N×N float matrix would be 9.3 GB
