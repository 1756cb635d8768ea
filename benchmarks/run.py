#!/usr/bin/env python
"""Speed and memory of gluon_bert against the chapter's code paths.

    python benchmarks/run.py --json FILE [--quick] [--snli PATH] [--wikitext DIR]

Measured on this machine, one job per subprocess (so each peak RSS,
`getrusage(RUSAGE_SELF).ru_maxrss`, is the job's own), the same model in every
job but the chapter-configuration pair: `bert.small` (2 blocks, 256 hidden, 4
heads, FFN 512, dropout 0.1) over the WikiText-2 word vocabulary (min_freq 5),
as after the chapter's pretraining.  The jobs are the table `JOBS` below.

The chapter's code is its revision of the d2l library, d2l 0.12.0 (`pip install
--no-deps d2l==0.12.0`, or into a folder of its own put on PYTHONPATH).

1. Fine-tuning examples/sec on real SNLI pairs (batch `--batch-size`):
   (a) the chapter's MXNet code path (`chapter.py`): d2l's `BERTModel`, the
       chapter's `BERTClassifier` (an `nn.Block`: `Dense(256, relu)` and
       `Dense(3)` on the `<cls>` encoding), inputs padded to 128 by the
       chapter's `SNLIBERTDataset` layout, its `gluon.data.DataLoader` (shuffle,
       `d2l.get_dataloader_workers()` workers), `d2l.train_batch_ch13` with
       `d2l.split_batch_multi_inputs`, Adam lr 1e-4;
   (b) gluon_bert's `finetune` as `jobs.run_finetuning` calls it (hybridized,
       the trainer of `optim.make_trainer`), with per-batch padding (`bucket=0`,
       the default) and with 10 length buckets (`--bucket 10`);
   (c) the PyTorch twin (`gluon_bert.compare.torch_twin`, trained by
       `torch_train.finetune`) padded to 128 as the chapter's PyTorch code, and
       (d) the twin on exactly the batches of (b), once with each setting.
   Every job sees the same training pairs.  The fixed-shape jobs (a, c) warm up on
   a few batches, gluon_bert and (d) on a first epoch; then one epoch is timed
   (wall clock, and the process's CPU seconds).  PyTorch runs with 1 thread for
   the headline ratios (MXNet 1.9.1's CPU operators run on one thread here) and
   with 2 threads as extra rows.
2. Pretraining pairs/sec on WikiText-2 examples (max_len 64): d2l's
   `_get_batch_loss_bert` + `trainer.step(1)` (Adam at lr 1e-3, as the chapter's
   `train_bert`) over batches padded to max_len with round(0.15 * max_len) MLM
   slots (as d2l's `_WikiTextDataset` pads), loaded by the chapter's DataLoader,
   vs gluon_bert's `pretrain`.  Both use the same examples (built by
   gluon_bert's `WikiTextDataset`; d2l's own build is timed in 3); gluon_bert
   with and without `--bucket 10`.  And the same pair in the chapter's
   pretraining configuration (`scripts/pretrain.py`'s defaults): batch 256,
   max_len 128, the `d2l.pretrain` preset, gluon_bert without buckets.
3. Seconds to build `SNLIBERTDataset` for 550,152 pairs (the SNLI dev file
   replicated, each string a distinct object) -- the chapter's class (reproduced
   in `chapter.py`: `multiprocessing.Pool(4)` mapping a bound method over the
   pairs) vs gluon_bert's -- and to read WikiText-2 and build its pretraining
   examples: d2l's `_read_wiki` + `_WikiTextDataset` vs gluon_bert's
   `read_wiki` + `WikiTextDataset`.
4. Peak resident memory of every job.

Also measured (`kernels.py`): sgemm rates (MXNet `FullyConnected` / `nd.dot` /
`batch_dot`, numpy, PyTorch at 1 and 2 threads), operator micro-benchmarks, and
operator profiles of one gluon_bert fine-tuning epoch (`mxnet.profiler`,
aggregate stats), of the twin's (`torch.profiler`) and of pretraining steps.

`--quick` runs fewer steps and builds the chapter's SNLI dataset for fewer pairs,
extrapolating linearly to 550,152 (the output says so).
"""
import argparse
import datetime
import functools
import os
import platform
import resource
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks import chapter, kernels, workers  # noqa: E402
from benchmarks.inputs import DEFAULT_SNLI, DEFAULT_WIKI_XZ, prepare_inputs  # noqa: E402
from benchmarks.workers import (SNLI_TRAIN_PAIRS, MAX_LEN, PRETRAIN_MAX_LEN,  # noqa: E402
                                PRESET, SEED, FT_BUCKETS, load_now, read_json)
from gluon_bert.fileio import write_json_atomic  # noqa: E402
from gluon_bert.compare.process import (THREAD_VARS, max_rss_mib, loaded_versions,  # noqa: E402
                                        run_job)

PT_BUCKETS = FT_BUCKETS

# Sizes: batch size, timed steps, warm-up steps, and the chapter's SNLI pairs.
SETTINGS = {
    'full': dict(batch_size=128, ft_steps=16, ft_warmup=2, pt_steps=16, pt_warmup=3,
                 snli_chapter_pairs=SNLI_TRAIN_PAIRS, profile_steps=6, sgemm_seconds=1.0),
    'quick': dict(batch_size=128, ft_steps=4, ft_warmup=1, pt_steps=4, pt_warmup=2,
                  snli_chapter_pairs=55016, profile_steps=3, sgemm_seconds=0.2),
}

# ---------------------------------------------------------------------------
# The jobs

# kind: (the job's function (job folder, spec) -> result, light: started without
# running gluon_bert's __init__, so that no MXNet is loaded unless the job imports it).
KINDS = {
    'prep': (workers.prep, False),
    'ft_d2l': (chapter.ft_d2l, True),
    'ft_gluon': (workers.ft_gluon, False),
    'ft_torch': (workers.ft_torch, True),
    'prof_gluon': (functools.partial(workers.ft_gluon, profile=True), False),
    'prof_torch': (functools.partial(workers.ft_torch, profile=True), True),
    'pt_d2l': (chapter.pt_d2l, True),
    'pt_gluon': (workers.pt_gluon, False),
    'prof_pt_gluon': (functools.partial(workers.pt_gluon, profile=True), False),
    'snli_d2l': (chapter.snli_d2l, False),
    'snli_gluon': (workers.snli_gluon, False),
    'wiki_d2l': (chapter.wiki_d2l, True),
    'wiki_gluon': (workers.wiki_gluon, False),
    'sgemm': (lambda job, spec: kernels.sgemm(spec), True),
}
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

TARGETS = dict(finetune_vs_d2l_mxnet=5.0, finetune_vs_pytorch_padded=3.0,
               finetune_vs_pytorch_dynamic=1.25, pretrain_vs_d2l_mxnet=3.0,
               snli_preprocess_seconds_550k=15.0)

# The report's rows: (job, label) per table.
FT_ROWS = [('ft_d2l_mxnet', "(a) chapter's MXNet code, padded to 128"),
           ('ft_gluon_bucket10', '(b) gluon_bert finetune, --bucket 10'),
           ('ft_gluon_bucket0', '(b) gluon_bert finetune, default (bucket 0)'),
           ('ft_torch_padded_t1', '(c) PyTorch twin, padded to 128, 1 thread'),
           ('ft_torch_bucket10_t1', '(d) PyTorch twin, (b) bucket=10 batches, 1 thr'),
           ('ft_torch_dynamic_t1', '(d) PyTorch twin, (b) bucket=0 batches, 1 thr'),
           ('ft_d2l_mxnet_t2', "(a) chapter's MXNet code, 2 threads"),
           ('ft_gluon_bucket10_t2', '(b) gluon_bert, --bucket 10, 2 threads'),
           ('ft_gluon_bucket0_t2', '(b) gluon_bert, default, 2 threads'),
           ('ft_torch_padded_t2', '(c) PyTorch twin, padded to 128, 2 threads'),
           ('ft_torch_bucket10_t2', '(d) PyTorch twin, bucket=10 batches, 2 thr'),
           ('ft_torch_dynamic_t2', '(d) PyTorch twin, bucket=0 batches, 2 thr')]
PT_ROWS = [('pt_d2l_mxnet', 'd2l _get_batch_loss_bert, padded to 64'),
           ('pt_gluon_bucket10', 'gluon_bert pretrain, --bucket 10'),
           ('pt_gluon_bucket0', 'gluon_bert pretrain, default (bucket 0)'),
           ('pt_d2l_mxnet_t2', 'd2l, 2 threads'),
           ('pt_gluon_bucket10_t2', 'gluon_bert, --bucket 10, 2 threads'),
           ('pt_gluon_bucket0_t2', 'gluon_bert, default, 2 threads'),
           ('pt_chapter_d2l_mxnet', 'chapter config: d2l, 256 x 128, d2l.pretrain'),
           ('pt_chapter_gluon', 'chapter config: gluon_bert, 256 x 128, bucket 0'),
           ('pt_chapter_d2l_mxnet_t2', 'chapter config: d2l, 2 threads'),
           ('pt_chapter_gluon_t2', 'chapter config: gluon_bert, 2 threads')]
PREP_ROWS = [('snli_d2l', "SNLIBERTDataset, chapter's code", 'pairs'),
             ('snli_gluon', 'SNLIBERTDataset, gluon_bert', 'pairs'),
             ('wiki_d2l', 'WikiText-2 examples, d2l', 'examples'),
             ('wiki_gluon', 'WikiText-2 examples, gluon_bert', 'examples')]
# The summary's speed-ups (examples or pairs per second), each row against a
# target: (label, target, (key, job, baseline job) of gluon_bert with --bucket 10
# (its fast setting) or None, the same of its default: shuffled batches as the
# chapter, padded per batch), on 1 thread; `on_two_threads` adds the same on 2.
# Against the PyTorch twin "same batches": both on the very same batches.
CHECKS = [
    ('fine-tuning vs chapter MXNet', 'finetune_vs_d2l_mxnet',
     ('finetune_speedup_vs_d2l_mxnet', 'ft_gluon_bucket10', 'ft_d2l_mxnet'),
     ('finetune_bucket0_speedup_vs_d2l_mxnet', 'ft_gluon_bucket0', 'ft_d2l_mxnet')),
    ('fine-tuning vs PyTorch padded', 'finetune_vs_pytorch_padded',
     ('finetune_speedup_vs_pytorch_padded', 'ft_gluon_bucket10', 'ft_torch_padded_t1'),
     ('finetune_bucket0_speedup_vs_pytorch_padded', 'ft_gluon_bucket0', 'ft_torch_padded_t1')),
    ('fine-tuning vs PyTorch, same batches', 'finetune_vs_pytorch_dynamic',
     ('finetune_speedup_vs_pytorch_dynamic', 'ft_gluon_bucket10', 'ft_torch_bucket10_t1'),
     ('finetune_bucket0_speedup_vs_pytorch_dynamic', 'ft_gluon_bucket0', 'ft_torch_dynamic_t1')),
    ('pretraining vs chapter MXNet', 'pretrain_vs_d2l_mxnet',
     ('pretrain_speedup_vs_d2l_mxnet', 'pt_gluon_bucket10', 'pt_d2l_mxnet'),
     ('pretrain_bucket0_speedup_vs_d2l_mxnet', 'pt_gluon_bucket0', 'pt_d2l_mxnet')),
    ('pretraining, chapter config', 'pretrain_vs_d2l_mxnet', None,
     ('pretrain_chapter_config_speedup_vs_d2l_mxnet', 'pt_chapter_gluon', 'pt_chapter_d2l_mxnet')),
]


def on_two_threads(check):
    """The row of CHECKS `check` on 2 threads: its keys with `_2threads`, its
    jobs' 2-thread twins (`_t2` instead of `_t1`, or added)."""
    def twin(job):
        return job[:-len('_t1')] + '_t2' if job.endswith('_t1') else job + '_t2'

    label, target, *pairs = check
    return ('2 threads: ' + label, target) + tuple(
        pair and (pair[0] + '_2threads', twin(pair[1]), twin(pair[2])) for pair in pairs)


CHECKS = [('1 thread: ' + label, *rest) for label, *rest in CHECKS] + [
    on_two_threads(check) for check in CHECKS]
# {key: (job, baseline job)} of every speed-up of CHECKS.
RATIOS = {key: (job, base) for _, _, *pair in CHECKS for key, job, base in filter(None, pair)}
# The MXNet training jobs, whose matrix-product rate is also given as a share of
# MXNet's FullyConnected rate measured in the same run at the same thread count
# (`<job>_roofline_pct`; the sgemm job of that thread count must have run).
ROOFLINE_KINDS = ('ft_d2l', 'ft_gluon', 'pt_d2l', 'pt_gluon')


def fully_connected_gflops(sgemm_job):
    """The median FullyConnected rate of an MXNet sgemm job, or None."""
    rates = sorted(v for k, v in ((sgemm_job or {}).get('gflops') or {}).items()
                   if k.startswith('FullyConnected'))
    return rates[len(rates) // 2] if rates else None


def roofline_pct(R):
    """{'<job>_roofline_pct': 100 * the job's matrix-product GFLOPS / the
    FullyConnected GFLOPS at its thread count} for the MXNet training jobs run."""
    peak = {1: fully_connected_gflops(R.get('sgemm_mxnet')),
            2: fully_connected_gflops(R.get('sgemm_mxnet_t2'))}
    out = {}
    for name, kind, threads, _ in JOBS:
        r = R.get(name)
        if kind in ROOFLINE_KINDS and r and peak.get(threads):
            out[name + '_roofline_pct'] = round(100.0 * r['matmul_gflops_achieved']
                                                / peak[threads], 1)
    return out

# ---------------------------------------------------------------------------
# A job's process


def worker_main(name, job, spec_path):
    """Run the job `spec_path` describes and write its result (with what every
    job reports: peak RSS, versions, thread variables)."""
    spec = read_json(spec_path)
    t0 = time.perf_counter()
    result = KINDS[spec['kind']][0](job, spec)
    result.update(name=name, kind=spec['kind'], peak_rss_mib=round(max_rss_mib(), 1),
                  job_seconds=time.perf_counter() - t0,
                  versions=loaded_versions(('numpy', 'mxnet', 'torch', 'gluonnlp', 'd2l'),
                                           python=True),
                  env_threads={k: os.environ.get(k) for k in THREAD_VARS},
                  mxnet_loaded='mxnet' in sys.modules, torch_loaded='torch' in sys.modules)
    write_json_atomic(os.path.join(job, 'result-%s.json' % name), result)
    sys.stdout.flush()
    # The chapter's Pool(4) is never closed; leave without waiting for it.
    os._exit(0)


# ---------------------------------------------------------------------------
# Parent


def launch(name, work, spec, threads=1, env=None, timeout=1200):
    """Run the job `name` in its own process; its result, with the share of the
    cores other processes kept busy meanwhile."""
    spec_path = os.path.join(work, 'spec-%s.json' % name)
    write_json_atomic(spec_path, spec)
    result_path = os.path.join(work, 'result-%s.json' % name)
    log_path = os.path.join(work, 'log-%s.txt' % name)
    if os.path.exists(result_path):
        os.remove(result_path)
    busy0, own0 = _system_busy_seconds(), _children_cpu_seconds()
    t0 = time.perf_counter()
    print('  %-22s ...' % name, end='', file=sys.stderr, flush=True)
    status = run_job('benchmarks.run', 'worker_main', [name, work, spec_path], threads,
                     light=KINDS[spec['kind']][1], env=env, log_path=log_path,
                     timeout=timeout, cwd=ROOT)
    elapsed = time.perf_counter() - t0
    busy1, own1 = _system_busy_seconds(), _children_cpu_seconds()
    if status != 0 or not os.path.exists(result_path):
        with open(log_path) as f:
            tail = f.read()[-3000:]
        print(' FAILED (%.0f s)' % elapsed, file=sys.stderr, flush=True)
        raise RuntimeError('job %s failed (exit status %s):\n%s' % (name, status, tail))
    result = read_json(result_path)
    result['process_seconds'] = elapsed
    result['load_after'] = load_now()
    if busy0 is not None and busy1 is not None:
        # CPU seconds other processes used while this job ran (all cores).
        other = max(0.0, (busy1 - busy0) - (own1 - own0))
        result['other_processes_cpu_seconds'] = round(other, 1)
        result['other_processes_cpu_share'] = round(other / elapsed, 3)
    print(' %.0f s%s' % (elapsed, '' if busy0 is None else
                         ' (other processes: %.2f cores busy)'
                         % result['other_processes_cpu_share']), file=sys.stderr, flush=True)
    return result


def _system_busy_seconds():
    """CPU seconds all cores have been busy since boot (Linux /proc/stat)."""
    try:
        with open('/proc/stat') as f:
            fields = [float(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    total = sum(fields[:8])
    return (total - idle) / os.sysconf('SC_CLK_TCK')


def _children_cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _other_busy_processes():
    """Other processes using CPU now (a 1 s sample), to judge the timings."""
    try:
        import psutil
    except ImportError:
        return None
    me = os.getpid()
    procs = []
    for p in psutil.process_iter(['pid', 'cmdline']):
        try:
            p.cpu_percent(None)
            procs.append(p)
        except (psutil.Error, OSError):
            pass
    time.sleep(1.0)
    busy = []
    for p in procs:
        try:
            pct = p.cpu_percent(None)
            if pct >= 10 and p.pid != me:
                busy.append(dict(pid=p.pid, cpu_percent=pct,
                                 cmd=' '.join(p.info['cmdline'] or [])[:120]))
        except (psutil.Error, OSError):
            pass
    return busy


def _ratio(a, b):
    return round(a / b, 3) if a and b else None


def run_all(args):
    selected = [j for j in JOBS if args.only is None or any(j[0].startswith(o) for o in args.only)]
    if any(kind in D2L_KINDS for _, kind, _, _ in selected):
        chapter.import_d2l()
    mode = 'quick' if args.quick else 'full'
    S = dict(SETTINGS[mode])
    if args.batch_size:
        S['batch_size'] = args.batch_size
    t_start = time.perf_counter()
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = load_now()
    busy = _other_busy_processes()
    work = args.workdir or tempfile.mkdtemp(prefix='gluon-bert-bench-')
    os.makedirs(work, exist_ok=True)
    print('benchmark (%s) in %s; load average %s' % (mode, work, load_start), file=sys.stderr)
    if busy:
        print('other busy processes: %s' % busy, file=sys.stderr)
    try:
        snli_tsv, wiki_dir, notes = prepare_inputs(args.snli, args.wikitext, work)
        base = dict(S, snli_tsv=snli_tsv, wikitext_dir=wiki_dir)
        max_lens = sorted({PRETRAIN_MAX_LEN} | {o.get('max_len', PRETRAIN_MAX_LEN)
                                                for _, _, _, o in selected})
        R = {'prep': launch('prep', work, dict(base, kind='prep', pretrain_max_lens=max_lens,
                                               ft_pairs=S['ft_steps'] * S['batch_size']))}
        for name, kind, threads, options in selected:
            spec = dict(base, kind=kind, threads=threads, **options)
            R[name] = launch(name, work, spec, threads, env=spec.get('env'))
    finally:
        if not args.keep_workdir and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    return summarize(R, S, mode, notes, started, load_start, load_now(), busy,
                     time.perf_counter() - t_start)


def summarize(R, S, mode, notes, started, load_start, load_end, busy, total_seconds):
    def get(name, key):
        r = R.get(name)
        return None if r is None else r.get(key)

    ft = {name: get(name, 'examples_per_sec') for name, kind, _, _ in JOBS if kind in FT_KINDS}
    pt = {name: get(name, 'pairs_per_sec') for name, kind, _, _ in JOBS if kind in PT_KINDS}
    rates = dict(ft, **pt)
    snli_g, snli_d = get('snli_gluon', 'seconds'), get('snli_d2l', 'seconds')
    snli_d_pairs = get('snli_d2l', 'pairs')
    snli_d_550k = snli_d * SNLI_TRAIN_PAIRS / snli_d_pairs if snli_d else None
    snli_g_550k = (snli_g * SNLI_TRAIN_PAIRS / get('snli_gluon', 'pairs')) if snli_g else None
    prep = R['prep']
    return dict(
        {key: _ratio(rates[job], rates[base]) for key, (job, base) in RATIOS.items()},
        **roofline_pct(R),
        fully_connected_gflops={t: fully_connected_gflops(R.get(k)) for t, k in
                                (('1', 'sgemm_mxnet'), ('2', 'sgemm_mxnet_t2'))},
        snli_preprocess_seconds_550k=None if snli_g_550k is None else round(snli_g_550k, 2),
        snli_preprocess_d2l_seconds_550k=None if snli_d_550k is None else round(snli_d_550k, 2),
        snli_preprocess_d2l_extrapolated=bool(snli_d_pairs and snli_d_pairs != SNLI_TRAIN_PAIRS),
        snli_preprocess_speedup_vs_d2l=_ratio(snli_d_550k, snli_g_550k),
        wikitext_examples_speedup_vs_d2l=_ratio(get('wiki_d2l', 'seconds'),
                                                get('wiki_gluon', 'seconds')),
        finetune_examples_per_sec=ft,
        pretrain_pairs_per_sec=pt,
        sgemm_gflops={k: v['gflops'] for k, v in R.items() if k.startswith('sgemm')},
        peak_rss_mib={k: v.get('peak_rss_mib') for k, v in R.items()},
        jobs=R,
        settings=dict(S, mode=mode, preset=PRESET, vocab_size=prep['vocab_size'],
                      finetune_max_len=MAX_LEN, pretrain_max_len=PRETRAIN_MAX_LEN, seed=SEED,
                      pretrain_chapter_config=CHAPTER_PRETRAIN,
                      threads_headline=1, threads_extra=2,
                      threads_note='OMP_NUM_THREADS (and MXNET_OMP_MAX_THREADS, '
                      'OPENBLAS_NUM_THREADS, MKL_NUM_THREADS) set to the job\'s thread count; '
                      'torch.set_num_threads likewise', inputs=notes),
        machine=dict(platform=platform.platform(), processor=_cpu_model(),
                     machine=platform.machine(), cpu_count=os.cpu_count(),
                     python=platform.python_version()),
        versions={k: v for r in R.values() for k, v in (r.get('versions') or {}).items()},
        load_average_start=load_start, load_average_end=load_end,
        other_busy_processes_at_start=busy,
        date=started.strftime('%Y-%m-%d %H:%M:%S UTC'), total_seconds=round(total_seconds, 1),
        targets=TARGETS)


def _cpu_model():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _fmt_x(x):
    return '-' if x is None else '%.2fx' % x


def _table(lines, head):
    lines += ['', head, '-' * len(head)]


def format_report(rep):
    J, s, m, v = rep['jobs'], rep['settings'], rep['machine'], rep['versions'] or {}
    prep = J['prep']
    lines = [
        'gluon_bert benchmarks (%s), %s' % (s['mode'], rep['date']),
        'machine: %s, %s, %d CPUs; load average at start %s, at end %s'
        % (m['platform'], m['processor'], m['cpu_count'], rep['load_average_start'],
           rep['load_average_end']),
        'versions: python %s, mxnet %s, numpy %s, gluonnlp %s, d2l %s, torch %s'
        % tuple(v.get(k) for k in ('python', 'mxnet', 'numpy', 'gluonnlp', 'd2l', 'torch')),
        'model: %s (2 blocks, 256 hidden, 4 heads, FFN 512), vocabulary %d (WikiText-2, '
        'min_freq 5); batch %d' % (s['preset'], s['vocab_size'], s['batch_size']),
        'data: %s; fine-tuning %d pairs (mean length %.1f tokens, max %d); pretraining '
        'examples %d (mean length %.1f, %.1f MLM targets)'
        % (s['inputs']['snli'], prep['finetune_pairs'], prep['finetune_mean_valid_len'],
           prep['finetune_max_valid_len'], prep['pretrain_examples'],
           prep['pretrain_mean_valid_len'], prep['pretrain_mean_mlm_preds'])]
    _table(lines, '%-46s %9s %7s %7s %7s %8s %9s %8s' % (
        'fine-tuning (one timed epoch)', 'ex/sec', 'wall s', 'CPU s', 'pad len', 'GFLOPS',
        'peak MiB', 'gluon x'))
    for key, label in FT_ROWS:
        r = J.get(key)
        if r:
            # "gluon x": gluon_bert --bucket 10 on as many threads, over this row.
            g = J.get('ft_gluon_bucket10' + ('_t2' if key.endswith('_t2') else ''),
                      {}).get('examples_per_sec')
            lines.append('%-46s %9.1f %7.1f %7.1f %7.1f %8.1f %9.0f %8s' % (
                label, r['examples_per_sec'], r['seconds'], r['cpu_seconds'],
                r.get('mean_padded_len', MAX_LEN), r['matmul_gflops_achieved'],
                r['peak_rss_mib'], '%.2f' % (g / r['examples_per_sec']) if g else '-'))
    _table(lines, '%-46s %9s %7s %7s %7s %8s %9s' % (
        'pretraining (max_len 64, chapter config 128)', 'pairs/s', 'wall s', 'steps',
        'pad len', 'GFLOPS', 'peak MiB'))
    max_len = {name: o.get('max_len', PRETRAIN_MAX_LEN) for name, _, _, o in JOBS}
    for key, label in PT_ROWS:
        r = J.get(key)
        if r:
            lines.append('%-46s %9.1f %7.1f %7d %7.1f %8.1f %9.0f' % (
                label, r['pairs_per_sec'], r['seconds'], r['steps'],
                r.get('mean_padded_len', max_len[key]), r['matmul_gflops_achieved'],
                r['peak_rss_mib']))
    roof = {k[:-len('_roofline_pct')]: v for k, v in rep.items() if k.endswith('_roofline_pct')}
    if roof:
        fc = rep.get('fully_connected_gflops') or {}
        lines += ['', 'matrix products as %% of FullyConnected at the same threads '
                  '(%s GFLOPS at 1 thread, %s at 2)' % tuple(
                      '-' if fc.get(t) is None else '%.1f' % fc[t] for t in ('1', '2'))]
        lines += ['  %-44s %6.1f%%' % (k, v) for k, v in roof.items()]
    _table(lines, '%-46s %10s %8s %9s %9s' % ('data preparation', 'items', 'seconds',
                                              'peak MiB', 'workers'))
    lines.append('(SNLI: the %d source pairs replicated; WikiText-2: read_wiki + examples '
                 'at max_len %d)' % (prep['snli_source_pairs'], PRETRAIN_MAX_LEN))
    for key, label, n in PREP_ROWS:
        r = J.get(key)
        if r:
            w = r.get('pool_workers_peak_rss_mib')
            lines.append('%-46s %10d %8.1f %9.0f %9s' % (label, r[n], r['seconds'],
                                                          r['peak_rss_mib'],
                                                          '-' if not w else '%.0f' % w))
    noisy = ['%s %.2f' % (k, v['other_processes_cpu_share']) for k, v in sorted(J.items())
             if (v.get('other_processes_cpu_share') or 0) >= 0.05]
    if noisy:
        lines.append('  other processes kept cores busy during: %s (cores)' % ', '.join(noisy))
    if rep['snli_preprocess_d2l_extrapolated']:
        lines.append("  (the chapter's SNLI build ran on %d pairs; its 550,152-pair time is "
                     "extrapolated linearly: %.1f s)" % (J['snli_d2l']['pairs'],
                                                         rep['snli_preprocess_d2l_seconds_550k']))
    t = rep['targets']
    _table(lines, '%-46s %10s %10s %8s' % ('ratio', 'bucket 10', 'default', 'target'))
    for label, target, fast, default in CHECKS:
        lines.append('%-46s %10s %10s %8s' % (label, _fmt_x(rep[fast[0]]) if fast else '',
                                              _fmt_x(rep[default[0]]), '>= %g' % t[target]))
    lines.append('%-46s %10s %10s %8s' % ('SNLI preprocessing 550k pairs (s)',
                                          rep['snli_preprocess_seconds_550k'], '',
                                          '< %g' % t['snli_preprocess_seconds_550k']))
    lines.append('%-46s %10s' % ('SNLI preprocessing vs chapter',
                                 _fmt_x(rep['snli_preprocess_speedup_vs_d2l'])))
    lines.append('%-46s %10s' % ('WikiText-2 examples vs d2l',
                                 _fmt_x(rep['wikitext_examples_speedup_vs_d2l'])))
    if rep['sgemm_gflops']:
        lines += ['', 'sgemm GFLOPS']
        for k, gf in sorted(rep['sgemm_gflops'].items()):
            lines += ['  %-18s %-58s %8.1f' % (k, op, val) for op, val in gf.items()]
    ops = {k: r['ops_ms'] for k, r in J.items() if r.get('ops_ms')}
    if ops:
        lines += ['', 'operator micro-benchmarks (ms per call)']
        for k, d in sorted(ops.items()):
            lines += ['  %-18s %-58s %8.2f' % (k, op, ms) for op, ms in d.items()]
    for key in ('prof_gluon', 'prof_torch', 'prof_pt_gluon', 'prof_gluon_t2', 'prof_torch_t2',
                'prof_pt_gluon_t2'):
        p = J.get(key, {}).get('profile')
        if p:
            lines += ['', '%s: operators %.1f s of %.1f s wall (%s)' % (
                key, p['operator_ms_total'] / 1000.0, p['wall_seconds'],
                ', '.join('%s %.0f%%' % (g, 100 * d['share']) for g, d in sorted(
                    p['groups'].items(), key=lambda kv: -kv[1]['ms']) if d['share']))]
            lines += ['  %-44s %9.1f ms %6d calls %5.1f%%' % (
                e['name'][:44], e['ms'], e['count'], 100 * e['share']) for e in p['top'][:8]]
    return '\n'.join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--json', required=True, help='write the results here')
    p.add_argument('--quick', action='store_true', help='fewer steps and pairs (about 4 min)')
    p.add_argument('--snli', default=DEFAULT_SNLI,
                   help='SNLI pairs (TSV, or .xz), relative to the repository root '
                        '(default %(default)s; synthetic pairs when absent)')
    p.add_argument('--wikitext', default=None,
                   help='folder holding wiki.train.tokens (default: unpack %s; synthetic '
                        'when absent)' % DEFAULT_WIKI_XZ)
    p.add_argument('--batch-size', type=int, default=None)
    p.add_argument('--only', nargs='*', default=None, metavar='PREFIX',
                   help='run only the jobs whose names start with these (prep always runs); '
                        'the jobs: ' + ', '.join(name for name, _, _, _ in JOBS))
    p.add_argument('--workdir', default=None, help='keep the job files here')
    p.add_argument('--keep-workdir', action='store_true')
    args = p.parse_args(argv)
    report = run_all(args)
    text = format_report(report)
    report['table'] = text
    write_json_atomic(args.json, report)
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
