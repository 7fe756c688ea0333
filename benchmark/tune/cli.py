"""``albench tune``'s command line (also ``python -m benchmark.tune``)."""
from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Sequence
from typing import Any

from benchmark.core.errors import AlbenchError
from benchmark.tune.plan import StudyPlan
from benchmark.tune.run import tune
from benchmark.tune.study import _require_optuna


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``albench tune``'s arguments (without --results / --plugins, which cli.py's _common adds)."""
    p.add_argument("suite", help="suite name (suites/<name>.yaml) or path to a YAML file")
    p.add_argument("--method", required=True, help="registered method with a search_space (e.g. mc_entropy)")
    p.add_argument("--trials", type=int, required=True, help="trials this call adds to each study (a rerun resumes)")
    p.add_argument("--max-trials", type=int, default=None,
                   help="stop when a study holds this many trials in all (for several workers sharing it)")
    p.add_argument("--seeds", type=int, default=1, help="tune on the first k seeds of each setting (mean AUBC)")
    p.add_argument("--params", default=None,
                   help="fixed parameters as JSON (default: the suite's entry for the method); not searched")
    p.add_argument("--sampler-seed", type=int, default=0, help="TPE sampler seed (default 0)")
    p.add_argument("--no-prune", action="store_true", help="run every trial to the end (no MedianPruner)")
    p.add_argument("--prune-startup", type=int, default=5, help="complete trials before pruning starts (default 5)")
    p.add_argument("--no-defaults-first", action="store_true",
                   help="do not make the method's defaults the first trial of a new study")
    p.add_argument("--fragment", default=None, help="where to write the suite fragment "
                                                    "(default <results>/tune/<suite>.<method>.yaml)")
    p.add_argument("--merge", default=None, metavar="PATH",
                   help="also write the suite merged with the tuned entries to PATH (merged into PATH if it exists)")
    p.add_argument("--data-root", default=None, help="where dataset files live (else $ALBENCH_DATA)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")


def progress_line(p: StudyPlan, frozen: Any, elapsed: float) -> str:
    """One finished trial: its parameters, state and value, the seconds it took and the seconds since the
    command started (both named: the second is cumulative)."""
    shown = ", ".join(f"{k}={v}" for k, v in frozen.params.items())
    value = f"validation AUBC {frozen.value:.4f}" if frozen.value is not None else \
        f"stopped after {len(frozen.intermediate_values)} round(s)"
    took = f"{frozen.duration.total_seconds():.0f}s this trial, " if frozen.duration is not None else ""
    return (f"trial {frozen.number} [{p.method} · {p.setting.title()}]: {shown} → {frozen.state.name.lower()}, "
            f"{value} ({took}{elapsed:.0f}s since start)")


def run_from_args(args: argparse.Namespace) -> int:
    """``albench tune``: run the studies, print the best parameters and where the fragment is."""
    import json

    from benchmark.core.registry import discover

    _require_optuna().logging.set_verbosity(30)  # WARNING: one line per trial below instead of optuna's
    discover(getattr(args, "plugins", []) or [])
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        params = json.loads(args.params) if args.params is not None else None
    except json.JSONDecodeError as exc:
        raise AlbenchError(f"--params must be a JSON object, e.g. '{{\"layers\": [\"conv2\"]}}': {exc}") from None
    if params is not None and not isinstance(params, dict):
        raise AlbenchError(f"--params must be a JSON object, got {args.params!r}.")
    started = time.perf_counter()

    def on_trial(p: StudyPlan, frozen: Any) -> None:
        print(progress_line(p, frozen, time.perf_counter() - started), flush=True)

    report = tune(args.suite, args.method, args.trials, results=args.results, params=params, seeds=args.seeds,
                  data_root=args.data_root, sampler_seed=args.sampler_seed, prune=not args.no_prune,
                  prune_startup=args.prune_startup, max_trials=args.max_trials,
                  enqueue_defaults=not args.no_defaults_first, fragment=args.fragment, merge=args.merge,
                  on_trial=on_trial)
    for o in report.studies:
        best = ", ".join(f"{k}={v}" for k, v in o.best_params.items())
        print(f"{o.plan.setting.title()}: best {best} (validation AUBC {o.best_value:.4f}) after {o.trials} trials "
              f"({o.complete} complete, {o.pruned} pruned) — study {o.study_name} in {report.db}")
    print(f"wrote {report.fragment_path}" + (f" and {args.merge}" if args.merge else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    doc = importlib.import_module("benchmark.tune").__doc__  # the package's first paragraph
    p = argparse.ArgumentParser(prog="python -m benchmark.tune", description=doc.split("\n\n")[0] if doc else None)
    add_arguments(p)
    p.add_argument("--results", default="results", help="result store folder (default: results/); studies go to <results>/tune/")
    p.add_argument("--plugins", action="append", default=[], metavar="DIR", help="extra plugin folder (repeatable)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run_from_args(args)
    except AlbenchError as exc:
        print(f"albench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("albench: interrupted. Finished trials are in the study; run the same command again to resume.",
              file=sys.stderr)
        return 130
