"""Pooled descriptors and Fisher scores from a trained Learner (CVPR 2020 FK paper, §4.1-4.3).

For an input x_i and a hooked module j with output Z_i^j, the descriptor is z_i^j = φ(Z_i^j)
(average pooling, eq. 6) and the Fisher score is g_i^j = φ(∂L(y_i, ŷ_i)/∂Z_i^j) at the same tensor
(§4.2, below eq. 11). Which tensor is the caller's choice: LeNet's ``conv2`` is the layer's output
before pooling and ReLU, ``conv2_block`` the block output after them (the official code's choice). One forward and one backward pass per point give both, which is the
2(M + N') cost of Table 1. Every pass is counted in the learner's PassCounter.

Layers whose output is modified in place by the next operation (``ReLU(inplace=True)``) cannot be
differentiated this way; pick the block outputs instead. LeNet's layers and block taps are safe.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.core.arrays import to_numpy
from benchmark.core.errors import AlbenchError
from benchmark.learn.learner import Learner, charged_to_infer, pool_descriptor

LabelFn = Callable[[slice, torch.Tensor, torch.Tensor], torch.Tensor]


def _modules(learner: Learner, layers: Sequence[str]) -> list[torch.nn.Module]:
    modules = dict(learner.model.named_modules())
    missing = [name for name in layers if name not in modules]
    if missing or not layers:
        raise AlbenchError(f"Cannot take Fisher scores at layers {list(layers)} of {learner.recipe.model}: "
                           f"unknown {missing}. Layers: {[n for n in modules if n][:40]}")
    return [modules[name] for name in layers]


@contextmanager
def layer_outputs(learner: Learner, layers: Sequence[str]) -> Iterator[list[torch.Tensor]]:
    """A list whose j-th entry is the output of ``layers[j]`` in the latest forward pass (graph kept)."""
    outputs: list[torch.Tensor] = [torch.empty(0)] * len(layers)

    def keep(j: int):
        return lambda _m, _i, out: outputs.__setitem__(j, out)

    hooks = [m.register_forward_hook(keep(j)) for j, m in enumerate(_modules(learner, layers))]
    try:
        yield outputs
    finally:
        for h in hooks:
            h.remove()


@charged_to_infer
def segment_sizes(learner: Learner, layers: Sequence[str], image: np.ndarray) -> list[int]:
    """Length of each layer's pooled descriptor (the channel count), from one forward pass."""
    learner.model.eval()
    with layer_outputs(learner, layers) as outputs, torch.no_grad():
        learner.model(learner.to_input(image[:1]))
        return [int(pool_descriptor(t).shape[1]) for t in outputs]


@charged_to_infer
def fisher_descriptors(learner: Learner, x: np.ndarray, layers: Sequence[str],
                       labels: np.ndarray | LabelFn | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pooled descriptors Z (n, L), pooled Fisher scores G (n, L) and softmax outputs (n, classes).

    ``labels`` gives the class whose loss is differentiated: an array (true or pseudo-labels), or a
    callback ``f(batch_slice, z_batch, probs_batch) -> labels`` evaluated inside the same pass (so
    ``S = ŷ`` and ``S = p̂(y, z)`` cost no extra pass), or None for descriptors only (forward only;
    G is then empty).
    """
    learner.model.eval()
    zs, gs, ps = [], [], []
    want_grad = labels is not None
    with layer_outputs(learner, layers) as outputs:
        for sl in learner.batches(len(x), learner.recipe.eval_batch_size):
            with torch.set_grad_enabled(want_grad):
                logits = learner.model(learner.to_input(x[sl]))
                learner.counter.forward += sl.stop - sl.start
                acts = list(outputs)
                z = torch.cat([pool_descriptor(a.detach()) for a in acts], dim=1)
                probs = F.softmax(logits.detach(), dim=1)
                if want_grad:
                    if callable(labels):
                        y = labels(sl, z, probs)
                    else:
                        y = torch.as_tensor(np.array(labels[sl]), dtype=torch.long)  # type: ignore[index]
                    y = y.to(logits.device, dtype=torch.long)
                    loss = F.cross_entropy(logits, y, reduction="sum")  # per-sample gradients stay separate
                    grads = torch.autograd.grad(loss, acts)
                    learner.counter.backward += sl.stop - sl.start
                    gs.append(torch.cat([pool_descriptor(g) for g in grads], dim=1).cpu())
            zs.append(z.cpu())
            ps.append(probs.cpu())
    if not zs:
        return np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32), np.zeros((0, learner.num_classes), np.float32)
    z_all = to_numpy(torch.cat(zs))
    g_all = to_numpy(torch.cat(gs)) if gs else np.zeros((len(z_all), 0), np.float32)
    return z_all, g_all, to_numpy(torch.cat(ps))


def perturb(x: torch.Tensor, max_degrees: float, noise_std: float, gen: torch.Generator) -> torch.Tensor:
    """Small random rotations (uniform in ±max_degrees) and additive Gaussian noise (§5.1: ±5°)."""
    n = x.shape[0]
    angle = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(max_degrees)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = cos, -sin, sin, cos
    theta = theta.to(x.device)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, align_corners=False, padding_mode="border")
    if noise_std > 0:
        out = out + noise_std * torch.randn(out.shape, generator=gen).to(x.device)
    return out


def trace_cross_covariance(z: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """S = tr(C_{z,g}) over the sample axis: z, g of shape (..., K, L) → (...). (§4.3)"""
    zc = z - z.mean(-2, keepdim=True)
    gc = g - g.mean(-2, keepdim=True)
    return (zc * gc).sum(-1).sum(-1) / max(z.shape[-2] - 1, 1)


def gaussian_mutual_information(z: torch.Tensor, g: torch.Tensor, ridge: float = 1e-3) -> torch.Tensor:
    """S = I(z; g) = ½ log(|C_zz| |C_gg| / |C_{zg,zg}|) under a Gaussian model (§4.3, Cover & Thomas).

    z, g: (..., K, L). A ridge of ``ridge`` × the mean variance keeps the log-determinants finite
    when K ≤ 2L (the joint covariance is then singular); determinants via Cholesky.
    """
    joint = torch.cat([z, g], dim=-1).double()
    jc = joint - joint.mean(-2, keepdim=True)
    cov = jc.transpose(-1, -2) @ jc / max(z.shape[-2] - 1, 1)
    dim = cov.shape[-1]
    scale = torch.diagonal(cov, dim1=-2, dim2=-1).mean(-1).clamp_min(1e-12)
    cov = cov + ridge * scale[..., None, None] * torch.eye(dim, dtype=cov.dtype, device=cov.device)
    lz = z.shape[-1]

    def logdet(m: torch.Tensor) -> torch.Tensor:
        return 2 * torch.log(torch.diagonal(torch.linalg.cholesky(m), dim1=-2, dim2=-1)).sum(-1)

    mi = 0.5 * (logdet(cov[..., :lz, :lz]) + logdet(cov[..., lz:, lz:]) - logdet(cov))
    return mi.float()


@charged_to_infer
def mc_pseudo_labels(learner: Learner, x: np.ndarray, layers: Sequence[str], samples: int, metric: str,
                     max_degrees: float = 5.0, noise_std: float = 0.05, seed: int = 0) -> np.ndarray:
    """MC pseudo-labels (§4.3): for each point, K perturbed copies x_k give descriptors z_k and, for
    every class d, Fisher scores g_k(d) = φ(∂L(1_d, ŷ_k)/∂Z_k); the label is argmax_d S(z, g(d)) with
    S = tr(C_{z,g}) (``metric="trace"``) or S = I(z; g) (``metric="mi"``). Costs K forward and K·D
    backward passes per point (Table 1: KD per point)."""
    if metric not in ("trace", "mi"):
        raise AlbenchError(f"MC pseudo-label metric must be 'trace' or 'mi', got {metric!r}.")
    if samples < 2:
        raise AlbenchError(f"MC pseudo-labels need at least 2 samples per point, got {samples}.")
    gen = torch.Generator().manual_seed(seed)
    learner.model.eval()
    per_batch = max(1, learner.recipe.eval_batch_size // samples)
    out = np.zeros(len(x), dtype=np.int64)
    score = trace_cross_covariance if metric == "trace" else gaussian_mutual_information
    with layer_outputs(learner, layers) as outputs:
        for sl in learner.batches(len(x), per_batch):
            b = sl.stop - sl.start
            xt = learner.to_input(x[sl]).repeat_interleave(samples, dim=0)
            xt = perturb(xt, max_degrees, noise_std, gen)
            logits = learner.model(xt)
            learner.counter.forward += b * samples
            acts = list(outputs)
            z = torch.cat([pool_descriptor(a.detach()) for a in acts], dim=1).view(b, samples, -1)
            scores = []
            for d in range(learner.num_classes):
                target = torch.full((b * samples,), d, dtype=torch.long, device=logits.device)
                loss = F.cross_entropy(logits, target, reduction="sum")
                grads = torch.autograd.grad(loss, acts, retain_graph=d < learner.num_classes - 1)
                learner.counter.backward += b * samples
                g = torch.cat([pool_descriptor(gr) for gr in grads], dim=1).view(b, samples, -1)
                scores.append(score(z, g))
            out[sl] = to_numpy(torch.stack(scores, dim=1).argmax(1))
    return out
