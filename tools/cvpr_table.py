"""The CVPR 2020 MNIST table (Gudovskiy et al., Fig. 4(a,b)) of docs/reproductions.md, from the committed
reports: every row albench has run at 1× and 100× (the suites below), per AL round, with the paper's value
where it can be read and the authors' own code's value where it was run (issue 21's figures), and under each
accuracy row the minority-class (digits 5-9) images in the labelled set.

    python -m tools.cvpr_table [--reports reports]              # print the markdown table
    python -m tools.cvpr_table --check docs/reproductions.md    # 1 if the doc's table is not this output

The doc holds the output between the ``<!-- cvpr-table -->`` markers; ``tests/test_cvpr_table.py`` keeps the
two equal, so a regenerated report that moves a number fails the tests until the doc is regenerated too.
"""
from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

# The suites whose curves the table shows, in this order within a ratio (the most seeds first).
SUITES = ("fk-mnist-100-fk", "fk-mnist-100-ensvaal", "fk-mnist-1-fk", "fk-mnist-early", "fk-mnist-cpu")
# A suite whose rows that these suites also hold are the same cells (all of them, or their first seeds): those
# rows are shown once, from the suite with every seed; the suite adds only the rows the others lack.
SHARES_CELLS_WITH: dict[str, tuple[str, ...]] = {"fk-mnist-100-ensvaal": ("fk-mnist-100-fk",),
                                                 "fk-mnist-cpu": ("fk-mnist-100-fk", "fk-mnist-100-ensvaal")}
BUDGETS = tuple(range(125, 1251, 125))
MARKS = "†‡"
BEGIN, END = "<!-- cvpr-table -->", "<!-- /cvpr-table -->"

# The paper's Fig. 4(b) (100×) as far as it can be read without its data (the text, the annotations of the
# authors' mnist/run_plot.py); the figure's 1× panel is not readable to a point, and its text gives gaps only.
PAPER: dict[tuple[int, str], dict[int, str]] = {
    (100, "random"): {125: "≈ 52", 250: "≈ 54", 375: "≈ 56"},
    (100, "R_z,g S=p(y,z) L80"): {125: "≈ 72", 250: "≈ 83", 375: "≈ 88"},
    (100, "R_z,g S=p(y,z) L20"): {125: "≈ 62", 375: "> 85"},
    (100, "R_z,g S=y L20 (oracle)"): {125: "≈ 85"},
}
# The authors' code (gudovskiy/al-fk-self-supervision, mnist/) run on a 2-core CPU with its recipe unchanged
# except offline data, CPU and fixed seeds: 3 seeds, last epoch, mean ± std (issue 21).
CODE: dict[tuple[int, str], dict[int, tuple[float, float]]] = {
    (100, "random"): {125: (52.4, 1.5), 250: (56.1, 4.8), 375: (57.6, 6.1)},
    (100, "R_z,g S=p(y,z) L80"): {125: (66.4, 4.2), 250: (77.3, 4.3), 375: (86.7, 1.4)},
    (100, "R_z,g S=ŷ L20"): {125: (61.6, 0.4), 250: (69.3, 2.1), 375: (78.9, 1.0)},
}
CODE_MINORITY: dict[tuple[int, str], dict[int, float]] = {
    (100, "random"): {125: 2.7, 250: 4.3, 375: 5.7},
    (100, "R_z,g S=p(y,z) L80"): {125: 18.7, 250: 40.3, 375: 75.7},
    (100, "R_z,g S=ŷ L20"): {125: 8.3, 250: 23.7, 375: 50.7},
}
CODE_SEEDS = 3
# The paper's rows and their ablations (the recent baselines of the same suites have their own section).
CVPR_ROWS = ("random", "R_z", "varR", "VAAL")
# Rows in the paper's order; rows of a suite that are not listed here follow in the suite's order.
ORDER = ("random", "R_z L20", "R_z,g S=ŷ L20", "R_z,g S=p(y,z) L20", "R_z,g S=p(y,z) L80",
         "R_z,g S=y L20 (oracle)", "varR (E1,K16)", "varR (E4)", "VAAL")


@dataclass(frozen=True)
class Row:
    ratio: int
    method: str
    source: str
    seeds: str
    cells: dict[int, str]


def bare(label: str) -> str:
    """A report's method label without its marks († reads hidden labels, ‡ extra labels)."""
    return label.rstrip(MARKS).strip()


def ratio_of(setting: str) -> int:
    found = re.search(r"ratio=(\d+(?:\.\d+)?)", setting)
    if not found:
        raise ValueError(f"setting {setting!r} names no imbalance ratio; expected 'step(ratio=N)'")
    return int(float(found.group(1)))


def _pm(mean: float, std: float) -> str:
    return f"{mean:.1f}" if math.isnan(std) else f"{mean:.1f} ± {std:.1f}"


def suite_rows(reports: Path, suite: str) -> list[Row]:
    """Accuracy and minority-count rows of one report's curves.csv (seeds from its leaderboard.csv when the
    curves predate the seeds column); none when the suite has no committed curves."""
    path = reports / suite / "curves.csv"
    if not path.is_file():
        return []
    curves = pd.read_csv(path)
    if "seeds" not in curves.columns:
        board = pd.read_csv(reports / suite / "leaderboard.csv")
        seeds = {(m, s): n for m, s, n in zip(board["method"], board["setting"], board["seeds"], strict=True)}
        curves["seeds"] = [seeds.get((m, s), float("nan")) for m, s in zip(curves["method"], curves["setting"], strict=True)]
    rows: list[Row] = []
    for (setting, method), g in curves.groupby(["setting", "method"], sort=False):
        g = g.set_index("labels_used")
        seeds = g["seeds"].dropna()
        n = f"{int(seeds.max())}" if len(seeds) else "?"
        acc = {b: _pm(100 * g.at[b, "mean"], 100 * g.at[b, "std"]) for b in BUDGETS if b in g.index}
        ratio = ratio_of(str(setting))
        rows.append(Row(ratio, str(method), f"albench `{suite}`", n, acc))
        if "minority_labelled_mean" in g.columns and g["minority_labelled_mean"].notna().any():
            mino = {b: f"{g.at[b, 'minority_labelled_mean']:.1f}" for b in BUDGETS
                    if b in g.index and not math.isnan(g.at[b, "minority_labelled_mean"])}
            rows.append(Row(ratio, str(method), f"… minority images labelled (`{suite}`)", n, mino))
        if "pseudo_label_accuracy_mean" in g.columns and g["pseudo_label_accuracy_mean"].notna().any():
            right = {b: f"{100 * g.at[b, 'pseudo_label_accuracy_mean']:.1f} / "
                        f"{100 * g.at[b, 'pseudo_label_minority_accuracy_mean']:.1f}"
                     for b in BUDGETS if b in g.index and not math.isnan(g.at[b, "pseudo_label_accuracy_mean"])}
            rows.append(Row(ratio, str(method), f"… pool pseudo-labels right, % all / minority (`{suite}`)", n, right))
    return rows


def reference_rows(ratio: int, method: str) -> list[Row]:
    key = (ratio, bare(method))
    rows = []
    if key in PAPER:
        rows.append(Row(ratio, method, "paper, Fig. 4(b)", "10", dict(PAPER[key])))
    if key in CODE:
        rows.append(Row(ratio, method, "authors' code, last epoch", str(CODE_SEEDS),
                        {b: _pm(*v) for b, v in CODE[key].items()}))
        rows.append(Row(ratio, method, "… minority images labelled (code)", str(CODE_SEEDS),
                        {b: f"{v:.1f}" for b, v in CODE_MINORITY[key].items()}))
    return rows


def build(reports: Path) -> list[Row]:
    by_suite = {suite: [r for r in suite_rows(reports, suite) if bare(r.method).startswith(CVPR_ROWS)] for suite in SUITES}
    for suite, others in SHARES_CELLS_WITH.items():
        held = {(r.ratio, bare(r.method)) for other in others for r in by_suite[other]}
        by_suite[suite] = [r for r in by_suite[suite] if (r.ratio, bare(r.method)) not in held]
    methods: dict[tuple[int, str], list[Row]] = {}
    for r in (r for suite in SUITES for r in by_suite[suite]):
        methods.setdefault((r.ratio, bare(r.method)), []).append(r)
    rank = {m: i for i, m in enumerate(ORDER)}
    keys = sorted(methods, key=lambda k: (k[0], rank.get(k[1], len(ORDER))))
    out: list[Row] = []
    for key in keys:
        first = methods[key][0]
        out += reference_rows(key[0], first.method) + methods[key]
    return out


def to_markdown(rows: list[Row]) -> str:
    head = ["imbalance", "row", "source", "seeds", *[f"{b}" for b in BUDGETS]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    previous: tuple[int, str] | None = None
    for r in rows:
        same = previous == (r.ratio, bare(r.method))
        name = "" if same else r.method
        ratio = "" if same else f"{r.ratio}×"
        lines.append("| " + " | ".join([ratio, name, r.source, r.seeds, *[r.cells.get(b, "") for b in BUDGETS]]) + " |")
        previous = (r.ratio, bare(r.method))
    return "\n".join(lines) + "\n"


def embedded(doc: str) -> str:
    """The table between the markers of a doc (ValueError when the markers are missing)."""
    if BEGIN not in doc or END not in doc:
        raise ValueError(f"no {BEGIN} … {END} block in the doc; paste the output of `python -m tools.cvpr_table` "
                         "between those two lines")
    return doc.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cvpr_table", description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    parser.add_argument("--check", type=Path, default=None, metavar="DOC",
                        help="compare the table embedded in DOC with the regenerated one instead of printing it")
    parser.add_argument("--write", type=Path, default=None, metavar="DOC", help="replace the table embedded in DOC")
    args = parser.parse_args(argv)
    table = to_markdown(build(args.reports))
    if args.check is not None:
        if embedded(args.check.read_text()) != table:
            print(f"{args.check}: its CVPR table differs from the committed reports'; run "
                  f"`python -m tools.cvpr_table --write {args.check}`", file=sys.stderr)
            return 1
        return 0
    if args.write is not None:
        doc = args.write.read_text()
        embedded(doc)  # the markers must be there
        head, rest = doc.split(BEGIN, 1)
        args.write.write_text(head + BEGIN + "\n" + table + END + rest.split(END, 1)[1])
        return 0
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
