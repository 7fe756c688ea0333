from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from benchmark.testing import TINY_DATASET, TINY_LEARNER, TINY_SCENARIO  # the one tiny cell of every test

REPO = Path(__file__).resolve().parent.parent


def forget_plugin(name: str, file: Path) -> None:
    """Forget a plugin method this process loaded (other test files list every registered method)."""
    from benchmark.core import registry

    registry.METHODS._entries.pop(name, None)
    registry.METHODS._sources.pop(name, None)
    registry._loaded.discard(file.resolve())
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Keep dataset caches of the test session out of the user's cache."""
    os.environ["ALBENCH_CACHE"] = str(tmp_path_factory.mktemp("albench-cache"))
    os.environ.pop("ALBENCH_DATA", None)
    yield



def tiny_suite(methods=("random", "entropy"), seeds=1, imbalance=None, **over) -> dict:
    d = {
        "name": "tiny",
        "dataset": TINY_DATASET,
        "imbalance": imbalance or {"name": "step", "ratio": 3},
        "method": list(methods),
        "learner": TINY_LEARNER,
        "scenario": TINY_SCENARIO,
        "seeds": seeds,
    }
    d.update(over)
    return d


@pytest.fixture
def tiny_suite_file(tmp_path):
    import yaml

    def write(**kw) -> Path:
        path = tmp_path / f"{kw.pop('file', 'tiny')}.yaml"
        path.write_text(yaml.safe_dump(tiny_suite(**kw)))
        return path

    return write


def tree_digest(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes: to show stored results stayed intact."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def write_idx(path: Path, arr: np.ndarray, gz: bool = True) -> None:
    """Write an array in the idx format (ubyte), optionally gzip'd, like the MNIST files."""
    import gzip

    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    raw = header + arr.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(raw) if gz else raw)


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tiny models: one thread is fastest, and it keeps parallel test runs from oversubscribing."""
    import torch

    torch.set_num_threads(1)
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under ALBENCH_REQUIRE_BROWSER=1 (``make test-browser``) a browser test that would be skipped (no
    playwright, no Chromium) fails instead: that lane exists to check the pages in a real browser."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("ALBENCH_REQUIRE_BROWSER") == "1" and item.get_closest_marker("browser"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"browser test not run under ALBENCH_REQUIRE_BROWSER=1 (make test-browser): {reason}"
