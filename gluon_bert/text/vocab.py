"""Tokenization and vocabulary, as the chapter: lower-cased word tokens and a
vocabulary with min_freq 5 and the reserved tokens `<pad> <mask> <cls> <sep>`.

A tokenizer object bundles the vocabulary with the names of its special tokens so
that the datasets, `predict` and `evaluate` work the same with the chapter's word
vocabulary and with WordPiece vocabularies of pretrained checkpoints.
"""
import collections
import os

import gluonnlp as nlp

from gluon_bert.fileio import write_json_atomic, write_text_atomic

__all__ = ['tokenize', 'build_vocab', 'truncate_pair_of_tokens', 'truncate_pair_by_ratio',
           'truncate_pair', 'truncation_function', 'TRUNCATIONS', 'MIN_PAIR_LEN',
           'check_pair_len', 'TokenizerBase', 'WordTokenizer']

# The shortest max_len a pair fits in: <cls>, one token of each side, two <sep>.
MIN_PAIR_LEN = 5


def tokenize(lines):
    """Split each line into lower-cased word tokens."""
    return [line.lower().split() for line in lines]


def build_vocab(token_lists, min_freq=5):
    """Vocabulary over `token_lists` (a list of token lists), as the chapter:
    `<unk>` plus the reserved `<pad> <mask> <cls> <sep>`, then every token seen at
    least `min_freq` times (most frequent first)."""
    counter = collections.Counter(tok for tokens in token_lists for tok in tokens)
    return nlp.Vocab(counter, min_freq=min_freq, unknown_token='<unk>',
                     padding_token='<pad>', bos_token=None, eos_token=None,
                     reserved_tokens=['<mask>', '<cls>', '<sep>'])


def check_pair_len(max_len):
    """Refuse (ValueError) a `max_len` below `MIN_PAIR_LEN`: no pair fits in it."""
    if max_len < MIN_PAIR_LEN:
        raise ValueError('max_len %d is too short for a sentence pair: <cls>, one token of '
                         'each sentence and two <sep> need at least %d' % (max_len, MIN_PAIR_LEN))


def truncate_pair_of_tokens(p_tokens, h_tokens, max_len):
    """Truncate the pair, longest first, in place, until it fits with one `<cls>`
    and two `<sep>` in `max_len` positions (at least `MIN_PAIR_LEN`)."""
    check_pair_len(max_len)
    while len(p_tokens) + len(h_tokens) > max_len - 3:
        if len(p_tokens) > len(h_tokens):
            p_tokens.pop()
        else:
            h_tokens.pop()
    return p_tokens, h_tokens


def truncate_pair_by_ratio(p_tokens, h_tokens, max_len):
    """Truncate the pair in place so that it fits in `max_len` positions with one
    `<cls>` and two `<sep>`, each side keeping a share of the `B = max_len - 3`
    positions in proportion to its length.  A pair that fits is left alone.

    With lengths `a`, `b` and `a + b > B` the first side keeps
    `a' = floor(B * a / (a + b) + 1/2)` tokens (computed in integers), clamped to
    `[1, B - 1]` when both sides are non-empty, and the second side
    `B - a'`: the pair is then exactly `B` tokens long, and neither side grows.
    `max_len` is at least `MIN_PAIR_LEN` (B >= 2)."""
    check_pair_len(max_len)
    a, b = len(p_tokens), len(h_tokens)
    budget = max_len - 3
    if a + b <= budget:
        return p_tokens, h_tokens
    keep = (2 * budget * a + a + b) // (2 * (a + b))
    if a and b:
        keep = min(max(keep, 1), budget - 1)
    del p_tokens[keep:]
    del h_tokens[budget - keep:]
    return p_tokens, h_tokens


# The pair truncation modes: the chapter's longest-first, and by length ratio.
TRUNCATIONS = {'longest-first': truncate_pair_of_tokens, 'ratio': truncate_pair_by_ratio}


def truncation_function(mode):
    """The function `f(p_tokens, h_tokens, max_len)` of the mode `mode`."""
    if mode not in TRUNCATIONS:
        raise ValueError('truncation must be one of %s, not %r' % (', '.join(TRUNCATIONS), mode))
    return TRUNCATIONS[mode]


def truncate_pair(p_tokens, h_tokens, max_len, mode='longest-first'):
    """Truncate the pair in place with the mode `mode` (see `TRUNCATIONS`)."""
    return truncation_function(mode)(p_tokens, h_tokens, max_len)


class TokenizerBase:
    """What the tokenizers share: the ids of their special tokens (`cls_id`,
    `sep_id`, `pad_id`, `mask_id`, `unk_id`, `special_ids` without `unk_id`),
    `to_ids` and `encode`.  A tokenizer names its special tokens (`cls_token`...),
    has `tokenize(text)` and `vocab`, and calls `_set_ids(token_to_idx)`."""

    def _set_ids(self, token_to_idx):
        for role in ('cls', 'sep', 'pad', 'mask', 'unk'):
            tok = getattr(self, role + '_token')
            if tok not in token_to_idx:
                raise ValueError('vocabulary lacks the special token %r' % tok)
            setattr(self, role + '_id', token_to_idx[tok])
        self._token_to_idx = token_to_idx
        self.special_ids = frozenset((self.cls_id, self.sep_id, self.pad_id, self.mask_id))

    def __len__(self):
        return len(self.vocab)

    def to_ids(self, tokens):
        """Token ids of a list of tokens (unknown tokens map to `unk_id`)."""
        get, unk = self._token_to_idx.get, self.unk_id
        return [get(t, unk) for t in tokens]

    def encode(self, text):
        return self.to_ids(self.tokenize(text))


class WordTokenizer(TokenizerBase):
    """The chapter's tokenizer: lower-case, split on white space, word vocabulary."""
    kind = 'word'
    cls_token, sep_token, pad_token, mask_token, unk_token = (
        '<cls>', '<sep>', '<pad>', '<mask>', '<unk>')

    def __init__(self, vocab):
        self.vocab = vocab
        self._set_ids(vocab.token_to_idx)

    def tokenize(self, text):
        return text.lower().split()

    def save(self, folder):
        """Write `vocab.json` and `tokenizer.json` into `folder`."""
        write_text_atomic(os.path.join(folder, 'vocab.json'), self.vocab.to_json())
        write_json_atomic(os.path.join(folder, 'tokenizer.json'), {'kind': self.kind})

    @classmethod
    def load(cls, folder):
        path = os.path.join(folder, 'vocab.json')
        with open(path) as f:
            vocab = nlp.Vocab.from_json(f.read())
        return cls(vocab)
