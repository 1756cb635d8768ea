"""Classification metrics: accuracy, per-class precision/recall/F1, macro-F1,
confusion matrix and Matthews correlation coefficient (multi-class; the measure
of CoLA)."""
import numpy as np

__all__ = ['confusion_matrix', 'accuracy', 'per_class_f1', 'macro_f1', 'matthews_corrcoef',
           'task_metrics', 'classification_report', 'format_report']


def confusion_matrix(labels, preds, num_classes=3):
    """`cm[i, j]` = number of examples of true class i predicted as j."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(labels), np.asarray(preds)), 1)
    return cm


def _safe_div(a, b):
    return float(a) / float(b) if b else 0.0


def accuracy(cm):
    """Fraction of the examples on the diagonal of the confusion matrix `cm`."""
    return _safe_div(np.trace(cm), cm.sum())


def _precision_recall_f1(cm, i):
    tp = cm[i, i]
    precision = _safe_div(tp, cm[:, i].sum())
    recall = _safe_div(tp, cm[i, :].sum())
    return precision, recall, _safe_div(2 * precision * recall, precision + recall)


def per_class_f1(cm):
    """F1 of each class (0 for a class never true nor predicted)."""
    return [_precision_recall_f1(cm, i)[2] for i in range(len(cm))]


def macro_f1(cm):
    """The unweighted mean of the classes' F1 (scikit-learn's `average='macro'`)."""
    return float(np.mean(per_class_f1(cm))) if len(cm) else 0.0


def matthews_corrcoef(cm):
    """Multi-class MCC (Gorodkin's R_K) from a confusion matrix."""
    cm = cm.astype(np.float64)
    t, p = cm.sum(axis=1), cm.sum(axis=0)
    c, s = np.trace(cm), cm.sum()
    num = c * s - np.dot(t, p)
    den = np.sqrt((s * s - np.dot(p, p)) * (s * s - np.dot(t, t)))
    return float(num / den) if den else 0.0


def task_metrics(labels, preds, num_classes):
    """`accuracy`, `macro_f1` and `mcc` of the predictions `preds` of `labels`."""
    cm = confusion_matrix(labels, preds, num_classes)
    return dict(accuracy=accuracy(cm), macro_f1=macro_f1(cm), mcc=matthews_corrcoef(cm))


def classification_report(labels, preds, class_names):
    """Accuracy, per-class precision/recall/F1/support, confusion matrix and MCC."""
    cm = confusion_matrix(labels, preds, len(class_names))
    per_class = {}
    for i, name in enumerate(class_names):
        precision, recall, f1 = _precision_recall_f1(cm, i)
        per_class[name] = dict(precision=precision, recall=recall, f1=f1,
                               support=int(cm[i, :].sum()))
    return dict(accuracy=accuracy(cm), num_examples=int(cm.sum()),
                per_class=per_class, macro_f1=macro_f1(cm),
                mcc=matthews_corrcoef(cm), confusion_matrix=cm.tolist(),
                class_names=list(class_names))


def format_report(report):
    """The report as a text table."""
    names = report['class_names']
    lines = ['%-15s %9s %9s %9s %9s' % ('class', 'precision', 'recall', 'f1', 'support')]
    for name in names:
        r = report['per_class'][name]
        lines.append('%-15s %9.4f %9.4f %9.4f %9d'
                     % (name, r['precision'], r['recall'], r['f1'], r['support']))
    lines.append('')
    lines.append('accuracy %.4f   macro F1 %.4f   MCC %.4f   (%d examples)'
                 % (report['accuracy'], report['macro_f1'], report['mcc'],
                    report['num_examples']))
    lines.append('')
    lines.append('confusion matrix (rows: true, columns: predicted)')
    lines.append('%-15s ' % '' + ' '.join('%13s' % n for n in names))
    for name, row in zip(names, report['confusion_matrix']):
        lines.append('%-15s ' % name + ' '.join('%13d' % v for v in row))
    return '\n'.join(lines)
