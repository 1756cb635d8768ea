"""The PyTorch twin (gluon_bert.compare.torch_twin): with the same weights it computes the
same outputs as the Gluon model, Adam steps on the same batch move both to the
same loss, and the two fine-tuning workers of gluon_bert.compare.harness train alike."""
import numpy as np
import pytest

torch = pytest.importorskip('torch')

import mxnet as mx  # noqa: E402
from mxnet import autograd, gluon, init  # noqa: E402

from gluon_bert.compare import torch_twin  # noqa: E402
from gluon_bert.model.config import BERTConfig  # noqa: E402
from gluon_bert.model.bert import BERTModel, BERTClassifier  # noqa: E402

V, B, L = 60, 5, 14


def small_config(**kw):
    d = dict(vocab_size=V, num_hiddens=32, ffn_num_hiddens=48, num_heads=4, num_blks=2,
             dropout=0.0, max_len=40)
    d.update(kw)
    return BERTConfig(**d)


OPTIONS = {
    'chapter': {},
    'gelu+embed_ln': dict(activation='gelu', embed_layer_norm=True, mlm_activation='gelu',
                          layer_norm_eps=1e-12),
}


def padded_batch(seed=0, pad_id=1):
    """Tokens of different valid lengths, padded with `pad_id` past each length."""
    rng = np.random.RandomState(seed)
    valid = np.array([14, 9, 5, 11, 3], 'float32')
    tokens = rng.randint(5, V, size=(B, L)).astype('float32')
    segments = np.zeros((B, L), 'float32')
    for i, n in enumerate(valid.astype(int)):
        segments[i, n // 2:n] = 1
        tokens[i, n:] = pad_id
    pred = np.array([[1, 2, 3], [1, 4, 8], [0, 2, 4], [1, 6, 10], [0, 1, 2]], 'float32')
    labels = np.array([0, 1, 2, 1, 0], 'float32')
    return tokens, segments, valid, pred, labels


def gluon_model(config, seed=0):
    mx.random.seed(seed)
    net = BERTModel(config)
    net.initialize(init.Normal(0.2))
    return net


def gluon_classifier(config, head='hidden', seed=0):
    bert = gluon_model(config, seed)
    clf = BERTClassifier(bert, head=head)
    clf.output.initialize(init.Xavier())
    if head == 'mlp':
        clf.hidden.initialize(init.Xavier())
    return clf


def nd(*arrays):
    return [mx.nd.array(a) for a in arrays]


def tt(*arrays):
    return [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]


@pytest.mark.parametrize('option', sorted(OPTIONS))
def test_pretraining_heads_match(option):
    config = small_config(**OPTIONS[option])
    net = gluon_model(config)
    twin = torch_twin.from_gluon(net).eval()
    t, s, v, p, _ = padded_batch()
    ref = [o.asnumpy() for o in net(*nd(t, s, v, p))]
    with torch.no_grad():
        out = [o.numpy() for o in twin(*tt(t, s, v, p))]
    for name, a, b in zip(('encoded', 'mlm', 'nsp'), ref, out):
        assert a.shape == b.shape, name
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4, err_msg=name)
    # valid lengths matter in both, identically
    ref2 = net(*nd(t, s, v - 1))[2].asnumpy()
    with torch.no_grad():
        out2 = twin(*tt(t, s, v - 1))[2].numpy()
    assert not np.allclose(ref2, ref[2], atol=1e-4)
    np.testing.assert_allclose(out2, ref2, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('option,head', [('chapter', 'hidden'), ('gelu+embed_ln', 'hidden'),
                                         ('chapter', 'mlp')])
def test_classifier_matches_and_ignores_padding(option, head):
    config = small_config(**OPTIONS[option])
    clf = gluon_classifier(config, head)
    twin = torch_twin.from_gluon(clf).eval()
    assert isinstance(twin, torch_twin.BERTClassifier)
    t, s, v, _, _ = padded_batch()
    ref = clf(*nd(t, s, v)).asnumpy()
    with torch.no_grad():
        out = twin(*tt(t, s, v)).numpy()
        chapter_style = twin(tuple(tt(t, s, v))).numpy()     # the chapter passes a tuple
    assert out.shape == (B, 3)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(chapter_style, out)
    # padding to max_len, as the chapter's PyTorch code does, changes nothing
    extra = config.max_len - L
    tp = np.concatenate([t, np.ones((B, extra), 'float32')], axis=1)
    sp = np.concatenate([s, np.zeros((B, extra), 'float32')], axis=1)
    with torch.no_grad():
        out_max = twin(*tt(tp, sp, v)).numpy()
    np.testing.assert_allclose(out_max, ref, rtol=1e-4, atol=1e-4)


def test_every_parameter_is_mapped_and_leftovers_are_named():
    config = small_config(**OPTIONS['gelu+embed_ln'])
    net = gluon_model(config)
    arrays = torch_twin.gluon_arrays(net)
    twin = torch_twin.build_like(net)
    torch_names = set(dict(twin.named_parameters()))
    assert {torch_twin.to_torch_name(n) for n in arrays} == torch_names
    assert len(arrays) == len(torch_names)
    torch_twin.load_gluon_arrays(twin, arrays)
    back = torch_twin.torch_arrays(twin, arrays)
    for name, value in arrays.items():
        np.testing.assert_array_equal(back[name], value)
    # a Gluon parameter with no twin is named
    with pytest.raises(ValueError, match='encoder.extra.weight'):
        torch_twin.load_gluon_arrays(twin, dict(arrays, **{'encoder.extra.weight': np.zeros(2)}))
    # a twin parameter left without a value is named
    partial = dict(arrays)
    del partial['nsp.output.bias']
    with pytest.raises(ValueError, match='nsp.output.bias'):
        torch_twin.load_gluon_arrays(twin, partial)
    # a shape mismatch is named
    bad = dict(arrays, **{'hidden.weight': np.zeros((3, 3), 'float32')})
    with pytest.raises(ValueError, match='hidden.weight'):
        torch_twin.load_gluon_arrays(twin, bad)
    # the twin of a model without the embedding LayerNorm has no such parameter
    plain = torch_twin.build_like(gluon_model(small_config()))
    with pytest.raises(ValueError, match='encoder.embed_ln.gamma'):
        torch_twin.load_gluon_arrays(plain, arrays)


class GluonSteps:
    """Adam steps on one batch, as `gluon_bert.train.finetune.finetune` trains:
    summed per-example loss, `trainer.step(batch_size)`."""

    def __init__(self, clf, batch, lr):
        self.clf, self.batch = clf, nd(*batch)
        self.loss = gluon.loss.SoftmaxCrossEntropyLoss()
        self.trainer = gluon.Trainer(clf.collect_params(), 'adam', {'learning_rate': lr})

    def step(self):
        """One step; returns the batch's mean loss before it."""
        t, s, v, y = self.batch
        with autograd.record():
            ls = self.loss(self.clf(t, s, v), y)
        ls.backward()
        self.trainer.step(len(y))
        return float(ls.mean().asscalar())

    def params(self, names):
        ps = self.clf._collect_params_with_prefix()
        return {n: ps[n].data().asnumpy() for n in names}

    def grads(self, names):
        ps = self.clf._collect_params_with_prefix()
        return {n: ps[n].grad().asnumpy() / len(self.batch[3]) for n in names}


class TorchSteps:
    """Adam steps of the twin on the mean loss of one batch."""

    def __init__(self, twin, batch, lr):
        t, s, v, y = tt(*batch)
        self.twin, self.batch = twin.train(), (t, s, v, y.long())
        self.opt = torch.optim.Adam(twin.parameters(), lr=lr)

    def step(self):
        t, s, v, y = self.batch
        loss = torch.nn.functional.cross_entropy(self.twin(t, s, v), y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return float(loss.detach())


@pytest.mark.parametrize('option', sorted(OPTIONS))
def test_same_loss_after_adam_steps(option):
    config = small_config(**OPTIONS[option])
    clf = gluon_classifier(config)
    twin = torch_twin.from_gluon(clf)
    t, s, v, _, y = padded_batch()
    ours, theirs = GluonSteps(clf, (t, s, v, y), 1e-3), TorchSteps(twin, (t, s, v, y), 1e-3)
    g_losses, t_losses = [ours.step()], [theirs.step()]
    np.testing.assert_allclose(t_losses[0], g_losses[0], rtol=1e-5)
    # A few parameters after the first step.  Adam's first step moves a weight
    # by about lr * g / (|g| + eps'), where MXNet and PyTorch place epsilon
    # differently (eps' = 1e-8 / sqrt(1 - beta2) in MXNet, 1e-8 in PyTorch), so
    # weights whose gradient is far above epsilon must agree to float precision
    # and every other weight within the step size.
    names = ['output.weight', 'output.bias', 'hidden.weight', 'hidden.bias',
             'encoder.blks.1.ffn.dense2.weight', 'encoder.blks.0.attention.W_v.weight',
             'encoder.token_embedding.weight']
    p_ours, p_theirs, grads = ours.params(names), torch_twin.torch_arrays(twin, names), \
        ours.grads(names)
    for n in names:
        large = np.abs(grads[n]) > 1e-3
        assert large.mean() > 0.2, n
        np.testing.assert_allclose(p_theirs[n][large], p_ours[n][large], rtol=1e-4, atol=1e-6,
                                   err_msg=n)
        np.testing.assert_allclose(p_theirs[n], p_ours[n], atol=2e-3, err_msg=n)
    # ...and the loss of the next steps
    for _ in range(2):
        g_losses.append(ours.step())
        t_losses.append(theirs.step())
    assert abs(g_losses[1] - g_losses[0]) > 1e-3      # the step changed the loss
    np.testing.assert_allclose(t_losses[1:], g_losses[1:], rtol=1e-4)


# ---------------------------------------------------------------------------
# gluon_bert.compare.harness: the two fine-tuning loops see the same data and agree


def test_compare_batches_follow_finetune():
    from gluon_bert.compare import batches as compare
    from gluon_bert.data.batching import iterate_batches, padded_length
    for n in (1, 7, 8, 9, 63, 64, 65, 200):
        for max_len in (16, 64, 128):
            assert compare.padded_length(n, max_len) == padded_length(n, max_len)
    orders = compare.epoch_orders(50, 3, seed=4)
    rng = np.random.RandomState(4)
    for order in orders:
        ours = compare.batches_of(order, 16)
        theirs = list(iterate_batches(50, 16, True, rng))
        assert len(ours) == len(theirs) == 4
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a, b)


def test_compare_workers_train_alike(tmp_path):
    """With dropout off, both workers start at the same loss and end an epoch of
    several Adam steps at the same loss and accuracy."""
    from gluon_bert.model import folders as checkpoint
    from gluon_bert.compare import harness as compare
    from gluon_bert.data.synthetic import nli_task
    from gluon_bert.text.vocab import WordTokenizer, build_vocab, tokenize
    train_raw, test_raw = nli_task(96, seed=0), nli_task(40, seed=1)
    vocab = build_vocab(tokenize(train_raw.premises + train_raw.hypotheses), min_freq=1)
    bert = gluon_model(small_config(vocab_size=len(vocab), max_len=64, dropout=0.1))
    checkpoint.save_pretrained(str(tmp_path / 'pre'), bert, WordTokenizer(vocab))
    job = str(tmp_path / 'job')
    settings = compare.prepare_job(job, str(tmp_path / 'pre'), train_raw, test_raw,
                                   max_len=32, batch_size=16, num_epochs=2, lr=1e-3,
                                   dropout=0.0, threads=1, num_workers=1)
    assert settings['num_train_examples'] == 96 and settings['dropout'] == 0.0
    ours = compare.run_worker('gluon', job)
    theirs = compare.run_worker('torch', job)
    np.testing.assert_allclose(theirs['initial_loss'], ours['initial_loss'], rtol=1e-5)
    for a, b in zip(ours['records'], theirs['records']):
        np.testing.assert_allclose(b['train_loss'], a['train_loss'], rtol=2e-3)
        assert abs(a['test_acc'] - b['test_acc']) <= 2 / 40
    assert ours['records'][-1]['train_loss'] < ours['initial_loss']
    report = dict(settings=settings, results=dict(gluon=ours, torch=theirs))
    table = compare.format_table(report)
    assert 'peak RSS (MiB)' in table and 'pytorch' in table
