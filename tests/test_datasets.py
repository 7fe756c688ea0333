"""Dataset contract tests over every registered dataset, on fixtures in the real on-disk formats."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from benchmark.core.errors import DataError
from benchmark.core.registry import DATASETS, discover
from benchmark.core.spec import Component
from benchmark.data.loading import load_pool
from tests.conftest import SHARED_DATA, write_idx

discover()

IDX_FOLDERS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}


def write_idx_fixture(root: Path, folder: str, n_train: int = 60, n_test: int = 20, gz: bool = True) -> None:
    rng = np.random.default_rng(0)
    raw = root / folder / "raw"
    write_idx(raw / "train-images-idx3-ubyte", rng.integers(0, 256, (n_train, 28, 28)), gz=False)
    write_idx(raw / "train-labels-idx1-ubyte", np.arange(n_train) % 10, gz=False)
    write_idx(raw / "t10k-images-idx3-ubyte", rng.integers(0, 256, (n_test, 28, 28)), gz=False)
    write_idx(raw / "t10k-labels-idx1-ubyte", np.arange(n_test) % 10, gz=False)
    if gz:
        for f in list(raw.iterdir()):
            (raw / (f.name + ".gz")).write_bytes(gzip.compress(f.read_bytes()))
            f.unlink()


def fixture_component(name: str, root: Path) -> tuple[Component, Path | None]:
    if name in IDX_FOLDERS:
        write_idx_fixture(root, IDX_FOLDERS[name])
        return Component(name, {"verify_md5": False}), root
    if name == "synthetic":
        return Component(name, {"train_per_class": 12, "test_per_class": 3}), None
    from tests.test_dataset_formats import FIXTURES

    if name in FIXTURES:
        return Component(name, FIXTURES[name](root)["params"]), root
    return Component(name), None


@pytest.mark.parametrize("name", DATASETS.names())
def test_every_dataset_loads_a_valid_pool(name, tmp_path):
    comp, root = fixture_component(name, tmp_path)
    pool = load_pool(comp, root)
    assert pool.train_x.dtype == np.uint8 and pool.train_x.ndim == 4
    assert pool.train_x.shape[1:] == pool.test_x.shape[1:]
    assert len(pool.train_x) == len(pool.train_y) and len(pool.test_x) == len(pool.test_y)
    assert set(np.unique(pool.train_y)) <= set(range(pool.num_classes))
    assert len(pool.mean) == pool.image_shape[0] == len(pool.std)
    assert getattr(DATASETS.get(name), "version", None)


def test_digits_has_a_fixed_balanced_test_split():
    a = load_pool(Component("digits"))
    assert np.bincount(a.test_y).tolist() == [30] * 10
    assert len(a.train_y) + len(a.test_y) == 1797
    b = DATASETS.create("digits").load(None)
    assert np.array_equal(a.test_x, b.test_x)


@pytest.mark.parametrize("name", list(IDX_FOLDERS))
def test_idx_reads_unpacked_files_too(name, tmp_path):
    write_idx_fixture(tmp_path, IDX_FOLDERS[name], gz=False)
    pool = DATASETS.create(name, verify_md5=False).load(tmp_path)
    assert pool.train_x.shape == (60, 1, 28, 28) and pool.test_y.tolist() == (np.arange(20) % 10).tolist()


@pytest.mark.parametrize("name", list(IDX_FOLDERS))
def test_missing_root_names_files_and_checksums(name, tmp_path):
    with pytest.raises(DataError) as err:
        DATASETS.create(name).load(tmp_path / "nowhere")
    msg = str(err.value)
    assert "train-images-idx3-ubyte.gz" in msg and IDX_FOLDERS[name] in msg and "md5" in msg


def test_missing_single_file_is_named(tmp_path):
    write_idx_fixture(tmp_path, "MNIST")
    (tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="Missing t10k-labels-idx1-ubyte.gz"):
        DATASETS.create("mnist", verify_md5=False).load(tmp_path)


def test_corrupt_file_fails_its_checksum(tmp_path):
    write_idx_fixture(tmp_path, "MNIST")
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz is corrupt: md5 \w+, expected f68b3c2d"):
        DATASETS.create("mnist").load(tmp_path)


def test_truncated_idx_is_reported(tmp_path):
    write_idx_fixture(tmp_path, "MNIST", gz=False)
    f = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:-10])
    with pytest.raises(DataError, match="truncated"):
        DATASETS.create("mnist", verify_md5=False).load(tmp_path)


def test_dataset_needing_root_without_one_says_how(monkeypatch):
    monkeypatch.delenv("ALBENCH_DATA", raising=False)
    with pytest.raises(DataError, match="--data-root"):
        load_pool(Component("mnist"))


@pytest.mark.data
@pytest.mark.skipif(not (SHARED_DATA / "MNIST" / "raw").is_dir(), reason="real MNIST not available")
def test_real_mnist_checksums_and_shapes():
    pool = load_pool(Component("mnist"), SHARED_DATA)
    assert pool.train_x.shape == (60000, 1, 28, 28) and pool.test_x.shape == (10000, 1, 28, 28)
    assert np.bincount(pool.train_y).tolist()[:2] == [5923, 6742]
    assert not any(p.name.endswith(".npy") for p in (SHARED_DATA / "MNIST" / "raw").iterdir())
