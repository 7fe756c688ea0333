"""The artifact cache: decoded datasets, rotation-pretrained backbones, source-model outputs.

One helper for every cached artifact: the first process to need it computes it under a file lock
(parallel workers wait and then read it), writes it to a temporary file and renames it into place,
so a reader never sees a half-written file and a killed writer leaves nothing that counts.
Location: ``ALBENCH_CACHE`` or ``~/.cache/albench``; never inside a data root.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

from benchmark.core.seeding import canonical_json

T = TypeVar("T")


def cache_dir() -> Path:
    """Where unpacked data and model caches go: ``ALBENCH_CACHE`` or ``~/.cache/albench``."""
    path = Path(os.environ.get("ALBENCH_CACHE", Path.home() / ".cache" / "albench")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def key_digest(key: Any, length: int = 20) -> str:
    """A short, stable name for a JSON-able key."""
    return hashlib.sha256(canonical_json(key).encode()).hexdigest()[:length]


def cached_artifact(path: Path, compute: Callable[[], T], save: Callable[[T, IO[bytes]], None],
                    load: Callable[[Path], T], meta: Any = None) -> tuple[T, bool]:
    """``load(path)`` if the artifact exists, else compute, save atomically and return it.

    Returns (value, computed_now). ``save`` writes to an open binary file. ``meta``, if given, is
    written beside the artifact as ``<name>.json`` (what the key was), for people reading the cache.
    """
    if path.is_file():
        return load(path), False
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f"{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if path.is_file():  # another worker finished it while we waited
                return load(path), False
            value = compute()
            tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
            try:
                with open(tmp, "wb") as fh:
                    save(value, fh)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
            if meta is not None:
                (path.parent / f"{path.name}.json").write_text(canonical_json(meta))
            return value, True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
