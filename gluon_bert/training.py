"""Pieces shared by pretraining and fine-tuning: devices, batches split across
devices, metrics files, curves, and the output folder."""
import json
import math
import os
import time

import numpy as np
import mxnet as mx
from mxnet import gluon

__all__ = ['parse_contexts', 'split_and_load', 'prepare_net', 'iterate_batches',
           'length_buckets',
           'padded_length',
           'MetricsLog', 'plot_curves', 'prepare_output_dir', 'Timer', 'progress_bar']


def parse_contexts(spec):
    """`'cpu'`, `'cpu:0,cpu:1'`, `'gpu:0,1'`, `'gpu'` -> a list of mx.Context."""
    if isinstance(spec, (list, tuple)):
        return list(spec)
    ctxs, kind = [], None
    for part in str(spec).replace(' ', '').split(','):
        if not part:
            continue
        if ':' in part:
            kind, idx = part.split(':', 1)
        elif part in ('cpu', 'gpu'):
            kind, idx = part, '0'
        elif part.isdigit() and kind is not None:
            idx = part
        else:
            raise ValueError('bad device %r in %r; use e.g. cpu, cpu:0,cpu:1 or gpu:0,1'
                             % (part, spec))
        if kind not in ('cpu', 'gpu') or not idx.isdigit():
            raise ValueError('bad device %r in %r; use e.g. cpu, cpu:0,cpu:1 or gpu:0,1'
                             % (part, spec))
        ctx = mx.gpu(int(idx)) if kind == 'gpu' else mx.cpu(int(idx))
        if kind == 'gpu' and int(idx) >= mx.context.num_gpus():
            raise ValueError('%s requested but this machine has %d GPU(s)'
                             % (ctx, mx.context.num_gpus()))
        ctxs.append(ctx)
    if not ctxs:
        raise ValueError('no device in %r' % (spec,))
    return ctxs


def split_and_load(arrays, ctxs):
    """Split each host array along axis 0 over the devices with
    `gluon.utils.split_and_load`; a batch smaller than the number of devices uses
    only as many devices as it has examples, so no shard is ever empty.
    Returns one tuple of NDArrays per used device."""
    n = len(arrays[0])
    use = ctxs[:max(1, min(len(ctxs), n))]
    shards = [gluon.utils.split_and_load(a, use, even_split=False) for a in arrays]
    return list(zip(*shards))


def padded_length(max_valid, max_len, multiple=8):
    """Sequence length a batch is padded to: its longest example, rounded up to a
    multiple of `multiple` (few distinct shapes for the hybridized graph), at most
    `max_len`."""
    return int(min(max_len, multiple * math.ceil(max(1, max_valid) / multiple)))


def iterate_batches(num_examples, batch_size, shuffle, rng=None, sampler=None):
    """Index arrays of successive batches (the last one may be smaller)."""
    if sampler is not None:
        for idx in sampler:
            yield np.asarray(idx)
        return
    order = rng.permutation(num_examples) if shuffle else np.arange(num_examples)
    for start in range(0, num_examples, batch_size):
        yield order[start:start + batch_size]


def prepare_net(net, ctxs, hybridize=True, amp=False, grad_accum=1):
    """Ready `net` for a training loop on the devices `ctxs`: float16 mixed
    precision (`amp`), the LayerNorm kind for the devices, the static graph
    (`hybridize`) and gradient accumulation over `grad_accum` micro-batches."""
    from . import distributed as _dist
    from .model import select_layer_norm
    if amp:
        _dist.init_amp(ctxs)
    select_layer_norm(net, ctxs)
    if hybridize:
        net.hybridize(static_alloc=True, static_shape=True)
    _dist.enable_grad_accumulation(net.collect_params(), grad_accum)


def length_buckets(lengths, batch_size, num_buckets, seed=None, shuffle=True):
    """None (plain shuffled batches, as the chapter) or, when `num_buckets` > 0,
    GluonNLP's FixedBucketSampler over the example lengths: batches of similar
    length, each padded only to its own longest example.

    The sampler shuffles with numpy's global RNG (seeded here with `seed`, if
    given), and shuffles its buckets in place, so each pass depends on the
    previous one.  The training loops therefore build a fresh sampler for every
    pass: its order is then a function of the RNG state alone, which checkpoints
    carry, and a resumed run draws the same batches as an uninterrupted one."""
    if not num_buckets:
        return None
    import gluonnlp as nlp
    if seed is not None:
        np.random.seed(seed)
    return nlp.data.FixedBucketSampler([int(n) for n in lengths], batch_size,
                                       num_buckets=num_buckets, shuffle=shuffle, ratio=0)


class Timer:
    """Wall-clock timer that can be paused (evaluation is not training time)."""

    def __init__(self):
        self.total, self._start = 0.0, None

    def start(self):
        self._start = time.perf_counter()

    def stop(self):
        self.total += time.perf_counter() - self._start
        self._start = None
        return self.total


class MetricsLog:
    """Append-only JSON-lines metrics file (one object per line)."""

    def __init__(self, path, enabled=True):
        self.path, self.enabled, self.records = path, enabled, []
        if enabled:
            open(path, 'w').close()

    def write(self, **record):
        self.records.append(record)
        if self.enabled:
            with open(self.path, 'a') as f:
                f.write(json.dumps(record) + '\n')


def plot_curves(records, x, ys, path, title=''):
    """Plot the `ys` keys of `records` against `x` into a PNG (Agg backend)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for y in ys:
        pts = [(r[x], r[y]) for r in records if r.get(y) is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker='.', label=y)
    ax.set_xlabel(x)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = path + '.tmp.png'
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def prepare_output_dir(path, finished_marker, overwrite=False):
    """Create the output folder; refuse one that already holds a finished run
    (its `finished_marker` file exists) unless `overwrite`."""
    marker = os.path.join(path, finished_marker)
    if os.path.exists(marker) and not overwrite:
        raise FileExistsError('%s already holds a finished run (%s); choose another '
                              'output folder or pass --overwrite' % (path, marker))
    os.makedirs(path, exist_ok=True)
    return path


def progress_bar(total, enabled, desc):
    """A tqdm progress bar (a no-op when not `enabled`)."""
    from tqdm import tqdm
    return tqdm(total=total, disable=not enabled, desc=desc, dynamic_ncols=True, leave=False)
