"""Classification metrics, computed exactly from labels and scores (no sampling, no interpolation).

With ``y`` the true class ids and ``ŷ`` the predicted ones (both ``0 .. C-1``)::

    accuracy       = mean(y == ŷ)
    confusion[i,j] = #{n : y_n = i, ŷ_n = j}                     rows: truth, columns: prediction
    F1_c           = 2 TP_c / (2 TP_c + FP_c + FN_c)              macro-F1 = mean of F1_c over the classes that
                                                                  occur in y or ŷ (as scikit-learn)
For a binary task, with scores s (higher means more positive)::

    ROC-AUC = P(s_pos > s_neg) + P(s_pos = s_neg) / 2            (Mann-Whitney U / (n_pos n_neg), mid-ranks)
    PR-AUC  = sum_k (R_k - R_{k-1}) P_k                           average precision at each distinct threshold,
                                                                  the step-wise sum of scikit-learn's
                                                                  average_precision_score
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["accuracy", "average_precision", "classification_report", "confusion_matrix", "macro_f1", "roc_auc"]


def _labels(values: Sequence[int] | np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name}: got shape {array.shape}; expected a non-empty 1-D sequence")
    if not np.issubdtype(array.dtype, np.integer) and not np.issubdtype(array.dtype, np.bool_):
        raise ValueError(f"{name}: got {array.dtype} values; expected integer class ids")
    return array.astype(np.int64)


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    truth, predicted = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if truth.shape != predicted.shape:
        raise ValueError(f"y_true and y_pred: got {truth.size} and {predicted.size} values; expected equal lengths")
    return truth, predicted


def accuracy(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    """Share of predictions equal to the truth."""
    truth, predicted = _pair(y_true, y_pred)
    return float(np.mean(truth == predicted))


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> np.ndarray:
    """Counts ``(C, C)``: row = true class, column = predicted class."""
    truth, predicted = _pair(y_true, y_pred)
    if min(truth.min(), predicted.min()) < 0 or max(truth.max(), predicted.max()) >= num_classes:
        raise ValueError(f"class ids: got values outside [0, {num_classes})")
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (truth, predicted), 1)
    return matrix


def macro_f1(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> float:
    """Unweighted mean of the per-class F1 over the classes present in the truth or the predictions."""
    matrix = confusion_matrix(y_true, y_pred, num_classes)
    true_positive = np.diag(matrix)
    denominator = matrix.sum(0) + matrix.sum(1)  # (2TP + FP + FN) per class
    present = denominator > 0
    return float(np.mean(2 * true_positive[present] / denominator[present]))


def _binary(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    truth = _labels(y_true, "y_true")
    values = np.asarray(scores, dtype=np.float64)
    if values.shape != truth.shape:
        raise ValueError(f"scores: got shape {values.shape}; expected {truth.shape}, one per example")
    if not set(np.unique(truth)) <= {0, 1}:
        raise ValueError(f"y_true: got classes {sorted(set(np.unique(truth).tolist()))}; expected 0 and 1")
    if not np.all(np.isfinite(values)):
        raise ValueError("scores: got a NaN or infinite score; expected finite numbers")
    return truth, values


def roc_auc(y_true: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the ROC curve from mid-ranks (ties count one half)."""
    truth, values = _binary(y_true, scores)
    positives = int(truth.sum())
    negatives = truth.size - positives
    if positives == 0 or negatives == 0:
        raise ValueError(f"y_true: got {positives} positive(s) and {negatives} negative(s); ROC-AUC needs both")
    order = np.argsort(values, kind="stable")
    ranks = np.empty(values.size, dtype=np.float64)
    sorted_values = values[order]
    start = 0
    while start < values.size:  # mid-rank for each run of equal scores
        end = start
        while end + 1 < values.size and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start:end + 1]] = (start + end) / 2 + 1
        start = end + 1
    u_statistic = ranks[truth == 1].sum() - positives * (positives + 1) / 2
    return float(u_statistic / (positives * negatives))


def average_precision(y_true: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the precision-recall curve as the step-wise sum ``sum_k (R_k - R_{k-1}) P_k``."""
    truth, values = _binary(y_true, scores)
    positives = int(truth.sum())
    if positives == 0:
        raise ValueError("y_true: got no positive example; PR-AUC needs at least one")
    order = np.argsort(-values, kind="stable")
    sorted_values, sorted_truth = values[order], truth[order]
    last_of_run = np.r_[sorted_values[1:] != sorted_values[:-1], True]  # a threshold after each run of ties
    true_positives = np.cumsum(sorted_truth)[last_of_run]
    predicted_positive = (np.arange(truth.size) + 1)[last_of_run]
    precision = true_positives / predicted_positive
    recall = true_positives / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def classification_report(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int,
                          positive_scores: Sequence[float] | None = None) -> dict:
    """accuracy, macro_f1 and the confusion matrix; with two classes and scores also roc_auc and pr_auc
    (class 1 positive; omitted when the truth holds one class only, where they are undefined)."""
    report = {"accuracy": accuracy(y_true, y_pred), "macro_f1": macro_f1(y_true, y_pred, num_classes),
              "confusion_matrix": confusion_matrix(y_true, y_pred, num_classes).tolist()}
    if num_classes == 2 and positive_scores is not None and len(set(np.asarray(y_true).tolist())) == 2:
        report["roc_auc"] = roc_auc(y_true, positive_scores)
        report["pr_auc"] = average_precision(y_true, positive_scores)
    return report
