"""No work for padded positions (gluon_bert.model.packing): the indices, the
packed encoder's outputs and gradients against the padded computation, and the
training jobs with and without `pack`."""
import numpy as np
import mxnet as mx
import pytest
from mxnet import autograd, init

from gluon_bert.data.batching import packing_shards
from gluon_bert.model.bert import BERTModel, BERTClassifier
from gluon_bert.model.config import BERTConfig
from gluon_bert.model.packing import Packed, packing_indices
from gluon_bert.train.finetune import finetune
from gluon_bert.train.options import FinetuneArgs, PretrainArgs
from gluon_bert.train.pretrain import pretrain

from test_training import fresh_bert, nli, tiny_config, wiki  # noqa: F401 (fixtures)


def test_indices_list_the_real_tokens_and_invert():
    pack_idx, unpack_idx = packing_indices(np.array([3, 1, 4]), 5, multiple=4)
    # the 8 real tokens of the flattened (3 * 5) batch in order, no filler needed
    assert pack_idx.tolist() == [0, 1, 2, 5, 10, 11, 12, 13]
    assert unpack_idx.tolist() == [[0, 1, 2, 8, 8], [3, 8, 8, 8, 8], [4, 5, 6, 7, 8]]
    pack_idx, unpack_idx = packing_indices(np.array([2, 3]), 4, multiple=4)
    # 5 real tokens, filled to 8 with copies of the first; padded positions read row 8
    assert pack_idx.tolist() == [0, 1, 4, 5, 6, 0, 0, 0]
    assert unpack_idx.tolist() == [[0, 1, 8, 8], [2, 3, 4, 8]]
    assert pack_idx.dtype == unpack_idx.dtype == np.int32


def test_shards_follow_split_and_load():
    valid = np.array([3, 5, 2, 4, 1], np.float32)
    shards = packing_shards(valid, 6, [mx.cpu(0), mx.cpu(1)])
    assert len(shards) == 2
    # split_and_load gives the first device 3 examples, the second 2
    assert shards[0][1].shape == (3, 6) and shards[1][1].shape == (2, 6)
    assert shards[0][0].context == mx.cpu(0) and shards[1][0].context == mx.cpu(1)
    np.testing.assert_array_equal(shards[1][0].asnumpy()[:5], [0, 1, 2, 3, 6])
    assert len(packing_shards(valid[:1], 6, [mx.cpu(0), mx.cpu(1)])) == 1


def _batch(vocab_size, seed=0):
    rng = np.random.RandomState(seed)
    B, L = 5, 16
    valid = np.array([16, 3, 9, 12, 5], np.float32)
    tokens = rng.randint(5, vocab_size, (B, L)).astype(np.float32)
    segments = (np.arange(L)[None, :] >= (valid[:, None] // 2)).astype(np.float32)
    return tokens, segments, valid


@pytest.mark.parametrize('hybridize,num_blks', [(False, 2), (True, 2), (True, 7)])
def test_packed_encoder_equals_the_padded_one(hybridize, num_blks):
    """Outputs and gradients as the padded encoder's, hybridized as the training
    loop does; 7 blocks use the indices more often than MXNet sums gradients in
    place (all-MiniLM-L6-v2 has 6), which `take`'s index gradient refused."""
    config = tiny_config(50, embed_layer_norm=True, activation='gelu', num_blks=num_blks)
    net = fresh_bert(config, [mx.cpu()])
    packed = Packed(net.encoder)
    if hybridize:
        net.hybridize(static_alloc=True, static_shape=True)
        packed.hybridize(static_alloc=True, static_shape=True)
    tokens, segments, valid = _batch(50)
    pack_idx, unpack_idx = packing_indices(valid, tokens.shape[1])
    args = [mx.nd.array(a) for a in (tokens, segments, valid)]
    idx = [mx.nd.array(pack_idx, dtype='int32'), mx.nd.array(unpack_idx, dtype='int32')]
    weights = mx.nd.array(np.random.RandomState(1).randn(*tokens.shape, 32))
    mask = mx.nd.array(np.arange(16)[None, :, None] < valid[:, None, None])
    grads = []
    for call in (lambda: net.encoder(*args), lambda: packed(*args, *idx)):
        with autograd.record():
            out = call()
            # a loss on the real positions only
            loss = (out * weights * mask).sum()
        loss.backward()
        grads.append((out.asnumpy(), {k: p.grad().asnumpy().copy() for k, p in
                                      net.encoder.collect_params().items()}))
    (out0, g0), (out1, g1) = grads
    real = mask.asnumpy()[..., 0] > 0
    np.testing.assert_allclose(out1[real], out0[real], rtol=1e-5, atol=1e-5)
    assert not out1[~real].any()                 # the padded positions are zeros
    assert np.abs(out0[~real]).min() > 0         # (which the padded computation are not)
    for k in g0:
        np.testing.assert_allclose(g1[k], g0[k], rtol=1e-4, atol=1e-5, err_msg=k)
    assert sum(np.abs(g).sum() > 0 for g in g0.values()) == len(g0)
    # the encoder itself still takes three inputs after the packed calls
    assert net.encoder(*args).shape == out0.shape


@pytest.mark.parametrize('job', ['pretrain', 'finetune'])
def test_jobs_train_alike_with_and_without_packing(job, wiki, nli, params_of):  # noqa: F811
    """Without dropout, a packed run and an unpacked one (on 2 devices) compute the
    same updates; both change the weights."""
    ctxs = [mx.cpu(0), mx.cpu(1)]
    results = []
    for pack in (False, True):
        if job == 'pretrain':
            net = fresh_bert(tiny_config(len(wiki.vocab)), ctxs)
            pretrain(net, wiki, ctxs, PretrainArgs(num_steps=3, batch_size=33, lr=0.2,
                                                   progress=False, optimizer='sgd', pack=pack,
                                                   eval_interval=0))
        else:
            train, test, tok = nli
            net = BERTClassifier(fresh_bert(tiny_config(len(tok)), ctxs))
            for block in net.new_blocks():
                block.initialize(init.Xavier(), ctx=ctxs)
            summary = finetune(net, train, test, ctxs, FinetuneArgs(
                num_epochs=1, batch_size=100, lr=0.2, progress=False, optimizer='sgd',
                pack=pack))
            results.append(summary['records'][-1]['test_acc'])
        results.append(params_of(net))
    if job == 'finetune':
        acc0, off, acc1, on = results
        assert acc0 == acc1
    else:
        off, on = results
    init0 = params_of(fresh_bert(tiny_config(len(wiki.vocab) if job == 'pretrain'
                                             else len(nli[2])), [mx.cpu(0)]))
    assert sum(not np.allclose(init0[k], on[k]) for k in init0
               if k in on and init0[k].shape == on[k].shape) > len(init0) // 2
    for k in off:
        np.testing.assert_allclose(on[k], off[k], rtol=1e-4, atol=1e-5, err_msg=k)


def test_packing_is_a_run_option():
    assert PretrainArgs().pack and FinetuneArgs().pack
    from gluon_bert.train.options import parse_args
    assert parse_args(PretrainArgs, ['--no-pack']).pack is False
