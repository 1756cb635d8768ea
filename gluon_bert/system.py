"""What this machine offers: the CPUs this process may use, the OpenBLAS kernels
its instruction set can run, and the devices of a `--ctx` string.  Imports no
MXNet at module level: `gluon_bert/__init__.py` uses `usable_cpus` and
`openblas_coretype` before MXNet is imported."""
import ctypes
import os
import sys

__all__ = ['usable_cpus', 'cpu_flags', 'openblas_coretype', 'openblas_core', 'parse_contexts']


def usable_cpus():
    """The number of CPUs this process may run on (its affinity where the OS
    reports one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cpu_flags(cpuinfo='/proc/cpuinfo'):
    """The instruction-set flags of the first processor in `cpuinfo` (a set;
    empty where the file is missing, as on macOS and Windows)."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith('flags'):
                    return set(line.split(':', 1)[1].split())
    except OSError:
        pass
    return set()


def openblas_coretype(flags):
    """The `OPENBLAS_CORETYPE` for a CPU with the instruction-set `flags`:
    'Haswell' (the AVX2 + FMA kernels) when it has both, else None (let OpenBLAS
    choose).

    MXNet's CPU wheel bundles an OpenBLAS (0.3.13, `DYNAMIC_ARCH`) that picks its
    kernels from the CPU's family and model, and on a processor it does not know
    (a recent Xeon reporting itself as "Intel(R) Xeon(R) Processor" in a VM) falls
    back to 'Prescott', SSE3 kernels.  MXNet's `batch_dot`, the attention
    products, runs on OpenBLAS: with the Prescott kernels at about half its rate
    with the Haswell ones on such a machine (BENCHMARKS.md).  The wheel's
    OpenBLAS has no kernels beyond Haswell's (asking it for 'SkylakeX' gives
    'Haswell'), so on any CPU with AVX2 and FMA 'Haswell' is its best choice."""
    return 'Haswell' if {'avx2', 'fma'} <= set(flags) else None


def openblas_core():
    """The kernel family the OpenBLAS bundled with the imported MXNet runs
    ('Haswell', 'Prescott', ...), or None when MXNet is not imported or has no
    such library beside it."""
    mx = sys.modules.get('mxnet')
    if mx is None:
        return None
    path = os.path.join(os.path.dirname(mx.__file__), 'libopenblas.so.0')
    try:
        lib = ctypes.CDLL(path)
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return None


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
