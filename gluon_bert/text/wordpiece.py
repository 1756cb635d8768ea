"""WordPiece tokenization for checkpoints that bring a `vocab.txt` (BERT, MiniLM,
the GluonNLP model zoo).

`WordPieceTokenizer` is GluonNLP's `BERTTokenizer` (basic tokenization: clean the
text, split CJK characters and punctuation, optionally lower-case and strip accents;
then greedy longest-match-first WordPiece) over a `BERTVocab` read from `vocab.txt`.
It gives the same tokens as the reference BERT tokenizer (`BertTokenizer(Fast)` of
`transformers`) and offers the interface of `text.WordTokenizer`, so the SNLI and
WikiText datasets, `predict` and `evaluate` use it unchanged.

Speed: ASCII text (all of SNLI) takes a fast path (one `str.translate` and a split,
which is exactly what the basic tokenizer does to ASCII) and each word's pieces are
cached per tokenizer object, so a sentence costs a few microseconds.  The cache and
GluonNLP's tokenizer objects are not pickled; a copy sent to a worker process
rebuilds them.
"""
import collections
import os

import gluonnlp as nlp

from gluon_bert.fileio import read_json, write_json_atomic, write_text_atomic
from gluon_bert.text.vocab import TokenizerBase

__all__ = ['WordPieceTokenizer', 'read_vocab_file', 'make_bert_vocab']

VOCAB_FILE = 'vocab.txt'
META_FILE = 'tokenizer.json'

# The special tokens of BERT checkpoints, by their role in the tokenizer interface.
DEFAULT_SPECIAL_TOKENS = dict(cls='[CLS]', sep='[SEP]', pad='[PAD]', mask='[MASK]',
                              unk='[UNK]')
# Same as the reference tokenizer (`max_input_chars_per_word` of BERT's WordPiece):
# a longer word becomes [UNK].
MAX_INPUT_CHARS_PER_WORD = 100
_CACHE_LIMIT = 1 << 20


def _ascii_table(lower):
    """`str.translate` table doing BERT's basic tokenization of ASCII text: control
    characters dropped, tab/newline/CR to spaces, space around every non-alphanumeric
    printable character (BERT counts all of them as punctuation)."""
    table = {}
    for cp in range(128):
        ch = chr(cp)
        if ch in '\t\n\r':
            table[cp] = ' '
        elif cp < 32 or cp == 127:
            table[cp] = None
        elif 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
            table[cp] = ' %s ' % ch
        elif lower and 'A' <= ch <= 'Z':
            table[cp] = ch.lower()
    return table


def read_vocab_file(path):
    """Tokens of a BERT `vocab.txt`, one per line, in id order."""
    with open(path, encoding='utf-8') as f:
        tokens = [line.rstrip('\n') for line in f]
    if tokens and tokens[-1] == '':
        tokens.pop()
    if not tokens:
        raise ValueError('%s: empty vocabulary' % path)
    seen = {}
    for i, tok in enumerate(tokens):
        if tok in seen:
            raise ValueError('%s: line %d: token %r repeats line %d'
                             % (path, i + 1, tok, seen[tok] + 1))
        seen[tok] = i
    return tokens


def make_bert_vocab(tokens, special_tokens=None):
    """A GluonNLP `BERTVocab` whose ids are the positions of `tokens`."""
    sp = dict(DEFAULT_SPECIAL_TOKENS, **(special_tokens or {}))
    missing = [sp[k] for k in ('cls', 'sep', 'pad', 'mask', 'unk') if sp[k] not in tokens]
    if missing:
        raise ValueError('the vocabulary lacks the special token(s) %s' % ', '.join(missing))
    token_to_idx = {tok: i for i, tok in enumerate(tokens)}
    if len(token_to_idx) != len(tokens):
        raise ValueError('the vocabulary has repeated tokens')
    vocab = nlp.vocab.BERTVocab(collections.Counter(tokens), token_to_idx=token_to_idx,
                                unknown_token=sp['unk'], padding_token=sp['pad'],
                                bos_token=None, eos_token=None, mask_token=sp['mask'],
                                sep_token=sp['sep'], cls_token=sp['cls'])
    assert vocab.idx_to_token == list(tokens)
    return vocab


class WordPieceTokenizer(TokenizerBase):
    """BERT WordPiece tokenizer over a GluonNLP `BERTVocab`.

    `vocab` is a `BERTVocab` (its special tokens name [CLS] etc.) or a list of tokens
    in id order; `lower` lower-cases and strips accents (uncased checkpoints)."""
    kind = 'wordpiece'

    def __init__(self, vocab, lower=True, max_input_chars_per_word=MAX_INPUT_CHARS_PER_WORD,
                 special_tokens=None):
        if not isinstance(vocab, nlp.vocab.BERTVocab):
            vocab = make_bert_vocab(list(vocab), special_tokens)
        self.vocab = vocab
        self.lower = bool(lower)
        self.max_input_chars_per_word = int(max_input_chars_per_word)
        self.cls_token = vocab.cls_token
        self.sep_token = vocab.sep_token
        self.pad_token = vocab.padding_token
        self.mask_token = vocab.mask_token
        self.unk_token = vocab.unknown_token
        self._setup()

    def _setup(self):
        """Build the lookup tables and GluonNLP tokenizer (not pickled)."""
        vocab = self.vocab
        self._set_ids(dict(vocab.token_to_idx))
        self._bert = nlp.data.BERTTokenizer(vocab, lower=self.lower,
                                            max_input_chars_per_word=self.max_input_chars_per_word)
        self._basic = self._bert.basic_tokenizer.tokenize
        self._pieces = self._bert.wordpiece_tokenizer.tokenize
        self._ascii = _ascii_table(self.lower)
        self._cache = {}

    def __getstate__(self):
        return dict(vocab=self.vocab, lower=self.lower,
                    max_input_chars_per_word=self.max_input_chars_per_word,
                    specials=(self.cls_token, self.sep_token, self.pad_token,
                              self.mask_token, self.unk_token))

    def __setstate__(self, state):
        self.vocab = state['vocab']
        self.lower = state['lower']
        self.max_input_chars_per_word = state['max_input_chars_per_word']
        (self.cls_token, self.sep_token, self.pad_token, self.mask_token,
         self.unk_token) = state['specials']
        self._setup()

    def __repr__(self):
        return 'WordPieceTokenizer(%d tokens, lower=%s)' % (len(self), self.lower)

    # ------------------------------------------------------------------
    # The tokenizer interface

    def tokenize(self, text):
        """WordPiece tokens of `text` (a str)."""
        if text.isascii():
            words = text.translate(self._ascii).split()
        else:
            words = self._basic(text)
        cache = self._cache
        out = []
        for word in words:
            pieces = cache.get(word)
            if pieces is None:
                pieces = self._pieces(word)
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()
                cache[word] = pieces
            out += pieces
        return out

    def to_tokens(self, ids):
        idx_to_token = self.vocab.idx_to_token
        return [idx_to_token[int(i)] for i in ids]

    # ------------------------------------------------------------------
    # Files

    def save(self, folder):
        """Write `vocab.txt` and `tokenizer.json` into `folder`."""
        os.makedirs(folder, exist_ok=True)
        write_text_atomic(os.path.join(folder, VOCAB_FILE),
                          ''.join(tok + '\n' for tok in self.vocab.idx_to_token))
        meta = dict(kind=self.kind, lower=self.lower,
                    max_input_chars_per_word=self.max_input_chars_per_word,
                    special_tokens=dict(cls=self.cls_token, sep=self.sep_token,
                                        pad=self.pad_token, mask=self.mask_token,
                                        unk=self.unk_token))
        write_json_atomic(os.path.join(folder, META_FILE), meta)

    @classmethod
    def load(cls, folder):
        """Load a tokenizer written by `save`."""
        meta_path = os.path.join(folder, META_FILE)
        meta = read_json(meta_path)
        if meta.get('kind') != cls.kind:
            raise ValueError('%s: not a WordPiece tokenizer (kind %r)' % (meta_path, meta.get('kind')))
        if 'lower' not in meta:
            raise ValueError('%s: missing "lower"' % meta_path)
        tokens = read_vocab_file(os.path.join(folder, VOCAB_FILE))
        return cls(tokens, lower=meta['lower'],
                   max_input_chars_per_word=meta.get('max_input_chars_per_word',
                                                     MAX_INPUT_CHARS_PER_WORD),
                   special_tokens=meta.get('special_tokens'))

    @classmethod
    def from_hf_folder(cls, folder):
        """The tokenizer of a Hugging Face BERT folder: `vocab.txt`, with lower-casing
        and special tokens from `tokenizer_config.json` / `special_tokens_map.json`
        (BERT's defaults where they are absent)."""
        vocab_path = os.path.join(folder, VOCAB_FILE)
        if not os.path.exists(vocab_path):
            raise FileNotFoundError('%s has no %s (only WordPiece tokenizers are supported)'
                                    % (folder, VOCAB_FILE))
        config = _read_json(os.path.join(folder, 'tokenizer_config.json'))
        lower = config.get('do_lower_case')
        fast = _read_json(os.path.join(folder, 'tokenizer.json'))
        normalizer = fast.get('normalizer') or {}
        if lower is None:
            lower = normalizer.get('lowercase', True)
        strip_accents = config.get('strip_accents', normalizer.get('strip_accents'))
        if strip_accents is not None and bool(strip_accents) != bool(lower):
            raise ValueError('%s: strip_accents=%r with do_lower_case=%r is not supported '
                             '(accents are stripped exactly when lower-casing)'
                             % (folder, strip_accents, lower))
        if config.get('tokenize_chinese_chars') is False:
            raise ValueError('%s: tokenize_chinese_chars=False is not supported' % folder)
        if config.get('do_basic_tokenize') is False:
            raise ValueError('%s: do_basic_tokenize=False is not supported' % folder)
        special = dict(_read_json(os.path.join(folder, 'special_tokens_map.json')))
        for key in list(config):
            if key.endswith('_token'):
                special.setdefault(key, config[key])
        special_tokens = {}
        for role in DEFAULT_SPECIAL_TOKENS:
            tok = special.get(role + '_token')
            if isinstance(tok, dict):
                tok = tok.get('content')
            if isinstance(tok, str):
                special_tokens[role] = tok
        model = fast.get('model') or {}
        max_chars = model.get('max_input_chars_per_word', MAX_INPUT_CHARS_PER_WORD)
        return cls(read_vocab_file(vocab_path), lower=bool(lower),
                   max_input_chars_per_word=max_chars, special_tokens=special_tokens)


def _read_json(path):
    """The JSON object in `path`, {} if there is no such file."""
    return read_json(path) if os.path.exists(path) else {}

