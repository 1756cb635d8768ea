"""The benchmark's kernel-level measurements: sgemm rates (MXNet, numpy,
PyTorch), a few operator micro-benchmarks, and the operator profiles of
`mxnet.profiler` (aggregate stats) and `torch.profiler` summarised by operator
group.  Frameworks are imported only inside the functions."""
import json
import os
import time

# sgemm shapes: (name, M, K, N) for C(M,N) = A(M,K) B(K,N); M = 128 pairs x 32 tokens.
_GEMM_SHAPES = [('4096x256 . 256x256 (W_q/k/v/o)', 4096, 256, 256),
                ('4096x256 . 256x512 (ffn dense1)', 4096, 256, 512),
                ('4096x512 . 512x256 (ffn dense2)', 4096, 512, 256),
                ('1024x1024 . 1024x1024', 1024, 1024, 1024)]
# batched: (name, batch, M, K, N): attention scores and weighted values, 128 x 4 heads.
_BMM_SHAPES = [('512 x (32x64 . 64x32) (scores)', 512, 32, 64, 32),
               ('512 x (32x32 . 32x64) (weights . values)', 512, 32, 32, 64),
               ('512 x (64x64 . 64x64) (fine-tuning, 4 heads, length 64)', 512, 64, 64, 64)]
# Operator micro-benchmarks (milliseconds per call): LayerNorm over the
# activations of a per-batch padded fine-tuning batch (128 x 56 tokens x 256),
# and the MaskLM softmax cross-entropy of a pretraining batch (896 rows x vocab).
_LN_SHAPE = (128, 56, 256)
_CE_SHAPE = (896, 20256)


def _repeat(fn, seconds, sync, min_reps=1):
    """(calls, seconds) of calling `fn` (then `sync`) for at least `seconds` and
    `min_reps` calls, after one untimed call."""
    fn()
    sync()
    reps, t = 0, 0.0
    t0 = time.perf_counter()
    while t < seconds or reps < min_reps:
        fn()
        sync()
        reps += 1
        t = time.perf_counter() - t0
    return reps, t


def _rate(fn, flops, seconds, sync=lambda: None):
    reps, t = _repeat(fn, seconds, sync)
    return round(flops * reps / t / 1e9, 1)


def _ms(fn, seconds, sync=lambda: None):
    reps, t = _repeat(fn, seconds, sync, min_reps=3)
    return round(1000.0 * t / reps, 2)


def sgemm(spec):
    """GFLOPS of float32 matrix products in one framework (`spec['lib']`: mxnet,
    numpy or torch), and the operator micro-benchmarks of MXNet and PyTorch."""
    import numpy as np
    lib, seconds, threads = spec['lib'], spec['sgemm_seconds'], spec.get('threads')
    rng = np.random.RandomState(0)
    out = {'lib': lib, 'threads': threads}
    sync = lambda: None  # noqa: E731
    if lib == 'mxnet':
        import mxnet as mx
        nd, array, sync = mx.nd, mx.nd.array, mx.nd.waitall
        gemms = {'FullyConnected': lambda a, w, b, n: nd.FullyConnected(
                     a, w, no_bias=True, num_hidden=n, flatten=False),
                 'nd.dot': lambda a, w, b, n: nd.dot(a, b)}
        bmm = ('batch_dot', nd.batch_dot)
        out['omp_threads_env'] = os.environ.get('OMP_NUM_THREADS')
    elif lib == 'numpy':
        array = np.asarray
        gemms = {'np.dot': lambda a, w, b, n: np.dot(a, b)}
        bmm = ('np.matmul', np.matmul)
        try:
            from threadpoolctl import threadpool_info
            out['blas'] = [dict(internal_api=i.get('internal_api'),
                                num_threads=i.get('num_threads'))
                           for i in threadpool_info() if i.get('user_api') == 'blas']
        except ImportError:
            pass
    else:
        import torch
        torch.set_num_threads(threads)
        out['torch_get_num_threads'] = torch.get_num_threads()
        array = torch.from_numpy
        gemms = {'F.linear': lambda a, w, b, n: torch.nn.functional.linear(a, w)}
        bmm = ('torch.bmm', torch.bmm)
    g = out['gflops'] = {}
    for name, M, K, N in _GEMM_SHAPES:
        a, w, b = (array(rng.rand(*s).astype('f')) for s in ((M, K), (N, K), (K, N)))
        for op, fn in gemms.items():
            g['%s %s' % (op, name)] = _rate(lambda: fn(a, w, b, N), 2 * M * K * N, seconds,
                                            sync)
    for name, Bt, M, K, N in _BMM_SHAPES:
        a, b = array(rng.rand(Bt, M, K).astype('f')), array(rng.rand(Bt, K, N).astype('f'))
        g['%s %s' % (bmm[0], name)] = _rate(lambda: bmm[1](a, b), 2 * Bt * M * K * N,
                                            seconds, sync)
    if lib == 'mxnet':
        out['ops_ms'] = _mxnet_op_times(rng, seconds)
    elif lib == 'torch':
        out['ops_ms'] = _torch_op_times(rng, seconds)
    return out


def _mxnet_op_times(rng, seconds):
    from mxnet import autograd, gluon, nd
    from mxnet.gluon import nn
    from gluon_bert.model.bert import LayerNorm
    H = _LN_SHAPE[-1]
    x = nd.array(rng.randn(*_LN_SHAPE).astype('f'))
    dy = nd.array(rng.randn(*_LN_SHAPE).astype('f'))
    out = {}
    for name, blk in (('nn.LayerNorm', nn.LayerNorm(in_channels=H)),
                      ('LayerNorm as matrix products', LayerNorm(H, impl='matmul'))):
        blk.initialize()
        blk.hybridize(static_alloc=True, static_shape=True)
        x.attach_grad()

        def fwd_bwd():
            with autograd.record():
                y = blk(x)
            y.backward(dy)
        out['%s fwd %s' % (name, _LN_SHAPE)] = _ms(lambda: blk(x), seconds, nd.waitall)
        out['%s fwd+bwd %s' % (name, _LN_SHAPE)] = _ms(fwd_bwd, seconds, nd.waitall)
    flat = x.reshape((-1, H))
    w = nd.ones((1, H))
    out['nd.sum over the last axis (%d x %d)' % flat.shape] = _ms(
        lambda: nd.sum(flat, axis=-1), seconds, nd.waitall)
    out['the same sum as FullyConnected with ones'] = _ms(
        lambda: nd.FullyConnected(flat, w, no_bias=True, num_hidden=1), seconds, nd.waitall)
    logits = nd.array(rng.randn(*_CE_SHAPE).astype('f'))
    labels = nd.array(rng.randint(0, _CE_SHAPE[1], _CE_SHAPE[0]).astype('f'))
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    logits.attach_grad()

    def ce():
        with autograd.record():
            l = loss(logits, labels).sum()
        l.backward()
    out['SoftmaxCrossEntropyLoss fwd+bwd %s' % (_CE_SHAPE,)] = _ms(ce, seconds, nd.waitall)
    return out


def _torch_op_times(rng, seconds):
    import torch
    H = _LN_SHAPE[-1]
    x = torch.from_numpy(rng.randn(*_LN_SHAPE).astype('f')).requires_grad_()
    dy = torch.from_numpy(rng.randn(*_LN_SHAPE).astype('f'))
    ln = torch.nn.LayerNorm(H)
    out = {}
    with torch.no_grad():
        out['nn.LayerNorm fwd %s' % (_LN_SHAPE,)] = _ms(lambda: ln(x), seconds)
    out['nn.LayerNorm fwd+bwd %s' % (_LN_SHAPE,)] = _ms(lambda: ln(x).backward(dy), seconds)
    flat = x.detach().reshape(-1, H)
    out['sum over the last axis (%d x %d)' % tuple(flat.shape)] = _ms(
        lambda: flat.sum(-1), seconds)
    logits = torch.from_numpy(rng.randn(*_CE_SHAPE).astype('f')).requires_grad_()
    labels = torch.from_numpy(rng.randint(0, _CE_SHAPE[1], _CE_SHAPE[0]))
    out['cross_entropy fwd+bwd %s' % (_CE_SHAPE,)] = _ms(
        lambda: torch.nn.functional.cross_entropy(logits, labels, reduction='sum').backward(),
        seconds)
    return out


# ---------------------------------------------------------------------------
# Operator profiles


def start_mxnet_profiler(path):
    """Start `mxnet.profiler` (aggregate stats, symbolic and imperative operators)."""
    import mxnet as mx
    mx.nd.waitall()
    mx.profiler.set_config(profile_symbolic=True, profile_imperative=True,
                           profile_memory=False, profile_api=False, aggregate_stats=True,
                           filename=path)
    mx.profiler.set_state('run')


def stop_mxnet_profiler(wall_seconds):
    """Stop the profiler; its operators by total time (`profile_summary`)."""
    import mxnet as mx
    mx.nd.waitall()
    mx.profiler.set_state('stop')
    stats = json.loads(mx.profiler.dumps(reset=True, format='json'))
    ops = {}
    for domain, entries in stats.get('Time', {}).items():
        for name, s in entries.items():
            op = ops.setdefault(name, dict(ms=0.0, count=0, domain=domain))
            op['ms'] += float(s.get('Total', 0.0))
            op['count'] += int(s.get('Count', 0))
    total_ms = sum(o['ms'] for o in ops.values())
    top = [dict(name=k, ms=v['ms'], count=v['count']) for k, v in ops.items()]
    summary = profile_summary(top, total_ms, wall_seconds)
    summary['operator_share_of_wall'] = (total_ms / 1000.0 / wall_seconds
                                         if wall_seconds else None)
    return summary


def torch_profile(profiler, wall_seconds):
    """The operators of a stopped `torch.profiler.profile` by self CPU time."""
    events = profiler.key_averages()
    return profile_summary([dict(name=e.key, ms=e.self_cpu_time_total / 1000.0, count=e.count)
                            for e in events],
                           sum(e.self_cpu_time_total for e in events) / 1000.0, wall_seconds)


_OP_GROUPS = [
    ('attention batch_dot/bmm', ('batch_dot', 'bmm')),
    ('dense (FullyConnected/linear/mm/addmm/dot)', ('fullyconnected', 'linear', 'addmm',
                                                    'aten::mm', 'matmul', 'dot')),
    ('softmax', ('softmax',)),
    ('layer norm', ('layernorm', 'layer_norm')),
    ('embedding / take', ('embedding', 'take', 'index_select')),
    ('optimizer (adam)', ('adam',)),
    ('dropout', ('dropout', 'bernoulli')),
    ('transpose / reshape / copy', ('transpose', 'permute', 'reshape', 'copy', 'contiguous',
                                    'clone', 'view')),
]


def profile_summary(ops, total_ms, wall_seconds):
    """The 20 longest of `ops` ([{name, ms, count}]) and the time of each group."""
    groups = {g: 0.0 for g, _ in _OP_GROUPS}
    groups['other'] = 0.0
    for op in ops:
        low = op['name'].lower()
        group = next((g for g, keys in _OP_GROUPS if any(k in low for k in keys)), 'other')
        groups[group] += op['ms']
    top = sorted(ops, key=lambda o: -o['ms'])[:20]
    return dict(wall_seconds=wall_seconds, operator_ms_total=total_ms,
                top=[dict(name=o['name'], ms=round(o['ms'], 1), count=o['count'],
                          share=round(o['ms'] / total_ms, 4) if total_ms else None)
                     for o in top],
                groups={g: dict(ms=round(v, 1), share=round(v / total_ms, 4) if total_ms
                                else None) for g, v in groups.items()})
