"""The SNLI data set: file readers and the BERT input pipeline of the chapter.

`read_snli_file` detects the format from the first non-empty line:

* the official SNLI 1.0 TSV (`snli_1.0_{train,dev,test}.txt`, 14 columns, header
  naming `sentence1_binary_parse`): the sentences are the binary-parse columns
  with `(` and `)` removed and runs of white space collapsed, as the chapter;
* a simple TSV whose header names a label column (`gold_label` or `label`), a
  premise column (`sentence1` or `premise`) and a hypothesis column
  (`sentence2` or `hypothesis`), in any order;
* JSON lines (first character `{`) with the same key names.

A label is a name (`entailment`, `contradiction`, `neutral`) or a number, read
with `label_map`: 'chapter' (the default, the chapter's ids, which are also the
class ids inside gluon_bert: 0 entailment, 1 contradiction, 2 neutral) or
'glue' (the order of GLUE and of Hugging Face's `snli`: 0 entailment, 1
neutral, 2 contradiction, and -1 for no gold label).

Rows that are skipped and counted in `SNLIData.skipped`:

* `no_gold_label`: the label is `-` (the annotators did not agree; -1 with the
  'glue' map);
* `empty_sentence`: the premise or the hypothesis is empty after stripping.

Errors, raised as `ValueError("{path}: line {n}: ...")`: an unrecognised header,
a row with another number of columns than the header, an unknown label, a line
that is not valid UTF-8, a line that is not valid JSON (or not an object, or
lacks a key, or has a sentence that is not a string).  Blank lines are ignored.
"""
import collections
import multiprocessing
import os

import numpy as np
from mxnet import gluon

from gluon_bert.data.lines import (find_column, json_key, json_records, json_sentence, nonblank,
                                     split_lines)
from gluon_bert.data.labels import LABELS, LABEL_NAMES, LABEL_MAPS, read_label
from gluon_bert.fileio import read_utf8
from gluon_bert.system import usable_cpus
from gluon_bert.text.vocab import WordTokenizer, check_pair_len, truncation_function

__all__ = ['LABELS', 'LABEL_NAMES', 'LABEL_MAPS', 'SNLIData', 'read_snli_file', 'read_snli',
           'describe_reading', 'encode_pairs', 'SNLIBERTDataset']

SPLITS = ('train', 'dev', 'test')

# Accepted spellings of the three columns (TSV header names and JSON keys).
_LABEL_KEYS = ('gold_label', 'label')
_PREMISE_KEYS = ('sentence1', 'premise')
_HYPOTHESIS_KEYS = ('sentence2', 'hypothesis')
_BINARY_PARSE_KEYS = ('sentence1_binary_parse', 'sentence2_binary_parse')

_SKIP_REASONS = {'no_gold_label': "gold label '-'", 'empty_sentence': 'empty sentence'}
_DROP_PARENTHESES = str.maketrans('', '', '()')


class SNLIData(collections.namedtuple('SNLIData', ['premises', 'hypotheses', 'labels'])):
    """The triple `(premises, hypotheses, labels)` of a file, with `skipped`
    (reason -> number of rows), the number of data `rows` read and the `path`
    it was read from."""

    def __new__(cls, premises, hypotheses, labels, skipped=None, path=None, rows=None):
        self = super().__new__(cls, premises, hypotheses, labels)
        self.skipped = dict(skipped or {})
        self.path = path
        self.rows = len(labels) + sum(self.skipped.values()) if rows is None else rows
        return self

    @property
    def num_examples(self):
        return len(self.labels)


# --------------------------------------------------------------------------
# Readers


def read_snli_file(path, label_map='chapter'):
    """Read an SNLI file (official TSV, simple TSV or JSON lines) into SNLIData;
    numeric labels are read with `label_map` ('chapter' or 'glue', see
    LABEL_MAPS)."""
    if label_map not in LABEL_MAPS:
        raise ValueError('unknown label map %r; choose one of %s'
                         % (label_map, ', '.join(LABEL_MAPS)))
    lines = split_lines(read_utf8(path))
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise ValueError('%s: the file is empty' % path)
    if lines[first].lstrip().startswith('{'):
        parse = _parse_jsonl
    else:
        parse = _parse_tsv
    data = SNLIData(path=path, **_collect(parse(lines, first, path, label_map)))
    data.label_map = label_map
    return data


def describe_reading(data, name=None):
    """One line: the rows of `data` (an SNLIData) read, kept and skipped (why)."""
    name = name or data.path
    skipped = sum(data.skipped.values())
    line = '%s: read %d rows, %d examples' % (name, data.rows, len(data.labels))
    if skipped:
        line += ', skipped %d (%s)' % (skipped, ', '.join(
            '%d %s' % (n, _SKIP_REASONS.get(reason, reason) + (
                ' or -1' if reason == 'no_gold_label' and
                getattr(data, 'label_map', None) == 'glue' else ''))
            for reason, n in sorted(data.skipped.items()) if n))
    return line


def read_snli(data_dir, split, label_map='chapter'):
    """Read `snli_1.0_{split}.txt` of the extracted SNLI folder `data_dir`."""
    if split not in SPLITS:
        raise ValueError('unknown split %r; choose one of %s' % (split, ', '.join(SPLITS)))
    name = 'snli_1.0_%s.txt' % split
    path = os.path.join(data_dir, name)
    if not os.path.exists(path):
        nested = os.path.join(data_dir, 'snli_1.0', name)
        if os.path.exists(nested):
            return read_snli_file(nested, label_map)
        raise FileNotFoundError('SNLI %s file not found: %s' % (split, os.path.abspath(path)))
    return read_snli_file(path, label_map)


def _collect(rows):
    """SNLIData's fields (premises, hypotheses, labels, skipped, rows) of the
    rows a parser yields: None for a row without a gold label, else
    `(label_id, premise, hypothesis)`."""
    premises, hypotheses, labels = [], [], []
    skipped = {'no_gold_label': 0, 'empty_sentence': 0}
    num_rows = 0
    for row in rows:
        num_rows += 1
        if row is None:
            skipped['no_gold_label'] += 1
            continue
        label_id, premise, hypothesis = row
        if not premise or not hypothesis:
            skipped['empty_sentence'] += 1
            continue
        premises.append(premise)
        hypotheses.append(hypothesis)
        labels.append(label_id)
    return dict(premises=premises, hypotheses=hypotheses, labels=labels, skipped=skipped,
                rows=num_rows)


def _parse_tsv(lines, first, path, label_map):
    """Rows (see `_collect`) of a TSV file whose header is `lines[first]`."""
    header_no = first + 1
    names = [name.strip() for name in lines[first].split('\t')]
    num_cols = len(names)
    label_col = find_column(names, _LABEL_KEYS, 'label', path, header_no)
    if all(key in names for key in _BINARY_PARSE_KEYS):
        premise_col, hypothesis_col = (names.index(key) for key in _BINARY_PARSE_KEYS)

        def clean(parse):
            return ' '.join(parse.translate(_DROP_PARENTHESES).split())
    else:
        premise_col = find_column(names, _PREMISE_KEYS, 'premise', path, header_no)
        hypothesis_col = find_column(names, _HYPOTHESIS_KEYS, 'hypothesis', path, header_no)
        clean = str.strip
    for line_no, line in nonblank(lines, header_no):
        cols = line.split('\t')
        if len(cols) != num_cols:
            raise ValueError('%s: line %d: expected %d tab-separated columns, found %d' % (
                path, line_no, num_cols, len(cols)))
        label_id = read_label(cols[label_col], label_map, path, line_no)
        yield None if label_id is None else (
            label_id, clean(cols[premise_col]), clean(cols[hypothesis_col]))


def _parse_jsonl(lines, first, path, label_map):
    """Rows (see `_collect`) of a JSON-lines file."""
    for line_no, record in json_records(lines, first, path):
        label_id = read_label(json_key(record, _LABEL_KEYS, path, line_no), label_map, path,
                              line_no)
        yield None if label_id is None else (
            label_id, json_sentence(record, _PREMISE_KEYS, path, line_no),
            json_sentence(record, _HYPOTHESIS_KEYS, path, line_no))


# --------------------------------------------------------------------------
# BERT inputs


def encode_pairs(premises, hypotheses, max_len, tokenizer, truncation='longest-first'):
    """Padded BERT inputs of sentence pairs: `<cls> p <sep> h <sep>`, the pair
    truncated to `max_len - 3` tokens (`truncation`: 'longest-first', the
    chapter's, or 'ratio', see `text.vocab.truncate_pair`).  With `hypotheses`
    None, single sentences: `<cls> s <sep>`, cut to `max_len - 2` tokens.

    Returns int32 arrays `token_ids` (N, max_len), `segments` (N, max_len) and
    `valid_lens` (N,)."""
    flat_ids, premise_lens, valid_lens = _encode_flat(premises, hypotheses, max_len, tokenizer,
                                                      truncation)
    return _pad(flat_ids, premise_lens, valid_lens, max_len, tokenizer.pad_id)


def _encode_flat(premises, hypotheses, max_len, tokenizer, truncation='longest-first'):
    """The pairs' token ids `<cls> p <sep> h <sep>` (or `<cls> s <sep>`) end to
    end in one int32 array, with each pair's premise length and valid length."""
    n = len(premises)
    truncate = truncation_function(truncation)
    if hypotheses is not None:
        check_pair_len(max_len)
    elif max_len < 3:
        raise ValueError('max_len %d is too short for a sentence: <cls>, one token and <sep> '
                         'need at least 3' % max_len)
    flat = []
    premise_lens = np.empty(n, dtype=np.int32)
    valid_lens = np.empty(n, dtype=np.int32)
    cls, sep = [tokenizer.cls_id], [tokenizer.sep_id]
    budget = max_len - 3
    if type(tokenizer) is WordTokenizer:
        # The chapter's tokenizer, inlined: lower-case, split, look up.
        get, unk = tokenizer.vocab.token_to_idx.get, tokenizer.unk_id

        def encode(text):
            return [get(t, unk) for t in text.lower().split()]
    else:
        tokenize, to_ids = tokenizer.tokenize, tokenizer.to_ids

        def encode(text):
            return to_ids(tokenize(text))
    extend = flat.extend
    for i in range(n):
        p = encode(premises[i])
        if hypotheses is None:                          # one sentence
            del p[max_len - 2:]
            extend(cls + p + sep)
            premise_lens[i] = valid_lens[i] = len(p) + 2
            continue
        h = encode(hypotheses[i])
        if len(p) + len(h) > budget:
            truncate(p, h, max_len)
        extend(cls + p + sep + h + sep)
        premise_lens[i] = len(p)
        valid_lens[i] = len(p) + len(h) + 3
    return np.array(flat, dtype=np.int32), premise_lens, valid_lens


def _pad(flat_ids, premise_lens, valid_lens, max_len, pad_id):
    """Padded `(token_ids, segments, valid_lens)` of `_encode_flat`'s output."""
    positions = np.arange(max_len, dtype=np.int32)
    valid = positions < valid_lens[:, None]
    token_ids = np.full(valid.shape, pad_id, dtype=np.int32)
    token_ids[valid] = flat_ids            # row-major: pair after pair, as in flat_ids
    segments = (positions >= (premise_lens + 2)[:, None]) & valid
    return token_ids, segments.astype(np.int32), valid_lens


# The tokenizer of a pool worker, set once per worker by `_init_worker`.
_worker_tokenizer = None


def _init_worker(tokenizer):
    global _worker_tokenizer
    _worker_tokenizer = tokenizer


def _encode_chunk(task):
    premises, hypotheses, max_len, truncation = task
    return _encode_flat(premises, hypotheses, max_len, _worker_tokenizer, truncation)


def _pool_context():
    if 'fork' in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context('fork')
    return multiprocessing.get_context()


def encode_pairs_parallel(premises, hypotheses, max_len, tokenizer, num_workers,
                          chunks_per_worker=4, truncation='longest-first'):
    """`encode_pairs` in a pool of `num_workers` processes; the same arrays.

    Each worker returns its chunk's flat token ids and lengths (on SNLI about a
    tenth of the bytes of padded rows); the padding is done here, vectorised."""
    n = len(premises)
    chunk = max(1, -(-n // (chunks_per_worker * num_workers)))
    tasks = [(premises[i:i + chunk], None if hypotheses is None else hypotheses[i:i + chunk],
              max_len, truncation) for i in range(0, n, chunk)]
    with _pool_context().Pool(num_workers, initializer=_init_worker,
                              initargs=(tokenizer,)) as pool:
        parts = pool.map(_encode_chunk, tasks, chunksize=1)
    if not parts:
        return encode_pairs([], [], max_len, tokenizer, truncation)
    flat_ids, premise_lens, valid_lens = (np.concatenate(arrays) for arrays in zip(*parts))
    return _pad(flat_ids, premise_lens, valid_lens, max_len, tokenizer.pad_id)


class SNLIBERTDataset(gluon.data.Dataset):
    """SNLI pairs as BERT inputs: `((token_ids, segments, valid_len), label)`.

    `dataset` is an SNLIData or a `(premises, hypotheses, labels)` triple;
    `tokenizer` a WordTokenizer-like object (or give `vocab` for the chapter's
    word tokenizer).  With `num_workers` > 1 (None: every usable CPU) inputs of at least
    `min_pairs_per_worker * 2` pairs are preprocessed in a process pool.  Hypotheses
    None: single sentences.  `truncation`: see `encode_pairs`."""

    def __init__(self, dataset, max_len=128, tokenizer=None, vocab=None, num_workers=None,
                 min_pairs_per_worker=10000, truncation='longest-first'):
        if tokenizer is None:
            if vocab is None:
                raise ValueError('SNLIBERTDataset needs a tokenizer or a vocab')
            tokenizer = WordTokenizer(vocab)
        if max_len < 3:
            raise ValueError('max_len must be at least 3, got %d' % max_len)
        premises, hypotheses, labels = _unpack(dataset)
        num_second = len(premises) if hypotheses is None else len(hypotheses)
        if not len(premises) == num_second == len(labels):
            raise ValueError('premises, hypotheses and labels differ in length: %d, %d, %d' % (
                len(premises), num_second, len(labels)))
        self.tokenizer = tokenizer
        self.max_len = max_len
        self.num_examples = len(labels)
        self.labels = np.asarray(labels, dtype=np.int32).reshape(-1)
        workers = self._pool_size(num_workers, min_pairs_per_worker)
        if workers > 1:
            arrays = encode_pairs_parallel(premises, hypotheses, max_len, tokenizer, workers,
                                           truncation=truncation)
        else:
            arrays = encode_pairs(premises, hypotheses, max_len, tokenizer, truncation)
        self.all_token_ids, self.all_segments, self.valid_lens = arrays

    def _pool_size(self, num_workers, min_pairs_per_worker):
        """Number of processes worth starting for this many pairs (1: none)."""
        if num_workers is None:
            num_workers = usable_cpus()
        by_size = self.num_examples // max(1, min_pairs_per_worker)
        return max(1, min(num_workers, by_size))

    def __getitem__(self, idx):
        return ((self.all_token_ids[idx], self.all_segments[idx], self.valid_lens[idx]),
                self.labels[idx])

    def __len__(self):
        return self.num_examples


def _unpack(dataset):
    if hasattr(dataset, 'premises'):
        return dataset.premises, dataset.hypotheses, dataset.labels
    premises, hypotheses, labels = dataset
    return premises, hypotheses, labels
