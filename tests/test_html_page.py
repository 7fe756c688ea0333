"""What the HTML leaderboard tells a reader is true (issue 19, items 1, 2 and 13).

* The cost section's heading, caption and axes say what its numbers are: per AL round or per cell
  (summed over its rounds), and the numbers are that.
* No figure has an empty panel (the cost figure's forward-passes panel was blank on every page).
* No "nan" on the page, integral pass counts without decimals, "1 seed" (never "1 seeds", nor a
  standard deviation over one seed), and tables wider than the page scroll instead of being cut off.

Each check is a function of the page. The tests without a mark apply it to a page written from a
synthetic results table (no cell runs, part of ``make test``); the ``browser`` tests apply it, and the
checks only a browser can make (layout, what the figures show on screen), to the page ``albench
leaderboard`` writes from a tiny result store, rendered by headless Chromium (``make test-browser``).
"""
from __future__ import annotations

import io
import json
import math
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from benchmark.core.profiling import PHASES
from benchmark.report import leaderboard as lb
from benchmark.report.html import write_html
from benchmark.report.profile import profile_table
from tests.test_html_report import CHROMIUM_ARGS, _chromium

REPO = Path(__file__).resolve().parent.parent
METHODS = ("random", "entropy", "margin")
ROUNDS = 25  # 26 budgets: the budget table is wider than the 1400 px page
PASS_HEADER = re.compile(r"fwd|bwd|forward|backward|passes", re.I)
NOT_A_COUNT = re.compile(r"(^|\W)s(\W|$)|seconds|%|MB", re.I)
PER_ROUND = re.compile(r"per (AL )?round", re.I)
PER_CELL = re.compile(r"per cell|summed over|sum over|total", re.I)


# --- a page from a synthetic results table --------------------------------------------------------------------


def results_table(seeds: int = 1, rounds: int = ROUNDS, per_round: int = 4) -> pd.DataFrame:
    """Rows as consolidate() writes them: one setting, no initial labels (round 0 has 0 labels, so its
    labelled ir is undefined, as the engine writes it), integral pass counts, and phase seconds that differ
    between a round and a whole cell."""
    rows = []
    for k, method in enumerate(METHODS):
        for seed in range(seeds):
            for b in range(rounds + 1):
                selects = b < rounds  # the last row trains and evaluates; nothing is selected from it
                acc = 0.1 + 0.8 * b / rounds * (1 + 0.05 * k) / 1.1 + 0.01 * seed
                row: dict[str, Any] = {
                    "cell_id": f"{method}-{seed}", "dataset": "digits", "imbalance": "step(ratio=10)",
                    "model": "small_cnn", "learner": "{}", "seed": seed, "method": method,
                    "scenario": json.dumps({"initial": 0, "per_round": per_round, "rounds": rounds}),
                    "round": b, "labels_used": per_round * b, "balanced_accuracy": acc, "accuracy": acc,
                    "minority_accuracy": acc / 2, "classes_discovered": min(b, 10),
                    "labelled_ir": np.nan if b == 0 else 1.0 / b, "uses_hidden_labels": False, "extra_labels": 0,
                    "cell_seconds": 9.0 + k}
                for p in PHASES:
                    row[f"{p}_seconds"] = 0.0
                    row[f"{p}_forward"] = row[f"{p}_backward"] = 0
                    row[f"{p}_peak_rss_mb"], row[f"{p}_gpu_peak_mb"] = 400.0, np.nan
                row["train_seconds"] = 0.2 + 0.01 * k
                row["train_forward"] = row["train_backward"] = 3 * per_round * b
                row["evaluate_seconds"], row["evaluate_forward"] = 0.05, 1000
                if selects:
                    row["select_seconds"] = 0.03 * (k + 1)
                    row["infer_seconds"] = 0.0 if method == "random" else 0.02 * (k + 1)
                    row["infer_forward"] = 0 if method == "random" else 1000 - per_round * b
                rows.append(row)
    return pd.DataFrame(rows)


@dataclass
class Table:
    id: str
    headers: list[str] = field(default_factory=list)
    rows: list[list[tuple[str, str | None]]] = field(default_factory=list)  # (text, data-sort)

    def column(self, header: str) -> list[tuple[str, str | None]]:
        i = self.headers.index(header)
        return [row[i] for row in self.rows]

    def values(self, header: str) -> list[float]:
        """The column's numbers: the sort key where the cell has one, else its text."""
        return [float(key if key not in (None, "") else text) for text, key in self.column(header)]


class Page(HTMLParser):
    """The page as a reader meets it: blocks in order (headings, paragraphs, tables, images, captions)
    and the text outside scripts and styles."""

    BLOCKS = ("h1", "h2", "h3", "h4", "p", "figcaption", "li")

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, Any]] = []
        self.words: list[str] = []
        self._skip = 0
        self._open: list[tuple[str, list[str]]] = []
        self._table: Table | None = None
        self._cell: tuple[list[str], str | None] | None = None
        self._in_head = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "table":
            self._table = Table(str(a.get("id", "")))
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and self._table is not None and not self._in_head:
            self._table.rows.append([])
        elif tag in ("th", "td") and self._table is not None:
            self._cell = ([], a.get("data-sort"))
        elif tag == "img":
            self.blocks.append(("img", str(a.get("src", ""))))
        elif tag in self.BLOCKS:
            self._open.append((tag, []))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1
        elif tag == "thead":
            self._in_head = False
        elif tag in ("th", "td") and self._table is not None and self._cell is not None:
            text = " ".join("".join(self._cell[0]).split())
            if tag == "th":
                self._table.headers.append(text)
            else:
                self._table.rows[-1].append((text, self._cell[1]))
            self._cell = None
        elif tag == "table" and self._table is not None:
            self.blocks.append(("table", self._table))
            self._table = None
        elif self._open and self._open[-1][0] == tag:
            name, parts = self._open.pop()
            self.blocks.append((name, " ".join("".join(parts).split())))

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.words.append(data)
        if self._cell is not None:
            self._cell[0].append(data)
        for _, parts in self._open:
            parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.words).split())

    def tables(self) -> list[Table]:
        return [t for kind, t in self.blocks if kind == "table"]


@dataclass
class CostSection:
    heading: str
    caption: str  # the paragraphs between the heading and the table, and the figure's caption
    table: Table
    figure: str  # the figure's file name ("" when none follows the table)


def cost_sections(page: Page) -> list[CostSection]:
    out = []
    for i, (kind, table) in enumerate(page.blocks):
        if kind != "table" or not table.id.endswith("-cost"):
            continue
        start = max(j for j in range(i) if page.blocks[j][0] in ("h2", "h3", "h4"))
        before = [text for kind2, text in page.blocks[start + 1:i] if kind2 == "p"]
        after = page.blocks[i + 1:i + 3]
        figure = next((src for kind2, src in after if kind2 == "img"), "")
        caption = " ".join(before + [text for kind2, text in after if kind2 == "figcaption"])
        out.append(CostSection(page.blocks[start][1], caption, table, figure))
    return out


def claimed_unit(section: CostSection) -> str:
    """What the cost section says its numbers are: "round" (per AL round) or "cell" (a cell's total)."""
    heading = section.heading
    says_round, says_cell = bool(PER_ROUND.search(heading)), bool(PER_CELL.search(heading))
    assert says_round != says_cell, f"the cost heading {heading!r} must say per AL round or per cell (one of them)"
    if says_cell:
        assert not re.search(r"mean over[^.]*rounds|per (AL )?round", section.caption, re.I), (
            f"the heading says per cell but the caption talks of rounds: {section.caption!r}")
    return "round" if says_round else "cell"


def phase_columns(table: Table) -> dict[str, str]:
    """Phase → the header of its seconds column (e.g. "train s")."""
    out = {}
    for header in table.headers:
        m = re.match(r"(\w+)\b", header)
        if m and m.group(1) in PHASES and not PASS_HEADER.search(header) and not re.search(r"GPU|MB|%", header):
            out.setdefault(m.group(1), header)
    return out


def check_cost_numbers(section: CostSection, table: pd.DataFrame) -> str:
    """The cost table's seconds are what its heading says: a cell's sum over its rounds (mean over seeds),
    or that per AL round (divided by the rounds, or by the rows: the last row trains without selecting)."""
    unit = claimed_unit(section)
    rounds = int(table["round"].max())
    totals = table.groupby(["method", "cell_id"])[[f"{p}_seconds" for p in PHASES]].sum().groupby("method").mean()
    methods = [text for text, _ in section.table.column("method")]
    columns = phase_columns(section.table)
    assert {"train", "infer", "select"} <= set(columns), section.table.headers
    for phase in ("train", "infer", "select"):
        for method, got in zip(methods, section.table.values(columns[phase])):
            total = float(totals.loc[method, f"{phase}_seconds"])
            want = [total] if unit == "cell" else [total / rounds, total / (rounds + 1)]
            assert any(math.isclose(got, w, rel_tol=1e-3, abs_tol=6e-4) for w in want), (
                f"{columns[phase]!r} of {method} is {got}, but the section says per {unit}: {want} "
                f"(heading {section.heading!r})")
    return unit


def check_no_nan(page: Page) -> None:
    found = re.findall(r"[^.;]{0,40}\bnan\b[^.;]{0,20}", page.text, flags=re.I)
    assert not found, f"the page shows 'nan': {found}"


def check_integral_passes(page: Page) -> None:
    """Pass counts that are whole numbers show no decimals (25200, not 25200.000)."""
    bad = []
    for table in page.tables():
        for header in table.headers:
            if not PASS_HEADER.search(header) or NOT_A_COUNT.search(header):
                continue
            for text, key in table.column(header):
                value = float(key) if key not in (None, "") else None
                if value is not None and math.isfinite(value) and value == int(value) and not re.fullmatch(
                        r"[+\-]?\d{1,3}([,\u2009 ]?\d{3})*", text):
                    bad.append(f"{table.id} / {header}: {text!r}")
    assert not bad, f"integral pass counts shown with decimals: {bad[:5]}"


def check_seed_grammar(page: Page) -> None:
    text = page.text
    assert not re.search(r"\b1 seeds\b", text), re.findall(r".{60}\b1 seeds\b.{10}", text)
    assert not re.search(r"std over 1 seed\b", text), "a standard deviation over one seed is not one"


@pytest.fixture(scope="module")
def synthetic_page(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    table = results_table()
    out = tmp_path_factory.mktemp("html-page") / "html"
    return write_html("synthetic", lb.build(table), profile_table(table), out,
                      description="A synthetic suite with no initial labels."), table


# --- the checks on the synthetic page (make test) ----------------------------------------------------------------


def test_the_page_parser_reads_the_cost_section(synthetic_page):
    path, table = synthetic_page
    page = Page(path.read_text(encoding="utf-8"))
    (section,) = cost_sections(page)
    assert section.table.id == "setting-1-cost" and section.figure.endswith(".png")
    assert sorted(text for text, _ in section.table.column("method")) == sorted(METHODS)
    assert {"train", "infer", "select"} <= set(phase_columns(section.table))
    assert "Leaderboard: synthetic" in page.text and "<" not in page.text  # text, not markup


def test_the_cost_section_says_what_its_numbers_are(synthetic_page):
    path, table = synthetic_page
    (section,) = cost_sections(Page(path.read_text(encoding="utf-8")))
    check_cost_numbers(section, table)


def test_a_cost_section_that_calls_sums_per_round_is_caught():
    """The page as it was (issue 19 item 1): "Cost per AL round" over per-cell sums."""
    table = results_table(rounds=4)
    profile = dict(profile_table(table))
    (title, df), = profile.items()
    rows = "".join(f'<tr><td>{m}</td><td data-sort="{t!r}">{t:.3f}</td><td data-sort="{i!r}">{i:.3f}</td>'
                   f'<td data-sort="{s!r}">{s:.3f}</td></tr>'
                   for m, t, i, s in zip(df["method"], df["train s"], df["infer s"], df["select s"]))
    page = Page("<h4>Cost per AL round</h4><p>Mean over seeds and the rounds that select.</p>"
                '<table id="x-cost"><thead><tr><th>method</th><th>train s</th><th>infer s</th><th>select s</th>'
                f"</tr></thead><tbody>{rows}</tbody></table>")
    (section,) = cost_sections(page)
    with pytest.raises(AssertionError, match="says per round"):
        check_cost_numbers(section, table)
    relabelled = CostSection("Cost per cell (summed over its rounds)", "Mean over seeds.", section.table, "")
    assert check_cost_numbers(relabelled, table) == "cell"
    divided = Table(section.table.id, section.table.headers,
                    [[row[0]] + [(f"{float(k) / 4:.3f}", repr(float(k) / 4)) for _, k in row[1:]]
                     for row in section.table.rows])  # 4 rounds
    assert check_cost_numbers(CostSection("Cost per AL round", "", divided, ""), table) == "round"


def _axes_of_saved_figures(monkeypatch) -> dict[str, list[dict[str, Any]]]:
    """Record, for every figure saved, each visible axes' title, x label and whether it shows data."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    saved: dict[str, list[dict[str, Any]]] = {}
    original = Figure.savefig

    def has_data(ax: Any) -> bool:
        bars = [p for p in ax.patches if isinstance(p, Rectangle)]
        if any(np.isfinite([p.get_width(), p.get_height()]).all() and p.get_width() > 0 and p.get_height() > 0
               for p in bars):
            return True
        for line in ax.get_lines():
            x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
            if len(x) and (np.isfinite(x) & np.isfinite(y)).any():
                return True
        return bool(ax.images) or any(len(c.get_paths()) for c in ax.collections)

    def record(fig: Any, fname: Any, *args: Any, **kwargs: Any) -> Any:
        saved[Path(str(fname)).name] = [{"title": ax.get_title(), "xlabel": ax.get_xlabel(), "data": has_data(ax)}
                                        for ax in fig.axes if ax.get_visible() and ax.axison]
        return original(fig, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", record)
    return saved


def test_no_figure_has_an_empty_panel_and_the_cost_axes_say_what_the_numbers_are(monkeypatch, tmp_path):
    saved = _axes_of_saved_figures(monkeypatch)
    table = results_table()
    path = write_html("synthetic", lb.build(table), profile_table(table), tmp_path)
    (section,) = cost_sections(Page(path.read_text(encoding="utf-8")))
    assert set(saved) >= {section.figure} and all(saved.values())
    empty = [(name, ax["title"]) for name, axes in saved.items() for ax in axes if not ax["data"]]
    assert not empty, f"figure panels without data: {empty}"
    unit = check_cost_numbers(section, table)
    labels = [ax["xlabel"] for ax in saved[section.figure]]
    assert any(re.search(r"second|\(s\)", label) for label in labels), labels
    for label in labels:  # seconds and passes alike: "per round" only where the numbers are per round
        says_round = bool(PER_ROUND.search(label))
        assert says_round if unit == "round" and "second" in label else not (unit == "cell" and says_round), (
            f"the cost figure's axis {label!r} disagrees with the section's heading {section.heading!r}")


def test_the_page_shows_no_nan_and_integral_passes_without_decimals(synthetic_page):
    path, _ = synthetic_page
    page = Page(path.read_text(encoding="utf-8"))
    assert any(PASS_HEADER.search(h) for t in page.tables() for h in t.headers), "the page shows pass counts"
    assert any(h == "0 labels" for t in page.tables() for h in t.headers), "the page has a 0-label column"
    check_no_nan(page)
    check_integral_passes(page)


def test_one_seed_is_one_seed(synthetic_page):
    path, _ = synthetic_page
    page = Page(path.read_text(encoding="utf-8"))
    assert re.search(r"\b1 seed\b", page.text), "the page says how many seeds"
    check_seed_grammar(page)


def test_the_text_checks_catch_what_the_pages_used_to_say():
    page = Page('<table id="t"><thead><tr><th>method</th><th>train fwd+bwd</th><th>0 labels</th></tr></thead>'
                '<tbody><tr><td>random</td><td data-sort="25200.0">25200.000</td><td>7.2 · 0.0 · nan</td></tr>'
                "</tbody></table><figcaption>shaded band = ± 1 std over 1 seeds</figcaption>")
    for check in (check_no_nan, check_integral_passes, check_seed_grammar):
        with pytest.raises(AssertionError):
            check(page)
    fine = Page('<table id="t"><thead><tr><th>method</th><th>train fwd+bwd</th><th>train s</th></tr></thead>'
                '<tbody><tr><td>random</td><td data-sort="25200.0">25200</td><td data-sort="2.0">2.000</td></tr>'
                '<tr><td>margin</td><td data-sort="12.5">12.5</td><td>1.5</td></tr>'
                "</tbody></table><p>1 seed: no band</p><p>±1 std over 3 seeds</p>")
    for check in (check_no_nan, check_integral_passes, check_seed_grammar):
        check(fine)


def test_no_suite_description_points_into_the_developers_folders():
    import yaml

    for path in sorted((REPO / "suites").glob("*.yaml")):
        description = str(yaml.safe_load(path.read_text()).get("description", ""))
        assert "../shared" not in description and "/work/" not in description, (
            f"{path.name}: the description, shown on the HTML page, names a folder only this project's "
            f"developers have: {description!r}")


# --- what a figure shows on screen ---------------------------------------------------------------------------


def ink(rgb: np.ndarray) -> np.ndarray:
    """Pixels that carry data: a saturated colour or near-black (the baseline's #222222), not white,
    not the light grey of grid lines."""
    rgb = rgb[..., :3].astype(int)
    saturated = rgb.max(axis=-1) - rgb.min(axis=-1) > 40
    return saturated | (rgb.mean(axis=-1) < 100)


def panels(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The axes boxes of a figure image, (left, right, top, bottom) in pixels: pairs of long thin
    dark vertical lines (the spines) joined by dark horizontal lines at both ends."""
    rgb = rgb[..., :3].astype(int)
    dark = (rgb.mean(axis=-1) < 110) & (rgb.max(axis=-1) - rgb.min(axis=-1) < 30)  # black or grey, not a colour
    w = dark.shape[1]
    longest = np.zeros(w, int)
    span = np.zeros((w, 2), int)
    for x in range(w):
        col = np.concatenate([[0], dark[:, x].astype(int), [0]])
        edges = np.flatnonzero(np.diff(col))
        if len(edges):
            runs = edges[1::2] - edges[::2]
            i = int(np.argmax(runs))
            longest[x], span[x] = runs[i], (edges[2 * i], edges[2 * i + 1] - 1)
    if not longest.max():
        return []
    cols = np.flatnonzero(longest >= 0.6 * longest.max())
    groups = np.split(cols, np.flatnonzero(np.diff(cols) > 1) + 1)
    spines = [(int(g[0]), int(g[-1]), *span[g[len(g) // 2]]) for g in groups if len(g) and g[-1] - g[0] <= 8]
    boxes = []
    for (_, l1, top, bottom), (r0, _, top2, bottom2) in zip(spines, spines[1:]):
        # the runs may reach past the box by a tick mark: the box's edges are its dark rows near both ends
        if abs(top - top2) > 10 or abs(bottom - bottom2) > 10 or r0 - l1 < 10:
            continue
        across = dark[:, l1 + 1:r0].mean(axis=1) > 0.9
        tops = [y for y in range(max(top, top2), max(top, top2) + 6) if across[y]]
        bottoms = [y for y in range(min(bottom, bottom2), min(bottom, bottom2) - 6, -1) if across[y]]
        if tops and bottoms and bottoms[0] - tops[0] > 10:
            boxes.append((l1 + 1, r0 - 1, tops[0] + 1, bottoms[0] - 1))
    return boxes


def empty_panels(rgb: np.ndarray) -> tuple[int, list[int]]:
    """(number of panels found, the indices of those with no data inside)."""
    boxes = panels(rgb)
    found = ink(rgb)
    empty = [i for i, (left, right, top, bottom) in enumerate(boxes)
             if found[top + 3:bottom - 2, left + 3:right - 2].sum() < 20]
    return len(boxes), empty


def _png(data: bytes | Path) -> np.ndarray:
    from PIL import Image

    raw = data.read_bytes() if isinstance(data, Path) else data
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))


def test_empty_panels_finds_a_blank_panel_in_a_drawn_figure(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def draw(values: list[list[float]]) -> np.ndarray:
        fig, axes = plt.subplots(1, 3, figsize=(14, 1.84), sharey=True)
        for ax, v in zip(axes, values):
            ax.barh([0, 1], v, color=["#222222", "#1f77b4"], height=0.7)
            ax.grid(axis="x", alpha=0.3)
            ax.set_xlabel("seconds (s)")
        path = tmp_path / f"f{len(list(tmp_path.iterdir()))}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        return _png(path)

    assert empty_panels(draw([[1, 3], [30, 40], [0, 900]])) == (3, [])
    assert empty_panels(draw([[1, 3], [30, 40], [0, 0]])) == (3, [2])
    assert empty_panels(draw([[0, 0], [30, 40], [np.nan, np.nan]])) == (3, [0, 2])


def test_the_cost_figure_has_no_empty_panel(synthetic_page):
    path, _ = synthetic_page
    (section,) = cost_sections(Page(path.read_text(encoding="utf-8")))
    count, empty = empty_panels(_png(path.parent / section.figure))
    assert count >= 2 and not empty, f"{section.figure}: panels {empty} of {count} show no data"


# --- the page `albench leaderboard` writes from a tiny store, in headless Chromium ------------------------------

TINY = {"name": "tiny-page", "dataset": {"name": "synthetic", "train_per_class": 20, "test_per_class": 4},
        "imbalance": {"name": "step", "ratio": 3}, "method": ["random", "entropy"],
        "learner": {"model": "small_cnn", "epochs": 1, "batch_size": 16, "lr": 0.05},
        "scenario": {"initial": 0, "rounds": 3, "per_round": 4}, "seeds": 1}


@pytest.fixture(scope="module")
def store_page(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """A tiny suite (one seed, no initial labels) run into a store; ``albench leaderboard`` writes its page."""
    import yaml

    from benchmark.cli import main

    _chromium()  # skip before running cells where the browser tests cannot run
    root = tmp_path_factory.mktemp("store-page")
    suite = root / "tiny-page.yaml"
    suite.write_text(yaml.safe_dump(TINY))
    results, reports = root / "results", root / "reports"
    assert main(["run", str(suite), "--executor", "inline", "--results", str(results), "--no-progress"]) == 0
    assert main(["leaderboard", str(suite), "--results", str(results), "--reports", str(reports)]) == 0
    return reports / "tiny-page" / "html" / "index.html", pd.read_parquet(results / "tiny-page.parquet")


def _open(pw: Any, path: Path, width: int = 1400) -> tuple[Any, Any]:
    browser = pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
    tab = browser.new_page(viewport={"width": width, "height": 900}, device_scale_factor=2)
    tab.goto(path.as_uri(), wait_until="load")
    return browser, tab


@pytest.mark.browser
def test_in_chromium_the_cost_section_says_what_its_numbers_are_and_its_figure_has_data(store_page):
    from playwright.sync_api import sync_playwright

    path, table = store_page
    with sync_playwright() as pw:
        browser, tab = _open(pw, path)
        try:
            page = Page(tab.content())  # the document as the browser holds it
            (section,) = cost_sections(page)
            check_cost_numbers(section, table)
            assert tab.locator("#setting-1-cost").is_visible()
            shown = tab.locator("#setting-1-cost tbody tr").all_inner_texts()
            assert sorted(line.split("\t")[0].strip() for line in shown) == sorted(TINY["method"])
            image = tab.locator(f'img[src="{section.figure}"]')
            assert image.evaluate("i => i.complete && i.naturalWidth > 0")
            count, empty = empty_panels(_png(image.screenshot()))
            assert count >= 2 and not empty, f"on screen, panels {empty} of {count} of the cost figure are empty"
        finally:
            browser.close()


@pytest.mark.browser
def test_in_chromium_no_nan_integral_passes_and_one_seed(store_page):
    from playwright.sync_api import sync_playwright

    path, _ = store_page
    with sync_playwright() as pw:
        browser, tab = _open(pw, path)
        try:
            page = Page(tab.content())
            rendered = " ".join(tab.locator("body").inner_text().split())  # what a reader sees
            assert "0 labels" in rendered and re.search(r"\b1 seed\b", rendered)
            assert not re.search(r"\bnan\b", rendered, re.I), re.findall(r".{30}\bnan\b", rendered, re.I)
            assert not re.search(r"\b1 seeds\b|std over 1 seed\b", rendered)
            check_no_nan(page)
            check_integral_passes(page)
            check_seed_grammar(page)
        finally:
            browser.close()


WIDE_TABLES = """() => {
  const view = document.documentElement.clientWidth;
  return [...document.querySelectorAll("table")].map(t => {
    let box = t.parentElement;
    while (box && !["auto", "scroll"].includes(getComputedStyle(box).overflowX)) box = box.parentElement;
    const r = t.getBoundingClientRect();
    const out = {id: t.id, right: r.right, width: t.scrollWidth, view: view, scroller: null};
    if (box) {
      const b = box.getBoundingClientRect();
      box.scrollLeft = box.scrollWidth;
      const last = t.tHead.rows[0].lastElementChild.getBoundingClientRect();
      out.scroller = {right: b.right, client: box.clientWidth, scroll: box.scrollWidth,
                      lastVisible: last.right <= b.right + 1 && last.left >= b.left - 1};
      box.scrollLeft = 0;
    }
    return out;
  });
}"""


def _check_tables_fit_or_scroll(tab: Any) -> list[dict[str, Any]]:
    tables = tab.evaluate(WIDE_TABLES)
    assert tables
    wide = [t for t in tables if t["right"] > t["view"] + 1 or (t["scroller"] and t["scroller"]["scroll"] >
                                                                 t["scroller"]["client"] + 1)]
    for t in wide:
        s = t["scroller"]
        assert s is not None, f"table {t['id']} ({t['width']} px) runs off a {t['view']} px page without a scrollbar"
        assert s["right"] <= t["view"] + 1, f"table {t['id']}'s scroll box itself runs off the page"
        assert s["lastVisible"], f"scrolling table {t['id']} to the right does not bring its last column into view"
    overflow = tab.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"the page itself is {overflow} px wider than the window"
    return wide


@pytest.mark.browser
def test_in_chromium_wide_tables_scroll_instead_of_being_cut_off(store_page, synthetic_page):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # the synthetic page's budget table (26 budgets) is wider than the 1400 px page
        browser, tab = _open(pw, synthetic_page[0], width=1500)
        try:
            assert "setting-1-budget" in [t["id"] for t in _check_tables_fit_or_scroll(tab)]
        finally:
            browser.close()
        # the tiny store's page in a narrow window: its ranking table no longer fits
        browser, tab = _open(pw, store_page[0], width=640)
        try:
            assert "setting-1-ranking" in [t["id"] for t in _check_tables_fit_or_scroll(tab)]
        finally:
            browser.close()
