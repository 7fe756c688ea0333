"""TypiClust selection (ICML 2022, Alg. 1) on a 1,200,000 × 512 pool, k = 1,000.

Synthetic embeddings with the low intrinsic dimension of real ones: 1,000 classes, each a Gaussian
(σ = 0.5) around its own centre in a 16-dimensional latent space, mapped linearly into 512 dimensions
plus isotropic noise (0.02), then L2-normalised by the method; 1,000 points labelled, 1,199,000
unlabelled. One selection: MiniBatchKMeans into min(|L| + B, 500) = 500 clusters, then 1,000 picks,
each the most typical point (20-NN inside its cluster, exact, chunked) of the least-covered cluster, so
every cluster is visited twice. The embeddings (2.3 GiB) exist before the measurement; the figure is
what the selection adds to the peak RSS. A pool × pool float32 distance matrix would need 5.2 TiB.
Run with ``make bench`` (minutes on 2 cores).
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

N, D, C, K, LABELLED = 1_200_000, 512, 1_000, 1_000, 1_000

SCRIPT = textwrap.dedent(f"""
    import json, time, numpy as np, torch
    from benchmark.core.registry import METHODS, discover
    from benchmark.select.api import SelectionView

    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1]) / 1024
        return 0.0

    discover()
    rng = np.random.default_rng(0)
    centres = rng.standard_normal(({C}, 16)).astype(np.float32)
    lift = (rng.standard_normal((16, {D})) / 4).astype(np.float32)
    y = rng.integers({C}, size={N})
    emb = np.empty(({N}, {D}), np.float32)
    for s in range(0, {N}, 100_000):
        e = min({N}, s + 100_000)
        z = centres[y[s:e]] + 0.5 * rng.standard_normal((e - s, 16), dtype=np.float32)
        emb[s:e] = z @ lift + 0.02 * rng.standard_normal((e - s, {D}), dtype=np.float32)
    L = {LABELLED}
    view = SelectionView(unlabelled=np.arange(L, {N}), labelled=np.arange(L), labelled_y=y[:L],
                         num_classes={C}, round=0, embeddings=emb[L:], labelled_embeddings=emb[:L])
    small = SelectionView(unlabelled=np.arange(10, 300), labelled=np.arange(10), labelled_y=y[:10],
                          num_classes=5, round=0, embeddings=emb[10:300], labelled_embeddings=emb[:10])
    METHODS.create("typiclust").select(small, 3, np.random.default_rng(0))  # warm up torch and sklearn
    method = METHODS.create("typiclust")
    open("/proc/self/clear_refs", "w").write("5")  # reset the high-water mark to the current RSS
    base = status("VmRSS")
    t0 = time.perf_counter()
    picks = method.select(view, {K}, np.random.default_rng(1))
    t1 = time.perf_counter()
    assert len(np.unique(picks)) == {K} and np.isin(picks, view.unlabelled).all()
    print(json.dumps({{"added_mb": status("VmHWM") - base, "inputs_mb": emb.nbytes / 2**20, "select_s": t1 - t0,
                      "threads": torch.get_num_threads()}}))
""")


def test_typiclust_1_2m_x_512_choose_1000(benchmark):
    def run() -> dict:
        out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    res = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(res)
    print(f"\nTypiClust pool {N:,} x {D}, {LABELLED:,} labelled, k={K}, 500 clusters: {res['select_s']:.0f} s on "
          f"{res['threads']} threads, adds {res['added_mb']:.0f} MB to peak RSS (embeddings {res['inputs_mb']:.0f} MB)")
    # the L2-normalised copy (= inputs) + k-means + one cluster's distance chunk; pool × pool would be 5.2 TiB
    assert res["added_mb"] < res["inputs_mb"] + 2048
