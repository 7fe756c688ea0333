"""The scenario plugin contract: a scenario says what a round is; ``run_cell`` runs every scenario.

A scenario is a frozen dataclass built from the ``scenario:`` mapping of a suite (``kind`` picks
the registered class). ``prepare`` loads the data and returns an :class:`Episode`: the cell's paired
splits, its oracle and its task model. The runner then does, for each round, train → evaluate →
infer what the method needs → select → label, and stores one row per evaluated round.

A new protocol is one file: subclass ``Scenario`` and ``Episode``, register with
``@register_scenario("name")`` and list which ``Needs`` fields it can provide in ``provides``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchmark.core.errors import SuiteError
from benchmark.core.profiling import CellLog, PassCounter, PhaseTimer
from benchmark.core.seeding import rng_for
from benchmark.core.spec import CellSpec
from benchmark.data.oracle import Oracle
from benchmark.data.pool import ImagePool
from benchmark.data.splits import Splits
from benchmark.select.api import Needs, QueryStrategy, SelectionView

NEED_FIELDS = tuple(f.name for f in fields(Needs))


class Episode(ABC):  # noqa: B024  (start/scripted_batch/... have working defaults)
    """One cell's prepared state. Rows: the runner evaluates round b when ``evaluates(b, n_labelled)``."""

    spec: CellSpec
    splits: Splits
    oracle: Oracle
    num_classes: int
    rounds: int
    device: str = "cpu"

    @abstractmethod
    def per_round(self, b: int) -> int:
        """Labels chosen in selection round b (0-based)."""

    def start(self, needs: Needs) -> None:
        """Build what the method needs before round 0 (task models, ensemble members); none here."""
        return None

    def state(self) -> Any:
        """What a round checkpoint must keep of the episode (the task models' weights when they carry
        over between rounds); None when every round rebuilds it from the seeds."""
        return None

    def restore(self, state: Any) -> None:
        """Undo ``state()`` on a freshly started episode (resuming a cell)."""
        return None

    def scripted_batch(self, b: int) -> np.ndarray | None:
        """Pool positions every method takes in round b instead of selecting (None: the method selects)."""
        return None

    def select_rng(self, b: int) -> np.random.Generator:
        """The generator a method selects with in round b."""
        return rng_for("select", self.spec.cell_id, b)

    def evaluates(self, b: int, n_labelled: int) -> bool:
        """Whether round b has a model to evaluate (iterative: always; one-shot: once labelled)."""
        return True

    @abstractmethod
    def fit(self, labelled: np.ndarray, labelled_y: np.ndarray, b: int) -> dict[str, Any]:
        """Train the task model on the labels held after b rounds (the *train* phase)."""

    @abstractmethod
    def predict_test(self) -> np.ndarray:
        """Predicted test labels (the *evaluate* phase)."""

    @abstractmethod
    def view(self, needs: Needs, method: QueryStrategy, labelled: np.ndarray, labelled_y: np.ndarray,
             unlabelled: np.ndarray, b: int) -> SelectionView:
        """Compute exactly what ``needs`` asks for (the *infer* phase)."""

    def row_extras(self, fit_info: Mapping[str, Any]) -> dict[str, Any]:
        """Scenario-specific per-round columns."""
        return dict(fit_info)

    def summary_extras(self) -> dict[str, Any]:
        return {}


class Scenario(ABC):
    """A protocol. Subclasses are frozen dataclasses whose fields are the scenario keys."""

    provides: ClassVar[frozenset[str]]  # the Needs fields this scenario can compute
    version: ClassVar[str] = "1"

    @classmethod
    @abstractmethod
    def from_mapping(cls, d: Mapping[str, Any]) -> Scenario:
        """Validate the ``scenario:`` mapping; a SuiteError names the key and what is allowed."""

    @property
    @abstractmethod
    def budget(self) -> int | str:
        """Labels a method may spend in the cell (``"full"`` for a reference cell)."""

    @abstractmethod
    def load_splits(self, spec: CellSpec, root: str | Path | None) -> tuple[ImagePool, Splits]:
        """The dataset and the cell's paired splits (what reports need to rebuild a cell's test set)."""

    @abstractmethod
    def prepare(self, spec: CellSpec, root: str | Path | None, timer: PhaseTimer, counter: PassCounter,
                log: CellLog) -> Episode:
        """Load the data, make the paired splits and the task model (the *load* phase and more)."""

    def reference_cells(self, spec: CellSpec) -> list[CellSpec]:
        """Cells a suite must add beside ``spec`` (the one-shot acc_full cell)."""
        return []

    def check_method(self, method_name: str, needs: Needs) -> None:
        """Refuse, when the suite expands, a method whose needs this scenario cannot provide."""
        wanted = [f for f in NEED_FIELDS if f != "feature_layers" and getattr(needs, f)]
        missing = [f for f in wanted if f not in self.provides]
        kind = getattr(self, "kind", type(self).__name__)
        if "ssl_embeddings" in missing:
            raise SuiteError(
                f"Method {method_name!r} selects in a self-supervised embedding of the pool (embedding: "
                f"self_supervised), which the {kind!r} scenario cannot provide (it has no unlabelled pool images to "
                f"learn one from); set embedding: learner for this method, or use an iterative or coldstart scenario.")
        if missing:
            raise SuiteError(
                f"Method {method_name!r} needs {', '.join(missing)}, which the {kind!r} scenario does not "
                f"provide (it provides {', '.join(sorted(self.provides))}). Use another scenario kind "
                f"(`albench list scenarios -v`) or another method.")
