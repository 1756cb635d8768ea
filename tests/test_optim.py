"""Fine-tuning controls: weight decay exemptions, warmup/decay schedule, head
learning rate, freezing, the chapter's defaults, and the options end to end."""
import json
import os

import numpy as np
import mxnet as mx
import pytest
from mxnet import autograd, gluon

from gluon_bert.model import folders as checkpoint
from gluon_bert.model.config import BERTConfig
from gluon_bert.model.bert import BERTModel, BERTClassifier
from gluon_bert.train.options import FinetuneArgs
from gluon_bert.train.optim import (make_trainer, lr_schedule, num_training_steps, freeze,
                              no_decay)


def small_classifier(seed=0):
    mx.random.seed(seed)
    config = BERTConfig(vocab_size=30, num_hiddens=16, ffn_num_hiddens=24, num_heads=2,
                        num_blks=3, dropout=0.0, max_len=16, activation='gelu',
                        embed_layer_norm=True, mlm_activation='gelu')
    bert = BERTModel(config)
    bert.initialize(mx.init.Normal(0.1))
    net = BERTClassifier(bert, head='hidden')
    net.output.initialize(mx.init.Normal(0.1))
    return net


def batch():
    rng = np.random.RandomState(0)
    tokens = mx.nd.array(rng.randint(0, 30, (4, 8)))
    segments = mx.nd.array((np.arange(8) >= 4)[None].repeat(4, 0))
    valid = mx.nd.array([8, 6, 5, 7])
    labels = mx.nd.array([0, 1, 2, 1])
    return tokens, segments, valid, labels


def step(net, trainer, n=1):
    t, s, v, y = batch()
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    for _ in range(n):
        with autograd.record():
            l = loss(net(t, s, v), y)
        l.backward()
        trainer.step(4)


def trainer_for(net, num_steps=None, **options):
    """`make_trainer` with the fine-tuning options `options` (FinetuneArgs fields)."""
    return make_trainer(net, FinetuneArgs(**options), num_steps)


def test_defaults_are_the_chapters_trainer(params_of):
    net_a, net_b = small_classifier(), small_classifier()
    trainer = trainer_for(net_a)
    opt = trainer.optimizer
    assert type(opt).__name__ == 'Adam' and opt.lr_scheduler is None
    assert trainer.learning_rate == 1e-4 and opt.wd == 0
    ref = gluon.Trainer(net_b.collect_params(), 'adam', {'learning_rate': 1e-4})
    step(net_a, trainer, 2)
    step(net_b, ref, 2)
    a, b = params_of(net_a), params_of(net_b)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-6, atol=1e-7, err_msg=k)


def test_no_weight_decay_on_bias_and_layernorm(params_of):
    net = small_classifier()
    trainer = trainer_for(net, lr=1e-3, num_steps=10, weight_decay=0.01)
    assert type(trainer.optimizer).__name__ == 'BERTAdam'       # decoupled: AdamW
    assert trainer.optimizer.wd == 0.01
    params = net._collect_params_with_prefix()
    for name, p in params.items():
        expected = 0.0 if name.endswith(('.bias', '.gamma', '.beta')) else 1.0
        assert p.wd_mult == expected, name
        assert no_decay(name) == (expected == 0.0)
    assert params['encoder.blks.0.addnorm1.ln.gamma'].wd_mult == 0
    assert params['encoder.embed_ln.beta'].wd_mult == 0
    assert params['encoder.blks.2.attention.W_q.weight'].wd_mult == 1
    assert params['encoder.token_embedding.weight'].wd_mult == 1
    # With zero gradients only decay acts: weights shrink, exempt parameters stay.
    net2 = small_classifier()
    trainer = trainer_for(net2, lr=0.1, num_steps=10, optimizer='adamw', weight_decay=0.5)
    before = params_of(net2)
    t, s, v, _ = batch()
    with autograd.record():
        zero = net2(t, s, v).sum() * 0
    zero.backward()                     # fresh, all-zero gradients
    trainer.step(1)
    after = params_of(net2)
    np.testing.assert_allclose(after['output.weight'], before['output.weight'] * (1 - 0.05),
                               rtol=1e-5)
    np.testing.assert_array_equal(after['output.bias'], before['output.bias'])
    np.testing.assert_array_equal(after['encoder.blks.1.addnorm2.ln.gamma'],
                                  before['encoder.blks.1.addnorm2.ln.gamma'])


def test_schedule_values():
    s = lr_schedule(num_steps=10, base_lr=1.0, warmup_steps=2)
    values = [s(n) for n in range(0, 12)]
    np.testing.assert_allclose(values, [0, 0.5, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25,
                                        0.125, 0.0, 0.0])
    s = lr_schedule(num_steps=10, base_lr=2.0, warmup_steps=4, decay='constant')
    assert [s(n) for n in (1, 2, 4, 9, 20)] == [0.5, 1.0, 2.0, 2.0, 2.0]
    s = lr_schedule(num_steps=4, base_lr=1.0)
    assert [s(n) for n in (1, 2, 3, 4)] == [0.75, 0.5, 0.25, 0.0]
    with pytest.raises(ValueError):
        lr_schedule(num_steps=0, base_lr=1.0)
    with pytest.raises(ValueError):
        lr_schedule(num_steps=5, base_lr=1.0, warmup_steps=6)
    assert num_training_steps(100, 32, 2) == 8 and num_training_steps(96, 32, 3) == 9


def test_warmup_stable_decay_schedule():
    """'wsd': the warmup, the base rate, then linear decay to 0 over the last
    decay_steps updates; a decay that would overlap the warmup is an error."""
    s = lr_schedule(num_steps=10, base_lr=1.0, warmup_steps=2, decay='wsd', decay_steps=4)
    np.testing.assert_allclose([s(n) for n in range(1, 12)],
                               [0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0])
    with pytest.raises(ValueError, match='decay_steps'):
        lr_schedule(num_steps=10, base_lr=1.0, warmup_steps=2, decay='wsd', decay_steps=9)
    with pytest.raises(ValueError, match='decay_steps'):
        lr_schedule(num_steps=10, base_lr=1.0, decay='wsd')
    net = small_classifier()
    trainer = trainer_for(net, lr=1e-3, num_steps=10, warmup_ratio=0.2, lr_schedule='wsd',
                          decay_ratio=0.4)
    seen = []
    for _ in range(10):          # the learning rate each update used
        step(net, trainer)
        seen.append(trainer.learning_rate)
    np.testing.assert_allclose(seen, [5e-4, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 7.5e-4, 5e-4, 2.5e-4, 0.0])
    with pytest.raises(ValueError, match='decay_ratio'):
        trainer_for(small_classifier(), num_steps=10, warmup_ratio=0.2, lr_schedule='wsd',
                    decay_ratio=0.9)


def test_trainer_follows_the_schedule():
    net = small_classifier()
    trainer = trainer_for(net, lr=1e-3, num_steps=10, warmup_ratio=0.2)
    sched = trainer.optimizer.lr_scheduler
    assert isinstance(sched, mx.lr_scheduler.PolyScheduler)         # linear: power 1
    assert (sched.max_update, sched.warmup_steps, sched.power) == (10, 2, 1)
    seen = []
    for _ in range(4):          # the learning rate each update used
        step(net, trainer)
        seen.append(trainer.learning_rate)
    np.testing.assert_allclose(seen, [5e-4, 1e-3, 1e-3 * 7 / 8, 1e-3 * 6 / 8])
    with pytest.raises(ValueError, match='num_steps'):
        trainer_for(small_classifier(), warmup_ratio=0.1)
    trainer = trainer_for(small_classifier(), lr=1e-3, num_steps=10, lr_schedule='linear')
    assert trainer.optimizer.lr_scheduler(5) == pytest.approx(5e-4)


def test_head_learning_rate(params_of):
    net = small_classifier()
    trainer = trainer_for(net, lr=0.01, optimizer='sgd', head_lr=0.5)
    params = net._collect_params_with_prefix()
    assert params['output.weight'].lr_mult == params['output.bias'].lr_mult == 50
    assert params['hidden.weight'].lr_mult == 1
    before = params_of(net)
    t, s, v, y = batch()
    with autograd.record():
        l = gluon.loss.SoftmaxCrossEntropyLoss()(net(t, s, v), y)
    l.backward()
    grads = {k: p.grad().asnumpy().copy() for k, p in params.items()}
    trainer.step(4)
    after = params_of(net)
    np.testing.assert_allclose(after['output.weight'],
                               before['output.weight'] - 0.5 * grads['output.weight'] / 4,
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(after['hidden.weight'],
                               before['hidden.weight'] - 0.01 * grads['hidden.weight'] / 4,
                               rtol=1e-5, atol=1e-7)


def test_frozen_parameters_unchanged(params_of):
    net = small_classifier()
    trainer = trainer_for(net, lr=1e-2, freeze_embeddings=True, freeze_layers=(0, -1))
    params = net._collect_params_with_prefix()
    before = params_of(net)
    step(net, trainer, 2)
    after = params_of(net)
    frozen = [k for k in params if k.startswith(('encoder.token_embedding', 'encoder.segment',
                                                 'encoder.pos_embedding', 'encoder.embed_ln',
                                                 'encoder.blks.0.', 'encoder.blks.2.'))]
    assert len(frozen) == 5 + 2 * 16          # 3 embeddings, their LayerNorm; 2 blocks
    for k in params:
        if k in frozen:
            assert params[k].grad_req == 'null'
            np.testing.assert_array_equal(after[k], before[k], err_msg=k)
        else:
            assert not np.array_equal(after[k], before[k]), k
    with pytest.raises(ValueError, match='cannot freeze layer 3: the encoder has 3 layers'):
        freeze(small_classifier(), layers=[3])


def test_finetuning_options_end_to_end(tmp_path, params_of):
    """`run_finetuning` with every option, starting from a saved WordPiece model."""
    from gluon_bert.train.jobs import run_finetuning
    from gluon_bert.data.synthetic import nli_task
    from gluon_bert.text.wordpiece import WordPieceTokenizer
    premises, hypotheses, _ = nli_task(96, seed=0)
    words = sorted({w for s in premises + hypotheses for w in s.lower().split()})
    tokenizer = WordPieceTokenizer(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] + words)
    config = BERTConfig(vocab_size=len(tokenizer), num_hiddens=16, ffn_num_hiddens=24,
                        num_heads=2, num_blks=2, dropout=0.0, max_len=48, activation='gelu',
                        embed_layer_norm=True, mlm_activation='gelu')
    bert = BERTModel(config)
    bert.initialize(mx.init.Normal(0.1))
    pretrained = str(tmp_path / 'pretrained')
    checkpoint.save_pretrained(pretrained, bert, tokenizer)
    out = str(tmp_path / 'finetuned')
    summary = run_finetuning(FinetuneArgs(
        output=out, pretrained=pretrained, dataset='synthetic', synthetic_pairs=[96, 32],
        max_len=48, batch_size=32, num_epochs=2, lr=1e-3, progress=False, num_workers=0,
        weight_decay=0.01, warmup_ratio=0.25, head_lr=5e-3, freeze_embeddings=True,
        freeze_layers=[0]))
    with open(os.path.join(out, 'metrics.json')) as f:
        saved = json.load(f)
    assert saved['weight_decay'] == 0.01 and saved['warmup_ratio'] == 0.25
    assert saved['head_lr'] == 5e-3 and saved['freeze_layers'] == [0]
    assert saved['freeze_embeddings'] is True
    assert 0 <= summary['test_acc'] <= 1
    classifier, tok = checkpoint.load_classifier(out)
    assert tok.kind == 'wordpiece'
    tuned = params_of(classifier)
    original = params_of(bert)
    np.testing.assert_array_equal(tuned['encoder.token_embedding.weight'],
                                  original['encoder.token_embedding.weight'])
    np.testing.assert_array_equal(tuned['encoder.blks.0.ffn.dense1.weight'],
                                  original['encoder.blks.0.ffn.dense1.weight'])
    assert not np.array_equal(tuned['encoder.blks.1.ffn.dense1.weight'],
                              original['encoder.blks.1.ffn.dense1.weight'])
