"""WikiText-2 pretraining examples, as the chapter "The Dataset for Pretraining
BERT": next sentence prediction pairs and masked language model targets.

The examples follow the chapter's recipe, but are seeded (an instance owns its
random generator; the global `random` state is never touched) and built with
numpy: each sentence is converted to ids once, pairs are drawn vectorised, and
the 80/10/10 masking is done on blocks of examples at a time.

Random replacement tokens are drawn uniformly from the ordinary words of the
vocabulary: never `<pad> <mask> <cls> <sep>`, and never `<unk>` either (a random
word should be a word; `<unk>` still appears as an input token and as a target
wherever the text has it).
"""
import io
import os
import random

import numpy as np
from mxnet import gluon

from gluon_bert.fileio import read_utf8
from gluon_bert.text import vocab as text

__all__ = ['TRAIN_FILE', 'VALID_FILE', 'read_wiki', 'WikiTextDataset', 'pretraining_dataset']

TRAIN_FILE = 'wiki.train.tokens'
VALID_FILE = 'wiki.valid.tokens'
MLM_FRACTION = 0.15
_BLOCK = 4096  # examples masked at a time (bounds the temporary arrays)


def read_wiki(path, seed=0):
    """Paragraphs of `wiki.train.tokens` (in folder `path`, or `path` itself), as
    the chapter: each line that splits on ' . ' into at least two parts becomes
    `line.strip().lower().split(' . ')`; shuffled with `random.Random(seed)`.

    As in the chapter, a line whose only ' . ' ends it (" ... . \\n") gives a
    one-sentence paragraph: it adds to the vocabulary and to the pool of random
    next sentences, but makes no pair of its own.
    """
    file_name = os.path.join(path, TRAIN_FILE) if os.path.isdir(path) else path
    if not os.path.isfile(file_name):
        raise FileNotFoundError('WikiText file not found: %s (expected %s, or a '
                                'folder holding it)' % (file_name, TRAIN_FILE))
    lines = io.StringIO(read_utf8(file_name), newline=None).readlines()
    paragraphs = [line.strip().lower().split(' . ') for line in lines
                  if len(line.split(' . ')) >= 2]
    random.Random(seed).shuffle(paragraphs)
    return paragraphs


class WikiTextDataset(gluon.data.Dataset):
    """BERT pretraining examples from `paragraphs` (lists of sentence strings).

    Item `i` is `(token_ids, segments, valid_len, pred_positions, mlm_weights,
    mlm_labels, nsp_label)`, numpy arrays padded to `max_len` tokens and
    `round(max_len * 0.15)` predictions; `nsp_label` is 1 when the second
    sentence is the true next one.
    """

    def __init__(self, paragraphs, max_len=128, vocab=None, min_freq=5, seed=0):
        self.max_len = max_len
        self.num_paragraphs = len(paragraphs)
        self.seed = seed
        tokenized = [[sentence.split() for sentence in paragraph] for paragraph in paragraphs]
        if vocab is None:
            vocab = text.build_vocab([s for p in tokenized for s in p], min_freq=min_freq)
        self.vocab = vocab
        self.tokenizer = text.WordTokenizer(vocab)
        self._sentences = _SentenceIds(tokenized, self.tokenizer)
        self.draw = None
        self.redraw(0)

    def redraw(self, draw):
        """Draw the NSP partners and the MLM positions and replacements anew, as
        draw number `draw` of this seed (dynamic masking: one draw per pass over
        the data).  Draw 0 is the one the dataset is built with; the same number
        always gives the same examples, so a resumed run sees what it saw.  The
        number of pairs may change by a few, as pairs whose random partner does
        not fit `max_len` are skipped."""
        if draw == self.draw:
            return
        self._rng = np.random.default_rng(self.seed if draw == 0 else [self.seed, draw])
        first, second, is_next = self._nsp_pairs(self._sentences)
        self.num_pairs = len(first)
        self._pad_pairs(self._sentences, first, second, is_next)
        self._mask_tokens()
        self.draw = draw

    ARRAYS = ('all_token_ids', 'all_segments', 'valid_lens', 'all_pred_positions',
              'all_mlm_weights', 'all_mlm_labels', 'nsp_labels')

    def take(self, num_pairs, seed=0):
        """A copy holding `num_pairs` of the examples (all if fewer), drawn with
        `seed`, in their original order: a fixed evaluation set."""
        out = object.__new__(type(self))
        out.__dict__.update(self.__dict__)
        n = len(self)
        idx = np.sort(np.random.default_rng(seed).permutation(n)[:num_pairs]) \
            if num_pairs < n else np.arange(n)
        for name in self.ARRAYS:
            setattr(out, name, getattr(self, name)[idx])
        out.num_pairs = len(idx)
        return out

    def __getitem__(self, idx):
        return (self.all_token_ids[idx], self.all_segments[idx], self.valid_lens[idx],
                self.all_pred_positions[idx], self.all_mlm_weights[idx],
                self.all_mlm_labels[idx], self.nsp_labels[idx])

    def __len__(self):
        return len(self.all_token_ids)

    def _nsp_pairs(self, sentences):
        """Consecutive sentence pairs; half of the second sentences are replaced by
        a random sentence of a random paragraph.  Pairs longer than `max_len`
        (with `<cls>` and two `<sep>`) are skipped.  Returns sentence indices."""
        rng = self._rng
        first = sentences.pair_starts()
        second = first + 1
        is_next = rng.random(len(first)) < 0.5
        num_random = int((~is_next).sum())
        para = sentences.nonempty[rng.integers(len(sentences.nonempty), size=num_random)]
        offset = rng.integers(sentences.para_sizes[para])  # a sentence of each
        second[~is_next] = sentences.para_starts[para] + offset
        fits = sentences.lengths[first] + sentences.lengths[second] + 3 <= self.max_len
        return first[fits], second[fits], is_next[fits]

    def _pad_pairs(self, sentences, first, second, is_next):
        """Fill `<cls> a <sep> b <sep>`, segments, valid lengths and NSP labels."""
        n, tok = len(first), self.tokenizer
        len_a, len_b = sentences.lengths[first], sentences.lengths[second]
        rows = np.arange(n)
        ids = np.full((n, self.max_len), tok.pad_id, dtype=np.int32)
        ids[:, 0] = tok.cls_id
        sentences.fill(ids, rows, 1, first)
        ids[rows, len_a + 1] = tok.sep_id
        sentences.fill(ids, rows, len_a + 2, second)
        ids[rows, len_a + len_b + 2] = tok.sep_id
        valid = len_a + len_b + 3
        cols = np.arange(self.max_len)
        self.all_token_ids = ids
        self.all_segments = ((cols >= (len_a + 2)[:, None]) &
                             (cols < valid[:, None])).astype(np.int32)
        self.valid_lens = valid.astype(np.float32)
        self.nsp_labels = is_next.astype(np.int32)

    def _mask_tokens(self):
        """Choose the MLM targets and corrupt the inputs, a block at a time."""
        n = len(self.all_token_ids)
        num_preds = max(1, round(self.max_len * MLM_FRACTION))
        self.all_pred_positions = np.zeros((n, num_preds), dtype=np.int32)
        self.all_mlm_weights = np.zeros((n, num_preds), dtype=np.float32)
        self.all_mlm_labels = np.zeros((n, num_preds), dtype=np.int32)
        special = np.array(sorted(self.tokenizer.special_ids))
        not_words = np.append(special, self.tokenizer.unk_id)
        words = np.setdiff1d(np.arange(len(self.vocab)), not_words)
        for start in range(0, n, _BLOCK):
            block = slice(start, min(start + _BLOCK, n))
            self._mask_block(block, special, words)

    def _mask_block(self, block, special, words):
        """MLM for the examples in `block`: max(1, round(0.15 * length)) random
        non-special positions (sorted); 80 % become `<mask>`, 10 % a random word,
        10 % stay; labels are the original ids."""
        rng, ids = self._rng, self.all_token_ids[block]  # a view: edited in place
        num_slots = self.all_pred_positions.shape[1]
        candidate = ~np.isin(ids, special)
        # A random key per position, candidates first: the smallest keys are a
        # uniform random subset of the candidates.
        keys = rng.random(ids.shape) + ~candidate
        chosen = np.argsort(keys, axis=1)[:, :num_slots]
        lengths = self.valid_lens[block].astype(np.int64)
        wanted = np.maximum(1, np.round(lengths * MLM_FRACTION)).astype(np.int64)
        count = np.minimum(wanted, candidate.sum(axis=1))
        used = np.arange(num_slots) < count[:, None]
        positions = np.sort(np.where(used, chosen, self.max_len), axis=1)
        positions = np.where(used, positions, 0)
        rows = np.arange(len(ids))[:, None]
        labels = np.where(used, ids[rows, positions], 0)
        self._corrupt(ids, positions, used, words)
        self.all_pred_positions[block] = positions
        self.all_mlm_weights[block] = used
        self.all_mlm_labels[block] = labels

    def _corrupt(self, ids, positions, used, words):
        """In place: 80 % of the used positions -> `<mask>`, 10 % -> a random word,
        10 % unchanged (also unchanged if the vocabulary has no words)."""
        draw = self._rng.random(positions.shape)
        r, c = np.nonzero(used & (draw < 0.8))
        ids[r, positions[r, c]] = self.tokenizer.mask_id
        r, c = np.nonzero(used & (draw >= 0.8) & (draw < 0.9))
        if len(words):
            ids[r, positions[r, c]] = words[self._rng.integers(len(words), size=len(r))]


class _SentenceIds:
    """All sentences as one flat id array with per-sentence offsets and lengths."""

    def __init__(self, tokenized, tokenizer):
        sentences = [s for paragraph in tokenized for s in paragraph]
        self.lengths = np.array([len(s) for s in sentences], dtype=np.int64)
        self.offsets = np.cumsum(self.lengths) - self.lengths
        self.flat = np.array(tokenizer.to_ids([t for s in sentences for t in s]),
                             dtype=np.int32)
        self.para_sizes = np.array([len(p) for p in tokenized], dtype=np.int64)
        self.para_starts = np.cumsum(self.para_sizes) - self.para_sizes
        self.nonempty = np.nonzero(self.para_sizes)[0]

    def pair_starts(self):
        """Index of every sentence that has a next sentence in its paragraph."""
        is_last = np.zeros(len(self.lengths), dtype=bool)
        is_last[self.para_starts + self.para_sizes - 1] = True
        return np.nonzero(~is_last)[0]

    def fill(self, out, rows, col_starts, sentence_idx):
        """Copy sentence `sentence_idx[k]` into `out[rows[k]]` from `col_starts[k]`."""
        lengths = self.lengths[sentence_idx]
        total = int(lengths.sum())
        if total == 0:
            return
        # Position of each copied token within its sentence.
        within = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        cols = np.repeat(np.broadcast_to(col_starts, lengths.shape), lengths) + within
        src = np.repeat(self.offsets[sentence_idx], lengths) + within
        out[np.repeat(rows, lengths), cols] = self.flat[src]


def pretraining_dataset(data=None, max_len=128, seed=0, vocab=None, cache_dir=None,
                        download=True):
    """The WikiText-2 pretraining dataset.  `data` is `wiki.train.tokens`, or
    anything `download.get_dataset_dir` accepts as `data_dir` (None: the cache,
    downloading if allowed)."""
    if data is not None and os.path.isfile(data) and not data.endswith('.zip'):
        path = data
    else:
        from gluon_bert.data import download as _download
        path = _download.get_dataset_dir('wikitext-2', data_dir=data, cache_dir=cache_dir,
                                         download=download, files=(TRAIN_FILE,))
    return WikiTextDataset(read_wiki(path, seed=seed), max_len=max_len, vocab=vocab,
                           seed=seed)
