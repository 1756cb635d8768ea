"""Fine-tune the same classifier in MXNet/Gluon and in PyTorch and compare them.

The recipe is the chapter's: a `BERTClassifier` (pretrained encoder and `hidden`,
new `Dense(3)` output) trained with Adam on the mean cross-entropy of shuffled
batches, then evaluated on the test set.  Both frameworks start from the same
weights, see the same batches in the same order and use the same
hyperparameters; each runs in its own process so that its peak resident memory
(`getrusage` maxrss is per process) and its thread settings are its own.

* `prepare_job(folder, ...)` (parent process, MXNet): builds the Gluon
  classifier (from a pretraining output folder, or `'synthetic'`: a fresh
  randomly initialised `bert.small`-sized model with a word tokenizer built from
  the training data), encodes the data with `SNLIBERTDataset`, and writes the
  job folder: `config.json`, `init.npz` (every parameter under its Gluon
  structural name), `data.npz` (token ids, segments, valid lengths, labels) and
  `job.json` (the settings).
* `run_worker(framework, folder)` (child process): trains one framework and
  writes `result-{framework}.json`.  Gluon trains with gluon_bert's `finetune`
  itself (through `gluon_bert.compare.gluon_side`; hybridized, batches padded to
  their longest pair rounded up to a multiple of 8); PyTorch with the plain loop
  `gluon_bert.compare.torch_train.finetune` over the twin, its batches padded
  the same way or, with `torch_pad='max_len'`, to `max_len` as the chapter's
  PyTorch code.  The PyTorch worker loads neither MXNet nor the package's MXNet
  modules, and this module imports neither framework at import time (torch only
  ever through `torch_twin` and `torch_train`).
* `launch_worker` / `run_comparison`: run the workers one after the other in
  subprocesses with the same thread count (`gluon_bert.compare.process`:
  `OMP_NUM_THREADS`, `MXNET_OMP_MAX_THREADS`, `OPENBLAS_NUM_THREADS`,
  `MKL_NUM_THREADS` set before the framework is imported;
  `torch.set_num_threads`).
* `format_table(report)`: the table the script prints.

The data order is `gluon_bert.compare.batches.epoch_orders`: the order
`finetune` draws with the same seed, and the PyTorch loop draws it the same way.

Measured per framework: the loss of the first batch before training (dropout
off; equal when the weights are), final train loss and accuracy (last epoch's
mean over its batches), test accuracy, training examples per second (wall
clock of the training loops only, evaluation excluded), the process's CPU
seconds over fine-tuning (training and the per-epoch evaluation; unlike the
wall clock, not slowed by other processes competing for the cores, so the 1-min
load average at the start is recorded too), RSS before training and peak RSS.
"""
import json
import os
import sys
import tempfile
import time

import numpy as np

from gluon_bert.fileio import write_json_atomic
from gluon_bert.model.config import BERTConfig, get_config
from gluon_bert.compare.batches import (PAD_MULTIPLE, NLIArrays, epoch_orders, batches_of,
                                        batch_arrays)
from gluon_bert.system import usable_cpus
from gluon_bert.compare.process import (max_rss_mib, CPUClock,
                                        loaded_versions, run_job)

__all__ = ['FRAMEWORKS', 'TORCH_PAD', 'build_classifier', 'prepare_job', 'run_worker',
           'launch_worker', 'run_comparison', 'format_table']

FRAMEWORKS = ('gluon', 'torch')
NAMES = {'gluon': 'mxnet-gluon', 'torch': 'pytorch'}
TORCH_PAD = ('batch', 'max_len')
EVAL_BATCH_SIZE = 512


# ---------------------------------------------------------------------------
# Parent: the model and the job folder


def build_classifier(pretrained, train_raw, max_len=128, seed=0, preset='bert.small',
                     min_freq=5, head=None):
    """(Gluon BERTClassifier with initialised parameters, tokenizer).

    `pretrained` is a pretraining output folder (or any spec
    `gluon_bert.pretrained.load_pretrained` takes) or `'synthetic'`: a fresh `preset`-sized
    BERT initialised with Xavier, its word vocabulary built from `train_raw`
    (tokens seen at least `min_freq` times)."""
    import mxnet as mx
    from mxnet import init
    from gluon_bert.pretrained import load_pretrained
    from gluon_bert.model.bert import BERTModel, BERTClassifier
    from gluon_bert.text.vocab import WordTokenizer, build_vocab, tokenize
    mx.random.seed(seed)
    np.random.seed(seed)
    if pretrained == 'synthetic':
        premises, hypotheses = train_raw[0], train_raw[1]
        vocab = build_vocab(tokenize(list(premises) + list(hypotheses)), min_freq=min_freq)
        tokenizer = WordTokenizer(vocab)
        config = get_config(preset, len(vocab))
        if config.max_len < max_len:
            config = config.replace(max_len=max_len)
        bert = BERTModel(config)
        bert.initialize(init.Xavier())
    else:
        pre = load_pretrained(pretrained)
        bert, tokenizer = pre.bert, pre.tokenizer
        if pre.config.max_len < max_len:
            raise ValueError('max_len %d exceeds the positional embeddings of %s (%d)'
                             % (max_len, pretrained, pre.config.max_len))
    net = BERTClassifier(bert, head=head)
    net.output.initialize(init.Xavier())
    if net.config.classifier_head == 'mlp':
        net.hidden.initialize(init.Xavier())
    return net, tokenizer


def prepare_job(folder, pretrained, train_raw, test_raw, max_len=128, batch_size=512,
                num_epochs=5, lr=1e-4, seed=0, dropout=None, preset='bert.small',
                min_freq=5, head=None, torch_pad='batch', threads=None, hybridize=True,
                num_workers=None, dataset_name=''):
    """Build the classifier and the datasets and write the job folder; returns
    the settings (`job.json`)."""
    from gluon_bert.data.snli import SNLIBERTDataset
    if torch_pad not in TORCH_PAD:
        raise ValueError('torch_pad must be one of %s, not %r' % (', '.join(TORCH_PAD), torch_pad))
    os.makedirs(folder, exist_ok=True)
    t0 = time.perf_counter()
    net, tokenizer = build_classifier(pretrained, train_raw, max_len, seed, preset, min_freq,
                                      head)
    config = net.config
    if dropout is not None:
        config = config.replace(dropout=dropout)
    config.save(os.path.join(folder, 'config.json'))
    params = {name: p.data().asnumpy().astype(np.float32, copy=False)
              for name, p in net._collect_params_with_prefix().items()}
    np.savez(os.path.join(folder, 'init.npz'), **params)
    train = NLIArrays.of(SNLIBERTDataset(train_raw, max_len, tokenizer=tokenizer,
                                         num_workers=num_workers))
    test = NLIArrays.of(SNLIBERTDataset(test_raw, max_len, tokenizer=tokenizer,
                                        num_workers=num_workers))
    if len(train) == 0 or len(test) == 0:
        raise ValueError('empty data: %d training and %d test examples' % (len(train), len(test)))
    np.savez(os.path.join(folder, 'data.npz'), **train.arrays('train_'), **test.arrays('test_'))
    model = ('random %s (no pretraining)' % preset if pretrained == 'synthetic'
             else str(pretrained))
    settings = dict(pretrained=str(pretrained), model=model, dataset=dataset_name, max_len=max_len,
                    batch_size=batch_size, num_epochs=num_epochs, lr=lr, seed=seed,
                    dropout=config.dropout, torch_pad=torch_pad,
                    threads=threads or usable_cpus(), hybridize=hybridize,
                    num_train_examples=len(train), num_test_examples=len(test),
                    mean_train_valid_len=float(train.valid_lens.mean()),
                    num_parameters=int(sum(v.size for v in params.values())),
                    config=config.to_dict(), prepare_seconds=time.perf_counter() - t0)
    write_json_atomic(os.path.join(folder, 'job.json'), settings)
    return settings


# ---------------------------------------------------------------------------
# Children: one framework each


def _load_job(folder):
    with open(os.path.join(folder, 'job.json')) as f:
        settings = json.load(f)
    config = BERTConfig.load(os.path.join(folder, 'config.json'))
    with np.load(os.path.join(folder, 'data.npz')) as d:
        arrays = dict(d)
    with np.load(os.path.join(folder, 'init.npz')) as d:
        params = dict(d)
    return (settings, config, params, NLIArrays.from_arrays(arrays, 'train_'),
            NLIArrays.from_arrays(arrays, 'test_'))


def _epoch_logger(framework):
    """An `on_epoch_end` callback printing the epoch's record to stderr."""
    def on_epoch_end(r):
        print('[%s] epoch %d: loss %.4f, train acc %.4f, test acc %.4f, %.1f examples/sec'
              % (NAMES[framework], r['epoch'], r['train_loss'], r['train_acc'], r['test_acc'],
                 r['examples_per_sec']), file=sys.stderr, flush=True)
    return on_epoch_end


def _summary(records, initial_loss, rss_before, clock, cpu_seconds, versions, extra):
    last = records[-1]
    load = clock.load_at_start
    return dict(initial_loss=initial_loss, train_loss=last['train_loss'],
                train_acc=last['train_acc'], test_acc=last['test_acc'],
                examples_per_sec=last['examples_per_sec'], train_seconds=last['train_seconds'],
                cpu_seconds=cpu_seconds, load_average=None if load is None else load[0],
                rss_before_training_mib=rss_before, peak_rss_mib=max_rss_mib(),
                records=records, versions=versions, **extra)


def gluon_worker(folder):
    """Fine-tune with gluon_bert's `finetune` on the CPU; the result dict."""
    import mxnet as mx
    from mxnet import gluon
    from gluon_bert.data.batching import nli_batch
    from gluon_bert.model.bert import BERTModel, BERTClassifier
    from gluon_bert.compare.gluon_side import finetune_gluon
    settings, config, params, train, test = _load_job(folder)
    seed = settings['seed']
    mx.random.seed(seed)
    np.random.seed(seed)
    ctx = mx.cpu()
    net = BERTClassifier(BERTModel(config), head=config.classifier_head,
                         num_classes=config.num_classes)
    net.initialize(ctx=ctx)
    ours = net._collect_params_with_prefix()
    if sorted(ours) != sorted(params):
        raise ValueError('parameter names differ: %s' % sorted(set(ours) ^ set(params)))
    for name, p in ours.items():
        p.set_data(mx.nd.array(params[name], ctx=ctx))
    del params
    # Loss of the first batch before training (no autograd.record: dropout off).
    first = epoch_orders(len(train), 1, seed)[0][:settings['batch_size']]
    t, s, v, y = nli_batch(train, first)
    logits = net(mx.nd.array(t, ctx=ctx), mx.nd.array(s, ctx=ctx), mx.nd.array(v, ctx=ctx))
    initial = float(gluon.loss.SoftmaxCrossEntropyLoss()(logits, mx.nd.array(y, ctx=ctx))
                    .mean().asscalar())
    rss_before = max_rss_mib()
    clock = CPUClock()
    summary = finetune_gluon(net, train, [ctx], settings['batch_size'], settings['lr'],
                             num_epochs=settings['num_epochs'], seed=seed, test_set=test,
                             hybridize=settings['hybridize'],
                             on_epoch_end=_epoch_logger('gluon'))
    _, cpu = clock.lap()
    extra = dict(threads_env={k: os.environ.get(k) for k in
                              ('OMP_NUM_THREADS', 'MXNET_OMP_MAX_THREADS')},
                 other_framework_loaded='torch' in sys.modules,
                 padding='per batch, x%d' % PAD_MULTIPLE)
    return _summary(summary['records'], initial, rss_before, clock, cpu,
                    loaded_versions(('mxnet', 'numpy')), extra)


def torch_worker(folder):
    """Fine-tune the PyTorch twin with `torch_train.finetune` on the CPU; the result dict."""
    from gluon_bert.compare import torch_twin, torch_train
    settings, config, params, train, test = _load_job(folder)
    seed, batch_size, pad = settings['seed'], settings['batch_size'], settings['torch_pad']
    np.random.seed(seed)
    model = torch_twin.BERTClassifier(torch_twin.BERTModel(config),
                                      head=config.classifier_head,
                                      num_classes=config.num_classes)
    torch_twin.load_gluon_arrays(model, params)
    del params
    orders = epoch_orders(len(train), settings['num_epochs'], seed)
    initial = torch_train.nli_loss(model, batch_arrays(train, orders[0][:batch_size], pad))
    rss_before = max_rss_mib()

    def train_batches(epoch):
        for idx in batches_of(orders[epoch], batch_size):
            yield batch_arrays(train, idx, pad)

    def test_batches():
        for idx in batches_of(np.arange(len(test)), EVAL_BATCH_SIZE):
            yield batch_arrays(test, idx, pad)

    clock = CPUClock()
    records = torch_train.finetune(model, train_batches, test_batches, settings['num_epochs'],
                                   settings['lr'], settings['threads'], seed,
                                   _epoch_logger('torch'))
    _, cpu = clock.lap()
    extra = dict(threads_env={'torch threads': settings['threads'],
                              'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS')},
                 other_framework_loaded='mxnet' in sys.modules,
                 padding='to max_len' if pad == 'max_len' else 'per batch, x%d' % PAD_MULTIPLE)
    return _summary(records, initial, rss_before, clock, cpu,
                    loaded_versions(('torch', 'numpy')), extra)


def run_worker(framework, folder):
    """Train `framework` on the job in `folder`; write and return its result."""
    if framework not in FRAMEWORKS:
        raise ValueError('framework must be one of %s, not %r' % (', '.join(FRAMEWORKS),
                                                                   framework))
    result = (gluon_worker if framework == 'gluon' else torch_worker)(folder)
    result['framework'] = framework
    write_json_atomic(os.path.join(folder, 'result-%s.json' % framework), result)
    return result


def launch_worker(framework, folder, threads, timeout=None):
    """Run `run_worker(framework, folder)` in a fresh Python process with
    `threads` threads (PyTorch's without MXNet); returns its result."""
    result_path = os.path.join(folder, 'result-%s.json' % framework)
    if os.path.exists(result_path):
        os.remove(result_path)
    status = run_job('gluon_bert.compare.harness', 'run_worker', [framework, folder], threads,
                     light=framework == 'torch', timeout=timeout)
    if status != 0:
        raise RuntimeError('the %s worker failed (exit status %d)' % (NAMES[framework], status))
    with open(result_path) as f:
        return json.load(f)


def run_comparison(pretrained, train_raw, test_raw, frameworks=FRAMEWORKS, workdir=None,
                   keep_workdir=False, **settings):
    """Prepare the job and run each framework in its own process; returns the
    report `{'settings': ..., 'results': {framework: result}}`."""
    for fw in frameworks:
        if fw not in FRAMEWORKS:
            raise ValueError('unknown framework %r; choose from %s' % (fw, ', '.join(FRAMEWORKS)))
    folder = workdir or tempfile.mkdtemp(prefix='compare-')
    try:
        job = prepare_job(folder, pretrained, train_raw, test_raw, **settings)
        print('%d training and %d test examples, %d parameters; %d threads'
              % (job['num_train_examples'], job['num_test_examples'], job['num_parameters'],
                 job['threads']), file=sys.stderr, flush=True)
        results = {}
        for fw in frameworks:
            results[fw] = launch_worker(fw, folder, job['threads'])
        return dict(settings=job, results=results)
    finally:
        if not keep_workdir and workdir is None:
            import shutil
            shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------------
# Report

_ROWS = [
    ('initial loss (1st batch)', 'initial_loss', '%.5f'),
    ('final train loss', 'train_loss', '%.4f'),
    ('final train accuracy', 'train_acc', '%.4f'),
    ('test accuracy', 'test_acc', '%.4f'),
    ('examples/sec (training)', 'examples_per_sec', '%.1f'),
    ('training seconds (wall)', 'train_seconds', '%.1f'),
    ('CPU seconds (train + eval)', 'cpu_seconds', '%.1f'),
    ('load average at start', 'load_average', '%.2f'),
    ('RSS before training (MiB)', 'rss_before_training_mib', '%.0f'),
    ('peak RSS (MiB)', 'peak_rss_mib', '%.0f'),
    ('batch padding', 'padding', '%s'),
]


def format_table(report):
    """The settings and one row per measure, one column per framework."""
    s, results = report['settings'], report['results']
    c = s['config']
    lines = [
        'data: %s, %d train / %d test examples (mean train length %.1f tokens)'
        % (s['dataset'] or '-', s['num_train_examples'], s['num_test_examples'],
           s['mean_train_valid_len']),
        'model: %s; %d blocks, %d hidden, %d FFN, %d heads, vocabulary %d, %d parameters'
        % (s['model'], c['num_blks'], c['num_hiddens'], c['ffn_num_hiddens'],
           c['num_heads'], c['vocab_size'], s['num_parameters']),
        'recipe: Adam lr %g, batch %d, %d epoch(s), max_len %d, dropout %g, seed %d, '
        '%d thread(s)' % (s['lr'], s['batch_size'], s['num_epochs'], s['max_len'],
                          s['dropout'], s['seed'], s['threads']),
        '',
    ]
    fws = [fw for fw in FRAMEWORKS if fw in results]
    cells = [[('n/a' if results[fw].get(key) is None else fmt % results[fw][key])
              for fw in fws] for _, key, fmt in _ROWS]
    width = max(len(r[0]) for r in _ROWS)
    cols = [max(12, len(NAMES[fw]), *(len(row[i]) for row in cells)) + 2
            for i, fw in enumerate(fws)]
    header = ' ' * width + ''.join(NAMES[fw].rjust(w) for fw, w in zip(fws, cols))
    lines += [header, '-' * len(header)]
    for (label, _, _), row in zip(_ROWS, cells):
        lines.append(label.ljust(width) + ''.join(c.rjust(w) for c, w in zip(row, cols)))
    versions = ', '.join('%s %s' % (k, v) for fw in fws
                         for k, v in sorted(results[fw]['versions'].items()) if k != 'numpy')
    lines.append('(%s)' % versions)
    return '\n'.join(lines)
