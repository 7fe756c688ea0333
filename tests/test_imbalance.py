import numpy as np
import pytest

from benchmark.core.errors import AlbenchError
from benchmark.core.registry import IMBALANCES, discover
from benchmark.data.pool import imbalance_ratio
from benchmark.execute.suite import expand
from benchmark.scenarios.runner import prepare
from tests.conftest import tiny_suite

discover()
LABELS = np.repeat(np.arange(10), 200)


def counts(induced):
    return np.bincount(LABELS[induced.kept], minlength=10)


def test_step_decimates_digits_5_to_9_by_the_ratio():
    induced = IMBALANCES.create("step", ratio=100).apply(LABELS, 10, np.random.default_rng(0))
    assert counts(induced).tolist() == [200] * 5 + [2] * 5
    assert induced.minority_classes == (5, 6, 7, 8, 9)
    assert induced.achieved_ir == pytest.approx(imbalance_ratio(np.array([200] * 5 + [2] * 5)))


def test_step_ratio_one_keeps_everything():
    induced = IMBALANCES.create("step", ratio=1).apply(LABELS, 10, np.random.default_rng(0))
    assert len(induced.kept) == len(LABELS) and induced.minority_classes == ()


def test_step_many_classes_decimates_a_random_half():
    labels = np.repeat(np.arange(40), 20)
    induced = IMBALANCES.create("step", ratio=10).apply(labels, 40, np.random.default_rng(1))
    c = np.bincount(labels[induced.kept], minlength=40)
    assert len(induced.minority_classes) == 20
    assert all(c[m] == 2 for m in induced.minority_classes)
    assert sorted(set(range(40)) - set(induced.minority_classes)) == [i for i in range(40) if c[i] == 20]


@pytest.mark.parametrize("target", [0.3, 0.75, 1.2])
def test_target_ir_hits_the_target_within_tolerance(target):
    imb = IMBALANCES.create("target_ir", ir=target, tolerance=0.01)
    induced = imb.apply(LABELS, 10, np.random.default_rng(0))
    assert abs(induced.achieved_ir - target) <= 0.01
    assert induced.achieved_ir == pytest.approx(imbalance_ratio(counts(induced)))
    assert induced.info["target_ir"] == target


def test_target_ir_unreachable_is_a_clear_error():
    with pytest.raises(AlbenchError, match="cannot be reached|already more imbalanced"):
        IMBALANCES.create("target_ir", ir=0.5, tolerance=0.0001).apply(np.repeat(np.arange(3), 2), 3,
                                                                       np.random.default_rng(0))


def test_longtail_profile_spans_the_ratio():
    induced = IMBALANCES.create("longtail", ratio=100).apply(LABELS, 10, np.random.default_rng(0))
    c = np.sort(counts(induced))
    assert c[-1] == 200 and c[0] == 2
    assert np.all(np.diff(c) >= 0)


def test_only_the_pool_is_skewed_validation_and_test_stay_balanced():
    spec = expand(tiny_suite(methods=("random",), imbalance={"name": "step", "ratio": 10})).cells[0]
    pool, sc, splits = prepare(spec)
    assert len(set(np.bincount(pool.train_y[splits.val_idx]).tolist())) == 1
    assert len(set(np.bincount(pool.test_y[splits.test_idx]).tolist())) == 1
    pool_counts = np.bincount(pool.train_y[splits.pool_idx], minlength=10)
    assert pool_counts[:5].min() > 3 * pool_counts[5:].max()
    assert not set(splits.val_idx) & set(splits.pool_idx)
