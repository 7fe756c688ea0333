"""The tuned parameters as suite YAML: the fragment ``albench tune`` writes, and the suite merged with it."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmark.core.errors import AlbenchError
from benchmark.tune.outcome import TuneReport
from benchmark.tune.plan import OBJECTIVE


def fragment_of(report: TuneReport) -> dict[str, Any]:
    """The tuned entries as suite keys: ``method: [entry]`` for a suite of one setting, otherwise one
    ``grids:`` entry per setting (the setting pinned, its seeds, ``method: [entry]``)."""
    if len(report.studies) == 1:
        return {"method": [report.studies[0].entry()]}
    return {"grids": [{**o.plan.setting.axes(), "method": [o.entry()]} for o in report.studies]}


def _header(report: TuneReport) -> str:
    lines = [f"albench tune {report.suite_name} --method {report.method}: objective {OBJECTIVE}",
             f"(the test split is never scored); optuna studies in {report.db}."]
    for o in report.studies:
        lines.append(f"{o.plan.setting.title()}: study {o.study_name}, {o.trials} trials ({o.complete} complete, "
                     f"{o.pruned} pruned), seeds {list(o.plan.seeds)}, best validation AUBC {o.best_value:.4f}")
    if len(report.studies) == 1:
        lines.append("Append the method entry to the suite's method: list, in place of an entry with the same "
                     "parameters (or use --merge to write the merged suite).")
    else:
        lines.append("Put these grids first in the suite's grids: (a suite without grids: follow them with `{}`, "
                     "the suite's own grid), or use --merge.")
    return "".join(f"# {line}\n" for line in lines)


def _dump(data: Mapping[str, Any], header: str) -> str:
    import yaml

    return header + yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True, default_flow_style=None, width=120)


def write_fragment(report: TuneReport, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(_dump(fragment_of(report), _header(report)))
    tmp.replace(path)
    return path


def _is_tuned_entry(value: Any, method: str) -> bool:
    from benchmark.report.leaderboard import tuned_trials

    return isinstance(value, Mapping) and value.get("name") == method and bool(tuned_trials(str(value.get("label", ""))))


def _same_cell_entry(value: Any, entry: Mapping[str, Any]) -> bool:
    """Whether a suite method entry is ``entry`` up to its label (label is not part of a cell's identity)."""
    from benchmark.core.spec import Component

    try:
        return Component.parse(value, "method") == Component.parse(dict(entry), "method")
    except AlbenchError:
        return False


def merge_fragment(raw: Mapping[str, Any], report: TuneReport) -> dict[str, Any]:
    """The suite mapping ``raw`` with the tuned entries of ``report``; earlier tuned entries of the same
    method are replaced. One setting and no grids: the entry joins the top-level method list (an
    untuned entry with the very parameters found best is relabelled, not duplicated); otherwise every
    setting gets a grid of its own, listed before the suite's grids (``{}``: the suite's own grid) so
    that a tuned cell equal to an untuned one keeps the tuned label."""
    out = dict(raw)
    method = report.method
    grids = [g for g in out.get("grids", []) or []
             if not (isinstance(g.get("method"), list) and g["method"] and all(_is_tuned_entry(m, method) for m in g["method"]))]
    methods = out.get("method", [])
    methods = [m for m in (methods if isinstance(methods, list) else [methods]) if not _is_tuned_entry(m, method)]
    out["method"] = methods
    if "grids" not in out and len(report.studies) == 1:
        entry = report.studies[0].entry()
        out["method"] = [m for m in methods if not _same_cell_entry(m, entry)] + [entry]
        return out
    out["grids"] = [{**o.plan.setting.axes(), "method": [o.entry()]} for o in report.studies] + (grids or [{}])
    return out


def write_merged(report: TuneReport, path: Path) -> Path:
    """Write the suite merged with the fragment to ``path`` (into ``path`` itself when it exists, so
    tuning several methods accumulates there); the result loads with ``albench run``."""
    import yaml

    from benchmark.execute.suite import expand

    base = path if path.is_file() else report.suite_path
    raw = yaml.safe_load(base.read_text())
    merged = merge_fragment(raw, report)
    if not path.is_file():
        merged["name"] = f"{raw.get('name', report.suite_path.stem)}-tuned"
    expand(merged, path)  # refuse to write a suite albench run would reject
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_dump(merged, f"# {report.suite_name} with tuned entries from albench tune (see "
                                  f"{report.fragment_path}).\n"))
    return path
