"""`python scripts/predict.py ARGS` is `gluon-bert predict ARGS` (gluon_bert.cli.predict_main);
`--help` lists the options."""
import sys

from gluon_bert.cli import run

if __name__ == '__main__':
    sys.exit(run('predict'))
