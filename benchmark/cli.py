"""The ``albench`` command line: run, status, leaderboard, compare, list.

Every bad input is refused before any cell runs, as one line on stderr: ``albench <command>: error:
<message>`` and exit code 2 (usage errors from argparse and ``AlbenchError`` alike).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any, NoReturn

from benchmark.core.errors import AlbenchError
from benchmark.report.compare import BLOCKS, POSTHOC


def one_line(message: str) -> str:
    """A message with its line breaks collapsed, for a one-line error."""
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (``albench run: error: ...``), and that lets
    positionals and options mix in any order (``albench list methods --plugins DIR 'b*'``)."""

    intermixed = True
    _in_intermixed = False

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see `{self.prog} --help`)\n")

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:  # type: ignore[override]
        leaf = not any(isinstance(a, argparse._SubParsersAction) for a in self._actions)
        if not (self.intermixed and leaf) or self._in_intermixed:
            return super().parse_known_args(args, namespace)
        self._in_intermixed = True  # parse_known_intermixed_args calls parse_known_args twice itself
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._in_intermixed = False


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def duration(text: str) -> float:
    """argparse type: a duration (``500s``, ``8m``, ``1h30m``, or seconds) → seconds."""
    from benchmark.execute.timebox import parse_duration

    try:
        return parse_duration(text)
    except AlbenchError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def output_folder(text: str) -> str:
    """argparse type: a folder that exists or can be created (a file there, or above it, is an error).
    Nothing is created here."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder; give a folder that exists or can be created")
    ancestor = next(p for p in [path, *path.absolute().parents] if p.exists())
    if not ancestor.is_dir():
        raise argparse.ArgumentTypeError(f"{text} cannot be created: {ancestor} is a file, not a folder")
    if ancestor != path and not os.access(ancestor, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text} cannot be created: {ancestor} is not writable")
    return text


def input_folder(text: str) -> str:
    """argparse type: a folder to read from (it may be missing, which later errors explain; not a file)."""
    if Path(text).expanduser().is_file():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder")
    return text


def json_object(text: str) -> dict[str, Any]:
    """argparse type: a JSON object (``'{"ir": 0.75}'``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"must be a JSON object such as '{{\"ir\": 0.75}}', got {text!r} ({exc})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object such as '{{\"ir\": 0.75}}', got {text!r}")
    return value


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", default="results", type=output_folder,
                   help="result store folder (default: results/)")
    p.add_argument("--plugins", action="append", default=[], metavar="DIR", type=input_folder,
                   help="extra plugin folder with method/dataset files (repeatable)")


def _load(args: argparse.Namespace):
    from benchmark.core.registry import discover
    from benchmark.execute.store import ResultStore
    from benchmark.execute.suite import load_suite

    discover(args.plugins)
    return load_suite(args.suite), ResultStore(args.results)


def check_baseline(baseline: str, suite: Any) -> None:
    """``--baseline`` must be one of the suite's methods, as the reports label them."""
    from benchmark.core.errors import did_you_mean
    from benchmark.execute.suite import shown_as

    labels = sorted({shown_as(c.method) for c in suite.cells})
    if baseline not in labels:
        raise AlbenchError(f"--baseline {baseline!r} is not a method of suite {suite.name!r}."
                           f"{did_you_mean(baseline, labels)} Its methods are labelled {labels}.")


def _partition(suite, store):
    """(done, failed, pending) cells of a suite; a failed cell is one not done with a failure record."""
    failed_ids = store.failed_ids()
    done, failed, pending = [], [], []
    for c in suite.cells:
        (done if store.is_done(c.cell_id) else failed if c.cell_id in failed_ids else pending).append(c)
    return done, failed, pending


def _consolidated(args: argparse.Namespace, write_parquet: bool = False):
    """The suite, its store and its flat table (also saved as results/<suite>.parquet if asked);
    an error if no cell has finished yet."""
    from benchmark.report.consolidate import consolidate

    suite, store = _load(args)
    out = store.root / f"{suite.name}.parquet" if write_parquet else None
    table = consolidate(suite.cells, store, out=out)
    if table.empty:
        raise AlbenchError(f"No finished cells for suite {suite.name!r} in {store.root}. Run `albench run {args.suite}` first.")
    return suite, store, table


def cmd_run(args: argparse.Namespace) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from benchmark.execute.dispatch import EXECUTORS
    from benchmark.execute.executors import Interrupted, changed_method_sources
    from benchmark.execute.timebox import DEFAULT_GRACE_S, TimeBox

    timebox = None if args.stop_after is None else TimeBox.starting_now(
        args.stop_after, DEFAULT_GRACE_S if args.stop_grace is None else args.stop_grace)
    suite, store = _load(args)
    executor, slurm_kwargs = _executor_choice(args, suite)
    _check_pools(suite, store, args)
    store.check_writable()  # a read-only folder or full disk is one clear error before any cell runs
    store.clean_stale()
    states = {c.cell_id: store.state(c.cell_id) for c in suite.cells}
    not_done = [c for c in suite.cells if states[c.cell_id].status != "done"]
    todo = not_done[: args.limit] if args.limit is not None else not_done
    skipped = len(suite.cells) - len(not_done)
    print(f"suite {suite.name}: {len(suite.cells)} cells, {skipped} already done, {len(todo)} to run "
          f"({executor} executor)", flush=True)
    for c in suite.cells:
        if states[c.cell_id].status == "damaged":
            print(f"damaged: {c.label()} [{c.cell_id}]: {'; '.join(states[c.cell_id].problems)}. It is moved to "
                  f"{store.damaged}/ and run again.", flush=True)
    for warning in changed_method_sources([c for c in suite.cells if states[c.cell_id].status == "done"], store):
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    if not todo:
        return 0
    from benchmark.core.errors import DataError
    from benchmark.data.loading import check_data

    for dataset in sorted({c.dataset for c in todo}, key=lambda d: d.name):
        try:
            check_data(dataset, args.data_root)  # missing or corrupt files stop the sweep before it starts
        except DataError as exc:
            if not args.skip_missing_data:
                raise
            todo = [c for c in todo if c.dataset != dataset]
            print(f"skipping {dataset.name}: {exc}", flush=True)
    from benchmark.learn.source import check_source_weights

    for weights in sorted({w for c in todo if (w := check_source_weights(c)) is not None}):
        message = (f"Source weights {weights} not found. albench never downloads weights: save the pretrained "
                   f"state dict there (for the WACV suites, torchvision's resnet18-f37072fd.pth).")
        if not args.skip_missing_data:
            raise DataError(message)
        todo = [c for c in todo if check_source_weights(c) != weights]
        print(f"skipping cells that need them: {message}", flush=True)
    if not todo:
        return 0
    if timebox is not None:
        import time

        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timebox.deadline))
        print(f"time box: no cell starts after {stamp}.{int(timebox.deadline % 1 * 10)}Z; cells still inside a "
              f"round {timebox.grace_s:g} s later are stopped there", flush=True)
    failed, elsewhere, outcomes = [], [], []
    show = not args.no_progress and sys.stderr.isatty()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), disable=not show, transient=False) as progress:
        task = progress.add_task(suite.name, total=len(todo))

        def on_done(outcome) -> None:
            outcomes.append(outcome)
            progress.advance(task)
            if outcome.note:
                progress.console.print(f"{outcome.label} ({outcome.cell_id}): {outcome.note}", soft_wrap=True)
            if outcome.status == "failed":
                failed.append(outcome)
                progress.console.print(f"[red]FAILED[/red] {outcome.label} ({outcome.cell_id}): {outcome.message}")
            elif outcome.status in ("busy", "skipped", "abandoned", "paused"):
                elsewhere.append(outcome)
                progress.console.print(f"{outcome.status} {outcome.label} ({outcome.cell_id}): {outcome.message}",
                                       soft_wrap=True)
            elif not show:
                print(f"done {outcome.label} ({outcome.seconds:.1f}s)", flush=True)

        kwargs = ({"workers": args.workers, "threads": args.threads, "mps": args.mps or "auto"} if executor == "local"
                  else slurm_kwargs if executor == "slurm" else {})
        if timebox is not None:
            kwargs["timebox"] = timebox
        run_cells: Any = EXECUTORS[executor]
        try:
            run_cells(todo, store, data_root=args.data_root, plugin_dirs=tuple(args.plugins),
                      on_done=on_done, **kwargs)
        except Interrupted as stop:
            progress.stop()
            running = f" ({', '.join(stop.abandoned)})" if stop.abandoned else ""
            print(f"albench: stopped by {stop.signal_name}. No new cell was started; the cells that were running"
                  f"{running} were abandoned and nothing of them was stored. Finished cells are stored; run the "
                  f"same command again to resume.", file=sys.stderr, flush=True)
            return 128 + stop.signum
    submitted_only = executor == "slurm" and slurm_kwargs["options"].wait is False  # nothing ran here yet
    if timebox is not None and not submitted_only:
        from benchmark.execute.timebox import count_outcomes, summary_line

        finished, paused, pending, n_failed, n_elsewhere = count_outcomes(outcomes, len(todo))
        print(summary_line(finished, paused, pending, n_failed, n_elsewhere, stopped=bool(paused or pending)),
              flush=True)
        elsewhere = [o for o in elsewhere if o.status not in ("paused", "abandoned")]
    if elsewhere:
        print(f"{len(elsewhere)} cell(s) were not run to the end here (busy or done in another albench run on "
              f"{store.root}, or abandoned; see above); `albench status {args.suite}` shows where they stand.",
              file=sys.stderr)
    if executor == "slurm" and any(o.status == "abandoned" for o in elsewhere):
        return 1  # a Slurm task ended without storing its cells (cancelled, killed)
    if failed:
        print(f"{len(failed)} cell(s) failed; tracebacks are in {store.failed}/<cell_id>/traceback.txt "
              f"(`albench status {args.suite}`). They are not counted as done and run again next time.",
              file=sys.stderr)
        return 1
    return 0


def _check_pools(suite: Any, store: Any, args: argparse.Namespace) -> None:
    """Before the store is touched: a budget the imbalanced pool cannot hold is refused here, once, not
    in every cell of the setting (cells whose data is missing are left to the data check)."""
    from benchmark.core.errors import DataError
    from benchmark.data.loading import check_data
    from benchmark.execute.preflight import check_pools

    pending = [c for c in suite.cells if store.state(c.cell_id).status != "done"]
    present = []
    for dataset in {c.dataset for c in pending}:
        try:
            check_data(dataset, args.data_root)
        except DataError:
            continue
        present.append(dataset)
    check_pools([c for c in pending if c.dataset in present], args.data_root, suite.path)


def _executor_choice(args: argparse.Namespace, suite: Any) -> tuple[str, dict[str, Any]]:
    """The executor (--executor, else the suite's `executor:`, else local) and, for slurm, its options
    (the suite's block, overridden by the --slurm-* options)."""
    from benchmark.execute.slurm import SlurmOptions, suite_executor

    named, block = suite_executor(suite.path)
    executor = args.executor or named or "local"
    where = f"got --executor {args.executor}" if args.executor else (
        f"suite {suite.name!r} says executor: {named}" if named else "the default executor is local")
    problem = executor_problem(args, executor, where)
    if problem:
        raise AlbenchError(problem)
    if executor != "slurm":
        return executor, {}
    options = SlurmOptions().merged(
        block if named in (None, "slurm") else {}, partition=args.slurm_partition, time=args.slurm_time,
        gpus=args.slurm_gpus, cpus=args.slurm_cpus, mem_gb=args.slurm_mem_gb, cells_per_task=args.cells_per_task,
        wait=False if args.no_wait else None)
    return executor, {"options": options, "suite_name": suite.name}


def cmd_status(args: argparse.Namespace) -> int:
    suite, store = _load(args)
    failed_ids, live = store.failed_ids(), store.claims.live()
    groups: dict[str, list] = {"done": [], "failed": [], "pending": [], "damaged": [], "running": []}
    for c in suite.cells:
        state = store.state(c.cell_id)
        group = ("done" if state.status == "done" else "running" if c.cell_id in live
                 else "damaged" if state.status == "damaged" else "failed" if c.cell_id in failed_ids else "pending")
        groups[group].append(c)
    print(f"suite {suite.name} ({suite.path}): {len(suite.cells)} cells — "
          + ", ".join(f"{len(cells)} {name}" for name, cells in groups.items()))
    for c in groups["running"]:
        print(f"  running {c.label()} [{c.cell_id}]: {live[c.cell_id].describe()}")
    for c in groups["damaged"]:
        print(f"  damaged {c.label()} [{c.cell_id}]: {'; '.join(store.state(c.cell_id).problems)} "
              f"(`albench run` moves it to {store.damaged}/ and runs it again)")
    for c in groups["failed"]:
        print(f"  failed {c.label()} [{c.cell_id}]: {store.failure_reason(c.cell_id)}")
    from benchmark.execute.slurm import status_lines

    for line in status_lines(store.root, suite.name):
        print(line)
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from benchmark.report import leaderboard as lb

    suite, store = _load(args)
    check_baseline(args.baseline, suite)
    suite, store, table = _consolidated(args, write_parquet=True)
    _, failed_cells, pending = _partition(suite, store)
    failed, missing = len(failed_cells), len(pending)
    boards = lb.build(table, baseline=args.baseline)
    out = Path(args.reports) / suite.name
    out.mkdir(parents=True, exist_ok=True)
    (out / "leaderboard.md").write_text(lb.to_markdown(suite.name, boards, missing, failed))
    lb.ranking_csv(boards).to_csv(out / "leaderboard.csv", index=False)
    (out / "leaderboard.tex").write_text(lb.to_latex(suite.name, boards))
    lb.plot_curves(boards, out / "learning_curve.png")
    from benchmark.report import profile as cost
    from benchmark.report.compare.render import including
    from benchmark.report.html import write_html

    comparisons = [(name, f"../../compare/{name}/index.html")  # albench compare reports that include this suite
                   for name, _ in including(Path(args.reports) / "compare", suite.name)]
    page = write_html(suite.name, boards, cost.profile_table(table), out / "html",
                      shared_costs=cost.shared_cost_table(table), description=suite.description,
                      missing=missing, failed=failed, comparisons=comparisons)
    lb.print_terminal(suite.name, boards, missing, failed)
    print(f"wrote {out / 'leaderboard.md'}, {out / 'leaderboard.csv'}, {out / 'leaderboard.tex'}, "
          f"{out / 'learning_curve.png'}, {page}, "
          f"{Path(args.results) / (suite.name + '.parquet')}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Statistics across the settings of several suites → reports/compare/<name>/ (benchmark.report.compare)."""
    from benchmark.core.registry import discover
    from benchmark.execute.store import ResultStore
    from benchmark.execute.suite import load_suite
    from benchmark.report.compare import analysis, render
    from benchmark.report.consolidate import consolidate

    discover(args.plugins)
    store = ResultStore(args.results)
    suites = [load_suite(name) for name in dict.fromkeys(args.suites)]
    tables, skipped = {}, []
    for suite in suites:
        done, failed, pending = _partition(suite, store)
        if not done:
            skipped.append(f"suite {suite.name}: none of its {len(suite.cells)} cells is finished; skipped")
            continue
        if failed or pending:
            skipped.append(f"suite {suite.name}: {len(done)} of {len(suite.cells)} cells finished; the {len(pending)} "
                           f"not run and {len(failed)} failed are left out")
        tables[suite.name] = consolidate(done, store)
    if not tables:
        raise AlbenchError(f"no finished cells for suite(s) {', '.join(s.name for s in suites)} in {store.root}: "
                           f"nothing to compare. Run `albench run SUITE` first.")
    name = args.name or "+".join(s.name for s in suites)
    comparison = analysis.analyse(name, tables, baseline=args.baseline, targets=args.target, blocks=args.blocks,
                                  posthoc=args.posthoc, skipped=skipped)
    written = render.write(comparison, Path(args.reports) / "compare" / name, Path(args.reports))
    for line in comparison.skipped:
        print(f"skipped: {line}")
    print((Path(args.reports) / "compare" / name / "compare.md").read_text() if args.verbose else "", end="")
    print("wrote " + ", ".join(map(str, written)))
    return 0


def report_name(text: str) -> str:
    """argparse type: a folder name for reports/compare/<name>/ (letters, digits, . _ + -)."""
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", text):
        raise argparse.ArgumentTypeError(f"must be a folder name of letters, digits, '.', '_', '+' or '-', got {text!r}")
    return text


def accuracy(text: str) -> float:
    """argparse type: an accuracy in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be an accuracy in (0, 1] such as 0.9, got {text!r}")
    return value


def cmd_profile(args: argparse.Namespace) -> int:
    from benchmark.report import profile as cost

    suite, _, table = _consolidated(args)
    profiles = cost.profile_table(table)
    out = Path(args.reports) / suite.name / "profile.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(cost.to_markdown(suite.name, profiles, cost.shared_cost_table(table)))
    print(out.read_text())
    return 0


def cmd_curves(args: argparse.Namespace) -> int:
    import pandas as pd

    from benchmark.report import curves

    suite, store = _load(args)
    _, failed_cells, pending = _partition(suite, store)
    settings = curves.build(suite.cells, store, suite.report, root=args.data_root)
    if not settings:
        raise AlbenchError(f"No finished cells for suite {suite.name!r} in {store.root}. Run `albench run {suite.name}` first.")
    out = Path(args.reports) / suite.name
    out.mkdir(parents=True, exist_ok=True)
    (out / "curves.md").write_text(curves.to_markdown(suite.name, suite.description, settings, suite.report,
                                                      len(pending), len(failed_cells)))
    pd.concat([s.curves.assign(setting=s.title) for s in settings]).to_csv(out / "curves.csv", index=False)
    curves.plot(settings, out / "curves.png")
    written = [out / "curves.md", out / "curves.csv", out / "curves.png"]
    if curves.plot_confusions(settings, out / "confusion.png"):
        written.append(out / "confusion.png")
    print((out / "curves.md").read_text())
    print("wrote " + ", ".join(map(str, written)))
    return 0


def cmd_tables(args: argparse.Namespace) -> int:
    from benchmark.core.errors import DataError
    from benchmark.data.loading import check_data
    from benchmark.report import wacv_tables

    suite, store = _load(args)
    kinds = {str(c.scenario.get("kind", "iterative")) for c in suite.cells}
    if "oneshot" not in kinds:
        raise AlbenchError(f"`albench tables` writes the WACV 2020 tables of one-shot suites (scenario kind: oneshot); "
                           f"suite {suite.name!r} is {'/'.join(sorted(kinds))}. For its results use "
                           f"`albench leaderboard {args.suite}` (ranking, per-budget table, learning curves) or "
                           f"`albench curves {args.suite}` (accuracy per round).")
    done, failed_cells, pending = _partition(suite, store)
    stored = {c.dataset for c in done}  # a dataset with finished cells is in the tables, its files here or not
    missing = []
    for dataset in sorted({c.dataset for c in suite.cells} - stored, key=lambda d: d.name):
        try:
            check_data(dataset, args.data_root)
        except DataError as exc:
            missing.append(f"{dataset.name}: {exc}")
    missing_names = {m.split(":")[0] for m in missing}
    pending = [c for c in pending if c.dataset.name not in missing_names]
    tables = wacv_tables.build(wacv_tables.collect(suite.cells, store))
    if not tables and missing:
        out = Path(args.reports) / suite.name
        out.mkdir(parents=True, exist_ok=True)
        text = "\n".join([f"# {suite.name}: no results yet", "", "No dataset of this suite is present. Put them here:", ""]
                         + [f"- {m}" for m in missing]) + "\n"
        (out / "tables.md").write_text(text)
        print(text)
        return 0
    if not tables:
        raise AlbenchError(f"No finished one-shot cells for suite {suite.name!r} in {store.root}. "
                           f"Run `albench run {suite.name} --skip-missing-data` first.")
    path = wacv_tables.write(tables, Path(args.reports) / suite.name, suite.name, suite.description, missing,
                             len(pending), len(failed_cells))
    print(path.read_text())
    print(f"wrote {path}, {path.with_suffix('.tex')}")
    return 0


def cmd_datasets_stats(args: argparse.Namespace) -> int:
    """WACV 2020 Table 1 for one dataset: classes, images, μ, σ and ir = σ/μ of the (imbalanced) train pool."""
    import numpy as np

    from benchmark.core.registry import discover
    from benchmark.core.seeding import rng_for
    from benchmark.core.spec import Component
    from benchmark.data.loading import load_pool, make_imbalance
    from benchmark.data.pool import imbalance_ratio

    discover(args.plugins)
    params = args.params or {}
    imb_params = args.imbalance_params or {}
    pool = load_pool(Component(args.dataset, params), args.data_root)
    imbalance = make_imbalance(Component(args.imbalance, imb_params))
    induced = imbalance.apply(pool.train_y, pool.num_classes, rng_for("stats", args.dataset, args.imbalance, args.seed))
    counts = np.bincount(pool.train_y[induced.kept], minlength=pool.num_classes)
    rows = [("Dataset", "Class", "Images", "Mean (μ)", "Std (σ)", "ir"),
            (args.dataset, str(int((counts > 0).sum())), str(int(counts.sum())), f"{counts.mean():.1f}",
             f"{counts.std():.1f}", f"{imbalance_ratio(counts):.3f}")]
    from tabulate import tabulate

    print(tabulate(rows[1:], headers=rows[0], tablefmt="github"))
    print(f"(train split after imbalance {args.imbalance} {imb_params or ''}, seed {args.seed}; "
          f"test split: {len(pool.test_y)} images)")
    return 0


def cmd_store_export(args: argparse.Namespace) -> int:
    from benchmark.execute.archive import export_cells

    suite, store = _load(args)
    max_bytes = None if args.max_mib is None else int(args.max_mib * 2**20)
    report = export_cells(store, suite.cells, args.archive, suite=suite.name, checkpoints=not args.no_checkpoints,
                          max_bytes=max_bytes)
    print(report.line())
    return 0


def cmd_store_import(args: argparse.Namespace) -> int:
    from benchmark.execute.archive import import_archive
    from benchmark.execute.store import ResultStore

    store = ResultStore(args.results)
    for archive in args.archives:
        for line in import_archive(store, archive).lines():
            print(f"{archive}: {line}")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from benchmark.tune import run_from_args

    return run_from_args(args)


def cmd_list(args: argparse.Namespace) -> int:
    from benchmark.core.describe import describe
    from benchmark.core.errors import did_you_mean
    from benchmark.core.registry import DATASETS, IMBALANCES, METHODS, MODELS, SCENARIOS, discover

    discover(args.plugins)
    registry = {"methods": METHODS, "datasets": DATASETS, "imbalances": IMBALANCES, "models": MODELS,
                "scenarios": SCENARIOS}[args.what]
    names = registry.names(args.pattern)
    if not names:
        every = registry.names()
        raise AlbenchError(f"no {args.what} match {args.pattern!r}.{did_you_mean(args.pattern, every)} "
                           f"Registered {args.what}: {', '.join(every)} (wildcards: 'ent*').")
    for name in names:
        factory = registry.get(name)
        doc = (factory.__doc__ or "").strip()
        first = doc.split("\n\n")[0].replace("\n", " ") if doc else ""
        if args.verbose:
            print(describe(args.what, name, factory))
        else:
            print(f"{name:<20} {textwrap.shorten(first, 100)}")
    if args.what == "methods":
        print("(every method also exists as '<name>+bal': the WACV 2020 balancing step around it)")
    return 0


def version_text() -> str:
    """``albench <version> (torch <version>, python <version>)``: what a bug report needs first."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    def of(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "not installed"

    return f"albench {of('albench')} (torch {of('torch')}, python {platform.python_version()})"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="albench", description="Active learning benchmark under dataset bias and class imbalance.")
    parser.add_argument("--version", action="version", version=version_text())
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the cells of a suite that are not done yet")
    p.add_argument("suite", help="suite name (suites/<name>.yaml) or path to a YAML file")
    p.add_argument("--executor", choices=["inline", "local", "slurm"], default=None,
                   help="where cells run (default: the suite's `executor:`, else local)")
    p.add_argument("--workers", type=positive_int, default=None, help="local executor: worker processes (>= 1)")
    p.add_argument("--threads", type=positive_int, default=None, help="local executor: torch threads per worker (>= 1)")
    p.add_argument("--mps", choices=["auto", "on", "off"], default=None,
                   help="local executor: the CUDA MPS daemon, so that workers sharing a GPU run their kernels "
                        "concurrently. auto (default): when more workers than GPUs and nvidia-cuda-mps-control is "
                        "on PATH; on: whenever workers use GPUs; off: never. A running daemon is attached to and "
                        "left running; one albench starts is stopped when the run ends; failing to start it is "
                        "a warning, never an error")
    s = p.add_argument_group("slurm executor (override the suite's `executor:` block)")
    s.add_argument("--slurm-partition", default=None, metavar="NAME", help="partition (default: the cluster's)")
    s.add_argument("--slurm-time", type=positive_int, default=None, metavar="MIN",
                   help="time limit per task in minutes (default 60)")
    s.add_argument("--slurm-gpus", type=non_negative_int, default=None, metavar="N", help="GPUs per task (default 0)")
    s.add_argument("--slurm-cpus", type=positive_int, default=None, metavar="N", help="CPUs per task (default 1)")
    s.add_argument("--slurm-mem-gb", type=positive_float, default=None, metavar="GB",
                   help="memory per task in GB (default: the partition's)")
    s.add_argument("--cells-per-task", type=positive_int, default=None, metavar="N",
                   help="cells run one after another by each task of the job array (default 1)")
    s.add_argument("--no-wait", action="store_true", help="return once the job array is submitted")
    p.add_argument("--data-root", default=None, type=input_folder, help="where dataset files live (else $ALBENCH_DATA)")
    p.add_argument("--limit", type=positive_int, default=None, help="run at most this many pending cells (>= 1)")
    p.add_argument("--stop-after", type=duration, default=None, metavar="DURATION",
                   help="time box (500s, 8m, 1h30m): no cell starts after it, running cells pause at their next "
                        "round boundary (their round checkpoint is kept; the next run resumes them), and the run "
                        "exits 0 with a one-line summary. Slurm: the tasks' time limit follows it")
    p.add_argument("--stop-grace", type=duration, default=None, metavar="DURATION",
                   help="with --stop-after: how long after it a cell still inside a round is stopped mid-round "
                        "(it resumes at its last finished round; default 60s)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--skip-missing-data", action="store_true",
                   help="run the cells whose datasets are present; say which are missing and where they go")
    _common(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("tables", help="WACV 2020 Tables 2-5 (accuracy, G_AL, classes, ir) of a one-shot suite "
                                      "→ reports/<suite>/tables.md and tables.tex")
    p.add_argument("suite")
    p.add_argument("--reports", default="reports", type=output_folder)
    p.add_argument("--data-root", default=None, type=input_folder, help="to report which datasets are missing")
    _common(p)
    p.set_defaults(func=cmd_tables)

    p = sub.add_parser("status", help="done / failed / pending cells of a suite")
    p.add_argument("suite")
    _common(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("leaderboard", help="consolidate, rank and write reports/<suite>/")
    p.add_argument("suite")
    p.add_argument("--reports", default="reports", type=output_folder)
    p.add_argument("--baseline", default="random")
    _common(p)
    p.set_defaults(func=cmd_leaderboard)

    p = sub.add_parser("compare", help="statistics across the settings of one or more suites: pairwise penalty "
                                       "matrix, average ranks + critical-difference diagram, label efficiency, "
                                       "seeds advice → reports/compare/<name>/")
    p.add_argument("suites", nargs="+", metavar="SUITE")
    p.add_argument("--reports", default="reports", type=output_folder)
    p.add_argument("--name", default=None, type=report_name,
                   help="folder under reports/compare/ (default: the suite names joined by '+')")
    p.add_argument("--baseline", default="random", help="the method labels saved are counted against (default random)")
    p.add_argument("--target", action="append", default=[], type=accuracy, metavar="ACC",
                   help="also report the labels needed to reach this balanced accuracy, e.g. 0.9 (repeatable)")
    p.add_argument("--blocks", choices=BLOCKS, default="auto",
                   help="what the ranks are over: settings, (setting, seed) pairs, or auto (settings when there "
                        "are at least 5, else (setting, seed) pairs)")
    p.add_argument("--posthoc", choices=POSTHOC, default="nemenyi",
                   help="post-hoc test after Friedman's: Nemenyi (critical difference) or Wilcoxon signed-rank "
                        "with Holm's correction")
    p.add_argument("-v", "--verbose", action="store_true", help="print compare.md")
    _common(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("profile", help="per-phase seconds and passes per round → reports/<suite>/profile.md")
    p.add_argument("suite")
    p.add_argument("--reports", default="reports", type=output_folder)
    _common(p)
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser("curves", help="accuracy per round, minority accuracy, confusion matrices, passes "
                                      "→ reports/<suite>/curves.md (CVPR 2020 Fig. 4/6 layout)")
    p.add_argument("suite")
    p.add_argument("--reports", default="reports", type=output_folder)
    p.add_argument("--data-root", default=None, type=input_folder, help="where dataset files live (to read the test labels)")
    _common(p)
    p.set_defaults(func=cmd_curves)

    p = sub.add_parser("datasets", help="dataset utilities: `albench datasets stats <name>` (WACV Table 1)")
    dsub = p.add_subparsers(dest="datasets_command", required=True)
    q = dsub.add_parser("stats", help="classes, images, μ, σ, ir of a dataset's train pool under an imbalance")
    q.add_argument("dataset")
    q.add_argument("--params", default=None, type=json_object, help="dataset parameters as JSON, e.g. '{\"image_size\": 32}'")
    q.add_argument("--imbalance", default="none")
    q.add_argument("--imbalance-params", default=None, type=json_object, help="as JSON, e.g. '{\"ir\": 0.75}'")
    q.add_argument("--seed", type=non_negative_int, default=0)
    q.add_argument("--data-root", default=None, type=input_folder)
    _common(q)
    q.set_defaults(func=cmd_datasets_stats)

    p = sub.add_parser("store", help="move results between machines: `albench store export SUITE OUT.tar.gz`, "
                                     "`albench store import ARCHIVE`")
    ssub = p.add_subparsers(dest="store_command", required=True)
    q = ssub.add_parser("export", help="write a suite's finished cells (verified) and round checkpoints to one archive "
                                       "(.tar.gz, .tgz, .tar.xz; .tar.zst with the zstandard module)")
    q.add_argument("suite")
    q.add_argument("archive", help="the archive to write, e.g. fk-mnist.tar.gz")
    q.add_argument("--no-checkpoints", action="store_true", help="finished cells only")
    q.add_argument("--max-mib", type=positive_float, default=None, metavar="MIB",
                   help="split into volumes of at most this size (ARCHIVE, then NAME.part2.tar.gz, ...), each "
                        "importable on its own; e.g. 15 where files over 16 MiB cannot travel")
    _common(q)
    q.set_defaults(func=cmd_store_export)
    q = ssub.add_parser("import", help="merge archives into the store: every file verified first (a damaged archive "
                                       "changes nothing), never overwriting a different cell with the same id")
    q.add_argument("archives", nargs="+", metavar="ARCHIVE")
    _common(q)
    q.set_defaults(func=cmd_store_import)

    from benchmark.tune import add_arguments as tune_arguments

    p = sub.add_parser("tune", help="optuna study per (method, setting) on the validation split "
                                    "→ results/tune/<suite>.db and a suite fragment")
    tune_arguments(p)
    _common(p)
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("list", help="list registered components")
    p.add_argument("what", choices=["methods", "datasets", "imbalances", "models", "scenarios"])
    p.add_argument("pattern", nargs="?", default="*", help="wildcard filter, e.g. 'ent*'")
    p.add_argument("-v", "--verbose", action="store_true")
    _common(p)
    p.set_defaults(func=cmd_list)
    return parser


def command_name(args: argparse.Namespace) -> str:
    """``run``, ``status``, ``datasets stats``: how the error line names the subcommand."""
    return " ".join(n for n in (getattr(args, "command", None), getattr(args, "datasets_command", None),
                                getattr(args, "store_command", None)) if n)


SLURM_OPTIONS = ("slurm_partition", "slurm_time", "slurm_gpus", "slurm_cpus", "slurm_mem_gb", "cells_per_task")


def executor_problem(args: argparse.Namespace, executor: str, where: str) -> str | None:
    """Options given for another executor than ``executor`` (``where``: how it was chosen)."""
    if executor != "local":
        given = [f"--{n}" for n in ("workers", "threads", "mps") if getattr(args, n, None) is not None]
        if given:
            verb = "apply" if len(given) > 1 else "applies"
            names = " and ".join([", ".join(given[:-1]), given[-1]] if len(given) > 1 else given)
            return f"{names} {verb} to the local executor only ({where})."
    if executor != "slurm":
        given = [f"--{n.replace('_', '-')}" for n in SLURM_OPTIONS if getattr(args, n, None) is not None]
        given += ["--no-wait"] if getattr(args, "no_wait", False) else []
        if given:
            verb = "apply" if len(given) > 1 else "applies"
            return f"{', '.join(given)} {verb} to the slurm executor only ({where})."
    return None


def check_options(args: argparse.Namespace) -> str | None:
    """What is wrong with an option combination argparse cannot check by itself (None: nothing).
    Without --executor the suite decides, and ``cmd_run`` checks again once it is known."""
    if getattr(args, "command", None) == "run" and args.stop_grace is not None and args.stop_after is None:
        return "--stop-grace applies to a time-boxed run only; give --stop-after DURATION too (e.g. --stop-after 8m)."
    if getattr(args, "command", None) == "run" and args.executor is not None:
        return executor_problem(args, args.executor, f"got --executor {args.executor}")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors (one line, exit 2) and --help (exit 0)
        return exc.code if isinstance(exc.code, int) else 2
    problem = check_options(args)
    if problem:
        print(f"albench {command_name(args)}: error: {problem}", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except AlbenchError as exc:
        print(f"albench {command_name(args)}: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("albench: interrupted. Finished cells are stored; run the same command again to resume.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`albench status | head`): stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the interpreter's final flush does not raise again
        return 141  # 128 + SIGPIPE, the shell's status for a tool killed by a closed pipe


if __name__ == "__main__":
    sys.exit(main())
