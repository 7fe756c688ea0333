"""The WACV 2020 target model M_T (§3.4): a linear SVM on source features F_S, C chosen by 10-fold
cross-validation on the labelled set, then the prior-probability thresholding of Buda et al. 2018.

Thresholding: the SVM is calibrated into class probabilities p(c|x) by Platt's sigmoid fitted on
held-out folds (scikit-learn's CalibratedClassifierCV; SVM margins are not probabilities, and a
softmax over them made the prior correction swamp every prediction), then divided by the class
priors π_c (the labelled set's class frequencies): ŷ = argmax_c p(c|x) / π_c (Buda et al.,
"thresholding"). When a discovered class has a single label no held-out calibration is possible and
the plain SVM prediction is used (the row records ``thresholded``). Classes never discovered are
never predicted, and accuracy is still averaged over every test class (they score 0).

Differs from the paper: fine-tuning the source CNN as an alternative M_T (chosen per configuration by
the same cross-validation) is not implemented; the SVM is what the paper selects for small budgets.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from benchmark.core.errors import Rule, check_fields


@dataclass(frozen=True)
class TargetRecipe:
    c_grid: Sequence[float] = (0.001, 0.01, 0.1, 1.0, 10.0)
    folds: int = 10
    threshold: bool = True
    max_iter: int = 5000

    rules: ClassVar[Mapping[str, Rule]] = {"c_grid": Rule(above=0, nonempty=True, distinct=True), "folds": Rule(low=2),
                                           "max_iter": Rule(low=1)}

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any], where: str = "scenario.target") -> TargetRecipe:
        """Check every key's type and range; a SuiteError names ``where.key`` and what is allowed."""
        check_fields(d, cls, where, "the target model", cls.rules)
        return cls(**{k: tuple(v) if k == "c_grid" else v for k, v in d.items()})  # type: ignore[arg-type]


def _svm(c: float, max_iter: int):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    return make_pipeline(StandardScaler(), LinearSVC(C=c, max_iter=max_iter, dual="auto"))


def choose_c(x: np.ndarray, y: np.ndarray, recipe: TargetRecipe, seed: int) -> tuple[float, int]:
    """C with the best mean accuracy over stratified folds (as many as the rarest class allows, at most
    ``recipe.folds``); plain K-fold when a class has a single example. Returns (C, folds used)."""
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

    counts = np.bincount(y)
    counts = counts[counts > 0]
    folds = int(min(recipe.folds, counts.min())) if counts.min() >= 2 else int(min(recipe.folds, len(y)))
    if folds < 2 or len(recipe.c_grid) == 1:
        return float(recipe.c_grid[0]), 0
    splitter = (StratifiedKFold(folds, shuffle=True, random_state=seed) if counts.min() >= 2
                else KFold(folds, shuffle=True, random_state=seed))
    scores = [cross_val_score(_svm(c, recipe.max_iter), x, y, cv=splitter).mean() for c in recipe.c_grid]
    return float(recipe.c_grid[int(np.argmax(scores))]), folds


def fit_predict(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, num_classes: int,
                recipe: TargetRecipe, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    """Train M_T on the labelled set and predict the test set (labels in the dataset's class ids)."""
    present, counts = np.unique(train_y, return_counts=True)
    if len(present) == 1:
        return np.full(len(test_x), present[0]), {"C": float("nan"), "cv_folds": 0, "thresholded": False}
    c, folds = choose_c(train_x, train_y, recipe, seed)
    if not recipe.threshold or counts.min() < 2:
        model = _svm(c, recipe.max_iter).fit(train_x, train_y)
        return model.predict(test_x), {"C": c, "cv_folds": folds, "thresholded": False}
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import StratifiedKFold

    cv = StratifiedKFold(int(min(recipe.folds, counts.min())), shuffle=True, random_state=seed)
    model = CalibratedClassifierCV(_svm(c, recipe.max_iter), method="sigmoid", cv=cv).fit(train_x, train_y)
    probs = model.predict_proba(test_x)
    prior = counts / counts.sum()  # aligned with model.classes_ == present (sorted)
    return model.classes_[np.argmax(probs / prior, axis=1)], {"C": c, "cv_folds": folds, "thresholded": True}
