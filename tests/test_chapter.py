"""gluon_bert.chapter: the d2l API of the chapter on gluon_bert's code.  Where
both are deterministic (vocabulary, tokens, SNLI reading, a forward pass with
the same parameters) it is held against d2l 0.12.0, the chapter's revision; the
chapter's own code (tests/chapter_listing.py) runs end to end on tiny data
written into a temporary GLUON_BERT_HOME."""
import math
import os
import random
import re
import subprocess
import sys

import numpy as np
import mxnet as mx
import pytest
from mxnet import gluon

from gluon_bert import chapter
from gluon_bert.data import synthetic
from gluon_bert.system import usable_cpus

HERE = os.path.dirname(os.path.abspath(__file__))
HEADER = ('gold_label\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t'
          'sentence2_parse\tsentence1\tsentence2\tcaptionID\tpairID\tlabel1\tlabel2\t'
          'label3\tlabel4\tlabel5')
SNLI_SIZES = {'train': 48, 'dev': 6, 'test': 24}      # labelled pairs of each file


def binary_parse(sentence):
    """`( ( A red dog ) ( runs in the park . ) )`: SNLI's binary-parse layout,
    capitalised, with a double space as the official files have some."""
    words = sentence.split()
    return '( ( %s  %s ) ( %s . ) )' % (words[0].capitalize(), ' '.join(words[1:3]),
                                       ' '.join(words[3:]))


def write_snli(folder):
    """snli_1.0/snli_1.0_{train,dev,test}.txt in the official 14-column layout:
    the synthetic NLI task, and a pair without a gold label ('-') every 8 rows."""
    os.makedirs(folder)
    for seed, (split, size) in enumerate(sorted(SNLI_SIZES.items())):
        rows = [HEADER]
        for i, (p, h, y) in enumerate(zip(*synthetic.nli_task(size, seed))):
            label = synthetic.LABEL_NAMES[y]
            for gold in ([label, '-'] if i % 8 == 0 else [label]):
                rows.append('\t'.join([gold, binary_parse(p), binary_parse(h), '(ROOT ...)',
                                       '(ROOT ...)', p, h, '%d.jpg#0' % i, '%d' % i, label,
                                       'neutral', '', '', '']))
        with open(os.path.join(folder, 'snli_1.0_%s.txt' % split), 'w') as f:
            f.write('\n'.join(rows) + '\n')


@pytest.fixture(scope='module')
def home(tmp_path_factory):
    """A GLUON_BERT_HOME whose datasets folder holds a small WikiText-2
    (synthetic, with `<unk>` and rare words) and a small SNLI."""
    root = tmp_path_factory.mktemp('home')
    wiki = synthetic.write_wikitext(str(root / 'datasets' / 'wikitext-2'), 150, seed=0)
    with open(os.path.join(wiki, 'wiki.train.tokens'), 'a') as f:
        f.write(' The <unk> of Quarrow . It was <unk> in 1901 @-@ 02 . \n \n')
    write_snli(str(root / 'datasets' / 'snli_1.0'))
    return str(root)


@pytest.fixture
def in_home(home, monkeypatch):
    monkeypatch.setenv('GLUON_BERT_HOME', home)
    return home


def test_vocabulary_is_d2l_0_12_0s(in_home, d2l012, numpy_mode):
    train_iter, vocab = chapter.load_data_wiki(8, 64)
    numpy_mode()
    folder = chapter.download_extract('wikitext-2', 'wikitext-2')
    ref = d2l012.d2l._WikiTextDataset(d2l012.d2l._read_wiki(folder), 64)
    assert len(vocab) == len(ref.vocab) > 30
    assert vocab.idx_to_token == ref.vocab.idx_to_token
    assert '<unk>' not in vocab.idx_to_token[1:] and 'quarrow' not in vocab.idx_to_token
    # the batches: the chapter's seven arrays, here as mx.np arrays
    batch = next(iter(train_iter))
    assert len(batch) == 7 and all(isinstance(a, mx.np.ndarray) for a in batch)
    assert batch[0].shape == (8, 64) and batch[3].shape == (8, round(64 * 0.15))
    assert len(train_iter) == math.ceil(len(train_iter.dataset) / 8)


def test_snli_reading_and_tokens_are_d2l_0_12_0s(in_home, d2l012):
    data_dir = chapter.download_extract('SNLI')
    assert os.path.isfile(os.path.join(data_dir, 'snli_1.0_train.txt'))
    for is_train, split in ((True, 'train'), (False, 'test')):
        premises, hypotheses, labels = chapter.read_snli(data_dir, is_train)
        ref = d2l012.read_snli(data_dir, is_train)
        assert (premises, hypotheses, labels) == tuple(ref)
        assert len(labels) == SNLI_SIZES[split] and premises[0][0].isupper()
        for token in ('word', 'char'):
            assert chapter.tokenize(premises, token) == d2l012.tokenize(premises, token)
        for p, h in zip(chapter.tokenize(premises), chapter.tokenize(hypotheses)):
            assert chapter.get_tokens_and_segments(p, h) == d2l012.get_tokens_and_segments(p, h)
            assert chapter.get_tokens_and_segments(p) == d2l012.get_tokens_and_segments(p)
    with pytest.raises(ValueError, match='SNLI'):
        chapter.download_extract('snli')


def test_forward_pass_is_d2l_0_12_0s(d2l012, numpy_mode):
    """The chapter's BERTModel with d2l 0.12.0's parameters computes its outputs
    (inputs as the chapter's: mx.np arrays).  d2l 0.12.0 masks example b's
    attention heads with other examples' lengths (`np.tile` where later
    revisions have `np.repeat`): its batches are compared where all examples
    have one valid length, and its outputs change with the batch's other
    examples, which gluon_bert's do not."""
    numpy_mode()
    np_ = mx.np
    V, B, L = 40, 4, 10
    rng = np.random.RandomState(0)
    tokens = np_.array(rng.randint(5, V, (B, L)), dtype='int32')
    segments = np_.array(np.arange(L)[None, :].repeat(B, 0) >= 5, dtype='int32')
    same = np_.full((B,), 7.0)
    mixed = np_.array([10.0, 4.0, 7.0, 6.0])
    positions = np_.array(rng.randint(0, 7, (B, 3)), dtype='int32')
    ref = d2l012.BERTModel(V, 32, 48, 4, 2, 0.0, max_len=20)
    ref.initialize(mx.init.Normal(0.2))
    ref(tokens, segments, same, positions)
    net = chapter.BERTModel(V, 32, 48, 4, 2, 0.0, max_len=20)
    net.initialize()
    ours = net._collect_params_with_prefix()
    for name, param in ref._collect_params_with_prefix().items():
        ours[name].set_data(param.data())

    def close(a, b):
        return all(np.allclose(x.asnumpy(), y.asnumpy(), rtol=1e-4, atol=1e-5)
                   for x, y in zip(a, b) if x is not None)

    assert close(net(tokens, segments, same, positions), ref(tokens, segments, same, positions))
    assert close(net(tokens, segments), ref(tokens, segments))      # no valid_lens: all valid
    assert net(tokens, segments)[1] is None
    alone = [net(tokens[i:i + 1], segments[i:i + 1], mixed[i:i + 1])[0] for i in range(B)]
    assert close(alone, [ref(tokens[i:i + 1], segments[i:i + 1], mixed[i:i + 1])[0]
                         for i in range(B)])
    batch = net(tokens, segments, mixed)[0]
    assert close([batch[i:i + 1] for i in range(B)], alone)
    assert not close([ref(tokens, segments, mixed)[0][:1]], alone[:1])
    net.hybridize()
    assert close(net(tokens, segments, same, positions), ref(tokens, segments, same, positions))


def mlm_nsp_loss(net, batch):
    """The chapter's pretraining loss of `net` on one batch of `load_data_wiki`."""
    tokens, segments, valid, positions, weights, mlm_y, nsp_y = batch
    loss = gluon.loss.SoftmaxCELoss()
    _, mlm_hat, nsp_hat = net(tokens, segments, valid, positions)
    mlm = (loss(mlm_hat.reshape((-1, mlm_hat.shape[-1])), mlm_y.reshape(-1),
                weights.reshape((-1, 1))).sum() / (weights.sum() + 1e-8))
    return float(mlm), float(loss(nsp_hat, nsp_y).mean())


def test_train_bert_trains_the_model_in_place(in_home, numpy_mode, capsys):
    """On two devices, under npx.set_np(): the model's parameters are trained
    (its MLM and NSP losses on a batch fall), stay mx.np arrays and agree on
    both devices; the chapter's two lines are printed."""
    numpy_mode()
    ctx = [mx.cpu(0), mx.cpu(1)]
    train_iter, vocab = chapter.load_data_wiki(16, 64)
    net = chapter.BERTModel(len(vocab), 32, 32, 2, 1, 0.0, max_len=64)
    net.initialize(mx.init.Xavier(), ctx=ctx)
    batch = [a.as_in_ctx(ctx[0]) for a in next(iter(train_iter))]
    before = mlm_nsp_loss(net, batch)
    chapter.train_bert(train_iter, net, gluon.loss.SoftmaxCELoss(), len(vocab), ctx, 10, 40)
    after = mlm_nsp_loss(net, batch)
    assert after[0] < before[0] - 0.5 and after[1] < before[1]
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r'MLM loss \d+\.\d{3}, NSP loss \d+\.\d{3}', lines[-2])
    assert re.fullmatch(r'\d+\.\d sentence pairs/sec on \[cpu\(0\), cpu\(1\)\]', lines[-1])
    for param in net.collect_params().values():
        on_0, on_1 = param.list_data()
        assert isinstance(on_0, mx.np.ndarray)
        np.testing.assert_array_equal(on_0.asnumpy(), on_1.asnumpy())
    with pytest.raises(TypeError, match='load_data_wiki'):
        chapter.train_bert(list(train_iter), net, gluon.loss.SoftmaxCELoss(), len(vocab), ctx,
                           10, 1)
    with pytest.raises(ValueError, match='vocab_size'):
        chapter.train_bert(train_iter, net, gluon.loss.SoftmaxCELoss(), len(vocab) + 1, ctx,
                           10, 1)


def test_batches_are_split_without_empty_shards():
    ctx = [mx.cpu(0), mx.cpu(1)]
    X = (mx.nd.ones((1, 5)), mx.nd.zeros((1, 5)), mx.nd.array([3]))
    X_shards, y_shards = chapter.split_batch_multi_inputs(X, mx.nd.array([2]), ctx)
    assert len(X_shards) == len(y_shards) == 1 and len(X_shards[0]) == 3
    X_shards, y_shards = chapter.split_batch_multi_inputs(
        [mx.nd.ones((3, 5))] * 3, mx.nd.array([0, 1, 2]), ctx)
    assert [y.context for y in y_shards] == ctx and [len(y) for y in y_shards] == [2, 1]
    assert 1 <= chapter.get_dataloader_workers() <= min(4, usable_cpus())


def test_animator_draws_in_a_notebook(monkeypatch):
    shown = []
    monkeypatch.setattr(chapter.animator, 'in_notebook', lambda: True)
    import IPython.display
    monkeypatch.setattr(IPython.display, 'display', shown.append)
    monkeypatch.setattr(IPython.display, 'clear_output', lambda wait: None)
    anim = chapter.Animator(xlabel='epoch', legend=['loss', 'acc'])
    anim.add(1, (0.9, None))
    anim.add(2, (0.5, 0.8))
    assert len(shown) == 2 and shown[-1] is anim.fig
    lines = anim.fig.axes[0].get_lines()
    assert [list(line.get_xdata()) for line in lines] == [[1, 2], [2]]
    assert [list(line.get_ydata()) for line in lines] == [[0.9, 0.5], [0.8]]


def test_the_chapters_code_runs(home):
    """tests/chapter_listing.py, the chapter's code with smaller sizes: it
    pretrains, reads SNLI with its multiprocessing.Pool(4) and fine-tunes."""
    # one thread: the fastest for the small model, also on a busy machine
    env = dict(os.environ, GLUON_BERT_HOME=home, OMP_NUM_THREADS='1')
    run = subprocess.run([sys.executable, os.path.join(HERE, 'chapter_listing.py')],
                         cwd=home, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    mlm, nsp = map(float, re.search(r'^MLM loss (\d+\.\d{3}), NSP loss (\d+\.\d{3})$', out,
                                    re.M).groups())
    assert 0 < mlm < 20 and 0 < nsp < 5
    assert re.search(r'^\d+\.\d sentence pairs/sec on \[cpu\(0\)\]$', out, re.M)
    assert re.findall(r'^read (\d+) examples$', out, re.M) == [
        str(SNLI_SIZES['train']), str(SNLI_SIZES['test'])]
    loss, train_acc, test_acc = map(float, re.search(
        r'^loss (\d+\.\d{3}), train acc (\d\.\d{3}), test acc (\d\.\d{3})$', out, re.M).groups())
    assert loss > 0 and 0 <= train_acc <= 1 and 0 <= test_acc <= 1
    # accuracies count whole examples
    for acc, n in ((train_acc, SNLI_SIZES['train']), (test_acc, SNLI_SIZES['test'])):
        assert abs(acc * n - round(acc * n)) <= 0.0005 * n + 1e-9
    assert re.search(r'^\d+\.\d examples/sec on \[cpu\(0\)\]$', out, re.M)


def test_d2l_0_12_0s_random_word_is_unk(d2l012):
    """README: d2l 0.12.0's "10 %: a random word" of masked LM is `<unk>` (it puts
    `random.randint(0, len(vocab) - 1)`, an int, among the string tokens, and
    `vocab[...]` maps it to `<unk>`); gluon_bert draws a word
    (tests/test_wikitext.py)."""
    d = d2l012.d2l
    sentences = [['w%d' % (i % 40) for i in range(j, j + 12)] for j in range(40)]
    vocab = d.Vocab(sentences, min_freq=1, reserved_tokens=['<pad>', '<mask>', '<cls>', '<sep>'])
    state = random.getstate()
    random.seed(0)
    try:
        replaced = []
        for sentence in sentences * 20:
            ids, positions, labels = d._get_mlm_data_from_tokens(
                ['<cls>'] + sentence + ['<sep>'], vocab)
            replaced += [ids[p] for p, label in zip(positions, labels)
                         if ids[p] not in (vocab['<mask>'], label)]
    finally:
        random.setstate(state)
    assert len(replaced) > 50 and set(replaced) == {vocab['<unk>']}
