"""Every seed is derived by hashing named parts, so that it never depends on grid order."""
from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the same object always gives the same text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_default)


def _default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (tuple, set, frozenset)):
        return list(obj)
    raise TypeError(f"not JSON-serialisable: {obj!r}")


def derive_seed(*parts: Any) -> int:
    """A 63-bit seed from the SHA-256 of the parts' canonical JSON."""
    digest = hashlib.sha256(canonical_json(list(parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def rng_for(*parts: Any) -> np.random.Generator:
    return np.random.default_rng(derive_seed(*parts))


def torch_seed(*parts: Any) -> int:
    """``derive_seed`` folded into [0, 2**31): the range torch, scikit-learn and the legacy numpy
    seeding APIs all accept."""
    return derive_seed(*parts) % 2**31
