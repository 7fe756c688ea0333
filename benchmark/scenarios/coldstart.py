"""Cold-start AL: nothing is labelled at the start, and the first batch is drawn before any task
model has seen a label (Hacohen et al., ICML 2022, the low-budget regime; Gudovskiy et al. 2020's
"random first batch" rule for MC-dropout methods in their official code).

The rounds are the iterative scenario's, with ``initial`` fixed at 0. ``first_round`` says who
chooses round 0's batch: ``method`` (the method, from the untrained or self-supervised model) or
``random`` (a uniformly random batch for every method, drawn from the cell's paired seed so that
all methods share it; the method takes over from round 1).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import numpy as np

from benchmark.core.errors import Rule, SuiteError
from benchmark.core.registry import register_scenario
from benchmark.core.seeding import rng_for
from benchmark.scenarios.iterative import ITERATIVE_PROVIDES, IterativeScenario
from benchmark.select.api import FIRST_ROUND  # the same choices as a method's own first_round


@register_scenario("coldstart")
@dataclass(frozen=True)
class ColdStartScenario(IterativeScenario):
    """Iterative rounds from an empty labelled set; see the module docstring."""

    initial: int = 0
    first_round: str = "random"
    kind: str = "coldstart"

    provides: ClassVar[frozenset[str]] = ITERATIVE_PROVIDES

    rules: ClassVar[Mapping[str, Rule]] = {**IterativeScenario.rules, "rounds": Rule(low=1),
                                           "first_round": Rule(choices=FIRST_ROUND)}

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any]) -> ColdStartScenario:
        sc = cast(ColdStartScenario, super().from_mapping(d))
        if sc.initial != 0:
            raise SuiteError(f"scenario.initial must be 0 in a cold start (got {sc.initial}); "
                             f"use kind: iterative for a random initial set.")
        return sc

    def first_batch(self, pool_size: int, paired_key: Any) -> np.ndarray | None:
        """Round 0's batch when ``first_round: random`` (pool positions), else None."""
        if self.first_round != "random":
            return None
        return np.sort(rng_for("coldstart", paired_key).choice(pool_size, self.per_round, replace=False))
