"""The self-supervised (SimCLR) pool embedding: its pieces, its cache, its sharing across cells and
methods of a setting, the ``embedding:`` method parameter, and the refusal where a scenario has none."""
import json
import math

import numpy as np
import pytest
import torch

from benchmark.core.errors import AlbenchError, SuiteError
from benchmark.core.registry import METHODS, discover
from benchmark.execute.suite import expand
from benchmark.learn.contrastive import SimCLRRecipe, augment, nt_xent, ssl_embedding, ssl_key
from benchmark.scenarios.runner import run_cell
from benchmark.select.api import SelectionView
from tests.conftest import TINY_SCENARIO, tiny_suite

discover()
TINY = SimCLRRecipe(steps=3, batch_size=16, width=4)


def test_nt_xent_by_hand():
    # two images, their two views identical and orthogonal to the other image's: for each of the 4 views the
    # logits over the 3 others are (partner 1/τ, 0, 0), so the loss is −log(e^{1/τ} / (e^{1/τ} + 2))
    z = torch.eye(2)
    tau = 0.5
    assert math.isclose(float(nt_xent(z, z, tau)), -math.log(math.exp(2) / (math.exp(2) + 2)), rel_tol=1e-6)
    # swapping the partners makes every positive the orthogonal view: −log(1 / (e^{1/τ} + 2))
    assert math.isclose(float(nt_xent(z, z.flip(0), tau)), math.log(math.exp(2) + 2), rel_tol=1e-6)


def test_augment_draws_per_image_and_is_seeded():
    x = torch.rand(1, 1, 12, 12).repeat(6, 1, 1, 1)  # six copies of one image
    a = augment(x, torch.Generator().manual_seed(0), 0.4, 15.0)
    b = augment(x, torch.Generator().manual_seed(0), 0.4, 15.0)
    assert a.shape == x.shape and torch.equal(a, b)
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    assert len({tuple(v.flatten().tolist()) for v in a}) == 6  # every copy got its own crop


def test_embedding_is_computed_once_and_cached_with_its_recipe(tmp_path, monkeypatch):
    monkeypatch.setenv("ALBENCH_CACHE", str(tmp_path))
    images = np.random.default_rng(0).integers(0, 256, (40, 1, 8, 8), np.uint8)
    key = ssl_key({"name": "d"}, {"name": "none"}, 0, np.arange(40), TINY)
    emb, computed, path = ssl_embedding(key, images, TINY, 1, torch.device("cpu"))
    assert computed and emb.shape == (40, 4 * TINY.width) and emb.dtype == np.float32
    again, computed_again, path_again = ssl_embedding(key, images, TINY, 1, torch.device("cpu"))
    assert not computed_again and path_again == path and np.array_equal(again, emb)
    meta = json.loads((path.parent / f"{path.name}.json").read_text())
    assert meta["recipe"]["steps"] == 3 and meta["objective"] == "simclr" and meta["seconds"] >= 0
    other = ssl_key({"name": "d"}, {"name": "none"}, 0, np.arange(1, 41), TINY)  # another pool: another artifact
    assert ssl_embedding(other, images, TINY, 1, torch.device("cpu"))[1]


def test_embedding_is_deterministic_for_a_seed(tmp_path, monkeypatch):
    images = np.random.default_rng(1).integers(0, 256, (30, 1, 8, 8), np.uint8)
    key = ssl_key({"name": "d"}, {"name": "none"}, 0, np.arange(30), TINY)
    monkeypatch.setenv("ALBENCH_CACHE", str(tmp_path / "a"))
    a = ssl_embedding(key, images, TINY, 3, torch.device("cpu"))[0]
    monkeypatch.setenv("ALBENCH_CACHE", str(tmp_path / "b"))
    b = ssl_embedding(key, images, TINY, 3, torch.device("cpu"))[0]
    assert np.array_equal(a, b)


def test_cells_and_methods_of_a_setting_share_one_embedding(tmp_path, monkeypatch):
    """Computed by the first cell that asks (phase pretrain), loaded by every later cell and method of
    the same (dataset, imbalance, seed, recipe); a method that does not ask never computes it."""
    monkeypatch.setenv("ALBENCH_CACHE", str(tmp_path))  # empty: the session's cache may hold this pool's
    suite = tiny_suite(methods=("random", "typiclust", "probcover", {"name": "coreset", "embedding": "self_supervised"}))
    rnd, typ, prob, core = expand(suite).cells
    first, second, third = run_cell(typ), run_cell(prob), run_cell(core)
    assert "self-supervised embedding computed" in first.log
    assert "self-supervised embedding loaded from cache" in second.log
    assert "self-supervised embedding loaded from cache" in third.log
    assert first.rounds.loc[0, "pretrain_backward"] > 0
    assert second.rounds.loc[0, "pretrain_backward"] == 0 and third.rounds.loc[0, "pretrain_backward"] == 0
    plain = run_cell(rnd)
    assert "self-supervised" not in plain.log and plain.rounds.loc[0].get("pretrain_backward", 0) == 0
    # the classifier is unaffected: every method of the setting trains the same first model
    assert first.rounds.loc[0, "accuracy"] == plain.rounds.loc[0, "accuracy"]


def test_another_recipe_is_another_artifact(tmp_path, monkeypatch):
    monkeypatch.setenv("ALBENCH_CACHE", str(tmp_path))
    first = run_cell(expand(tiny_suite(methods=("typiclust",))).cells[0])
    assert "self-supervised embedding computed" in first.log
    suite = tiny_suite(methods=("typiclust",), scenario={**TINY_SCENARIO, "ssl": {**TINY_SCENARIO["ssl"], "steps": 5}})
    assert "self-supervised embedding computed" in run_cell(expand(suite).cells[0]).log


def test_oneshot_suite_refuses_a_self_supervised_method_when_it_loads():
    oneshot = {"kind": "oneshot", "budget": 10, "target_classes": [5, 6, 7, 8, 9],
               "source": {"model": "small_cnn", "train": {"classes": [0, 1, 2, 3, 4], "epochs": 1}}}
    with pytest.raises(SuiteError, match="self-supervised embedding of the pool .* set embedding: learner") as info:
        expand(tiny_suite(methods=("typiclust",), scenario=oneshot))
    assert "\n" not in str(info.value)
    with pytest.raises(SuiteError, match="self-supervised"):
        expand(tiny_suite(methods=({"name": "coreset", "embedding": "self_supervised"},), scenario=oneshot))
    cells = expand(tiny_suite(methods=({"name": "typiclust", "embedding": "learner"},), scenario=oneshot)).cells
    assert cells  # with the source features it is accepted


def test_bad_ssl_recipe_and_bad_embedding_are_one_line_errors():
    with pytest.raises(SuiteError, match=r"scenario\.ssl"):
        expand(tiny_suite(scenario={**TINY_SCENARIO, "ssl": {"stepz": 3}}))
    with pytest.raises(SuiteError, match=r"scenario\.ssl\.temperature"):
        expand(tiny_suite(scenario={**TINY_SCENARIO, "ssl": {"temperature": 0}}))
    for name in ("typiclust", "probcover", "coreset", "badge"):
        with pytest.raises(AlbenchError, match="embedding must be one of"):
            METHODS.create(name, embedding="simclr")
    with pytest.raises(AlbenchError, match="needs embedding: learner"):
        METHODS.create("coreset", layers=["conv1"], embedding="self_supervised")


def test_defaults_and_needs():
    assert METHODS.create("typiclust").needs().ssl_embeddings and not METHODS.create("typiclust").needs().embeddings
    assert METHODS.create("probcover").needs().ssl_embeddings
    assert METHODS.create("typiclust", embedding="learner").needs().embeddings
    assert not METHODS.create("coreset").needs().ssl_embeddings and not METHODS.create("badge").needs().ssl_embeddings
    assert METHODS.create("badge", embedding="self_supervised").needs().ssl_embeddings


def _view(z, n_labelled=0):
    n = len(z)
    return SelectionView(unlabelled=np.arange(n_labelled, n), labelled=np.arange(n_labelled),
                         labelled_y=np.zeros(n_labelled, np.int64), num_classes=2, round=0,
                         ssl_embeddings=z[n_labelled:], labelled_ssl_embeddings=z[:n_labelled])


def test_coreset_selects_in_the_self_supervised_embedding():
    # labelled centre at 0; greedy k-center takes the farthest point (10), then the one farthest from {0, 10} (4)
    z = np.array([[0.0], [1.0], [10.0], [4.0], [9.0]], np.float32)
    picks = METHODS.create("coreset", embedding="self_supervised").select(_view(z, 1), 2, np.random.default_rng(0))
    assert picks.tolist() == [2, 3]


def test_badge_seeds_round_zero_in_the_self_supervised_embedding():
    # nothing labelled: k-means++ over z. First centre max ‖z‖ (row 0; ties to the lower row), then D² sampling:
    # rows 0 and 1 coincide (D² = 0), so the second centre can only be row 2
    z = np.array([[5.0, 0.0], [5.0, 0.0], [0.0, 0.0]], np.float32)
    for seed in range(5):
        picks = METHODS.create("badge", embedding="self_supervised").select(_view(z), 2, np.random.default_rng(seed))
        assert picks.tolist() == [0, 2]
