"""A SimCLR-style self-supervised embedding of the unlabelled pool (Chen et al., ICML 2020), the
representation TypiClust (Hacohen et al., ICML 2022, §4 step 1) and ProbCover (Yehuda et al.,
NeurIPS 2022, §5) select in.

Two random augmentations of every image in a batch (a random resized crop with a small rotation,
done per image by one ``affine_grid``/``grid_sample`` call, then a per-image contrast/brightness
jitter) go through a small CNN encoder f and a 2-layer projection head g; the NT-Xent loss (SimCLR
eq. 1, temperature τ) pulls the two views of an image together against the other 2B − 2 views. The
embedding is f(x) (the encoder's output, before the projection head, as in SimCLR §4.2), computed
without augmentation for every pool image. Adam, cosine-decayed learning rate, ``steps`` steps.

It sees only pool images (never a label), so it depends on (dataset, imbalance, pool, seed, recipe)
and not on the AL method or the classifier: ``ssl_embedding`` computes it once per such key and caches
the (N, d) float32 array under ``$ALBENCH_CACHE/ssl/`` with its key and recipe in the ``.json`` beside
it (atomic write, a file lock so that parallel workers compute it once).

Differences from the papers: they train SimCLR (ResNet-18, 500 epochs, batch 512) on CIFAR; the
default recipe here is sized for a 2-core CPU on MNIST-sized images (a 3-block CNN, 500 steps of 128
images, 2 views each: 1.3 epochs of a 50k pool); docs/measurements.md gives its cost and how well it
separates the MNIST classes (at this budget: less well than PCA of the raw pixels).
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.core.arrays import to_numpy
from benchmark.core.cache import cache_dir, cached_artifact, key_digest
from benchmark.core.errors import Rule, check_fields
from benchmark.core.profiling import PassCounter


@dataclass(frozen=True)
class SimCLRRecipe:
    """How the contrastive embedding is trained (the ``scenario.ssl`` mapping of a suite).

    steps: optimizer steps of ``batch_size`` images (2 views each). width: channels of the first of
    the encoder's 3 conv blocks (doubled at each block; the embedding has 4 × width dimensions).
    min_scale: smallest crop area (a fraction of the image); max_rotation: degrees either way.
    """

    steps: int = 500
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-6
    temperature: float = 0.2
    width: int = 16
    projection_dim: int = 64
    min_scale: float = 0.4
    max_rotation: float = 15.0
    eval_batch_size: int = 1024

    rules: ClassVar[Mapping[str, Rule]] = {
        "steps": Rule(low=1), "batch_size": Rule(low=2), "lr": Rule(above=0), "weight_decay": Rule(low=0),
        "temperature": Rule(above=0), "width": Rule(low=1), "projection_dim": Rule(low=1),
        "min_scale": Rule(above=0, high=1), "max_rotation": Rule(low=0, high=180), "eval_batch_size": Rule(low=1)}

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any], where: str = "scenario.ssl") -> SimCLRRecipe:
        """Check every key's type and range; a SuiteError names ``where.key`` and what is allowed."""
        check_fields(d, cls, where, "the self-supervised embedding recipe", cls.rules)
        return cls(**dict(d))


class Encoder(nn.Module):
    """Three conv(3×3)–BatchNorm–ReLU blocks (width, 2·width, 4·width channels), 2×2 max-pooling after
    the first two, global average pooling at the end: f(x) ∈ R^{4·width}."""

    def __init__(self, in_chans: int, width: int):
        super().__init__()
        chans = [in_chans, width, 2 * width, 4 * width]
        layers: list[nn.Module] = []
        for i in range(3):
            layers += [nn.Conv2d(chans[i], chans[i + 1], 3, padding=1, bias=False), nn.BatchNorm2d(chans[i + 1]),
                       nn.ReLU(inplace=True)]
            if i < 2:
                layers.append(nn.MaxPool2d(2))
        self.body = nn.Sequential(*layers)
        self.dim = chans[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=(2, 3))


def augment(x: torch.Tensor, gen: torch.Generator, min_scale: float, max_rotation: float) -> torch.Tensor:
    """One random view of every image of x (N, C, H, W, values in [0, 1]), each with its own draw:
    a crop of area U(min_scale, 1) × the image and aspect ratio in [3/4, 4/3] (log-uniform) at a
    random position inside the image, rotated by U(−max_rotation, max_rotation) degrees and resized
    back to H × W (bilinear; outside the image is 0), then x ↦ a·x + b with a ~ U(0.6, 1.4),
    b ~ U(−0.2, 0.2), clamped to [0, 1]."""
    n = len(x)

    def u(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=gen)

    area = u(min_scale, 1.0)
    aspect = torch.exp(u(math.log(3 / 4), math.log(4 / 3)))
    sx = torch.sqrt(area * aspect).clamp(max=1.0)
    sy = torch.sqrt(area / aspect).clamp(max=1.0)
    tx, ty = u(-1, 1) * (1 - sx), u(-1, 1) * (1 - sy)
    angle = u(-max_rotation, max_rotation) * math.pi / 180
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([sx * cos, -sy * sin, tx], 1), torch.stack([sx * sin, sy * cos, ty], 1)], 1)
    grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    a, b = u(0.6, 1.4).to(x.device), u(-0.2, 0.2).to(x.device)
    return (out * a.view(-1, 1, 1, 1) + b.view(-1, 1, 1, 1)).clamp_(0.0, 1.0)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's NT-Xent loss (eq. 1) over 2B projections: for view i, −log of the softmax (over the other
    2B − 1 views, cosine similarity / τ) of its partner view, averaged over all 2B views."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = len(z1)
    sim = z @ z.T / temperature
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(sim, target)


def train_simclr(images: np.ndarray, recipe: SimCLRRecipe, seed: int, device: torch.device,
                 counter: PassCounter | None = None) -> Encoder:
    """Train the encoder on ``images`` (uint8 NCHW, never labels); returns it in eval mode."""
    counter = counter or PassCounter()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    encoder = Encoder(images.shape[1], recipe.width).to(device)
    head = nn.Sequential(nn.Linear(encoder.dim, encoder.dim), nn.ReLU(inplace=True),
                         nn.Linear(encoder.dim, recipe.projection_dim)).to(device)
    params = list(encoder.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=recipe.steps)
    batch = min(recipe.batch_size, len(images))
    encoder.train()
    head.train()
    order = to_numpy(torch.randperm(len(images), generator=gen))
    at = 0
    for _ in range(recipe.steps):
        if at + batch > len(order):  # a new epoch: a new permutation
            order, at = to_numpy(torch.randperm(len(images), generator=gen)), 0
        idx = np.sort(order[at:at + batch])
        at += batch
        x = torch.from_numpy(images[idx]).to(device).float() / 255.0
        v1 = augment(x, gen, recipe.min_scale, recipe.max_rotation)
        v2 = augment(x, gen, recipe.min_scale, recipe.max_rotation)
        opt.zero_grad(set_to_none=True)
        loss = nt_xent(head(encoder(v1)), head(encoder(v2)), recipe.temperature)
        loss.backward()
        opt.step()
        sched.step()
        counter.forward += 2 * len(idx)
        counter.backward += 2 * len(idx)
    encoder.eval()
    return encoder


@torch.no_grad()
def encode(encoder: Encoder, images: np.ndarray, device: torch.device, batch: int,
           counter: PassCounter | None = None) -> np.ndarray:
    """f(x) of every image (uint8 NCHW, no augmentation): (N, d) float32."""
    encoder.eval()
    out = []
    for s in range(0, len(images), batch):
        x = torch.from_numpy(np.ascontiguousarray(images[s:s + batch])).to(device).float() / 255.0
        out.append(encoder(x).cpu())
        if counter is not None:
            counter.forward += len(x)
    return to_numpy(torch.cat(out)) if out else np.zeros((0, encoder.dim), np.float32)


def ssl_key(dataset: Mapping[str, Any], imbalance: Mapping[str, Any], seed: int,
            pool_idx: Sequence[int] | np.ndarray, recipe: SimCLRRecipe) -> dict[str, Any]:
    """What the embedding depends on: the dataset, the imbalance, the seed, the pool's images (a digest of
    their indices in the training split) and the recipe; never the method or the classifier."""
    pool = np.ascontiguousarray(np.asarray(pool_idx, dtype=np.int64))
    return {"dataset": dict(dataset), "imbalance": dict(imbalance), "seed": int(seed),
            "pool": key_digest(pool.tobytes().hex()), "pool_size": int(len(pool)), "recipe": asdict(recipe)}


def ssl_embedding(key: Mapping[str, Any], images: np.ndarray, recipe: SimCLRRecipe, seed: int,
                  device: torch.device, counter: PassCounter | None = None) -> tuple[np.ndarray, bool, Path]:
    """The cached embedding of ``images`` for ``key`` (training and encoding it if absent). Returns
    (embedding (N, d) float32, computed_now, path). The ``.json`` beside it holds the key, the recipe and
    the seconds the computation took."""
    meta: dict[str, Any] = {"key": dict(key), "objective": "simclr", "recipe": asdict(recipe)}
    path = cache_dir() / "ssl" / f"simclr-{key_digest(meta)}.npy"

    def compute() -> np.ndarray:
        start = time.perf_counter()
        encoder = train_simclr(images, recipe, seed, device, counter)
        emb = encode(encoder, images, device, recipe.eval_batch_size, counter)
        meta["seconds"] = round(time.perf_counter() - start, 3)  # in the .json, after the digest was taken
        return emb

    def save(emb: np.ndarray, fh: Any) -> None:
        np.save(fh, emb, allow_pickle=False)

    emb, computed = cached_artifact(path, compute, save=save, load=lambda p: np.load(p, allow_pickle=False),
                                    meta=meta)
    if len(emb) != len(images):
        raise ValueError(f"cached embedding {path} has {len(emb)} rows for {len(images)} pool images")
    return emb, computed, path
