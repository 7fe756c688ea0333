"""Digests of files, read in blocks (the store's and archives' sha256 manifests, torchvision's MD5 sums)."""
from __future__ import annotations

import hashlib
from pathlib import Path

BLOCK = 1 << 20


def file_digest(path: Path | str, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes, read in 1 MiB blocks (``hashlib.file_digest`` once Python ≥ 3.11 is required)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while block := fh.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()
