"""The classifier heads on all the valid encodings (model.heads): each learns the
synthetic NLI task, ignores padding, hybridizes, saves and loads (and so works
through evaluate and predict)."""
import json
import os

import mxnet as mx
import numpy as np
import pytest
from mxnet import init

from gluon_bert.data.snli import SNLIBERTDataset, encode_pairs
from gluon_bert.data.synthetic import nli_task, write_nli_file
from gluon_bert.inference import evaluate_file, predict_text
from gluon_bert.model import folders
from gluon_bert.model.bert import BERTClassifier, BERTModel
from gluon_bert.model.config import BERTConfig
from gluon_bert.model.heads import POOLING_HEADS
from gluon_bert.text.vocab import WordTokenizer, build_vocab, tokenize
from gluon_bert.train.finetune import finetune
from gluon_bert.train.options import FinetuneArgs

HEADS = sorted(POOLING_HEADS)
assert HEADS == ['attention', 'bilstm', 'cnn', 'mean']


@pytest.fixture(scope='module')
def task():
    """The synthetic task (pair lengths say nothing of the label): a
    head that only finds the neutral pairs (no colour in the premise) scores 2/3;
    telling entailment from contradiction needs the two colours compared."""
    train, test = nli_task(900, seed=0), nli_task(300, seed=1)
    tok = WordTokenizer(build_vocab(tokenize(train.premises + train.hypotheses), min_freq=1))
    return (SNLIBERTDataset(train, 32, tokenizer=tok, num_workers=0),
            SNLIBERTDataset(test, 32, tokenizer=tok, num_workers=0), tok)


def classifier(head, vocab_size, seed=0, num_classes=3):
    mx.random.seed(seed)
    config = BERTConfig(vocab_size=vocab_size, num_hiddens=32, ffn_num_hiddens=64,
                        num_heads=2, num_blks=2, dropout=0.0, max_len=32,
                        classifier_hiddens=32)
    bert = BERTModel(config)
    bert.initialize(init.Xavier())
    net = BERTClassifier(bert, head=head, num_classes=num_classes)
    for block in net.new_blocks():
        block.initialize(init.Xavier())
    return net


@pytest.mark.parametrize('head', HEADS)
def test_each_head_learns_the_synthetic_task(head, task):
    train, test, tok = task
    net = classifier(head, len(tok))
    s = finetune(net, train, test, [mx.cpu()], FinetuneArgs(
        num_epochs=10, batch_size=32, lr=2e-3, progress=False, head=head))
    accs = [round(r['test_acc'], 3) for r in s['records']]
    print('%s head: test accuracy per epoch %s' % (head, accs))
    assert s['test_acc'] >= 0.8, accs          # chance 1/3, neutral-only 2/3
    assert net.config.classifier_head == head and net._active   # trained hybridized


@pytest.mark.parametrize('head', HEADS)
def test_padding_does_not_change_the_logits(head, task):
    """The same pairs padded to their own length and to 32, alone and batched
    with a longer pair, hybridized or not: the same logits (1e-5)."""
    _, _, tok = task
    net = classifier(head, len(tok), seed=3)
    premises = ['a small dog runs in the park', 'a tall red cat sleeps in the house with a boy']
    hypotheses = ['the dog is red', 'the cat is blue']
    t, s, v = encode_pairs(premises, hypotheses, 32, tok)
    assert v[0] < v[1] < 32

    def logits(rows, length):
        return net(mx.nd.array(t[rows, :length]), mx.nd.array(s[rows, :length]),
                   mx.nd.array(v[rows])).asnumpy()
    outputs = []
    for hybridize in (False, True):
        if hybridize:
            net.hybridize()
        alone = logits([0], int(v[0]))
        outputs += [alone, logits([0], 32), logits([0, 1], int(v[1]))[:1],
                    logits([0, 1], 32)[:1]]
    assert np.abs(outputs[0]).max() > 1e-3
    for out in outputs[1:]:
        np.testing.assert_allclose(out, outputs[0], rtol=0, atol=1e-5)
    # and the logits do depend on the valid tokens
    assert np.abs(logits([1], 32) - outputs[0]).max() > 1e-4


@pytest.mark.parametrize('head', HEADS)
def test_head_saves_loads_and_works_through_evaluate_and_predict(head, task, tmp_path):
    _, test, tok = task
    net = classifier(head, len(tok), seed=1)
    net.hybridize()
    folder = str(tmp_path / head)
    folders.save_classifier(folder, net, tok)
    with open(os.path.join(folder, 'config.json')) as f:
        assert json.load(f)['classifier_head'] == head
    names = sorted(mx.nd.load(os.path.join(folder, 'classifier.params')))
    assert any(n.startswith('pool.') for n in names) and 'output.weight' in names
    assert all(n.startswith(('encoder.', 'pool.', 'output.')) for n in names), names
    loaded, _ = folders.load_classifier(folder)
    assert type(loaded.pool) is type(net.pool)
    t, s, v = (mx.nd.array(a[:5]) for a in (test.all_token_ids, test.all_segments,
                                           test.valid_lens))
    np.testing.assert_allclose(loaded(t, s, v).asnumpy(), net(t, s, v).asnumpy(), atol=1e-6)
    report = evaluate_file(folder, write_nli_file(str(tmp_path / 'test.tsv'), 30, seed=4),
                           json_path=str(tmp_path / 'eval.json'), max_len=32, verbose=False)
    assert report['num_examples'] == 30 and len(report['confusion_matrix']) == 3
    result = predict_text(folder, 'a red dog runs in the park', 'the dog is red', max_len=32,
                          verbose=False)
    assert result['label'] in ('entailment', 'contradiction', 'neutral')
    assert sum(result['probabilities'].values()) == pytest.approx(1.0, abs=1e-5)


def test_unknown_head_is_refused():
    bert = BERTModel(BERTConfig(vocab_size=10, num_hiddens=8, ffn_num_hiddens=8, num_heads=2,
                                num_blks=1, max_len=8))
    with pytest.raises(ValueError, match='classifier head must be one of hidden, mlp, mean'):
        BERTClassifier(bert, head='max')
    with pytest.raises(ValueError, match='odd positive widths'):
        BERTClassifier(BERTModel(bert.config.replace(classifier_kernel_sizes=[2])), head='cnn')
