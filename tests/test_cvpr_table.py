"""tools/cvpr_table.py: the CVPR 2020 table of docs/reproductions.md is regenerated from the committed reports
and merged with the paper's and the authors' code's reference values; the doc holds exactly its output."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tools import cvpr_table

ROOT = Path(__file__).resolve().parents[1]
SETTING = "mnist · step(ratio={r}) · lenet (rotation init) · initial=0 per_round=125 rounds=2"


def _curves(folder: Path, ratio: int, rows: list[tuple]) -> None:
    folder.mkdir(parents=True)
    pd.DataFrame([{"method": m, "labels_used": b, "mean": a, "std": s, "seeds": 3, "minority_accuracy_mean": 0.5,
                   "minority_labelled_mean": k, "minority_labelled_std": 1.0, "pseudo_label_accuracy_mean": p,
                   "pseudo_label_minority_accuracy_mean": p / 2 if p == p else p, "setting": SETTING.format(r=ratio)}
                  for m, b, a, s, k, p in rows]).to_csv(folder / "curves.csv", index=False)


def test_rows_merge_the_references_strip_marks_and_keep_only_the_papers_rows(tmp_path):
    nan = float("nan")
    _curves(tmp_path / "fk-mnist-100-fk", 100, [
        ("random", 0, 0.1, 0.01, 0.0, nan), ("random", 125, 0.5, 0.02, 2.0, nan), ("random", 250, 0.55, 0.03, 4.0, nan),
        ("R_z,g S=ŷ L20‡", 125, 0.6, 0.05, 9.0, 0.8), ("R_z,g S=ŷ L20‡", 250, 0.7, 0.04, 30.0, 0.9),
        ("BADGE", 125, 0.52, 0.01, 3.0, nan)])
    _curves(tmp_path / "fk-mnist-1-fk", 1, [("random", 125, 0.8, 0.01, 60.0, nan)])
    table = cvpr_table.to_markdown(cvpr_table.build(tmp_path))
    lines = table.splitlines()
    assert "BADGE" not in table  # the recent baselines have their own section
    assert lines[2].startswith("| 1× | random | albench `fk-mnist-1-fk` | 3 | 80.0 ± 1.0 |")  # 1× first
    random_100 = [line for line in lines if "random" in line and "100×" in line][0]
    assert random_100 == "| 100× | random | paper, Fig. 4(b) | 10 | ≈ 52 | ≈ 54 | ≈ 56 |" + "  |" * 7
    assert "|  |  | authors' code, last epoch | 3 | 52.4 ± 1.5 | 56.1 ± 4.8 | 57.6 ± 6.1 |" in table
    assert "| albench `fk-mnist-100-fk` | 3 | 50.0 ± 2.0 | 55.0 ± 3.0 |" in table
    assert "| … minority images labelled (`fk-mnist-100-fk`) | 3 | 2.0 | 4.0 |" in table
    # S = ŷ (the ‡ dropped for the lookup) gets the code's reference and its pool pseudo-label accuracy
    s_hat = lines.index(next(line for line in lines if line.startswith("| 100× | R_z,g S=ŷ L20‡ |")))
    assert "authors' code, last epoch | 3 | 61.6 ± 0.4" in lines[s_hat]
    assert "| … pool pseudo-labels right, % all / minority (`fk-mnist-100-fk`) | 3 | 80.0 / 40.0 | 90.0 / 45.0 |" in table


def test_a_row_a_sibling_suite_shares_cell_for_cell_is_shown_once(tmp_path):
    nan = float("nan")
    shared = [("random", 125, 0.5, 0.02, 2.0, nan), ("random", 250, 0.55, 0.03, 4.0, nan)]
    _curves(tmp_path / "fk-mnist-100-fk", 100, shared)
    _curves(tmp_path / "fk-mnist-100-ensvaal", 100, shared + [("varR (E4)", 125, 0.6, 0.02, 7.0, nan)])
    table = cvpr_table.to_markdown(cvpr_table.build(tmp_path))
    assert "| albench `fk-mnist-100-fk` | 3 | 50.0 ± 2.0 |" in table
    assert "albench `fk-mnist-100-ensvaal` | 3 | 50.0" not in table  # the same cells, not a second row
    assert "| 100× | varR (E4) | albench `fk-mnist-100-ensvaal` | 3 | 60.0 ± 2.0 |" in table
    _curves(tmp_path / "fk-mnist-early", 100, [("random", 125, 0.49, 0.01, 2.0, nan)])  # other cells: its own row
    assert "albench `fk-mnist-early` | 3 | 49.0 ± 1.0 |" in cvpr_table.to_markdown(cvpr_table.build(tmp_path))


def test_a_reduced_suite_shows_only_the_rows_its_full_siblings_lack(tmp_path):
    nan = float("nan")
    _curves(tmp_path / "fk-mnist-100-fk", 100, [("random", 125, 0.5, 0.02, 2.0, nan)])
    _curves(tmp_path / "fk-mnist-cpu", 100, [("random", 125, 0.51, 0.01, 2.0, nan),  # seeds 0-1 of the above
                                            ("varR (E1,K16)", 125, 0.54, 0.01, 6.0, nan)])
    table = cvpr_table.to_markdown(cvpr_table.build(tmp_path))
    assert "albench `fk-mnist-cpu` | 3 | 51.0" not in table
    assert "| 100× | varR (E1,K16) | albench `fk-mnist-cpu` | 3 | 54.0 ± 1.0 |" in table


def test_a_setting_without_a_ratio_is_refused_with_the_expected_form():
    with pytest.raises(ValueError, match=r"step\(ratio=N\)"):
        cvpr_table.ratio_of("mnist · none · lenet")


def test_write_then_check_round_trips_and_a_doc_without_markers_is_refused(tmp_path):
    _curves(tmp_path / "reports" / "fk-mnist-1-fk", 1, [("random", 125, 0.8, 0.01, 60.0, float("nan"))])
    doc = tmp_path / "doc.md"
    doc.write_text(f"intro\n{cvpr_table.BEGIN}\nold\n{cvpr_table.END}\noutro\n")
    reports = ["--reports", str(tmp_path / "reports")]
    assert cvpr_table.main([*reports, "--check", str(doc)]) == 1
    assert cvpr_table.main([*reports, "--write", str(doc)]) == 0
    assert cvpr_table.main([*reports, "--check", str(doc)]) == 0
    assert doc.read_text().startswith("intro\n") and doc.read_text().endswith("outro\n")
    doc.write_text("no table here\n")
    with pytest.raises(ValueError, match="cvpr-table"):
        cvpr_table.main([*reports, "--check", str(doc)])


def test_the_docs_table_is_the_committed_reports_table():
    assert cvpr_table.main(["--reports", str(ROOT / "reports"), "--check", str(ROOT / "docs" / "reproductions.md")]) == 0
