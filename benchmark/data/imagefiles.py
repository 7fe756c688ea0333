"""Decoding image files (JPEG/PNG, via Pillow) into the uint8 arrays an ImagePool holds, cached.

Each image is converted to RGB and resized to ``size`` × ``size`` (bilinear). The decoded array of a
file list is written once to ``$ALBENCH_CACHE/images/<digest>.npy`` (keyed by the relative paths,
their byte sizes and the size) and memory-mapped afterwards, so a large ImageFolder dataset is read
from disk, not held twice in memory.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmark.core.cache import cache_dir, cached_artifact
from benchmark.core.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")


def decode(paths: Sequence[Path], size: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    out = np.zeros((len(paths), 3, size, size), dtype=np.uint8)
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as img:
                arr = np.asarray(img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR))
        except (FileNotFoundError, UnidentifiedImageError, OSError) as exc:
            raise DataError(f"Cannot read image {path}: {type(exc).__name__}: {exc}. Replace or remove it.") from None
        out[i] = arr.transpose(2, 0, 1)
    return out


def cached_decode(root: Path, paths: Sequence[Path], size: int) -> np.ndarray:
    digest = hashlib.sha256()
    digest.update(str(size).encode())
    for p in paths:
        try:
            digest.update(f"{p.relative_to(root)}:{p.stat().st_size};".encode())
        except FileNotFoundError:
            raise DataError(f"Image {p} is listed but missing.") from None
    file = cache_dir() / "images" / f"{digest.hexdigest()[:24]}.npy"
    arr, _ = cached_artifact(file, lambda: decode(paths, size), save=lambda a, fh: np.save(fh, a),
                             load=lambda p: np.load(p, mmap_mode="r"))
    return arr if isinstance(arr, np.memmap) else np.load(file, mmap_mode="r")


def class_folders(folder: Path) -> list[str]:
    if not folder.is_dir():
        raise DataError(f"Missing folder {folder}.")
    names = sorted(d.name for d in folder.iterdir() if d.is_dir())
    if not names:
        raise DataError(f"{folder} has no class sub-folders (expected {folder}/<class>/<image files>).")
    return names


def folder_samples(folder: Path, classes: Sequence[str]) -> tuple[list[Path], np.ndarray]:
    paths: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        sub = folder / name
        if not sub.is_dir():
            raise DataError(f"Missing class folder {sub}.")
        files = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        paths += files
        labels += [label] * len(files)
    return paths, np.asarray(labels, dtype=np.int64)
