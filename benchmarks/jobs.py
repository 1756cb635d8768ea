"""The benchmark's jobs: what `run.py` runs, in order, and the kinds of job.

A job is (name, kind, threads, options of its spec); `run.KINDS` maps each kind
to the function that runs it in the job's process.
"""
from benchmarks.workers import FT_BUCKETS

__all__ = ['JOBS', 'FT_KINDS', 'PT_KINDS', 'D2L_KINDS', 'CHAPTER_PRETRAIN', 'BULK_OFF',
           'PT_BUCKETS', 'twin_2threads']

PT_BUCKETS = FT_BUCKETS

FT_KINDS, PT_KINDS = ('ft_d2l', 'ft_gluon', 'ft_torch'), ('pt_d2l', 'pt_gluon')
# The jobs that run the chapter's code (d2l 0.12.0).
D2L_KINDS = ('ft_d2l', 'pt_d2l', 'snli_d2l', 'wiki_d2l')
# The chapter's pretraining configuration (scripts/pretrain.py's defaults).
CHAPTER_PRETRAIN = dict(batch_size=256, max_len=128, preset='d2l.pretrain')
# Bulk execution off, so the profiler times each operator on its own rather
# than fused segments of several.
BULK_OFF = dict(env={'MXNET_EXEC_BULK_EXEC_TRAIN': '0', 'MXNET_EXEC_BULK_EXEC_INFERENCE': '0'})


def _on_threads(threads, jobs, suffix=None):
    """The (name, kind, options) rows `jobs` as JOBS rows on `threads` threads, their
    names ending in `suffix` (default: `_t2` on 2 threads, nothing on 1)."""
    suffix = ('_t2' if threads == 2 else '') if suffix is None else suffix
    return [(name + suffix, kind, threads, options) for name, kind, options in jobs]


FT_MXNET = [('ft_d2l_mxnet', 'ft_d2l', {}),
            ('ft_gluon_bucket0', 'ft_gluon', dict(bucket=0)),
            ('ft_gluon_bucket10', 'ft_gluon', dict(bucket=FT_BUCKETS))]
# Data parallel over two CPU contexts (`--ctx cpu(0),cpu(1)`): MXNet's engine runs
# each context's operators on its own worker thread, so the two halves of a
# batch run at once, each operator on one OpenMP thread.
FT_DP = [('ft_gluon_bucket0_dp2', 'ft_gluon', dict(bucket=0, devices=2)),
         ('ft_gluon_bucket10_dp2', 'ft_gluon', dict(bucket=FT_BUCKETS, devices=2))]
FT_TORCH = [('ft_torch_padded', 'ft_torch', dict(pad='max_len')),
            ('ft_torch_dynamic', 'ft_torch', dict(pad='batch')),
            ('ft_torch_bucket10', 'ft_torch', dict(pad='bucket'))]
PT_MXNET = [('pt_d2l_mxnet', 'pt_d2l', {}),
            ('pt_gluon_bucket0', 'pt_gluon', dict(bucket=0)),
            ('pt_gluon_bucket10', 'pt_gluon', dict(bucket=PT_BUCKETS)),
            ('pt_chapter_d2l_mxnet', 'pt_d2l', CHAPTER_PRETRAIN),
            ('pt_chapter_gluon', 'pt_gluon', dict(CHAPTER_PRETRAIN, bucket=0))]
PREP = [('snli_gluon', 'snli_gluon', {}), ('snli_d2l', 'snli_d2l', {}),
        ('wiki_gluon', 'wiki_gluon', {}), ('wiki_d2l', 'wiki_d2l', {})]
PROFILES = [('prof_gluon', 'prof_gluon', dict(BULK_OFF, bucket=0)),
            ('prof_gluon_bucket10', 'prof_gluon', dict(BULK_OFF, bucket=FT_BUCKETS)),
            ('prof_torch', 'prof_torch', dict(pad='batch')),
            ('prof_pt_gluon', 'prof_pt_gluon', dict(BULK_OFF, bucket=PT_BUCKETS))]

# In the order they run: (name, kind, threads, options of the job's spec).
# `threads` sets OMP_NUM_THREADS (and MXNET_OMP_MAX_THREADS, OPENBLAS_NUM_THREADS,
# MKL_NUM_THREADS, torch.set_num_threads); the option `env`: more variables.
# Both cores: MXNet's operators use OMP_NUM_THREADS threads when it is set
# (unset, MXNet 1.9.1 takes one thread on this 2-vCPU machine).
JOBS = (_on_threads(1, FT_MXNET) + _on_threads(1, FT_TORCH, '_t1')
        + _on_threads(2, FT_TORCH) + _on_threads(1, PT_MXNET)
        + _on_threads(2, FT_MXNET + PT_MXNET) + _on_threads(1, FT_DP, '')
        + _on_threads(1, PREP)
        + _on_threads(1, PROFILES) + _on_threads(2, PROFILES)
        + [('sgemm_mxnet', 'sgemm', 1, dict(lib='mxnet')),
           ('sgemm_mxnet_t2', 'sgemm', 2, dict(lib='mxnet'))]
        + [('sgemm_%s_t%d' % (lib, t), 'sgemm', t, dict(lib=lib))
           for t in (1, 2) for lib in ('numpy', 'torch')])


def twin_2threads(job):
    """The name of the 2-thread twin of the 1-thread job `job` (`_t1` becomes
    `_t2`, or `_t2` is added)."""
    return job[:-len('_t1')] + '_t2' if job.endswith('_t1') else job + '_t2'
