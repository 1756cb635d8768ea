"""`python scripts/convert_checkpoint.py ARGS` is `gluon-bert convert ARGS` (gluon_bert.cli.convert_main);
`--help` lists the options."""
import sys

from gluon_bert.cli import run

if __name__ == '__main__':
    sys.exit(run('convert'))
