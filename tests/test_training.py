"""The training loops: losses fall, several devices equal one, no stale
gradients, accuracy over exactly the examples seen."""
import warnings

import numpy as np
import mxnet as mx
import pytest
from mxnet import init

from gluon_bert.model.config import BERTConfig
from gluon_bert.model.bert import BERTModel, BERTClassifier
from gluon_bert.train.pretrain import pretrain
from gluon_bert.train.finetune import finetune
from gluon_bert.train.options import FinetuneArgs, PretrainArgs
from gluon_bert.inference import evaluate_accuracy
from gluon_bert.data.snli import SNLIBERTDataset
from gluon_bert.data.synthetic import nli_task, wikitext_lines
from gluon_bert.text.vocab import build_vocab, tokenize, WordTokenizer
from gluon_bert.data.batching import split_and_load
from gluon_bert.train.devices import parse_contexts
from gluon_bert.data.wikitext import WikiTextDataset


def tiny_config(vocab_size, dropout=0.0, **kw):
    d = dict(vocab_size=vocab_size, num_hiddens=32, ffn_num_hiddens=64, num_heads=2,
             num_blks=2, dropout=dropout, max_len=64)
    d.update(kw)
    return BERTConfig(**d)


@pytest.fixture(scope='module')
def wiki():
    lines = wikitext_lines(300, seed=0)
    paragraphs = [l.strip().lower().split(' . ') for l in lines if len(l.split(' . ')) >= 2]
    return WikiTextDataset(paragraphs, max_len=64, seed=0)


@pytest.fixture(scope='module')
def nli():
    train, test = nli_task(600, seed=0), nli_task(200, seed=1)
    tok = WordTokenizer(build_vocab(tokenize(train.premises + train.hypotheses), min_freq=1))
    return (SNLIBERTDataset(train, 48, tokenizer=tok, num_workers=0),
            SNLIBERTDataset(test, 48, tokenizer=tok, num_workers=0), tok)


def fresh_bert(config, ctxs, seed=0):
    mx.random.seed(seed)
    net = BERTModel(config)
    net.initialize(init.Xavier(), ctx=ctxs)
    return net


def test_parse_contexts():
    assert parse_contexts('cpu') == [mx.cpu(0)]
    assert parse_contexts('cpu:0,cpu:1') == [mx.cpu(0), mx.cpu(1)]
    with pytest.raises(ValueError):
        parse_contexts('tpu:0')


def test_split_never_gives_an_empty_shard():
    ctxs = [mx.cpu(0), mx.cpu(1), mx.cpu(2)]
    shards = split_and_load((np.arange(2), np.arange(2)), ctxs)
    assert len(shards) == 2 and all(s[0].shape[0] == 1 for s in shards)
    shards = split_and_load((np.arange(7),), ctxs)
    assert sum(s[0].shape[0] for s in shards) == 7 and all(s[0].shape[0] > 0 for s in shards)


@pytest.mark.parametrize('bucket', [0, 5])
def test_pretraining_lowers_mlm_and_nsp_loss(wiki, bucket):
    """With shuffled batches (the chapter) and with length buckets alike.  (With
    buckets NSP starts to fall later: at step 300 it is at 0.64, at 400 at 0.46.)"""
    net = fresh_bert(tiny_config(len(wiki.vocab), dropout=0.1), [mx.cpu()])
    s = pretrain(net, wiki, [mx.cpu()], PretrainArgs(num_steps=400, batch_size=64, lr=2e-3,
                                                     log_interval=50, progress=False,
                                                     bucket=bucket))
    first, last = s['records'][0], s['records'][-1]
    assert last['mlm_loss'] < 0.7 * first['mlm_loss'], s['records']
    assert last['nsp_loss'] < 0.9 * first['nsp_loss'], s['records']
    assert last['nsp_loss'] < 0.6   # better than chance (ln 2 = 0.693)


def test_pretraining_on_two_devices_has_no_stale_gradients(wiki, params_of):
    """Regression: the draft's pretraining failed with a stale-gradient error on
    several devices.  Batches of 5 over 2 devices, then a last batch of 1: the
    steps run without a warning, and every one, also those where the second
    device had no pair, updates both devices' copies of every parameter alike."""
    ctxs = [mx.cpu(0), mx.cpu(1)]
    net = fresh_bert(tiny_config(len(wiki.vocab)), ctxs)
    before = params_of(net)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        # (MXNet's own imports raise DeprecationWarnings of numpy/scipy APIs.)
        warnings.simplefilter('ignore', DeprecationWarning)
        pretrain(net, wiki, ctxs, PretrainArgs(num_steps=3, batch_size=5, progress=False),
                 hybridize=False)
        pretrain(net, wiki, ctxs, PretrainArgs(num_steps=2, batch_size=1, progress=False),
                 hybridize=False)
    for name, param in net.collect_params().items():
        on_0, on_1 = (d.asnumpy() for d in param.list_data())
        assert np.isfinite(on_0).all() and np.array_equal(on_0, on_1), name
    after = params_of(net)
    assert [k for k in before if np.array_equal(before[k], after[k])] == []   # all trained


@pytest.mark.parametrize('job', ['pretrain', 'finetune'])
def test_two_devices_equal_one_device(job, wiki, nli, params_of):
    """The same global batch split over 2 devices gives the same parameters
    (plain SGD: Adam's normalisation would magnify rounding noise in near-zero
    gradients)."""
    results = []
    for ctxs in ([mx.cpu(0)], [mx.cpu(0), mx.cpu(1)]):
        if job == 'pretrain':
            net = fresh_bert(tiny_config(len(wiki.vocab)), ctxs)
            pretrain(net, wiki, ctxs, PretrainArgs(num_steps=4, batch_size=17, lr=0.5,
                                                   progress=False, optimizer='sgd'))
        else:
            train, test, tok = nli
            bert = fresh_bert(tiny_config(len(tok)), ctxs)
            net = BERTClassifier(bert)
            for block in net.new_blocks():
                block.initialize(init.Xavier(), ctx=ctxs)
            finetune(net, train, None, ctxs, FinetuneArgs(num_epochs=1, batch_size=100, lr=0.5,
                                                          progress=False, optimizer='sgd'))
        results.append(params_of(net))
    one, two = results
    assert one.keys() == two.keys()
    moved = 0
    for k in one:
        np.testing.assert_allclose(one[k], two[k], rtol=1e-4, atol=1e-5, err_msg=k)
    # and training did change the parameters
    net0 = fresh_bert(tiny_config(len(wiki.vocab) if job == 'pretrain' else len(nli[2])),
                      [mx.cpu(0)])
    init0 = params_of(net0)
    moved = sum(not np.allclose(init0[k], one[k]) for k in init0
                if k in one and init0[k].shape == one[k].shape)
    assert moved > len(init0) // 2


def test_accuracy_counts_each_example_once(nli):
    """Regression: the draft compared (B, 1) labels with (B,) predictions and
    reported a 'train acc' of 16.06.  A classifier that always says 'entailment'
    scores exactly the share of entailment pairs, in training and evaluation."""
    train, test, tok = nli
    net = BERTClassifier(fresh_bert(tiny_config(len(tok)), [mx.cpu()]))
    for block in net.new_blocks():
        block.initialize(init.Zero())
    net.output.bias.set_data(mx.nd.array([10.0, 0.0, 0.0]))
    s = finetune(net, train, test, [mx.cpu()], FinetuneArgs(num_epochs=1, batch_size=64, lr=0.0,
                                                            progress=False))
    assert s['train_acc'] == pytest.approx(float((train.labels == 0).mean()), abs=1e-9)
    assert s['test_acc'] == pytest.approx(float((test.labels == 0).mean()), abs=1e-9)
    net.collect_params().reset_ctx([mx.cpu(0), mx.cpu(1)])
    assert evaluate_accuracy(net, test, [mx.cpu(0), mx.cpu(1)], batch_size=7) == \
        pytest.approx(float((test.labels == 0).mean()), abs=1e-9)
    assert 0 <= s['train_acc'] <= 1


def test_finetuning_lowers_the_loss(nli):
    """(8 epochs: the pair's length no longer gives neutral away, and the loss
    first falls after 4.)"""
    train, test, tok = nli
    net = BERTClassifier(fresh_bert(tiny_config(len(tok), dropout=0.1), [mx.cpu()]))
    for block in net.new_blocks():
        block.initialize(init.Xavier())
    s = finetune(net, train, test, [mx.cpu()], FinetuneArgs(num_epochs=8, batch_size=32, lr=1e-3,
                                                            progress=False))
    losses = [r['train_loss'] for r in s['records']]
    assert losses[-1] < losses[0] - 0.05, losses


def test_flattened_mlm_loss_equals_the_chapters(wiki):
    """Computing MaskLM only at the real predictions gives the chapter's loss
    (MaskLM at every padded slot, weighted by mlm_weights)."""
    from mxnet import gluon
    from gluon_bert.train.pretrain import pretrain_batch, split_pretrain_batch, get_batch_loss_bert
    net = fresh_bert(tiny_config(len(wiki.vocab)), [mx.cpu()])
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    idx = np.arange(23)
    batch = pretrain_batch(wiki, idx)
    total_w = float(batch[4].sum())
    mlm_ls, nsp_ls, _ = get_batch_loss_bert(net, split_pretrain_batch(batch, [mx.cpu()]),
                                            total_w, len(idx))
    t, s, v, p, w, y, nsp_y = [mx.nd.array(a) for a in batch]
    _, mlm_hat, nsp_hat = net(t, s, v, p)
    expect = loss(mlm_hat.reshape((-1, len(wiki.vocab))), y.reshape(-1),
                  w.reshape((-1, 1))).sum() / (w.sum() + 1e-8)
    assert float(mlm_ls[0].asscalar()) == pytest.approx(float(expect.asscalar()), rel=1e-5)
    assert float(nsp_ls[0].asscalar()) == pytest.approx(
        float(loss(nsp_hat, nsp_y).mean().asscalar()), rel=1e-5)


@pytest.mark.parametrize('bucket', [0, 5])
def test_finetuning_learns_the_synthetic_task(bucket):
    """A small BERT fine-tuned on the synthetic NLI task classifies held-out pairs
    with >= 0.9 accuracy, with plain shuffled batches (the chapter) and with
    length buckets (GluonNLP's FixedBucketSampler) alike."""
    train, test = nli_task(3000, seed=0), nli_task(600, seed=1)
    tok = WordTokenizer(build_vocab(tokenize(train.premises + train.hypotheses), min_freq=1))
    train_set = SNLIBERTDataset(train, 32, tokenizer=tok, num_workers=0)
    test_set = SNLIBERTDataset(test, 32, tokenizer=tok, num_workers=0)
    config = tiny_config(len(tok), dropout=0.1, num_hiddens=64, ffn_num_hiddens=128,
                         max_len=32)
    net = BERTClassifier(fresh_bert(config, [mx.cpu()]))
    for block in net.new_blocks():
        block.initialize(init.Xavier())
    s = finetune(net, train_set, test_set, [mx.cpu()],
                 FinetuneArgs(num_epochs=12, batch_size=64, lr=1e-3, bucket=bucket,
                              progress=False))
    assert s['test_acc'] >= 0.9, [(r['train_acc'], r['test_acc']) for r in s['records']]
    assert s['num_train_examples'] == 3000 and s['num_test_examples'] == 600


def test_length_buckets_cover_every_example_once_with_less_padding():
    from gluon_bert.data.batching import iterate_batches, length_buckets
    lengths = np.random.RandomState(0).randint(5, 129, size=1000)
    assert length_buckets(lengths, 64, 0, seed=0) is None
    batches = list(iterate_batches(len(lengths), 64, True, None,
                                   length_buckets(lengths, 64, 8, seed=0)))
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    shuffled = list(iterate_batches(len(lengths), 64, True, np.random.RandomState(0)))
    padded = lambda bs: sum(len(b) * lengths[b].max() for b in bs)
    assert padded(batches) < 0.7 * padded(shuffled)
    again = list(iterate_batches(len(lengths), 64, True, None,
                                 length_buckets(lengths, 64, 8, seed=0)))
    assert all((a == b).all() for a, b in zip(batches, again))


def test_importing_gluon_bert_first_uses_every_usable_cpu_unless_told():
    import os
    import subprocess
    import sys
    code = 'import gluon_bert, os; print(os.environ["OMP_NUM_THREADS"])'
    env = {k: v for k, v in os.environ.items() if k != 'OMP_NUM_THREADS'}
    out = subprocess.run([sys.executable, '-c', code], env=env, check=True,
                         stdout=subprocess.PIPE).stdout.decode().strip()
    assert out == str(len(os.sched_getaffinity(0)))
    env['OMP_NUM_THREADS'] = '1'
    out = subprocess.run([sys.executable, '-c', code], env=env, check=True,
                         stdout=subprocess.PIPE).stdout.decode().strip()
    assert out == '1'


def test_openblas_kernels_follow_the_cpu_unless_told(tmp_path):
    """Importing gluon_bert first sets OPENBLAS_CORETYPE to 'Haswell' on a CPU with
    AVX2 and FMA, and the OpenBLAS MXNet loads then runs those kernels; a value the
    user set is kept, and so are the kernels it names."""
    import os
    import subprocess
    import sys
    from gluon_bert.system import cpu_flags, openblas_coretype
    info = tmp_path / 'cpuinfo'
    info.write_text('processor\t: 0\nflags\t\t: fpu sse3 avx avx2 fma\n\n'
                    'processor\t: 1\nflags\t\t: fpu\n')
    assert cpu_flags(str(info)) == {'fpu', 'sse3', 'avx', 'avx2', 'fma'}
    assert cpu_flags(str(tmp_path / 'missing')) == set()
    assert openblas_coretype({'avx2', 'fma', 'sse3'}) == 'Haswell'
    assert openblas_coretype({'avx', 'sse3'}) is None
    code = ('import gluon_bert, os, mxnet; from gluon_bert.system import openblas_core; '
            'print(os.environ.get("OPENBLAS_CORETYPE"), openblas_core())')
    env = {k: v for k, v in os.environ.items() if k != 'OPENBLAS_CORETYPE'}

    def run(env):
        return subprocess.run([sys.executable, '-c', code], env=env, check=True,
                              stdout=subprocess.PIPE).stdout.decode().split()
    chosen, core = run(env)
    if core == 'None':
        pytest.skip('this MXNet has no libopenblas.so.0 beside it')
    expected = openblas_coretype(cpu_flags())
    assert chosen == str(expected)
    if expected is not None:
        assert core == expected
    assert run(dict(env, OPENBLAS_CORETYPE='Prescott')) == ['Prescott', 'Prescott']


def test_importing_gluon_bert_after_mxnet_warns_of_the_defaults_it_could_not_set():
    import os
    import subprocess
    import sys
    from gluon_bert import AVX2_CORES
    from gluon_bert.system import cpu_flags, openblas_coretype, usable_cpus
    env = {k: v for k, v in os.environ.items()
           if k not in ('OMP_NUM_THREADS', 'OPENBLAS_CORETYPE')}

    def stderr(code, **extra):
        return subprocess.run([sys.executable, '-c', code], env=dict(env, **extra), check=True,
                              stderr=subprocess.PIPE).stderr.decode()
    late = stderr('import mxnet, gluon_bert, sys; from gluon_bert.system import openblas_core; '
                  'print("core", openblas_core(), file=sys.stderr)')
    assert 'gluon_bert was imported after mxnet' in late
    assert ('OMP_NUM_THREADS=%d' % usable_cpus() in late) == (usable_cpus() > 1)
    core = late.split('core ')[-1].strip()            # the kernels MXNet loaded by itself
    assert ('OPENBLAS_CORETYPE=Haswell' in late) == (
        openblas_coretype(cpu_flags()) == 'Haswell' and core not in ('None',) + AVX2_CORES)
    # imported first, or late with both set by the user: nothing to say
    assert 'imported after' not in stderr('import gluon_bert, mxnet')
    assert 'imported after' not in stderr('import mxnet, gluon_bert', OMP_NUM_THREADS='1',
                                          OPENBLAS_CORETYPE='Haswell')


def test_validation_metrics_are_logged_and_fall(wiki, tmp_path):
    """Every eval_interval steps the record holds the MLM/NSP loss and accuracy on
    held-out pairs (another part of the synthetic corpus, the training
    vocabulary); they are finite, and they fall as training proceeds."""
    import json
    lines = wikitext_lines(120, seed=7)
    held_out = [l.strip().lower().split(' . ') for l in lines if len(l.split(' . ')) >= 2]
    valid = WikiTextDataset(held_out, max_len=64, vocab=wiki.vocab, seed=1).take(200, seed=1)
    assert len(valid) == 200
    net = fresh_bert(tiny_config(len(wiki.vocab), dropout=0.1), [mx.cpu()])
    metrics = str(tmp_path / 'metrics.jsonl')
    s = pretrain(net, wiki, [mx.cpu()],
                 PretrainArgs(num_steps=240, batch_size=64, lr=2e-3, log_interval=40,
                              eval_interval=80, progress=False),
                 metrics_path=metrics, valid_set=valid)
    with open(metrics) as f:
        records = [json.loads(line) for line in f]
    assert [r['step'] for r in records] == [40, 80, 120, 160, 200, 240]
    evaluated = [r for r in records if 'val_mlm_loss' in r]
    assert [r['step'] for r in evaluated] == [80, 160, 240]
    keys = ('val_mlm_loss', 'val_mlm_acc', 'val_nsp_loss', 'val_nsp_acc', 'val_enc_spread')
    assert all(np.isfinite(r[k]) for r in evaluated for k in keys)
    assert all(0 <= r['val_mlm_acc'] <= 1 and 0 <= r['val_nsp_acc'] <= 1 for r in evaluated)
    first, last = evaluated[0], evaluated[-1]
    assert last['val_mlm_loss'] < first['val_mlm_loss'] - 0.1, evaluated
    assert last['val_mlm_acc'] > first['val_mlm_acc'], evaluated
    assert last['val_nsp_loss'] < first['val_nsp_loss'], evaluated
    assert s['val_mlm_loss'] == last['val_mlm_loss']
    # The running means are the chapter's statistic: the mean over all steps so far.
    assert s['mlm_loss_running'] == pytest.approx(
        sum(r['mlm_loss'] * 40 for r in records) / 240, rel=1e-6)


def test_the_best_validation_step_is_kept_as_a_pretraining_folder(wiki, tmp_path):
    """With a best folder, the parameters of the evaluation with the lowest
    logged validation loss (MLM + NSP) are saved there as a pretraining folder
    and named in the summary: the folder's model evaluates to that loss."""
    import json
    from gluon_bert.model.folders import load_pretrained_folder
    from gluon_bert.train.pretrain import evaluate_pretraining
    valid = wiki.take(150, seed=3)
    net = fresh_bert(tiny_config(len(wiki.vocab), dropout=0.1), [mx.cpu()])
    metrics, best = str(tmp_path / 'metrics.jsonl'), str(tmp_path / 'best')
    s = pretrain(net, wiki, [mx.cpu()],
                 PretrainArgs(num_steps=60, batch_size=64, lr=2e-3, log_interval=10,
                              eval_interval=10, progress=False),
                 metrics_path=metrics, valid_set=valid, best_folder=best)
    with open(metrics) as f:
        records = [json.loads(line) for line in f]
    losses = {r['step']: r['val_mlm_loss'] + r['val_nsp_loss'] for r in records}
    assert len(losses) == 6
    lowest = min(losses, key=losses.get)
    assert s['best']['step'] == lowest and s['best']['folder'] == best
    assert s['best']['val_loss'] == pytest.approx(losses[lowest])
    assert [r['step'] for r in records if r.get('best')][-1] == lowest
    kept = load_pretrained_folder(best)
    again = evaluate_pretraining(kept.bert, valid, [mx.cpu()])
    assert again['val_mlm_loss'] == pytest.approx(records[lowest // 10 - 1]['val_mlm_loss'],
                                                  rel=1e-5)


def test_only_a_lower_validation_loss_replaces_the_best_folder(wiki, tmp_path):
    """The best folder holds the parameters of the lowest loss seen, including
    the records of a resumed run: a later, higher loss leaves it alone."""
    from gluon_bert.model.folders import load_pretrained_folder
    from gluon_bert.train.pretrain import PretrainJob, best_record
    net = fresh_bert(tiny_config(len(wiki.vocab)), [mx.cpu()])
    folder = str(tmp_path / 'best')
    job = PretrainJob(net, wiki, [mx.cpu()], PretrainArgs(eval_interval=1, progress=False),
                      valid_set=wiki.take(10), best_folder=folder)
    bias = net.nsp.output.bias
    records = [dict(step=1, val_mlm_loss=6.0, val_nsp_loss=0.7)]     # before a resume
    for step, mlm, marker in ((2, 6.5, 2.0), (3, 5.0, 3.0), (4, 5.5, 4.0)):
        bias.set_data(mx.nd.full(bias.shape, marker))
        record = dict(step=step, val_mlm_loss=mlm, val_nsp_loss=0.7, val_loss=mlm + 0.7)
        job._keep_if_best(record, records)
        records.append(record)
    assert [r.get('best', False) for r in records[1:]] == [False, True, False]
    assert best_record(records)['step'] == 3
    kept = load_pretrained_folder(folder).bert.nsp.output.bias.data().asnumpy()
    np.testing.assert_array_equal(kept, np.full(bias.shape, 3.0))


def test_a_collapsed_encoder_is_measured_and_warned_about(wiki, capsys):
    """val_enc_spread is about 1 for a (post-LN) encoder whose outputs depend on
    the input and near 0 for one whose outputs are the same vector everywhere
    (here: a last FFN bias so large it drowns the input, the state the chapter's
    lr 0.01 reaches); the pretraining job warns once, on stderr, naming the step."""
    from gluon_bert.train.pretrain import COLLAPSED_SPREAD, PretrainJob, evaluate_pretraining
    valid = wiki.take(100, seed=3)
    net = fresh_bert(tiny_config(len(wiki.vocab)), [mx.cpu()])
    healthy = evaluate_pretraining(net, valid, [mx.cpu()])
    assert healthy['val_enc_spread'] > 0.3, healthy
    bias = net.encoder.blks[-1].ffn.dense2.bias
    bias.set_data(mx.nd.array(np.random.RandomState(0).randn(32) * 1e4))
    collapsed = evaluate_pretraining(net, valid, [mx.cpu()])
    assert collapsed['val_enc_spread'] < COLLAPSED_SPREAD, collapsed
    assert np.isfinite(collapsed['val_mlm_loss'])
    job = PretrainJob(net, wiki, [mx.cpu()], PretrainArgs(num_steps=10, eval_interval=5,
                                                          progress=False), valid_set=valid)
    capsys.readouterr()
    for step in (5, 10):
        job._warn_if_collapsed(dict(step=step, **collapsed))
    job._warn_if_collapsed(dict(step=10, **healthy))
    err = capsys.readouterr().err
    assert err.count('warning:') == 1 and 'step 5: the encoder has collapsed' in err, err


def test_gradient_clipping_bounds_the_update(wiki, params_of):
    """With --clip-grad-norm the update of one SGD step has at most lr * norm;
    a bound far above the gradient's norm changes nothing."""
    def one_step(clip):
        net = fresh_bert(tiny_config(len(wiki.vocab)), [mx.cpu()])
        before = params_of(net)
        pretrain(net, wiki, [mx.cpu()], PretrainArgs(num_steps=1, batch_size=32, lr=1.0,
                                                     optimizer='sgd', clip_grad_norm=clip,
                                                     progress=False, eval_interval=0))
        after = params_of(net)
        return np.sqrt(sum(((after[k] - before[k]) ** 2).sum() for k in before)), after
    free, free_params = one_step(None)
    clipped, _ = one_step(0.01)
    loose, loose_params = one_step(1e6)
    assert free > 0.05 and clipped == pytest.approx(0.01, rel=1e-3)
    for k in free_params:
        np.testing.assert_allclose(loose_params[k], free_params[k], rtol=1e-5, atol=1e-7)


def test_random_init_keeps_the_model_and_tokenizer_not_the_weights(tmp_path, tiny_pretrained,
                                                                   load_params):
    """--random-init (the "no pretraining" baseline) fine-tunes the --pretrained
    folder's architecture and vocabulary from new weights: none of its weight
    matrices survives, LayerNorm and biases start as a new model's (ones, zeros),
    and the same seed gives the same initialization.  (lr 0: the saved
    classifier holds the initial weights.)"""
    from gluon_bert.model.folders import CLASSIFIER_PARAMS
    from gluon_bert.train.jobs import run_finetuning
    pre = tiny_pretrained(str(tmp_path / 'pre'), seed=5, dropout=0.0)   # not seed 0's init
    base = dict(pretrained=pre, dataset='synthetic', synthetic_pairs=[40, 20], max_len=32,
                batch_size=20, num_epochs=1, lr=0.0, progress=False, no_checkpoints=True,
                num_workers=1)
    params = {}
    for name, changes in (('kept', {}), ('a', dict(random_init=True)),
                          ('b', dict(random_init=True)), ('c', dict(random_init=True, seed=1))):
        run_finetuning(FinetuneArgs(output=str(tmp_path / name), **base, **changes))
        params[name] = load_params(str(tmp_path / name / CLASSIFIER_PARAMS))
    assert sorted(params['a']) == sorted(params['kept'])       # the same model
    weights = [k for k in params['a'] if k.endswith('weight') and not k.startswith('output.')]
    assert len(weights) >= 6, weights
    for k in weights:
        assert not np.allclose(params['a'][k], params['kept'][k]), k     # new weights
        assert np.array_equal(params['a'][k], params['b'][k]), k         # seeded
        assert not np.allclose(params['a'][k], params['c'][k]), k
    fresh = [k for k in params['a'] if k.endswith(('gamma', 'beta', 'bias'))]
    assert fresh
    for k in fresh:
        assert np.all(params['a'][k] == (1.0 if k.endswith('gamma') else 0.0)), k
