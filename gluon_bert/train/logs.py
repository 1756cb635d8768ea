"""What a run leaves behind: its metrics file, curves, the output folder, the
training clock and the progress bar."""
import time

from gluon_bert.fileio import append_text, dumps_json, write_atomic

__all__ = ['MetricsLog', 'plot_curves', 'plot_runs', 'table_runs', 'read_metrics', 'Timer',
           'progress_bar']


class Timer:
    """Wall-clock timer that can be paused (evaluation is not training time)."""

    def __init__(self):
        self.total, self._start = 0.0, None

    def start(self):
        self._start = time.perf_counter()

    def stop(self):
        self.total += time.perf_counter() - self._start
        self._start = None
        return self.total


class MetricsLog:
    """Append-only JSON-lines metrics file (one object per line; a non-finite
    number is written as null)."""

    def __init__(self, path, enabled=True):
        self.path, self.enabled, self.records = path, enabled, []
        if enabled:
            append_text(path, '', truncate=True)

    def write(self, **record):
        self.records.append(record)
        if self.enabled:
            append_text(self.path, dumps_json(record) + '\n')


def read_metrics(path):
    """The records of a metrics.jsonl file (or of the one in the folder `path`).
    A line that is not a JSON object is a ValueError naming the file and line
    (the JSON-lines reader of the data files, `gluon_bert.data.lines`)."""
    import os
    from gluon_bert.data.lines import json_records, split_lines
    from gluon_bert.fileio import read_utf8
    if os.path.isdir(path):
        path = os.path.join(path, 'metrics.jsonl')
    return [record for _, record in json_records(split_lines(read_utf8(path)), 0, path)]


def plot_curves(records, x, ys, path, title=''):
    """Plot the `ys` keys of `records` against `x` into a PNG (Agg backend)."""
    plot_runs({'': records}, x, ys, path, title)


def plot_runs(runs, x, ys, path, title=''):
    """Plot the `ys` keys against `x` of each run of `runs` ({label: records}, in
    order; one line per run and key, labelled "label: key") into a PNG: the
    curves of several runs side by side."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4) if len(runs) == 1 else (8, 5))
    for label, records in runs.items():
        for y in ys:
            pts = [(r[x], r[y]) for r in records if r.get(y) is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker='.',
                        label='%s: %s' % (label, y) if label else y)
    ax.set_xlabel(x)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize='small' if len(runs) > 1 else None)
    fig.tight_layout()
    try:
        write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=100, format='png'))
    finally:
        plt.close(fig)


def table_runs(runs, x, ys):
    """A Markdown table of the `ys` keys of each run of `runs` ({label: records},
    in order) at every value of `x` where all the runs logged that key: one row per
    x, one column per run and key, and for each later run its difference from the
    first ("label - first").  Returns the text."""
    labels = list(runs)
    by_x = {label: {} for label in labels}
    for label, records in runs.items():
        for r in records:
            if r.get(x) is not None:
                by_x[label].setdefault(r[x], {}).update(r)
    head, rows = [x], []
    for y in ys:
        head += ['%s: %s' % (label, y) for label in labels]
        head += ['%s - %s: %s' % (label, labels[0], y) for label in labels[1:]]
    xs = sorted(set.intersection(*(set(v) for v in by_x.values())))
    for at in xs:
        values = {label: by_x[label][at] for label in labels}
        if not any(all(values[label].get(y) is not None for label in labels) for y in ys):
            continue
        row = ['%g' % at]
        for y in ys:
            got = [values[label].get(y) for label in labels]
            row += ['-' if v is None else '%.3f' % v for v in got]
            row += ['-' if v is None or got[0] is None else '%+.3f' % (v - got[0])
                    for v in got[1:]]
        rows.append(row)
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    return '\n'.join(lines + ['| ' + ' | '.join(r) + ' |' for r in rows]) + '\n'


def progress_bar(total, enabled, desc):
    """A tqdm progress bar (a no-op when not `enabled`)."""
    from tqdm import tqdm
    return tqdm(total=total, disable=not enabled, desc=desc, dynamic_ncols=True, leave=False)
