"""`make reports-check`: committed reports regenerate byte for byte from their suites."""
from __future__ import annotations

from pathlib import Path

import pytest

from tools.reports_check import check, differences

REPO = Path(__file__).resolve().parent.parent


def test_differences_name_changed_missing_and_extra_files_but_not_the_profile(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    for folder, text in ((a, "x"), (b, "y")):
        (folder / "leaderboard.md").write_text("same")
        (folder / "profile.md").write_text(text)  # measured seconds: never compared
    (a / "curves.csv").write_text("1")
    (b / "curves.csv").write_text("2")
    (a / "tables.md").write_text("t")
    (b / "extra.png").write_bytes(b"p")
    assert differences(a, b) == ["curves.csv: differs", "extra.png: only in the regenerated reports",
                                 "tables.md: only in the committed reports"]


@pytest.mark.slow
def test_the_quick_reports_regenerate_byte_for_byte(tmp_path, capsys):
    assert check(["quick"], REPO / "reports", None, keep=tmp_path) == 0, capsys.readouterr().out
