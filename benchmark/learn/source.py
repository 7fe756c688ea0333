"""The WACV 2020 source model M_S = (F_S, P_S) and its cached outputs on a dataset (§3.1).

A source is either a pretrained network from a local weights file (``{model: torchvision/resnet18,
weights: ~/.cache/albench/weights/resnet18.pth}``; the paper's ILSVRC ResNet-18), or one the harness
trains itself on classes of the dataset that the target task does not use
(``{model: lenet, train: {classes: [0, 1, 2, 3, 4], epochs: 5}}``), so the protocol runs offline.
Features (``F_S``: the model's ``embed_layers``, average-pooled) and source-class probabilities
(``P_S``) for every train and test image are computed once per (dataset, source) and cached under
``$ALBENCH_CACHE/features/``; every method, budget and seed reuses them.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np
import torch

from benchmark.core.arrays import to_numpy
from benchmark.core.cache import cache_dir, cached_artifact, key_digest
from benchmark.core.errors import AlbenchError, Rule, SuiteError, check_fields, check_value
from benchmark.core.profiling import PassCounter
from benchmark.core.seeding import canonical_json, torch_seed
from benchmark.data.pool import ImagePool
from benchmark.learn.learner import Learner, LearnerRecipe, check_model_name

TRAIN_DEFAULTS = {"epochs": 5, "lr": 0.05, "momentum": 0.9, "batch_size": 64, "optimizer": "sgd"}


@dataclass(frozen=True)
class SourceOutputs:
    train_features: np.ndarray  # (N_train, d) F_S on the dataset's train split
    train_probs: np.ndarray  # (N_train, source classes) P_S
    test_features: np.ndarray
    test_probs: np.ndarray
    source_classes: tuple[int, ...]  # dataset classes the source was trained on (empty: external)


@dataclass(frozen=True)
class SourceKeys:
    """The keys of ``scenario.source`` (checked only; the source stays a plain mapping in the spec)."""

    model: str
    weights: str | None = None  # a local state dict (not required to exist until the cell runs)
    train: Mapping[str, Any] | None = None  # {classes: [...], <learner recipe keys>}
    eval_batch_size: int = 512
    input_size: int | None = None  # resize images to this side before the source model

    rules: ClassVar[Mapping[str, Rule]] = {"eval_batch_size": Rule(low=1), "input_size": Rule(low=1)}


CLASSES_RULE = Rule(low=0, nonempty=True, distinct=True)
EXAMPLE = "{model: lenet, train: {classes: [0, 1, 2, 3, 4]}}"


def validate_source(source: Any, where: str = "scenario.source") -> None:
    """Check a source mapping without building anything: its keys and their types, the model name,
    exactly one of ``weights`` / ``train``, and the training recipe with its ``classes``."""
    check_fields(source, SourceKeys, where, "a source model", SourceKeys.rules)
    if "model" not in source:
        raise SuiteError(f"{where} needs a 'model' and either 'weights' (a local file) or 'train' (the harness "
                         f"trains it on disjoint classes), e.g. {EXAMPLE}.")
    if (source.get("weights") is None) == (source.get("train") is None):
        raise SuiteError(f"{where} needs exactly one of 'weights' (pretrained file) or 'train' (harness-trained), "
                         f"e.g. {EXAMPLE}.")
    check_model_name(source["model"], f"{where}.model")
    if source.get("train") is not None:
        train = dict(source["train"])
        if "classes" not in train:
            raise SuiteError(f"{where}.train.classes must list the dataset classes the source model learns, "
                             f"e.g. {EXAMPLE}.")
        check_value(train["classes"], list[int], f"{where}.train.classes", CLASSES_RULE)
        for key in ("model", "eval_batch_size"):
            if key in train:
                raise SuiteError(f"{where}.train.{key} is not used: the source's {key} is {where}.{key}.")
        LearnerRecipe.from_mapping({**TRAIN_DEFAULTS, **{k: v for k, v in train.items() if k != "classes"},
                                    "model": source["model"]}, f"{where}.train")


def check_source_weights(spec: Any) -> Path | None:
    """The missing weights file a one-shot cell's source needs, or None (present, or not needed)."""
    sc = spec.scenario
    if not isinstance(sc.get("source"), Mapping) or "weights" not in sc["source"]:
        return None
    path = Path(str(sc["source"]["weights"])).expanduser()
    return None if path.is_file() else path


def _recipe(source: Mapping[str, Any]) -> LearnerRecipe:
    train = {**TRAIN_DEFAULTS, **{k: v for k, v in dict(source.get("train", {})).items() if k != "classes"}}
    return LearnerRecipe.from_mapping({**train, "model": source["model"],
                                       "eval_batch_size": source.get("eval_batch_size", 512)})


def _extract(learner: Learner, x: np.ndarray, input_size: int | None = None,
             chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """F_S and P_S for every image; with ``input_size`` the images are resized (bilinear) chunk by chunk
    first, as an ImageNet backbone expects 224 px inputs."""
    if not input_size or x.shape[-1] == input_size:
        return learner.embed(x), learner.predict_proba(x)
    import torch.nn.functional as F

    feats, probs = [], []
    for start in range(0, len(x), chunk):
        t = torch.from_numpy(np.array(x[start:start + chunk])).float()
        t = F.interpolate(t, size=(input_size, input_size), mode="bilinear", align_corners=False)
        resized = to_numpy(t.round().clamp(0, 255).to(torch.uint8))
        feats.append(learner.embed(resized))
        probs.append(learner.predict_proba(resized))
    return np.concatenate(feats), np.concatenate(probs)


def compute_source_outputs(pool: ImagePool, source: Mapping[str, Any], counter: PassCounter) -> SourceOutputs:
    recipe = _recipe(source)
    if "train" in source:
        classes = [int(c) for c in source["train"]["classes"]]
        bad = [c for c in classes if not 0 <= c < pool.num_classes]
        if bad:
            raise SuiteError(f"scenario.source.train.classes {bad} are not classes of {pool.name} (0..{pool.num_classes - 1}).")
        keep = np.flatnonzero(np.isin(pool.train_y, classes))
        remap = {c: i for i, c in enumerate(classes)}
        y = np.array([remap[int(c)] for c in pool.train_y[keep]], dtype=np.int64)
        learner = Learner(recipe, len(classes), pool.image_shape, pool.mean, pool.std,
                          seed=torch_seed("source", canonical_json(dict(source))), counter=counter)
        learner.fit(pool.train_x[keep], y, round_seed=torch_seed("source-train", canonical_json(dict(source))))
        source_classes = tuple(classes)
    else:
        weights = Path(str(source["weights"])).expanduser()
        if not weights.is_file():
            raise AlbenchError(f"Source weights {weights} not found. albench never downloads weights: save the "
                               f"pretrained state dict of {source['model']} there (e.g. torchvision's "
                               f"resnet18-f37072fd.pth for the paper's ILSVRC ResNet-18).")
        state = torch.load(weights, map_location="cpu", weights_only=True)
        head = [k for k in state if k.endswith("weight") and state[k].ndim == 2]
        n_source = int(state[head[-1]].shape[0]) if head else 1000
        learner = Learner(LearnerRecipe.from_mapping({"model": source["model"], "init": str(weights), "epochs": 0}),
                          n_source, pool.image_shape, pool.mean, pool.std, seed=0, counter=counter)
        source_classes = ()
    size = source.get("input_size")
    ftr, ptr = _extract(learner, pool.train_x, size)
    fte, pte = _extract(learner, pool.test_x, size)
    return SourceOutputs(ftr, ptr, fte, pte, source_classes)


def source_outputs(pool: ImagePool, dataset_key: Mapping[str, Any], source: Mapping[str, Any],
                   counter: PassCounter | None = None) -> tuple[SourceOutputs, bool]:
    """Cached outputs for (dataset, source); returns (outputs, computed_now)."""
    counter = counter or PassCounter()
    meta = {"dataset": dataset_key, "source": dict(source)}

    def read(path: Path) -> SourceOutputs:
        with np.load(path) as z:
            return SourceOutputs(z["train_features"], z["train_probs"], z["test_features"], z["test_probs"],
                                 tuple(int(c) for c in z["source_classes"]))

    def save(out: SourceOutputs, fh: IO[bytes]) -> None:
        np.savez(fh, train_features=out.train_features, train_probs=out.train_probs,
                 test_features=out.test_features, test_probs=out.test_probs,
                 source_classes=np.asarray(out.source_classes, dtype=np.int64))

    return cached_artifact(cache_dir() / "features" / f"source-{key_digest(meta)}.npz",
                           lambda: compute_source_outputs(pool, source, counter), save, read, meta)

