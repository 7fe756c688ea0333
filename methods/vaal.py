"""VAAL: Variational Adversarial Active Learning (Sinha, Ebrahimi & Darrell, ICCV 2019), a baseline
of the CVPR 2020 FK paper (§5, Figs. 4-5).

Every round a β-VAE and a discriminator are trained from scratch on the labelled and unlabelled
images. The VAE minimises reconstruction + β·KL on both sets and, adversarially, tries to make the
discriminator call every latent code "labelled"; the discriminator learns labelled (1) vs
unlabelled (0) on the latent means (VAAL eqs. 1-4). The k unlabelled points with the lowest
discriminator output are selected (VAAL Alg. 1).

Differences from the official code, and why:
- networks are scaled to the input: images are resized to 32×32 and the encoder has 3 strided
  convolutions (32-64-128 channels) instead of 4 (128-1024), latent 32, discriminator 512-512 —
  the official sizes are for 32-64 px RGB and would dominate CPU runs on 28 px MNIST;
- ``steps`` optimisation steps per round (default 400, batch 64) instead of epochs over the data;
- with no labelled image (round 0 of a protocol with no initial set) the discriminator has no
  positive class, so the first selection is uniformly random — VAAL's own experiments start from a
  random initial labelled set, which is the same thing.
The networks' forward and backward passes (per image) are counted in the round's select phase.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.core.arrays import to_numpy
from benchmark.core.registry import register_method
from benchmark.select.api import Needs, QueryStrategy, SelectionView


class _VAE(nn.Module):
    def __init__(self, channels: int, latent: int):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, 32, 4, 2, 1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.Conv2d(64, 128, 4, 2, 1), nn.BatchNorm2d(128), nn.ReLU(), nn.Flatten())
        self.mu = nn.Linear(128 * 16, latent)
        self.logvar = nn.Linear(128 * 16, latent)
        self.expand = nn.Linear(latent, 128 * 16)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.ConvTranspose2d(32, channels, 4, 2, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decoder(self.expand(z).view(-1, 128, 4, 4)), mu, logvar


def _discriminator(latent: int) -> nn.Module:
    return nn.Sequential(nn.Linear(latent, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 1))


@register_method("vaal")
class VAAL(QueryStrategy):
    """VAAL (Sinha et al. 2019): select the unlabelled points a latent-space discriminator finds least
    likely to be labelled; VAE and discriminator trained adversarially each round."""

    version = "1"
    contract_params = {"steps": 3, "batch_size": 16}
    search_space = {"steps": ("int", 100, 1000, "log"), "latent": ("categorical", [16, 32, 64])}  # albench tune

    def __init__(self, steps: int = 400, batch_size: int = 64, latent: int = 32, beta: float = 1.0,
                 adversary_weight: float = 1.0, lr: float = 5e-4):
        self.steps = steps
        self.batch_size = batch_size
        self.latent = latent
        self.beta = beta
        self.adversary_weight = adversary_weight
        self.lr = lr

    def needs(self) -> Needs:
        return Needs(images=True, learner=True)

    @staticmethod
    def _prepare(x: np.ndarray, device: torch.device) -> torch.Tensor:
        t = torch.from_numpy(np.array(x, copy=True)).to(device).float() / 255.0
        return F.interpolate(t, size=(32, 32), mode="bilinear", align_corners=False) if t.shape[-1] != 32 else t

    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        unl = view.require("images", "vaal")
        lab = view.require("labelled_images", "vaal")
        if len(lab) == 0:
            return view.unlabelled[np.sort(rng.choice(len(view.unlabelled), k, replace=False))]
        device = view.learner.device if view.learner is not None else torch.device("cpu")
        torch.manual_seed(int(rng.integers(2**31)))
        vae = _VAE(unl.shape[1], self.latent).to(device)
        disc = _discriminator(self.latent).to(device)
        opt_v = torch.optim.Adam(vae.parameters(), lr=self.lr)
        opt_d = torch.optim.Adam(disc.parameters(), lr=self.lr)
        counter = view.counter
        bs = self.batch_size
        for _ in range(self.steps):
            xl = self._prepare(lab[rng.integers(len(lab), size=bs)], device)
            xu = self._prepare(unl[rng.integers(len(unl), size=bs)], device)
            vae.train()
            rec_l, mu_l, lv_l = vae(xl)
            rec_u, mu_u, lv_u = vae(xu)
            kl = (-0.5 * torch.sum(1 + lv_l - mu_l ** 2 - lv_l.exp(), 1)).mean() + \
                 (-0.5 * torch.sum(1 + lv_u - mu_u ** 2 - lv_u.exp(), 1)).mean()
            recon = F.mse_loss(torch.sigmoid(rec_l), xl) + F.mse_loss(torch.sigmoid(rec_u), xu)
            ones = torch.ones(2 * bs, 1, device=device)
            adv = F.binary_cross_entropy_with_logits(disc(torch.cat([mu_l, mu_u])), ones)
            opt_v.zero_grad(set_to_none=True)
            (recon + self.beta * kl + self.adversary_weight * adv).backward()
            opt_v.step()
            target = torch.cat([torch.ones(bs, 1), torch.zeros(bs, 1)]).to(device)
            d_loss = F.binary_cross_entropy_with_logits(disc(torch.cat([mu_l, mu_u]).detach()), target)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            if counter is not None:
                counter.forward += 2 * bs
                counter.backward += 2 * bs
        vae.eval()
        disc.eval()
        scores = np.zeros(len(unl), dtype=np.float32)
        with torch.no_grad():
            for start in range(0, len(unl), 512):
                _, mu, _ = vae(self._prepare(unl[start:start + 512], device))
                scores[start:start + 512] = to_numpy(torch.sigmoid(disc(mu)).squeeze(1))
                if counter is not None:
                    counter.forward += len(mu)
        order = np.lexsort((view.unlabelled, scores))  # least likely labelled first; ties → lower position
        return view.unlabelled[order[:k]]
