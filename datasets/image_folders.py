"""Image-file datasets: a generic ImageFolder, Food-101, MIT Indoor-67, ImageNet (ILSVRC) and IMN-100.

Every image is decoded once to ``image_size`` × ``image_size`` RGB and cached (``benchmark.data.imagefiles``).
Layouts under the data root:

- ``imagefolder`` (bring your own): ``<root>/<folder>/train/<class>/*.jpg`` and ``.../test/<class>/*.jpg``.
- ``food101``: ``<root>/food-101/images/<class>/<id>.jpg``, ``meta/classes.txt``, ``meta/train.txt``,
  ``meta/test.txt`` (lines ``<class>/<id>`` without extension), as in the official archive.
- ``mit67``: ``<root>/mit67/Images/<class>/<file>.jpg`` plus ``TrainImages.txt`` / ``TestImages.txt``
  (lines ``<class>/<file>.jpg``), the official Indoor67 files.
- ``imagenet``: ``<root>/imagenet/train/<wnid>/*.JPEG`` and ``<root>/imagenet/val/<wnid>/*.JPEG``
  (the validation set sorted into class folders, as torchvision's ImageNet prepares it); the
  validation set is the test split (ILSVRC test labels are not public).
- ``imn100``: ``<root>/imn-100/classes.txt`` (the WordNet ids that define IMN-100: ImageNet leaf
  classes outside ILSVRC-1k, one per line) and ``train/<wnid>/`` and ``test/<wnid>/`` folders for them.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.core.errors import DataError
from benchmark.core.registry import register_dataset
from benchmark.data.imagefiles import cached_decode, class_folders, folder_samples
from benchmark.data.pool import ImagePool

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class _Files:
    """Base: subclasses list (train paths, train labels, test paths, test labels, class names)."""

    version = "1"
    needs_root = True

    def __init__(self, image_size: int = 64):
        if image_size < 8:
            raise DataError(f"image_size must be at least 8, got {image_size}.")
        self.image_size = image_size

    def layout_hint(self, root: Path) -> str:
        return f"{self.registered_name} layout: " + self.layout(root)  # type: ignore[attr-defined]

    def layout(self, root: Path) -> str:
        raise NotImplementedError

    def samples(self, root: Path) -> tuple[list[Path], np.ndarray, list[Path], np.ndarray, list[str]]:
        raise NotImplementedError

    def _root(self, root: Path | None) -> Path:
        if root is None or not Path(root).is_dir():
            raise DataError(f"Data root {root} does not exist. " + self.layout_hint(Path(root or "DIR")))
        return Path(root)

    def _wrap(self, root: Path, fn):
        try:
            return fn()
        except DataError as exc:
            raise DataError(f"{exc} {self.layout_hint(root)}") from None

    def check(self, root: Path | None) -> None:
        root = self._root(root)
        tr, _, te, _, _ = self._wrap(root, lambda: self.samples(root))
        missing = next((p for p in tr + te if not p.is_file()), None)
        if missing is not None:
            raise DataError(f"Image {missing} is listed but missing. {self.layout_hint(root)}")
        if not tr or not te:
            raise DataError(f"No images found for the {'train' if not tr else 'test'} split. {self.layout_hint(root)}")

    def load(self, root: Path | None) -> ImagePool:
        root = self._root(root)
        tr, ytr, te, yte, names = self._wrap(root, lambda: self.samples(root))
        if not tr or not te:
            raise DataError(f"No images found for the {'train' if not tr else 'test'} split. {self.layout_hint(root)}")
        return ImagePool(self.registered_name, cached_decode(root, tr, self.image_size), ytr,  # type: ignore[attr-defined]
                         cached_decode(root, te, self.image_size), yte, tuple(names), IMAGENET_MEAN, IMAGENET_STD)


def _read_list(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(f"Missing list file {path}.")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def _split_folders(base: Path, test: str, classes: list[str] | None = None):
    """train/<class>/ and <test>/<class>/ under base; classes = train's sub-folders unless given."""
    classes = classes if classes is not None else class_folders(base / "train")
    tr, ytr = folder_samples(base / "train", classes)
    te, yte = folder_samples(base / test, classes)
    return tr, ytr, te, yte, classes


def _listed(base: Path, lines: list[str], classes: list[str], suffix: str = "") -> tuple[list[Path], np.ndarray]:
    index = {c: i for i, c in enumerate(classes)}
    paths, labels = [], []
    for line in lines:
        cls = line.split("/")[0]
        if cls not in index:
            raise DataError(f"List entry {line!r} names class {cls!r}, which is not a known class.")
        paths.append(base / (line + suffix))
        labels.append(index[cls])
    return paths, np.asarray(labels, dtype=np.int64)


@register_dataset("imagefolder")
class ImageFolder(_Files):
    """Your own data: ``<root>/<folder>/{train,test}/<class>/<images>``; classes = train's sub-folders."""

    def __init__(self, folder: str = "imagefolder", image_size: int = 64):
        super().__init__(image_size)
        self.folder = folder

    def layout(self, root: Path) -> str:
        return f"{root / self.folder / 'train' / '<class>' / '<image>.jpg'} and {root / self.folder / 'test' / '<class>' / '<image>.jpg'}."

    def samples(self, root: Path):
        return _split_folders(root / self.folder, "test")


@register_dataset("food101")
class Food101(_Files):
    """Food-101 (Bossard et al. 2014): 101 dishes, 75,750 train / 25,250 test images (official split)."""

    def layout(self, root: Path) -> str:
        base = root / "food-101"
        return (f"{base / 'images' / '<class>' / '<id>.jpg'}, {base / 'meta' / 'classes.txt'}, "
                f"{base / 'meta' / 'train.txt'} and {base / 'meta' / 'test.txt'} (lines '<class>/<id>').")

    def samples(self, root: Path):
        base = root / "food-101"
        classes = _read_list(base / "meta" / "classes.txt")
        tr, ytr = _listed(base / "images", _read_list(base / "meta" / "train.txt"), classes, ".jpg")
        te, yte = _listed(base / "images", _read_list(base / "meta" / "test.txt"), classes, ".jpg")
        return tr, ytr, te, yte, classes


@register_dataset("mit67")
class MITIndoor67(_Files):
    """MIT Indoor-67 (Quattoni & Torralba 2009): 67 indoor scenes, official 80/20 per-class split."""

    def _base(self, root: Path) -> Path:
        for name in ("mit67", "indoorCVPR_09", "Indoor67"):
            if (root / name).is_dir():
                return root / name
        return root / "mit67"

    def layout(self, root: Path) -> str:
        base = root / "mit67"
        return (f"{base / 'Images' / '<class>' / '<file>.jpg'}, {base / 'TrainImages.txt'} and "
                f"{base / 'TestImages.txt'} (lines '<class>/<file>.jpg'); the folder may also be named indoorCVPR_09.")

    def samples(self, root: Path):
        base = self._base(root)
        classes = class_folders(base / "Images")
        tr, ytr = _listed(base / "Images", _read_list(base / "TrainImages.txt"), classes)
        te, yte = _listed(base / "Images", _read_list(base / "TestImages.txt"), classes)
        return tr, ytr, te, yte, classes


@register_dataset("imagenet")
class ImageNet(_Files):
    """ILSVRC-2012 (1,000 classes); the validation set is the test split. Default 32x32 (as the
    downsampled ImageNet) keeps 1.28M images at 3.7 GiB; raise image_size for a real backbone."""

    def __init__(self, image_size: int = 32):
        super().__init__(image_size)

    def layout(self, root: Path) -> str:
        return f"{root / 'imagenet' / 'train' / '<wnid>' / '*.JPEG'} and {root / 'imagenet' / 'val' / '<wnid>' / '*.JPEG'}."

    def samples(self, root: Path):
        return _split_folders(root / "imagenet", "val")


@register_dataset("imn100")
class IMN100(_Files):
    """IMN-100 (WACV 2020 §4.1): 100 ImageNet leaf classes that are not in ILSVRC-1k, defined by
    ``classes.txt``; train/test class folders for exactly those classes."""

    def layout(self, root: Path) -> str:
        base = root / "imn-100"
        return (f"{base / 'classes.txt'} (one WordNet id per line), {base / 'train' / '<wnid>' / '*.JPEG'} and "
                f"{base / 'test' / '<wnid>' / '*.JPEG'} for every listed id.")

    def samples(self, root: Path):
        base = root / "imn-100"
        classes = _read_list(base / "classes.txt")
        if len(set(classes)) != len(classes):
            raise DataError(f"{base / 'classes.txt'} lists a class twice.")
        extra = sorted(set(class_folders(base / "train")) - set(classes))
        if extra:
            raise DataError(f"{base / 'train'} has folders {extra[:5]} that classes.txt does not list.")
        return _split_folders(base, "test", classes)

