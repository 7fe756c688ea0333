"""The one way tensors leave torch: ``to_numpy`` detaches and moves to the host first, so a CUDA
tensor never reaches ``Tensor.numpy()`` (which raises on a GPU). Nothing else calls ``.numpy()``."""
from __future__ import annotations

from typing import Any

import numpy as np


def to_numpy(tensor: Any) -> np.ndarray:
    """A host numpy array with the tensor's values (a copy only where the device requires one)."""
    array: np.ndarray = tensor.detach().cpu().numpy()
    return array
