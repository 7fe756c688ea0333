"""A plain (non-editable) install carries every built-in method, dataset and suite."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from benchmark.core.registry import DATASETS, METHODS, discover

REPO = Path(__file__).resolve().parent.parent

PROBE = textwrap.dedent("""
    import json
    import benchmark
    from benchmark.core.registry import DATASETS, METHODS, SCENARIOS
    from benchmark.execute.suite import SUITES_DIR, load_suite
    from benchmark.tune import parse_search_space, tune
    print(json.dumps({"file": benchmark.__file__, "methods": METHODS.names(), "datasets": DATASETS.names(),
                      "scenarios": SCENARIOS.names(), "quick_cells": len(load_suite("quick").cells),
                      "suites": sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))}))
""")


@pytest.mark.slow
def test_a_plain_install_has_every_builtin(tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(REPO)], check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    got = json.loads(out.stdout.strip().splitlines()[-1])
    discover()
    assert got["file"].startswith(str(target))
    assert got["methods"] == METHODS.names()
    assert got["datasets"] == DATASETS.names()
    assert got["scenarios"] == ["coldstart", "iterative", "oneshot"]
    assert got["suites"] == sorted(p.stem for p in (REPO / "suites").glob("*.yaml"))
    assert got["quick_cells"] == 15
    assert not (target / "tools").exists()  # the project's own tools are not shipped
