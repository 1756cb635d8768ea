"""`python scripts/finetune.py ARGS` is `gluon-bert finetune-task ARGS` (gluon_bert.cli.task_main):
fine-tuning on any labelled sentence or sentence-pair file; `--help` lists the options."""
import sys

from gluon_bert.cli import run

if __name__ == '__main__':
    sys.exit(run('finetune-task'))
