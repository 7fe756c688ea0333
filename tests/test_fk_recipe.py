"""The recipe options that reproduce the CVPR 2020 FK paper's official code: LeNet block-output
taps, learning-rate milestones, dropout at MC inference only, warm start, and a random first round
for the uncertainty baselines."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from benchmark.core.errors import AlbenchError, SuiteError
from benchmark.execute.suite import expand
from benchmark.learn.learner import Learner, LearnerRecipe
from benchmark.learn.pretrain import RotationRecipe
from benchmark.learn.schedule import lr_scheduler
from benchmark.scenarios.runner import run_cell
from tests.conftest import tiny_suite

MNIST_SHAPE = (1, 28, 28)


def _lenet(**recipe) -> Learner:
    return Learner(LearnerRecipe(model="lenet", **recipe), 10, MNIST_SHAPE, (0.13,), (0.31,), seed=0)


def test_lenet_block_taps_are_the_pooled_relu_outputs_of_the_official_code():
    learner = _lenet()
    x = np.random.default_rng(0).integers(0, 255, (5, *MNIST_SHAPE), dtype=np.uint8)
    m = learner.model
    with torch.no_grad():
        xt = learner.to_input(x)
        block1 = F.relu(F.max_pool2d(m.conv1(xt), 2))
        block2 = F.relu(F.max_pool2d(m.conv2(block1), 2))
        block3 = F.relu(m.fc1(block2.flatten(1)))
    want = torch.cat([block1.mean((2, 3)), block2.mean((2, 3)), block3], dim=1).numpy()
    got = learner.embed(x, ["conv1_block", "conv2_block", "fc1_block"])
    assert got.shape == (5, 80) and np.allclose(got, want, atol=1e-5)  # L80 = 10 + 20 + 50
    assert learner.embed(x, ["conv2_block"]).shape == (5, 20)  # L20
    assert not any("block" in k for k in m.state_dict())  # the taps hold no weights


def test_lr_milestones_decay_after_those_epochs():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.05)
    sched = lr_scheduler(opt, None, [2, 5], 0.1)
    lrs = []
    for _ in range(8):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    # the official rotation pretraining: epochs 1-2 at 0.05, 3-5 at 0.005, 6-8 at 0.0005
    assert lrs == pytest.approx([0.05, 0.05, 0.005, 0.005, 0.005, 0.0005, 0.0005, 0.0005])


@pytest.mark.parametrize("recipe, match", [
    ({"lr_step": 15, "lr_milestones": [14]}, "both lr_step"),
    ({"lr_milestones": [29, 14]}, "must increase"),
    ({"lr_milestones": []}, "lr_milestones"),
    ({"lr_milestones": [0, 3]}, "lr_milestones"),
])
def test_bad_lr_schedules_are_suite_errors(recipe, match):
    with pytest.raises(SuiteError, match=match):
        LearnerRecipe.from_mapping({"model": "lenet", **recipe})
    with pytest.raises(SuiteError, match=match):
        RotationRecipe.from_mapping(recipe)


def test_train_dropout_false_trains_as_without_dropout_and_keeps_mc_passes_stochastic():
    x = np.random.default_rng(1).integers(0, 255, (12, *MNIST_SHAPE), dtype=np.uint8)
    y = np.arange(12) % 10
    recipe = LearnerRecipe(model="lenet", epochs=2, batch_size=4, train_dropout=False)
    mc = Learner(recipe, 10, MNIST_SHAPE, (0.13,), (0.31,), seed=0, use_dropout=True)
    plain = Learner(LearnerRecipe(model="lenet", epochs=2, batch_size=4), 10, MNIST_SHAPE, (0.13,), (0.31,), seed=0)
    with_dropout = Learner(LearnerRecipe(model="lenet", epochs=2, batch_size=4), 10, MNIST_SHAPE, (0.13,), (0.31,),
                           seed=0, use_dropout=True)
    for learner in (mc, plain, with_dropout):
        learner.fit(x, y, round_seed=3)
    assert all(torch.equal(a, b) for a, b in zip(mc.model.state_dict().values(), plain.model.state_dict().values()))
    assert not torch.equal(mc.model.fc1.weight, with_dropout.model.fc1.weight)
    samples = mc.mc_dropout_proba(x, samples=3, seed=0)
    assert not np.allclose(samples[0], samples[1])


def _first_batch(result) -> list[int]:
    sel = result.selections
    return sorted(sel.loc[sel["round"] == 0, "pool_index"].tolist())


def test_first_round_random_draws_one_paired_batch_then_the_method_selects():
    suite = tiny_suite(methods=({"name": "varR", "samples": 4, "first_round": "random"},
                                {"name": "ensemble_varR", "members": 2, "first_round": "random"},
                                {"name": "varR", "samples": 4}),
                       scenario={"initial": 0, "rounds": 2, "per_round": 5, "val_per_class": 3})
    a, b, c = (run_cell(cell) for cell in expand(suite).cells)
    assert _first_batch(a) == _first_batch(b)  # the same random batch for every such method of the setting
    assert _first_batch(a) != _first_batch(c)  # varR itself picks differently from the untrained model
    with pytest.raises(AlbenchError, match="first_round must be one of"):
        from benchmark.core.registry import METHODS

        METHODS.create("varR", first_round="randon")


def test_warm_start_fine_tunes_the_previous_rounds_weights():
    x = np.random.default_rng(2).integers(0, 255, (8, *MNIST_SHAPE), dtype=np.uint8)
    y = np.arange(8) % 10
    warm = Learner(LearnerRecipe(model="lenet", epochs=1, batch_size=4, warm_start=True), 10, MNIST_SHAPE,
                   (0.13,), (0.31,), seed=0)
    cold = Learner(LearnerRecipe(model="lenet", epochs=1, batch_size=4), 10, MNIST_SHAPE, (0.13,), (0.31,), seed=0)
    for learner in (warm, cold):
        learner.fit(x, y, round_seed=1)
    after_one = warm.model.fc1.weight.detach().clone()
    assert torch.equal(after_one, cold.model.fc1.weight)  # round 1 is the same from the same initial weights
    warm.fit(x, y, round_seed=2)
    cold.fit(x, y, round_seed=2)
    # round 2: cold restarts from the initial weights, warm continues from round 1's
    fresh = Learner(LearnerRecipe(model="lenet", epochs=1, batch_size=4), 10, MNIST_SHAPE, (0.13,), (0.31,), seed=0)
    fresh.fit(x, y, round_seed=2)
    assert torch.equal(cold.model.fc1.weight, fresh.model.fc1.weight)
    assert not torch.equal(warm.model.fc1.weight, fresh.model.fc1.weight)
