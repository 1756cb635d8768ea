"""`python scripts/pretrain.py ARGS` is `gluon-bert pretrain ARGS` (gluon_bert.cli.pretrain_main);
`--help` lists the options."""
import sys

from gluon_bert.cli import run

if __name__ == '__main__':
    sys.exit(run('pretrain'))
