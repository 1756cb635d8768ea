"""`python scripts/plot_runs.py ARGS` is `gluon-bert plot ARGS` (gluon_bert.cli.plot_main);
`--help` lists the options."""
import sys

from gluon_bert.cli import run

if __name__ == '__main__':
    sys.exit(run('plot'))
