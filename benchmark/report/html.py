"""HTML leaderboard of a suite: one self-contained folder (``index.html`` and its PNG figures).

Nothing is fetched from the network to show it: the styles and the table sorter are inline, the
figures are files next to the page (relative links), and the page uses the system's fonts. Per
setting, grouped by imbalance level: the ranking (with the paired Δ to the baseline and its 95%
interval), the accuracy at each budget, the learning curves, and, where given, the cost profile and
the per-round accuracy of ``albench curves``. Every table sorts by clicking a column header (numeric
where the column is numeric; again for the reverse order). A method has one colour everywhere: the
swatch in the tables and its curves and bars in every figure (:class:`colors.MethodPalette` over all
methods of the suite). The page holds no timestamp: the same results give the same ``index.html``.

    write_html("quick", boards, profile_tables, Path("reports/quick/html"))
"""
from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from benchmark.core.errors import ReportError
from benchmark.report import leaderboard as lb
from benchmark.report.colors import MethodPalette
from benchmark.report.compare import columns as stats_columns
from benchmark.report.profile import column_digits

if TYPE_CHECKING:
    from benchmark.report.curves import SettingCurves

FIGURE_PREFIX = "fig-"  # the figures write_html owns in out_dir (stale ones are removed)

SORTER_JS = r"""
(function () {
  "use strict";
  var NUMBER = /^[+\-\u2212]?(\d+(\.\d*)?|\.\d+)(e[+\-]?\d+)?/i;
  function key(cell) {
    var v = cell.getAttribute("data-sort");
    return (v === null ? cell.textContent : v).trim();
  }
  function isEmpty(k) { return k === "" || k === "\u2013" || k === "-" || k.toLowerCase() === "nan"; }
  function toNumber(k) {
    var m = k.replace("\u2212", "-").match(NUMBER);
    return m ? parseFloat(m[0]) : NaN;
  }
  function sortBy(th) {
    var table = th.closest("table"), body = table.tBodies[0];
    var col = Array.prototype.indexOf.call(th.parentNode.children, th);
    var entries = Array.prototype.map.call(body.rows, function (row, i) {
      return {row: row, i: i, k: key(row.cells[col])};
    });
    var filled = entries.filter(function (e) { return !isEmpty(e.k); });
    var numeric = filled.length > 0 && filled.every(function (e) { return !isNaN(toNumber(e.k)); });
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    entries.sort(function (a, b) {
      var ea = isEmpty(a.k), eb = isEmpty(b.k);
      if (ea || eb) { return ea === eb ? a.i - b.i : (ea ? 1 : -1); }  // empty cells last, both ways
      var c = numeric ? toNumber(a.k) - toNumber(b.k) : a.k.localeCompare(b.k);
      return c !== 0 ? dir * c : a.i - b.i;
    });
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    entries.forEach(function (e) { body.appendChild(e.row); });
  }
  document.querySelectorAll("table.sortable thead th").forEach(function (th) {
    th.tabIndex = 0;
    th.addEventListener("click", function () { sortBy(th); });
    th.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); sortBy(th); }
    });
  });
})();
"""

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       margin: 1.5em auto; max-width: 1400px; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; } h2 { font-size: 1.3em; border-bottom: 1px solid #ccc; margin-top: 2em; }
h3 { font-size: 1.05em; margin-top: 1.6em; } h4 { font-size: 0.95em; margin: 1.2em 0 0.4em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.4em 0 1em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; cursor: pointer; user-select: none; }
th:hover { background: #e4e4e4; }
th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: 0.75em; }
th[aria-sort="descending"]::after { content: " \\25BC"; font-size: 0.75em; }
td.text, th.text { text-align: left; }
tr.oracle td { font-style: italic; color: #555; }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.4em; border-radius: 2px;
          vertical-align: baseline; }
.notes li, .warning { margin: 0.2em 0; }
.warning { color: #8a4b00; font-weight: bold; }
figure { margin: 0.5em 0 1.2em; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #444; max-width: 60em; }
nav ul { margin: 0.2em 0; } .muted { color: #666; font-size: 0.85em; }
.scroll { overflow-x: auto; max-width: 100%; }
"""

_RANKING_HELP = {
    "#": "rank by mean AUBC",
    "AUBC (bal. acc %)": "area under the budget curve of balanced accuracy: mean ± std over seeds (%)",
    "Δ": "paired per-seed AUBC difference to the baseline: mean ± half-width of the 95% t-interval, "
         "percentage points",
    "final bal. acc %": "balanced accuracy at the last budget: mean ± std over seeds (%)",
    "minority acc %": "accuracy on the minority classes at the last budget (%)",
    "classes": "classes discovered in the labelled set at the last budget",
    "ir": "σ/μ of the labelled set's class counts at the last budget",
    "seeds": "seeds run",
}


def inline_markup(text: str) -> str:
    """Escape, then the little markdown the notes use: **bold** and `code`."""
    out = html.escape(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", out)


def _sort_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        return repr(v) if np.isfinite(v) else ""
    return str(value)


def _fmt_number(value: Any, digits: int = 3) -> str:
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{v:.{digits}f}" if np.isfinite(v) else "–"


def _method_cell(name: str, palette: MethodPalette) -> str:
    return (f'<td class="text method" data-sort="{html.escape(name)}"><span class="swatch" '
            f'style="background:{palette.color(name)}"></span>{html.escape(name)}</td>')


def table_html(display: pd.DataFrame, *, table_id: str, palette: MethodPalette, method_col: str = "method",
               sort_keys: Mapping[str, Sequence[Any]] | None = None, help_text: Mapping[str, str] | None = None,
               css_class: str = "") -> str:
    """A sortable table: ``display`` gives the text, ``sort_keys`` (column → one value per row) the
    numbers it sorts by where the text is not one (``"79.3 ± 1.2"`` sorts by its mean)."""
    sort_keys = sort_keys or {}
    help_text = help_text or {}
    head = []
    for col in display.columns:
        cls = ' class="text"' if col == method_col or not pd.api.types.is_numeric_dtype(display[col]) else ""
        text = help_text.get(str(col), help_text.get(str(col).split(" ")[0], ""))
        tip = f' title="{html.escape(text)}"' if text else ""
        head.append(f'<th scope="col"{cls}{tip}>{html.escape(str(col))}</th>')
    rows = []
    for i, row in enumerate(display.itertuples(index=False)):
        cells = []
        for col, value in zip(display.columns, row):
            if col == method_col:
                cells.append(_method_cell(str(value), palette))
                continue
            key = _sort_value(sort_keys[col][i]) if col in sort_keys else None
            attr = f' data-sort="{html.escape(key)}"' if key is not None else ""
            cells.append(f"<td{attr}>{html.escape(str(value))}</td>")
        method = str(getattr(row, method_col, "")) if method_col in display.columns else ""
        tr_cls = ' class="oracle"' if lb.ORACLE_MARK in method else ""
        rows.append(f"<tr{tr_cls}>{''.join(cells)}</tr>")
    cls = f"sortable {css_class}".strip()
    return (f'<div class="scroll"><table id="{table_id}" class="{cls}">\n<thead><tr>{"".join(head)}</tr></thead>\n<tbody>\n'
            + "\n".join(rows) + "\n</tbody>\n</table></div>")


def _ranking_table(board: lb.SettingBoard, table_id: str, palette: MethodPalette) -> str:
    r = board.ranking
    display = lb.ranking_display(r, board.baseline)
    is_base = [lb.unmark(m) == board.baseline for m in r["method"]]
    raw = {"#": r["rank"], "AUBC (bal. acc %)": r["aubc_mean"] * 100,
           lb.gap_column(board.baseline): [0.0 if b else g * 100 for b, g in zip(is_base, r["gap_mean"])],
           "final bal. acc %": r["final_mean"] * 100, "minority acc %": r["minority_mean"] * 100,
           "classes": r["classes"], "ir": r["ir"], "seeds": r["seeds"]}
    raw.update(stats_columns.sort_keys(r, board.baseline, is_base))
    keys = {c: list(v) for c, v in raw.items() if c in display.columns}
    return table_html(display, table_id=table_id, palette=palette, sort_keys=keys,
                      help_text={**_RANKING_HELP, **stats_columns.help_text(board.baseline)},
                      css_class="ranking")


def _budget_table(board: lb.SettingBoard, table_id: str, palette: MethodPalette) -> str:
    display = lb.per_budget_display(board)
    means = board.curves.pivot(index="method", columns="labels_used", values="mean")
    means = means.reindex(list(display["method"]))
    keys = {f"{int(x)} labels": list(means[x] * 100) for x in means.columns}
    return table_html(display, table_id=table_id, palette=palette, sort_keys=keys, css_class="budget")


def _numeric_table(df: pd.DataFrame, table_id: str, palette: MethodPalette, digits: int = 3,
                   column_digits: Callable[[str], int] | None = None, method_col: str = "method") -> str:
    """Floats shown with ``digits`` decimals (``column_digits(name)`` per column where given: passes are
    whole numbers) and sorted by their value; ``method`` as the name column; a missing value is "–"."""
    display = df.copy()
    keys: dict[str, list[Any]] = {}
    for col in df.columns:
        if col != method_col and pd.api.types.is_numeric_dtype(df[col]):
            keys[col] = list(df[col])
            places = column_digits(str(col)) if column_digits else digits
            display[col] = [_fmt_number(v, places) for v in df[col]]
    return table_html(display, table_id=table_id, palette=palette, sort_keys=keys, method_col=method_col)


def _passes_digits(name: str) -> int:
    """The per-round passes table: passes are whole numbers, seconds two decimals."""
    return 2 if name.endswith("seconds") else 0


COST_AXIS = "per cell: sum over its rounds, mean over seeds"


def cost_panels(df: pd.DataFrame) -> list[tuple[str, pd.Series, str]]:
    """The cost figure's panels that have data: (title, one value per method, x-axis label).

    Each value is a cell's total over its rounds (the profile table's unit), mean over seeds. A panel
    whose column the profile does not have (no method of the setting spent anything there) is left
    out rather than drawn empty."""
    nothing = pd.Series(np.nan, index=df.index)
    al_cols = [c for c in ("infer s", "select s") if c in df]
    al_pass_cols = [c for c in ("infer fwd+bwd", "select fwd+bwd") if c in df]
    candidates = [
        ("AL phase: infer + select", df[al_cols].sum(axis=1) if al_cols else nothing, "seconds"),
        ("retraining", df["train s"] if "train s" in df else nothing, "seconds"),
        ("AL phase: forward + backward passes", df[al_pass_cols].sum(axis=1) if al_pass_cols else nothing,
         "passes (one per sample and pass)"),
    ]
    panels = []
    for name, values, unit in candidates:
        v = np.asarray(values, dtype=float)
        if np.isfinite(v).any() and np.nanmax(v) > 0:
            panels.append((name, values, f"{unit}, {COST_AXIS}"))
    return panels


def plot_cost(title: str, df: pd.DataFrame, path: Path, palette: MethodPalette) -> None:
    """Per method, as bars in the method's colour: seconds in the AL phase (infer + select), seconds
    retraining and the AL phase's forward + backward passes, each a cell's total over its rounds, mean
    over seeds. Raises :class:`ReportError` when the profile has nothing to draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = cost_panels(df)
    if not panels:
        raise ReportError(f"cost figure of {title!r}: the profile has no seconds or passes to draw "
                          f"(columns: {', '.join(map(str, df.columns))})")
    methods = list(df["method"])
    fig, axes = plt.subplots(1, len(panels), figsize=(4.7 * len(panels), 1.2 + 0.32 * len(methods)),
                             sharey=True, squeeze=False)
    y = np.arange(len(methods))
    colors = [palette.color(m) for m in methods]
    for ax, (name, values, xlabel) in zip(axes[0], panels):
        v = np.nan_to_num(np.asarray(values, dtype=float), nan=0.0)
        ax.barh(y, v, color=colors, height=0.7)
        positive = v[v > 0]
        if len(positive) and positive.max() / positive.min() > 100:
            ax.set_xscale("log")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(textwrap.fill(xlabel, 40), fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(y, methods, fontsize=8)
    for tick, color in zip(axes[0][0].get_yticklabels(), colors):
        tick.set_color(color)
    axes[0][0].invert_yaxis()
    axes[0][0].set_ylabel("method")
    fig.suptitle(textwrap.fill(title, 120), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def _imbalance_of(title: str) -> str:
    parts = title.split(" · ")
    return parts[1] if len(parts) > 1 else "all settings"


def _seeds_text(seeds: Sequence[int]) -> str:
    """'1 seed', '5 seeds' or '3–5 seeds' (rows with different seed counts)."""
    n = sorted({int(s) for s in seeds})
    if len(n) == 1:
        return f"{n[0]} seed{'' if n[0] == 1 else 's'}"
    return f"{n[0]}–{n[-1]} seeds"


def _band_caption(seeds: Sequence[int]) -> str:
    n = sorted({int(s) for s in seeds})
    if n == [1]:
        return "line = the one seed's value (1 seed: no band)"
    return f"line = mean, shaded band = ± 1 std over {_seeds_text(seeds)}"


def page_html(title: str, body: list[str]) -> str:
    """A standalone page: ``body`` (HTML fragments) with the stylesheet and the column sorter inlined."""
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
        *body, f"<script>{SORTER_JS}</script>", "</body>", "</html>", ""])


def figure_html(src: str, alt: str, caption: str) -> str:
    return (f'<figure><img src="{html.escape(src)}" alt="{html.escape(alt)}" loading="eager">'
            f"<figcaption>{caption}</figcaption></figure>")


def suite_palette(boards: Sequence[lb.SettingBoard], profile_tables: Sequence[tuple[str, pd.DataFrame]] = (),
                  curves_settings: Sequence[SettingCurves] | None = None) -> MethodPalette:
    """One palette over every method the suite reports (pass it to every figure of the suite)."""
    methods = [m for b in boards for m in b.ranking["method"]]
    methods += [m for _, df in profile_tables for m in df["method"]]
    methods += [m for s in curves_settings or () for m in s.curves["method"]]
    return MethodPalette(methods, boards[0].baseline if boards else "random")


def write_html(suite_name: str, boards: Sequence[lb.SettingBoard],
               profile_tables: Sequence[tuple[str, pd.DataFrame]], out_dir: Path, *,
               curves_settings: Sequence[SettingCurves] | None = None, notes: Sequence[str] | None = None,
               description: str = "", missing: int = 0, failed: int = 0,
               shared_costs: Mapping[str, pd.DataFrame] | None = None,
               comparisons: Sequence[tuple[str, str]] = ()) -> Path:
    """Write ``out_dir/index.html`` and its figures (``fig-*.png``, replaced on every call); returns
    the page's path.

    ``boards``: :func:`leaderboard.build`; ``profile_tables``: :func:`profile.profile_table` (may be
    empty); ``curves_settings``: :func:`curves.build` (optional); ``notes``: the footnotes (default
    :func:`leaderboard.notes`); ``missing``/``failed``: cells not run / failed, for the warning;
    ``shared_costs``: :func:`profile.shared_cost_table` (the one-time artifacts, once per setting);
    ``comparisons``: (name, relative link) of the ``albench compare`` reports that include this suite.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob(f"{FIGURE_PREFIX}*.png"):
        stale.unlink()
    notes = list(lb.notes(list(boards)) if notes is None else notes)
    palette = suite_palette(boards, profile_tables, curves_settings)
    profiles = dict(profile_tables)
    rounds = {s.title: s for s in curves_settings or ()}
    baseline = boards[0].baseline if boards else "random"

    body = [f"<h1>Leaderboard: {html.escape(suite_name)}</h1>"]
    if description.strip():
        body.append(f"<p>{inline_markup(description.strip())}</p>")
    body.append(
        "<p>Ranked by area under the budget curve (AUBC) of test accuracy averaged over classes (balanced "
        f"accuracy); mean ± std over seeds. Δ {html.escape(baseline)} is the paired per-seed AUBC difference "
        "with the half-width of its 95% t-interval, in percentage points. Final columns are at the last "
        "budget. ir = σ/μ of the labelled set's class counts. Click a column header to sort (again to "
        "reverse). † = oracle ablation (reads hidden labels); ‡ = reads labelled data outside the budget.</p>")
    if missing or failed:
        body.append(f'<p class="warning">Incomplete: {missing} cell(s) not run yet, {failed} failed '
                    "(see <code>albench status</code>).</p>")
    if notes:
        body.append('<ul class="notes">' + "".join(f"<li>{inline_markup(n)}</li>" for n in notes) + "</ul>")

    groups: dict[str, list[tuple[int, lb.SettingBoard]]] = {}
    for i, b in enumerate(boards, start=1):
        groups.setdefault(_imbalance_of(b.title), []).append((i, b))
    nav = ["<nav><h2>Settings</h2><ul>"]
    for imbalance, members in groups.items():
        links = "".join(f'<li><a href="#setting-{i}">{html.escape(b.title)}</a></li>' for i, b in members)
        nav.append(f"<li>imbalance {html.escape(imbalance)}<ul>{links}</ul></li>")
    extra_profiles = [t for t in profiles if t not in {b.title for b in boards}]
    extra_rounds = [t for t in rounds if t not in {b.title for b in boards}]
    if extra_profiles or extra_rounds:
        nav.append('<li><a href="#other">other settings</a></li>')
    nav.append("</ul></nav>")
    body += nav
    if comparisons:  # albench compare: statistics across settings and suites
        body.append('<h2 id="compare">Across settings (albench compare)</h2><p>Pairwise penalty matrix, average '
                    "ranks with a critical-difference diagram, label efficiency and seeds advice over the suites "
                    "each comparison names:</p><ul>" + "".join(
                        f'<li><a href="{html.escape(href)}">{html.escape(name)}</a></li>' for name, href in comparisons)
                    + "</ul>")

    figure_no = 0

    def next_figure(kind: str) -> str:
        nonlocal figure_no
        figure_no += 1
        return f"{FIGURE_PREFIX}{figure_no:02d}-{kind}.png"

    shared = dict(shared_costs or {})

    def cost_block(title: str, anchor: str) -> list[str]:
        from benchmark.report.profile import PROFILE_INTRO, SHARED_INTRO

        df = profiles[title]
        if not cost_panels(df):  # cells stored without per-phase costs: say so rather than draw nothing
            return ["<h4>Cost per cell</h4>",
                    '<p class="muted">These cells recorded no per-phase seconds or passes.</p>']
        src = next_figure("cost")
        plot_cost(title, df, out_dir / src, palette)
        out = ["<h4>Cost per cell (sum over its rounds), mean over seeds</h4>",
               f'<p class="muted">{inline_markup(PROFILE_INTRO)}</p>',
               _numeric_table(df, f"{anchor}-cost", palette, column_digits=column_digits),
               figure_html(src, f"cost profile: {title}",
                       "Cost by method (bars in the method's colour), each a cell's total over all its rounds, "
                       "mean over seeds: seconds in the AL phase (infer + select), seconds retraining, and the "
                       "AL phase's forward + backward passes (panels with nothing to show are left out).")]
        if title in shared:
            out += [f'<p class="muted">{inline_markup(SHARED_INTRO)}</p>',
                    _numeric_table(shared[title], f"{anchor}-shared", palette, column_digits=column_digits,
                                   method_col="none")]
        return out

    def rounds_block(s: SettingCurves, anchor: str) -> list[str]:
        from benchmark.report.curves import plot as plot_rounds
        from benchmark.report.curves import plot_confusions

        src = next_figure("rounds")
        plot_rounds([s], out_dir / src, palette=palette)
        out = [f"<h4>Accuracy per AL round ({s.seeds} seed{'s' if s.seeds != 1 else ''})</h4>",
               '<p class="muted">Test accuracy (%) of the task model after each round, mean ± std over seeds, '
               "by labels used.</p>",
               _numeric_table(s.accuracy.reset_index().rename(columns=str), f"{anchor}-rounds", palette),
               "<h4>Minority-class accuracy (%)</h4>",
               _numeric_table(s.minority.reset_index().rename(columns=str), f"{anchor}-minority", palette),
               "<h4>Passes and seconds per round</h4>",
               _numeric_table(s.passes.reset_index().rename(columns={"index": "method"}), f"{anchor}-passes",
                              palette, column_digits=_passes_digits),
               figure_html(src, f"accuracy per round: {s.title}",
                       f"Test accuracy (%) against labels used; {_band_caption([s.seeds])}; "
                       "dashed = oracle ablation (†).")]
        if s.confusion:
            conf = next_figure("confusion")
            plot_confusions([s], out_dir / conf, palette=palette)
            out.append(figure_html(conf, f"confusion matrices: {s.title}",
                               "Row-normalised confusion matrices (% of each true class), summed over seeds."))
        return out

    for imbalance, members in groups.items():
        body.append(f"<h2>Imbalance: {html.escape(imbalance)}</h2>")
        for i, b in members:
            anchor = f"setting-{i}"
            src = next_figure("curves")
            lb.plot_panels([(b.title, b.curves, list(b.ranking["method"]))], out_dir / src,
                           "test accuracy averaged over classes (%)", palette=palette,
                           bands=[lb.band_label(b.ranking["seeds"])])
            body += [f'<section id="{anchor}">', f"<h3>{html.escape(b.title)}</h3>",
                     _ranking_table(b, f"{anchor}-ranking", palette),
                     "<h4>At each budget</h4>",
                     '<p class="muted">Balanced accuracy % · classes discovered · labelled ir (sorts by the '
                     "accuracy).</p>",
                     _budget_table(b, f"{anchor}-budget", palette),
                     figure_html(src, f"learning curves: {b.title}",
                             f"Balanced accuracy (%) against labels used; {_band_caption(b.ranking['seeds'])}; "
                             "dashed = oracle ablation (†).")]
            if b.title in profiles:
                body += cost_block(b.title, anchor)
            if b.title in rounds:
                body += rounds_block(rounds[b.title], anchor)
            body.append("</section>")
    if extra_profiles or extra_rounds:
        body.append('<h2 id="other">Other settings</h2>')
        for j, title in enumerate(dict.fromkeys(extra_profiles + extra_rounds), start=1):
            anchor = f"other-{j}"
            body += [f'<section id="{anchor}">', f"<h3>{html.escape(title)}</h3>"]
            if title in profiles:
                body += cost_block(title, anchor)
            if title in rounds:
                body += rounds_block(rounds[title], anchor)
            body.append("</section>")
    if notes:
        body.append("<h2>Notes</h2>")
        body.append('<ul class="notes">' + "".join(f"<li>{inline_markup(n)}</li>" for n in notes) + "</ul>")

    path = out_dir / "index.html"
    path.write_text(page_html(f"Leaderboard: {suite_name}", body), encoding="utf-8")
    return path
