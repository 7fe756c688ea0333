"""`albench compare` from a result store: the files it writes, byte-reproducible, and its one-line
messages on bad input. The stores are written directly (hand-made per-round curves in real cell
folders), so no cell has to run."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmark.cli import main
from benchmark.core.registry import discover
from benchmark.core.result import CellResult
from benchmark.execute.store import ResultStore
from benchmark.execute.suite import load_suite

QUALITY = {"random": 0.0, "entropy": 0.10, "margin": 0.05, "least_confidence": 0.05}
JITTER = [0.004, -0.003, 0.001, 0.005, -0.002]


def fake_cells(suite_path, results, keep=lambda spec: True) -> int:
    """Store every cell of the suite that ``keep`` accepts with a made-up learning curve: the method's
    QUALITY over random from round 1, plus a per-seed jitter. Returns the number stored."""
    discover()
    store, n = ResultStore(results), 0
    for spec in load_suite(str(suite_path)).cells:
        if not keep(spec):
            continue
        q, j = QUALITY[spec.method.name], JITTER[spec.seed % len(JITTER)]
        acc = [0.5, 0.6 + q + j, 0.7 + q - j]
        rounds = pd.DataFrame({"round": [0, 1, 2], "labels_used": [10, 15, 20], "accuracy": acc,
                               "balanced_accuracy": acc, "minority_accuracy": acc, "classes_discovered": [3, 3, 3],
                               "labelled_ir": [0.5, 0.5, 0.5]})
        store.write_cell(CellResult(spec=spec, rounds=rounds, selections=pd.DataFrame({"round": [0]}),
                                    predictions=np.zeros((3, 1), dtype=np.int64),
                                    summary={"cell_id": spec.cell_id, "final_accuracy": acc[-1], "seconds": 1.0},
                                    environment={}, log=""))
        n += 1
    return n


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_compare_writes_md_csv_png_html_byte_for_byte_and_the_leaderboard_links_it(tmp_path, capsys, tiny_suite_file):
    suite = tiny_suite_file(methods=("random", "entropy", "margin"), seeds=5)
    results = tmp_path / "results"
    assert fake_cells(suite, results) == 15
    args = ["compare", str(suite), "--results", str(results), "--target", "0.75"]
    assert main([*args, "--reports", str(tmp_path / "a")]) == 0
    assert main([*args, "--reports", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    a, b = tmp_path / "a" / "compare" / "tiny", tmp_path / "b" / "compare" / "tiny"
    assert set(_files(a)) == {"compare.md", "penalty.csv", "ranks.csv", "efficiency.csv", "seeds.csv", "penalty.png",
                              "cd.png", "index.html", "suites.txt"}
    assert _files(a) == _files(b), "compare must be byte-reproducible"
    assert "wrote " in out and "skipped" not in out

    penalty = pd.read_csv(a / "penalty.csv", index_col=0)
    assert list(penalty.columns) == ["entropy", "margin", "random"]  # least beaten first
    assert list(penalty.index) == ["entropy", "margin", "random", "column sum (times beaten)"]
    assert all(penalty.loc[m, m] == 0 for m in penalty.columns)
    # entropy beats margin and random at both rounds after the first selection (1/2 each): 1 per pair
    assert penalty.loc["entropy", "margin"] == 1 and penalty.loc["entropy", "random"] == 1
    assert penalty.loc["margin", "random"] == 1 and penalty.loc["random"].sum() == 0
    assert penalty.loc["column sum (times beaten)"].tolist() == [0, 1, 2]
    ranks = pd.read_csv(a / "ranks.csv")
    assert ranks["method"].tolist() == ["entropy", "margin", "random"] and ranks["average_rank"].tolist() == [1, 2, 3]
    eff = pd.read_csv(a / "efficiency.csv")
    assert set(eff["target"].astype(str)) == {"baseline final", "0.75"}
    md = (a / "compare.md").read_text()
    for heading in ("Pairwise penalty matrix", "critical-difference diagram", "Label efficiency", "Seeds advice",
                    "Friedman test", "Nemenyi"):
        assert heading in md
    assert (a / "penalty.png").stat().st_size > 5000 and (a / "cd.png").stat().st_size > 5000
    assert (a / "suites.txt").read_text() == "tiny\n"

    assert main(["leaderboard", str(suite), "--results", str(results), "--reports", str(tmp_path / "a")]) == 0
    page = (tmp_path / "a" / "tiny" / "html" / "index.html").read_text()
    assert 'href="../../compare/tiny/index.html"' in page and "Across settings (albench compare)" in page
    board = (tmp_path / "a" / "tiny" / "leaderboard.md").read_text()
    assert "labels saved vs random (95% CI)" in board and "seeds for 80% power vs next" in board


def test_compare_wilcoxon_holm_and_settings_blocks_are_stated(tmp_path, capsys, tiny_suite_file):
    suite = tiny_suite_file(methods=("random", "entropy", "margin"), seeds=5)
    fake_cells(suite, tmp_path / "r")
    assert main(["compare", str(suite), "--results", str(tmp_path / "r"), "--reports", str(tmp_path / "rep"),
                 "--posthoc", "wilcoxon", "--blocks", "settings"]) == 0
    out = capsys.readouterr().out
    # one setting is too few blocks for Friedman's test: said in one line, every other file still written
    assert "ranks and critical-difference diagram skipped: ranks need at least 3 methods in every setting and 2 " \
           "blocks; got 3 method(s) over 1 block(s)" in out
    folder = tmp_path / "rep" / "compare" / "tiny"
    assert not (folder / "cd.png").exists() and (folder / "penalty.png").exists()
    assert main(["compare", str(suite), "--results", str(tmp_path / "r"), "--reports", str(tmp_path / "rep"),
                 "--posthoc", "wilcoxon"]) == 0
    md = (folder / "compare.md").read_text()
    assert "Wilcoxon signed-rank test" in md and "Holm" in md and "setting × seed" in md and (folder / "cd.png").exists()


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("albench compare: error:") and err.count("\n") == 1, err
    return err


def test_compare_bad_input(tmp_path, capsys, tiny_suite_file):
    suite = tiny_suite_file(methods=("random", "entropy", "margin"), seeds=5)
    results, reports = tmp_path / "results", tmp_path / "reports"
    common = ["--results", str(results), "--reports", str(reports)]
    assert main(["compare", str(suite), *common]) == 2  # nothing finished
    assert "no finished cells for suite(s) tiny" in _one_line_error(capsys)
    assert main(["compare", str(suite), *common, "--name", "../x"]) == 2
    assert "must be a folder name" in _one_line_error(capsys)
    assert main(["compare", str(suite), *common, "--target", "1.5"]) == 2
    assert "accuracy in (0, 1]" in _one_line_error(capsys)

    # a partly finished store: seeds 0-3 of every method, and seed 4 of random only
    fake_cells(suite, results, keep=lambda s: s.seed < 4 or s.method.name == "random")
    assert main(["compare", str(suite), *common]) == 0
    out = capsys.readouterr().out
    assert "skipped: suite tiny: 13 of 15 cells finished; the 2 not run and 0 failed are left out" in out

    # a second suite, other setting (no setting in common), one method with only one seed
    other = tiny_suite_file(file="other", name="other", methods=("random", "least_confidence"), seeds=3,
                            imbalance={"name": "step", "ratio": 5})
    fake_cells(other, results, keep=lambda s: s.method.name == "random" or s.seed == 0)
    assert main(["compare", str(suite), str(other), *common]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("skipped:")]
    assert any("suite other: 4 of 6 cells finished" in line for line in lines)
    assert any("share no setting" in line for line in lines)
    assert any(line.startswith("skipped: least_confidence has 1 seed in ") and "paired tests" in line for line in lines)
    assert any("least_confidence: in 1 of 2 settings; not ranked" in line for line in lines)
    folder = reports / "compare" / "tiny+other"
    penalty = pd.read_csv(folder / "penalty.csv", index_col=0)
    assert "least_confidence" in penalty.columns and penalty["least_confidence"].iloc[:-1].sum() == 0
    assert (folder / "suites.txt").read_text() == "tiny\nother\n"


def test_compare_figures_refuse_to_draw_nothing(tmp_path):
    from benchmark.core.errors import CompareError
    from benchmark.report.colors import MethodPalette
    from benchmark.report.compare.figures import plot_cd, plot_penalty
    from benchmark.report.compare.pairwise import Penalty
    from benchmark.report.compare.ranks import Ranks

    with pytest.raises(CompareError, match="no penalty matrix to draw"):
        plot_penalty(Penalty(pd.DataFrame()), tmp_path / "p.png", MethodPalette())
    one = pd.DataFrame({"a": [0.5]})
    with pytest.raises(CompareError, match="no critical-difference diagram"):
        plot_cd(Ranks("settings", one, one, one.mean(), 0.0, 1.0, "nemenyi", 0.05, pd.DataFrame()), tmp_path / "c.png",
                MethodPalette())
    assert not list(tmp_path.iterdir())
