"""The Learner: builds a model by name, trains it with a recipe, predicts, and embeds.

A recipe (``LearnerRecipe``) is part of the CellSpec, so every method in a cell trains the same
way. Seeds fully determine a run: the initial weights come from the cell's paired seed and
every round retrains from those same initial weights (unless ``warm_start``).
"""
from __future__ import annotations

import copy
import functools
import math
import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.core.arrays import to_numpy
from benchmark.core.errors import AlbenchError, Rule, SuiteError, check_fields, did_you_mean
from benchmark.core.profiling import PassCounter
from benchmark.core.registry import MODELS
from benchmark.learn.models import build_model
from benchmark.learn.schedule import check_lr_schedule, lr_scheduler

T = TypeVar("T")
OPTIMIZERS = ("sgd", "adam", "adamw")
INITS = ("random", "rotation")  # else a path to a local state dict
FIXED_MODEL_ARGS = ("self", "num_classes", "in_chans", "image_size", "dropout")  # set by the Learner
_VALID_MODELS: set[str] = set()  # names found valid (a registry never forgets a name): checked once

class TrainingDiverged(AlbenchError):
    """The training loss became NaN or infinite: the cell fails with this reason, never counts as done."""


@dataclass(frozen=True)
class LearnerRecipe:
    """The training recipe. ``init`` is ``"random"``, ``"rotation"`` (self-supervised rotation
    pretraining on the unlabelled pool, cached; ``pretrain`` holds its recipe, see
    ``benchmark.learn.pretrain.RotationRecipe``) or a path to a local state dict (a pretrained backbone;
    tensors whose shape differs, such as the classifier, stay fresh).

    The learning rate is multiplied by ``lr_gamma`` every ``lr_step`` epochs, or after each number
    of finished epochs in ``lr_milestones`` (the FK paper's code decays at the start of epochs 15,
    30 and 45: ``lr_milestones: [14, 29, 44]``). ``warm_start``: every round fine-tunes the previous
    round's weights with a fresh optimizer (the FK paper's code) instead of restarting from the
    initial ones. ``train_dropout: false`` keeps dropout off while training, so a method that asks
    for MC-dropout gets it at inference only (the FK paper's code trains every model without
    dropout and draws its MC passes from the same weights)."""

    model: str = "small_cnn"
    optimizer: str = "sgd"
    lr: float = 0.02
    momentum: float = 0.9
    weight_decay: float = 0.0
    epochs: int = 30
    batch_size: int = 16
    lr_step: int | None = None
    lr_milestones: list[int] | None = None
    lr_gamma: float = 0.1
    init: str = "random"
    warm_start: bool = False
    dropout: float = 0.5
    train_dropout: bool = True
    eval_batch_size: int = 512
    device: str = "auto"
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    pretrain: Mapping[str, Any] = field(default_factory=dict)

    rules: ClassVar[Mapping[str, Rule]] = {
        "optimizer": Rule(choices=OPTIMIZERS), "lr": Rule(above=0), "momentum": Rule(low=0, high=1),
        "weight_decay": Rule(low=0), "epochs": Rule(low=0), "batch_size": Rule(low=1), "lr_step": Rule(low=1),
        "lr_milestones": Rule(low=1, nonempty=True, distinct=True),
        "lr_gamma": Rule(above=0), "dropout": Rule(low=0, below=1), "eval_batch_size": Rule(low=1)}

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any], where: str = "learner") -> LearnerRecipe:
        """Check every key's type and range (a SuiteError names ``where.key``, what is allowed and what
        was given), then the keys that depend on each other; builds no model."""
        check_fields(d, cls, where, "a learner recipe", cls.rules)
        recipe = cls(**dict(d))
        check_model_name(recipe.model, f"{where}.model")
        check_model_kwargs(recipe.model, recipe.model_kwargs, f"{where}.model_kwargs")
        _check_init(recipe.init, f"{where}.init")
        check_lr_schedule(recipe.lr_step, recipe.lr_milestones, where)
        _check_device(recipe.device, f"{where}.device")
        if recipe.pretrain and recipe.init != "rotation":
            raise SuiteError(f"{where}.pretrain is only used with {where}.init: rotation (got init {recipe.init!r}).")
        if recipe.init == "rotation":
            from benchmark.learn.pretrain import RotationRecipe

            RotationRecipe.from_mapping(recipe.pretrain, f"{where}.pretrain")
        return recipe


def check_model_name(name: str, where: str) -> None:
    """SuiteError unless ``name`` is a registered model, ``timm/<arch>`` of an installed timm
    architecture or ``torchvision/<arch>``; nothing is built (timm is imported only for its names)."""
    if name in _VALID_MODELS:
        return
    allowed = (f"a registered model ({', '.join(MODELS.names())}), 'timm/<arch>' or 'torchvision/<arch>'")
    if "/" not in name:
        if name not in MODELS:
            raise SuiteError(f"{where} must be {allowed}, got {name!r}.{did_you_mean(name, MODELS.names())} "
                             f"`albench list models` lists the registered ones.")
        _VALID_MODELS.add(name)
        return
    source, _, arch = name.partition("/")
    if source == "timm":
        import timm

        known = list(timm.list_models())
        ok = arch in known
    elif source == "torchvision":
        import torchvision

        known = list(torchvision.models.list_models())
        ok = arch.lower() in known
    else:
        raise SuiteError(f"{where} must be {allowed}, got {name!r} (the prefix must be 'timm' or 'torchvision').")
    if not ok:
        raise SuiteError(f"{where}: {source} has no architecture {arch!r}.{did_you_mean(arch, known)} "
                         f"It must be {allowed} with an architecture {source} lists ({len(known)} installed).")
    _VALID_MODELS.add(name)


def check_model_kwargs(model: str, kwargs: Mapping[str, Any], where: str) -> None:
    """The extra constructor arguments of a registered model must be parameters it takes; external
    (timm / torchvision) models take none."""
    import inspect

    if not kwargs:
        return
    if "/" in model:
        raise SuiteError(f"{where} is only passed to registered models; {model!r} takes none, got {dict(kwargs)}.")
    params = inspect.signature(MODELS.get(model)).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [n for n in params if n not in FIXED_MODEL_ARGS]
    unknown = [k for k in kwargs if k not in accepted]
    if unknown:
        hints = "".join(did_you_mean(k, accepted) for k in unknown)
        raise SuiteError(f"{where}: model {model!r} has no parameter(s) {unknown}.{hints} It accepts "
                         f"{accepted or 'none'} (num_classes, in_chans, image_size and dropout are set by the learner).")


def _check_init(init: str, where: str) -> None:
    """``random``, ``rotation`` or a path; a bare word that is no file (a typo of ``rotation``) is refused.
    A path is not required to exist here (the suite may be read on a machine without the weights)."""
    from pathlib import Path

    if init in INITS or "/" in init or "." in init or Path(init).expanduser().is_file():
        return
    raise SuiteError(f"{where} must be one of {', '.join(repr(i) for i in INITS)} or the path of a local state-dict "
                     f"file, got {init!r}.{did_you_mean(init, INITS)}")


def _check_device(device: str, where: str) -> None:
    try:
        ok = device == "auto" or torch.device(device) is not None
    except (RuntimeError, ValueError):
        ok = False
    if not ok:
        raise SuiteError(f"{where} must be 'auto', 'cpu', 'cuda' or 'cuda:<index>', got {device!r}.")


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when available, else the CPU. On CUDA, deterministic algorithms are requested
    (cuDNN without autotuning, a fixed cuBLAS workspace), so a seed gives the same selections run
    after run; an op without a deterministic kernel warns, naming itself (tests/test_gpu.py checks
    selections repeat on CUDA)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise AlbenchError(f"learner.device={name!r} but CUDA is not available here; use 'auto' or 'cpu'.")
    device = torch.device(name)
    if device.type == "cuda":
        # cuBLAS needs a fixed workspace for reproducible GEMMs; it is read when cuBLAS first starts
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        # an op with no deterministic CUDA kernel warns (naming itself) instead of failing the cell
        torch.use_deterministic_algorithms(True, warn_only=True)
    return device


def charged_to_infer(fn: Callable[..., T]) -> Callable[..., T]:
    """Run an inference call whose first argument is a Learner inside that learner's ``infer_phase``."""
    @functools.wraps(fn)
    def wrapper(learner: Learner, *args: Any, **kwargs: Any) -> T:
        with learner.infer_phase():
            return fn(learner, *args, **kwargs)

    return wrapper


class Learner:
    """Train / predict / embed for one cell. Counts forward and backward passes per sample."""

    def __init__(self, recipe: LearnerRecipe, num_classes: int, image_shape: Sequence[int],
                 mean: Sequence[float], std: Sequence[float], seed: int,
                 use_dropout: bool = False, counter: PassCounter | None = None, init_file: str | None = None):
        """``init_file`` overrides ``recipe.init`` with a resolved checkpoint (rotation pretraining)."""
        self.recipe = recipe
        self.num_classes = num_classes
        self.device = resolve_device(recipe.device)
        self.counter = counter or PassCounter()
        self.use_dropout = use_dropout
        self.seed = seed
        c, h, w = image_shape
        torch.manual_seed(seed)
        if init_file is None and recipe.init == "rotation":
            raise AlbenchError("learner.init is 'rotation' but no pretrained checkpoint was passed to the Learner.")
        if init_file is None and recipe.init != "random":
            init_file = recipe.init
        self.model = build_model(recipe.model, num_classes=num_classes, in_chans=c, image_size=h,
                                 dropout=recipe.dropout if use_dropout else 0.0,
                                 pretrained_file=init_file, **dict(recipe.model_kwargs)).to(self.device)
        if not use_dropout:
            for m in self.dropout_modules():
                m.p = 0.0
        self._initial_state = copy.deepcopy(self.model.state_dict())
        self._mean = torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        self._std = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        self.trained_rounds = 0
        # The runner points this at its *infer* phase, so inference a method triggers from inside
        # select (the Fisher-kernel descriptors) is charged to infer, not select.
        self.infer_phase: Callable[[], AbstractContextManager[Any]] = nullcontext

    def dropout_modules(self) -> list[nn.modules.dropout._DropoutNd]:
        """The model's dropout layers (zeroed, kept off in training, or sampled for MC-dropout)."""
        return [m for m in self.model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]

    # ------------------------------------------------------------------ data
    def to_input(self, x_uint8: np.ndarray) -> torch.Tensor:
        """uint8 images (N, C, H, W) → normalised float tensor on the learner's device."""
        x_uint8 = np.ascontiguousarray(x_uint8)
        if not x_uint8.flags.writeable:  # views handed to methods are read-only; torch wants writable memory
            x_uint8 = x_uint8.copy()
        x = torch.from_numpy(x_uint8).to(self.device, non_blocking=True)
        return (x.float() / 255.0 - self._mean) / self._std

    def batches(self, n: int, size: int | None = None) -> list[slice]:
        """Slices of ``n`` rows in batches of ``size`` (default: the recipe's eval batch size)."""
        size = size or self.recipe.eval_batch_size
        return [slice(i, min(i + size, n)) for i in range(0, n, size)]

    # ----------------------------------------------------------------- train
    def fit(self, x: np.ndarray, y: np.ndarray, round_seed: int) -> dict[str, float]:
        """Train on (x, y) from the initial weights (or the last ones with ``warm_start``)."""
        r = self.recipe
        if not r.warm_start:
            self.model.load_state_dict(self._initial_state)
        if len(y) == 0 or r.epochs == 0:
            return {"train_loss": float("nan")}
        gen = torch.Generator().manual_seed(round_seed)
        torch.manual_seed(round_seed)  # dropout masks
        params = self.model.parameters()
        opt: torch.optim.Optimizer
        if r.optimizer == "sgd":
            opt = torch.optim.SGD(params, lr=r.lr, momentum=r.momentum, weight_decay=r.weight_decay)
        elif r.optimizer == "adam":
            opt = torch.optim.Adam(params, lr=r.lr, weight_decay=r.weight_decay)
        else:
            opt = torch.optim.AdamW(params, lr=r.lr, weight_decay=r.weight_decay)
        sched = lr_scheduler(opt, r.lr_step, r.lr_milestones, r.lr_gamma)
        xt = self.to_input(x)
        yt = torch.as_tensor(y, dtype=torch.long, device=self.device)
        self.model.train()
        if not r.train_dropout:  # MC-dropout at inference only
            for m in self.dropout_modules():
                m.eval()
        loss_sum, seen = 0.0, 0
        for epoch in range(r.epochs):
            order = torch.randperm(len(yt), generator=gen).to(self.device)
            loss_sum, seen = 0.0, 0
            for sl in self.batches(len(yt), r.batch_size):
                idx = order[sl]
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(self.model(xt[idx]), yt[idx])
                loss.backward()
                opt.step()
                self.counter.forward += len(idx)
                self.counter.backward += len(idx)
                loss_sum += loss.detach().item() * len(idx)
                seen += len(idx)
            if not math.isfinite(loss_sum):
                raise TrainingDiverged(f"training diverged at epoch {epoch}: loss {loss_sum / max(seen, 1)}; "
                                       f"lower learner.lr (now {r.lr})")
            if sched:
                sched.step()
        self.trained_rounds += 1
        return {"train_loss": loss_sum / max(seen, 1)}

    # --------------------------------------------------------------- predict
    @charged_to_infer
    @torch.no_grad()
    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        self.model.eval()
        out = []
        for sl in self.batches(len(x), self.recipe.eval_batch_size):
            out.append(F.softmax(self.model(self.to_input(x[sl])), dim=1).cpu())
            self.counter.forward += sl.stop - sl.start
        return to_numpy(torch.cat(out)) if out else np.zeros((0, self.num_classes), np.float32)

    @charged_to_infer
    @torch.no_grad()
    def mc_dropout_proba(self, x: np.ndarray, samples: int, seed: int) -> np.ndarray:
        """K stochastic passes with dropout on (Gal et al. 2017): array (K, N, classes).

        The passes run batched: a forward holds ``eval_batch_size`` images, eval_batch_size // K
        points with their K copies side by side (each copy draws its own dropout masks), so a
        cell makes K·N / eval_batch_size forwards; on a GPU, a large ``eval_batch_size`` cuts the
        launches."""
        if not self.use_dropout:
            raise AlbenchError("MC-dropout needs a learner built with use_dropout=True (declare it in Needs).")
        self.model.eval()
        for m in self.dropout_modules():
            m.train()
        torch.manual_seed(seed)
        out = np.zeros((samples, len(x), self.num_classes), dtype=np.float32)
        per_forward = max(1, self.recipe.eval_batch_size // samples)
        for sl in self.batches(len(x), per_forward):
            n = sl.stop - sl.start
            copies = self.to_input(x[sl]).repeat(samples, 1, 1, 1)  # copy k of point i at row k·n + i
            out[:, sl] = to_numpy(F.softmax(self.model(copies), dim=1).view(samples, n, -1))
            self.counter.forward += n * samples
        self.model.eval()
        return out

    @charged_to_infer
    @torch.no_grad()
    def penultimate(self, x: np.ndarray) -> np.ndarray:
        """h(x): the input of the classifier (the last linear layer), shape (N, d), eval mode."""
        head = classifier_module(self.model)
        captured: list[torch.Tensor] = []
        hook = head.register_forward_pre_hook(lambda _m, inputs: captured.append(inputs[0].detach().flatten(1).cpu()))
        self.model.eval()
        try:
            for sl in self.batches(len(x), self.recipe.eval_batch_size):
                self.model(self.to_input(x[sl]))
                self.counter.forward += sl.stop - sl.start
        finally:
            hook.remove()
        return to_numpy(torch.cat(captured)) if captured else np.zeros((0, 0), np.float32)

    def head_weights(self) -> np.ndarray:
        """W (classes, d): the weight matrix of the classifier, the model's last linear layer (BASE's
        per-pair normaliser ‖w_ŷ − w_c‖)."""
        weight = classifier_module(self.model).weight
        if not isinstance(weight, torch.Tensor):
            raise AlbenchError(f"{type(self.model).__name__}'s classifier has no weight matrix.")
        return to_numpy(weight.detach().cpu()).astype(np.float32)

    @charged_to_infer
    @torch.no_grad()
    def embed(self, x: np.ndarray, layers: Sequence[str] | None = None) -> np.ndarray:
        """Multi-layer pooled descriptors: each layer's output average-pooled over space, concatenated.

        ``layers`` are module names (``dict(model.named_modules())``); default: the model's
        ``embed_layers``. This is φ(Z) of the CVPR 2020 FK paper, §4.1.
        """
        layers = tuple(layers or getattr(self.model, "embed_layers", ()) or ())
        modules = dict(self.model.named_modules())
        missing = [name for name in layers if name not in modules]
        if missing or not layers:
            raise AlbenchError(
                f"Cannot embed with layers {list(layers)} on {self.recipe.model}: unknown {missing}. "
                f"Layers: {[n for n in modules if n][:40]}"
            )
        captured: dict[str, torch.Tensor] = {}
        hooks = [modules[name].register_forward_hook(lambda _m, _i, out, name=name: captured.__setitem__(name, out))
                 for name in layers]
        self.model.eval()
        chunks = []
        try:
            for sl in self.batches(len(x), self.recipe.eval_batch_size):
                self.model(self.to_input(x[sl]))
                self.counter.forward += sl.stop - sl.start
                chunks.append(torch.cat([pool_descriptor(captured[name]) for name in layers], dim=1).cpu())
        finally:
            for h in hooks:
                h.remove()
        if not chunks:
            return np.zeros((0, 0), np.float32)
        return to_numpy(torch.cat(chunks))


def classifier_module(model: nn.Module) -> nn.Module:
    """The final linear layer: timm's ``get_classifier()``, else the last ``nn.Linear`` registered."""
    if hasattr(model, "get_classifier"):
        head = model.get_classifier()  # type: ignore[operator]
        if isinstance(head, nn.Module) and not isinstance(head, nn.Identity):
            return head
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise AlbenchError(f"{type(model).__name__} has no nn.Linear classifier to take embeddings from.")
    return linears[-1]


def pool_descriptor(t: torch.Tensor) -> torch.Tensor:
    """φ(·): global average pooling over every axis after the channel axis."""
    return t.flatten(2).mean(dim=2) if t.dim() > 2 else t
