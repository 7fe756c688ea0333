"""Feature-kernel AL of Gudovskiy et al., CVPR 2020 ("Deep AL for biased datasets via Fisher kernel
self-supervision"): the PCC kernel R_z (eq. 6), the practical Fisher kernel R_{z,g} (eqs. 11-12),
the pseudo-label estimators of §4.3 and the weakly-supervised selection of Algorithm 1.

Algorithm 1, one round (task model θ^b trained on the labels held so far):
  3  validation points the model misclassifies (weak supervision; needs the validation labels);
  4  their descriptors Z_v (and Fisher scores G_v with their trusted labels);
  5-7 more than P of them → P centres by greedy k-center (in the kernel's own feature space);
  8  descriptors Z (and Fisher scores G under pseudo-labels S) for every unlabelled point;
  9-10 R = R_z (∘ R_g) between centres and pool; every centre's best pool point first, in order of
     decreasing R, then every centre's second best, and so on, skipping points already taken,
     until P are chosen (the official code's reading of "arg max_p R").

What follows the official code (github.com/gudovskiy/al-fk-self-supervision), which produced the
paper's figures, where the text leaves it open:
- descriptors and Fisher scores are pooled at the *block outputs* (after max-pooling and ReLU;
  LeNet's ``conv2_block`` is L20, ``conv1_block + conv2_block + fc1_block`` L80), and both are
  taken at the same tensor;
- segments are standardised to zero mean and unit variance (eq. 6), so longer layers weigh more;
- the validation points' Fisher scores use the same kind of label as the pool's: the model's own
  prediction for S = ŷ (the code's ``grad`` branch of ``gen_descr`` labels validation and pool
  points alike by ``argmax``), the MC estimate for the MC labels, and the trusted labels only for
  S = p̂(y, z) (``gradFmap``) and the oracle S = y (``gradAbl``); S = p̂(y, z) labels a pool point
  with the trusted label of the validation point of highest R_z (descriptors only);
- ``combine``: eq. 12 multiplies R_z and R_g (``"product"``, the default); the official code adds
  them (``"sum"``); suites/fk-mnist*.yaml say which they use.

Where this differs from the paper's code, and why:
- if no validation point is misclassified, all validation points are the candidates for the
  centres (the paper does not say; an empty set would select nothing);
- k-center maximises the kernel distance d² = R(x,x) + R(c,c) − 2R(x,c) to the nearest centre; the
  code minimises the highest similarity R(x,c), the same choice whenever R(x,x) is constant (every
  non-constant standardised segment has the same norm), different only for degenerate points;
- k-center's first centre comes from the round's seeded ``rng`` (the code seeds from the clock).
"""
from __future__ import annotations

import numpy as np
import torch

from benchmark.core.arrays import to_numpy
from benchmark.core.errors import AlbenchError
from benchmark.core.registry import register_method
from benchmark.learn.fisher import fisher_descriptors, mc_pseudo_labels, segment_sizes
from benchmark.select.api import Needs, QueryStrategy, SelectionView
from benchmark.select.kernels import (
    COMBINE,
    KernelPoints,
    assign_rank_major,
    kernel_k_center,
    kernel_top_candidates,
    nearest_key,
    standardize_segments,
)

PSEUDO_LABELS = ("pred", "pyz", "mc_trace", "mc_mi")


def _layers(layers: list[str] | tuple[str, ...] | str | None) -> tuple[str, ...] | None:
    if layers is None:
        return None
    return (layers,) if isinstance(layers, str) else tuple(layers)


def default_layers(model: torch.nn.Module) -> tuple[str, ...]:
    """The model's ``descriptor_layers`` (LeNet: ``conv2_block``, L20), else its ``embed_layers``."""
    return tuple(getattr(model, "descriptor_layers", None) or getattr(model, "embed_layers", None) or ())


class _KernelSelection(QueryStrategy):
    """Shared Algorithm 1 machinery; subclasses say whether Fisher scores are used and how labels are made."""

    fisher = False
    version = "2"  # 2: block-output descriptors, unit-variance segments, rank-major assignment

    def __init__(self, layers: list[str] | None = None, combine: str = "product", chunk_mb: int = 64):
        if combine not in COMBINE:
            raise AlbenchError(f"{type(self).__name__}: combine must be one of {COMBINE} (eq. 12's product or "
                               f"the official code's sum), got {combine!r}.")
        chosen = _layers(layers)
        self.layers = None if chosen is None else list(chosen)  # None: the model's default descriptor
        self.combine = combine
        self.chunk_mb = chunk_mb

    def needs(self) -> Needs:
        return Needs(validation=True, images=True, learner=True)

    def layers_for(self, model: torch.nn.Module) -> list[str]:
        """The layers given, else the model's default descriptor (``default_layers``)."""
        return self.layers or list(default_layers(model))

    # ------------------------------------------------------------------ hooks for subclasses
    def val_labels(self, view: SelectionView, val_x: np.ndarray, val_y: np.ndarray, rng: np.random.Generator):
        """Labels for the validation points' Fisher scores: the trusted ones (S = p̂(y, z), the oracle)."""
        return val_y

    def pool_labels(self, view: SelectionView, val: KernelPoints, sizes: list[int], rng: np.random.Generator):
        """Labels for the pool's Fisher scores: an array, a per-batch callback, or None (PCC)."""
        return None

    def _recorded(self, labels, n: int):  # type: ignore[no-untyped-def]
        """``labels`` (an array or a per-batch callback) that also leaves what it gave in ``pool_pseudo_labels_``."""
        if not callable(labels):
            self.pool_pseudo_labels_ = np.asarray(labels)
            return labels
        given = np.full(n, -1, dtype=np.int64)
        self.pool_pseudo_labels_ = given

        def record(sl: slice, z: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
            y = labels(sl, z, probs)
            given[sl] = to_numpy(torch.as_tensor(y))
            return y

        return record

    # ------------------------------------------------------------------ Algorithm 1
    def select(self, view: SelectionView, k: int, rng: np.random.Generator) -> np.ndarray:
        name = type(self).__name__
        learner = view.require("learner", name)
        val_x, val_y = view.require("val_images", name), view.require("val_y", name)
        pool_x = view.require("images", name)
        if len(val_y) == 0:
            raise AlbenchError(f"{name} needs a validation split (scenario.val_per_class > 0).")
        layers = self.layers_for(learner.model)
        sizes = segment_sizes(learner, layers, pool_x)
        chunk = self.chunk_mb * 2**20
        # lines 3-4: validation descriptors, Fisher scores (under ``val_labels``), predictions
        zv, gv, pv = fisher_descriptors(learner, val_x, layers,
                                        self.val_labels(view, val_x, val_y, rng) if self.fisher else None)
        val = KernelPoints(standardize_segments(zv, sizes), tuple(sizes),
                           standardize_segments(gv, sizes) if self.fisher else None, self.combine)
        wrong = np.flatnonzero(pv.argmax(1) != val_y)
        candidates = wrong if len(wrong) else np.arange(len(val_y))
        # lines 5-7: at most P centres
        centres = candidates[kernel_k_center(val.take(candidates), k, rng)] if len(candidates) > k else candidates
        # line 8: pool descriptors and Fisher scores under pseudo-labels S (kept for the harness's diagnostic)
        labels = self.pool_labels(view, KernelPoints(val.z, val.sizes), sizes, rng) if self.fisher else None
        labels = self._recorded(labels, len(pool_x)) if labels is not None else None
        z, g, _ = fisher_descriptors(learner, pool_x, layers, labels)
        pool = KernelPoints(standardize_segments(z, sizes), tuple(sizes),
                            standardize_segments(g, sizes) if self.fisher else None, self.combine)
        # lines 9-10: kernel against the centres, arg max without duplicates (rank-major)
        values, cand = kernel_top_candidates(val.take(centres), pool, k, chunk_bytes=chunk)
        return view.unlabelled[assign_rank_major(values, cand, k)]


def _predicted(_sl: slice, _z: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """S = ŷ: the model's own prediction, taken inside the descriptor pass."""
    return probs.argmax(1)


@register_method("pcc")
class PCCKernel(_KernelSelection):
    """R_z (CVPR 2020 eq. 6): Pearson correlation of multi-scale pooled descriptors, summed over
    layers, between misclassified-validation centres and the pool (Algorithm 1 without Fisher
    scores). Costs M + N' forward passes (Table 1)."""

    def __init__(self, layers: list[str] | None = None, chunk_mb: int = 64):
        super().__init__(layers, "product", chunk_mb)  # no Fisher scores: nothing to combine


@register_method("pfk")
class PracticalFisherKernel(_KernelSelection):
    """R_{z,g} = R_z ∘ R_g (CVPR 2020 eqs. 11-12) with pseudo-labels S for the pool's Fisher scores.

    ``labels``: ``pred`` (S = ŷ), ``pyz`` (S = p̂(y, z): the trusted label of the most similar
    validation point under R_z), ``mc_trace`` (S = tr(C_{z,g})) or ``mc_mi`` (S = I(z; g)), the MC
    ones from ``mc_samples`` perturbed copies (rotations within ±``mc_degrees``, Gaussian noise of
    std ``mc_noise`` in normalised units) and one gradient per class (§4.3). Costs 2(M + N')
    passes, plus K·D per pool point for the MC labels (Table 1). The oracle ablation S = y is the
    separate method ``pfk_oracle``."""

    fisher = True
    version = "3"  # 3: the validation Fisher scores under S's own kind of label (ŷ, MC) as in the code, not y
    contract_params = {"mc_samples": 4}
    search_space = {"labels": ("categorical", ["pred", "pyz", "mc_trace", "mc_mi"]),  # albench tune
                    "mc_samples": ("int", 4, 64, "log")}

    def __init__(self, labels: str = "pyz", layers: list[str] | None = None, mc_samples: int = 32,
                 mc_degrees: float = 5.0, mc_noise: float = 0.05, combine: str = "product", chunk_mb: int = 64):
        super().__init__(layers, combine, chunk_mb)
        if labels not in PSEUDO_LABELS:
            hint = " S = y reads hidden labels: use the method 'pfk_oracle'." if labels in ("true", "y") else ""
            raise AlbenchError(f"pfk: labels must be one of {PSEUDO_LABELS}, got {labels!r}.{hint}")
        self.labels = labels
        self.mc_samples = mc_samples
        self.mc_degrees = mc_degrees
        self.mc_noise = mc_noise

    def val_labels(self, view: SelectionView, val_x: np.ndarray, val_y: np.ndarray, rng: np.random.Generator):
        """S = ŷ and the MC labels label the validation points as they label the pool (the official code's
        ``gen_descr``: only ``gradFmap`` and the oracle read the validation targets)."""
        if self.labels == "pyz":
            return val_y
        if self.labels == "pred":
            return _predicted
        metric = "trace" if self.labels == "mc_trace" else "mi"
        return mc_pseudo_labels(view.learner, val_x, self.layers_for(view.learner.model), self.mc_samples, metric,
                                self.mc_degrees, self.mc_noise, seed=int(rng.integers(2**31)))

    def pool_labels(self, view: SelectionView, val: KernelPoints, sizes: list[int], rng: np.random.Generator):
        if self.labels == "pred":
            return _predicted
        if self.labels == "pyz":
            val_y = torch.as_tensor(np.array(view.val_y), dtype=torch.long)

            def nearest_trusted(_sl, z, _probs):
                batch = KernelPoints(standardize_segments(to_numpy(z), sizes), val.sizes)
                return val_y[nearest_key(batch, val, chunk_bytes=self.chunk_mb * 2**20)]

            return nearest_trusted
        metric = "trace" if self.labels == "mc_trace" else "mi"
        layers = self.layers_for(view.learner.model)
        return mc_pseudo_labels(view.learner, view.images, layers, self.mc_samples, metric,
                                self.mc_degrees, self.mc_noise, seed=int(rng.integers(2**31)))


@register_method("pfk_oracle")
class OracleFisherKernel(_KernelSelection):
    """ORACLE ABLATION — reads the hidden labels of the pool. R_{z,g} (CVPR 2020 eq. 12) with S = y,
    the true labels, for the Fisher scores: the paper's upper limit of FK (§5.1, Fig. 4). Not an AL
    method; reports mark it with †."""

    fisher = True
    uses_hidden_labels = True

    def needs(self) -> Needs:
        return Needs(validation=True, images=True, learner=True, hidden_labels=True)

    def pool_labels(self, view: SelectionView, val: KernelPoints, sizes: list[int], rng: np.random.Generator):
        return view.require("hidden_y", "pfk_oracle")
