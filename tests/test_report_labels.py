"""Reports say what their numbers are (issue 19, items 1-4 and 13): the cost section is per cell, its
figure has data in every panel it draws, the paired gap names its baseline, and shared one-time
costs are shown once per setting instead of being charged to whichever cell ran first."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from benchmark.core.errors import ReportError
from benchmark.core.profiling import PHASES
from benchmark.report import leaderboard as lb
from benchmark.report.colors import MethodPalette
from benchmark.report.html import cost_panels, plot_cost, write_html
from benchmark.report.profile import profile_table, shared_cost_table, to_markdown


def shared_phase_table(concurrent_wait: float = 0.0) -> pd.DataFrame:
    """Three methods x two seeds x two rounds. Per seed, the first cell (random) computes the shared
    artifact in its round 0 (40 s for seed 0, 60 s for seed 1, 1,000 passes); the others read it from
    the cache; entropy's cells wait ``concurrent_wait`` s for it. Every other phase is 1 s a round."""
    rows = []
    for method in ("random", "entropy", "margin"):
        for seed in (0, 1):
            computes = method == "random"
            shared = (40.0 + 20 * seed) if computes else (concurrent_wait if method == "entropy" else 0.01)
            for b in (0, 1):
                row = {"cell_id": f"{method}-{seed}", "dataset": "digits", "imbalance": "step(ratio=10)",
                       "model": "small_cnn", "learner": "{}", "scenario": json.dumps({"rounds": 1}),
                       "method": method, "seed": seed, "round": b, "labels_used": 10 + 10 * b,
                       "balanced_accuracy": 0.5 + 0.1 * b, "accuracy": 0.5, "minority_accuracy": 0.4,
                       "classes_discovered": 5, "labelled_ir": 0.5, "uses_hidden_labels": False,
                       "store_seconds": 0.1}
                for p in PHASES:
                    row[f"{p}_seconds"] = 1.0
                    row[f"{p}_forward"] = row[f"{p}_backward"] = 0
                row["pretrain_seconds"] = shared if b == 0 else 0.0
                row["pretrain_forward"] = 1000 if (computes and b == 0) else 0
                row["infer_forward"] = 0 if method == "random" else 250
                # the cell's wall time: its 6 own phases x 2 rounds, plus its shared-phase time
                row["cell_seconds"] = 12.0 + shared
                rows.append(row)
    return pd.DataFrame(rows)


def test_shared_cost_is_shown_once_per_setting_not_charged_to_the_first_cell():
    table = shared_phase_table()
    (title, df), = profile_table(table)
    df = df.set_index("method")
    assert "pretrain s" not in df and "pretrain fwd+bwd" not in df
    # every method's own cost is the same 12 s: the 40-60 s of the seed's pretraining is nobody's
    assert df.loc["random", "phases s"] == pytest.approx(12.0)
    assert df.loc["margin", "phases s"] == pytest.approx(12.01)  # 0.01 s reading the cached artifact
    assert df.loc["random", "cell wall s"] == pytest.approx(12.0)
    assert df.loc["margin", "cell wall s"] == pytest.approx(12.01)
    assert df.loc["random", "accounted %"] == pytest.approx(100.0)
    shared = shared_cost_table(table)[title].iloc[0]
    assert shared["seeds computed"] == 2 and shared["seeds from cache"] == 0
    assert shared["seconds per seed"] == pytest.approx(50.0)  # (40 + 60) / 2
    assert shared["fwd+bwd per seed"] == pytest.approx(1000)
    assert shared["computed in the cell of"] == "random ×2"
    md = to_markdown("s", profile_table(table), shared_cost_table(table))
    assert "Shared one-time cost, once per seed" in md and "| random ×2" in md
    assert "sum over its rounds" in md and "each round's passes and seconds" in md


def test_waiting_for_a_concurrent_cell_stays_the_waiting_cells_own_time():
    (_, df), = profile_table(shared_phase_table(concurrent_wait=30.0))
    df = df.set_index("method")
    assert df.loc["entropy", "shared wait s"] == pytest.approx(30.0)
    assert df.loc["entropy", "cell wall s"] == pytest.approx(42.0)
    assert df.loc["entropy", "phases s"] == pytest.approx(42.0)  # the wait is accounted, not lost


def test_cost_figure_draws_the_passes_the_profile_counts_and_refuses_to_draw_nothing(tmp_path):
    (title, df), = profile_table(shared_phase_table())
    panels = {name: (values, axis) for name, values, axis in cost_panels(df)}
    passes, axis = panels["AL phase: forward + backward passes"]
    # entropy and margin: 250 forward passes in each of 2 rounds = 500 per cell
    assert dict(zip(df["method"], passes))["entropy"] == pytest.approx(500)
    assert "per cell: sum over its rounds, mean over seeds" in axis
    assert all("per cell" in a for _, (_, a) in panels.items())
    plot_cost(title, df, tmp_path / "cost.png", MethodPalette(list(df["method"])))
    assert (tmp_path / "cost.png").stat().st_size > 1000
    empty = pd.DataFrame({"method": ["random"], "phases s": [0.0]})
    assert cost_panels(empty) == []
    with pytest.raises(ReportError, match="nothing|no seconds"):
        plot_cost(title, empty, tmp_path / "empty.png", MethodPalette(["random"]))


def test_html_cost_section_says_per_cell_and_shows_the_shared_cost(tmp_path):
    table = shared_phase_table()
    boards = lb.build(table)
    page = write_html("s", boards, profile_table(table), tmp_path, shared_costs=shared_cost_table(table))
    text = page.read_text()
    assert "Cost per AL round" not in text and "seconds per AL round" not in text
    assert "Cost per cell (sum over its rounds), mean over seeds" in text
    assert "Shared one-time cost, once per seed" in text and "random ×2" in text
    assert '<div class="scroll"><table' in text  # wide tables scroll instead of being cut off
    assert ">nan<" not in text.lower()
    # passes are whole numbers: 500 per cell, not 500.000
    assert ">500<" in text and "500.000" not in text


def test_gap_columns_name_their_baseline():
    table = shared_phase_table()
    board, = lb.build(table, baseline="entropy")
    display = lb.ranking_display(board.ranking, board.baseline)
    assert "Δ entropy (95% CI)" in display.columns and not any("random" in c for c in display.columns)
    md = lb.to_markdown("s", [board], 0, 0)
    assert "Δ entropy" in md and "Δ random" not in md
    csv = lb.ranking_csv([board])
    assert {"gap_vs_entropy_mean", "gap_vs_entropy_ci95", "baseline"} <= set(csv.columns)
    assert "gap_mean" not in csv.columns and set(csv["baseline"]) == {"entropy"}
    assert csv.set_index("method").loc["entropy", "gap_vs_entropy_mean"] == 0.0


def test_budget_cells_without_a_model_show_a_dash_not_nan():
    table = shared_phase_table()
    table.loc[table["round"] == 0, "balanced_accuracy"] = np.nan  # 0 labels: nothing trained yet
    board, = lb.build(table)
    text = lb.per_budget_display(board).to_string()
    assert "nan" not in text.lower() and "– · 5.0 · 0.50" in text


def test_one_seed_captions_say_one_seed(tmp_path):
    table = shared_phase_table()
    table = table[table["seed"] == 0]
    page = write_html("s", lb.build(table), profile_table(table), tmp_path)
    text = page.read_text()
    assert "over 1 seeds" not in text and "1 seed: no band" in text


def test_leaderboard_tex_has_the_markdown_rows_and_marks_as_booktabs(tmp_path):
    table = shared_phase_table()
    table.loc[table["method"] == "margin", "uses_hidden_labels"] = True
    boards = lb.build(table, baseline="entropy")
    tex = lb.to_latex("my_suite", boards)
    assert tex.count(r"\toprule") == tex.count(r"\bottomrule") == len(boards) == 1
    body = tex.split(r"\midrule")[1].split(r"\bottomrule")[0]
    rows = [r for r in body.strip().splitlines() if r.strip()]
    md_methods = list(lb.ranking_display(boards[0].ranking, "entropy")["method"])
    assert [r.split(" & ")[1] for r in rows] == [lb.latex_text(m) for m in md_methods]
    assert r"margin\textsuperscript{\dag}" in tex and r"$\Delta$ entropy (95\% CI)" in tex
    assert r"\label{tab:my-suite-1}" in tex and r"my\_suite" in tex
    uncommented = "\n".join(line for line in tex.splitlines() if not line.startswith("%"))
    assert not any(ord(ch) > 127 for ch in uncommented), "pdflatex input must be ASCII outside comments"
    import shutil
    import subprocess

    if shutil.which("pdflatex"):  # the real check where LaTeX is installed
        doc = tmp_path / "doc.tex"
        doc.write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n" + tex
                       + "\n\\end{document}\n")
        done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout[-2000:]


def test_latex_text_escapes_specials_and_maps_symbols():
    assert lb.latex_text("R_z,g S=ŷ L20 ‡") == r"R\_z,g S=$\hat{y}$ L20 \textsuperscript{\ddag}"
    assert lb.latex_text("50% & #1 {x}") == r"50\% \& \#1 \{x\}"
    assert lb.latex_text("σ/μ – 3 × 2") == r"$\sigma$/$\mu$ -- 3 $\times$ 2"


def test_method_parameters_are_columns_of_the_flat_table(tmp_path):
    """`df.groupby("method.samples")` works without opening spec.json: every method's effective
    parameters (its defaults included) are columns, and the table still writes to parquet."""
    from benchmark.execute.executors import run_inline
    from benchmark.execute.store import ResultStore
    from benchmark.execute.suite import expand
    from benchmark.report.consolidate import consolidate
    from tests.conftest import tiny_suite

    suite = expand(tiny_suite(methods=("random", {"name": "varR", "samples": 4}, "entropy")))
    store = ResultStore(tmp_path / "r")
    run_inline(list(suite.cells), store)
    table = consolidate(suite.cells, store, out=tmp_path / "t.parquet")
    back = pd.read_parquet(tmp_path / "t.parquet")
    varr = back[back["method_name"] == "varR"]
    assert set(varr["method.samples"]) == {4}
    assert back.loc[back["method_name"] == "random", "method.samples"].isna().all()
    assert set(back["imbalance.ratio"]) == {3}
    assert "method.first_round" in back and set(varr["method.first_round"]) == {"method"}  # a default, not in the suite
    assert len(table) == len(back)


def test_a_page_of_cells_without_phase_costs_says_so_instead_of_drawing_an_empty_figure(tmp_path):
    table = shared_phase_table()
    table = table.drop(columns=[f"{p}_{what}" for p in PHASES for what in ("seconds", "forward", "backward")])
    page = write_html("s", lb.build(table), profile_table(table), tmp_path)
    assert "recorded no per-phase seconds or passes" in page.read_text()
    assert not list(tmp_path.glob("fig-*-cost.png"))
