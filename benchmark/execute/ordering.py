"""Which pending cell an idle worker takes next.

Cells of one (dataset, imbalance, seed) share that setting's one-time artifacts: rotation
pretraining, the pool's self-supervised embedding, the one-shot source model's features
(``benchmark.core.cache``: the first process computes each under a file lock, the others wait for
it). A suite expands seeds outside methods, so taking the queue in order hands every worker a cell
of the same seed, and all but one of them sit waiting while that seed's artifact is computed. An
idle worker therefore takes the first pending cell whose (dataset, imbalance, seed) no running cell
has, and the head of the queue only when every pending cell shares a running one's: two workers
pretrain two seeds at once instead of one after the other. Results do not depend on the order
(a cell's artifacts are a function of its spec, whoever computes them).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from benchmark.core.seeding import canonical_json
from benchmark.core.spec import CellSpec


def shared_key(spec: CellSpec) -> str:
    """The (dataset, imbalance, seed) whose one-time artifacts the cell reads."""
    return canonical_json({"dataset": spec.dataset.to_dict(), "imbalance": spec.imbalance.to_dict(),
                           "seed": int(spec.seed)})


def take_next(queue: deque[CellSpec], running: Iterable[CellSpec]) -> CellSpec:
    """Remove and return the first queued cell that shares no (dataset, imbalance, seed) with a
    running cell; the queue's head when there is none. The queue must not be empty."""
    busy = {shared_key(s) for s in running}
    for i, spec in enumerate(queue):
        if shared_key(spec) not in busy:
            del queue[i]
            return spec
    return queue.popleft()
