import math

import numpy as np
import pytest

from benchmark.core.metrics import (
    area_under_budget_curve,
    classification_metrics,
    global_score,
    labelled_set_metrics,
    per_class_recall,
)
from benchmark.data.pool import imbalance_ratio


def test_balanced_and_minority_accuracy_hand_computed():
    # class 0: 3/4 right, class 1: 1/2 right, class 2: 0/2 right
    y_true = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 0, 0, 1, 1, 0, 0, 1])
    m = classification_metrics(y_true, y_pred, 3, minority_classes=[1, 2])
    assert m["accuracy"] == pytest.approx(4 / 8)
    assert m["balanced_accuracy"] == pytest.approx((0.75 + 0.5 + 0.0) / 3)
    assert m["minority_accuracy"] == pytest.approx((0.5 + 0.0) / 2)


def test_recall_is_nan_for_absent_classes_and_ignored_in_balanced_accuracy():
    recall = per_class_recall(np.array([0, 0]), np.array([0, 1]), 3)
    assert recall[0] == 0.5 and np.isnan(recall[1]) and np.isnan(recall[2])
    m = classification_metrics(np.array([0, 0]), np.array([0, 1]), 3, [])
    assert math.isnan(m["minority_accuracy"])  # no minority classes: undefined, not 0
    assert m["balanced_accuracy"] == 0.5  # classes absent from the test labels are left out


def test_labelled_set_metrics_count_undiscovered_classes_as_zero():
    m = labelled_set_metrics(np.array([0, 0, 0, 1]), 4)
    counts = np.array([3, 1, 0, 0])
    assert m["labels_used"] == 4 and m["classes_discovered"] == 2
    assert m["labelled_ir"] == pytest.approx(counts.std() / counts.mean())
    assert m["labelled_ir"] == pytest.approx(math.sqrt(1.5) / 1.0)


def test_imbalance_ratio_balanced_is_zero():
    assert imbalance_ratio(np.array([5, 5, 5])) == 0.0
    assert imbalance_ratio(np.array([1, 3])) == pytest.approx(0.5)


def test_area_under_budget_curve_is_mean_height():
    assert area_under_budget_curve([0, 10, 20], [0.0, 1.0, 1.0]) == pytest.approx(0.75)
    assert area_under_budget_curve([20, 0, 10], [1.0, 0.0, 1.0]) == pytest.approx(0.75)  # order-free
    assert area_under_budget_curve([5], [0.4]) == 0.4


def test_global_score_wacv_eq10():
    # two configurations: (80-90)/(100-90) = -1 and (60-50)/(100-50) = 0.2 → mean -0.4
    assert global_score([80, 60], [90, 50]) == pytest.approx(-0.4)


# WACV 2020 Table 2, row "random": Food-101, CIFAR-100, IMN-100, MIT-67 at b = 500 / 1000 / 2000 (%),
# and the row "Full" (acc_full per dataset). The paper prints G_AL = -0.792.
WACV_T2_RANDOM = [23.02, 30.63, 38.68, 27.31, 33.66, 39.78, 47.24, 56.62, 63.87, 34.99, 44.56, 53.33]
WACV_FULL = [65.85] * 3 + [59.49] * 3 + [70.20] * 3 + [72.43] * 3


def test_global_score_reproduces_wacv_table2_random():
    # by hand, (acc - full) / (100 - full) per configuration:
    #   Food-101 (100-65.85 = 34.15): -42.83/34.15 = -1.2542, -35.22/34.15 = -1.0313, -27.17/34.15 = -0.7956
    #   CIFAR-100 (40.51): -32.18/40.51 = -0.7944, -25.83/40.51 = -0.6376, -19.71/40.51 = -0.4865
    #   IMN-100 (29.80): -22.96/29.80 = -0.7705, -13.58/29.80 = -0.4557, -6.33/29.80 = -0.2124
    #   MIT-67 (27.57): -37.44/27.57 = -1.3580, -27.87/27.57 = -1.0109, -19.10/27.57 = -0.6928
    # sum -9.4999, mean over c = 12 → -0.7917, the paper's -0.792. (A sum would give -9.50, fractions with
    # acc_max = 100 -0.0026, (acc - full)/full -0.390: none is printed.)
    assert global_score(WACV_T2_RANDOM, WACV_FULL) == pytest.approx(-0.792, abs=5e-4)
    frac = global_score([a / 100 for a in WACV_T2_RANDOM], [f / 100 for f in WACV_FULL], acc_max=1.0)
    assert frac == pytest.approx(-0.792, abs=5e-4)  # fractions need acc_max = 1
