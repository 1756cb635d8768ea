"""Any labelled sentence or sentence-pair file, read as SNLI's files are.

`read_task_file(path, text_columns, label_column, labels)` reads the two formats
of `data.snli` (the format is detected the same way, from the first non-empty
line, with the same line handling):

* TSV whose header row names the columns; `text_columns` (one or two names)
  and `label_column` pick them, in any order, among any other columns;
* JSON lines (first character `{`): one object per line with those keys; a
  label may be a string or an integer.

The result is an `SNLIData` (`premises` the first text column, `hypotheses`
the second, or None for single sentences; `labels` class ids) with
`label_names` (class id -> label).  The classes are `labels` if given (their
order is the class ids), else the labels of the file, sorted (numerically when
all are integers).  Rows that are skipped and counted in `skipped`:
`no_gold_label` (the label is empty or `-`) and `empty_sentence`.  Errors,
raised as `ValueError("{path}: line {n}: ...")`: a header without a named
column, a row with another number of columns than the header, a label outside
`labels`, invalid JSON or UTF-8, a missing key, a text that is not a string.
"""

from gluon_bert.data.labels import NO_LABEL
from gluon_bert.data.lines import json_records, nonblank, split_lines
from gluon_bert.data.snli import SNLIData
from gluon_bert.fileio import read_utf8

__all__ = ['read_task_file', 'task_label_names', 'TASK_SKIP_REASONS']

TASK_SKIP_REASONS = ('no_gold_label', 'empty_sentence')


def task_label_names(raw_labels):
    """The classes of a file's labels: sorted, numerically if all are integers."""
    names = set(raw_labels)
    try:
        return sorted(names, key=int)
    except ValueError:
        return sorted(names)


def read_task_file(path, text_columns, label_column='label', labels=None):
    """Read the labelled file `path` (TSV with a header, or JSON lines) into an
    SNLIData with `label_names` (see the module's docstring)."""
    text_columns = list(text_columns)
    if not 1 <= len(text_columns) <= 2:
        raise ValueError('one or two text columns, not %d: %s'
                         % (len(text_columns), ','.join(text_columns)))
    lines = split_lines(read_utf8(path))
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise ValueError('%s: the file is empty' % path)
    parse = _parse_jsonl if lines[first].lstrip().startswith('{') else _parse_tsv
    rows, skipped = [], dict.fromkeys(TASK_SKIP_REASONS, 0)
    for line_no, label, texts in parse(lines, first, path, text_columns, label_column):
        if label in ('', NO_LABEL):
            skipped['no_gold_label'] += 1
        elif not all(texts):
            skipped['empty_sentence'] += 1
        else:
            rows.append((line_no, label, texts))
    names = list(labels) if labels else task_label_names(label for _, label, _ in rows)
    ids = {name: i for i, name in enumerate(names)}
    class_ids = []
    for line_no, label, _ in rows:
        if label not in ids:
            raise ValueError('%s: line %d: label %r is not one of the classes %s (give them '
                             'all with --labels)' % (path, line_no, label, ','.join(names)))
        class_ids.append(ids[label])
    firsts = [texts[0] for _, _, texts in rows]
    seconds = [texts[1] for _, _, texts in rows] if len(text_columns) == 2 else None
    data = SNLIData(firsts, seconds, class_ids, skipped=skipped, path=path)
    data.label_names = names
    return data


def _column(names, name, what, path, line_no):
    if name not in names:
        raise ValueError('%s: line %d: the header has no %s column %r (its columns: %s); '
                         'name it with --%s' % (path, line_no, what, name, ', '.join(names),
                                                what.replace(' ', '-') + '-column'
                                                + ('s' if what == 'text' else '')))
    return names.index(name)


def _parse_tsv(lines, first, path, text_columns, label_column):
    """(line_no, label, texts) of the rows of a TSV file with a header row."""
    header_no = first + 1
    names = [name.strip() for name in lines[first].split('\t')]
    label_col = _column(names, label_column, 'label', path, header_no)
    text_cols = [_column(names, name, 'text', path, header_no) for name in text_columns]
    for line_no, line in nonblank(lines, header_no):
        cols = line.split('\t')
        if len(cols) != len(names):
            raise ValueError('%s: line %d: expected %d tab-separated columns, found %d' % (
                path, line_no, len(names), len(cols)))
        yield line_no, cols[label_col].strip(), [cols[c].strip() for c in text_cols]


def _json_value(record, key, path, line_no):
    if key not in record:
        raise ValueError('%s: line %d: missing key %r' % (path, line_no, key))
    return record[key]


def _json_label(value, path, line_no):
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError('%s: line %d: a label is a string or an integer, not %r'
                     % (path, line_no, value))


def _json_text(value, key, path, line_no):
    if not isinstance(value, str):
        raise ValueError('%s: line %d: %s is not a string: %r' % (path, line_no, key, value))
    return value.strip()


def _parse_jsonl(lines, first, path, text_columns, label_column):
    """(line_no, label, texts) of the records of a JSON-lines file."""
    for line_no, record in json_records(lines, first, path):
        label = _json_label(_json_value(record, label_column, path, line_no), path, line_no)
        texts = [_json_text(_json_value(record, key, path, line_no), key, path, line_no)
                 for key in text_columns]
        yield line_no, label, texts
