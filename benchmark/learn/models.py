"""Built-in network architectures (registered by name) and timm / torchvision models by name.

Every model exposes ``embed_layers``: the default layer list that ``Learner.embed`` pools from. A
registered model may also name ``descriptor_layers``, the default single-scale descriptor of the
Fisher-kernel methods (LeNet: ``conv2_block``, the FK paper's L20); without it they use
``embed_layers``.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.core.errors import AlbenchError
from benchmark.core.registry import MODELS, register_model


@register_model("lenet")
class LeNet(nn.Module):
    """LeNet as used for MNIST by Gal et al. 2017 and the CVPR 2020 FK paper (§5.1).

    conv1 10@5x5 → maxpool → ReLU → conv2 20@5x5 → dropout2d → maxpool → ReLU → fc1 50 → ReLU →
    dropout → fc2 classes. Two kinds of layer outputs can be hooked for descriptors:

    - ``conv1``, ``conv2``, ``fc1``: the layers' own outputs, *before* pooling and nonlinearity
      (z̃ of the paper's eq. 11);
    - ``conv1_block``, ``conv2_block``, ``fc1_block`` (parameter-free taps): the block outputs
      *after* max-pooling and ReLU (10@12x12, 20@4x4, 50). The paper's official code pools its
      descriptors and Fisher scores here, so average-pooled they give its L20 = [conv2_block] and
      L80 = [conv1_block, conv2_block, fc1_block] (lengths 20 and 10 + 20 + 50 = 80).

    Dropout probability is ``dropout``; the Learner zeroes it unless a method asks for MC-dropout.
    """

    version = "1"
    embed_layers = ("fc1",)
    descriptor_layers = ("conv2_block",)

    def __init__(self, num_classes: int, in_chans: int = 1, image_size: int = 28, dropout: float = 0.5):
        super().__init__()
        self.conv1 = nn.Conv2d(in_chans, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d(dropout)
        side = ((image_size - 4) // 2 - 4) // 2
        if side < 1:
            raise AlbenchError(f"lenet needs images of at least 16x16 pixels, got {image_size}.")
        self.fc1 = nn.Linear(20 * side * side, 50)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(50, num_classes)
        # hook points for block-output descriptors (no parameters: state dicts are unchanged)
        self.conv1_block = nn.Identity()
        self.conv2_block = nn.Identity()
        self.fc1_block = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1_block(F.relu(F.max_pool2d(self.conv1(x), 2)))
        x = self.conv2_block(F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2)))
        x = self.fc1_block(F.relu(self.fc1(x.flatten(1))))
        return self.fc2(self.drop(x))


@register_model("small_cnn")
class SmallCNN(nn.Module):
    """A small CNN for 8x8 images (scikit-learn digits): conv 16@3x3 → conv 32@3x3 → pool → fc 64."""

    version = "1"
    embed_layers = ("fc1",)
    descriptor_layers = ("conv2",)

    def __init__(self, num_classes: int, in_chans: int = 1, image_size: int = 8, dropout: float = 0.25):
        super().__init__()
        self.conv1 = nn.Conv2d(in_chans, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.drop = nn.Dropout(dropout)
        self.fc1 = nn.Linear(32 * (image_size // 2) ** 2, 64)
        self.fc2 = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(self.drop(x.flatten(1))))
        return self.fc2(self.drop(x))


@register_model("mlp")
class MLP(nn.Module):
    """Two hidden layers (256, 128) on flattened pixels."""

    version = "1"
    embed_layers = ("fc2",)

    def __init__(self, num_classes: int, in_chans: int = 1, image_size: int = 8, dropout: float = 0.25):
        super().__init__()
        self.fc1 = nn.Linear(in_chans * image_size * image_size, 256)
        self.fc2 = nn.Linear(256, 128)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.relu(self.fc2(self.drop(x)))
        return self.head(self.drop(x))


def _external(name: str, num_classes: int, in_chans: int, pretrained_file: str | None) -> nn.Module:
    """``timm/<arch>`` or ``torchvision/<arch>``: random init, or weights from a local file only."""
    source, _, arch = name.partition("/")
    if source == "timm":
        import timm

        if arch not in timm.list_models():
            import difflib

            close = difflib.get_close_matches(arch, timm.list_models(), n=3)
            raise AlbenchError(f"timm has no model {arch!r}. Close names: {close}.")
        model = timm.create_model(arch, pretrained=False, num_classes=num_classes, in_chans=in_chans)
        cfg: dict[str, Any] = dict(getattr(model, "default_cfg", {}) or {})
        layer = cfg.get("classifier")
        model.embed_layers = ("global_pool",) if hasattr(model, "global_pool") else ((layer,) if layer else ())  # type: ignore[assignment]
    elif source == "torchvision":
        import torchvision

        try:
            builder = torchvision.models.get_model_builder(arch)
        except ValueError as exc:
            raise AlbenchError(f"torchvision has no model {arch!r}: {exc}") from None
        model = builder(weights=None, num_classes=num_classes)
        if in_chans != 3:
            first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
            _replace_first_conv(model, first, in_chans)
        model.embed_layers = ("avgpool",) if hasattr(model, "avgpool") else ()
    else:
        raise AlbenchError(
            f"Unknown model {name!r}. Use a built-in name ({', '.join(MODELS.names())}) or "
            f"'timm/<arch>' / 'torchvision/<arch>'."
        )
    if pretrained_file:
        load_backbone(model, pretrained_file)
    return model


def _replace_first_conv(model: nn.Module, conv: nn.Conv2d, in_chans: int) -> None:
    for parent in model.modules():
        for child_name, child in parent.named_children():
            if child is conv:
                setattr(parent, child_name, nn.Conv2d(in_chans, conv.out_channels, conv.kernel_size,  # type: ignore[arg-type]
                                                      conv.stride, conv.padding,  # type: ignore[arg-type]
                                                      bias=conv.bias is not None))
                return


def load_backbone(model: nn.Module, path: str) -> list[str]:
    """Load a local state dict, skipping tensors whose shape differs (a fresh classifier head).

    Returns the names of the parameters left at their initial values.
    """
    from pathlib import Path

    file = Path(path).expanduser()
    if not file.is_file():
        raise AlbenchError(
            f"Weights file {file} does not exist. albench never downloads weights: put the state dict "
            f"(a torch.save'd dict of tensors) at that path, or set learner.init to 'random'."
        )
    state = torch.load(file, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(usable, strict=False)
    return sorted(set(own) - set(usable))


def build_model(name: str, num_classes: int, in_chans: int, image_size: int, dropout: float,
                pretrained_file: str | None = None, **kwargs: Any) -> nn.Module:
    if "/" in name:
        return _external(name, num_classes, in_chans, pretrained_file)
    cls = MODELS.get(name)
    model = cls(num_classes=num_classes, in_chans=in_chans, image_size=image_size, dropout=dropout, **kwargs)
    if pretrained_file:
        load_backbone(model, pretrained_file)
    return model
