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

# In the order they run: (name, kind, threads, options of the job's spec).
# `threads` sets OMP_NUM_THREADS (and MXNET_OMP_MAX_THREADS, OPENBLAS_NUM_THREADS,
# MKL_NUM_THREADS, torch.set_num_threads); the option `env`: more variables.
JOBS = [
    ('ft_d2l_mxnet', 'ft_d2l', 1, {}),
    ('ft_gluon_bucket0', 'ft_gluon', 1, dict(bucket=0)),
    ('ft_gluon_bucket10', 'ft_gluon', 1, dict(bucket=FT_BUCKETS)),
    ('ft_torch_padded_t1', 'ft_torch', 1, dict(pad='max_len')),
    ('ft_torch_dynamic_t1', 'ft_torch', 1, dict(pad='batch')),
    ('ft_torch_bucket10_t1', 'ft_torch', 1, dict(pad='bucket')),
    ('ft_torch_padded_t2', 'ft_torch', 2, dict(pad='max_len')),
    ('ft_torch_dynamic_t2', 'ft_torch', 2, dict(pad='batch')),
    ('ft_torch_bucket10_t2', 'ft_torch', 2, dict(pad='bucket')),
    ('pt_d2l_mxnet', 'pt_d2l', 1, {}),
    ('pt_gluon_bucket0', 'pt_gluon', 1, dict(bucket=0)),
    ('pt_gluon_bucket10', 'pt_gluon', 1, dict(bucket=PT_BUCKETS)),
    ('pt_chapter_d2l_mxnet', 'pt_d2l', 1, CHAPTER_PRETRAIN),
    ('pt_chapter_gluon', 'pt_gluon', 1, dict(CHAPTER_PRETRAIN, bucket=0)),
    # Both cores: MXNet's operators use OMP_NUM_THREADS threads when it is set
    # (unset, MXNet 1.9.1 takes one thread on this 2-vCPU machine).
    ('ft_d2l_mxnet_t2', 'ft_d2l', 2, {}),
    ('ft_gluon_bucket0_t2', 'ft_gluon', 2, dict(bucket=0)),
    ('ft_gluon_bucket10_t2', 'ft_gluon', 2, dict(bucket=FT_BUCKETS)),
    ('pt_d2l_mxnet_t2', 'pt_d2l', 2, {}),
    ('pt_gluon_bucket0_t2', 'pt_gluon', 2, dict(bucket=0)),
    ('pt_gluon_bucket10_t2', 'pt_gluon', 2, dict(bucket=PT_BUCKETS)),
    ('pt_chapter_d2l_mxnet_t2', 'pt_d2l', 2, CHAPTER_PRETRAIN),
    ('pt_chapter_gluon_t2', 'pt_gluon', 2, dict(CHAPTER_PRETRAIN, bucket=0)),
    ('snli_gluon', 'snli_gluon', 1, {}),
    ('snli_d2l', 'snli_d2l', 1, {}),
    ('wiki_gluon', 'wiki_gluon', 1, {}),
    ('wiki_d2l', 'wiki_d2l', 1, {}),
    ('prof_gluon', 'prof_gluon', 1, dict(BULK_OFF, bucket=0)),
    ('prof_torch', 'prof_torch', 1, dict(pad='batch')),
    ('prof_pt_gluon', 'prof_pt_gluon', 1, dict(BULK_OFF, bucket=PT_BUCKETS)),
    ('prof_gluon_t2', 'prof_gluon', 2, dict(BULK_OFF, bucket=0)),
    ('prof_torch_t2', 'prof_torch', 2, dict(pad='batch')),
    ('prof_pt_gluon_t2', 'prof_pt_gluon', 2, dict(BULK_OFF, bucket=PT_BUCKETS)),
    ('sgemm_mxnet', 'sgemm', 1, dict(lib='mxnet')),
    ('sgemm_mxnet_t2', 'sgemm', 2, dict(lib='mxnet')),
    ('sgemm_numpy_t1', 'sgemm', 1, dict(lib='numpy')),
    ('sgemm_torch_t1', 'sgemm', 1, dict(lib='torch')),
    ('sgemm_numpy_t2', 'sgemm', 2, dict(lib='numpy')),
    ('sgemm_torch_t2', 'sgemm', 2, dict(lib='torch')),
]


def twin_2threads(job):
    """The name of the 2-thread twin of the 1-thread job `job` (`_t1` becomes
    `_t2`, or `_t2` is added)."""
    return job[:-len('_t1')] + '_t2' if job.endswith('_t1') else job + '_t2'
