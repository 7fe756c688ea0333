"""Rotation pretraining (Gidaris et al. 2018) as a cached learner init, and ensemble/FK pass counts."""
import numpy as np
import pytest
import torch

from benchmark.core.errors import SuiteError
from benchmark.core.registry import discover
from benchmark.execute.suite import expand
from benchmark.learn.learner import LearnerRecipe
from benchmark.learn.pretrain import (
    RotationRecipe,
    classifier_keys,
    rotate_batch,
    rotation_checkpoint,
)
from benchmark.scenarios.runner import run_cell
from tests.conftest import TINY_LEARNER, tiny_suite

discover()
ROTATION = {**TINY_LEARNER, "init": "rotation", "pretrain": {"epochs": 2, "batch_size": 32}}


def test_rotate_batch_labels_and_inverse():
    x = torch.arange(2 * 9, dtype=torch.float32).view(2, 1, 3, 3)
    xr, y = rotate_batch(x)
    assert xr.shape == (8, 1, 3, 3) and y.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert torch.equal(torch.rot90(xr[2], -1, dims=(1, 2)), x[0])


def test_classifier_keys_are_the_head():
    assert classifier_keys("lenet", 1, 28) == {"fc2.weight", "fc2.bias"}


def test_checkpoint_is_computed_once_and_has_no_head(tmp_path, monkeypatch):
    monkeypatch.setenv("ALBENCH_CACHE", str(tmp_path))
    images = np.random.default_rng(0).integers(0, 256, (40, 1, 8, 8), np.uint8)
    args = ({"pool": 1}, "small_cnn", images, [0.5], [0.25], RotationRecipe(epochs=1, batch_size=16), 0, torch.device("cpu"))
    path, computed, accuracy = rotation_checkpoint(*args, eval_images=images[:10])
    assert computed and path.is_file() and 0.0 <= accuracy <= 1.0
    again, computed_again, accuracy_again = rotation_checkpoint(*args)
    assert again == path and not computed_again
    assert accuracy_again == accuracy  # measured once, read back from the cache's sidecar
    state = torch.load(path, weights_only=True)
    assert "fc2.weight" not in state and "conv1.weight" in state


def test_cell_starts_from_the_cached_backbone_and_logs_it():
    spec = expand(tiny_suite(methods=("random", "entropy"), learner=ROTATION)).cells
    first, second = run_cell(spec[0]), run_cell(spec[1])
    assert "rotation pretraining computed" in first.log
    assert "rotation pretraining loaded from cache" in second.log  # once per (dataset, imbalance, seed)
    assert first.rounds.loc[0, "pretrain_backward"] > 0 and second.rounds.loc[0, "pretrain_backward"] == 0
    assert first.rounds.loc[0, "accuracy"] == second.rounds.loc[0, "accuracy"]  # same init for every method


def test_bad_pretrain_recipe_is_a_suite_error():
    with pytest.raises(SuiteError, match="pretrain"):
        LearnerRecipe.from_mapping({"init": "rotation", "pretrain": {"epochz": 3}})
    with pytest.raises(SuiteError, match="only used with"):
        LearnerRecipe.from_mapping({"pretrain": {"epochs": 3}})


def test_ensemble_training_lands_in_the_train_phase():
    single, ens = expand(tiny_suite(methods=("random", {"name": "ensemble_varR", "members": 3}))).cells
    a, b = run_cell(single), run_cell(ens)
    n = a.rounds.loc[0, "labels_used"]
    epochs = TINY_LEARNER["epochs"]
    assert a.rounds.loc[0, "train_backward"] == epochs * n
    assert b.rounds.loc[0, "train_backward"] == 3 * epochs * n
    assert a.rounds.loc[0, "accuracy"] == b.rounds.loc[0, "accuracy"]  # member 0 is the shared task model


def test_fisher_kernel_costs_two_passes_per_point():
    """Table 1: PFK with S = ŷ costs 2(M + N') passes in a round; PCC costs M + N' forward passes."""
    pcc, pfk = expand(tiny_suite(methods=({"name": "pcc", "layers": ["conv2"]},
                                          {"name": "pfk", "labels": "pred", "layers": ["conv2"]}))).cells
    for spec, fisher in ((pcc, False), (pfk, True)):
        result = run_cell(spec)
        r = result.rounds.iloc[0]
        m = spec.scenario["val_per_class"] * 10  # synthetic: 10 classes
        n_unlabelled = result.summary["pool_size"] - r["labels_used"]
        # the descriptors and Fisher scores the method computes inside select are charged to infer
        assert r["infer_forward"] == m + n_unlabelled
        assert r["infer_backward"] == (m + n_unlabelled if fisher else 0)
        assert r["select_forward"] == 0 and r["select_backward"] == 0
