"""`python scripts/finetune_snli.py ARGS` is `gluon-bert finetune ARGS` (gluon_bert.cli.finetune_main);
`--help` lists the options."""
import sys

from gluon_bert.cli import run

if __name__ == '__main__':
    sys.exit(run('finetune'))
