"""`python scripts/compare_pytorch.py ARGS` is `gluon-bert compare ARGS` (gluon_bert.cli.compare_main);
`--help` lists the options."""
import sys

from gluon_bert.cli import run

if __name__ == '__main__':
    sys.exit(run('compare'))
