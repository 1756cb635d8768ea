"""GluonNLP model-zoo BERT: parameter mapping checked on a small randomly
initialized GluonNLP BERTModel (the same sequence, pooler, MLM and NSP outputs),
missing heads, the vocabulary, and offline errors."""
import collections

import numpy as np
import mxnet as mx
import pytest

import gluonnlp as nlp
from gluonnlp.model.bert import BERTEncoder as GEncoder, BERTModel as GModel

from gluon_bert.pretrained import load_pretrained
from gluon_bert.model import folders as checkpoint
from gluon_bert.model.bert import cls_encoding
from gluon_bert.convert.gluonnlp import convert_gluonnlp_bert, load_gluonnlp_bert

TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] + ['w%d' % i for i in range(45)]
UNITS, HIDDEN, LAYERS, HEADS, MAX_LEN = 64, 128, 2, 2, 40


def small_vocab():
    return nlp.vocab.BERTVocab(collections.Counter(TOKENS),
                               token_to_idx={t: i for i, t in enumerate(TOKENS)},
                               unknown_token='[UNK]', padding_token='[PAD]', bos_token=None,
                               eos_token=None, mask_token='[MASK]', sep_token='[SEP]',
                               cls_token='[CLS]')


def small_gluonnlp_bert(activation='gelu', layer_norm_eps=1e-12, use_pooler=True,
                        use_decoder=True, use_classifier=True, seed=0):
    encoder = GEncoder(num_layers=LAYERS, units=UNITS, hidden_size=HIDDEN, max_length=MAX_LEN,
                       num_heads=HEADS, dropout=0.1, activation=activation,
                       layer_norm_eps=layer_norm_eps)
    net = GModel(encoder, len(TOKENS), token_type_vocab_size=2, units=UNITS, embed_size=UNITS,
                 use_pooler=use_pooler, use_decoder=use_decoder, use_classifier=use_classifier)
    net.initialize(mx.init.Normal(0.02))
    t = mx.nd.array([[2, 5, 6, 3]])
    net(t, mx.nd.zeros_like(t), mx.nd.array([4]), mx.nd.array([[1]]) if use_decoder else None)
    # Random values everywhere (LayerNorm and biases included), so a mix-up shows.
    rng = np.random.RandomState(seed)
    for name, p in net._collect_params_with_prefix().items():
        value = rng.normal(0, 0.3, p.shape)
        if name.endswith('gamma'):
            value = 1 + value / 3
        p.set_data(mx.nd.array(value))
    return net


def inputs():
    rng = np.random.RandomState(1)
    B, L = 3, 12
    tokens = rng.randint(5, len(TOKENS), (B, L))
    tokens[:, 0] = 2
    segments = np.zeros((B, L))
    segments[:, 6:] = 1
    valid = np.array([12, 9, 6])
    positions = np.array([[1, 2], [3, 4], [0, 5]])
    return [mx.nd.array(a) for a in (tokens, segments, valid, positions)], valid


@pytest.mark.parametrize('activation', ['gelu', 'relu'])
def test_same_outputs_as_gluonnlp(activation):
    g = small_gluonnlp_bert(activation=activation,
                            layer_norm_eps=1e-12 if activation == 'gelu' else 1e-5)
    pre = convert_gluonnlp_bert(g, small_vocab())
    c = pre.config
    assert (c.num_blks, c.num_hiddens, c.ffn_num_hiddens, c.num_heads, c.max_len,
            c.vocab_size, c.activation) == (LAYERS, UNITS, HIDDEN, HEADS, MAX_LEN, len(TOKENS),
                                            activation)
    assert c.mlm_activation == 'gelu' and c.embed_layer_norm
    assert pre.initialized_heads == []
    (t, s, v, p), valid = inputs()
    seq, pooled, nsp, mlm = g(t, s, v, p)
    encoded, mlm2, nsp2 = pre.bert(t, s, v, p)
    pooled2 = pre.bert.hidden(cls_encoding(mx.nd, encoded))
    encoded = encoded.asnumpy()
    for i, n in enumerate(valid):       # GluonNLP zeroes the padding positions
        np.testing.assert_allclose(encoded[i, :n], seq[i, :n].asnumpy(), atol=1e-4)
    np.testing.assert_allclose(pooled2.asnumpy(), pooled.asnumpy(), atol=1e-4)
    np.testing.assert_allclose(nsp2.asnumpy(), nsp.asnumpy(), atol=1e-4)
    np.testing.assert_allclose(mlm2.asnumpy(), mlm.asnumpy(), atol=1e-4)


def test_missing_heads_are_initialized(capsys):
    g = small_gluonnlp_bert(use_decoder=False, use_classifier=False)
    pre = convert_gluonnlp_bert(g, small_vocab())
    assert pre.initialized_heads == ['mlm', 'nsp']
    assert 'MLM and NSP' in capsys.readouterr().out
    embed = g.word_embed[0].weight.data().asnumpy()
    assert np.array_equal(pre.bert.mlm.mlp[2].weight.data().asnumpy(), embed)   # tied
    g = small_gluonnlp_bert(use_pooler=False, use_classifier=False)
    with pytest.warns(UserWarning, match='pooler'):
        pre = convert_gluonnlp_bert(g, small_vocab())
    assert pre.initialized_heads == ['hidden', 'nsp']


def test_vocabulary_becomes_wordpiece_tokenizer(tmp_path):
    pre = convert_gluonnlp_bert(small_gluonnlp_bert(), small_vocab(), lower=True)
    tok = pre.tokenizer
    assert tok.kind == 'wordpiece' and tok.vocab.idx_to_token == TOKENS
    assert (tok.cls_id, tok.sep_id, tok.pad_id, tok.mask_id) == (2, 3, 0, 4)
    assert tok.encode('W3 w44 zz') == [TOKENS.index('w3'), TOKENS.index('w44'), 1]
    checkpoint.save_pretrained(str(tmp_path), pre.bert, tok)
    loaded = load_pretrained(str(tmp_path))
    (t, s, v, p), _ = inputs()
    for a, b in zip(pre.bert(t, s, v, p), loaded.bert(t, s, v, p)):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())


def test_load_through_load_pretrained(monkeypatch):
    calls = []

    def fake_get_model(name, **kwargs):
        calls.append((name, kwargs))
        return small_gluonnlp_bert(), small_vocab()

    monkeypatch.setattr(nlp.model, 'get_model', fake_get_model)
    pre = load_pretrained('gluonnlp:bert_12_768_12')
    name, kwargs = calls[0]
    assert name == 'bert_12_768_12'
    assert kwargs['dataset_name'] == 'book_corpus_wiki_en_uncased' and kwargs['pretrained']
    assert kwargs['use_pooler'] and kwargs['use_decoder'] and kwargs['use_classifier']
    assert pre.tokenizer.lower is True and pre.config.num_blks == LAYERS
    pre = load_gluonnlp_bert('bert_12_768_12', dataset_name='book_corpus_wiki_en_cased')
    assert pre.tokenizer.lower is False


def test_offline_error_is_clear(monkeypatch):
    def offline(name, **kwargs):
        raise OSError('Failed to establish a new connection')

    monkeypatch.setattr(nlp.model, 'get_model', offline)
    with pytest.raises(RuntimeError, match=r'(?s)could not get the GluonNLP model bert_12_768_12 '
                       r'\(dataset book_corpus_wiki_en_uncased\).*Failed to establish.*'
                       r'without network access'):
        load_gluonnlp_bert('bert_12_768_12')


def test_unknown_model():
    with pytest.raises(ValueError, match="unknown GluonNLP BERT model 'bert_3_3_3'.*bert_12_768_12"):
        load_gluonnlp_bert('bert_3_3_3')
    with pytest.raises(ValueError, match='unknown GluonNLP BERT model'):
        load_gluonnlp_bert('roberta_12_768_12')
