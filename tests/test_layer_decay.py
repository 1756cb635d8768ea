"""Layer-wise learning-rate decay (`--layer-lr-decay`): the lr_mult of every
parameter group, and one SGD step that moves each group by its share of lr."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from gluon_bert.model.bert import BERTClassifier, BERTModel
from gluon_bert.model.config import BERTConfig
from gluon_bert.train.optim import layer_lr_mults, make_trainer
from gluon_bert.train.options import FinetuneArgs, parse_args

NUM_BLKS = 3


def classifier(head='hidden', seed=0):
    mx.random.seed(seed)
    config = BERTConfig(vocab_size=30, num_hiddens=16, ffn_num_hiddens=24, num_heads=2,
                        num_blks=NUM_BLKS, dropout=0.0, max_len=16, embed_layer_norm=True,
                        classifier_hiddens=8)
    bert = BERTModel(config)
    bert.initialize(mx.init.Normal(0.1))
    net = BERTClassifier(bert, head=head)
    for block in net.new_blocks():
        block.initialize(mx.init.Normal(0.1))
    return net


def expected_mult(name, decay):
    """What the option promises: block k from the top at decay^k, the embeddings
    at decay^NUM_BLKS, the head (hidden, pool, output) at 1."""
    if name.startswith('encoder.blks.'):
        k_from_top = NUM_BLKS - 1 - int(name.split('.')[2])
        return decay ** k_from_top
    if name.startswith('encoder.'):
        return decay ** NUM_BLKS
    return 1.0


@pytest.mark.parametrize('head', ['hidden', 'attention'])
def test_lr_mult_of_each_group(head):
    net = classifier(head)
    make_trainer(net, FinetuneArgs(layer_lr_decay=0.5, lr=0.1))
    params = net._collect_params_with_prefix()
    for name, p in params.items():
        assert p.lr_mult == pytest.approx(expected_mult(name, 0.5)), name
    # the groups by hand: top block 1, then 0.5, 0.25, embeddings 0.125
    assert sorted({p.lr_mult for p in params.values()}) == [0.125, 0.25, 0.5, 1.0]
    assert {n for n in params if params[n].lr_mult == 0.125} == {
        'encoder.token_embedding.weight', 'encoder.segment_embedding.weight',
        'encoder.pos_embedding', 'encoder.embed_ln.gamma', 'encoder.embed_ln.beta'}
    assert all(params[n].lr_mult == 1.0 for n in params if n.startswith('encoder.blks.2.'))
    assert all(params[n].lr_mult == 0.25 for n in params if n.startswith('encoder.blks.0.'))
    head_names = [n for n in params if not n.startswith('encoder.')]
    assert head_names and all(params[n].lr_mult == 1.0 for n in head_names)
    assert layer_lr_mults(net, 0.5) == {n: expected_mult(n, 0.5) for n in params}


def test_head_lr_and_decay_together_and_the_default_is_off():
    net = classifier('mean')
    make_trainer(net, FinetuneArgs(layer_lr_decay=0.8, lr=0.1, head_lr=0.3))
    params = net._collect_params_with_prefix()
    for name, p in params.items():
        if name.startswith(('output.', 'pool.')):
            assert p.lr_mult == pytest.approx(3.0), name
        else:
            assert p.lr_mult == pytest.approx(expected_mult(name, 0.8)), name
    net = classifier()
    make_trainer(net, FinetuneArgs())
    assert {p.lr_mult for p in net.collect_params().values()} == {1.0}
    assert parse_args(FinetuneArgs, []).layer_lr_decay == 1.0
    for bad in ('0', '1.5', '-0.1'):
        with pytest.raises(SystemExit):
            parse_args(FinetuneArgs, ['--layer-lr-decay', bad])
    with pytest.raises(ValueError, match='layer_lr_decay must be in'):
        make_trainer(classifier(), FinetuneArgs(layer_lr_decay=2.0))


def test_one_sgd_step_moves_each_group_by_its_rate():
    """Plain SGD (no momentum, no weight decay): each parameter moves by
    -lr * lr_mult * gradient / batch size; so the same gradient moves the
    embeddings 1/8 as far as the top block at decay 0.5."""
    lr, decay, batch = 2.0, 0.5, 4
    net = classifier()
    trainer = make_trainer(net, FinetuneArgs(layer_lr_decay=decay, lr=lr, optimizer='sgd'))
    rng = np.random.RandomState(0)
    t = mx.nd.array(rng.randint(0, 30, (batch, 8)))
    s = mx.nd.array((np.arange(8) >= 4)[None].repeat(batch, 0))
    v = mx.nd.array([8, 6, 5, 7])
    y = mx.nd.array([0, 1, 2, 1])
    with autograd.record():
        loss = gluon.loss.SoftmaxCrossEntropyLoss()(net(t, s, v), y)
    loss.backward()
    params = net._collect_params_with_prefix()
    before = {n: p.data().asnumpy() for n, p in params.items()}
    grads = {n: p.grad().asnumpy() for n, p in params.items()}
    trainer.step(batch)
    checked = set()
    for name, p in params.items():
        delta = p.data().asnumpy() - before[name]
        expected = -lr * expected_mult(name, decay) * grads[name] / batch
        # (atol: the float32 rounding of parameter - update)
        np.testing.assert_allclose(delta, expected, rtol=1e-4, atol=3e-7, err_msg=name)
        if np.abs(grads[name]).max() > 1e-6:
            checked.add(expected_mult(name, decay))
    assert checked == {1.0, 0.5, 0.25, 0.125}         # every group had a real gradient
