"""Accuracy, macro-F1 and MCC (gluon_bert.evaluation) against values computed by
hand, and against scikit-learn's formulas written out here (scikit-learn is not
a dependency)."""
import itertools
import math

import numpy as np
import pytest

from gluon_bert.evaluation import (accuracy, classification_report, confusion_matrix,
                                   macro_f1, matthews_corrcoef, task_metrics)


def sklearn_mcc(labels, preds, num_classes):
    """scikit-learn's `matthews_corrcoef`: with C the confusion matrix, t_k the
    times class k truly occurred, p_k the times it was predicted, c the correct
    predictions and s the examples,
    (c s - sum_k p_k t_k) / sqrt((s^2 - sum_k p_k^2)(s^2 - sum_k t_k^2)), 0 when
    the denominator is 0."""
    t = [sum(1 for y in labels if y == k) for k in range(num_classes)]
    p = [sum(1 for y in preds if y == k) for k in range(num_classes)]
    c = sum(1 for y, q in zip(labels, preds) if y == q)
    s = len(labels)
    den = math.sqrt((s * s - sum(x * x for x in p)) * (s * s - sum(x * x for x in t)))
    return (c * s - sum(a * b for a, b in zip(p, t))) / den if den else 0.0


def sklearn_macro_f1(labels, preds, num_classes):
    """scikit-learn's `f1_score(average='macro', labels=range(K), zero_division=0)`:
    per class 2 tp / (2 tp + fp + fn), then the plain mean."""
    scores = []
    for k in range(num_classes):
        tp = sum(1 for y, q in zip(labels, preds) if y == k and q == k)
        fp = sum(1 for y, q in zip(labels, preds) if y != k and q == k)
        fn = sum(1 for y, q in zip(labels, preds) if y == k and q != k)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return sum(scores) / num_classes


def test_binary_metrics_by_hand():
    # tp 3, fn 1, tn 4, fp 2
    labels = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    preds = [1, 1, 1, 0, 0, 0, 0, 0, 1, 1]
    m = task_metrics(labels, preds, 2)
    assert m['accuracy'] == pytest.approx(7 / 10)
    # F1(1) = 2 (3/5)(3/4) / (3/5 + 3/4) = 2/3; F1(0) = 2 (4/5)(4/6) / (4/5 + 4/6) = 8/11
    assert m['macro_f1'] == pytest.approx((2 / 3 + 8 / 11) / 2)
    # the binary MCC: (tp tn - fp fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn))
    assert m['mcc'] == pytest.approx((3 * 4 - 2 * 1) / math.sqrt(5 * 4 * 6 * 5))
    assert m['mcc'] == pytest.approx(10 / math.sqrt(600))


def test_multiclass_metrics_by_hand():
    labels = [0, 0, 0, 1, 1, 2, 2, 2, 2]
    preds = [0, 1, 0, 1, 2, 2, 2, 0, 2]
    cm = confusion_matrix(labels, preds, 3)
    assert cm.tolist() == [[2, 1, 0], [0, 1, 1], [1, 0, 3]]
    assert accuracy(cm) == pytest.approx(6 / 9)
    # F1: 2/3 (class 0), 1/2 (class 1), 3/4 (class 2)
    assert macro_f1(cm) == pytest.approx(23 / 36)
    # c = 6, s = 9, t = p = (3, 2, 4): (54 - 29) / sqrt(52 * 52)
    assert matthews_corrcoef(cm) == pytest.approx(25 / 52)
    report = classification_report(labels, preds, ['a', 'b', 'c'])
    assert (report['accuracy'], report['macro_f1'], report['mcc']) == pytest.approx(
        (6 / 9, 23 / 36, 25 / 52))


def test_degenerate_cases():
    # one class predicted for all: MCC 0 (sklearn's convention), F1 0 for the others
    m = task_metrics([0, 1, 2, 1], [1, 1, 1, 1], 3)
    assert m['mcc'] == 0.0 and m['accuracy'] == 0.5
    assert m['macro_f1'] == pytest.approx((0 + 2 * 0.5 * 1 / 1.5 + 0) / 3)
    perfect = task_metrics([0, 1, 2, 3], [0, 1, 2, 3], 4)
    assert perfect == {'accuracy': 1.0, 'macro_f1': 1.0, 'mcc': 1.0}
    assert task_metrics([0, 0, 1, 1], [1, 1, 0, 0], 2)['mcc'] == pytest.approx(-1.0)


@pytest.mark.parametrize('num_classes', [2, 3, 4])
def test_agree_with_sklearns_formulas(num_classes):
    rng = np.random.RandomState(num_classes)
    for n in (5, 17, 60):
        labels = rng.randint(0, num_classes, n).tolist()
        noisy = [y if rng.rand() < 0.6 else int(rng.randint(0, num_classes)) for y in labels]
        m = task_metrics(labels, noisy, num_classes)
        assert m['mcc'] == pytest.approx(sklearn_mcc(labels, noisy, num_classes), abs=1e-12)
        assert m['macro_f1'] == pytest.approx(sklearn_macro_f1(labels, noisy, num_classes),
                                              abs=1e-12)
        assert m['accuracy'] == pytest.approx(np.mean(np.array(labels) == noisy))
    # every prediction of a small binary case
    for preds in itertools.product([0, 1], repeat=4):
        labels = [0, 1, 1, 0]
        assert task_metrics(labels, preds, 2)['mcc'] == pytest.approx(
            sklearn_mcc(labels, preds, 2), abs=1e-12)
