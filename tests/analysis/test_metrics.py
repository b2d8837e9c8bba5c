"""Classification metrics against values worked out by hand (in the comments), ties included."""

from __future__ import annotations

import pytest

from rnnkit.analysis.confusion_plot import plot_confusion_matrix
from rnnkit.analysis.metrics import (
    accuracy,
    average_precision,
    classification_report,
    confusion_matrix,
    macro_f1,
    roc_auc,
)

TRUE, PRED = [0, 0, 1, 1, 2], [0, 1, 1, 1, 0]


def test_accuracy_and_confusion_matrix():
    assert accuracy(TRUE, PRED) == pytest.approx(3 / 5)
    assert confusion_matrix(TRUE, PRED, 3).tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]


def test_macro_f1_by_hand():
    # class 0: TP 1, FP 1, FN 1 -> 2/4; class 1: TP 2, FP 1, FN 0 -> 4/5; class 2: TP 0, FP 0, FN 1 -> 0
    assert macro_f1(TRUE, PRED, 3) == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    # a class absent from truth and predictions does not count
    assert macro_f1(TRUE, PRED, 4) == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert macro_f1([0, 1], [0, 1], 2) == 1.0


def test_roc_auc_by_hand():
    # pairs (positive, negative): (0.35, 0.1) yes, (0.35, 0.4) no, (0.8, 0.1) yes, (0.8, 0.4) yes -> 3/4
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    # a tie counts one half: (0.5 vs 0.5) 1/2, (0.5 vs 0.2) 1, (0.9 vs both) 2 -> 3.5/4
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]) == pytest.approx(0.875)
    assert roc_auc([0, 1], [0.3, 0.3]) == pytest.approx(0.5)


def test_average_precision_by_hand():
    # descending: 0.8 (+) P=1 R=.5; 0.4 (-); 0.35 (+) P=2/3 R=1; 0.1 (-) -> .5*1 + .5*2/3
    assert average_precision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.5 + 1 / 3)
    # tied scores are one threshold: at 0.5 P=1/2 R=1/2; at 0.1 P=2/3 R=1 -> .25 + 1/3
    assert average_precision([1, 0, 1], [0.5, 0.5, 0.1]) == pytest.approx(0.25 + 1 / 3)
    assert average_precision([1, 1, 0], [0.9, 0.8, 0.1]) == pytest.approx(1.0)


def test_report_adds_auc_for_binary_tasks_only():
    binary = classification_report([0, 0, 1, 1], [0, 1, 0, 1], 2, positive_scores=[0.1, 0.4, 0.35, 0.8])
    assert binary["roc_auc"] == pytest.approx(0.75) and binary["pr_auc"] == pytest.approx(0.5 + 1 / 3)
    assert binary["confusion_matrix"] == [[1, 1], [1, 1]]
    assert "roc_auc" not in classification_report(TRUE, PRED, 3)
    assert "roc_auc" not in classification_report([1, 1], [1, 0], 2, positive_scores=[0.9, 0.2])


def test_metric_errors():
    with pytest.raises(ValueError, match="equal lengths"):
        accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="ROC-AUC needs both"):
        roc_auc([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="expected 0 and 1"):
        roc_auc([0, 2], [0.2, 0.3])
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix([0, 3], [0, 1], 3)
    with pytest.raises(ValueError, match="integer class ids"):
        accuracy([0.5], [1])


def test_confusion_matrix_png(tmp_path):
    path = plot_confusion_matrix([[3, 1], [0, 4]], ["neg", "pos"], tmp_path / "confusion.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="expected \\(2, 2\\)"):
        plot_confusion_matrix([[1, 2, 3]], ["a", "b"], tmp_path / "bad.png")
