"""`python scripts/export.py ARGS` is `gluon-bert export ARGS` (gluon_bert.cli.export_main);
`--help` lists the options."""
import sys

from gluon_bert.cli import run

if __name__ == '__main__':
    sys.exit(run('export'))
