"""Sentence pairs to classify: the NLI files of `gluon_bert.data.snli` (the
official SNLI TSV, a simple TSV with a header, JSON lines), read without
needing a label.

A label column or key may be there (it is ignored: a `-` label is no reason to
skip a pair here); the premise and the hypothesis must be.  Every non-blank row
is a pair, kept with its line number.  Errors, raised as
`ValueError("{path}: line {n}: ...")`: an unrecognised header, a row with
another number of columns than the header, invalid JSON (or not an object, or a
missing key, or a sentence that is not a string), an empty premise or
hypothesis, invalid UTF-8.
"""
import collections

from gluon_bert.data import snli
from gluon_bert.data.lines import find_column, json_records, json_sentence, nonblank, split_lines
from gluon_bert.fileio import read_utf8

__all__ = ['Pairs', 'read_pairs']


class Pairs(collections.namedtuple('Pairs', ['premises', 'hypotheses', 'line_numbers'])):
    """The pairs of a file, each with the number of its line; `path`."""

    def __new__(cls, premises, hypotheses, line_numbers, path=None):
        self = super().__new__(cls, premises, hypotheses, line_numbers)
        self.path = path
        return self


def read_pairs(path):
    """Every (premise, hypothesis) of the NLI file `path`, labelled or not."""
    lines = split_lines(read_utf8(path))
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise ValueError('%s: the file is empty' % path)
    parse = _jsonl_pairs if lines[first].lstrip().startswith('{') else _tsv_pairs
    premises, hypotheses, line_numbers = [], [], []
    for line_no, premise, hypothesis in parse(lines, first, path):
        for what, sentence in (('premise', premise), ('hypothesis', hypothesis)):
            if not sentence:
                raise ValueError('%s: line %d: the %s is empty' % (path, line_no, what))
        premises.append(premise)
        hypotheses.append(hypothesis)
        line_numbers.append(line_no)
    return Pairs(premises, hypotheses, line_numbers, path=path)


def _tsv_pairs(lines, first, path):
    header_no = first + 1
    names = [name.strip() for name in lines[first].split('\t')]
    if all(key in names for key in snli._BINARY_PARSE_KEYS):     # the official SNLI TSV
        premise_col, hypothesis_col = (names.index(key) for key in snli._BINARY_PARSE_KEYS)

        def clean(parse):
            return ' '.join(parse.translate(snli._DROP_PARENTHESES).split())
    else:
        premise_col = find_column(names, snli._PREMISE_KEYS, 'premise', path, header_no)
        hypothesis_col = find_column(names, snli._HYPOTHESIS_KEYS, 'hypothesis', path,
                                           header_no)
        clean = str.strip
    for line_no, line in nonblank(lines, header_no):
        cols = line.split('\t')
        if len(cols) != len(names):
            raise ValueError('%s: line %d: expected %d tab-separated columns, found %d' % (
                path, line_no, len(names), len(cols)))
        yield line_no, clean(cols[premise_col]), clean(cols[hypothesis_col])


def _jsonl_pairs(lines, first, path):
    for line_no, record in json_records(lines, first, path):
        yield (line_no, json_sentence(record, snli._PREMISE_KEYS, path, line_no),
               json_sentence(record, snli._HYPOTHESIS_KEYS, path, line_no))
