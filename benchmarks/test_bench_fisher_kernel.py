"""Fisher-kernel selection (CVPR 2020 Alg. 1, lines 5-10) at ImageNet scale, memory-bounded.

Synthetic standardised descriptors and Fisher scores, L = 768 split into 4 layer segments
(64 + 128 + 256 + 320): a pool of 1,200,000 and 10,000 misclassified validation points
(of a 50,000 validation set). k-center picks P = 1,000 centres among the misclassified points,
then R_{z,g} between the centres and the whole pool is streamed in chunks; the top P candidates
per centre are kept and assigned rank-major without duplicates. The pool's Z and G (2 × 3.4 GiB) exist before
the measurement; the figure is what the selection adds to the peak RSS. A pool × pool or pool ×
validation matrix would need 5.2 TiB or 224 GiB. Run with ``make bench`` (a few minutes on 2 cores).
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

POOL, VAL_WRONG, P, SIZES = 1_200_000, 10_000, 1_000, (64, 128, 256, 320)

SCRIPT = textwrap.dedent(f"""
    import json, time, numpy as np, torch
    from benchmark.select.kernels import KernelPoints, assign_rank_major, kernel_k_center, kernel_top_candidates

    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1]) / 1024
        return 0.0

    sizes = {SIZES}
    L = sum(sizes)
    rng = np.random.default_rng(0)
    def block(n):
        out = np.empty((n, L), np.float32)
        for s in range(0, n, 100_000):
            out[s:s + 100_000] = rng.standard_normal((min(100_000, n - s), L), dtype=np.float32)
        return out
    pool = KernelPoints(block({POOL}), sizes, block({POOL}))
    val = KernelPoints(block({VAL_WRONG}), sizes, block({VAL_WRONG}))
    kernel_top_candidates(val.take(np.arange(4)), pool.take(np.arange(100)), 2)  # warm up
    open("/proc/self/clear_refs", "w").write("5")
    base = status("VmRSS")
    t0 = time.perf_counter()
    centres = kernel_k_center(val, {P}, np.random.default_rng(1))
    t1 = time.perf_counter()
    values, cand = kernel_top_candidates(val.take(centres), pool, {P})
    picks = assign_rank_major(values, cand, {P})
    t2 = time.perf_counter()
    assert len(np.unique(picks)) == {P}
    print(json.dumps({{"added_mb": status("VmHWM") - base, "inputs_mb": (pool.z.nbytes * 2 + val.z.nbytes * 2) / 2**20,
                      "kcenter_s": t1 - t0, "kernel_select_s": t2 - t1, "threads": torch.get_num_threads()}}))
""")


def test_fisher_kernel_selection_1_2m_x_768(benchmark):
    def run() -> dict:
        out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    mem = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(mem)
    print(f"\nFK selection pool {POOL:,} x {sum(SIZES)}, {VAL_WRONG:,} misclassified val, P={P}: "
          f"adds {mem['added_mb']:.0f} MB to peak RSS (inputs {mem['inputs_mb']:.0f} MB); "
          f"k-center {mem['kcenter_s']:.1f} s, kernel + assignment {mem['kernel_select_s']:.1f} s "
          f"on {mem['threads']} threads")
    assert mem["added_mb"] < 1024
