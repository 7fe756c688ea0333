"""CIFAR-10 and CIFAR-100 (python pickles) and SVHN (.mat files), in the layouts torchvision reads.

CIFAR-10 (the contents of cifar-10-python.tar.gz)::

    <root>/cifar-10-batches-py/data_batch_1 ... data_batch_5   (pickles: b"data" (10000, 3072) uint8, b"labels")
    <root>/cifar-10-batches-py/test_batch                      (10000 images)
    <root>/cifar-10-batches-py/batches.meta                    (b"label_names")

CIFAR-100 (the contents of cifar-100-python.tar.gz)::

    <root>/cifar-100-python/train   (pickle: b"data" (50000, 3072) uint8, b"fine_labels")
    <root>/cifar-100-python/test    (10000 images)
    <root>/cifar-100-python/meta    (b"fine_label_names")

SVHN (digit 0 is stored as label 10 and read as 0)::

    <root>/SVHN/train_32x32.mat   (X: (32, 32, 3, N) uint8, y: (N, 1))
    <root>/SVHN/test_32x32.mat
    <root>/SVHN/extra_32x32.mat   (only for train_splits including "extra", the CVPR 2020 setup)

Files are MD5-checked against torchvision's reference sums unless ``verify_md5`` is false.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.errors import DataError
from benchmark.core.registry import register_dataset
from benchmark.data.pool import ImagePool, verify_md5

CIFAR10_MD5 = {"data_batch_1": "c99cafc152244af753f735de768cd75f", "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
               "data_batch_3": "54ebc095f3ab1f0389bbae665268c751", "data_batch_4": "634d18415352ddfa80567beed471001a",
               "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb", "test_batch": "40351d587109b95175f43aff81a1287e",
               "batches.meta": "5ff9c542aee3614f3951f8cda6e48888"}
CIFAR100_MD5 = {"train": "16019d7e3df5f24257cddd939b257f8d", "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
                "meta": "7973b15100ade9c7d40fb424638fde48"}
SVHN_MD5 = {"train": "e26dedcc434d2e4c54c9b2d4a06d8373", "test": "eb5a983be6a315427106f1b164d9cef3",
            "extra": "a93ce644f1a588dc4d68dda5feec44a7"}


def _root(root: Path | None, hint: str) -> Path:
    if root is None or not Path(root).is_dir():
        raise DataError(f"Data root {root} does not exist. {hint}")
    return Path(root)


class _CifarPickles:
    """The CIFAR python-pickle layout (Krizhevsky 2009, as torchvision reads it): training and test
    pickles of b"data" (N, 3072) uint8 rows (1024 red, 1024 green, 1024 blue values of a 32x32 image)
    and a list of labels, and a meta pickle naming the classes. Subclasses say which files and keys."""

    version = "1"
    needs_root = True
    name: str
    title: str  # "CIFAR-10"
    folder: str
    archive: str
    md5: dict[str, str]
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    meta_file: str
    names_key: bytes
    labels_key: bytes
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def __init__(self, verify_md5: bool = True):
        self.verify_md5 = verify_md5

    def layout_hint(self, root: Path) -> str:
        return (f"{self.name} expects torchvision's layout: " +
                "; ".join(f"{root / self.folder / n} (md5 {m})" for n, m in self.md5.items()) +
                f" — the contents of {self.archive}.")

    def _file(self, root: Path, name: str) -> Path:
        path = root / self.folder / name
        if not path.is_file():
            raise DataError(f"Missing {path}. " + self.layout_hint(root))
        if self.verify_md5:
            verify_md5(path, self.md5[name], f"torchvision's reference for {self.title}")
        return path

    def _unpickle(self, path: Path, keys: tuple[bytes, ...]) -> dict[bytes, Any]:
        try:
            with open(path, "rb") as fh:
                d = pickle.load(fh, encoding="bytes")
        except Exception as exc:  # noqa: BLE001 - any unpickling failure means a malformed file
            raise DataError(f"{path} is not a CIFAR python pickle ({type(exc).__name__}: {exc}).") from None
        missing = [k.decode() for k in keys if not isinstance(d, dict) or k not in d]
        if missing:
            raise DataError(f"{path} lacks the keys {missing} of a {self.title} pickle.")
        return d

    def _images(self, root: Path, files: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for name in files:
            d = self._unpickle(self._file(root, name), (b"data", self.labels_key))
            x = np.asarray(d[b"data"], dtype=np.uint8)
            if x.ndim != 2 or x.shape[1] != 3072:
                raise DataError(f"{root / self.folder / name}: data has shape {x.shape}, expected (N, 3072).")
            y = np.asarray(d[self.labels_key], dtype=np.int64)
            if y.shape != (len(x),):
                raise DataError(f"{root / self.folder / name}: {len(x)} images but {y.size} "
                                f"{self.labels_key.decode()}.")
            xs.append(x.reshape(-1, 3, 32, 32))
            ys.append(y)
        return np.concatenate(xs), np.concatenate(ys)

    def check(self, root: Path | None) -> None:
        root = _root(root, self.layout_hint(Path(root or "DIR")))
        for name in self.md5:
            self._file(root, name)

    def load(self, root: Path | None) -> ImagePool:
        root = _root(root, self.layout_hint(Path(root or "DIR")))
        meta = self._unpickle(self._file(root, self.meta_file), (self.names_key,))
        names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in meta[self.names_key])
        train, test = self._images(root, self.train_files), self._images(root, self.test_files)
        return ImagePool(self.name, *train, *test, names, self.mean, self.std)


@register_dataset("cifar10")
class CIFAR10(_CifarPickles):
    """CIFAR-10 (Krizhevsky 2009): 50,000 train / 10,000 test, 32x32 RGB, 10 classes.

    Files under the data root (torchvision's layout, the contents of cifar-10-python.tar.gz, MD5-checked
    unless verify_md5: false): cifar-10-batches-py/data_batch_1 ... data_batch_5 (the training images),
    cifar-10-batches-py/test_batch, cifar-10-batches-py/batches.meta (the class names)."""

    name, title, folder, archive = "cifar10", "CIFAR-10", "cifar-10-batches-py", "cifar-10-python.tar.gz"
    md5 = CIFAR10_MD5
    train_files = tuple(f"data_batch_{i}" for i in range(1, 6))
    test_files = ("test_batch",)
    meta_file, names_key, labels_key = "batches.meta", b"label_names", b"labels"
    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)  # per channel over the training images


@register_dataset("cifar100")
class CIFAR100(_CifarPickles):
    """CIFAR-100 (Krizhevsky 2009): 50,000 train / 10,000 test, 32x32 RGB, 100 fine classes.

    Files under the data root (torchvision's layout, the contents of cifar-100-python.tar.gz, MD5-checked
    unless verify_md5: false): cifar-100-python/train, cifar-100-python/test, cifar-100-python/meta."""

    name, title, folder, archive = "cifar100", "CIFAR-100", "cifar-100-python", "cifar-100-python.tar.gz"
    md5 = CIFAR100_MD5
    train_files, test_files = ("train",), ("test",)
    meta_file, names_key, labels_key = "meta", b"fine_label_names", b"fine_labels"
    mean, std = (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)


@register_dataset("svhn")
class SVHN:
    """Street View House Numbers (Netzer et al. 2011), cropped digits, 32x32 RGB. ``train_splits``:
    ["train"] (73,257 images) or ["train", "extra"] (604,388; the CVPR 2020 FK setup)."""

    version = "1"
    needs_root = True
    folder = "SVHN"

    def __init__(self, train_splits: list[str] | None = None, verify_md5: bool = True):
        self.train_splits = list(train_splits or ["train"])
        bad = [s for s in self.train_splits if s not in ("train", "extra")]
        if bad:
            raise DataError(f"svhn train_splits must be drawn from ['train', 'extra'], got {bad}.")
        self.verify_md5 = verify_md5

    def layout_hint(self, root: Path) -> str:
        needed = self.train_splits + ["test"]
        return ("svhn expects torchvision's layout: " +
                "; ".join(f"{root / self.folder / f'{s}_32x32.mat'} (md5 {SVHN_MD5[s]})" for s in needed) + ".")

    def _file(self, root: Path, split: str) -> Path:
        path = root / self.folder / f"{split}_32x32.mat"
        if not path.is_file():
            raise DataError(f"Missing {path}. " + self.layout_hint(root))
        if self.verify_md5:
            verify_md5(path, SVHN_MD5[split], "torchvision's reference for SVHN")
        return path

    def _read(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        from scipy.io import loadmat

        try:
            mat = loadmat(path)
        except Exception as exc:  # noqa: BLE001
            raise DataError(f"{path} is not a readable MATLAB file ({type(exc).__name__}: {exc}).") from None
        if "X" not in mat or "y" not in mat or mat["X"].ndim != 4:
            raise DataError(f"{path} must hold X (32, 32, 3, N) and y (N, 1), as the SVHN .mat files do.")
        x = np.ascontiguousarray(np.transpose(mat["X"], (3, 2, 0, 1))).astype(np.uint8)
        y = mat["y"].astype(np.int64).ravel()
        y[y == 10] = 0
        if len(x) != len(y) or y.min() < 0 or y.max() > 9:
            raise DataError(f"{path}: {len(x)} images, {len(y)} labels in [{y.min()}, {y.max()}]; expected 1-10.")
        return x, y

    def check(self, root: Path | None) -> None:
        root = _root(root, self.layout_hint(Path(root or "DIR")))
        for split in self.train_splits + ["test"]:
            self._file(root, split)

    def load(self, root: Path | None) -> ImagePool:
        root = _root(root, self.layout_hint(Path(root or "DIR")))
        parts = [self._read(self._file(root, s)) for s in self.train_splits]
        test_x, test_y = self._read(self._file(root, "test"))
        return ImagePool("svhn", np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                         test_x, test_y, tuple(str(i) for i in range(10)),
                         (0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970))
