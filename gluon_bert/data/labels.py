"""The three NLI classes and how the labels of data files map to them.

The class ids inside gluon_bert are the chapter's: 0 entailment, 1
contradiction, 2 neutral.  A label of a file is a name, `-` (no gold label:
the annotators did not agree) or a number, read with a label map:

* 'chapter' (default): 0 entailment, 1 contradiction, 2 neutral;
* 'glue': the order of GLUE and of Hugging Face's `snli` data set: 0
  entailment, 1 neutral, 2 contradiction, and -1 for no gold label.
"""

__all__ = ['LABELS', 'LABEL_NAMES', 'LABEL_MAPS', 'NO_LABEL', 'read_label']

LABELS = {'entailment': 0, 'contradiction': 1, 'neutral': 2}
LABEL_NAMES = ['entailment', 'contradiction', 'neutral']
NO_LABEL = '-'

# Numeric labels: number -> class id (None: no gold label), per label map.
LABEL_MAPS = {
    'chapter': {0: LABELS['entailment'], 1: LABELS['contradiction'], 2: LABELS['neutral']},
    'glue': {0: LABELS['entailment'], 1: LABELS['neutral'], 2: LABELS['contradiction'],
             -1: None},
}


def _unknown_label(path, line_no, label, label_map):
    numbers = ', '.join('%d' % k for k in sorted(LABEL_MAPS[label_map]))
    return ValueError(
        '%s: line %d: unknown label %r (expected one of %s, %r, or a number %s of the %r '
        'label map; --label-map chapter: 0 entailment, 1 contradiction, 2 neutral; '
        '--label-map glue: 0 entailment, 1 neutral, 2 contradiction, -1 no gold label)' % (
            path, line_no, label, ', '.join(LABEL_NAMES), NO_LABEL, numbers, label_map))


def read_label(label, label_map, path, line_no):
    """The class id of a label (str or int) at line `line_no` of the NLI file
    `path`, numbers read with `label_map`; None for no gold label.  An unknown
    label is a ValueError naming the file and line."""
    if isinstance(label, str):
        label = label.strip()
        if label == NO_LABEL:
            return None
        if label in LABELS:
            return LABELS[label]
        try:
            number = int(label)
        except ValueError:
            raise _unknown_label(path, line_no, label, label_map) from None
    else:
        number = label
    numbers = LABEL_MAPS[label_map]
    if isinstance(number, bool) or not isinstance(number, int) or number not in numbers:
        raise _unknown_label(path, line_no, label, label_map)
    return numbers[number]
