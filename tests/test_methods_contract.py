"""Contract tests run over every registered method (a new plugin file is picked up automatically)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from benchmark.learner import Learner, LearnerRecipe
from benchmark.loop import build_view, prepare
from benchmark.registry import METHODS, discover
from benchmark.suite import expand
from tests.conftest import tiny_suite

discover()
ALL_METHODS = METHODS.names()
K = 7


def _spec(method: str):
    return expand(tiny_suite(methods=(method,))).cells[0]


def _view(method_name: str, pool=None, initial=None):
    spec = _spec(method_name)
    base_pool, sc, splits = prepare(spec)
    pool = pool or base_pool
    method = _create(method_name)
    needs = method.needs()
    members = [Learner(LearnerRecipe.from_mapping(spec.learner), pool.num_classes, pool.image_shape,
                       pool.mean, pool.std, seed=1 + m, use_dropout=needs.mc_dropout > 0)
               for m in range(max(1, needs.ensemble))]
    labelled = splits.initial if initial is None else initial
    ly = pool.train_y[splits.pool_idx[labelled]]
    if len(labelled):
        for m, learner in enumerate(members):
            learner.fit(pool.train_x[splits.pool_idx[labelled]], ly, round_seed=2 + m)
    unlabelled = np.setdiff1d(np.arange(len(splits.pool_idx)), labelled)
    hidden = pool.train_y[splits.pool_idx] if method.uses_hidden_labels else None
    view = build_view(needs, members[0], pool.train_x[splits.pool_idx], pool.train_x[splits.val_idx],
                      pool.train_y[splits.val_idx], labelled, ly, unlabelled, pool.num_classes, 0, seed=3,
                      members=members, hidden_y=hidden)
    return method, view, base_pool, splits


def _create(name: str):
    """Methods may declare ``contract_params``: cheaper settings (fewer MC passes or training
    steps) for these tiny-data tests; the algorithm is the same."""
    return METHODS.create(name, **getattr(METHODS.get(name), "contract_params", {}))


@pytest.mark.parametrize("name", ALL_METHODS)
def test_returns_k_unique_unlabelled_indices(name):
    method, view, _, _ = _view(name)
    chosen = np.asarray(method.select(view, K, np.random.default_rng(0)))
    assert chosen.shape == (K,)
    assert len(np.unique(chosen)) == K
    assert np.isin(chosen, view.unlabelled).all()
    assert not np.isin(chosen, view.labelled).any()


@pytest.mark.parametrize("name", ALL_METHODS)
def test_deterministic_for_a_seed(name):
    method, view, _, _ = _view(name)
    a = method.select(view, K, np.random.default_rng(42))
    b = _create(name).select(view, K, np.random.default_rng(42))
    assert np.array_equal(a, b)


@pytest.mark.parametrize("name", ALL_METHODS)
def test_does_not_mutate_the_view(name):
    method, view, _, _ = _view(name)
    before = {f: np.array(getattr(view, f), copy=True) for f in ("unlabelled", "labelled", "labelled_y", "probs",
                                                                 "features", "labelled_features", "mc_probs", "images")
              if getattr(view, f) is not None}
    method.select(view, K, np.random.default_rng(0))
    for field, value in before.items():
        assert np.array_equal(getattr(view, field), value), field
        assert not getattr(view, field).flags.writeable, field


@pytest.mark.parametrize("name", ALL_METHODS)
def test_never_sees_unrevealed_labels(name):
    """Permuting the hidden labels of unlabelled pool points must not change the selection
    (oracle ablations excepted: they must say so in their name and flag)."""
    if METHODS.get(name).uses_hidden_labels:
        assert "oracle" in name, f"{name} reads hidden labels: its name must say 'oracle'"
        return
    method, view, pool, splits = _view(name)
    chosen = method.select(view, K, np.random.default_rng(0))
    hidden = np.setdiff1d(splits.pool_idx, splits.pool_idx[splits.initial])
    y = pool.train_y.copy()
    y[hidden] = np.random.default_rng(5).permutation(y[hidden])
    method2, view2, _, _ = _view(name, pool=replace(pool, train_y=y))
    assert np.array_equal(chosen, method2.select(view2, K, np.random.default_rng(0)))


def test_hidden_labels_only_for_declared_oracles():
    from benchmark.oracle import Oracle
    from benchmark.strategy import Needs

    class Sneaky:
        uses_hidden_labels = False

    oracle = Oracle(np.arange(10) % 3, budget=5)
    assert oracle.hidden_for_ablation(Sneaky()) is None
    assert oracle.hidden_for_ablation(METHODS.create("pfk_oracle")).tolist() == (np.arange(10) % 3).tolist()
    from benchmark.errors import AlbenchError

    learner = Learner(LearnerRecipe.from_mapping({"model": "small_cnn"}), 3, (1, 8, 8), [0.5], [0.25], seed=0)
    with pytest.raises(AlbenchError, match="hidden labels"):  # no hidden_y passed: the method did not declare it
        build_view(Needs(hidden_labels=True), learner, np.zeros((10, 1, 8, 8), np.uint8),
                   np.zeros((0, 1, 8, 8), np.uint8), np.zeros(0, np.int64), np.zeros(0, np.int64),
                   np.zeros(0, np.int64), np.arange(10), 3, 0, seed=0)


@pytest.mark.parametrize("name", ALL_METHODS)
def test_works_with_no_labelled_points(name):
    method, view, _, _ = _view(name, initial=np.zeros(0, dtype=np.int64))
    chosen = method.select(view, K, np.random.default_rng(0))
    assert len(np.unique(chosen)) == K


@pytest.mark.parametrize("name", ALL_METHODS)
def test_has_docstring_and_version(name):
    factory = METHODS.get(name)
    assert (factory.__doc__ or "").strip(), f"{name} needs a docstring citing its paper/equation"
    assert isinstance(getattr(factory, "version", None), str)


def test_uncertainty_methods_pick_the_most_uncertain():
    from benchmark.strategy import SelectionView

    probs = np.array([[0.98, 0.01, 0.01], [0.4, 0.3, 0.3], [0.45, 0.44, 0.11], [0.7, 0.2, 0.1]])
    view = SelectionView(unlabelled=np.array([10, 11, 12, 13]), labelled=np.zeros(0, np.int64),
                         labelled_y=np.zeros(0, np.int64), num_classes=3, round=0, probs=probs)
    rng = np.random.default_rng(0)
    assert METHODS.create("entropy").select(view, 1, rng).tolist() == [11]
    assert METHODS.create("least_confidence").select(view, 1, rng).tolist() == [11]
    assert METHODS.create("margin").select(view, 1, rng).tolist() == [12]  # margin 0.01
