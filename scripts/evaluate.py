"""`python scripts/evaluate.py ARGS` is `gluon-bert evaluate ARGS` (gluon_bert.cli.evaluate_main);
`--help` lists the options."""
import sys

from gluon_bert.cli import run

if __name__ == '__main__':
    sys.exit(run('evaluate'))
