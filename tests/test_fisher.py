"""Fisher scores from the Learner (CVPR 2020 §4.2-4.3): analytic values, per-sample independence,
pass counts (Table 1), and the MC pseudo-labels."""
import numpy as np
import pytest
import torch

from benchmark.core.arrays import to_numpy
from benchmark.learn.fisher import (
    fisher_descriptors,
    mc_pseudo_labels,
    perturb,
    segment_sizes,
)
from benchmark.learn.learner import Learner, LearnerRecipe


def _learner(model="mlp", **kw) -> Learner:
    recipe = LearnerRecipe.from_mapping({"model": model, "epochs": 0, "eval_batch_size": 4, **kw})
    side = 28 if model == "lenet" else 8
    return Learner(recipe, num_classes=3, image_shape=(1, side, side), mean=[0.5], std=[0.25], seed=0)


def _images(n=10, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 1, 8, 8), dtype=np.uint8)


def test_score_at_the_logits_is_softmax_minus_onehot():
    """∂CE(y, ŷ)/∂logits = softmax − 1_y: the Fisher score at the last (linear) layer, by hand."""
    learner, x = _learner(), _images()
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    z, g, p = fisher_descriptors(learner, x, ["head"], y)
    assert np.allclose(g, p - np.eye(3)[y], atol=1e-6)
    assert np.allclose(to_numpy(torch.softmax(torch.tensor(z), 1)), p, atol=1e-6)  # z at "head" = the logits


def test_scores_are_per_sample_whatever_the_batch():
    learner, x = _learner("lenet", eval_batch_size=3), np.random.default_rng(1).integers(0, 256, (7, 1, 28, 28), np.uint8)
    learner_one = _learner("lenet", eval_batch_size=1)
    learner.model = learner_one.model = learner.model  # same weights
    y = np.arange(7) % 3
    za, ga, _ = fisher_descriptors(learner, x, ["conv1", "conv2", "fc1"], y)
    zb, gb, _ = fisher_descriptors(learner_one, x, ["conv1", "conv2", "fc1"], y)
    assert za.shape == (7, 80) and ga.shape == (7, 80)  # L80 = 10 + 20 + 50
    assert np.allclose(za, zb, atol=1e-5) and np.allclose(ga, gb, atol=1e-6)
    assert segment_sizes(learner, ["conv1", "conv2", "fc1"], x) == [10, 20, 50]


def test_passes_counted_as_in_table_1():
    learner, x = _learner(), _images(10)
    fisher_descriptors(learner, x, ["fc2"], np.zeros(10, np.int64))
    assert (learner.counter.forward, learner.counter.backward) == (10, 10)  # 2N
    fisher_descriptors(learner, x, ["fc2"], None)
    assert (learner.counter.forward, learner.counter.backward) == (20, 10)  # descriptors only: N forward


def test_label_callback_sees_the_batch_and_can_use_predictions():
    learner, x = _learner(), _images(10)
    seen = []

    def pred(sl, z, probs):
        seen.append((sl.start, sl.stop, z.shape[1]))
        return probs.argmax(1)

    _, g, p = fisher_descriptors(learner, x, ["head"], pred)
    assert seen == [(0, 4, 3), (4, 8, 3), (8, 10, 3)]
    assert np.allclose(g, p - np.eye(3)[p.argmax(1)], atol=1e-6)


def test_unknown_layer_is_a_clear_error():
    from benchmark.core.errors import AlbenchError

    with pytest.raises(AlbenchError, match="unknown \\['conv9'\\]"):
        fisher_descriptors(_learner(), _images(2), ["conv9"], None)


def test_mc_pseudo_labels_deterministic_counted_and_in_range():
    learner, x = _learner("lenet"), np.random.default_rng(2).integers(0, 256, (5, 1, 28, 28), np.uint8)
    a = mc_pseudo_labels(learner, x, ["conv2"], samples=4, metric="trace", seed=3)
    assert (learner.counter.forward, learner.counter.backward) == (5 * 4, 5 * 4 * 3)  # K and K·D per point
    b = mc_pseudo_labels(learner, x, ["conv2"], samples=4, metric="trace", seed=3)
    assert a.tolist() == b.tolist() and set(a.tolist()) <= {0, 1, 2}
    mi = mc_pseudo_labels(learner, x, ["conv2"], samples=4, metric="mi", seed=3)
    assert set(mi.tolist()) <= {0, 1, 2}


def test_perturbation_is_small_rotation_plus_noise():
    x = torch.zeros(2, 1, 9, 9)
    x[:, :, 4, :] = 1.0  # a horizontal bar
    gen = torch.Generator().manual_seed(0)
    out = perturb(x, max_degrees=0.0, noise_std=0.0, gen=gen)
    assert torch.allclose(out, x, atol=1e-5)
    rotated = perturb(x, max_degrees=5.0, noise_std=0.0, gen=gen)
    assert rotated.sum().item() == pytest.approx(x.sum().item(), rel=0.1)  # a small rotation keeps the bar
