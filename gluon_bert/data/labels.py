"""The three NLI classes and how the labels of data files map to them.

The class ids inside gluon_bert are the chapter's: 0 entailment, 1
contradiction, 2 neutral.  A label of a file is a name, `-` (no gold label:
the annotators did not agree) or a number, read with a label map:

* 'chapter' (default): 0 entailment, 1 contradiction, 2 neutral;
* 'glue': the order of GLUE and of Hugging Face's `snli` data set: 0
  entailment, 1 neutral, 2 contradiction, and -1 for no gold label.
"""

__all__ = ['LABELS', 'LABEL_NAMES', 'LABEL_MAPS', 'NO_LABEL', 'label_id', 'unknown_label']

LABELS = {'entailment': 0, 'contradiction': 1, 'neutral': 2}
LABEL_NAMES = ['entailment', 'contradiction', 'neutral']
NO_LABEL = '-'

# Numeric labels: number -> class id (None: no gold label), per label map.
LABEL_MAPS = {
    'chapter': {0: LABELS['entailment'], 1: LABELS['contradiction'], 2: LABELS['neutral']},
    'glue': {0: LABELS['entailment'], 1: LABELS['neutral'], 2: LABELS['contradiction'],
             -1: None},
}


def unknown_label(path, line_no, label, label_map):
    numbers = ', '.join('%d' % k for k in sorted(LABEL_MAPS[label_map]))
    return ValueError(
        '%s: line %d: unknown label %r (expected one of %s, %r, or a number %s of the %r '
        'label map; --label-map chapter: 0 entailment, 1 contradiction, 2 neutral; '
        '--label-map glue: 0 entailment, 1 neutral, 2 contradiction, -1 no gold label)' % (
            path, line_no, label, ', '.join(LABEL_NAMES), NO_LABEL, numbers, label_map))


def label_id(label, label_map):
    """(known, class id or None for no gold label) of a label (str or int) of
    an NLI file, numbers read with `label_map`."""
    if isinstance(label, str):
        label = label.strip()
        if label == NO_LABEL:
            return True, None
        if label in LABELS:
            return True, LABELS[label]
        try:
            label = int(label)
        except ValueError:
            return False, None
    if isinstance(label, bool) or not isinstance(label, int):
        return False, None
    numbers = LABEL_MAPS[label_map]
    return (True, numbers[label]) if label in numbers else (False, None)
