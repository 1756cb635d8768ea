#!/usr/bin/env python
"""Speed and memory of gluon_bert against the chapter's code paths.

    python benchmarks/run.py --json FILE [--quick] [--snli PATH] [--wikitext DIR]

Measured on this machine, one job per subprocess (so each peak RSS,
`getrusage(RUSAGE_SELF).ru_maxrss`, is the job's own), the same model in every
job but the chapter-configuration pair: `bert.small` (2 blocks, 256 hidden, 4
heads, FFN 512, dropout 0.1) over the WikiText-2 word vocabulary (min_freq 5),
as after the chapter's pretraining.  The jobs are the table `JOBS` of `jobs.py`.

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
from benchmarks.jobs import (JOBS, FT_KINDS, PT_KINDS, D2L_KINDS,  # noqa: E402
                             CHAPTER_PRETRAIN)
from benchmarks.report import (TARGETS, RATIOS, fully_connected_gflops,  # noqa: E402
                               roofline_pct, thread_scaling, median_round, ratio_rounds,
                               variant_rounds, cpu_model, format_report)
from benchmarks.inputs import DEFAULT_SNLI, DEFAULT_WIKI_XZ, prepare_inputs  # noqa: E402
from benchmarks.workers import (SNLI_TRAIN_PAIRS, MAX_LEN, PRETRAIN_MAX_LEN,  # noqa: E402
                                PRESET, SEED, load_now, read_json)
from gluon_bert.fileio import write_json_atomic  # noqa: E402
from gluon_bert.compare.process import (THREAD_VARS, max_rss_mib, loaded_versions,  # noqa: E402
                                        run_job)
from gluon_bert.system import openblas_core  # noqa: E402


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
                  openblas_core=openblas_core(), mxnet_loaded='mxnet' in sys.modules, torch_loaded='torch' in sys.modules)
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


def parse_variant(text):
    """`NAME:VAR=VALUE[,VAR=VALUE...]` (`--variant`) -> (NAME, {VAR: VALUE}).
    Raises ValueError naming what is wrong."""
    name, sep, assignments = text.partition(':')
    if not sep or not name or not name.replace('_', '').isalnum():
        raise ValueError('--variant %r: expected NAME:VAR=VALUE[,VAR=VALUE...], NAME made '
                         'of letters, digits and _' % text)
    env = {}
    for item in assignments.split(','):
        var, eq, value = item.partition('=')
        if not eq or not var.strip():
            raise ValueError('--variant %r: %r is not VAR=VALUE' % (text, item))
        env[var.strip()] = value
    return name, env


def with_variants(jobs, variants):
    """`jobs` (JOBS rows), each followed by one copy per variant (NAME, env):
    named `<job>@NAME`, its spec's `env` extended by the variant's variables (which
    override the job's thread counts too)."""
    out = []
    for name, kind, threads, options in jobs:
        out.append((name, kind, threads, options))
        for vname, env in variants:
            out.append(('%s@%s' % (name, vname), kind, threads,
                        dict(options, env=dict(options.get('env') or {}, **env))))
    return out


def run_all(args):
    selected = [j for j in JOBS if args.only is None or any(j[0].startswith(o) for o in args.only)]
    selected = with_variants(selected, args.variant)
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
        rounds = []
        for k in range(args.repeat):
            if args.repeat > 1:
                print('round %d of %d' % (k + 1, args.repeat), file=sys.stderr)
            rounds.append({})
            for name, kind, threads, options in selected:
                spec = dict(base, kind=kind, threads=threads, **options)
                rounds[-1][name] = launch(name, work, spec, threads, env=spec.get('env'))
        R.update(median_round(rounds) if rounds[0] else {})
    finally:
        if not args.keep_workdir and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    summary = summarize(R, S, mode, notes, started, load_start, load_now(), busy,
                        time.perf_counter() - t_start)
    summary.update(rounds=args.repeat, ratio_rounds=ratio_rounds(rounds),
                   variant_rounds=variant_rounds(rounds) if rounds[0] else {})
    return summary


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
        scaling_2threads=thread_scaling(R),
        openblas_core=sorted({r['openblas_core'] for r in R.values() if r.get('openblas_core')}),
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
        machine=dict(platform=platform.platform(), processor=cpu_model(),
                     machine=platform.machine(), cpu_count=os.cpu_count(),
                     python=platform.python_version()),
        versions={k: v for r in R.values() for k, v in (r.get('versions') or {}).items()},
        load_average_start=load_start, load_average_end=load_end,
        other_busy_processes_at_start=busy,
        date=started.strftime('%Y-%m-%d %H:%M:%S UTC'), total_seconds=round(total_seconds, 1),
        targets=TARGETS)


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
    p.add_argument('--repeat', type=int, default=1, metavar='N',
                   help='run the selected jobs N times over, in turn; each job reports '
                        'its median round, and every ratio its value in each round')
    p.add_argument('--variant', action='append', default=[], metavar='NAME:VAR=VALUE,...',
                   help='also run each selected job with these environment variables, '
                        'as `<job>@NAME` right after it (repeatable); the report gives its '
                        "rate over the job's in each round, e.g. "
                        '--variant passive:OMP_WAIT_POLICY=PASSIVE')
    p.add_argument('--workdir', default=None, help='keep the job files here')
    p.add_argument('--keep-workdir', action='store_true')
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error('--repeat must be at least 1, got %d' % args.repeat)
    try:
        args.variant = [parse_variant(v) for v in args.variant]
    except ValueError as e:
        p.error(str(e))
    if len({name for name, _ in args.variant}) < len(args.variant):
        p.error('--variant: each NAME once')
    report = run_all(args)
    text = format_report(report)
    report['table'] = text
    write_json_atomic(args.json, report)
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
