"""The GPU lane (`make test-gpu`): every method, both scenarios and determinism on CUDA.

Skipped where CUDA is not available. The tiny learner's device is "auto", so on a CUDA machine
``check_method`` and the cells below run their models on the GPU.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.core.arrays import to_numpy
from benchmark.core.registry import METHODS, discover
from benchmark.execute.suite import expand
from benchmark.scenarios.runner import run_cell
from benchmark.testing import check_method
from tests.conftest import tiny_suite

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]
discover()


@pytest.mark.parametrize("name", METHODS.names(variants=True))
def test_method_conforms_on_cuda(name):
    base = name.removesuffix("+bal")
    check_method(METHODS.get(name), params=getattr(METHODS.get(base), "contract_params", {}), name=name)


def test_tensors_leave_the_gpu_through_one_helper():
    t = torch.arange(6, device="cuda").view(2, 3).float().requires_grad_()
    assert np.array_equal(to_numpy(t * 1), np.arange(6).reshape(2, 3))


@pytest.mark.parametrize("method", ["entropy", "coreset", {"name": "pfk", "labels": "pyz", "layers": ["conv2"]},
                                    "vaal", {"name": "varR", "samples": 4}])
def test_iterative_cell_runs_on_cuda_and_is_deterministic(method):
    spec = expand(tiny_suite(methods=(method,), learner={"model": "small_cnn", "epochs": 3, "batch_size": 8,
                                                          "lr": 0.05, "device": "cuda"})).cells[0]
    a, b = run_cell(spec), run_cell(spec)
    assert "cuda" in a.environment["device"]
    assert a.selections.equals(b.selections), "the same seed must give the same selections on CUDA"
    assert np.isfinite(a.rounds["accuracy"]).all()


def test_oneshot_cell_runs_with_a_cuda_source():
    from tests.test_oneshot import oneshot_suite

    cell = [c for c in expand(oneshot_suite(["ent_inv_div+bal"])).cells if c.method.name != "full_pool"][0]
    result = run_cell(cell)
    assert result.rounds["labels_used"].iloc[-1] == cell.scenario["budget"]
