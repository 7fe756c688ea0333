"""``make reports-check``: regenerate committed reports from their suites and diff them byte for byte.

For each suite, the cells run into a temporary result store (the local executor, as `make demo`
runs them), the reports the committed folder holds are written into a temporary reports folder
(leaderboard always; curves and WACV tables where the committed folder has them), and every file
is compared with ``reports/<suite>/``. ``profile.md`` is measured wall time and memory, so it is
regenerated but not compared. A suite whose data is missing is skipped with a note. Where
``reports/compare/<suite>/`` exists, ``albench compare SUITE --name SUITE`` is regenerated and compared too.

    python -m tools.reports_check quick wacv-offline [--data-root DIR] [--keep DIR]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from benchmark.cli import main as albench

NOT_COMPARED = ("profile.md",)  # measured seconds and memory: never byte-identical


def regenerate(suite: str, work: Path, data_root: str | None, committed: Path) -> Path:
    """Run the suite's cells and write its reports under ``work``; returns the reports folder."""
    results, reports = work / "results", work / "reports"
    common = ["--results", str(results)]
    data = ["--data-root", data_root] if data_root else []
    steps = [["run", suite, "--no-progress", *common, *data], ["leaderboard", suite, "--reports", str(reports), *common],
             ["profile", suite, "--reports", str(reports), *common]]
    if (committed / "curves.md").exists():
        steps.append(["curves", suite, "--reports", str(reports), *common, *data])
    if (committed / "tables.md").exists():
        steps.append(["tables", suite, "--reports", str(reports), *common, *data])
    if (committed.parent / "compare" / suite).is_dir():  # albench compare SUITE --name SUITE (after the leaderboard it links)
        steps.append(["compare", suite, "--name", suite, "--reports", str(reports), *common])
    for argv in steps:
        code = albench(argv)
        if code:
            raise SystemExit(f"reports-check: `albench {' '.join(argv)}` exited with {code}")
    return reports / suite


def missing_data(suite: str, data_root: str | None) -> str:
    """Why the suite's data is not available here ("" when it is)."""
    from benchmark.core.errors import DataError
    from benchmark.core.registry import discover
    from benchmark.data.loading import check_data
    from benchmark.execute.suite import load_suite

    discover()
    for dataset in {c.dataset for c in load_suite(suite).cells}:
        try:
            check_data(dataset, data_root)
        except DataError as exc:
            return str(exc).splitlines()[0]
    return ""


def differences(committed: Path, regenerated: Path) -> list[str]:
    """Files that differ or are missing on either side (``NOT_COMPARED`` excepted)."""
    names = {p.name for p in committed.iterdir() if p.is_file()} | {p.name for p in regenerated.iterdir() if p.is_file()}
    out = []
    for name in sorted(names - set(NOT_COMPARED)):
        a, b = committed / name, regenerated / name
        if not a.exists() or not b.exists():
            out.append(f"{name}: only in {'the regenerated' if b.exists() else 'the committed'} reports")
        elif a.read_bytes() != b.read_bytes():
            out.append(f"{name}: differs")
    return out


def check(suites: list[str], reports_root: Path, data_root: str | None, keep: Path | None = None) -> int:
    failures = 0
    for suite in suites:
        committed = reports_root / suite
        if not committed.is_dir():
            print(f"{suite}: no committed reports in {committed}; nothing to check")
            failures += 1
            continue
        missing = missing_data(suite, data_root)
        if missing:
            print(f"{suite}: skipped, its data is not here ({missing})")
            continue
        work = Path(tempfile.mkdtemp(prefix=f"reports-check-{suite}-", dir=keep))
        regenerated = regenerate(suite, work, data_root, committed)
        diff = differences(committed, regenerated)
        if (reports_root / "compare" / suite).is_dir():
            diff += [f"compare/{suite}/{d}" for d in differences(reports_root / "compare" / suite,
                                                                   regenerated.parent / "compare" / suite)]
        if diff:
            failures += 1
            print(f"{suite}: {len(diff)} file(s) differ from {committed} (regenerated in {regenerated}):")
            print("\n".join(f"  {d}" for d in diff))
        else:
            print(f"{suite}: every report regenerates byte for byte ({', '.join(NOT_COMPARED)} not compared)")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reports-check", description=__doc__.splitlines()[0])
    parser.add_argument("suites", nargs="+")
    parser.add_argument("--reports", default="reports", type=Path)
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--keep", default=None, type=Path, help="make the work folders here (kept for inspection)")
    args = parser.parse_args(argv)
    return check(args.suites, args.reports, args.data_root, args.keep)


if __name__ == "__main__":
    sys.exit(main())
