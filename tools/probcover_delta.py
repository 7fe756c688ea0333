"""ProbCover's δ (Yehuda et al., NeurIPS 2022, §4.1) in the pools of a suite's ProbCover cells: for each
(setting, seed), the cached self-supervised embedding the cell selected in (computed again when absent),
the purity of δ-balls against k-means pseudo-classes over ProbCover's δ grid, the δ chosen (largest with
purity ≥ α), the mean δ-ball size at that δ, and, from the stored cell, the true classes of the
first batch it picked. Cited in docs/reproductions.md.

    python -m tools.probcover_delta coldstart-mnist [--data-root DIR] [--results results] [--seeds 0 1]
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from benchmark.core.registry import METHODS, discover
from benchmark.execute.store import ResultStore
from benchmark.execute.suite import load_suite
from benchmark.learn.contrastive import ssl_embedding, ssl_key
from benchmark.scenarios.runner import prepare


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="probcover_delta", description=__doc__.splitlines()[0])
    parser.add_argument("suite")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--results", default="results")
    parser.add_argument("--seeds", type=int, nargs="*", default=None)
    args = parser.parse_args(argv)
    discover()
    pc = sys.modules[METHODS.get("probcover").__module__]
    from benchmark.core.seeding import torch_seed
    from benchmark.select.clustering import kmeans_labels, l2_normalize

    store = ResultStore(args.results)
    show = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0]
    for spec in load_suite(args.suite).cells:
        if spec.method.name != "probcover" or (args.seeds is not None and spec.seed not in args.seeds):
            continue
        pool, scenario, splits = prepare(spec, args.data_root)
        recipe = scenario.ssl_recipe()  # type: ignore[attr-defined]  # the iterative scenarios have one
        key = ssl_key(spec.dataset.to_dict(), spec.imbalance.to_dict(), spec.seed, splits.pool_idx, recipe)
        emb, computed, _ = ssl_embedding(key, pool.train_x[splits.pool_idx], recipe, torch_seed("ssl", key),
                                         torch.device("cpu"), None)
        x = l2_normalize(None, emb)
        pseudo = kmeans_labels(x, pool.num_classes, seed=0)
        rng = np.random.default_rng(0)
        queries = np.sort(rng.choice(len(x), min(3000, len(x)), replace=False))
        d_other = pc.nearest_other_cluster_distance(x, pseudo, queries)
        purity = pc.ball_purity(d_other, pc.DELTA_GRID)
        delta = pc.largest_pure_delta(d_other, 0.95)
        _, _, edges = pc.delta_ball_graph(x, delta)
        ball = len(edges) / len(x)
        grid = " ".join(f"{d:g}:{purity[list(pc.DELTA_GRID).index(d)]:.2f}" for d in show)
        picked = ""
        if store.is_done(spec.cell_id):
            sel = store.read_selections(spec.cell_id)
            first = sel[sel["round"] == sel["round"][sel["round"] >= 0].min()]
            labels = first["label"] if "label" in first else splits.pool_y[first["position"]]
            picked = " first batch classes " + str(np.bincount(np.asarray(labels, int), minlength=pool.num_classes).tolist())
        print(f"{spec.imbalance.name} seed {spec.seed}: N={len(x)} dim={x.shape[1]} "
              f"({'computed' if computed else 'cached'}) purity[{grid}] δ={delta:g} mean ball {ball:.0f}{picked}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
