"""Throughput knobs: gradient accumulation gives the update of the whole batch;
mixed precision (AMP) runs on a GPU and is refused with a clear message where
MXNet has no float16 kernels (its CPU operators)."""
import os
import subprocess
import sys

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))

# No dropout: micro-batches draw other masks than the whole batch.
TINY = dict(num_hiddens=32, ffn_num_hiddens=32, num_heads=2, num_blks=1, dropout=0.0,
            max_len=32)
# SGD: the update is linear in the summed gradient (Adam would divide the
# near-zero gradients of e.g. the attention key bias by their own size and so
# amplify float rounding; the accumulation itself is the same).
SGD = dict(optimizer='sgd', lr=0.1, optimizer_params={'momentum': 0.9})


@pytest.fixture(scope='module')
def nli(nli_arrays):
    return nli_arrays(100, seed=2)


def classifier(vocab_size):
    import mxnet as mx
    from gluon_bert.model.config import BERTConfig
    from gluon_bert.model.bert import BERTModel, BERTClassifier
    mx.random.seed(8)
    net = BERTClassifier(BERTModel(BERTConfig(vocab_size=vocab_size, **TINY)))
    net.initialize(mx.init.Xavier())
    return net


def count_forwards(net):
    """Record the batch size of every forward pass of `net`."""
    sizes = []
    net.register_forward_pre_hook(lambda block, inputs: sizes.append(inputs[0].shape[0]))
    return sizes


@pytest.mark.parametrize('accum', [2, 3])
def test_grad_accumulation_equals_the_whole_batch(nli, accum, params_of, max_diff):
    import mxnet as mx
    from gluon_bert.train.finetune import finetune
    from gluon_bert.train.options import FinetuneArgs
    data, vocab_size = nli
    runs = {}
    for k in (1, accum):
        net = classifier(vocab_size)
        sizes = count_forwards(net)
        summary = finetune(net, data, None, [mx.cpu()],
                           FinetuneArgs(num_epochs=2, batch_size=30, seed=1, progress=False,
                                        grad_accum=k, **SGD), hybridize=False)
        runs[k] = params_of(net), summary, sizes
        if k > 1:
            assert all(p.grad_req == 'add' for p in net.collect_params().values())
    (one, s1, sizes1), (acc, sk, sizesk) = runs[1], runs[accum]
    assert sizes1 == [30, 30, 30, 10] * 2                 # 4 steps per epoch
    assert len(sizesk) > len(sizes1) and max(sizesk) <= -(-30 // accum)
    assert sum(sizesk) == sum(sizes1)
    assert sk['steps'] == s1['steps'] == 8
    diff = max_diff(one, acc)
    moved = max_diff(one, params_of(classifier(vocab_size)))
    print('grad_accum %d: max |accumulated - whole batch| = %.3g (moved %.3g)'
          % (accum, diff, moved))
    assert moved > 1e-2 and diff < 1e-5 * max(1.0, moved)
    assert sk['train_loss'] == pytest.approx(s1['train_loss'], rel=1e-5)
    assert sk['train_acc'] == s1['train_acc']


def test_grad_accumulation_in_pretraining(tmp_path, params_of, max_diff):
    import mxnet as mx
    from gluon_bert.model.config import BERTConfig
    from gluon_bert.model.bert import BERTModel
    from gluon_bert.train.pretrain import pretrain
    from gluon_bert.train.options import PretrainArgs
    from gluon_bert.data.synthetic import write_wikitext
    from gluon_bert.data.wikitext import WikiTextDataset, read_wiki
    write_wikitext(str(tmp_path), 40, seed=0)
    data = WikiTextDataset(read_wiki(str(tmp_path), seed=0), max_len=32, seed=0)
    results = {}
    for k in (1, 4):
        mx.random.seed(3)
        net = BERTModel(BERTConfig(vocab_size=len(data.vocab), **TINY))
        net.initialize(mx.init.Xavier())
        summary = pretrain(net, data, [mx.cpu()],
                           PretrainArgs(num_steps=5, batch_size=32, seed=0, log_interval=5,
                                        progress=False, optimizer='sgd', lr=0.05,
                                        grad_accum=k))
        results[k] = params_of(net), summary
    diff = max_diff(results[1][0], results[4][0])
    assert diff < 1e-5, diff
    assert results[4][1]['mlm_loss'] == pytest.approx(results[1][1]['mlm_loss'], rel=1e-5)
    assert results[4][1]['nsp_loss'] == pytest.approx(results[1][1]['nsp_loss'], rel=1e-5)


def _has_gpu():
    import mxnet as mx
    try:
        return mx.context.num_gpus() > 0
    except mx.base.MXNetError:
        return False


@pytest.mark.skipif(_has_gpu(), reason='the CPU refusal is for machines without a GPU')
def test_amp_on_cpu_is_refused_with_a_clear_message(nli, tmp_path, params_of, max_diff):
    import mxnet as mx
    from gluon_bert.train.devices import check_amp_support
    from gluon_bert.train.finetune import finetune
    from gluon_bert.train.options import FinetuneArgs
    data, vocab_size = nli
    with pytest.raises(RuntimeError) as info:
        check_amp_support([mx.cpu()])
    message = str(info.value)
    assert 'not supported on cpu(0)' in message and 'GPU' in message and '--amp' in message
    net = classifier(vocab_size)
    before = params_of(net)
    with pytest.raises(RuntimeError, match='mixed precision'):
        finetune(net, data, None, [mx.cpu()],
                 FinetuneArgs(num_epochs=1, batch_size=30, progress=False, amp=True))
    assert max_diff(before, params_of(net)) == 0.0          # nothing was trained
    from mxnet.contrib import amp
    assert not amp.amp._amp_initialized                      # and AMP was not switched on


# Run in the tests' folder, whose conftest and test_knobs it imports.
AMP_PROGRAM = r'''
import numpy as np, mxnet as mx
import conftest
import test_knobs as t
from gluon_bert.train.finetune import finetune
from gluon_bert.train.options import FinetuneArgs
ds, vocab_size = conftest.make_nli_arrays(100, seed=2)
from mxnet.contrib import amp
amp.init()
net = t.classifier(vocab_size)
net.collect_params().reset_ctx(mx.gpu(0))
s = finetune(net, ds, None, [mx.gpu(0)], FinetuneArgs(num_epochs=2, batch_size=30, lr=1e-3,
                                                     progress=False, amp=True, grad_accum=2))
assert np.isfinite(s['train_loss']), s
print('AMP OK', s['train_loss'])
'''


@pytest.mark.skipif(not _has_gpu(), reason='AMP (float16) needs a GPU')
def test_amp_trains_on_gpu():
    proc = subprocess.run([sys.executable, '-c', AMP_PROGRAM], cwd=TESTS, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=300)
    out = proc.stdout.decode('utf-8', 'replace')
    assert proc.returncode == 0 and 'AMP OK' in out, out
