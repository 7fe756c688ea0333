"""The local executor's choice of the next cell: spread workers over (dataset, imbalance, seed) so that
no worker waits for a shared artifact (rotation pretraining, SSL embedding, source features) that
another worker is computing."""
from __future__ import annotations

from collections import deque

import pytest

from benchmark.execute.ordering import shared_key, take_next
from benchmark.execute.suite import load_suite


@pytest.fixture(scope="module")
def cells():
    """fk-mnist-1-fk's 60 cells: 6 methods × 10 seeds, seeds outermost as every suite expands them."""
    return load_suite("fk-mnist-1-fk").cells


def test_suites_expand_seeds_outside_methods(cells) -> None:
    # the premise of the ordering: taken in order, two workers would start on the same seed
    assert cells[0].seed == cells[1].seed == 0
    assert shared_key(cells[0]) == shared_key(cells[1])
    assert cells[0].method != cells[1].method


def test_idle_worker_takes_a_cell_of_another_seed(cells) -> None:
    queue = deque(cells[1:])
    picked = take_next(queue, [cells[0]])
    assert picked.seed == 1 and picked == cells[6]
    assert len(queue) == len(cells) - 2 and picked not in queue
    assert list(queue)[:5] == list(cells[1:6])  # the rest keep their order


def test_worker_returns_to_the_first_seed_once_it_is_free(cells) -> None:
    queue = deque(c for c in cells if c not in (cells[0], cells[6]))
    picked = take_next(queue, [cells[6]])  # seed 0's first cell has finished; seed 1 is running
    assert picked == cells[1]


def test_head_of_queue_when_every_pending_cell_shares_a_running_seed(cells) -> None:
    seed0 = [c for c in cells if c.seed == 0]
    queue = deque(seed0[1:])
    assert take_next(queue, [seed0[0]]) == seed0[1]
    assert take_next(deque(seed0[2:]), []) == seed0[2]


def test_the_key_is_dataset_imbalance_and_seed_only(cells) -> None:
    same_seed = [c for c in cells if c.seed == 3]
    assert len({shared_key(c) for c in same_seed}) == 1
    assert len({shared_key(c) for c in cells}) == 10
