import numpy as np
import pandas as pd
import pytest

from benchmark.core.registry import discover
from benchmark.execute.suite import expand
from benchmark.learn.learner import Learner, LearnerRecipe
from benchmark.scenarios.runner import prepare, run_cell
from tests.conftest import tiny_suite

discover()


@pytest.fixture(scope="module")
def cells():
    return expand(tiny_suite(methods=("random", "entropy", "coreset"), seeds=1)).cells


def test_same_spec_twice_gives_identical_selections_and_metrics(cells):
    a, b = run_cell(cells[2]), run_cell(cells[2])
    assert a.selections.equals(b.selections)
    metric_cols = [c for c in a.rounds.columns if not c.endswith(("_seconds", "_peak_rss_mb", "_gpu_peak_mb"))]
    pd.testing.assert_frame_equal(a.rounds[metric_cols], b.rounds[metric_cols])
    assert np.array_equal(a.predictions, b.predictions)


def test_paired_design_pool_splits_initial_set_do_not_depend_on_method(cells):
    prepared = [prepare(c)[2] for c in cells]
    for s in prepared[1:]:
        for field in ("pool_idx", "val_idx", "test_idx", "initial"):
            assert np.array_equal(getattr(s, field), getattr(prepared[0], field))
    results = [run_cell(c) for c in cells]
    first_rounds = {tuple(r.rounds.loc[0, ["accuracy", "balanced_accuracy"]]) for r in results}
    assert len(first_rounds) == 1  # same initial set, same init weights, same training seed


def test_round_table_columns_and_budget(cells):
    r = run_cell(cells[1])
    sc = cells[1].scenario
    assert r.rounds["round"].tolist() == list(range(sc["rounds"] + 1))
    assert r.rounds["labels_used"].tolist() == [sc["initial"] + b * sc["per_round"] for b in range(sc["rounds"] + 1)]
    for col in ("accuracy", "balanced_accuracy", "minority_accuracy", "classes_discovered", "labelled_ir",
                "train_seconds", "infer_forward", "train_backward", "select_seconds", "infer_peak_rss_mb"):
        assert col in r.rounds.columns, col
    assert r.rounds["train_backward"].iloc[1] > 0
    assert r.rounds["infer_forward"].iloc[0] > 0  # entropy needs probabilities
    assert r.rounds["infer_forward"].iloc[-1] == 0  # no selection after the last round
    assert len(r.selections) == sc["initial"] + sc["rounds"] * sc["per_round"]
    assert r.selections["position"].is_unique


def test_random_infers_nothing():
    spec = expand(tiny_suite(methods=("random",))).cells[0]
    r = run_cell(spec)
    assert (r.rounds["infer_forward"] == 0).all()


def test_zero_initial_labels_selects_from_the_initial_model():
    suite = tiny_suite(methods=("entropy",))
    suite["scenario"] = {**suite["scenario"], "initial": 0}
    r = run_cell(expand(suite).cells[0])
    assert r.rounds.loc[0, "labels_used"] == 0 and np.isnan(r.rounds.loc[0, "labelled_ir"])
    assert r.rounds["labels_used"].iloc[-1] == 10


def test_budget_larger_than_pool_is_a_clear_error():
    from benchmark.core.errors import AlbenchError

    suite = tiny_suite(methods=("random",))
    suite["scenario"] = {**suite["scenario"], "rounds": 100, "per_round": 50}
    with pytest.raises(AlbenchError, match="exceeds the imbalanced pool"):
        run_cell(expand(suite).cells[0])


def test_lenet_descriptors_match_the_cvpr_sizes():
    learner = Learner(LearnerRecipe(model="lenet"), 10, (1, 28, 28), (0.13,), (0.31,), seed=0)
    x = np.random.default_rng(0).integers(0, 255, (6, 1, 28, 28), dtype=np.uint8)
    assert learner.embed(x, ["conv2"]).shape == (6, 20)  # L20
    assert learner.embed(x, ["conv1", "conv2", "fc1"]).shape == (6, 80)  # L80
    assert learner.counter.forward == 12


def test_dropout_is_off_unless_mc_dropout_is_asked():
    x = np.random.default_rng(0).integers(0, 255, (4, 1, 28, 28), dtype=np.uint8)
    off = Learner(LearnerRecipe(model="lenet"), 10, (1, 28, 28), (0.13,), (0.31,), seed=0)
    on = Learner(LearnerRecipe(model="lenet"), 10, (1, 28, 28), (0.13,), (0.31,), seed=0, use_dropout=True)
    assert all(m.p == 0 for m in off.model.modules() if hasattr(m, "p"))
    mc = on.mc_dropout_proba(x, samples=5, seed=0)
    assert mc.shape == (5, 4, 10) and not np.allclose(mc[0], mc[1])
    assert np.allclose(on.predict_proba(x), on.predict_proba(x))  # eval mode is deterministic


@pytest.mark.parametrize("model", ["timm/resnet18", "torchvision/resnet18"])
def test_external_models_by_name_train_and_embed(model):
    recipe = LearnerRecipe(model=model, epochs=1, batch_size=4)
    learner = Learner(recipe, 3, (1, 32, 32), (0.5,), (0.5,), seed=0)
    x = np.random.default_rng(0).integers(0, 255, (8, 1, 32, 32), dtype=np.uint8)
    learner.fit(x, np.arange(8) % 3, round_seed=0)
    assert learner.predict_proba(x).shape == (8, 3)
    assert learner.embed(x).shape == (8, 512)


def test_checkpoint_init_keeps_backbone_and_fresh_head(tmp_path):
    import torch

    src = Learner(LearnerRecipe(model="lenet"), 4, (1, 28, 28), (0.1,), (0.3,), seed=1)
    path = tmp_path / "backbone.pt"
    torch.save(src.model.state_dict(), path)
    dst = Learner(LearnerRecipe(model="lenet", init=str(path)), 10, (1, 28, 28), (0.1,), (0.3,), seed=2)
    assert torch.equal(dst.model.conv1.weight, src.model.conv1.weight)
    assert dst.model.fc2.weight.shape == (10, 50)
    from benchmark.core.errors import AlbenchError

    with pytest.raises(AlbenchError, match="does not exist"):
        Learner(LearnerRecipe(model="lenet", init=str(tmp_path / "missing.pt")), 10, (1, 28, 28), (0.1,), (0.3,), seed=0)
