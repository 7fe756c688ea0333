"""Which labels the validation points' Fisher scores use, per pseudo-label kind (CVPR 2020 Alg. 1 line 4,
as the official code's ``gen_descr`` does it): S = ŷ labels validation points by the model's own
prediction, S = p̂(y, z) and the oracle by their trusted labels."""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from benchmark.core.registry import METHODS, discover
from benchmark.learn.fisher import fisher_descriptors
from benchmark.testing import tiny_round

discover()
fk = sys.modules[METHODS.get("pfk").__module__]  # plugin files are imported by path


def _validation_labels(method, monkeypatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels its validation Fisher pass differentiated, the validation predictions, the trusted labels)."""
    seen = []

    def spy(learner, x, layers, labels):
        z, g, p = fisher_descriptors(learner, x, layers, labels)
        if not seen:  # the first pass is the validation one (lines 3-4)
            if callable(labels):
                labels = np.asarray(labels(slice(0, len(x)), None, torch.as_tensor(p)))
            seen.append((np.asarray(labels), p.argmax(1)))
        return z, g, p

    monkeypatch.setattr(fk, "fisher_descriptors", spy)
    view, _ = tiny_round(method)
    method.select(view, 5, np.random.default_rng(0))
    used, predicted = seen[0]
    return used, predicted, np.asarray(view.val_y)


def test_s_hat_y_labels_the_validation_points_by_the_models_prediction(monkeypatch):
    used, predicted, trusted = _validation_labels(fk.PracticalFisherKernel(labels="pred"), monkeypatch)
    assert np.array_equal(used, predicted)
    assert not np.array_equal(used, trusted)  # the tiny model is far from perfect: the two differ


@pytest.mark.parametrize("method", [fk.PracticalFisherKernel(labels="pyz"), fk.OracleFisherKernel()],
                         ids=["pyz", "oracle"])
def test_pyz_and_the_oracle_use_the_trusted_validation_labels(method, monkeypatch):
    used, _, trusted = _validation_labels(method, monkeypatch)
    assert np.array_equal(used, trusted)


def test_the_harness_scores_the_pool_pseudo_labels_each_round():
    """S's accuracy on the unlabelled pool goes into the round's row (scored by the runner against labels the
    method never reads): 1 for the oracle S = y by construction; the model's own accuracy for S = ŷ."""
    from benchmark.scenarios.runner import run_cell
    from benchmark.testing import tiny_spec

    oracle = run_cell(tiny_spec("pfk_oracle")).rounds
    selecting = oracle["round"] < oracle["round"].max()
    assert (oracle.loc[selecting, "pseudo_label_accuracy"] == 1.0).all()
    assert oracle.loc[~selecting, "pseudo_label_accuracy"].isna().all()  # the last round selects nothing
    pred = run_cell(tiny_spec("pfk")).rounds  # labels: pyz by default
    assert pred.loc[selecting, "pseudo_label_accuracy"].between(0, 1).all()
    assert "pseudo_label_accuracy" not in run_cell(tiny_spec("random")).rounds  # no pseudo-labels, no column
