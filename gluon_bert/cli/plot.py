"""Plot the curves of several runs side by side, from their metrics.jsonl files.

    gluon-bert plot --output curves.png chapter=runs/pretrain fast=runs/pretrain-fast
    gluon-bert plot --keys mlm_loss_running,val_mlm_loss --output mlm.png runs/pretrain
    gluon-bert plot --keys val_mlm_loss --output v.png --table v.md ours=runs/a d2l=runs/b

A run is LABEL=PATH or PATH (labelled by its folder's name); PATH is a run's output
folder or its metrics.jsonl.
"""
import argparse
import os

from gluon_bert.fileio import write_text_atomic
from gluon_bert.train.logs import plot_runs, read_metrics, table_runs


def _run(text):
    label, sep, path = text.partition('=')
    if not sep:
        label, path = os.path.basename(os.path.normpath(text)), text
    if not label or not path:
        raise argparse.ArgumentTypeError('expected LABEL=PATH or PATH, got %r' % text)
    return label, path


def plot_main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('runs', nargs='+', type=_run, metavar='[LABEL=]PATH')
    p.add_argument('--output', required=True, help='PNG file to write')
    p.add_argument('--keys', default='mlm_loss,val_mlm_loss,nsp_loss,val_nsp_loss',
                   help='comma-separated metrics to plot (default: %(default)s)')
    p.add_argument('--x', default='step', help="the x axis: 'step' or 'epoch' "
                   '(default: %(default)s)')
    p.add_argument('--title', default='')
    p.add_argument('--max-x', type=float, default=None, metavar='X',
                   help='only the records whose x is at most X (e.g. the first 1000 steps)')
    p.add_argument('--table', default=None, metavar='FILE',
                   help='also write a Markdown table of the metrics at every step all the '
                        'runs logged, with each run\'s difference from the first')
    a = p.parse_args(argv)
    keys = [k for k in a.keys.split(',') if k]
    runs = {}
    for label, path in a.runs:
        if label in runs:
            raise ValueError('two runs are labelled %r: give them LABEL=PATH' % label)
        records = read_metrics(path)
        if a.max_x is not None:
            records = [r for r in records if r.get(a.x) is not None and r[a.x] <= a.max_x]
        if not any(r.get(k) is not None for r in records for k in keys):
            raise ValueError('%s has none of the metrics %s' % (path, ', '.join(keys)))
        runs[label] = records
    plot_runs(runs, a.x, keys, a.output, a.title)
    print('wrote %s (%s)' % (a.output, ', '.join(runs)))
    if a.table:
        write_text_atomic(a.table, table_runs(runs, a.x, keys))
        print('wrote %s' % a.table)
