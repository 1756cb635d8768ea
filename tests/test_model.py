"""The model: shapes, masking, hybridization, checkpoints, and faithfulness to the
chapter's reference implementation (d2l's MXNet BERTModel)."""
import numpy as np
import mxnet as mx
import pytest
from mxnet import init

from gluon_bert.pretrained import load_pretrained
from gluon_bert.model.config import BERTConfig, get_config, PRESETS
from gluon_bert.model.bert import BERTModel, BERTClassifier
from gluon_bert.model import folders as checkpoint
from gluon_bert.text.vocab import build_vocab, WordTokenizer

V, B, L = 60, 4, 12


def small_config(**kw):
    d = dict(vocab_size=V, num_hiddens=32, ffn_num_hiddens=48, num_heads=4, num_blks=2,
             dropout=0.0, max_len=40)
    d.update(kw)
    return BERTConfig(**d)


def inputs(seed=0):
    rng = np.random.RandomState(seed)
    tokens = rng.randint(5, V, size=(B, L)).astype('float32')
    segments = np.zeros((B, L), 'float32')
    segments[:, 6:] = 1
    valid = np.array([12, 7, 5, 9], 'float32')
    pred = np.array([[1, 2, 3], [1, 4, 5], [2, 3, 4], [1, 6, 8]], 'float32')
    return tokens, segments, valid, pred


def nd(*arrays):
    return [mx.nd.array(a) for a in arrays]


def make_model(config=None):
    net = BERTModel(config or small_config())
    net.initialize(init.Xavier())
    return net


def test_shapes_and_presets():
    net = make_model()
    t, s, v, p = nd(*inputs())
    enc, mlm, nsp = net(t, s, v, p)
    assert enc.shape == (B, L, 32) and mlm.shape == (B, 3, V) and nsp.shape == (B, 2)
    enc2, mlm2, nsp2 = net(t, s, v)
    assert mlm2 is None and np.allclose(enc2.asnumpy(), enc.asnumpy())
    assert PRESETS['d2l.pretrain'] == dict(num_hiddens=128, ffn_num_hiddens=128, num_heads=2,
                                           num_blks=2, dropout=0.2, max_len=128)
    c = get_config('bert.base', 100)
    assert (c.num_hiddens, c.ffn_num_hiddens, c.num_heads, c.num_blks) == (768, 3072, 12, 12)
    with pytest.raises(ValueError):
        get_config('bert.huge', 10)


def test_padding_positions_change_no_output():
    """Changing tokens/segments after valid_len changes no valid position's output."""
    net = make_model()
    t, s, v, p = inputs()
    enc1, _, nsp1 = net(*nd(t, s, v))
    t2, s2 = t.copy(), s.copy()
    for i, n in enumerate(v.astype(int)):
        t2[i, n:] = np.random.RandomState(i).randint(0, V, size=L - n)
        s2[i, n:] = 1 - s2[i, n:]
    enc2, _, nsp2 = net(*nd(t2, s2, v))
    for i, n in enumerate(v.astype(int)):
        np.testing.assert_allclose(enc1[i, :n].asnumpy(), enc2[i, :n].asnumpy(), atol=1e-5)
    np.testing.assert_allclose(nsp1.asnumpy(), nsp2.asnumpy(), atol=1e-5)
    # ...and padding to a longer length changes nothing either.
    tp = np.concatenate([t, np.full((B, 5), 1, 'float32')], axis=1)
    sp = np.concatenate([s, np.zeros((B, 5), 'float32')], axis=1)
    enc3, _, nsp3 = net(*nd(tp, sp, v))
    np.testing.assert_allclose(nsp1.asnumpy(), nsp3.asnumpy(), atol=1e-5)
    # valid_len does matter
    _, _, nsp4 = net(*nd(t, s, v - 2))
    assert not np.allclose(nsp1.asnumpy(), nsp4.asnumpy(), atol=1e-4)


def test_hybridized_equals_imperative():
    net = make_model()
    x = nd(*inputs())
    ref = [o.asnumpy() for o in net(*x)]
    net.hybridize(static_alloc=True, static_shape=True)
    for _ in range(2):
        out = [o.asnumpy() for o in net(*x)]
        for a, b in zip(ref, out):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_classifier_has_three_classes_and_uses_encoder():
    """Regression: the draft's classifier had 2 outputs and was applied to the
    whole (encoded, mlm, nsp) tuple.  The default head is the chapter's:
    Dense(256, relu) + Dense(3) on the <cls> encoding, both new; 'hidden' (d2l
    1.0's) reads <cls> through the pretrained `hidden` instead."""
    net = make_model()
    t, s, v, _ = nd(*inputs())
    enc, _, _ = net(t, s, v)
    mlp = BERTClassifier(net)
    assert mlp.config.classifier_head == 'mlp' and mlp.hidden is not net.hidden
    assert mlp.new_blocks() == [mlp.output, mlp.hidden]
    for block in mlp.new_blocks():
        block.initialize(init.Xavier())
    logits = mlp(t, s, v)
    assert logits.shape == (B, 3) and mlp.hidden._units == 256
    expect = mlp.output(mx.nd.relu(mlp.hidden(enc[:, 0, :])))
    np.testing.assert_allclose(logits.asnumpy(), expect.asnumpy(), rtol=1e-5, atol=1e-6)
    clf = BERTClassifier(net, head='hidden')
    clf.output.initialize(init.Xavier())
    assert clf.encoder is net.encoder and clf.hidden is net.hidden
    expect = clf.output(net.hidden(enc[:, 0, :]))
    np.testing.assert_allclose(clf(t, s, v).asnumpy(), expect.asnumpy(), rtol=1e-5, atol=1e-6)
    names = set(clf._collect_params_with_prefix())
    assert not any(n.startswith(('mlm.', 'nsp.')) for n in names)


def test_gelu_and_embedding_layernorm_options():
    net = make_model(small_config(activation='gelu', embed_layer_norm=True,
                                  mlm_activation='gelu', layer_norm_eps=1e-12))
    enc, mlm, nsp = net(*nd(*inputs()))
    assert np.isfinite(enc.asnumpy()).all() and mlm.shape == (B, 3, V)
    assert 'encoder.embed_ln.gamma' in net._collect_params_with_prefix()


@pytest.mark.parametrize('eps', [1e-5, 1e-12])
def test_matmul_layer_norm_equals_mxnet_layer_norm(eps):
    """model.LayerNorm: the same outputs and gradients (input, gamma, beta) as
    nn.LayerNorm, hybridized, on rows with very different means and scales."""
    from mxnet import autograd, gluon
    from gluon_bert.model.bert import LayerNorm
    rng = np.random.RandomState(0)
    H = 24
    x = rng.randn(3, 7, H).astype('f') * rng.uniform(0.01, 50, (3, 7, 1)).astype('f') \
        + rng.uniform(-20, 20, (3, 7, 1)).astype('f')
    dy = rng.randn(3, 7, H).astype('f')
    gamma, beta = rng.randn(H).astype('f'), rng.randn(H).astype('f')
    results = []
    for blk in (gluon.nn.LayerNorm(epsilon=eps, in_channels=H), LayerNorm(H, epsilon=eps)):
        blk.initialize()
        blk.gamma.set_data(mx.nd.array(gamma))
        blk.beta.set_data(mx.nd.array(beta))
        blk.hybridize(static_alloc=True, static_shape=True)
        X = mx.nd.array(x)
        X.attach_grad()
        with autograd.record():
            y = blk(X)
        y.backward(mx.nd.array(dy))
        results.append([y.asnumpy(), X.grad.asnumpy(), blk.gamma.grad().asnumpy(),
                        blk.beta.grad().asnumpy()])
    for ref, got, what in zip(*results, ('output', 'input grad', 'gamma grad', 'beta grad')):
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max(),
                                   err_msg=what)
    assert sorted(LayerNorm(H)._collect_params_with_prefix()) == ['beta', 'gamma']


def test_native_and_matmul_layer_norm_models_agree(tmp_path):
    """A model saved with one LayerNorm loads into the other and gives the same
    outputs; an unknown choice is refused."""
    net = make_model(small_config(embed_layer_norm=True, layer_norm='native'))
    path = str(tmp_path / 'w.params')
    net.save_parameters(path)
    other = BERTModel(small_config(embed_layer_norm=True, layer_norm='matmul'))
    other.load_parameters(path)
    args = nd(*inputs())
    for a, b in zip(net(*args), other(*args)):
        np.testing.assert_allclose(b.asnumpy(), a.asnumpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match='layer_norm'):
        BERTModel(small_config(layer_norm='fused'))


def test_auto_layer_norm_follows_the_devices():
    """'auto' LayerNorms become the fused operator on GPUs, matrix products on
    CPUs; an explicit choice is kept."""
    from gluon_bert.model.bert import LayerNorm, select_layer_norm

    def impls(net):
        found = []
        net.apply(lambda b: found.append(b.impl) if isinstance(b, LayerNorm) else None)
        return found
    net = BERTModel(small_config(embed_layer_norm=True))
    assert impls(net) == ['matmul'] * 6             # 2 blocks x 2, embeddings, MaskLM
    assert select_layer_norm(net, [mx.cpu(0), mx.gpu(0)]) == 'native'
    assert impls(net) == ['native'] * 6
    assert select_layer_norm(net, [mx.cpu()]) == 'matmul' and set(impls(net)) == {'matmul'}
    fixed = BERTModel(small_config(layer_norm='matmul'))
    select_layer_norm(fixed, [mx.gpu(0)])
    assert set(impls(fixed)) == {'matmul'}


@pytest.mark.parametrize('head', ['mlp', 'hidden'])
def test_checkpoint_round_trip(tmp_path, head):
    """A classifier folder's config.json names its head: one saved with 'hidden'
    (the default of earlier versions) loads as 'hidden'."""
    vocab = build_vocab([['a', 'b', 'c'] * 5], min_freq=1)
    tok = WordTokenizer(vocab)
    net = make_model(small_config(vocab_size=len(vocab)))
    t = mx.nd.array([[3, 5, 6, 7, 4]])
    s, v = mx.nd.zeros((1, 5)), mx.nd.array([5])
    checkpoint.save_pretrained(str(tmp_path / 'pre'), net, tok)
    pre = load_pretrained(str(tmp_path / 'pre'))
    assert pre.config == net.config and pre.tokenizer.vocab.idx_to_token == vocab.idx_to_token
    np.testing.assert_array_equal(pre.bert(t, s, v)[2].asnumpy(), net(t, s, v)[2].asnumpy())
    clf = BERTClassifier(net, head=head)
    for block in clf.new_blocks():
        block.initialize(init.Xavier())
    checkpoint.save_classifier(str(tmp_path / 'clf'), clf, tok)
    clf2, tok2 = checkpoint.load_classifier(str(tmp_path / 'clf'))
    assert clf2.config.classifier_head == head
    np.testing.assert_array_equal(clf(t, s, v).asnumpy(), clf2(t, s, v).asnumpy())
    assert not [f for f in (tmp_path / 'clf').iterdir() if f.name.endswith('.tmp')]
    with pytest.raises(ValueError, match='classifier'):
        load_pretrained(str(tmp_path / 'clf'))


def _d2l_reference(d2l, config, batches):
    """Weights and outputs (for each batch of `batches`) of the chapter's own
    model, d2l 0.12.0's `BERTModel(vocab_size, num_hiddens, ffn_num_hiddens,
    num_heads, num_layers, dropout, max_len)`, which computes with `mx.np`
    arrays (NumPy mode on while it runs)."""
    from mxnet import np as mnp
    from mxnet.util import np_array, np_shape
    with np_shape(True), np_array(True):
        ref = d2l.BERTModel(config.vocab_size, config.num_hiddens, config.ffn_num_hiddens,
                            config.num_heads, config.num_blks, config.dropout, config.max_len)
        ref.initialize(init.Normal(0.2))
        outs = []
        for t, s, v, p in batches:
            out = ref(mnp.array(t, dtype='int32'), mnp.array(s, dtype='int32'), mnp.array(v),
                      mnp.array(p, dtype='int32'))
            outs.append([o.asnumpy() for o in out])
        weights = {k: p.data().asnumpy() for k, p in ref._collect_params_with_prefix().items()}
    return weights, outs


def test_same_outputs_as_the_chapters_reference_implementation(d2l012):
    """gluon_bert's BERTModel with d2l 0.12.0's weights computes d2l 0.12.0's
    outputs.  The parameter names are the same (no mapping).  d2l 0.12.0 masks
    the attention heads of example b with the valid lengths of other examples
    (`np.tile` where later revisions have `np.repeat`), so its batches agree with
    gluon_bert's when their examples have one valid length; examples of
    different lengths are compared one at a time."""
    config = small_config()
    t, s, v, p = inputs()
    same_length = (t, s, np.full_like(v, 9), p)                  # 9 of 12 positions valid
    one_each = [(t[i:i + 1], s[i:i + 1], v[i:i + 1], p[i:i + 1]) for i in range(B)]
    weights, ref_outs = _d2l_reference(d2l012, config, [same_length] + one_each)
    net = BERTModel(config)
    net.initialize()
    ours = net._collect_params_with_prefix()
    assert sorted(ours) == sorted(weights), 'parameter names differ from the chapter'
    for name, value in weights.items():
        ours[name].set_data(mx.nd.array(value))
    net.hybridize()
    for arrays, ref_out in zip([same_length] + one_each, ref_outs):
        out = net(*nd(*arrays))
        for a, b in zip(ref_out, out):
            np.testing.assert_allclose(b.asnumpy(), a, rtol=1e-4, atol=1e-5)
