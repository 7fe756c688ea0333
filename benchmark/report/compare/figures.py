"""The comparison's figures: the pairwise penalty matrix (Ash et al. 2020, Fig. 4 style: a grey
heat map with the values written in, the column sums beneath) and the critical-difference diagram
(Demšar 2006, Fig. 1-2 style: average ranks on an axis, rank 1 on the left, methods no test separates
joined by a bar). Matplotlib's Agg backend; method names in the suite palette's colours. A figure
with nothing to show raises a CompareError instead of rendering blank."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.errors import CompareError
from benchmark.report.colors import MethodPalette
from benchmark.report.compare.pairwise import Penalty
from benchmark.report.compare.ranks import Ranks


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_penalty(penalty: Penalty, path: Path, palette: MethodPalette) -> None:
    """Rows win, columns lose; the bottom strip is each column's sum (how often a method is beaten)."""
    m = penalty.ordered()
    if m.empty or not penalty.settings:
        raise CompareError("no penalty matrix to draw: no setting had two methods with enough common seeds")
    plt = _pyplot()
    k = len(m)
    cell = 0.6  # inches per matrix cell
    fig, (ax, bottom) = plt.subplots(2, 1, figsize=(cell * k + 2.2, cell * (k + 1) + 2.0), height_ratios=[k, 1],
                                     sharex=True)
    vmax = max(float(m.to_numpy().max()), 1e-9)
    ax.imshow(m.to_numpy(), cmap="Greys", vmin=0, vmax=vmax, aspect="auto")
    for (i, j), v in np.ndenumerate(m.to_numpy()):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v > 0.6 * vmax else "black")
    ax.set_yticks(range(k), list(m.index), fontsize=8)
    for tick, name in zip(ax.get_yticklabels(), m.index):
        tick.set_color(palette.color(name))
    ax.set_ylabel("winner (row beats column)")
    ax.set_title(f"Pairwise penalty matrix ({len(penalty.settings)} setting(s); max {len(penalty.settings)} per cell)",
                 fontsize=9)
    beaten = m.sum(axis=0).to_numpy()[None, :]
    bottom.imshow(beaten, cmap="Greys", vmin=0, vmax=max(float(beaten.max()), 1e-9), aspect="auto")
    for j, v in enumerate(beaten[0]):
        bottom.text(j, 0, f"{v:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if v > 0.6 * beaten.max() else "black")
    bottom.set_yticks([0], ["column sum"], fontsize=8)
    bottom.set_xticks(range(k), list(m.columns), rotation=45, ha="right", fontsize=8)
    for tick, name in zip(bottom.get_xticklabels(), m.columns):
        tick.set_color(palette.color(name))
    bottom.set_xlabel("loser (lower column sum is better)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def plot_cd(r: Ranks, path: Path, palette: MethodPalette) -> None:
    """Average ranks on an axis from 1 to k; the better half labelled on the left, the rest on the right;
    the Nemenyi critical difference as a scale bar (Nemenyi only); a thick bar per clique."""
    if r.k < 2 or r.n < 1:
        raise CompareError("no critical-difference diagram to draw: fewer than 2 ranked methods")
    plt = _pyplot()
    k, names, avg = r.k, list(r.average.index), r.average.to_numpy(float)
    cliques = r.cliques()
    half = (k + 1) // 2
    rows = max(half, k - half)
    height = 1.4 + 0.28 * rows + 0.18 * len(cliques)
    fig, ax = plt.subplots(figsize=(7.5, height))
    ax.set_xlim(0.3 - 1.6, k + 0.7 + 1.6)
    top, step = 0.0, 0.28
    ax.set_ylim(-(0.45 + step * rows + 0.18 * len(cliques) + 0.2), 0.8)
    ax.axis("off")
    ax.plot([1, k], [top, top], color="black", lw=1)
    for t in range(1, k + 1):
        ax.plot([t, t], [top, top + 0.08], color="black", lw=1)
        ax.text(t, top + 0.13, str(t), ha="center", va="bottom", fontsize=8)
    for half_t in np.arange(1.5, k, 1.0):
        ax.plot([half_t, half_t], [top, top + 0.04], color="black", lw=0.7)
    if r.cd is not None:
        y = top + 0.5
        ax.plot([1, 1 + r.cd], [y, y], color="black", lw=1.5)
        for x in (1, 1 + r.cd):
            ax.plot([x, x], [y - 0.05, y + 0.05], color="black", lw=1.5)
        ax.text(1 + r.cd / 2, y + 0.07, f"CD = {r.cd:.2f}", ha="center", va="bottom", fontsize=8)
    clique_top = top - 0.25
    for c, members in enumerate(cliques):
        lo, hi = float(r.average[members[0]]), float(r.average[members[-1]])
        y = clique_top - 0.18 * c
        ax.plot([lo - 0.03, hi + 0.03], [y, y], color="black", lw=3, solid_capstyle="round")
    label_top = clique_top - 0.18 * len(cliques) - 0.1
    for i, (name, x) in enumerate(zip(names, avg)):
        left = i < half
        row = i if left else k - 1 - i
        y = label_top - step * row
        end = 0.3 - 0.2 if left else k + 0.7 + 0.2
        color = palette.color(name)
        ax.plot([x, x, end], [top, y, y], color=color, lw=1)
        ax.text(end - 0.05 if left else end + 0.05, y, f"{name} ({x:.2f})", ha="right" if left else "left",
                va="center", fontsize=8, color=color)
    test = "Nemenyi" if r.posthoc == "nemenyi" else "Wilcoxon signed-rank, Holm-corrected"
    ax.set_title(f"Average rank by AUBC over {r.n} block(s) ({r.blocks}, from {len(r.settings)} setting(s)); bars: not separated by the {test} "
                 f"test at α = {r.alpha:g}; Friedman p = {r.friedman_p:.3g}", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
