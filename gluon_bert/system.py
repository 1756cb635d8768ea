"""What this machine offers: the CPUs this process may use, and the devices of a
`--ctx` string.  Imports no MXNet at module level: `gluon_bert/__init__.py` uses
`usable_cpus` before MXNet is imported."""
import os

__all__ = ['usable_cpus', 'parse_contexts']


def usable_cpus():
    """The number of CPUs this process may run on (its affinity where the OS
    reports one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def parse_contexts(spec):
    """`'cpu'`, `'cpu:0,cpu:1'`, `'gpu:0,1'`, `'gpu'` -> a list of mx.Context
    (a list or tuple is returned as a list)."""
    import mxnet as mx
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
            idx = None
        if kind not in ('cpu', 'gpu') or idx is None or not idx.isdigit():
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
