"""MNIST and Fashion-MNIST from torchvision's raw idx layout under a data root.

Expected files (torchvision's layout; ``.gz`` or already unpacked)::

    <root>/MNIST/raw/train-images-idx3-ubyte.gz   <root>/FashionMNIST/raw/...  (same four names)
    <root>/MNIST/raw/train-labels-idx1-ubyte.gz
    <root>/MNIST/raw/t10k-images-idx3-ubyte.gz
    <root>/MNIST/raw/t10k-labels-idx1-ubyte.gz

``.gz`` files are MD5-checked against torchvision's reference sums and decoded into the albench
cache (``ALBENCH_CACHE``), never into the data root.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from benchmark.core.cache import cache_dir, cached_artifact
from benchmark.core.errors import DataError
from benchmark.core.registry import register_dataset
from benchmark.data.pool import ImagePool, md5sum

FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
FASHION_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
_IDX_DTYPES = {0x08: np.uint8}


def parse_idx(raw: bytes, source: Path) -> np.ndarray:
    """Decode an idx file (magic 0x0000 | dtype | ndim, big-endian dims, then data)."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(f"{source} is not an idx file of unsigned bytes (bad magic number {raw[:4].hex()}).")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise DataError(f"{source} is truncated or padded: {len(raw)} bytes, its header announces {expected}.")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


class _IdxDataset:
    version = "1"
    needs_root = True
    folder = "MNIST"
    md5: dict[str, str] = MNIST_MD5
    class_names: tuple[str, ...] = tuple(str(i) for i in range(10))
    mean_std = (0.1307, 0.3081)  # training-set pixel statistics

    def __init__(self, verify_md5: bool = True):
        self.verify_md5 = verify_md5

    def layout_hint(self, root: Path) -> str:
        files = [f"{root / self.folder / 'raw' / (name + '.gz')} (md5 {self.md5[name + '.gz']})" for name in FILES.values()]
        return f"{self.registered_name} expects torchvision's layout: " + "; ".join(files) + "."  # type: ignore[attr-defined]

    def _find(self, root: Path, stem: str) -> Path:
        for folder in (root / self.folder / "raw", root / "raw", root):
            for candidate in (folder / (stem + ".gz"), folder / stem):
                if candidate.is_file():
                    return candidate
        raise DataError(f"Missing {stem}.gz under data root {root}. " + self.layout_hint(root))

    def _read(self, path: Path) -> np.ndarray:
        if path.suffix == ".gz":
            if self.verify_md5:
                expected = self.md5[path.name]
                got = md5sum(path)
                if got != expected:
                    raise DataError(f"{path} is corrupt: md5 {got}, expected {expected} (torchvision's reference). "
                                    f"Replace it with the original file.")
                arr, _ = cached_artifact(cache_dir() / "idx" / f"{expected}.npy", lambda: self._decompress(path),
                                         save=lambda a, fh: np.save(fh, a), load=np.load)
                return arr
            return self._decompress(path)
        return parse_idx(path.read_bytes(), path)

    @staticmethod
    def _decompress(path: Path) -> np.ndarray:
        try:
            raw = gzip.decompress(path.read_bytes())
        except (OSError, EOFError) as exc:
            raise DataError(f"{path} is not a readable gzip file ({exc}). Replace it with the original file.") from None
        return parse_idx(raw, path)

    def check(self, root: Path | None) -> None:
        """Fail fast (before a sweep starts) on a missing root, a missing file or a bad checksum."""
        if root is None or not Path(root).is_dir():
            raise DataError(f"Data root {root} does not exist. " + self.layout_hint(Path(root or "DIR")))
        for stem in FILES.values():
            path = self._find(Path(root), stem)
            if path.suffix == ".gz" and self.verify_md5 and md5sum(path) != self.md5[path.name]:
                raise DataError(f"{path} is corrupt: md5 {md5sum(path)}, expected {self.md5[path.name]} "
                                f"(torchvision's reference). Replace it with the original file.")

    def load(self, root: Path | None) -> ImagePool:
        if root is None or not Path(root).is_dir():
            raise DataError(f"Data root {root} does not exist. " + self.layout_hint(Path(root or "DIR")))
        arrays = {key: self._read(self._find(Path(root), stem)) for key, stem in FILES.items()}
        for split in ("train", "test"):
            x, y = arrays[f"{split}_x"], arrays[f"{split}_y"]
            if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
                raise DataError(f"{self.folder} {split}: images {x.shape} and labels {y.shape} do not match "
                                f"(expected (N, 28, 28) and (N,)).")
        x_tr = arrays["train_x"][:, None]
        mean, std = self.mean_std
        return ImagePool(self.registered_name, x_tr, arrays["train_y"].astype(np.int64),  # type: ignore[attr-defined]
                         arrays["test_x"][:, None], arrays["test_y"].astype(np.int64),
                         self.class_names, (mean,), (std,))


@register_dataset("mnist")
class MNIST(_IdxDataset):
    """LeCun's handwritten digits: 60,000 train / 10,000 test, 28x28 grayscale."""

    folder = "MNIST"
    md5 = MNIST_MD5


@register_dataset("fashion-mnist")
class FashionMNIST(_IdxDataset):
    """Zalando's Fashion-MNIST: 60,000 train / 10,000 test, 28x28 grayscale, 10 clothing classes."""

    folder = "FashionMNIST"
    md5 = FASHION_MD5
    mean_std = (0.2860, 0.3530)
    class_names = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                   "Bag", "Ankle boot")
