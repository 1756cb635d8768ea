"""The benchmark's report: the speed-ups against their targets, the share of the
FullyConnected rate (the roofline), the 1 -> 2 thread scaling of every job, and
the printed table of `run.py`."""
import platform
import statistics

from benchmarks.jobs import JOBS, twin_2threads
from benchmarks.workers import MAX_LEN, PRETRAIN_MAX_LEN

__all__ = ['TARGETS', 'CHECKS', 'RATIOS', 'fully_connected_gflops', 'roofline_pct',
           'thread_scaling', 'job_rate', 'median_round', 'ratio_rounds', 'variant_rounds',
           'cpu_model', 'format_report']

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
           ('ft_torch_dynamic_t2', '(d) PyTorch twin, bucket=0 batches, 2 thr'),
           ('ft_gluon_bucket10_dp2', '(b) --bucket 10, cpu(0),cpu(1), 1 thr each'),
           ('ft_gluon_bucket0_dp2', '(b) default, cpu(0),cpu(1), 1 thr each')]
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
    label, target, *pairs = check
    return ('2 threads: ' + label, target) + tuple(
        pair and (pair[0] + '_2threads', twin_2threads(pair[1]), twin_2threads(pair[2]))
        for pair in pairs)


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
    FullyConnected GFLOPS at its thread count (times its CPU contexts, `devices`)}
    for the MXNet training jobs run."""
    peak = {1: fully_connected_gflops(R.get('sgemm_mxnet')),
            2: fully_connected_gflops(R.get('sgemm_mxnet_t2'))}
    out = {}
    for name, kind, threads, options in JOBS:
        r, cores = R.get(name), threads * options.get('devices', 1)
        if kind in ROOFLINE_KINDS and r and peak.get(cores):
            out[name + '_roofline_pct'] = round(100.0 * r['matmul_gflops_achieved']
                                                / peak[cores], 1)
    return out


def thread_scaling(R):
    """{job: its rate on 2 threads / its rate on 1} for every job of `R` whose
    2-thread twin ran too (examples, pairs or items per second)."""
    out = {}
    for name, _, threads, _ in JOBS:
        one, two = R.get(name), R.get(twin_2threads(name))
        if threads != 1 or not one or not two:
            continue
        if job_rate(one) and job_rate(two):
            out[name] = round(job_rate(two) / job_rate(one), 3)
    return out


def job_rate(result):
    """A job's examples or pairs per second, or None."""
    return next((result[k] for k in ('examples_per_sec', 'pairs_per_sec') if result.get(k)),
                None)


def median_round(rounds):
    """The results of several rounds of the same jobs (dicts {job: result}) as
    one: for each job the round with the median rate (the lower of the two
    middle ones for an even count), with `round_rates`, the rate of every round
    in order; a job without a rate keeps its first round's result."""
    out = {}
    for name in rounds[0]:
        results = [r[name] for r in rounds if name in r]
        if len(results) < 2 or not all(job_rate(x) for x in results):
            out[name] = results[0]
            continue
        pick = dict(sorted(results, key=job_rate)[(len(results) - 1) // 2])
        pick['round_rates'] = [round(job_rate(x), 1) for x in results]
        out[name] = pick
    return out


def ratio_rounds(rounds):
    """{key of RATIOS: its ratio in each round} for the ratios whose two jobs
    have a rate in every round: the same ratio measured minutes apart."""
    out = {}
    for key, (job, base) in RATIOS.items():
        pairs = [(job_rate(r[job]), job_rate(r[base])) for r in rounds if job in r and base in r]
        if len(rounds) > 1 and len(pairs) == len(rounds) and all(a and b for a, b in pairs):
            out[key] = [round(a / b, 3) for a, b in pairs]
    return out


def variant_rounds(rounds):
    """{'<job>@<variant>': {'ratios': its rate / the job's rate in each round,
    'median': their median}} for every variant of `run.py --variant` that ran with
    its job in every round: the two run one after the other, so each ratio
    compares them under the same conditions."""
    out = {}
    for name in rounds[0]:
        base = name.split('@', 1)[0]
        if base == name:
            continue
        pairs = [(job_rate(r.get(name) or {}), job_rate(r.get(base) or {})) for r in rounds]
        if all(a and b for a, b in pairs):
            out[name] = dict(ratios=[round(a / b, 3) for a, b in pairs],
                             median=round(statistics.median(a / b for a, b in pairs), 3))
    return out


def cpu_model():
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
    fc = rep.get('fully_connected_gflops') or {}
    lines = [
        'gluon_bert benchmarks (%s), %s' % (s['mode'], rep['date']),
        'machine: %s, %s, %d CPUs; load average at start %s, at end %s'
        % (m['platform'], m['processor'], m['cpu_count'], rep['load_average_start'],
           rep['load_average_end']),
        'versions: python %s, mxnet %s, numpy %s, gluonnlp %s, d2l %s, torch %s'
        % tuple(v.get(k) for k in ('python', 'mxnet', 'numpy', 'gluonnlp', 'd2l', 'torch')),
        "this machine's MXNet FullyConnected: %s GFLOPS on 1 thread, %s on 2; MXNet's "
        'OpenBLAS kernels: %s' % (tuple('-' if fc.get(t) is None else '%.1f' % fc[t]
                                        for t in ('1', '2'))
                                  + (', '.join(rep.get('openblas_core') or ['-']),)),
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
    per_round = rep.get('ratio_rounds') or {}
    if per_round:
        lines += ['', 'the ratios in each round (%d rounds; the tables above: the median '
                  "round of each job)" % len(next(iter(per_round.values())))]
        lines += ['  %-52s %s' % (k, ' '.join('%.2fx' % x for x in v))
                  for k, v in per_round.items()]
    variants = rep.get('variant_rounds') or {}
    if variants:
        lines += ['', "variants: rate / the job's rate in the same round (each round; median)"]
        lines += ['  %-52s %s; %.2fx' % (k, ' '.join('%.2fx' % x for x in v['ratios']),
                                         v['median']) for k, v in variants.items()]
    scaling = rep.get('scaling_2threads') or {}
    if scaling:
        lines += ['', 'rate on 2 threads / rate on 1 (the same job)']
        lines += ['  %-44s %6.2fx' % (k, v) for k, v in scaling.items()]
    roof = {k[:-len('_roofline_pct')]: v for k, v in rep.items() if k.endswith('_roofline_pct')}
    if roof:
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
    for key in [name for name, kind, _, _ in JOBS if kind.startswith('prof')]:
        p = J.get(key, {}).get('profile')
        if p:
            lines += ['', '%s: operators %.1f s of %.1f s wall (%s)' % (
                key, p['operator_ms_total'] / 1000.0, p['wall_seconds'],
                ', '.join('%s %.0f%%' % (g, 100 * d['share']) for g, d in sorted(
                    p['groups'].items(), key=lambda kv: -kv[1]['ms']) if d['share']))]
            lines += ['  %-44s %9.1f ms %6d calls %5.1f%%' % (
                e['name'][:44], e['ms'], e['count'], 100 * e['share']) for e in p['top'][:8]]
    return '\n'.join(lines)
