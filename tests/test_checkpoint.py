"""Round-level checkpoints: an interrupted cell resumes at its last finished round and ends exactly
as an uninterrupted run (selections, metrics, predictions); only timing columns differ."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark.execute.suite import expand
from benchmark.scenarios.runner import run_cell
from tests.conftest import TINY_LEARNER, tiny_suite

TIMING = ("_seconds", "_peak_rss_mb", "_gpu_peak_mb", "_forward", "_backward")


class Stop(Exception):
    pass


def _interrupt_after(round_: int):
    def on_round(row):
        if row["round"] == round_:
            raise Stop

    return on_round


def _comparable(result):
    cols = [c for c in result.rounds.columns if not c.endswith(TIMING)]
    return result.rounds[cols]


@pytest.mark.parametrize("method, learner", [
    ("cluster_margin", TINY_LEARNER),  # keeps its clustering on the method object between rounds
    ("entropy", {**TINY_LEARNER, "warm_start": True}),  # the task model's weights carry over
    ({"name": "margin+bal"}, TINY_LEARNER),  # labels inside select through the round's oracle
])
def test_a_resumed_cell_equals_an_uninterrupted_one(tmp_path, method, learner):
    spec = expand(tiny_suite(methods=(method,), learner=learner,
                             scenario={"initial": 10, "rounds": 3, "per_round": 5, "val_per_class": 3})).cells[0]
    whole = run_cell(spec)
    folder = tmp_path / "ckpt"
    with pytest.raises(Stop):
        run_cell(spec, checkpoints=folder, on_round=_interrupt_after(1))
    assert (folder / "round.pkl").is_file()
    resumed = run_cell(spec, checkpoints=folder)
    assert "resumed from the checkpoint after round 1" in resumed.log
    assert resumed.selections.equals(whole.selections)
    assert _comparable(resumed).equals(_comparable(whole))
    assert np.array_equal(resumed.predictions, whole.predictions)
    assert resumed.summary["forward_passes"] == whole.summary["forward_passes"]


def test_a_checkpoint_of_another_cell_is_ignored(tmp_path):
    a, b = expand(tiny_suite(methods=("random", "entropy"))).cells
    folder = tmp_path / "ckpt"
    with pytest.raises(Stop):
        run_cell(a, checkpoints=folder, on_round=_interrupt_after(0))
    result = run_cell(b, checkpoints=folder)
    assert "resumed" not in result.log and result.rounds["round"].tolist() == [0, 1, 2]
