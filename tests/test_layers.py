"""docs/architecture.md's layers are what benchmark/ holds, and no module imports from a layer above its own."""
from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ENGINE = REPO / "benchmark"


def documented_layers() -> list[list[str]]:
    """The engine's layers as the architecture page draws them, top first: each line's names up to ``core/``."""
    text = (REPO / "docs" / "architecture.md").read_text()
    block = text.split("## Layers", 1)[1].split("```", 2)[1]
    layers: list[list[str]] = []
    for line in block.splitlines():
        if not line.strip() or line.startswith(" "):  # blank or a continuation line
            continue
        head = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
        layers.append([re.sub(r"(\.py|/)$", "", name.strip()) for name in head.split(",")])
        if layers[-1] == ["core"]:
            return layers
    raise AssertionError("docs/architecture.md's layer block has no core/ line")


def rank() -> dict[str, int]:
    layers = documented_layers()
    return {name: len(layers) - i for i, names in enumerate(layers) for name in names}


def test_benchmark_holds_only_the_documented_layers():
    entries = {p.stem if p.suffix == ".py" else p.name for p in ENGINE.iterdir()
               if p.name not in ("__init__.py", "__pycache__", "_builtin") and (p.suffix == ".py" or p.is_dir())}
    assert entries == set(rank()), (f"benchmark/ holds {sorted(entries - set(rank()))} that docs/architecture.md's "
                                    f"layers do not name, or lacks {sorted(set(rank()) - entries)}")


def _imported_layers(path: Path) -> list[tuple[int, str]]:
    """(line, layer) of every ``benchmark.<layer>`` import in ``path``, function-local ones included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"benchmark.{a.name}" for a in node.names if node.module == "benchmark"]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out += [(node.lineno, n.split(".")[1]) for n in names if n.startswith("benchmark.")]
    return out


def test_no_module_imports_from_a_layer_above_its_own():
    ranks = rank()
    upward = []
    for path in sorted(ENGINE.rglob("*.py")):
        parts = path.relative_to(ENGINE).with_suffix("").parts
        if parts == ("__init__",):  # the package's lazy public surface names every layer
            continue
        own = parts[0]
        upward += [f"{path.relative_to(REPO)}:{line} imports benchmark.{layer}" for line, layer in _imported_layers(path)
                   if layer in ranks and ranks[layer] > ranks[own]]
    assert not upward, "\n".join(upward)


def test_the_layer_check_sees_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from benchmark.report.leaderboard import build\n")
    assert _imported_layers(bad) == [(2, "report")]
    assert rank()["report"] > rank()["execute"] > rank()["core"] and rank()["tune"] > rank()["report"]
