"""`make reports-check`: committed reports regenerate byte for byte from their suites."""
from __future__ import annotations

from pathlib import Path

import pytest

from tools.reports_check import PORTABLE_NUMERICS, check, differences

REPO = Path(__file__).resolve().parent.parent


def test_differences_name_changed_missing_and_extra_files_but_not_the_profile(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    for folder, text in ((a, "x"), (b, "y")):
        (folder / "leaderboard.md").write_text("same")
        (folder / "profile.md").write_text(text)  # measured seconds: never compared
        (folder / "html").mkdir()
        (folder / "html" / "index.html").write_text(text)  # its cost table: measured too
        (folder / "html" / "fig-03-cost.png").write_text(text)
        (folder / "html" / "fig-01-rounds.png").write_text(text)  # not measured: compared
    (a / "curves.csv").write_text("1")
    (b / "curves.csv").write_text("2")
    (a / "tables.md").write_text("t")
    (b / "extra.png").write_bytes(b"p")
    assert differences(a, b) == ["curves.csv: differs", "extra.png: only in the regenerated reports", "html/fig-01-rounds.png: differs",
                                 "tables.md: only in the committed reports"]


@pytest.mark.slow
def test_the_quick_reports_regenerate_byte_for_byte(tmp_path, capsys, monkeypatch):
    for name, value in PORTABLE_NUMERICS.items():  # as `make reports-check`: the workers it spawns read them
        monkeypatch.setenv(name, value)
    assert check(["quick"], REPO / "reports", None, keep=tmp_path) == 0, capsys.readouterr().out


def _render(suite: str, results: Path, reports: Path) -> None:
    from benchmark.cli import main

    common = ["--results", str(results), "--reports", str(reports)]
    for argv in (["leaderboard", suite, *common], ["profile", suite, *common],
                 ["compare", suite, "--name", "tiny-cmp", *common], ["leaderboard", suite, *common]):
        assert main(argv) == 0


def test_reports_render_byte_for_byte_from_the_committed_cells_and_a_changed_page_is_named(tiny_suite_file, tmp_path,
                                                                                           capsys):
    from benchmark.cli import main
    from tools.reports_check import check_from_archive

    suite = str(tiny_suite_file(methods=("random", "entropy", "margin"), seeds=3))
    results, reports, archive = tmp_path / "results", tmp_path / "reports", tmp_path / "archive"
    assert main(["run", suite, "--results", str(results), "--executor", "inline", "--no-progress"]) == 0
    archive.mkdir()
    assert main(["store", "export", suite, str(archive / "tiny.tar.gz"), "--results", str(results)]) == 0
    _render(suite, results, reports)
    assert (reports / "tiny" / "profile.md").exists() and (reports / "compare" / "tiny-cmp" / "index.html").exists()
    capsys.readouterr()
    assert check_from_archive([suite], reports, archive, keep=tmp_path) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "tiny: every report renders byte for byte" in out and "compare/tiny-cmp: every report renders" in out

    page = reports / "tiny" / "html" / "index.html"  # a subfolder's file is compared too, and so is the profile
    page.write_text(page.read_text().replace("entropy", "entr0py", 1))
    (reports / "tiny" / "profile.md").write_text("edited by hand\n")
    assert check_from_archive([suite], reports, archive, keep=tmp_path) == 1
    out = capsys.readouterr().out
    assert "tiny: 2 file(s) differ" in out and "html/index.html: differs" in out and "profile.md: differs" in out


def test_a_suite_without_an_archive_is_a_note_not_a_failure(tmp_path, capsys):
    from tools.reports_check import check_from_archive

    (tmp_path / "reports" / "quick").mkdir(parents=True)
    assert check_from_archive(["quick"], tmp_path / "reports", tmp_path / "archive", keep=tmp_path) == 0
    assert "no archive" in capsys.readouterr().out
