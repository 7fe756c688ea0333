"""``make reports-check``: regenerate committed reports from their suites and diff them byte for byte.

For each suite, the cells run into a temporary result store (the local executor, as `make demo`
runs them), the reports the committed folder holds are written into a temporary reports folder
(leaderboard always; curves and WACV tables where the committed folder has them), and every file
is compared with ``reports/<suite>/``. ``profile.md`` is measured wall time and memory, so it is
regenerated but not compared. A suite whose data is missing is skipped with a note. Where
``reports/compare/<suite>/`` exists, ``albench compare SUITE --name SUITE`` is regenerated and compared too.

With ``--from-archive DIR`` nothing is computed: each suite's committed cells (``DIR/<suite>.tar.gz``
and its ``.partN`` volumes, written by ``albench store export``) are imported into one temporary store
and every report is rendered from them and compared, ``profile.md`` included (its seconds are the
stored ones), and so is every ``reports/compare/<name>/`` whose ``suites.txt`` names only checked
suites. That checks in seconds that each committed report is what its committed cells say; the rerun
checks that the cells themselves regenerate.

    python -m tools.reports_check quick wacv-offline [--data-root DIR] [--keep DIR]
    python -m tools.reports_check --from-archive results/archive mnist-short fk-mnist-early
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from fnmatch import fnmatch
from pathlib import Path

from benchmark.cli import main as albench

# The CPU numerics every committed CPU report is computed with (the Makefile's PORTABLE_NUMERICS): ATen's
# scalar kernels, oneDNN capped at SSE4.1, MKL's compatible path; read by torch when a worker imports it.
PORTABLE_NUMERICS = {"ATEN_CPU_CAPABILITY": "default", "DNNL_MAX_CPU_ISA": "SSE41", "MKL_CBWR": "COMPATIBLE"}

# What holds measured seconds and memory (never byte-identical on a rerun; the archive check compares them):
# the profile, the HTML page (its cost table) and the page's cost figure.
NOT_COMPARED = ("profile.md", "html/index.html", "html/fig-*-cost.png")


def suite_name(suite: str) -> str:
    """The ``name:`` of a suite given by name or by the path of its YAML file."""
    if not suite.endswith((".yaml", ".yml")):
        return suite
    from benchmark.execute.suite import load_suite

    return load_suite(suite).name


def archive_volumes(archive_dir: Path, suite: str) -> list[Path]:
    """``<suite>.tar.gz`` and its ``<suite>.partN.tar.gz`` volumes in ``archive_dir`` (none: empty)."""
    return sorted(archive_dir.glob(f"{suite}.tar.gz")) + sorted(archive_dir.glob(f"{suite}.part*.tar.gz"))


def regenerate(suite: str, work: Path, data_root: str | None, committed: Path, rerun: bool = True) -> Path:
    """Run the suite's cells (``rerun``; else they are already in ``work/results``) and write its reports
    under ``work``; returns the reports folder."""
    results, reports = work / "results", work / "reports"
    common = ["--results", str(results)]
    data = ["--data-root", data_root] if data_root else []
    steps = [["run", suite, "--no-progress", *common, *data]] if rerun else []
    steps += [["leaderboard", suite, "--reports", str(reports), *common], ["profile", suite, "--reports", str(reports), *common]]
    if (committed / "curves.md").exists():
        steps.append(["curves", suite, "--reports", str(reports), *common, *data])
    if (committed / "tables.md").exists():
        steps.append(["tables", suite, "--reports", str(reports), *common, *data])
    if rerun and (committed.parent / "compare" / suite).is_dir():  # compare SUITE --name SUITE, then the leaderboard
        steps.append(["compare", suite, "--name", suite, "--reports", str(reports), *common])  # again: each page links
        steps.append(["leaderboard", suite, "--reports", str(reports), *common])              # the other
    for argv in steps:
        _albench(argv)
    return reports / suite_name(suite)


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


def differences(committed: Path, regenerated: Path, skip: tuple[str, ...] = NOT_COMPARED) -> list[str]:
    """Files that differ or are missing on either side, by path under the folder (``skip``: glob patterns)."""
    def files(root: Path) -> set[str]:
        return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} if root.is_dir() else set()

    out = []
    for name in sorted(n for n in files(committed) | files(regenerated) if not any(fnmatch(n, s) for s in skip)):
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
            _clean(work, keep)
            print(f"{suite}: every report regenerates byte for byte ({', '.join(NOT_COMPARED)} not compared)")
    return 1 if failures else 0


def check_from_archive(suites: list[str], reports_root: Path, archive_dir: Path, keep: Path | None = None) -> int:
    """Render every report of ``suites`` (and the compare folders over them) from the committed cells; 1 on a
    difference or a suite without committed reports, 0 otherwise (a suite without an archive is a note)."""
    work = Path(tempfile.mkdtemp(prefix="reports-check-archive-", dir=keep))
    results = work / "results"
    failures, checked, known = 0, {}, {}  # suite name → as given: with cells imported / with committed reports
    for suite in suites:
        name = suite_name(suite)
        committed = reports_root / name
        volumes = archive_volumes(archive_dir, name)
        if not committed.is_dir():
            print(f"{name}: no committed reports in {committed}; nothing to check")
            failures += 1
            continue
        known[name] = suite
        if not volumes:
            print(f"{name}: no archive {archive_dir / name}.tar.gz; its reports are checked only by a rerun")
            continue
        if albench(["store", "import", *map(str, volumes), "--results", str(results)]):
            raise SystemExit(f"reports-check: importing {', '.join(map(str, volumes))} failed")
        regenerate(suite, work, None, committed, rerun=False)
        checked[name] = suite
    reports = work / "reports"
    compared = []
    for folder in sorted((reports_root / "compare").glob("*/suites.txt")):  # a comparison over checked suites
        names = folder.read_text().split()  # (a suite without an archive adds no cells: if the committed
        if names and set(names) <= set(known) and set(names) & set(checked):  # comparison had some, it differs)
            known_names = [known[n] for n in names]
            compared.append(folder.parent.name)
            _albench(["compare", *known_names, "--name", folder.parent.name, "--reports", str(reports),
                      "--results", str(results)])
    for suite in checked.values():  # again, now that the comparisons its page links to exist
        _albench(["leaderboard", suite, "--reports", str(reports), "--results", str(results)])
    for name in checked:
        failures += _report(name, reports_root / name, differences(reports_root / name, reports / name, skip=()),
                            reports / name)
    for name in compared:
        failures += _report(f"compare/{name}", reports_root / "compare" / name,
                            differences(reports_root / "compare" / name, reports / "compare" / name, skip=()),
                            reports / "compare" / name)
    if not failures:
        _clean(work, keep)
    return 1 if failures else 0


def _clean(work: Path, keep: Path | None) -> None:
    """Remove a work folder that matched (a differing one stays for inspection, and every one under --keep)."""
    if keep is None:
        shutil.rmtree(work, ignore_errors=True)


def _albench(argv: list[str]) -> None:
    code = albench(argv)
    if code:
        raise SystemExit(f"reports-check: `albench {' '.join(argv)}` exited with {code}")


def _report(what: str, committed: Path, diff: list[str], regenerated: Path) -> int:
    if diff:
        print(f"{what}: {len(diff)} file(s) differ from {committed} (regenerated in {regenerated}):")
        print("\n".join(f"  {d}" for d in diff))
        return 1
    print(f"{what}: every report renders byte for byte from the committed cells")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reports-check", description=__doc__.splitlines()[0])
    parser.add_argument("suites", nargs="+")
    parser.add_argument("--reports", default="reports", type=Path)
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--keep", default=None, type=Path, help="make the work folders here (kept for inspection)")
    parser.add_argument("--from-archive", default=None, type=Path, metavar="DIR",
                        help="render from the committed cells in DIR (results/archive) instead of rerunning them")
    args = parser.parse_args(argv)
    if args.from_archive is not None:
        return check_from_archive(args.suites, args.reports, args.from_archive, args.keep)
    return check(args.suites, args.reports, args.data_root, args.keep)


if __name__ == "__main__":
    sys.exit(main())
