#!/usr/bin/env python
"""The offline demo's two commands, exactly as README gives them, for several
seeds and thread counts: each cell runs

    OMP_NUM_THREADS=T python scripts/pretrain.py --dataset synthetic --seed S --output W/...
    OMP_NUM_THREADS=T python scripts/finetune_snli.py --dataset synthetic --seed S \\
        --pretrained W/... --output W/...

and the table (JSON and Markdown) gives the fine-tuning's test accuracy per
epoch and at the end, and both jobs' steps, batch size and seconds.

    python benchmarks/demo_grid.py --workdir /tmp/demo-grid --output results/demo-grid
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from gluon_bert.fileio import read_json, write_json_atomic, write_text_atomic  # noqa: E402


def run(command, threads, log):
    """Run `command` (a list) from the repository's root with OMP_NUM_THREADS set;
    its seconds.  A failure stops the grid with the command's log."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    with open(log, 'w') as f:
        status = subprocess.call([sys.executable] + command, cwd=ROOT, env=env, stdout=f,
                                 stderr=subprocess.STDOUT)
    if status:
        with open(log) as f:
            raise RuntimeError('%s failed (status %d):\n%s' % (' '.join(command), status,
                                                                f.read()[-2000:]))
    return time.perf_counter() - t0


def cell(workdir, seed, threads, extra):
    """One seed and thread count: pretraining, then fine-tuning from it."""
    name = os.path.join(workdir, 's%d-t%d' % (seed, threads))
    pre, fin = name + '-pretrain', name + '-finetune'
    common = ['--seed', str(seed), '--overwrite', '--no-progress']
    pre_seconds = run(['scripts/pretrain.py', '--dataset', 'synthetic', '--output', pre]
                      + common, threads, pre + '.log')
    fin_seconds = run(['scripts/finetune_snli.py', '--dataset', 'synthetic', '--pretrained', pre,
                       '--output', fin] + common + extra, threads, fin + '.log')
    pre_args, fin_args = (read_json(os.path.join(d, 'args.json'))['args'] for d in (pre, fin))
    metrics = read_json(os.path.join(fin, 'metrics.json'))
    with open(os.path.join(fin, 'metrics.jsonl')) as f:
        epochs = [json.loads(line)['test_acc'] for line in f]
    return dict(seed=seed, threads=threads, head=fin_args['head'],
                test_acc=metrics['test_acc'], test_acc_per_epoch=epochs,
                finetune_steps=metrics['steps'], finetune_batch_size=fin_args['batch_size'],
                finetune_examples=metrics['steps'] * fin_args['batch_size'],
                pretrain_steps=pre_args['num_steps'], pretrain_batch_size=pre_args['batch_size'],
                pretrain_pairs=pre_args['num_steps'] * pre_args['batch_size'],
                pretrain_seconds=round(pre_seconds, 1), finetune_seconds=round(fin_seconds, 1))


def markdown(rows):
    """The table of `rows` (one per cell) in Markdown."""
    lines = ['| seed | threads | head | test acc | test acc per epoch | pretraining steps x batch '
             '| fine-tuning steps x batch | seconds (pretraining + fine-tuning) |',
             '|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append('| %d | %d | %s | %.3f | %s | %d x %d | %d x %d | %.0f + %.0f |' % (
            r['seed'], r['threads'], r['head'], r['test_acc'],
            ' '.join('%.3f' % a for a in r['test_acc_per_epoch']), r['pretrain_steps'],
            r['pretrain_batch_size'], r['finetune_steps'], r['finetune_batch_size'],
            r['pretrain_seconds'], r['finetune_seconds']))
    accs = [r['test_acc'] for r in rows]
    lines += ['', 'lowest test accuracy %.3f over %d runs' % (min(accs), len(accs))]
    return '\n'.join(lines) + '\n'


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--workdir', required=True, help='folder for the runs (scratch)')
    p.add_argument('--output', required=True, help='folder for grid.json and grid.md')
    p.add_argument('--seeds', default='0,1,2,3,4')
    p.add_argument('--threads', default='1,2')
    p.add_argument('--finetune-args', default='',
                   help='more fine-tuning options, e.g. "--head mlp"')
    a = p.parse_args(argv)
    os.makedirs(a.workdir, exist_ok=True)
    os.makedirs(a.output, exist_ok=True)
    rows = []
    for threads in (int(t) for t in a.threads.split(',')):
        for seed in (int(s) for s in a.seeds.split(',')):
            rows.append(cell(a.workdir, seed, threads, a.finetune_args.split()))
            print('seed %d, %d thread(s): test acc %.3f' % (seed, threads, rows[-1]['test_acc']),
                  flush=True)
    write_json_atomic(os.path.join(a.output, 'grid.json'), dict(
        commands=['python scripts/pretrain.py --dataset synthetic --seed S',
                  'python scripts/finetune_snli.py --dataset synthetic --seed S --pretrained '
                  + ('PRETRAINED ' + a.finetune_args).strip()],
        date=time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime()),
        load_average=os.getloadavg(), rows=rows))
    write_text_atomic(os.path.join(a.output, 'grid.md'), markdown(rows))
    print(markdown(rows))
    return 0


if __name__ == '__main__':
    sys.exit(main())
