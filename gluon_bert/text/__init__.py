"""Text: the chapter's word tokenizer and vocabulary (`vocab`), and the WordPiece
tokenizer of real pretrained BERTs (`wordpiece`).  A model folder's
`tokenizer.json` names its kind; `load_tokenizer` reads it back."""
import os

from gluon_bert.fileio import read_json
from gluon_bert.text.vocab import WordTokenizer, build_vocab, tokenize, truncate_pair_of_tokens
from gluon_bert.text.wordpiece import WordPieceTokenizer

__all__ = ['TOKENIZERS', 'load_tokenizer', 'WordTokenizer', 'WordPieceTokenizer',
           'build_vocab', 'tokenize', 'truncate_pair_of_tokens']

TOKENIZERS = {'word': WordTokenizer, 'wordpiece': WordPieceTokenizer}


def load_tokenizer(folder):
    """Load the tokenizer saved in `folder` (`tokenizer.json` names its kind)."""
    meta_path = os.path.join(folder, 'tokenizer.json')
    kind = 'word'
    if os.path.exists(meta_path):
        kind = read_json(meta_path).get('kind', 'word')
    if kind not in TOKENIZERS:
        raise ValueError('%s: unknown tokenizer kind %r (known: %s)'
                         % (meta_path, kind, ', '.join(sorted(TOKENIZERS))))
    return TOKENIZERS[kind].load(folder)
