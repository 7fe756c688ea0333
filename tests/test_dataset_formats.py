"""Every registered dataset reads a tiny fixture written in its real on-disk format; missing and
malformed files give errors that name the file and the expected layout."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from benchmark.core.errors import DataError
from benchmark.core.registry import DATASETS, discover
from tests.conftest import write_idx

discover()
RNG = np.random.default_rng(0)


def _jpeg(path: Path, seed: int, size: int = 12) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)


def write_cifar10(root: Path) -> dict:
    """torchvision's cifar-10-batches-py: five training batches, a test batch and batches.meta, each a
    pickle with bytes keys (as the Python 2 pickles in cifar-10-python.tar.gz load)."""
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    for i, name in enumerate([f"data_batch_{b}" for b in range(1, 6)] + ["test_batch"]):
        n = 2 if name != "test_batch" else 3
        d = {b"batch_label": name.encode(), b"labels": [(i + j) % 3 for j in range(n)],
             b"data": RNG.integers(0, 256, (n, 3072), dtype=np.uint8),
             b"filenames": [f"img_{i}_{j}.png".encode() for j in range(n)]}
        (base / name).write_bytes(pickle.dumps(d, protocol=2))
    meta = {b"label_names": [b"airplane", b"automobile", b"bird"], b"num_cases_per_batch": 2, b"num_vis": 3072}
    (base / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return {"params": {"verify_md5": False}, "train": 10, "test": 3, "classes": 3, "shape": (3, 32, 32),
            "essential": "cifar-10-batches-py/data_batch_3"}


def write_cifar100(root: Path) -> dict:
    base = root / "cifar-100-python"
    base.mkdir(parents=True)
    for name, n in (("train", 12), ("test", 6)):
        d = {b"data": RNG.integers(0, 256, (n, 3072), dtype=np.uint8), b"fine_labels": [i % 3 for i in range(n)]}
        (base / name).write_bytes(pickle.dumps(d))
    (base / "meta").write_bytes(pickle.dumps({b"fine_label_names": [b"apple", b"bear", b"cloud"]}))
    return {"params": {"verify_md5": False}, "train": 12, "test": 6, "classes": 3, "shape": (3, 32, 32),
            "essential": "cifar-100-python/meta"}


def write_svhn(root: Path) -> dict:
    from scipy.io import savemat

    base = root / "SVHN"
    base.mkdir(parents=True)
    for split, n in (("train", 10), ("test", 5), ("extra", 4)):
        y = (np.arange(n) % 10 + 1).reshape(-1, 1)  # 1..10, where 10 means digit 0
        savemat(base / f"{split}_32x32.mat", {"X": RNG.integers(0, 256, (32, 32, 3, n), dtype=np.uint8), "y": y})
    return {"params": {"verify_md5": False, "train_splits": ["train", "extra"]}, "train": 14, "test": 5,
            "classes": 10, "shape": (3, 32, 32), "essential": "SVHN/extra_32x32.mat"}


def write_food101(root: Path) -> dict:
    base = root / "food-101"
    classes = ["apple_pie", "ramen"]
    (base / "meta").mkdir(parents=True)
    (base / "meta" / "classes.txt").write_text("\n".join(classes) + "\n")
    train, test = [], []
    for c in classes:
        for i in range(3):
            _jpeg(base / "images" / c / f"{i}.jpg", hash((c, i)) % 1000)
            (train if i < 2 else test).append(f"{c}/{i}")
    (base / "meta" / "train.txt").write_text("\n".join(train) + "\n")
    (base / "meta" / "test.txt").write_text("\n".join(test) + "\n")
    return {"params": {"image_size": 16}, "train": 4, "test": 2, "classes": 2, "shape": (3, 16, 16),
            "essential": "food-101/meta/test.txt"}


def write_mit67(root: Path) -> dict:
    base = root / "indoorCVPR_09"
    lines = {"TrainImages.txt": [], "TestImages.txt": []}
    for c in ("airport_inside", "bakery", "bar"):
        for i in range(3):
            _jpeg(base / "Images" / c / f"{c}_{i}.jpg", i)
            lines["TrainImages.txt" if i < 2 else "TestImages.txt"].append(f"{c}/{c}_{i}.jpg")
    for name, entries in lines.items():
        (base / name).write_text("\n".join(entries) + "\n")
    return {"params": {"image_size": 16}, "train": 6, "test": 3, "classes": 3, "shape": (3, 16, 16),
            "essential": "indoorCVPR_09/TrainImages.txt"}


def _class_tree(base: Path, splits: dict[str, int], classes: list[str], ext: str = ".JPEG") -> None:
    for split, n in splits.items():
        for c in classes:
            for i in range(n):
                _jpeg(base / split / c / f"{c}_{i}{ext}", i + 7)


def write_imagenet(root: Path) -> dict:
    _class_tree(root / "imagenet", {"train": 2, "val": 1}, ["n01440764", "n01443537"])
    return {"params": {"image_size": 8}, "train": 4, "test": 2, "classes": 2, "shape": (3, 8, 8),
            "essential": "imagenet/val"}


def write_imn100(root: Path) -> dict:
    classes = ["n00004475", "n09999999"]
    _class_tree(root / "imn-100", {"train": 2, "test": 1}, classes)
    (root / "imn-100" / "classes.txt").write_text("\n".join(classes) + "\n")
    return {"params": {"image_size": 8}, "train": 4, "test": 2, "classes": 2, "shape": (3, 8, 8),
            "essential": "imn-100/classes.txt"}


def write_imagefolder(root: Path) -> dict:
    _class_tree(root / "pets", {"train": 3, "test": 1}, ["cat", "dog"], ext=".png")
    return {"params": {"folder": "pets", "image_size": 10}, "train": 6, "test": 2, "classes": 2, "shape": (3, 10, 10),
            "essential": "pets/test/dog"}


def write_mnist_like(folder: str):
    def write(root: Path) -> dict:
        for stem, arr in (("train-images-idx3-ubyte", RNG.integers(0, 256, (8, 28, 28))),
                          ("train-labels-idx1-ubyte", np.arange(8) % 10),
                          ("t10k-images-idx3-ubyte", RNG.integers(0, 256, (4, 28, 28))),
                          ("t10k-labels-idx1-ubyte", np.arange(4) % 10)):
            write_idx(root / folder / "raw" / stem, arr, gz=False)
        return {"params": {}, "train": 8, "test": 4, "classes": 10, "shape": (1, 28, 28),
                "essential": f"{folder}/raw/t10k-labels-idx1-ubyte"}
    return write


FIXTURES = {"cifar10": write_cifar10, "cifar100": write_cifar100, "svhn": write_svhn, "food101": write_food101, "mit67": write_mit67,
            "imagenet": write_imagenet, "imn100": write_imn100, "imagefolder": write_imagefolder,
            "mnist": write_mnist_like("MNIST"), "fashion-mnist": write_mnist_like("FashionMNIST")}
EMBEDDED = {"digits", "synthetic"}  # no files: generated or bundled with scikit-learn


def test_every_file_dataset_has_a_format_fixture():
    file_datasets = [n for n in DATASETS.names() if getattr(DATASETS.get(n), "needs_root", False)]
    assert sorted(file_datasets) == sorted(FIXTURES), "add a fixture in its real format for each new dataset"
    assert set(DATASETS.names()) == set(FIXTURES) | EMBEDDED


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_loader_reads_its_fixture(name, tmp_path):
    expect = FIXTURES[name](tmp_path)
    ds = DATASETS.create(name, **expect["params"])
    ds.check(tmp_path)
    pool = ds.load(tmp_path)
    assert pool.train_x.shape == (expect["train"], *expect["shape"]) and pool.train_x.dtype == np.uint8
    assert pool.test_x.shape == (expect["test"], *expect["shape"])
    assert pool.num_classes == expect["classes"] == len(pool.class_names)
    assert pool.train_y.min() >= 0 and pool.train_y.max() < pool.num_classes


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_missing_root_and_missing_file_name_what_goes_where(name, tmp_path):
    expect = FIXTURES[name](tmp_path / "data")
    ds = DATASETS.create(name, **expect["params"])
    with pytest.raises(DataError, match="does not exist"):
        ds.check(tmp_path / "nowhere")
    import shutil

    victim = tmp_path / "data" / expect["essential"]
    shutil.rmtree(victim) if victim.is_dir() else victim.unlink()
    for action in (ds.check, ds.load):
        with pytest.raises(DataError) as err:
            action(tmp_path / "data")
        assert str(victim) in str(err.value) or victim.name in str(err.value)  # names what is missing
        assert str(tmp_path / "data") in str(err.value)  # and where it goes


def test_svhn_maps_label_10_to_digit_0(tmp_path):
    write_svhn(tmp_path)
    pool = DATASETS.create("svhn", verify_md5=False).load(tmp_path)
    assert pool.train_y.tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]
    assert pool.train_x.shape == (10, 3, 32, 32)


def test_cifar10_reads_the_five_training_batches_in_order_with_channels_first(tmp_path):
    write_cifar10(tmp_path)
    pool = DATASETS.create("cifar10", verify_md5=False).load(tmp_path)
    batches = [pickle.loads((tmp_path / "cifar-10-batches-py" / f"data_batch_{b}").read_bytes()) for b in range(1, 6)]
    assert pool.train_y.tolist() == [y for d in batches for y in d[b"labels"]] == [0, 1, 1, 2, 2, 0, 0, 1, 1, 2]
    first = batches[0][b"data"][0]  # 1024 red, then 1024 green, then 1024 blue values, row-major
    assert np.array_equal(pool.train_x[0, 1], first[1024:2048].reshape(32, 32))
    assert np.array_equal(pool.train_x[-1], batches[-1][b"data"][-1].reshape(3, 32, 32))
    assert pool.class_names == ("airplane", "automobile", "bird") and pool.name == "cifar10"
    assert pool.test_y.tolist() == [2, 0, 1]


def test_cifar10_says_which_files_go_where(tmp_path):
    write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "batches.meta").unlink()
    with pytest.raises(DataError) as err:
        DATASETS.create("cifar10", verify_md5=False).check(tmp_path)
    text = str(err.value)
    assert text.startswith(f"Missing {tmp_path / 'cifar-10-batches-py' / 'batches.meta'}. cifar10 expects")
    for name in [f"data_batch_{b}" for b in range(1, 6)] + ["test_batch", "batches.meta"]:
        assert f"{tmp_path / 'cifar-10-batches-py' / name} (md5 " in text
    assert "the contents of cifar-10-python.tar.gz" in text


def test_cifar10_refuses_batches_whose_labels_do_not_match_their_images(tmp_path):
    write_cifar10(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "data_batch_2"
    d = pickle.loads(path.read_bytes())
    path.write_bytes(pickle.dumps({**d, b"labels": d[b"labels"][:1]}))
    with pytest.raises(DataError, match="data_batch_2: 2 images but 1 labels"):
        DATASETS.create("cifar10", verify_md5=False).load(tmp_path)
    path.write_bytes(pickle.dumps({b"data": d[b"data"]}))
    with pytest.raises(DataError, match=r"data_batch_2 lacks the keys \['labels'\] of a CIFAR-10 pickle"):
        DATASETS.create("cifar10", verify_md5=False).load(tmp_path)


def test_checksums_are_verified_by_default(tmp_path):
    write_cifar100(tmp_path)
    with pytest.raises(DataError, match="corrupt: md5 .* expected 16019d7e"):
        DATASETS.create("cifar100").check(tmp_path)
    write_cifar10(tmp_path)
    with pytest.raises(DataError, match="data_batch_1 is corrupt: md5 .* expected c99cafc1.*reference for CIFAR-10"):
        DATASETS.create("cifar10").check(tmp_path)


def test_malformed_files_are_named(tmp_path):
    write_cifar100(tmp_path)
    (tmp_path / "cifar-100-python" / "train").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="cifar-100-python/train is not a CIFAR python pickle"):
        DATASETS.create("cifar100", verify_md5=False).load(tmp_path)
    write_food101(tmp_path)
    (tmp_path / "food-101" / "images" / "ramen" / "0.jpg").write_bytes(b"garbage")
    with pytest.raises(DataError, match="Cannot read image .*ramen/0.jpg"):
        DATASETS.create("food101", image_size=16).load(tmp_path)


def test_imn100_class_list_defines_the_dataset(tmp_path):
    write_imn100(tmp_path)
    (tmp_path / "imn-100" / "classes.txt").write_text("n00004475\n")
    with pytest.raises(DataError, match="does not list"):
        DATASETS.create("imn100").load(tmp_path)


def test_decoded_images_are_cached_and_memory_mapped(tmp_path):
    write_imagefolder(tmp_path)
    a = DATASETS.create("imagefolder", folder="pets", image_size=10).load(tmp_path)
    b = DATASETS.create("imagefolder", folder="pets", image_size=10).load(tmp_path)
    assert isinstance(b.train_x, np.memmap) and np.array_equal(a.train_x, b.train_x)


def test_list_datasets_verbose_shows_cifar10s_files(capsys):
    from benchmark.cli import main

    assert main(["list", "datasets", "-v", "cifar10"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("cifar10\n") and "cifar-10-batches-py/data_batch_1" in out and "batches.meta" in out
