"""Per-round report of an iterative suite, in the layout of the CVPR 2020 FK paper (Figs. 4 and 6,
Table 1): accuracy per AL round (mean ± std over seeds) as curves and a table, accuracy on the
minority classes, confusion matrices at one round, and forward/backward passes per round.

Options come from the suite's ``report:`` mapping: ``minority_classes`` (default: the classes the
imbalance decimated), ``confusion_round`` (default 3) and ``confusion_methods`` (labels as the
tables show them; default: none).
"""
from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.core.spec import CellSpec
from benchmark.execute.store import ResultStore
from benchmark.report.colors import MethodPalette
from benchmark.report.consolidate import describe_setting, setting_columns, spec_columns
from benchmark.report.leaderboard import band_label, mark, plot_panels


@dataclass
class SettingCurves:
    title: str
    accuracy: pd.DataFrame  # rows: method; columns: labels used; cells "mean ± std" (percent)
    minority: pd.DataFrame
    minority_labelled: pd.DataFrame  # rows: method; columns: labels used; "mean ± std" minority images labelled
    pseudo_labels: pd.DataFrame  # rows: methods that label the pool (FK's S); "mean ± std" % right, all / minority
    curves: pd.DataFrame  # method, labels_used, mean, std (accuracy), seeds and the diagnostics' means: _flat_curves
    confusion: dict[str, np.ndarray]  # method → row-normalised confusion matrix (summed over seeds)
    passes: pd.DataFrame  # per method: mean passes and seconds per AL round
    seeds: int


def _test_labels(spec: CellSpec, store: ResultStore, root: str | Path | None) -> np.ndarray:
    """From the store; cells stored before test labels were kept rebuild them from the data."""
    stored = store.read_test_labels(spec.cell_id)
    if stored is not None:
        return stored
    from benchmark.scenarios.runner import prepare

    _, _, splits = prepare(spec, root)
    return splits.test_y


def _fmt(values: pd.Series, scale: float = 100) -> str:
    """"mean ± std" over seeds of ``scale`` × the values (percent by default); "–" when there are none."""
    v = scale * values.dropna().to_numpy(dtype=float)
    if len(v) == 0:
        return "–"
    return f"{v.mean():.1f} ± {v.std(ddof=1):.1f}" if len(v) > 1 else f"{v.mean():.1f}"


def _fmt_count(values: pd.Series) -> str:
    return _fmt(values, scale=1)


def _minority_labelled(selections: pd.DataFrame, minority: Sequence[int]):  # type: ignore[no-untyped-def]
    """round b → how many images of the minority classes the labelled set holds when round b is evaluated
    (the initial set and the batches of rounds < b); NaN for cells stored before selections kept their labels."""
    if "label" not in selections.columns or not minority or selections["label"].isna().any():
        return lambda b: np.nan
    hit = selections["label"].isin(list(minority)).to_numpy()
    rounds = selections["round"].to_numpy()
    return lambda b: int(hit[rounds < b].sum())


def _flat_curves(g: pd.DataFrame) -> pd.DataFrame:
    """One row per (method, labels used): test accuracy mean and std over seeds (the curve), the number of
    seeds, and the seed means of the minority classes' accuracy, the minority images labelled (with their
    std) and the pool's pseudo-label accuracy where the method labels the pool (NaN otherwise): curves.csv."""
    by = g.groupby(["method", "labels_used"], sort=False)
    flat = by["accuracy"].agg(["mean", "std"])
    flat["seeds"] = by["seed"].nunique()
    flat["minority_accuracy_mean"] = by["minority_accuracy"].mean()
    flat["minority_labelled_mean"] = by["minority_labelled"].mean()
    flat["minority_labelled_std"] = by["minority_labelled"].std()
    flat["pseudo_label_accuracy_mean"] = by["pseudo_label_accuracy"].mean()
    flat["pseudo_label_minority_accuracy_mean"] = by["pseudo_label_minority_accuracy"].mean()
    return flat.reset_index()


def build(cells: Sequence[CellSpec], store: ResultStore, options: dict[str, Any] | None = None,
          root: str | Path | None = None) -> list[SettingCurves]:
    options = options or {}
    conf_round = int(options.get("confusion_round", 3))
    conf_methods = set(options.get("confusion_methods", []))
    minority_opt = options.get("minority_classes")
    rows: list[dict[str, Any]] = []
    confusion: dict[tuple, dict[str, np.ndarray]] = {}
    test_cache: dict[str, np.ndarray] = {}
    for spec in cells:
        if not store.is_done(spec.cell_id):
            continue
        meta = spec_columns(spec)
        key = tuple(meta[c] for c in setting_columns())
        rounds = store.read_rounds(spec.cell_id)
        summary = store.read_summary(spec.cell_id)
        name = mark(meta["method"], bool(summary.get("uses_hidden_labels", False)), int(summary.get("extra_labels", 0)))
        minority = list(minority_opt if minority_opt is not None else summary.get("minority_classes", []))
        preds = store.read_predictions(spec.cell_id)
        split_id = repr((spec.dataset, spec.imbalance, dict(spec.scenario), spec.seed))
        if split_id not in test_cache:
            test_cache[split_id] = _test_labels(spec, store, root)
        y = test_cache[split_id]
        in_minority = np.isin(y, minority) if minority else np.zeros(len(y), bool)
        labelled_minority = _minority_labelled(store.read_selections(spec.cell_id), minority)
        for row, (_, r) in enumerate(rounds.iterrows()):  # predictions are stored one row per evaluated round
            b = int(r["round"])
            al_fwd = r.get("infer_forward", 0) + r.get("select_forward", 0)
            al_bwd = r.get("infer_backward", 0) + r.get("select_backward", 0)
            rows.append({"setting": key, "method": name, "seed": spec.seed, "round": b,
                         "labels_used": int(r["labels_used"]), "accuracy": float(r["accuracy"]),
                         "minority_accuracy": float((preds[row][in_minority] == y[in_minority]).mean()) if in_minority.any() else np.nan,
                         "minority_labelled": labelled_minority(b),
                         "pseudo_label_accuracy": float(r.get("pseudo_label_accuracy", np.nan)),
                         "pseudo_label_minority_accuracy": float(r.get("pseudo_label_minority_accuracy", np.nan)),
                         "al_forward": al_fwd, "al_backward": al_bwd,
                         "al_seconds": r.get("infer_seconds", 0) + r.get("select_seconds", 0),
                         "train_forward": r.get("train_forward", 0), "train_backward": r.get("train_backward", 0),
                         "train_seconds": r.get("train_seconds", 0), "selects": b < rounds["round"].max()})
        conf_rows = np.flatnonzero(rounds["round"].to_numpy() == conf_round)
        if meta["method"] in conf_methods and len(conf_rows):
            classes = int(max(y.max(), preds.max()) + 1)
            cm = np.zeros((classes, classes), dtype=np.int64)
            np.add.at(cm, (y, preds[conf_rows[0]]), 1)
            confusion.setdefault(key, {})
            confusion[key][name] = confusion[key].get(name, 0) + cm
    if not rows:
        return []
    table = pd.DataFrame(rows)
    out = []
    for key, g in table.groupby("setting", sort=False):
        order = list(dict.fromkeys(g["method"]))
        acc = g.pivot_table(index="method", columns="labels_used", values="accuracy", aggfunc=_fmt).reindex(order)
        mino = g.pivot_table(index="method", columns="labels_used", values="minority_accuracy", aggfunc=_fmt).reindex(order)
        mino_labelled = g.pivot_table(index="method", columns="labels_used", values="minority_labelled",
                                      aggfunc=_fmt_count, dropna=False).reindex(order)
        labelling = g[g["pseudo_label_accuracy"].notna()]
        pseudo = pd.DataFrame()
        if len(labelling):  # "all / minority" per labels used, for the methods that label the pool
            right = [labelling.pivot_table(index="method", columns="labels_used", values=col, aggfunc=_fmt, dropna=False)
                     for col in ("pseudo_label_accuracy", "pseudo_label_minority_accuracy")]
            pseudo = (right[0] + " / " + right[1]).reindex([m for m in order if m in set(labelling["method"])])
        curves = _flat_curves(g)
        al = g[g["selects"]]
        passes = al.groupby("method", sort=False)[["al_forward", "al_backward", "al_seconds"]].mean()
        passes = passes.join(g[g["round"] > 0].groupby("method", sort=False)[["train_forward", "train_backward", "train_seconds"]].mean())
        passes = passes.reindex(order)
        cms = {m: (cm / np.maximum(cm.sum(1, keepdims=True), 1)) for m, cm in confusion.get(key, {}).items()}
        out.append(SettingCurves(describe_setting(key), acc, mino, mino_labelled, pseudo, curves, cms, passes,
                                 int(g["seed"].nunique())))
    return out


def ratio_rows(passes: pd.DataFrame, reference: str, others: Sequence[str]) -> list[str]:
    """'X/ref' ratios in AL passes (forward + backward), for the methods present. Seconds are
    measured, not reproducible, so they stay in profile.md."""
    if reference not in passes.index:
        return []
    ref = passes.loc[reference]
    ref_passes = ref["al_forward"] + ref["al_backward"]
    lines = []
    for other in others:
        if other in passes.index:
            o = passes.loc[other]
            lines.append(f"- {other} / {reference}: {(o['al_forward'] + o['al_backward']) / ref_passes:.1f}× passes "
                         f"per AL round")
    return lines


def to_markdown(suite_name: str, description: str, settings: list[SettingCurves], options: dict[str, Any],
                missing: int, failed: int) -> str:
    lines = [f"# {suite_name}: accuracy per AL round", "", description.strip(), "",
             "Mean ± std over seeds, in percent, of the test accuracy of the task model after each round "
             "(the last epoch's weights; no model selection on the test set). † = oracle ablation that reads "
             "hidden labels: an upper limit, not an AL method.", ""]
    if missing or failed:
        lines += [f"**Incomplete: {missing} cells pending, {failed} failed.**", ""]
    for s in settings:
        lines += [f"## {s.title} ({s.seeds} seed{'s' if s.seeds != 1 else ''})", "", "### Accuracy (%) by labels used", "",
                  s.accuracy.to_markdown(), "",
                  f"### Minority-class accuracy (%), classes {options.get('minority_classes', 'decimated by the imbalance')}", "",
                  s.minority.to_markdown(), "",
                  f"### Minority-class images in the labelled set (count when the round is evaluated), classes "
                  f"{options.get('minority_classes', 'decimated by the imbalance')}", "",
                  s.minority_labelled.to_markdown(), ""]
        if len(s.pseudo_labels):
            lines += ["### Pseudo-labels of the pool (% right, all unlabelled points / those of the minority classes), "
                      "by labels used when they were made", "",
                      "The labels a method gives the unlabelled pool to select (the FK kernel's S), scored by the "
                      "harness against the hidden labels the method never reads.", "",
                      s.pseudo_labels.to_markdown(), ""]
        lines += ["### Passes per round (mean over rounds and seeds)", "",
                  "AL = infer + select phases (Table 1's AL column); train = the retraining phase. Passes count "
                  "one per sample; the seconds they took are measured in profile.md (this file regenerates "
                  "byte for byte, seconds do not).", "",
                  s.passes.drop(columns=[c for c in s.passes.columns if c.endswith("_seconds")]).round(1).to_markdown(), ""]
        ref = next((m for m in s.passes.index if m.startswith("R_z,g") and "S=ŷ" in m), None) or \
            next((m for m in s.passes.index if m.startswith("R_z,g")), None)
        if ref:
            others = [m for m in s.passes.index if m.startswith("varR") or m == "VAAL"]
            ratios = ratio_rows(s.passes, ref, others)
            if ratios:
                lines += [f"Ratios to {ref}:", ""] + ratios + [""]
        for m, cm in s.confusion.items():
            lines += [f"### Confusion matrix at round {options.get('confusion_round', 3)}: {m} (rows: true class, "
                      f"row-normalised %, summed over seeds)", "",
                      pd.DataFrame((100 * cm).round(0).astype(int)).to_markdown(), ""]
    return "\n".join(lines)


def palette_for(settings: Sequence[SettingCurves], baseline: str = "random") -> MethodPalette:
    """One colour per method over every method of the settings (pass a suite-wide one to agree with
    the leaderboard's figures when the suite reports more methods than these settings)."""
    return MethodPalette([m for s in settings for m in s.curves["method"]], baseline)


def plot(settings: list[SettingCurves], path: Path, palette: MethodPalette | None = None) -> None:
    plot_panels([(s.title, s.curves, list(dict.fromkeys(s.curves["method"]))) for s in settings], path,
                "test accuracy (%)", palette=palette or palette_for(settings),
                bands=[band_label([s.seeds]) for s in settings])


def plot_confusions(settings: list[SettingCurves], path: Path, palette: MethodPalette | None = None) -> bool:
    """Row-normalised confusion matrices, one panel per (setting, method); the method's name is
    written in its colour; a colour bar gives the scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(s.title, m, cm) for s in settings for m, cm in s.confusion.items()]
    if not panels:
        return False
    palette = palette or palette_for(settings)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels) + 1, 4.5), squeeze=False)
    images = []
    for ax, (title, m, cm) in zip(axes[0], panels):
        images.append(ax.imshow(100 * cm, vmin=0, vmax=100, cmap="Blues"))
        ax.set_title(m, fontsize=9, color=palette.color(m), fontweight="bold")
        ax.text(0.5, -0.2, textwrap.fill(title, 50), transform=ax.transAxes, ha="center", va="top", fontsize=7)
        if len(cm) <= 20:
            ax.set_xticks(range(len(cm)))
            ax.set_yticks(range(len(cm)))
        ax.set_xlabel("predicted class (index)")
        ax.set_ylabel("true class (index)")
    fig.colorbar(images[0], ax=list(axes[0]), label="share of the true class (%)", shrink=0.8)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return True
