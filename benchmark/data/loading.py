"""Loading dataset plugins by spec, cached per process (a sweep reuses the loaded pool)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from benchmark.core.errors import DataError
from benchmark.core.registry import DATASETS, IMBALANCES
from benchmark.core.seeding import canonical_json
from benchmark.core.spec import Component
from benchmark.data.pool import Dataset, ImagePool, Imbalance, data_root


def _dataset(name: str, params_json: str, root: str | None) -> tuple[Dataset, Path | None]:
    import json

    dataset = DATASETS.create(name, **json.loads(params_json))
    root_path = Path(root) if root else None
    if getattr(dataset, "needs_root", False) and root_path is None:
        raise DataError(
            f"Dataset {name!r} reads files from a data root, and none was given. Pass --data-root DIR "
            f"or set ALBENCH_DATA=DIR. {getattr(dataset, 'layout_hint', lambda r: '')(Path('DIR'))}"
        )
    return dataset, root_path


@lru_cache(maxsize=4)
def _load(name: str, params_json: str, root: str | None) -> ImagePool:
    dataset, root_path = _dataset(name, params_json, root)
    return dataset.load(root_path)


def check_data(component: Component, root: str | Path | None = None) -> None:
    """Preflight: raise a DataError now if a dataset's files are missing or corrupt."""
    resolved = data_root(root)
    dataset, root_path = _dataset(component.name, canonical_json(component.to_dict()["params"]),
                                  str(resolved) if resolved else None)
    if hasattr(dataset, "check"):
        dataset.check(root_path)


def load_pool(component: Component, root: str | Path | None = None) -> ImagePool:
    resolved = data_root(root)
    return _load(component.name, canonical_json(component.to_dict()["params"]), str(resolved) if resolved else None)


def make_imbalance(component: Component) -> Imbalance:
    return IMBALANCES.create(component.name, **component.to_dict()["params"])
