"""The HTML leaderboard: self-contained, every method and mark and note on it, one colour per method;
and, in real headless Chromium (marked ``browser``), tables that render and sort and figures that load.

The page is built from a small synthetic results table (no cell runs): two imbalance levels, an
oracle ablation (†), a method that reads labels outside the budget (‡), cost tables and per-round
curves with a confusion matrix.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.core.profiling import PHASES
from benchmark.report import leaderboard as lb
from benchmark.report.colors import BASELINE_COLOR, PALETTE, MethodPalette, method_key, preferred_slot
from benchmark.report.curves import SettingCurves
from benchmark.report.html import write_html
from benchmark.report.profile import profile_table

METHODS = ("random", "entropy", "margin", "coreset", "pfk", "pfk_oracle")
EXTRA = {"pfk": 500, "pfk_oracle": 500}
ORACLE = ("pfk_oracle",)
SCENARIO = json.dumps({"initial": 10, "per_round": 10, "rounds": 3})
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def synthetic_table(seeds: int = 3) -> pd.DataFrame:
    """Rows as consolidate() writes them, for two settings (step imbalance 10 and 100)."""
    rng = np.random.default_rng(0)
    rows = []
    for ratio in (10, 100):
        for k, method in enumerate(METHODS):
            for seed in range(seeds):
                skill = 0.02 * k + 0.01 * seed + rng.uniform(0, 0.01)
                for b in range(4):
                    acc = min(0.3 + b * (0.1 + skill) + 0.001 * ratio, 0.99)
                    row = {"cell_id": f"{ratio}-{method}-{seed}", "dataset": "digits",
                           "imbalance": f"step(ratio={ratio})", "model": "small_cnn", "learner": "{}",
                           "scenario": SCENARIO, "method": method, "seed": seed, "round": b,
                           "labels_used": 10 + 10 * b, "balanced_accuracy": acc, "accuracy": acc + 0.01,
                           "minority_accuracy": acc - 0.1, "classes_discovered": 6 + b,
                           "labelled_ir": 1.0 - 0.1 * b, "uses_hidden_labels": method in ORACLE,
                           "extra_labels": EXTRA.get(method, 0),
                           "train_forward": 400 + 10 * b, "train_backward": 400 + 10 * b,
                           "infer_forward": 0 if method == "random" else 700 + 50 * k}
                    for p in PHASES:
                        row[f"{p}_seconds"] = 0.001 * (k + 1) * (3 if p == "select" else 1) + 0.01 * b
                        row[f"{p}_peak_rss_mb"] = 500.0 + k
                        row[f"{p}_gpu_peak_mb"] = np.nan
                    rows.append(row)
    return pd.DataFrame(rows)


def synthetic_rounds(title: str) -> SettingCurves:
    names = [lb.mark(m, m in ORACLE, EXTRA.get(m, 0)) for m in METHODS]
    budgets = [10, 20, 30, 40]
    curves = pd.DataFrame([{"method": n, "labels_used": x, "mean": 0.4 + 0.1 * i + 0.01 * j, "std": 0.02}
                           for j, n in enumerate(names) for i, x in enumerate(budgets)])
    text = curves.assign(t=[f"{100 * m:.1f} ± {100 * s:.1f}" for m, s in zip(curves["mean"], curves["std"])])
    acc = text.pivot(index="method", columns="labels_used", values="t").reindex(names)
    acc.index.name = "method"
    passes = pd.DataFrame({"al_forward": np.arange(len(names)) * 100.0, "al_backward": 0.0,
                           "al_seconds": np.linspace(0.1, 0.6, len(names)), "train_forward": 800.0,
                           "train_backward": 800.0, "train_seconds": 1.5}, index=pd.Index(names, name="method"))
    cm = np.full((3, 3), 0.1) + np.eye(3) * 0.7
    return SettingCurves(title, acc, acc, acc, pd.DataFrame(), curves, {names[1]: cm}, passes, 3)


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> tuple[Path, list[lb.SettingBoard]]:
    table = synthetic_table()
    boards = lb.build(table)
    out = tmp_path_factory.mktemp("html") / "quick"
    path = write_html("synthetic", boards, profile_table(table), out,
                      curves_settings=[synthetic_rounds(boards[0].title)], description="A synthetic suite.",
                      missing=1, failed=0)
    return path, boards


# --- the page as a file ---------------------------------------------------------------------------------------


def test_page_is_self_contained(page):
    path, _ = page
    text = path.read_text(encoding="utf-8")
    links = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", text, flags=re.I)
    assert links, "the page links its figures"
    assert not [u for u in links if re.match(r"(?i)(https?:)?//", u)], "no network links"
    assert not re.search(r"(?i)@import|url\(\s*['\"]?(https?:)?//|<link[^>]+stylesheet", text)
    for src in re.findall(r'<img[^>]+src="([^"]+)"', text):
        assert (path.parent / src).is_file() and "/" not in src, f"{src} lies next to index.html"
    assert "<script src" not in text


def test_page_shows_every_method_the_marks_and_the_notes(page):
    path, boards = page
    text = path.read_text(encoding="utf-8")
    for b in boards:
        assert len(b.ranking) == len(METHODS)
        for name in b.ranking["method"]:
            assert f">{name}</td>" in text
    assert "pfk‡" in text and "pfk_oracle†‡" in text
    for note in lb.notes(boards):
        assert note.replace("**", "") in re.sub(r"</?strong>", "", text)
    assert "† uses hidden labels" in text and "‡ also reads 500 labelled validation images" in text
    assert "Incomplete: 1 cell(s) not run yet" in text
    assert "Δ random (95% CI)" in text and "baseline" in text
    assert "Imbalance: step(ratio=10)" in text and "Imbalance: step(ratio=100)" in text
    assert "± 1 std over 3 seeds" in text  # the bands say what they are


def test_same_results_give_the_same_page(page, tmp_path):
    path, boards = page
    table = synthetic_table()
    again = write_html("synthetic", lb.build(table), profile_table(table), tmp_path,
                       curves_settings=[synthetic_rounds(boards[0].title)], description="A synthetic suite.",
                       missing=1, failed=0)
    assert again.read_text(encoding="utf-8") == path.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in path.parent.iterdir())


def test_swatches_use_the_suite_palette(page):
    path, boards = page
    text = path.read_text(encoding="utf-8")
    palette = MethodPalette([m for b in boards for m in b.ranking["method"]])
    for name in boards[0].ranking["method"]:
        assert f'style="background:{palette.color(name)}"></span>{name}</td>' in text


# --- colours ------------------------------------------------------------------------------------------------


def test_a_method_keeps_its_colour_whatever_a_figure_shows():
    suite = ["random", "entropy", "margin", "coreset", "BADGE", "TypiClust", "pfk‡", "pfk_oracle†‡"]
    palette = MethodPalette(suite)
    colors = {m: palette.color(m) for m in suite}
    assert colors["random"] == BASELINE_COLOR
    assert len(set(colors.values())) == len(suite), "distinct within a suite"
    assert palette.color("pfk") == colors["pfk‡"], "the marks are not part of the name"
    assert method_key("pfk_oracle†‡") == lb.unmark("pfk_oracle†‡")
    assert palette.linestyle("pfk_oracle†‡") == "--" and palette.linestyle("pfk‡") == "-"
    # stable across processes and Python versions: MD5, not hash()
    assert preferred_slot("entropy") == 0 and MethodPalette(["entropy"]).color("entropy") == PALETTE[0]
    assert MethodPalette(["margin"]).color("margin") == MethodPalette(["margin", "entropy", "BADGE"]).color("margin")


def test_more_methods_than_colours_still_differ_by_marker():
    names = [f"method{i}" for i in range(45)]
    palette = MethodPalette(names)
    assert len({(palette.color(n), palette.marker(n)) for n in names}) == len(names)


def test_figures_draw_each_method_in_its_palette_colour(monkeypatch, tmp_path):
    from matplotlib.figure import Figure

    drawn: list[dict[str, str]] = []
    original = Figure.savefig

    def record(fig, *args, **kwargs):
        drawn.append({line.get_label(): line.get_color() for ax in fig.axes for line in ax.get_lines()})
        return original(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", record)
    boards = lb.build(synthetic_table())
    palette = MethodPalette([m for b in boards for m in b.ranking["method"]])
    lb.plot_curves(boards, tmp_path / "all.png", palette)
    subset = boards[0].curves[boards[0].curves["method"].isin(["margin", "coreset"])]
    lb.plot_panels([("two methods", subset, ["margin", "coreset"])], tmp_path / "two.png", "acc (%)", palette=palette)
    assert drawn[0]["margin"] == drawn[1]["margin"] == palette.color("margin")
    assert drawn[0]["coreset"] == drawn[1]["coreset"] == palette.color("coreset")
    assert all(color == palette.color(m) for m, color in drawn[0].items())


# --- the page in headless Chromium ----------------------------------------------------------------------------


def _chromium() -> str:
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright; "
                                                      "the Python package only, the browser is the system's)")
    exe = os.environ.get("ALBENCH_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe or not Path(exe).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium, or set ALBENCH_CHROMIUM)")
    return exe


def _column(page, table_id: str, header: str) -> list[str]:
    """The sort keys of a column as the sorter sees them (data-sort, else the text)."""
    return page.eval_on_selector(f"#{table_id}", """(t, header) => {
        const col = [...t.tHead.rows[0].cells].findIndex(h => h.textContent === header);
        return [...t.tBodies[0].rows].map(r => {
            const c = r.cells[col]; const v = c.getAttribute("data-sort");
            return (v === null ? c.textContent : v).trim(); });
    }""", header)


def _header(page, table_id: str, header: str):
    return page.locator(f"#{table_id} thead th").filter(has_text=re.compile(f"^{re.escape(header)}$"))


def _numbers(keys: list[str]) -> list[float]:
    return [float(re.match(r"[+\-]?[\d.]+(e[+\-]?\d+)?", k).group(0)) for k in keys]  # type: ignore[union-attr]


@pytest.mark.browser
def test_page_in_headless_chromium(page):
    exe = _chromium()
    from playwright.sync_api import sync_playwright

    path, boards = page
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            outside: list[str] = []
            errors: list[str] = []
            tab.on("request", lambda r: outside.append(r.url) if not r.url.startswith("file:") else None)
            tab.on("pageerror", lambda e: errors.append(str(e)))
            tab.goto(path.as_uri(), wait_until="load")

            # the tables render: one row per method, per setting
            for i, b in enumerate(boards, start=1):
                rows = tab.locator(f"#setting-{i}-ranking tbody tr")
                assert rows.count() == len(b.ranking) == len(METHODS)
                assert tab.locator(f"#setting-{i}-budget tbody tr").count() == len(METHODS)
            assert tab.locator("#setting-1-cost tbody tr").count() == len(METHODS)

            # numeric columns sort numerically: ascending on the first click, reversed on the second
            for table_id, header in [("setting-1-ranking", "AUBC (bal. acc %)"), ("setting-1-ranking", "Δ random (95% CI)"),
                                     ("setting-2-ranking", "ir"), ("setting-1-budget", "20 labels"),
                                     ("setting-1-cost", "infer s"), ("setting-1-rounds", "30")]:
                th = _header(tab, table_id, header)
                th.click()
                up = _numbers(_column(tab, table_id, header))
                assert up == sorted(up) and len(up) == len(METHODS), (table_id, header, up)
                assert th.get_attribute("aria-sort") == "ascending"
                th.click()
                down = _numbers(_column(tab, table_id, header))
                assert down == sorted(up, reverse=True), (table_id, header, down)
                assert th.get_attribute("aria-sort") == "descending"
            # "#" is numeric although 10 < 2 as text
            th = _header(tab, "setting-1-ranking", "#")
            th.click()
            th.click()
            assert _numbers(_column(tab, "setting-1-ranking", "#")) == list(range(len(METHODS), 0, -1))
            # the method column sorts as text, and the second click reverses it
            th = _header(tab, "setting-1-ranking", "method")
            th.click()
            names = _column(tab, "setting-1-ranking", "method")
            assert sorted(names) == sorted(boards[0].ranking["method"])
            th.click()
            assert _column(tab, "setting-1-ranking", "method") == names[::-1]

            # every figure loads
            images = tab.eval_on_selector_all("img", "imgs => imgs.map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])")
            assert len(images) >= 2 * len(boards) + 2  # curves and cost per setting, per-round curves, confusion
            assert all(complete and width > 0 for _, complete, width in images), images
            assert not outside, f"the page asked the network for {outside}"
            assert not errors, errors
            shot = os.environ.get("ALBENCH_SCREENSHOT")
            if shot:
                tab.screenshot(path=shot, full_page=True)
        finally:
            browser.close()
